// Package config reads vlmcmp.yaml, the list of models a comparison runs, and
// supplies the defaults that make the three model names of the original
// scripts (gpt4, gpt4o-mini-ft, qwen2vl-ft) and the two baselines (mean,
// median) work without a file.
//
// A file is decoded strictly: an unknown key is an error naming the file and
// the line. A model's entry holds the keys every model has (name, backend,
// prompt, system, max_tokens, concurrency: [Model]) and its backend's own,
// which its backend decodes into its spec (eval/backend), so that each
// backend refuses the keys it does not take. Mistakes in the file's keys are
// usage errors (usage.Error, exit 2) naming the key. Relative paths in a file
// are relative to the file's folder; relative paths of the defaults are
// relative to the working directory.
//
//	data: configs/vlm_safety_training_data.json   # ground truth
//	split: data/openai_finetuning/split.json      # written by vlmcmp prepare
//	models:
//	  - name: gpt4
//	    backend: openai
//	    model: gpt-4o
//	    detail: low
//	  - name: gpt4o-mini-ft
//	    backend: openai
//	    model: {from: models/gpt4o_mini_finetuned/fine_tune_info.json}
//	  - name: qwen2vl-ft
//	    backend: local
//	    model_file: models/qwen2vl/model.gguf
//	    mmproj: models/qwen2vl/mmproj.gguf
//	    lora: [{path: models/qwen2vl/lora.gguf, scale: 1}]
//	  - name: mean
//	    backend: baseline
package config

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/vlmcmp/vlmcmp/openaiclient"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/usage"
)

// Backend names of the built-in defaults; eval/backend has them all.
const (
	BackendLocal    = "local"
	BackendOpenAI   = "openai"
	BackendBaseline = "baseline"
)

// Default file locations, relative to the working directory, as the original
// scripts used them.
const (
	DefaultFile          = "vlmcmp.yaml"
	DefaultData          = "configs/vlm_safety_training_data.json"
	DefaultSplit         = "data/openai_finetuning/split.json"
	DefaultOutputDir     = "results/model_comparison"
	DefaultFineTuneInfo  = "models/gpt4o_mini_finetuned/fine_tune_info.json"
	DefaultQwenDir       = "models/qwen2vl"
	DefaultGPT4Model     = "gpt-4o"
	DefaultOpenAIBackend = BackendOpenAI
)

// ErrUnknownModel is wrapped by [Config.Lookup] when no model has the name.
var ErrUnknownModel = errors.New("unknown model")

// Config is a parsed vlmcmp.yaml, or the defaults.
type Config struct {
	// Path is the file the config was read from; empty for the defaults.
	Path string `yaml:"-"`
	// Data is the ground-truth file; Split the split manifest written by
	// vlmcmp prepare; OutputDir the parent of the run folders. Empty means
	// the defaults above.
	Data string `yaml:"data"`
	// AllowOutside accepts image paths in the data file that leave its
	// folder ("../x.png", absolute paths elsewhere); they are refused
	// otherwise.
	AllowOutside bool   `yaml:"allow_outside"`
	Split        string `yaml:"split"`
	OutputDir    string `yaml:"output_dir"`
	// Prompt and System apply to every model that does not set its own;
	// empty Prompt means the prompt of the ground-truth records.
	Prompt string `yaml:"prompt"`
	System string `yaml:"system"`
	// Models in the order the file lists them.
	Models []Model `yaml:"models"`
	// OpenAIModels adds to or overrides the built-in table of OpenAI model
	// capabilities and prices (openaiclient.DefaultModels), by model name:
	// e.g. a new model `like` a known one, with reasoning: true.
	OpenAIModels openaiclient.Models `yaml:"openai_models"`

	dir string // anchors the models' relative paths
}

// Model is one configured model: what every model has, and its backend's
// spec, decoded from the entry by the backend (eval/backend) when the file
// is read.
type Model struct {
	// Name is the user's name for the model: the file name of its
	// predictions and its column in every output.
	Name string `yaml:"name"`
	// Backend names the backend (backend.Names).
	Backend string `yaml:"backend"`
	// Prompt and System override the config's; MaxTokens bounds the answer.
	Prompt    string `yaml:"prompt"`
	System    string `yaml:"system"`
	MaxTokens int    `yaml:"max_tokens"`
	// Concurrency is the number of requests in flight when the backend does
	// not batch by itself; 0 means the runner's default.
	Concurrency int `yaml:"concurrency"`

	// Line is the line of the model's entry in the file (0 for defaults).
	Line int `yaml:"-"`
	// Node is the entry as written, every key of it (merge keys
	// expanded); its backend decodes it into Spec.
	Node yaml.Node `yaml:"-"`
	// Spec is the entry decoded by its backend.
	Spec backend.Spec `yaml:"-"`
}

