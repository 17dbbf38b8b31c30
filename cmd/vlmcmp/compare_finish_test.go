package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/demo"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// TestCompareUnansweredExitsAndFinishes: a run that ends with answers
// missing (the API refused two requests) exits non-zero, says how many, and
// prints a complete command; running exactly that command (config in a file
// of its own, output folder of its own) finishes the run with every image
// answered once.
func TestCompareUnansweredExitsAndFinishes(t *testing.T) {
	srv := openaiEnv(t)
	if _, err := demo.WriteDataset("data", 12, 5); err != nil {
		t.Fatal(err)
	}
	cfg := `data: ../data/ground_truth.json
models:
  - name: gpt4
    backend: openai
    model: gpt-4o
    concurrency: 1
  - name: mean
    backend: baseline
`
	if err := os.MkdirAll("conf", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("conf", "models.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Inject(openaitest.Fault{Method: "POST", Path: "/v1/chat/completions", Status: http.StatusBadRequest, Times: 2, Message: "refused for the test"})
	code, _, stderr := vlmcmp(t, t.Context(), "compare", "--config", "conf/models.yaml", "--split", "all", "--output-dir", "out dir", "--run-id", "r")
	if code == 0 {
		t.Fatalf("compare with 2 refused requests exited 0:\n%s", stderr)
	}
	if !strings.Contains(stderr, "2 of 24 image × model answers are missing") {
		t.Errorf("stderr does not count the missing answers:\n%s", stderr)
	}
	m := regexp.MustCompile(`finish with: vlmcmp (compare .*)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no finish command in:\n%s", stderr)
	}
	args := splitShell(t, m[1])
	code, stdout, stderr := vlmcmp(t, t.Context(), args...)
	if code != 0 {
		t.Fatalf("the printed command %q exited %d:\n%s", m[1], code, stderr)
	}
	ids := predictionIDs(t, eval.PredictionsPath(filepath.Join("out dir", "r"), "gpt4"))
	if len(ids) != 12 {
		t.Errorf("after the printed command gpt4 has %d answers, want 12", len(ids))
	}
	if !strings.Contains(stdout, "gpt4 ") {
		t.Errorf("no metrics table after finishing:\n%s", stdout)
	}
}

// splitShell splits a command line as eval.ShellQuote quotes it (plain words
// and single-quoted ones).
func splitShell(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`'((?:[^']|'\\'')*)'|(\S+)`).FindAllStringSubmatch(s, -1) {
		if m[2] != "" {
			out = append(out, m[2])
		} else {
			out = append(out, strings.ReplaceAll(m[1], `'\''`, `'`))
		}
	}
	return out
}
