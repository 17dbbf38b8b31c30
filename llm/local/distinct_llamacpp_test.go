//go:build llamacpp

package local

import (
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
)

// TestFamilyDefaultsSeeTheImage scores 8 distinct street images with each
// family's tiny model under the family's own default image token bounds
// (no ImageMaxTokens given, so the batch is the family's maximum: 1024 for
// Qwen2-VL and Qwen2.5-VL, 784 for Qwen3-VL). Different images must give
// mostly different answers, as they do for a real model: an engine that
// drops the image gives one answer for all of them. The pinned mtmd helper
// counted an image's decode batches with GGML_PAD, which is only right for
// a power-of-two batch: at 784 it decoded none and the image was skipped.
func TestFamilyDefaultsSeeTheImage(t *testing.T) {
	const n, want = 8, 4 // the Qwen2-VL tiny model gives 7 or 8 of 8
	for _, f := range family.All() {
		t.Run(f.Name, func(t *testing.T) {
			fs, err := synth.Write(t.TempDir(), synth.Options{Family: f.Name, Shape: synth.Tiny, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			p := newTiny(t, Config{ModelFile: fs.Model, MmprojFile: fs.Mmproj, Parallel: 1, Threads: 2, MaxTokens: 8})
			distinct := map[string]bool{}
			for i := range n {
				req := &llm.Request{ID: "img", Image: streetPNG(t, i, 448, 336), Prompt: llm.DefaultPrompt}
				pred, err := p.Predict(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				distinct[pred.Text] = true
				t.Logf("image %d: %q", i, pred.Text)
			}
			if len(distinct) < want {
				t.Errorf("%d distinct images gave %d distinct answers, want at least %d", n, len(distinct), want)
			}
		})
	}
}
