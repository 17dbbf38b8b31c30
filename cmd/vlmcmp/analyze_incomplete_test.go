package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/demo"
)

// analyze on a run with a line deleted says the run is incomplete, with the
// count, and so does the summary it writes.
func TestAnalyzeSaysIncomplete(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("VLMCMP_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	if _, err := demo.WriteDataset("data", 6, 5); err != nil {
		t.Fatal(err)
	}
	cfg := "data: data/ground_truth.json\nmodels:\n  - {name: mean, backend: baseline, model: mean}\n  - {name: median, backend: baseline, model: median}\n"
	if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := vlmcmp(t, t.Context(), "compare", "--split", "all", "--output-dir", "out", "--run-id", "r"); code != 0 {
		t.Fatalf("compare exited %d:\n%s", code, stderr)
	}
	path := eval.PredictionsPath(filepath.Join("out", "r"), "median")
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile(path, []byte(strings.Join(lines[1:], "")), 0o644)
	code, _, stderr := vlmcmp(t, t.Context(), "analyze", "--run", filepath.Join("out", "r"))
	if code != 0 || !strings.Contains(stderr, "incomplete: 1 of 12 image × model answers are missing (median 1: 1 without a line)") {
		t.Errorf("analyze exited %d; stderr lacks the incomplete marker:\n%s", code, stderr)
	}
	summary, _ := os.ReadFile(filepath.Join("out", "r", "summary.json"))
	if !strings.Contains(string(summary), `"incomplete"`) {
		t.Errorf("summary.json has no incomplete marker")
	}
}