// UnmarshalYAML keeps the entry's node and decodes the common keys; the
// backend's keys are the backend's to decode (Parse).
func (m *Model) UnmarshalYAML(n *yaml.Node) error {
	n = backend.Flatten(n)
	if n.Kind != yaml.MappingNode {
		return lineError{n.Line, "a model must be a mapping of keys (name, backend, ...)"}
	}
	own := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if slices.Contains(backend.CommonKeys, n.Content[i].Value) {
			own.Content = append(own.Content, n.Content[i], n.Content[i+1])
		}
	}
	type plain Model
	var p plain
	if err := own.Decode(&p); err != nil {
		return err
	}
	*m = Model(p)
	m.Node, m.Line = *n, n.Line
	return nil
}

// lineError is an error at a line of the file, before the file name is known.
type lineError struct {
	line int
	msg  string
}

func (e lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
var unknownField = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)

// Load reads and validates a config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config %s: file not found", path)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a config held in data; path names it in errors and anchors
// its relative paths.
func Parse(path string, data []byte) (*Config, error) {
	cfg := &Config{Path: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) || strings.TrimSpace(string(data)) == "" {
			return nil, fmt.Errorf("%s: empty config: list models under the key models", path)
		}
		return nil, yamlError(path, err)
	}
	dir := filepath.Dir(path)
	cfg.Data = rel(dir, cfg.Data)
	cfg.Split = rel(dir, cfg.Split)
	cfg.OutputDir = rel(dir, cfg.OutputDir)
	cfg.dir = dir
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// yamlError rewrites yaml.v3's errors as "FILE:LINE: what".
func yamlError(path string, err error) error {
	var le lineError
	if errors.As(err, &le) {
		return fmt.Errorf("%s:%d: %s", path, le.line, le.msg)
	}
	if be, ok := errors.AsType[*backend.LineError](err); ok {
		return usage.Wrap("", fmt.Errorf("%s:%d: %w", path, be.Line, be.Err))
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var msgs []string
		for _, e := range te.Errors {
			msgs = append(msgs, lineMessage(path, e))
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return errors.New(lineMessage(path, strings.TrimPrefix(err.Error(), "yaml: ")))
}

func lineMessage(path, msg string) string {
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Sprintf("%s: %s", path, msg)
	}
	what := m[2]
	if u := unknownField.FindStringSubmatch(what); u != nil {
		what = fmt.Sprintf("unknown key %q", u[1])
		if strings.HasSuffix(u[2], "Model") {
			what += " in a model"
		}
	}
	return fmt.Sprintf("%s:%s: %s", path, m[1], what)
}

func rel(dir, p string) string {
	if p == "" || dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// at names the model's place in the config for errors.
func (c *Config) at(m *Model) string {
	if c.Path == "" {
		return "default config"
	}
	if m != nil && m.Line > 0 {
		return fmt.Sprintf("%s:%d", c.Path, m.Line)
	}
	return c.Path
}

func (c *Config) validate() error {
	if len(c.Models) == 0 {
		return usage.Errorf("models", "%s: no models: list them under the key models", c.at(nil))
	}
	seen := map[string]bool{}
	for i := range c.Models {
		m := &c.Models[i]
		at := c.at(m)
		switch {
		case m.Name == "":
			return usage.Errorf("name", "%s: a model has no name", at)
		case strings.ContainsAny(m.Name, `/\ ,`) || m.Name == "." || m.Name == "..":
			return usage.Errorf("name", "%s: model name %q: use letters, digits, '-', '_' or '.' (it names files)", at, m.Name)
		case seen[m.Name]:
			return usage.Errorf("name", "%s: model name %q is used twice", at, m.Name)
		case m.Backend == "":
			return usage.Errorf("backend", "%s: model %q has no backend (%s)", at, m.Name, strings.Join(backend.Names(), ", "))
		case m.MaxTokens < 0 || m.Concurrency < 0:
			return usage.Errorf("max_tokens", "%s: model %q: max_tokens and concurrency must not be negative", at, m.Name)
		}
		seen[m.Name] = true
		if err := c.decode(m); err != nil {
			return err
		}
	}
	return nil
}

// decode has m's backend decode its entry into m.Spec. Errors name the
// file, the line and the model.
func (c *Config) decode(m *Model) error {
	common := backend.Common{
		Name: m.Name, Backend: m.Backend, MaxTokens: m.MaxTokens, Concurrency: m.Concurrency, Dir: c.dir, At: c.at(m),
		Shared: backend.Shared{OpenAIModels: c.OpenAIModels, SplitPath: c.SplitPath()},
	}
	node := &m.Node
	if node.Kind == 0 {
		node = nil
	}
	spec, err := backend.Decode(common, node)
	if err != nil {
		if _, ok := errors.AsType[*backend.LineError](err); ok && c.Path != "" {
			return yamlError(c.Path, err)
		}
		if te, ok := errors.AsType[*yaml.TypeError](err); ok && c.Path != "" {
			return usage.Wrap("", yamlError(c.Path, te))
		}
		key, _ := usage.Is(err)
		return &usage.Error{Key: key, Err: fmt.Errorf("%s: model %q: %w", c.at(m), m.Name, err)}
	}
	m.Spec = spec
	return nil
}

// Set sets key of m's entry to value, as if the file said so, and decodes
// the entry again (vlmcmp's --gpt4-model sets model).
func (c *Config) Set(m *Model, key, value string) error {
	if m.Node.Kind == 0 {
		m.Node = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	found := false
	for i := 0; i+1 < len(m.Node.Content); i += 2 {
		if m.Node.Content[i].Value == key {
			m.Node.Content[i+1], found = v, true
		}
	}
	if !found {
		m.Node.Content = append(m.Node.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	}
	return c.decode(m)
}

// Default is the config used without a file: the three models of the
// original scripts and the two baselines. The local model's LoRA adapter
// models/qwen2vl/lora.gguf is used when that file exists (otherwise the model
// file is taken to have the LoRA merged in).
func Default() *Config {
	lora := ""
	if p := filepath.Join(DefaultQwenDir, "lora.gguf"); fileExists(p) {
		lora = fmt.Sprintf(", lora: [%q]", p)
	}
	text := fmt.Sprintf(`models:
  - {name: gpt4, backend: openai, model: %q}
  - {name: gpt4o-mini-ft, backend: openai, model: {from: %q}}
  - {name: qwen2vl-ft, backend: local, model_file: %q, mmproj: %q%s}
  - {name: mean, backend: baseline, model: mean}
  - {name: median, backend: baseline, model: median}
`, DefaultGPT4Model, DefaultFineTuneInfo, filepath.Join(DefaultQwenDir, "model.gguf"), filepath.Join(DefaultQwenDir, "mmproj.gguf"), lora)
	cfg := &Config{}
	if err := yaml.Unmarshal([]byte(text), cfg); err != nil {
		panic("config: defaults: " + err.Error())
	}
	for i := range cfg.Models {
		cfg.Models[i].Line = 0
	}
	if err := cfg.validate(); err != nil {
		panic("config: defaults: " + err.Error())
	}
	return cfg
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Find loads the config a command uses: path when given (it must exist),
// else vlmcmp.yaml in the working directory when present, else [Default].
func Find(path string) (*Config, error) {
	if path != "" {
		return Load(path)
	}
	if fileExists(DefaultFile) {
		return Load(DefaultFile)
	}
	return Default(), nil
}

// SetGPT4Model changes the OpenAI model of the model named gpt4 (the
// original scripts' --gpt4-model flag). It is an error when there is no such
// OpenAI model.
func (c *Config) SetGPT4Model(name string) error {
	for i := range c.Models {
		if m := &c.Models[i]; m.Name == "gpt4" && m.Backend == BackendOpenAI {
			return c.Set(m, "model", name)
		}
	}
	return usage.Errorf("--gpt4-model", "--gpt4-model: %s has no openai model named gpt4", c.at(nil))
}

// Names lists the configured model names in order.
func (c *Config) Names() []string {
	names := make([]string, len(c.Models))
	for i, m := range c.Models {
		names[i] = m.Name
	}
	return names
}

// Lookup finds a model by name. The error wraps [ErrUnknownModel] and lists
// the names there are.
func (c *Config) Lookup(name string) (*Model, error) {
	for i := range c.Models {
		if c.Models[i].Name == name {
			return &c.Models[i], nil
		}
	}
	src := "the default config"
	if c.Path != "" {
		src = c.Path
	}
	return nil, usage.Wrap("--models", fmt.Errorf("%w %q: %s has %s", ErrUnknownModel, name, src, strings.Join(c.Names(), ", ")))
}

// Select returns the named models in the order given; empty names means all.
func (c *Config) Select(names []string) ([]*Model, error) {
	if len(names) == 0 {
		out := make([]*Model, len(c.Models))
		for i := range c.Models {
			out[i] = &c.Models[i]
		}
		return out, nil
	}
	var out []*Model
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		m, err := c.Lookup(n)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// PromptFor is the prompt and system prompt a model is asked with: its own,
// else the config's; an empty prompt means the ground-truth record's.
func (c *Config) PromptFor(m *Model) (prompt, system string) {
	prompt, system = m.Prompt, m.System
	if prompt == "" {
		prompt = c.Prompt
	}
	if system == "" {
		system = c.System
	}
	return prompt, system
}

// DataPath, SplitPath and OutputPath are the configured locations or the
// defaults.
func (c *Config) DataPath() string   { return or(c.Data, DefaultData) }
func (c *Config) SplitPath() string  { return or(c.Split, DefaultSplit) }
func (c *Config) OutputPath() string { return or(c.OutputDir, DefaultOutputDir) }

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
