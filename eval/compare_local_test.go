//go:build llamacpp

package eval_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
)

// TestCompareLocalModel runs a comparison of the tiny synthetic Qwen2-VL
// (llama.cpp, in-process) with its adapter against the mean baseline,
// through the library API alone.
func TestCompareLocalModel(t *testing.T) {
	files, err := synth.Write(t.TempDir(), synth.Options{Shape: synth.Tiny, Seed: 3, LoRA: true})
	if err != nil {
		t.Fatal(err)
	}
	models := fmt.Sprintf("  - {name: tiny, backend: local, model_file: %s, mmproj: %s, lora: [%s], structured: true, max_tokens: 8, parallel: 2}\n"+
		"  - {name: mean, backend: baseline, model: mean}\n", files.Model, files.Mmproj, files.LoRA)
	cfg, _ := compareSetup(t, 6, models)
	c, err := eval.Compare(t.Context(), cfg, eval.CompareOptions{Split: "all", Limit: 4, NoCache: true, Baseline: "mean"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Models) != 2 || len(c.Info.Items) != 4 {
		t.Fatalf("ran %d models on %d images, want 2 on 4", len(c.Models), len(c.Info.Items))
	}
	for _, r := range c.Results {
		if r.Answered != 4 || r.Errors != 0 || r.Err != nil {
			t.Errorf("%s: answered %d, errors %d, %v", r.Model, r.Answered, r.Errors, r.Err)
		}
	}
	tiny := c.Outputs.Metrics.Find("tiny")
	if tiny == nil || tiny.N != 4 {
		t.Fatalf("metrics of tiny: %+v", tiny)
	}
	if tiny.Paired == nil {
		t.Error("tiny is not compared with the baseline mean")
	}
	recs, _ := eval.ReadPredictions(eval.PredictionsPath(c.Dir, "tiny"))
	for _, r := range recs.Records {
		if r.Prediction == nil || r.Prediction.Backend != "local" || r.Image == "" || !filepath.IsAbs(r.Image) {
			t.Errorf("record %+v: want a local answer about an absolute image path", r)
		}
	}
}

// TestCompareSaysImagesScaledBelowTraining: a local model whose image
// budget is below what Hugging Face's processor for its family keeps says
// once, at the end of the run, how many images it scaled below it; given
// the model's preprocessor file, it says nothing.
func TestCompareSaysImagesScaledBelowTraining(t *testing.T) {
	files, err := synth.Write(t.TempDir(), synth.Options{Shape: synth.Tiny, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	pre := filepath.Join(t.TempDir(), "preprocessor_config.json")
	if err := os.WriteFile(pre, []byte(`{"min_pixels": 3136, "max_pixels": 12544}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, keys string
		want       bool
	}{
		{"small budget", "image_max_tokens: 16", true},
		{"preprocessor", "preprocessor: " + pre, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			models := fmt.Sprintf("  - {name: tiny, backend: local, model_file: %s, mmproj: %s, max_tokens: 2, %s}\n", files.Model, files.Mmproj, tc.keys)
			cfg, _ := compareSetup(t, 3, models)
			var status strings.Builder
			if _, err := eval.Compare(t.Context(), cfg, eval.CompareOptions{Split: "all", NoCache: true, Status: &status}); err != nil {
				t.Fatal(err)
			}
			note := "tiny: 3 of 3 images were scaled below what Hugging Face's"
			if got := strings.Count(status.String(), note); got != map[bool]int{true: 1, false: 0}[tc.want] {
				t.Errorf("the status says %q %d times, want it %v once:\n%s", note, got, tc.want, status.String())
			}
		})
	}
}
