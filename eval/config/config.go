// Package config reads vlmcmp.yaml, the list of models a comparison runs, and
// supplies the defaults that make the three model names of the original
// scripts (gpt4, gpt4o-mini-ft, qwen2vl-ft) and the two baselines (mean,
// median) work without a file.
//
// A file is decoded strictly: an unknown key is an error naming the file and
// the line. Relative paths in a file are relative to the file's folder;
// relative paths of the defaults are relative to the working directory.
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
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Backend kinds.
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
}

// Model is one configured model. Which fields apply depends on Backend.
type Model struct {
	// Name is the user's name for the model: the file name of its
	// predictions and its column in every output.
	Name string `yaml:"name"`
	// Backend is local, openai or baseline.
	Backend string `yaml:"backend"`

	// Model is the OpenAI model name or where to find it; for a baseline,
	// the statistic (mean or median; default: the model's name).
	Model ModelRef `yaml:"model"`
	// BaseURL of an OpenAI-compatible server; empty means OPENAI_BASE_URL
	// or the OpenAI API.
	BaseURL string `yaml:"base_url"`
	// BaseURLs, instead of BaseURL, are several servers of the same model
	// (vLLM or llama-server on several machines): each request goes to the
	// least busy healthy one, and a server that fails is skipped and tried
	// again later.
	BaseURLs []string `yaml:"base_urls"`
	// APIKeyFile holds the API key; empty means OPENAI_API_KEY.
	APIKeyFile string `yaml:"api_key_file"`
	// Detail is the image detail: low, high or auto.
	Detail string `yaml:"detail"`
	// Structured asks for JSON-schema structured output.
	Structured bool `yaml:"structured"`

	// ModelFile, Mmproj and LoRA are the GGUF files of a local model.
	ModelFile string `yaml:"model_file"`
	Mmproj    string `yaml:"mmproj"`
	LoRA      []LoRA `yaml:"lora"`
	// GPULayers is how many layers go to the GPU; nil means all that fit.
	GPULayers *int `yaml:"gpu_layers"`
	// Parallel is the number of sequences decoded together; 0 means the
	// backend default.
	Parallel int `yaml:"parallel"`
	// Threads for the CPU; 0 means the backend default.
	Threads int `yaml:"threads"`
	// Replicas is the number of model instances one queue feeds (nil: one,
	// or one per device); Devices the GPUs they run on, one each, numbered
	// as `vlmcmp devices` lists the GPUs. Answers do not depend on either.
	Replicas *int  `yaml:"replicas"`
	Devices  []int `yaml:"devices"`

	// Prompt and System override the config's; MaxTokens bounds the answer.
	Prompt    string `yaml:"prompt"`
	System    string `yaml:"system"`
	MaxTokens int    `yaml:"max_tokens"`
	// Concurrency is the number of requests in flight when the backend does
	// not batch by itself; 0 means the runner's default.
	Concurrency int `yaml:"concurrency"`

	// Line is the line of the model's entry in the file (0 for defaults).
	Line int `yaml:"-"`
}

// ModelRef names an OpenAI model directly (`model: gpt-4o`) or through the
// fine-tuning record vlmcmp finetune writes
// (`model: {from: models/gpt4o_mini_finetuned/fine_tune_info.json}`).
type ModelRef struct {
	Name string
	From string
}

// String is the name, or "from FILE".
func (r ModelRef) String() string {
	if r.From != "" {
		return "from " + r.From
	}
	return r.Name
}

// UnmarshalYAML accepts a scalar name or a mapping with the single key from.
func (r *ModelRef) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		r.Name = n.Value
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value != "from" {
				return lineError{k.Line, fmt.Sprintf("unknown key %q in model (want a name or {from: FILE})", k.Value)}
			}
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				return lineError{v.Line, "model: from must be a file name"}
			}
			r.From = v.Value
		}
		return nil
	}
	return lineError{n.Line, "model must be a name or {from: FILE}"}
}

// LoRA is an adapter applied at load time with a scale.
type LoRA struct {
	Path string `yaml:"path"`
	// Scale multiplies the adapter; nil means 1.
	Scale *float64 `yaml:"scale"`
}

// ScaleOr1 is the scale, 1 when unset.
func (l LoRA) ScaleOr1() float64 {
	if l.Scale == nil {
		return 1
	}
	return *l.Scale
}

