//go:build llamacpp

package eval_test

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/dataset"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/llm/local"
)

// TestSharedProjectorEncodesOnce runs 2,000 images through a base model and
// its LoRA fine-tune at once (one projector file): every image is encoded
// exactly once over both models, the other model takes the embedding, and
// the embeddings held at once never exceed the runner's window, whatever
// the number of images (the first-come cache it replaces stopped sharing at
// its budget).
func TestSharedProjectorEncodesOnce(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	const window = 16
	dir := t.TempDir()
	files, err := synth.Write(dir, synth.Options{Shape: synth.Tiny, Seed: 5, LoRA: true})
	if err != nil {
		t.Fatal(err)
	}
	items := make([]dataset.Item, n)
	for i := range items {
		// 28×28 pixels: one image token. Each image differs.
		img := image.NewRGBA(image.Rect(0, 0, 28, 28))
		img.Set(i%28, (i/28)%28, color.RGBA{uint8(i), uint8(i >> 8), 200, 255})
		path := filepath.Join(dir, fmt.Sprintf("img%04d.png", i))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		items[i] = dataset.Item{ID: filepath.Base(path), ImagePath: path, Score: float64(1 + i%10)}
	}
	cfg := local.Config{ModelFile: files.Model, MmprojFile: files.Mmproj, Parallel: 4, Threads: 1,
		ImageMaxTokens: 4, MaxTokens: 1}
	base, err := local.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	cfg.LoRA = []local.LoRA{{Path: files.LoRA, Scale: 1}}
	ft, err := local.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ft.Close()
	if base.ShareKey() == "" || base.ShareKey() != ft.ShareKey() {
		t.Fatalf("share keys %q and %q: want one key for one projector", base.ShareKey(), ft.ShareKey())
	}
	local.ResetSharedEmbeddings()
	r := &eval.Runner{Dir: filepath.Join(dir, "run"), Window: window}
	models := []eval.Model{
		{Name: "base", Predictor: base, Prompt: "Rate it.", Options: llm.Options{MaxTokens: 1}},
		{Name: "ft", Predictor: ft, Prompt: "Rate it.", Options: llm.Options{MaxTokens: 1}},
	}
	res, err := r.Run(t.Context(), models, items)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res {
		if m.Answered != n || m.Errors != 0 {
			t.Errorf("%s: %d answered, %d errors; want %d answers", m.Model, m.Answered, m.Errors, n)
		}
	}
	bs, fs, sh := base.Stats(), ft.Stats(), local.SharedEmbeddings()
	t.Logf("encoded: base %d, ft %d; taken %d/%d; shared embeddings held at most %d (%.2f MiB); window peak %d images",
		bs.Images, fs.Images, bs.EmbeddingHits, fs.EmbeddingHits, sh.Peak, sh.PeakMB, r.WindowPeak)
	if bs.Images+fs.Images != n || bs.EmbeddingHits+fs.EmbeddingHits != n || sh.Made != n || sh.Taken != n {
		t.Errorf("encoded %d+%d, taken %d+%d (made %d, taken %d); want %d encodes and %d takes in all",
			bs.Images, fs.Images, bs.EmbeddingHits, fs.EmbeddingHits, sh.Made, sh.Taken, n, n)
	}
	if sh.Peak > window || r.WindowPeak > window {
		t.Errorf("held %d embeddings and %d images at once; want at most the window, %d", sh.Peak, r.WindowPeak, window)
	}
	if sh.Live != 0 || sh.Bytes != 0 {
		t.Errorf("after the run %d embeddings (%d bytes) are still held", sh.Live, sh.Bytes)
	}
	for _, m := range []string{"base", "ft"} {
		recs, err := eval.ReadPredictions(eval.PredictionsPath(r.Dir, m))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, rec := range recs.Records {
			seen[rec.ID]++
		}
		if len(recs.Records) != n || len(seen) != n {
			t.Errorf("%s: %d records for %d images, want one each of %d", m, len(recs.Records), len(seen), n)
		}
	}
}
