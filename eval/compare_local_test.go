//go:build llamacpp

package eval_test

import (
	"fmt"
	"path/filepath"
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
