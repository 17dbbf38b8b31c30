package lora

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ConfigFile and WeightsFile are the names PEFT's save_pretrained gives an
// adapter's files.
const (
	ConfigFile  = "adapter_config.json"
	WeightsFile = "adapter_model.safetensors"
)

// Config is what vlmcmp reads from a PEFT adapter_config.json.
type Config struct {
	// PeftType is "LORA" for the adapters vlmcmp handles.
	PeftType string
	// R is the default rank and LoraAlpha the default alpha.
	R         int
	LoraAlpha float64
	// UseRSLoRA selects rank-stabilised scaling, alpha/√r instead of alpha/r.
	UseRSLoRA bool
	// RankPattern and AlphaPattern override R and LoraAlpha for the modules
	// whose name matches a key, in the order the file lists them (PEFT takes
	// the first match).
	RankPattern  []Pattern
	AlphaPattern []Pattern
	// TargetModules as written: module name suffixes, or one regular
	// expression (PEFT accepts both). Informative only: the tensors present
	// in the weights file are what is converted.
	TargetModules []string
	// BaseModel is base_model_name_or_path, the checkpoint it was trained on.
	BaseModel string
	// UseDoRA and FanInFanOut mark adapters vlmcmp cannot apply.
	UseDoRA     bool
	FanInFanOut bool
	// ModulesToSave lists modules PEFT trained in full and saved whole.
	ModulesToSave []string
}

// Pattern is one entry of rank_pattern or alpha_pattern.
type Pattern struct {
	Key   string
	Value float64
	re    *regexp.Regexp
}

// Match reports whether module (a module name such as
// "model.layers.0.self_attn.q_proj") is selected by the pattern: the key
// equals the name, or the name ends in the key as a regular expression
// preceded by a dot, as PEFT matches rank_pattern and alpha_pattern.
func (p Pattern) Match(module string) bool {
	return module == p.Key || (p.re != nil && p.re.MatchString(module))
}

// rawConfig mirrors the JSON fields vlmcmp reads.
type rawConfig struct {
	PeftType      string          `json:"peft_type"`
	R             *float64        `json:"r"`
	LoraAlpha     *float64        `json:"lora_alpha"`
	UseRSLoRA     bool            `json:"use_rslora"`
	RankPattern   json.RawMessage `json:"rank_pattern"`
	AlphaPattern  json.RawMessage `json:"alpha_pattern"`
	TargetModules json.RawMessage `json:"target_modules"`
	BaseModel     string          `json:"base_model_name_or_path"`
	UseDoRA       bool            `json:"use_dora"`
	FanInFanOut   bool            `json:"fan_in_fan_out"`
	ModulesToSave []string        `json:"modules_to_save"`
}

// ErrNoConfig is returned when an adapter folder lacks adapter_config.json.
var ErrNoConfig = errors.New("no " + ConfigFile)

// ReadConfig reads dir/adapter_config.json.
func ReadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, fmt.Errorf("%s: %w: a PEFT adapter folder holds %s and %s", dir, ErrNoConfig, ConfigFile, WeightsFile)
	}
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses the contents of an adapter_config.json.
func ParseConfig(b []byte) (Config, error) {
	var raw rawConfig
	if err := json.Unmarshal(b, &raw); err != nil {
		return Config{}, fmt.Errorf("not valid JSON: %w", err)
	}
	if raw.PeftType != "" && !strings.EqualFold(raw.PeftType, "LORA") {
		return Config{}, fmt.Errorf("peft_type is %q: only LORA adapters can be converted", raw.PeftType)
	}
	if raw.R == nil {
		return Config{}, errors.New("r (the LoRA rank) is missing")
	}
	if *raw.R < 1 || *raw.R != math.Trunc(*raw.R) {
		return Config{}, fmt.Errorf("r is %v: want a positive integer", *raw.R)
	}
	c := Config{
		PeftType:      strings.ToUpper(raw.PeftType),
		R:             int(*raw.R),
		LoraAlpha:     8, // PEFT's default
		UseRSLoRA:     raw.UseRSLoRA,
		BaseModel:     raw.BaseModel,
		UseDoRA:       raw.UseDoRA,
		FanInFanOut:   raw.FanInFanOut,
		ModulesToSave: raw.ModulesToSave,
	}
	if raw.LoraAlpha != nil {
		c.LoraAlpha = *raw.LoraAlpha
	}
	if math.IsNaN(c.LoraAlpha) || math.IsInf(c.LoraAlpha, 0) {
		return Config{}, fmt.Errorf("lora_alpha is %v", c.LoraAlpha)
	}
	var err error
	if c.RankPattern, err = parsePatterns("rank_pattern", raw.RankPattern); err != nil {
		return Config{}, err
	}
	for _, p := range c.RankPattern {
		if p.Value < 1 || p.Value != math.Trunc(p.Value) {
			return Config{}, fmt.Errorf("rank_pattern %q is %v: want a positive integer", p.Key, p.Value)
		}
	}
	if c.AlphaPattern, err = parsePatterns("alpha_pattern", raw.AlphaPattern); err != nil {
		return Config{}, err
	}
	switch {
	case len(raw.TargetModules) == 0 || string(raw.TargetModules) == "null":
	case raw.TargetModules[0] == '"':
		var s string
		if err := json.Unmarshal(raw.TargetModules, &s); err != nil {
			return Config{}, fmt.Errorf("target_modules: %w", err)
		}
		c.TargetModules = []string{s}
	default:
		if err := json.Unmarshal(raw.TargetModules, &c.TargetModules); err != nil {
			return Config{}, fmt.Errorf("target_modules is neither a string nor a list of strings: %w", err)
		}
	}
	return c, nil
}

// parsePatterns reads a JSON object of numbers keeping the keys' order,
// which decides the winner when several keys match.
func parsePatterns(field string, raw json.RawMessage) ([]Pattern, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%s is not an object", field)
	}
	var out []Pattern
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		key := tok.(string)
		var v float64
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s %q: value is not a number", field, key)
		}
		p := Pattern{Key: key, Value: v}
		// PEFT: re.match(rf"(.*\.)?({key})$", name). Go's regexp is RE2,
		// which covers the expressions people write here; a key it cannot
		// compile still matches by equality.
		if re, err := regexp.Compile(`^(?:.*\.)?(?:` + key + `)$`); err == nil {
			p.re = re
		}
		out = append(out, p)
	}
	return out, nil
}

// ModuleScale returns the rank, alpha and scale PEFT uses for module (its
// name within the base model, e.g. "model.layers.3.mlp.down_proj"): rank and
// alpha from the first matching rank_pattern and alpha_pattern keys, else r
// and lora_alpha; scale = alpha/r, or alpha/√r with use_rslora.
func (c Config) ModuleScale(module string) (rank int, alpha, scale float64) {
	rank, alpha = c.R, c.LoraAlpha
	for _, p := range c.RankPattern {
		if p.Match(module) {
			rank = int(p.Value)
			break
		}
	}
	for _, p := range c.AlphaPattern {
		if p.Match(module) {
			alpha = p.Value
			break
		}
	}
	return rank, alpha, c.scale(rank, alpha)
}

func (c Config) scale(rank int, alpha float64) float64 {
	if c.UseRSLoRA {
		return alpha / math.Sqrt(float64(rank))
	}
	return alpha / float64(rank)
}
