package main

import (
	"bytes"
	"encoding/json"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/anthropicclient"
	"github.com/vlmcmp/vlmcmp/anthropicclient/anthropictest"
	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/demo"
)

const anthropicTestKey = "sk-ant-api03-DONOTSHOW-claude-0123456789"

// scoredAll reads model's predictions in run and checks that each of the
// n images has exactly one answer with a score, equal to what score says
// the fake answers for its image.
func scoredAll(t *testing.T, run, model string, n int, score func(image.Image) int) {
	t.Helper()
	path := eval.PredictionsPath(run, model)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r eval.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if seen[r.ID] {
			t.Errorf("%s: %s answered twice", model, r.ID)
		}
		seen[r.ID] = true
		if r.Error != "" || r.Prediction == nil || r.Prediction.Score == nil {
			t.Errorf("%s: %s not scored: %s %+v", model, r.ID, r.Error, r.Prediction)
			continue
		}
		if score == nil {
			continue
		}
		data, err := os.ReadFile(r.Image)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if want := float64(score(img)); *r.Prediction.Score != want {
			t.Errorf("%s: %s scored %v, want %v", model, r.ID, *r.Prediction.Score, want)
		}
	}
	if len(seen) != n {
		t.Errorf("%s answered %d of %d images", model, len(seen), n)
	}
}

// keyNowhere fails when key is in out or in any file under the working
// directory but the key files.
func keyNowhere(t *testing.T, key, out string, keyFiles ...string) {
	t.Helper()
	if strings.Contains(out, key) {
		t.Errorf("the key appears in the output:\n%s", out)
	}
	files := 0
	filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, k := range keyFiles {
			if p == k {
				return nil
			}
		}
		files++
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(key)) {
			t.Errorf("the key appears in %s", p)
		}
		return nil
	})
	if files < 10 {
		t.Errorf("only %d files searched for the key", files)
	}
}

// compare puts a Claude model beside an OpenAI model and a baseline, each
// on its loopback fake, with nothing but the config entry: every image is
// scored by each, the run's outputs name it, and its key (from
// api_key_file) is written nowhere.
func TestCompareAnthropicBesideOthers(t *testing.T) {
	oai := openaiEnv(t)
	claude := anthropictest.New(t)
	claude.Key = anthropicTestKey
	t.Setenv(anthropicclient.KeyEnv, "")
	t.Setenv(anthropicclient.BaseURLEnv, "")
	const n = 16
	if _, err := demo.WriteDataset("data", n, 5); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("claude.key", []byte(anthropicTestKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `data: data/ground_truth.json
output_dir: results
models:
  - {name: mean, backend: baseline}
  - {name: gpt4, backend: openai, model: gpt-4o, concurrency: 2}
  - name: claude
    backend: anthropic
    model: claude-sonnet-4-5
    base_url: ` + claude.URL() + `
    api_key_file: claude.key
    max_tokens: 50
    concurrency: 3
`
	if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	code, out, errs := vlmcmp(t, t.Context(), "models")
	all.WriteString(out + errs)
	if code != 0 || !strings.Contains(out, "claude-sonnet-4-5 at "+claude.URL()+", key from file claude.key") {
		t.Errorf("models: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = vlmcmp(t, t.Context(), "--log-level", "debug", "compare", "--split", "all", "--run-id", "r")
	all.WriteString(out + errs)
	if code != 0 {
		t.Fatalf("compare: exit %d\n%s%s", code, out, errs)
	}
	run := filepath.Join("results", "r")
	scoredAll(t, run, "claude", n, anthropictest.ScoreOf)
	scoredAll(t, run, "gpt4", n, nil)
	scoredAll(t, run, "mean", n, nil)
	if !strings.Contains(out, "claude ") {
		t.Errorf("no claude row in the metrics table:\n%s", out)
	}
	reqs := claude.Requests()
	if len(reqs) != n || claude.MaxInFlight() > 3 {
		t.Errorf("%d requests to the Messages API (want %d), %d at once (want at most 3)", len(reqs), n, claude.MaxInFlight())
	}
	for _, r := range reqs {
		if r.Status != 200 || r.MaxTokens != 50 || r.Model != "claude-sonnet-4-5" {
			t.Errorf("request %+v", r)
		}
	}
	if c := oai.Count("POST", "/v1/chat/completions"); c != n {
		t.Errorf("%d OpenAI requests, want %d", c, n)
	}
	var rj struct {
		Identities map[string]map[string]string `json:"identities"`
	}
	b, err := os.ReadFile(filepath.Join(run, "run.json"))
	if err == nil {
		err = json.Unmarshal(b, &rj)
	}
	if err != nil {
		t.Fatal(err)
	}
	if id := rj.Identities["claude"]; id["backend"] != "anthropic" || id["anthropic_version"] != anthropicclient.APIVersion {
		t.Errorf("run.json's claude identity %v", id)
	}
	keyNowhere(t, anthropicTestKey, all.String(), "claude.key")
	keyNowhere(t, testKey, all.String())
	claude.Verify(t)
}

// A key Claude refuses leaves every answer missing (refused_key), not "no
// score": the run says how to finish it, and --resume with the right key
// scores every image.
func TestCompareAnthropicRefusedKeyResumes(t *testing.T) {
	openaiEnv(t)
	claude := anthropictest.New(t)
	t.Setenv(anthropicclient.BaseURLEnv, "")
	t.Setenv(anthropicclient.KeyEnv, "sk-ant-api03-wrong-0123456789")
	const n = 6
	if _, err := demo.WriteDataset("data", n, 7); err != nil {
		t.Fatal(err)
	}
	cfg := "data: data/ground_truth.json\noutput_dir: results\nmodels:\n  - {name: claude, backend: anthropic, model: claude-haiku-4-5, base_url: " + claude.URL() + "}\n"
	if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := vlmcmp(t, t.Context(), "compare", "--split", "all", "--run-id", "r")
	if code == 0 || !strings.Contains(errs, "finish with: vlmcmp compare") {
		t.Fatalf("refused key: exit %d\n%s", code, errs)
	}
	b, err := os.ReadFile(eval.PredictionsPath(filepath.Join("results", "r"), "claude"))
	if err != nil {
		t.Fatal(err)
	}
	// The run may stop asking once the key is refused: every line written
	// is a missing answer, none a "no score".
	lines := strings.Count(string(b), "\n")
	if got := strings.Count(string(b), `"missing":"refused_key"`); got == 0 || got != lines {
		t.Errorf("%d of %d lines marked refused_key:\n%s", got, lines, b)
	}
	t.Setenv(anthropicclient.KeyEnv, claude.Key)
	if code, out, errs := vlmcmp(t, t.Context(), "compare", "--resume", "--output-dir", "results", "--run-id", "r"); code != 0 {
		t.Fatalf("resume: exit %d\n%s%s", code, out, errs)
	}
	scoredAll(t, filepath.Join("results", "r"), "claude", n, anthropictest.ScoreOf)
}
