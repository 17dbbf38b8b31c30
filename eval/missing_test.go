package eval_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/report"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// readSummary reads a run's summary.json.
func readSummary(t *testing.T, dir string) report.SummaryFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s report.SummaryFile
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func modelSummary(t *testing.T, s report.SummaryFile, name string) report.ModelSummary {
	t.Helper()
	for _, m := range s.Models {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("summary has no model %s", name)
	return report.ModelSummary{}
}

// markMissing rewrites the first n answered records of model in dir's
// predictions as the runner writes a request whose server was killed:
// an error line with the missing reason unreachable.
func markMissing(t *testing.T, dir, model string, n int) []string {
	t.Helper()
	path := eval.PredictionsPath(dir, model)
	res, err := eval.ReadPredictions(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var b strings.Builder
	for _, r := range res.Records {
		if len(ids) < n && r.Prediction != nil {
			ids = append(ids, r.ID)
			r.Prediction = nil
			r.Error = `openai gpt-4o: POST /v1/chat/completions: dial tcp 127.0.0.1:1: connect: connection refused`
			r.Missing = llm.MissingUnreachable
		}
		line, _ := json.Marshal(r)
		b.Write(line)
		b.WriteByte('\n')
	}
	if len(ids) < n {
		t.Fatalf("%s has only %d answers", path, len(ids))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return ids
}

// A shard whose server was killed mid-run recorded missing answers: the
// merge refuses it as incomplete (it is not merged as if complete, with
// exit 0 and an inflated no-score), and with Partial the summary counts the
// missing answers apart, carries the incomplete marker, and gives the
// figures of the answers there are.
func TestShardWithKilledServerIsIncompleteNotNoScore(t *testing.T) {
	const n = 28
	cfg, _ := shardSetup(t, n)
	for k := 1; k <= 2; k++ {
		if _, err := eval.Compare(t.Context(), cfg, shardOpts("killed", k, 2)); err != nil {
			t.Fatalf("shard %d/2: %v", k, err)
		}
	}
	runDir := filepath.Join(cfg.OutputPath(), "killed")
	shard2 := eval.ShardDir(runDir, eval.Shard{Index: 2, Count: 2})
	markMissing(t, shard2, "gpt4", 2)

	_, err := eval.Analyze(t.Context(), runDir, eval.AnalyzeOptions{})
	var serr *eval.ShardSetError
	if !errors.As(err, &serr) || !strings.Contains(err.Error(), "gpt4 has answered") || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("Analyze of a shard with missing answers: %v; want it refused as incomplete, the finish command with --config", err)
	}
	a, err := eval.Analyze(t.Context(), runDir, eval.AnalyzeOptions{Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	s := readSummary(t, runDir)
	g := modelSummary(t, s, "gpt4")
	if g.N != n-2 || g.NMissing != 2 || g.NFailed != 0 {
		t.Errorf("gpt4: n %d, n_missing %d, n_failed %d; want %d, 2, 0", g.N, g.NMissing, g.NFailed, n-2)
	}
	if g.NoScoreRate == nil || *g.NoScoreRate != 0 {
		t.Errorf("gpt4 no_score_rate %v, want 0: a missing answer is not a no-score", g.NoScoreRate)
	}
	ic := s.Incomplete
	if ic == nil || ic.Missing != 2 || ic.Expected != 2*n || len(ic.Models) != 1 || ic.Models[0].Reasons[llm.MissingUnreachable] != 2 {
		t.Fatalf("incomplete marker %+v, want 2 of %d missing, gpt4 2 unreachable", ic, 2*n)
	}
	if a.Incomplete == nil {
		t.Error("Analysis.Incomplete is nil")
	}
	for _, f := range []string{"report.txt", "report.html"} {
		b, err := os.ReadFile(filepath.Join(runDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.ToLower(string(b)), "incomplete run") || !strings.Contains(string(b), "2 of 56 image × model answers are missing") {
			t.Errorf("%s does not say the run is incomplete", f)
		}
	}
}

// analyze says a run is incomplete whenever an image × model lacks an
// answer: lines deleted, a model that has not answered yet (a compare still
// running), one shard's folder analyzed alone, a partial merge; a complete
// run carries no marker.
func TestAnalyzeMarksIncompleteRuns(t *testing.T) {
	const n = 12
	cfg, _ := shardSetup(t, n)
	if _, err := eval.Compare(t.Context(), cfg, eval.CompareOptions{Split: "all", RunID: "whole", NoCache: true, Log: quiet}); err != nil {
		t.Fatal(err)
	}
	whole := filepath.Join(cfg.OutputPath(), "whole")
	if s := readSummary(t, whole); s.Incomplete != nil {
		t.Fatalf("a complete run is marked incomplete: %+v", s.Incomplete)
	}
	t.Run("lines deleted", func(t *testing.T) {
		path := eval.PredictionsPath(whole, "gpt4")
		b, _ := os.ReadFile(path)
		lines := strings.SplitAfter(string(b), "\n")
		os.WriteFile(path, []byte(strings.Join(lines[3:], "")), 0o644)
		if _, err := eval.Analyze(t.Context(), whole, eval.AnalyzeOptions{}); err != nil {
			t.Fatal(err)
		}
		ic := readSummary(t, whole).Incomplete
		if ic == nil || ic.Missing != 3 || ic.Models[0].Name != "gpt4" || ic.Models[0].NoLine != 3 {
			t.Errorf("marker %+v, want gpt4 3 without a line", ic)
		}
	})
	t.Run("model not answered yet", func(t *testing.T) {
		os.Remove(eval.PredictionsPath(whole, "mean"))
		if _, err := eval.Analyze(t.Context(), whole, eval.AnalyzeOptions{}); err != nil {
			t.Fatal(err)
		}
		ic := readSummary(t, whole).Incomplete
		if ic == nil || ic.Missing != 3+n {
			t.Fatalf("marker %+v, want %d missing", ic, 3+n)
		}
		found := false
		for _, m := range ic.Models {
			found = found || (m.Name == "mean" && m.NoLine == n)
		}
		if !found {
			t.Errorf("marker %+v does not name mean with its %d images unanswered", ic, n)
		}
		b, _ := os.ReadFile(filepath.Join(whole, "report.txt"))
		if strings.Contains(string(b), "was not run") || !strings.Contains(string(b), "has no answers yet") {
			t.Errorf("report.txt says mean was not run, or not that it has no answers yet:\n%s", b)
		}
	})
	for k := 1; k <= 3; k++ {
		if k != 2 {
			if _, err := eval.Compare(t.Context(), cfg, shardOpts("sharded", k, 3)); err != nil {
				t.Fatal(err)
			}
		}
	}
	sharded := filepath.Join(cfg.OutputPath(), "sharded")
	t.Run("partial merge", func(t *testing.T) {
		a, err := eval.Analyze(t.Context(), sharded, eval.AnalyzeOptions{Partial: true})
		if err != nil {
			t.Fatal(err)
		}
		ic := readSummary(t, sharded).Incomplete
		missing := n - len(a.Info.Items)
		if ic == nil || ic.Images != n || ic.Missing != 2*missing || len(ic.Notes) == 0 || !strings.Contains(ic.Notes[0], "shards 1, 3 of 3") {
			t.Errorf("marker %+v, want %d of the %d images missing per model, the shards named", ic, missing, n)
		}
	})
	t.Run("one shard's folder", func(t *testing.T) {
		one := eval.ShardDir(sharded, eval.Shard{Index: 1, Count: 3})
		a, err := eval.Analyze(t.Context(), one, eval.AnalyzeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ic := readSummary(t, one).Incomplete
		if ic == nil || ic.Images != n || ic.Missing != 2*(n-len(a.Info.Items)) || len(ic.Notes) == 0 || !strings.Contains(ic.Notes[0], "shard 1/3 alone") {
			t.Errorf("marker %+v, want shard 1/3 named as one shard of %d images", ic, n)
		}
	})
}

// A fleet member that rate-limits (429, retry-after 30 s) or lacks the
// model (404) takes nothing from the run: every image is answered by the
// other server within seconds, no line is an error, the summary is
// complete and names only the server that answered.
func TestCompareFleetMemberRateLimitedOrWithoutModel(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(*openaitest.Server)
	}{
		{"rate limited", func(s *openaitest.Server) {
			s.Inject(openaitest.Fault{Method: http.MethodPost, Path: "/v1/chat", Status: 429, RetryAfter: "30", Times: 1000,
				Message: "Rate limit reached for requests"})
		}},
		{"without the model", func(s *openaitest.Server) { s.Serves = []string{"qwen2-vl-7b"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 40
			t.Setenv("OPENAI_API_KEY", "")
			bad, good := openaitest.New(t), openaitest.New(t)
			for _, s := range []*openaitest.Server{bad, good} {
				s.Key, s.Latency = "", 5*time.Millisecond
			}
			tt.breakIt(bad)
			cfg, _ := compareSetup(t, n, fmt.Sprintf("  - {name: fleet, backend: openai, model: gpt-4o, concurrency: 4, base_urls: [%s, %s]}\n", bad.URL(), good.URL()))
			start := time.Now()
			c, err := eval.Compare(t.Context(), cfg, eval.CompareOptions{Split: "all", RunID: "fleet", NoCache: true, Log: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("%d images took %s: requests waited on the broken server", n, d)
			}
			for _, r := range readAllPreds(t, eval.PredictionsPath(c.Dir, "fleet")) {
				if r.Error != "" || r.Prediction == nil || r.Prediction.Server.URL != good.URL() {
					t.Errorf("record %s: error %q, want an answer from %s", r.ID, r.Error, good.URL())
				}
			}
			s := readSummary(t, c.Dir)
			m := modelSummary(t, s, "fleet")
			if s.Incomplete != nil || m.N != n || m.NScored != n || len(m.Servers) != 1 || m.Servers[0].URL != good.URL() {
				t.Errorf("summary: incomplete %+v, n %d, scored %d, servers %+v; want complete, %d, %d, only %s", s.Incomplete, m.N, m.NScored, m.Servers, n, n, good.URL())
			}
		})
	}
}

func readAllPreds(t *testing.T, path string) []eval.Record {
	t.Helper()
	res, err := eval.ReadPredictions(path)
	if err != nil {
		t.Fatal(err)
	}
	return res.Records
}

// A server without the model gives missing answers end to end: the lines
// say no_model and name the server, summary.json counts them in n_missing
// (n and no_score_rate leave them out) and marks the run incomplete.
func TestCompareServerWithoutModelIsMissingNotNoScore(t *testing.T) {
	const n = 8
	t.Setenv("OPENAI_API_KEY", "")
	srv := openaitest.New(t)
	srv.Key, srv.Serves = "", []string{"qwen2-vl-7b"}
	cfg, _ := compareSetup(t, n, fmt.Sprintf("  - {name: gpt4, backend: openai, model: gpt-4o, concurrency: 1, base_url: %s}\n  - {name: mean, backend: baseline, model: mean}\n", srv.URL()))
	c, err := eval.Compare(t.Context(), cfg, eval.CompareOptions{Split: "all", RunID: "nomodel", NoCache: true, Log: quiet})
	if err == nil || !strings.Contains(err.Error(), "stopped after its first") {
		t.Fatalf("Compare: %v; want gpt4 stopped after its leading errors", err)
	}
	recs := readAllPreds(t, eval.PredictionsPath(c.Dir, "gpt4"))
	for _, r := range recs {
		if r.Missing != llm.MissingNoModel || !strings.Contains(r.Error, srv.URL()) {
			t.Errorf("record %s: missing %q, error %q; want no_model naming %s", r.ID, r.Missing, r.Error, srv.URL())
		}
	}
	s := readSummary(t, c.Dir)
	g := modelSummary(t, s, "gpt4")
	if g.N != 0 || g.NMissing != len(recs) || g.NoScoreRate != nil {
		t.Errorf("gpt4: n %d, n_missing %d, no_score_rate %v; want 0, %d, null", g.N, g.NMissing, g.NoScoreRate, len(recs))
	}
	if ic := s.Incomplete; ic == nil || ic.Missing != n || ic.Models[0].Reasons[llm.MissingNoModel] != len(recs) || ic.Models[0].NoLine != n-len(recs) {
		t.Errorf("incomplete %+v, want gpt4's %d images missing: %d no_model, the rest without a line", ic, n, len(recs))
	}
}
