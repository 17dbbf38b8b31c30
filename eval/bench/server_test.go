package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

func TestRunServer(t *testing.T) {
	srv := openaitest.New(t)
	srv.Latency = 50 * time.Millisecond
	reqs, err := Requests(Images{Synthetic: 6, SyntheticSize: "64x48", Seed: 3, Prompt: "rate it", MaxTokens: 9})
	if err != nil {
		t.Fatal(err)
	}
	run, err := RunServer(context.Background(), reqs, ServerOptions{
		URL: srv.URL(), Key: srv.Key, Model: "gpt-4o-mini", Concurrency: []int{3, 1}, Repeat: 2, MaxTokens: 9,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Sizes) != 2 || run.Sizes[0].Batch != 1 || run.Sizes[1].Batch != 3 {
		t.Fatalf("sizes %+v, want concurrency 1 then 3", run.Sizes)
	}
	// Per concurrency: one warm-up request, two timed passes of six (images
	// changed in a pixel) and the untimed pass of six for the answers.
	if n := srv.Count("POST", "/v1/chat/completions"); n != 2*(1+2*6+6) {
		t.Errorf("%d chat requests, want %d", n, 2*(1+2*6+6))
	}
	if got := srv.MaxInFlight(); got != 3 {
		t.Errorf("at most %d requests in flight, want 3 (the largest concurrency)", got)
	}
	for _, r := range srv.Requests() {
		if c := r.Chat; c != nil && (c.Prompt != "rate it" || c.MaxTokens != 9 || c.ImageWidth != 64) {
			t.Errorf("request %+v: want the bench's prompt, 9 tokens and the 64-pixel image as it is", c)
		}
	}
	one, three := run.Sizes[0], run.Sizes[1]
	if len(one.Runs) != 2 || one.ImagesPerSec.Median <= 0 || one.LatencyMS.Median < 50 {
		t.Errorf("concurrency 1: %+v, want 2 runs, images/s > 0 and latency at least the fake's 50 ms", one)
	}
	// Six requests of 50 ms each: 3 in flight must be clearly faster than 1.
	if three.Speedup < 1.2 {
		t.Errorf("concurrency 3 is %.2fx concurrency 1, want more than 1.2x with a 50 ms server", three.Speedup)
	}
	if one.SameAsBatch1 != 1 || three.SameAsBatch1 != 1 || len(three.Answers) != 6 {
		t.Errorf("same-as-1 %v and %v, %d answers: the fake answers the same at any concurrency", one.SameAsBatch1, three.SameAsBatch1, len(three.Answers))
	}

	srv.Inject(openaitest.Fault{Method: "POST", Path: "/v1/chat/completions", Status: 500, Times: 100})
	if _, err := RunServer(context.Background(), reqs, ServerOptions{URL: srv.URL(), Key: srv.Key, Model: "gpt-4o-mini", Concurrency: []int{1}, Repeat: 1}); err == nil || !strings.Contains(err.Error(), "warm-up") {
		t.Errorf("failing server: err %v, want the warm-up's failure", err)
	}
	if _, err := RunServer(context.Background(), reqs, ServerOptions{Concurrency: []int{1}, Repeat: 1}); err == nil {
		t.Error("no URL accepted")
	}
}

func TestReportWithServer(t *testing.T) {
	rep := &Report{Model: "/m/model.gguf", Images: 4, MaxTokens: 4, Repeat: 1,
		Sizes: []Size{
			{Batch: 1, Runs: []Pass{{WallMS: 1000, ImagesPerSec: 4}}, ImagesPerSec: Stat{4, 4, 4}, Speedup: 1, SameAsBatch1: 1},
			{Batch: 4, Runs: []Pass{{WallMS: 500, ImagesPerSec: 8}}, ImagesPerSec: Stat{8, 8, 8}, Speedup: 2, SameAsBatch1: 1},
		},
		Server: &ServerRun{URL: "http://127.0.0.1:1/v1", Model: "m", Sizes: []Size{
			{Batch: 2, Runs: []Pass{{WallMS: 800, ImagesPerSec: 5, LatencyMS: 300}}, ImagesPerSec: Stat{5, 5, 5}, LatencyMS: Stat{300, 300, 300}, SameAsBatch1: -1},
		}}}
	var b bytes.Buffer
	WriteTable(&b, rep)
	out := b.String()
	for _, want := range []string{"server http://127.0.0.1:1/v1", "local/server 1.60x"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	rows := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 2 {
			rows[f[0]+" "+f[1]]++
		}
	}
	if rows["local 1"] != 1 || rows["local 4"] != 1 || rows["server 2"] != 1 {
		t.Errorf("rows %v, want local 1, local 4 and server 2 once each:\n%s", rows, out)
	}
	b.Reset()
	WriteBenchstat(&b, rep)
	if !strings.Contains(b.String(), "BenchmarkServer/model=model/concurrency=2 1 800000000 ns/op") {
		t.Errorf("benchstat lacks the server line:\n%s", b.String())
	}
	path := filepath.Join(t.TempDir(), "both.png")
	if err := WritePlot(path, rep); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("plot not written: %v", err)
	}
}
