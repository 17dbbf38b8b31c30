package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/demo"
)

// TestCompareInterruptedResumes stops a compare run against the fake API
// part way (as Ctrl-C does: the context is cancelled), then resumes it: every
// image ends with exactly one prediction per model, and the resumed run asks
// the API only for the images it did not have.
func TestCompareInterruptedResumes(t *testing.T) {
	srv := openaiEnv(t)
	srv.Latency = 40 * time.Millisecond
	if _, err := demo.WriteDataset("data", 24, 3); err != nil {
		t.Fatal(err)
	}
	cfg := `data: data/ground_truth.json
output_dir: results
models:
  - name: gpt4
    backend: openai
    model: gpt-4o
    concurrency: 2
  - name: mean
    backend: baseline
`
	if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 24 // --split all

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { // Ctrl-C once a few answers are in
		for srv.Count("POST", "/v1/chat/completions") < 6 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	code, _, stderr := vlmcmp(t, ctx, "compare", "--split", "all", "--run-id", "r")
	if code == 0 {
		t.Fatalf("interrupted compare exited 0:\n%s", stderr)
	}
	if !strings.Contains(stderr, "finish with: vlmcmp compare --output-dir results --run-id r") {
		t.Errorf("stderr does not say how to finish:\n%s", stderr)
	}
	path := eval.PredictionsPath(filepath.Join("results", "r"), "gpt4")
	kept := predictionIDs(t, path)
	if len(kept) == 0 || len(kept) >= n {
		t.Fatalf("after the interruption gpt4 has %d of %d answers; want some, not all", len(kept), n)
	}
	// A request cut off by the interruption is recorded when the fake sees
	// its client gone, which may be after the run returned: wait for that.
	for deadline := time.Now().Add(5 * time.Second); srv.InFlight() > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	before := srv.Count("POST", "/v1/chat/completions")

	code, stdout, stderr := vlmcmp(t, t.Context(), "compare", "--resume")
	if code != 0 {
		t.Fatalf("resume exited %d:\n%s", code, stderr)
	}
	if got := predictionIDs(t, path); len(got) != n {
		t.Errorf("after resuming gpt4 has %d distinct answers in %d lines, want %d", len(got), countLines(t, path), n)
	}
	if got := countLines(t, path); got != n {
		t.Errorf("gpt4 predictions file has %d lines, want %d (one per image)", got, n)
	}
	if got := countLines(t, eval.PredictionsPath(filepath.Join("results", "r"), "mean")); got != n {
		t.Errorf("mean predictions file has %d lines, want %d", got, n)
	}
	// Requests abandoned in flight were not answered, so they are asked
	// again; nothing already answered is.
	if asked := srv.Count("POST", "/v1/chat/completions") - before; asked != n-len(kept) {
		t.Errorf("the resumed run asked the API %d times, want %d (the images without an answer)", asked, n-len(kept))
	}
	if !strings.Contains(stdout, "gpt4 ") || !strings.Contains(stdout, "mean ") {
		t.Errorf("no metrics table on stdout:\n%s", stdout)
	}
}

// predictionIDs reads the image IDs of a predictions file, failing on a
// line that is not a record or an ID that appears twice.
func predictionIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		var r eval.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		if ids[r.ID] {
			t.Fatalf("%s: %s answered twice", path, r.ID)
		}
		if r.Error != "" {
			t.Errorf("%s: %s recorded an error: %s", path, r.ID, r.Error)
		}
		ids[r.ID] = true
	}
	return ids
}
