package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/demo"
)

// TestCompareResumeRefusesChangedModel: resuming a run with another OpenAI
// model under the same name is refused with what changed and the ways on,
// and leaves the predictions untouched; a new run id works.
func TestCompareResumeRefusesChangedModel(t *testing.T) {
	openaiEnv(t)
	t.Setenv(backend.FileHashCacheEnv, filepath.Join(t.TempDir(), "filehash.json"))
	if _, err := demo.WriteDataset("data", 8, 3); err != nil {
		t.Fatal(err)
	}
	cfg := `data: data/ground_truth.json
output_dir: results
models:
  - name: gpt4
    backend: openai
    model: gpt-4o
  - name: mean
    backend: baseline
`
	if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := vlmcmp(t, t.Context(), "compare", "--split", "all", "--run-id", "r", "--limit", "4"); code != 0 {
		t.Fatalf("compare exited %d:\n%s", code, stderr)
	}
	path := eval.PredictionsPath(filepath.Join("results", "r"), "gpt4")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := vlmcmp(t, t.Context(), "compare", "--resume", "--run-id", "r", "--gpt4-model", "gpt-4-turbo")
	if code == 0 {
		t.Fatalf("resume with another model exited 0:\n%s", stderr)
	}
	for _, want := range []string{`model was "gpt-4o", now "gpt-4-turbo"`, "--run-id", "new name"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("the refused resume changed %s", path)
	}
	// Same model: the resume goes on.
	if code, _, stderr := vlmcmp(t, t.Context(), "compare", "--resume", "--run-id", "r"); code != 0 {
		t.Fatalf("resume with the same model exited %d:\n%s", code, stderr)
	}
	// The changed model in a new run is fine.
	if code, _, stderr := vlmcmp(t, t.Context(), "compare", "--split", "all", "--run-id", "r2", "--limit", "2", "--gpt4-model", "gpt-4-turbo"); code != 0 {
		t.Fatalf("new run with the other model exited %d:\n%s", code, stderr)
	}
}

// TestCompareRefusesLockedRun: a run folder another owner holds is refused
// in one line naming the holder's PID (here this process; the case of two
// processes is eval's TestRunLockBetweenProcesses and TestChaos).
func TestCompareRefusesLockedRun(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("VLMCMP_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	if _, err := demo.WriteDataset("data", 4, 3); err != nil {
		t.Fatal(err)
	}
	cfg := "data: data/ground_truth.json\noutput_dir: results\nmodels:\n  - name: mean\n    backend: baseline\n"
	if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := eval.LockRun(filepath.Join("results", "r"))
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := vlmcmp(t, t.Context(), "compare", "--split", "all", "--run-id", "r")
	if code == 0 || !strings.Contains(stderr, fmt.Sprintf("process %d", os.Getpid())) {
		t.Fatalf("compare on a held run: exit %d:\n%s", code, stderr)
	}
	l.Unlock()
	if code, _, stderr := vlmcmp(t, t.Context(), "compare", "--split", "all", "--run-id", "r"); code != 0 {
		t.Fatalf("compare after unlock: exit %d:\n%s", code, stderr)
	}
}
