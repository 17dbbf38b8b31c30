package main

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval"
)

// An image whose file name is not UTF-8 (café.png in Latin-1) keeps its
// name through predictions and run.json: a comparison that answers every
// image exits 0, and a resume asks nothing again.
func TestNonUTF8FileNameRoundTrips(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("VLMCMP_CACHE_DIR", filepath.Join(t.TempDir(), "cache"))
	names := []string{"caf\xe9.png", "stra\xdfe.png", "plain.png"}
	csv := "image,score\n"
	for i, n := range names {
		img := image.NewGray(image.Rect(0, 0, 8, 8))
		for p := range img.Pix {
			img.Pix[p] = uint8(40 * i)
		}
		img.Set(0, 0, color.Gray{255})
		f, err := os.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, img)
		f.Close()
		csv += n + "," + string(rune('3'+i)) + "\n"
	}
	if err := os.WriteFile("data.csv", []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := "data: data.csv\nmodels:\n  - {name: mean, backend: baseline, model: mean}\n  - {name: median, backend: baseline, model: median}\n"
	if err := os.WriteFile("vlmcmp.yaml", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"compare", "--split", "all", "--output-dir", "out", "--run-id", "r"}
	code, _, stderr := vlmcmp(t, t.Context(), args...)
	if code != 0 {
		t.Fatalf("compare exited %d:\n%s", code, stderr)
	}
	res, err := eval.ReadPredictions(eval.PredictionsPath(filepath.Join("out", "r"), "mean"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range res.Records {
		got[r.ID] = true
		if _, err := os.Stat(r.Image); err != nil {
			t.Errorf("record %q: its image %q: %v", r.ID, r.Image, err)
		}
	}
	for _, n := range names {
		if !got[n] {
			t.Errorf("predictions lack %q; they hold %v", n, got)
		}
	}
	code, _, stderr = vlmcmp(t, t.Context(), append(args, "--resume")...)
	if code != 0 || strings.Contains(stderr, "missing") {
		t.Errorf("resume exited %d:\n%s", code, stderr)
	}
}
