package backend

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/local"
	"github.com/vlmcmp/vlmcmp/native"
	"github.com/vlmcmp/vlmcmp/usage"
)

func init() {
	register(Kind{Name: "local", New: func(c Common) Spec { return &LocalSpec{common: c} }, Cached: true,
		SameAnswers: []string{"gpu_layers", "parallel", "threads", "replicas", "devices"}})
}

// LocalSpec is a local model (llm/local, llama.cpp): its GGUF files and the
// settings of its engine. A new key is a field here with its yaml tag;
// Identity must name it when it can change an answer.
type LocalSpec struct {
	// ModelFile, Mmproj and LoRA are the GGUF files.
	ModelFile string `yaml:"model_file" vlmcmp:"path"`
	Mmproj    string `yaml:"mmproj" vlmcmp:"path"`
	LoRA      []LoRA `yaml:"lora"`
	// Structured constrains answers to {"score": 1..10}.
	Structured bool `yaml:"structured"`
	// GPULayers is how many layers go to the GPU; nil means all that fit.
	GPULayers *int `yaml:"gpu_layers"`
	// Parallel is the number of sequences decoded together; 0 means the
	// backend default. Threads for the CPU; 0 means the backend default.
	Parallel int `yaml:"parallel"`
	Threads  int `yaml:"threads"`
	// Replicas is the number of model instances one queue feeds (nil: one,
	// or one per device); Devices the GPUs they run on, one each, numbered
	// as `vlmcmp devices` lists the GPUs. Answers do not depend on either.
	Replicas *int  `yaml:"replicas"`
	Devices  []int `yaml:"devices"`

	// What the vision encoder sees (README "What the model sees"):
	// ImageMinTokens and ImageMaxTokens bound an image's tokens (0: the
	// family's, or the preprocessor file's); Resample is bicubic (default),
	// bilinear, nearest or llama.cpp; Orientation exif (default) or
	// ignore; Preprocessor the model's preprocessor_config.json from
	// Hugging Face, whose pixel budget replaces the family's.
	ImageMinTokens int    `yaml:"image_min_tokens"`
	ImageMaxTokens int    `yaml:"image_max_tokens"`
	Resample       string `yaml:"resample"`
	Orientation    string `yaml:"orientation"`
	Preprocessor   string `yaml:"preprocessor" vlmcmp:"path"`

	common Common
}

// LoRA is an adapter applied at load time with a scale.
type LoRA struct {
	Path string `yaml:"path" vlmcmp:"path"`
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
		return lineErrorf(n.Line, "lora", "lora entries must be a path or {path, scale}")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k != "path" && k != "scale" {
			return lineErrorf(n.Content[i].Line, "lora", "unknown key %q in lora (want path, scale)", k)
		}
	}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*l = LoRA(p)
	return nil
}

// localScoreSchema is the JSON schema a local model with structured: true
// answers in: an integer score on the scale and nothing else. llm/local
// turns it into a grammar, so even a model that knows no JSON answers with a
// score.
var localScoreSchema = fmt.Sprintf(`{"type":"object","properties":{"score":{"type":"integer","minimum":%d,"maximum":%d}},"required":["score"]}`, llm.ScoreMin, llm.ScoreMax)

// Validate checks what needs no file.
func (s *LocalSpec) Validate() error {
	if s.ModelFile == "" || s.Mmproj == "" {
		return usage.Errorf("model_file", "local models need model_file and mmproj")
	}
	if s.Parallel < 0 || s.Threads < 0 {
		return usage.Errorf("parallel", "parallel and threads must not be negative")
	}
	if s.Replicas != nil && *s.Replicas < 1 {
		return usage.Errorf("replicas", "replicas is %d, want 1 or more", *s.Replicas)
	}
	for i, d := range s.Devices {
		if d < 0 {
			return usage.Errorf("devices", "device %d is negative, want a GPU number from 0 (vlmcmp devices lists them)", d)
		}
		if slices.Contains(s.Devices[:i], d) {
			return usage.Errorf("devices", "device %d is listed twice, want one replica per GPU", d)
		}
	}
	if s.Replicas != nil && s.Devices != nil && len(s.Devices) != *s.Replicas {
		return usage.Errorf("devices", "replicas is %d but devices lists %d GPUs, want one device per replica", *s.Replicas, len(s.Devices))
	}
	if s.ImageMinTokens < 0 || s.ImageMaxTokens < 0 {
		return usage.Errorf("image_min_tokens", "image_min_tokens and image_max_tokens must not be negative")
	}
	if s.ImageMinTokens > 0 && s.ImageMaxTokens > 0 && s.ImageMinTokens > s.ImageMaxTokens {
		return usage.Errorf("image_min_tokens", "image_min_tokens %d is above image_max_tokens %d", s.ImageMinTokens, s.ImageMaxTokens)
	}
	if _, err := local.ParseImageOptions(s.Resample, s.Orientation, s.Preprocessor); err != nil {
		key := "resample"
		if strings.Contains(err.Error(), "orientation") {
			key = "orientation"
		}
		return usage.Wrap(key, err)
	}
	if s.Devices != nil && len(s.Devices) == 0 {
		return usage.Errorf("devices", "devices is empty: list a GPU number per replica, or leave it out")
	}
	for i, l := range s.LoRA {
		if l.Path == "" {
			return usage.Errorf("lora", "lora %d has no path", i+1)
		}
	}
	return nil
}

