//go:build llamacpp

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/bench"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// TestBenchLocalAndServer runs both paths of bench in one table: the tiny
// model at batch 1 and 2 beside the fake API, with the phase table and a
// step trace.
func TestBenchLocalAndServer(t *testing.T) {
	models, err := predictModels()
	if err != nil {
		t.Fatal(err)
	}
	tiny := models["tiny"]
	srv := openaitest.New(t)
	t.Setenv("VLMCMP_SERVER_API_KEY", srv.Key)
	dir := t.TempDir()
	js, trace := filepath.Join(dir, "b.json"), filepath.Join(dir, "trace.jsonl")
	code, out, errOut := runVLM(t, "bench", "--model-file", tiny.Model, "--mmproj", tiny.Mmproj, "--threads", "1",
		"--image-max-tokens", "256", "--synthetic", "3", "--synthetic-size", "112x84", "--max-tokens", "4",
		"--repeat", "1", "--batch", "1,2", "--text-first", "--server", srv.URL(), "--server-model", "gpt-4o-mini",
		"--json", js, "--trace", trace)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"local/server", "phases, ms per image", "image prefill"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var rep bench.Report
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Sizes) != 2 || rep.Server == nil || len(rep.Server.Sizes) != 2 {
		t.Fatalf("report: %d local sizes, server %+v; want 2 and 2", len(rep.Sizes), rep.Server)
	}
	for _, z := range rep.Sizes {
		ph := z.Runs[0].Phases
		if ph == nil || ph.Encode <= 0 || ph.ImagePrefill <= 0 || ph.Decode <= 0 || ph.Wall <= 0 {
			t.Errorf("batch %d: phases %+v, want encode, image prefill, decode and wall times", z.Batch, ph)
		}
		if z.SameAsBatch1 != 1 {
			t.Errorf("batch %d: %.0f%% of answers as batch 1's, want all", z.Batch, 100*z.SameAsBatch1)
		}
	}
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ops := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev struct {
			Batch int     `json:"batch"`
			Op    string  `json:"op"`
			Dur   float64 `json:"dur_ms"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("trace line %q: %v", sc.Text(), err)
		}
		ops[ev.Op]++
	}
	// 3 images per batch size, 2 batch sizes: one image decode per image.
	if ops["imagedecode"] != 6 || ops["encode"] != 6 || ops["image"] != 6 || ops["step"] == 0 {
		t.Errorf("trace ops %v, want 6 image decodes, encodes and image prefills, and steps", ops)
	}
}
