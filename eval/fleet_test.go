package eval_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// TestCompareFleetServerKilled runs a comparison against a fleet of two
// OpenAI-compatible servers (base_urls in vlmcmp.yaml, no key) and kills
// one mid-run: the predictions file answers every image exactly once, the
// answers came from both servers, and the report says which answered how
// many.
func TestCompareFleetServerKilled(t *testing.T) {
	const n = 40
	t.Setenv("OPENAI_API_KEY", "")
	a, b := openaitest.New(t), openaitest.New(t)
	for _, s := range []*openaitest.Server{a, b} {
		s.Key, s.Latency, s.Software = "", 5*time.Millisecond, "llama.cpp"
	}
	cfg, _ := compareSetup(t, n, fmt.Sprintf("  - {name: fleet, backend: openai, model: gpt-4o, concurrency: 4, base_urls: [%s, %s]}\n", b.URL(), a.URL()))
	chats := func(s *openaitest.Server) int { return s.Count(http.MethodPost, "/v1/chat/completions") }
	var beforeA, beforeB int
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for chats(b) < n/4 {
			time.Sleep(time.Millisecond)
		}
		beforeA, beforeB = chats(a), chats(b)
		b.Kill()
	}()
	var status strings.Builder
	c, err := eval.Compare(t.Context(), cfg, eval.CompareOptions{Split: "all", RunID: "fleet", NoCache: true, Status: &status})
	<-killed
	if err != nil {
		t.Fatalf("Compare: %v\n%s", err, status.String())
	}
	if beforeA == 0 || beforeB == 0 {
		t.Errorf("before the kill a had %d requests and b %d: not spread over both", beforeA, beforeB)
	}
	res, err := eval.ReadPredictions(eval.PredictionsPath(c.Dir, "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicates > 0 || res.Torn || len(res.Records) != n {
		t.Fatalf("predictions: %d records, %d duplicates, torn %t; want %d, none", len(res.Records), res.Duplicates, res.Torn, n)
	}
	by := map[string]int{}
	seen := map[string]bool{}
	for _, r := range res.Records {
		if r.Error != "" || r.Prediction == nil || r.Prediction.Server == nil || seen[r.ID] {
			t.Fatalf("record %+v: want one answer per image, with its server", r)
		}
		seen[r.ID] = true
		by[r.Prediction.Server.URL]++
	}
	if by[a.URL()] == 0 || by[b.URL()] == 0 || by[a.URL()]+by[b.URL()] != n {
		t.Errorf("answers by server %v, want both, %d in all", by, n)
	}
	report, err := os.ReadFile(c.Outputs.Text)
	if err != nil {
		t.Fatal(err)
	}
	first, second := a, b
	if by[b.URL()] > by[a.URL()] {
		first, second = b, a
	}
	want := fmt.Sprintf("answered by %s (%d), %s (%d) — llama.cpp; model gpt-4o-fake; fingerprint fp_fake",
		first.URL(), by[first.URL()], second.URL(), by[second.URL()])
	if !strings.Contains(string(report), want) {
		t.Errorf("report.txt lacks %q", want)
	}
	t.Logf("before the kill: a %d requests, b %d; answers: a %d, b %d", beforeA, beforeB, by[a.URL()], by[b.URL()])
}
