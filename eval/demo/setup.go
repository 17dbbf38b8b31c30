package demo

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/native"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// Setup is what [Prepare] wrote: the demo's folder, ready for its steps.
type Setup struct {
	// Dir is the demo's folder; Data its ground truth and Config its
	// vlmcmp.yaml.
	Dir, Data, Config string
	// Model is the tiny model's GGUF file ("" when it could not be
	// written: ModelErr says why), and LocalErr why this binary cannot
	// run it (nil when it can).
	Model              string
	ModelErr, LocalErr error
	// KeySource says where the OpenAI key came from ("" for none): with
	// a key, gpt-4o-mini at BaseURL joins the comparison.
	KeySource, BaseURL string
	// Steps are the vlmcmp command lines that finish the demo: prepare
	// (half the images held out) and compare, which ends by writing the
	// outputs as analyze does.
	Steps [][]string
}

// Results is the folder the demo's runs go to.
func (s *Setup) Results() string { return filepath.Join(s.Dir, "results", "model_comparison") }

// model is one model entry of the demo's config.
type model struct {
	Name       string   `yaml:"name"`
	Backend    string   `yaml:"backend"`
	Model      string   `yaml:"model,omitempty"`
	Detail     string   `yaml:"detail,omitempty"`
	ModelFile  string   `yaml:"model_file,omitempty"`
	Mmproj     string   `yaml:"mmproj,omitempty"`
	LoRA       []string `yaml:"lora,omitempty"`
	Structured bool     `yaml:"structured,omitempty"`
	MaxTokens  int      `yaml:"max_tokens,omitempty"`
}

// Prepare writes the demo into dir: n synthetic images with their ground
// truth (dir/data), a tiny random-weight Qwen2-VL with its projector and a
// LoRA adapter (dir/models/tiny, from seed), and a config (dir/vlmcmp.yaml)
// naming that model, gpt-4o-mini when an OpenAI key is set, and the mean
// and median baselines. A model that cannot be written is left out of the
// config, not an error.
func Prepare(dir string, n int, seed uint64) (*Setup, error) {
	if n < 10 {
		return nil, fmt.Errorf("demo: %d images: the demo needs at least 10 to hold some out", n)
	}
	s := &Setup{Dir: dir, Config: filepath.Join(dir, "vlmcmp.yaml")}
	dataDir := filepath.Join(dir, "data")
	var err error
	if s.Data, err = WriteDataset(dataDir, n, seed); err != nil {
		return nil, err
	}
	var models []model
	files, err := synth.Write(filepath.Join(dir, "models", "tiny"), synth.Options{Shape: synth.Tiny, Seed: int64(seed), LoRA: true})
	if err != nil {
		s.ModelErr = err
	} else {
		rel := func(p string) string { r, _ := filepath.Rel(dir, p); return r }
		m := model{Name: "qwen2vl-tiny", Backend: "local", ModelFile: rel(files.Model), Mmproj: rel(files.Mmproj), Structured: true, MaxTokens: 24}
		if files.LoRA != "" {
			m.LoRA = []string{rel(files.LoRA)}
		}
		models = append(models, m)
		s.Model, s.LocalErr = files.Model, native.Built()
	}
	if _, src, err := openaiclient.ResolveKey(""); err == nil {
		s.KeySource, s.BaseURL = src, openaiclient.ResolveBaseURL("")
		models = append(models, model{Name: "gpt4o-mini", Backend: "openai", Model: "gpt-4o-mini", Detail: "low", MaxTokens: 20})
	}
	models = append(models, model{Name: "mean", Backend: "baseline"}, model{Name: "median", Backend: "baseline"})
	cfg := struct {
		Data      string  `yaml:"data"`
		Split     string  `yaml:"split"`
		OutputDir string  `yaml:"output_dir"`
		Models    []model `yaml:"models"`
	}{"data/ground_truth.json", "data/openai_finetuning/split.json", "results/model_comparison", models}
	y, err := yaml.Marshal(&cfg)
	if err != nil {
		return nil, err
	}
	header := "# vlmcmp demo config, written by vlmcmp demo. Paths are relative to this file.\n"
	if err := os.WriteFile(s.Config, append([]byte(header), y...), 0o644); err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	s.Steps = [][]string{
		// Half held out, so that the comparison has a couple of dozen images.
		{"prepare", "--data", s.Data, "--out", filepath.Join(dataDir, "openai_finetuning"), "--val-ratio", "0.5"},
		{"compare", "--config", s.Config, "--baseline", "mean"},
	}
	return s, nil
}
