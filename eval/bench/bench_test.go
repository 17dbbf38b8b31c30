package bench

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStatOf(t *testing.T) {
	tests := []struct {
		in   []float64
		want Stat
	}{
		{nil, Stat{}},
		{[]float64{3}, Stat{3, 3, 3}},
		{[]float64{5, 1, 3}, Stat{3, 1, 5}},
		{[]float64{4, 1, 3, 2}, Stat{2.5, 1, 4}},
	}
	for _, tt := range tests {
		in := append([]float64(nil), tt.in...)
		if got := StatOf(tt.in); got != tt.want {
			t.Errorf("StatOf(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
		for i := range in {
			if in[i] != tt.in[i] {
				t.Errorf("StatOf reordered its input: %v", tt.in)
			}
		}
	}
}

func TestRequests(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.png", "b.JPG", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reqs, err := Requests(Images{Dir: dir, Prompt: "p", MaxTokens: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || reqs[0].Prompt != "p" || reqs[0].Options.MaxTokens != 7 {
		t.Fatalf("got %d requests (%+v), want a.png and b.JPG with the prompt", len(reqs), reqs)
	}
	if _, err := Requests(Images{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "holds no") {
		t.Errorf("empty folder: err %v, want one saying it holds no image", err)
	}

	a, err := Requests(Images{Synthetic: 3, SyntheticSize: "64x48", Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Requests(Images{Synthetic: 3, SyntheticSize: "64x48", Seed: 9})
	c, _ := Requests(Images{Synthetic: 3, SyntheticSize: "64x48", Seed: 10})
	if len(a) != 3 || !bytes.Equal(a[2].Image, b[2].Image) || bytes.Equal(a[2].Image, c[2].Image) {
		t.Errorf("synthetic images: same seed must give the same images, another seed others")
	}
	for _, bad := range []string{"10x10", "64", "9000x64", "axb"} {
		if _, err := Requests(Images{Synthetic: 1, SyntheticSize: bad}); err == nil {
			t.Errorf("size %q accepted", bad)
		}
	}
}

func TestReportWriters(t *testing.T) {
	rep := &Report{Model: "/m/model.gguf", Images: 2, MaxTokens: 4, Repeat: 2, GOOS: "linux", GOARCH: "amd64",
		Sizes: []Size{
			{Batch: 1, Runs: []Pass{{WallMS: 1000, ImagesPerSec: 2}, {WallMS: 900, ImagesPerSec: 2.2}}, ImagesPerSec: StatOf([]float64{2, 2.2}), DecodeTokPerS: Stat{10, 9, 11}, Speedup: 1, SameAsBatch1: 1},
			{Batch: 4, Runs: []Pass{{WallMS: 500, ImagesPerSec: 4}}, ImagesPerSec: Stat{4, 4, 4}, DecodeTokPerS: Stat{30, 30, 30}, Speedup: 4 / 2.1, SameAsBatch1: 0.5},
		}}
	var b bytes.Buffer
	WriteTable(&b, rep)
	if !strings.Contains(b.String(), "model.gguf, 2 images") || !strings.Contains(b.String(), "50%") {
		t.Errorf("table lacks the header or batch 4's share of same answers:\n%s", b.String())
	}
	b.Reset()
	WriteBenchstat(&b, rep)
	if n := strings.Count(b.String(), "BenchmarkLocal/model=model/batch="); n != 3 {
		t.Errorf("benchstat: %d benchmark lines, want one per run (3):\n%s", n, b.String())
	}
	path := filepath.Join(t.TempDir(), "bench.png")
	if err := WritePlot(path, rep); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("plot not written: %v", err)
	}
	if math.IsNaN(rep.Sizes[1].Speedup) {
		t.Error("speedup NaN")
	}
}

func TestPeakRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	resetPeakRSS()
	if peakRSS() == 0 {
		t.Error("peakRSS read 0 from /proc/self/status")
	}
}
