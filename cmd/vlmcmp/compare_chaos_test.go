package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/demo"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// TestCompareChaos runs compare against the fake API under faults —
// malformed and truncated bodies, 429 without Retry-After, 500s, a refused
// request — and a Ctrl-C at a random moment, then finishes with the command
// compare printed, for a few seeds. Every image must end with exactly one
// answer per model, labelled with that model. (eval's TestChaos does the
// same with SIGKILLed processes.)
func TestCompareChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos loop skipped in -short")
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Chdir(t.TempDir())
			srv := openaiEnv(t)
			srv.Latency = 5 * time.Millisecond
			const n = 16
			if _, err := demo.WriteDataset("data", n, seed); err != nil {
				t.Fatal(err)
			}
			cfg := "data: data/ground_truth.json\noutput_dir: results\nmodels:\n" +
				"  - {name: gpt4, backend: openai, model: gpt-4o, concurrency: 3}\n" +
				"  - {name: mini, backend: openai, model: gpt-4o-mini, concurrency: 2}\n" +
				"  - {name: mean, backend: baseline}\n"
			if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(seed, 7))
			chat := "/v1/chat/completions"
			faults := []openaitest.Fault{
				{Method: "POST", Path: chat, Malformed: true},
				{Method: "POST", Path: chat, Truncated: true},
				{Method: "POST", Path: chat, Status: http.StatusTooManyRequests},
				{Method: "POST", Path: chat, Status: http.StatusInternalServerError, RetryAfter: "0"},
				{Method: "POST", Path: chat, Status: http.StatusBadRequest, Message: "refused for the test"},
			}
			for range 6 {
				srv.Inject(faults[rng.IntN(len(faults))])
			}
			ctx, cancel := context.WithCancel(t.Context())
			stopAt := 3 + rng.IntN(2*n)
			go func() {
				for srv.Count("POST", chat) < stopAt && ctx.Err() == nil {
					time.Sleep(2 * time.Millisecond)
				}
				cancel()
			}()
			_, _, stderr := vlmcmp(t, ctx, "compare", "--split", "all", "--run-id", "r")
			cancel()
			for try := 0; ; try++ {
				m := regexp.MustCompile(`finish with: vlmcmp (compare .*)`).FindStringSubmatch(stderr)
				if m == nil {
					break // finished
				}
				if try == 3 {
					t.Fatalf("still unfinished after %d finish commands:\n%s", try, stderr)
				}
				var code int
				code, _, stderr = vlmcmp(t, t.Context(), splitShell(t, m[1])...)
				if code == 0 {
					break
				}
			}
			run := filepath.Join("results", "r")
			for _, model := range []string{"gpt4", "mini", "mean"} {
				path := eval.PredictionsPath(run, model)
				if ids := predictionIDs(t, path); len(ids) != n {
					t.Errorf("%s: %d answered images, want %d", model, len(ids), n)
				}
				res, err := eval.ReadPredictions(path)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range res.Records {
					if r.Model != model {
						t.Errorf("%s: a line labelled %q", path, r.Model)
					}
				}
			}
		})
	}
}