// UnmarshalYAML accepts {path, scale} or a scalar "PATH" or "PATH:SCALE".
func (l *LoRA) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		l.Path = n.Value
		if i := strings.LastIndexByte(n.Value, ':'); i > 0 {
			if s, err := strconv.ParseFloat(n.Value[i+1:], 64); err == nil {
				l.Path, l.Scale = n.Value[:i], &s
			}
		}
		return nil
	}
	type plain LoRA
	var p plain
	if n.Kind != yaml.MappingNode {
		return lineError{n.Line, "lora entries must be a path or {path, scale}"}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k != "path" && k != "scale" {
			return lineError{n.Content[i].Line, fmt.Sprintf("unknown key %q in lora (want path, scale)", k)}
		}
	}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*l = LoRA(p)
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
	// Model lines, for later errors.
	var root yaml.Node
	if yaml.Unmarshal(data, &root) == nil {
		lines := modelLines(&root)
		for i := range cfg.Models {
			if i < len(lines) {
				cfg.Models[i].Line = lines[i]
			}
		}
	}
	dir := filepath.Dir(path)
	cfg.Data = rel(dir, cfg.Data)
	cfg.Split = rel(dir, cfg.Split)
	cfg.OutputDir = rel(dir, cfg.OutputDir)
	for i := range cfg.Models {
		m := &cfg.Models[i]
		m.Model.From = rel(dir, m.Model.From)
		m.APIKeyFile = rel(dir, m.APIKeyFile)
		m.ModelFile = rel(dir, m.ModelFile)
		m.Mmproj = rel(dir, m.Mmproj)
		for j := range m.LoRA {
			m.LoRA[j].Path = rel(dir, m.LoRA[j].Path)
		}
	}
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

// modelLines is the line of each entry under the top-level models key.
func modelLines(root *yaml.Node) []int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "models" && top.Content[i+1].Kind == yaml.SequenceNode {
			var lines []int
			for _, n := range top.Content[i+1].Content {
				lines = append(lines, n.Line)
			}
			return lines
		}
	}
	return nil
}

func rel(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
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
		return fmt.Errorf("%s: no models: list them under the key models", c.at(nil))
	}
	seen := map[string]bool{}
	for i := range c.Models {
		m := &c.Models[i]
		at := c.at(m)
		switch {
		case m.Name == "":
			return fmt.Errorf("%s: a model has no name", at)
		case strings.ContainsAny(m.Name, `/\ ,`) || m.Name == "." || m.Name == "..":
			return fmt.Errorf("%s: model name %q: use letters, digits, '-', '_' or '.' (it names files)", at, m.Name)
		case seen[m.Name]:
			return fmt.Errorf("%s: model name %q is used twice", at, m.Name)
		}
		seen[m.Name] = true
		switch m.Backend {
		case BackendOpenAI:
			if m.Model.Name == "" && m.Model.From == "" {
				return fmt.Errorf("%s: model %q: openai models need model: NAME or model: {from: FILE}", at, m.Name)
			}
			if m.Detail != "" && !slices.Contains([]string{"low", "high", "auto"}, m.Detail) {
				return fmt.Errorf("%s: model %q: detail %q is not one of low, high, auto", at, m.Name, m.Detail)
			}
			if m.BaseURL != "" && len(m.BaseURLs) > 0 {
				return fmt.Errorf("%s: model %q: give base_url or base_urls, not both", at, m.Name)
			}
			if len(m.BaseURLs) > 0 {
				if _, err := openaiclient.CheckBaseURLs(m.BaseURLs); err != nil {
					return fmt.Errorf("%s: model %q: base_urls: %s", at, m.Name, strings.TrimPrefix(err.Error(), "openai: "))
				}
			}
		case BackendLocal:
			if m.ModelFile == "" || m.Mmproj == "" {
				return fmt.Errorf("%s: model %q: local models need model_file and mmproj", at, m.Name)
			}
			if err := m.validateReplicas(); err != nil {
				return fmt.Errorf("%s: model %q: %v", at, m.Name, err)
			}
		case BackendBaseline:
			if m.Model.From != "" {
				return fmt.Errorf("%s: model %q: baseline model must be mean or median", at, m.Name)
			}
			if m.Model.Name == "" {
				m.Model.Name = m.Name
			}
			if m.Model.Name != "mean" && m.Model.Name != "median" {
				return fmt.Errorf("%s: model %q: baseline model %q is not mean or median", at, m.Name, m.Model.Name)
			}
		case "":
			return fmt.Errorf("%s: model %q has no backend (local, openai or baseline)", at, m.Name)
		default:
			return fmt.Errorf("%s: model %q: backend %q is not one of local, openai, baseline", at, m.Name, m.Backend)
		}
		if m.Backend != BackendLocal && (m.Replicas != nil || m.Devices != nil) {
			return fmt.Errorf("%s: model %q: replicas and devices are for local models", at, m.Name)
		}
		if m.MaxTokens < 0 || m.Concurrency < 0 || m.Parallel < 0 || m.Threads < 0 {
			return fmt.Errorf("%s: model %q: max_tokens, concurrency, parallel and threads must not be negative", at, m.Name)
		}
	}
	return nil
}