// ReplicaCount is the number of replicas: replicas, else one per device,
// else 1.
func (s *LocalSpec) ReplicaCount() int {
	switch {
	case s.Replicas != nil:
		return *s.Replicas
	case len(s.Devices) > 0:
		return len(s.Devices)
	}
	return 1
}

// Config is the llm/local configuration of the spec.
func (s *LocalSpec) Config() local.Config {
	lc := local.Config{
		ModelFile:  s.ModelFile,
		MmprojFile: s.Mmproj,
		GPULayers:  -1, // gpu_layers unset: every layer that fits (none without a GPU)
		Parallel:   s.Parallel,
		Threads:    s.Threads,
		MaxTokens:  s.common.MaxTokens,
		Replicas:   s.ReplicaCount(),
		Devices:    s.Devices,

		ImageMinTokens: s.ImageMinTokens,
		ImageMaxTokens: s.ImageMaxTokens,
	}
	// Validate has refused options that do not parse.
	lc.Image, _ = local.ParseImageOptions(s.Resample, s.Orientation, s.Preprocessor)
	if s.GPULayers != nil {
		lc.GPULayers = *s.GPULayers
	}
	if s.Structured {
		lc.JSONSchema = localScoreSchema
	}
	for _, l := range s.LoRA {
		lc.LoRA = append(lc.LoRA, local.LoRA{Path: l.Path, Scale: float32(l.ScaleOr1())})
	}
	return lc
}

// Identity names the files by content and the settings that shape answers
// as llm/local resolves them from the files (image tokens, answer length).
// Replicas, devices, threads and parallel are not in it: answers are the
// same with any of them, so a run may resume with others.
func (s *LocalSpec) Identity(Env) (Identity, error) {
	lc, err := local.Resolve(s.Config())
	if err != nil {
		return nil, err
	}
	id, err := s.FileIdentity()
	if err != nil {
		return nil, err
	}
	id["image_min_tokens"] = strconv.Itoa(lc.ImageMinTokens)
	id["image_max_tokens"] = strconv.Itoa(lc.ImageMaxTokens)
	id["max_tokens"] = strconv.Itoa(lc.MaxTokens)
	maps.Copy(id, lc.ImageIdentity())
	return id, nil
}

// Build loads the model with its projector and adapters, once per replica.
func (s *LocalSpec) Build(ctx context.Context, env Env) (*Built, error) {
	if err := native.Built(); err != nil {
		return nil, err
	}
	if _, err := local.DeviceNames(s.Devices); err != nil {
		return nil, usage.Wrap("devices", fmt.Errorf("%s: model %q: %w", s.common.At, s.common.Name, err))
	}
	lc := s.Config()
	lc.Logger, lc.Status = env.Log, env.Status
	p, err := local.New(ctx, lc)
	if err != nil {
		return nil, err
	}
	return &Built{Predictor: p, Closer: p}, nil
}

// Ready checks that the files are there and llama.cpp is built in.
func (s *LocalSpec) Ready(Env) Readiness {
	files := []string{s.ModelFile, s.Mmproj}
	for _, l := range s.LoRA {
		files = append(files, l.Path)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return Readiness{false, "missing " + f}
		}
	}
	if err := native.Built(); err != nil {
		return Readiness{false, err.Error()}
	}
	return Readiness{true, s.ModelFile}
}

// Describe is the model's GGUF file, with the number of LoRA adapters.
func (s *LocalSpec) Describe() string {
	if len(s.LoRA) > 0 {
		return fmt.Sprintf("%s + %d lora", s.ModelFile, len(s.LoRA))
	}
	return s.ModelFile
}

// FileIdentity is the part of Identity that names the files, without the
// settings resolved from them (which need valid GGUF files).
func (s *LocalSpec) FileIdentity() (Identity, error) {
	id := Identity{"backend": "local"}
	var err error
	hash := func(key, path string) {
		if err == nil {
			id[key], err = FileSHA256(path)
		}
	}
	hash("model_file.sha256", s.ModelFile)
	hash("mmproj.sha256", s.Mmproj)
	for i, l := range s.LoRA {
		hash(fmt.Sprintf("lora.%d.sha256", i+1), l.Path)
		id[fmt.Sprintf("lora.%d.scale", i+1)] = strconv.FormatFloat(l.ScaleOr1(), 'g', -1, 64)
	}
	if err != nil {
		return nil, err
	}
	id["structured"] = strconv.FormatBool(s.Structured)
	return id, nil
}
