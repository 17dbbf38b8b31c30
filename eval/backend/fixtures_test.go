package backend

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
)

// The identity fixtures of the built-in backends (see
// TestIdentityNamesEveryKey); a new backend adds its own in its test file.
func init() {
	identityFixtures["baseline"] = func(*testing.T) ([]Spec, Env) {
		return []Spec{&BaselineSpec{Stat: "mean"}}, Env{TrainScores: []float64{1, 2}}
	}
	identityFixtures["openai"] = func(t *testing.T) ([]Spec, Env) {
		t.Setenv("OPENAI_API_KEY", "sk-test")
		one := &OpenAISpec{Model: ModelRef{Name: "gpt-4o"}, BaseURL: "http://a/v1", APIKeyFile: "k", Detail: "high", Structured: true}
		fleet := &OpenAISpec{Model: ModelRef{Name: "gpt-4o"}, BaseURLs: []string{"http://a/v1", "http://b/v1"}}
		return []Spec{one, fleet}, Env{}
	}
	identityFixtures["local"] = func(t *testing.T) ([]Spec, Env) {
		t.Setenv(FileHashCacheEnv, filepath.Join(t.TempDir(), "h.json"))
		f, err := synth.Write(t.TempDir(), synth.Options{Shape: synth.Tiny, Seed: 1, LoRA: true})
		if err != nil {
			t.Fatal(err)
		}
		pre := filepath.Join(t.TempDir(), "preprocessor_config.json")
		if err := os.WriteFile(pre, []byte(`{"min_pixels": 3136, "max_pixels": 200704, "patch_size": 14, "merge_size": 2}`), 0o644); err != nil {
			t.Fatal(err)
		}
		one, two, zero := 1, 2, 0
		return []Spec{&LocalSpec{
			ModelFile: f.Model, Mmproj: f.Mmproj, LoRA: []LoRA{{Path: f.LoRA}}, Structured: true,
			GPULayers: &zero, Parallel: 2, Threads: 1, Replicas: &two, Devices: []int{0, 1},
			ImageMinTokens: 8, ImageMaxTokens: 64, Resample: "bilinear", Orientation: "ignore",
		}, &LocalSpec{ModelFile: f.Model, Mmproj: f.Mmproj, Replicas: &one, Preprocessor: pre}}, Env{}
	}
}