// validateReplicas checks a local model's replicas and devices; whether the
// devices exist is known only where llama.cpp is loaded (eval/backend).
func (m *Model) validateReplicas() error {
	if m.Replicas != nil && *m.Replicas < 1 {
		return fmt.Errorf("replicas is %d, want 1 or more", *m.Replicas)
	}
	for i, d := range m.Devices {
		if d < 0 {
			return fmt.Errorf("device %d is negative, want a GPU number from 0 (vlmcmp devices lists them)", d)
		}
		if slices.Contains(m.Devices[:i], d) {
			return fmt.Errorf("device %d is listed twice, want one replica per GPU", d)
		}
	}
	if m.Replicas != nil && m.Devices != nil && len(m.Devices) != *m.Replicas {
		return fmt.Errorf("replicas is %d but devices lists %d GPUs, want one device per replica", *m.Replicas, len(m.Devices))
	}
	if m.Devices != nil && len(m.Devices) == 0 {
		return fmt.Errorf("devices is empty: list a GPU number per replica, or leave it out")
	}
	return nil
}

// ReplicaCount is the number of replicas of a local model: replicas, else
// one per device, else 1.
func (m *Model) ReplicaCount() int {
	switch {
	case m.Replicas != nil:
		return *m.Replicas
	case len(m.Devices) > 0:
		return len(m.Devices)
	}
	return 1
}

// Default is the config used without a file: the three models of the
// original scripts and the two baselines. The local model's LoRA adapter
// models/qwen2vl/lora.gguf is used when that file exists (otherwise the model
// file is taken to have the LoRA merged in).
func Default() *Config {
	qwen := Model{
		Name:      "qwen2vl-ft",
		Backend:   BackendLocal,
		ModelFile: filepath.Join(DefaultQwenDir, "model.gguf"),
		Mmproj:    filepath.Join(DefaultQwenDir, "mmproj.gguf"),
	}
	if lora := filepath.Join(DefaultQwenDir, "lora.gguf"); fileExists(lora) {
		qwen.LoRA = []LoRA{{Path: lora}}
	}
	return &Config{
		Models: []Model{
			{Name: "gpt4", Backend: BackendOpenAI, Model: ModelRef{Name: DefaultGPT4Model}},
			{Name: "gpt4o-mini-ft", Backend: BackendOpenAI, Model: ModelRef{From: DefaultFineTuneInfo}},
			qwen,
			{Name: "mean", Backend: BackendBaseline, Model: ModelRef{Name: "mean"}},
			{Name: "median", Backend: BackendBaseline, Model: ModelRef{Name: "median"}},
		},
	}
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
			m.Model = ModelRef{Name: name}
			return nil
		}
	}
	return fmt.Errorf("--gpt4-model: %s has no openai model named gpt4", c.at(nil))
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
	return nil, fmt.Errorf("%w %q: %s has %s", ErrUnknownModel, name, src, strings.Join(c.Names(), ", "))
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

// Describe is what the model is, in a few words: a local model's GGUF file
// (with the number of LoRA adapters), else the API model's name.
func (m *Model) Describe() string {
	if m.Backend != BackendLocal {
		return m.Model.String()
	}
	if len(m.LoRA) > 0 {
		return fmt.Sprintf("%s + %d lora", m.ModelFile, len(m.LoRA))
	}
	return m.ModelFile
}
