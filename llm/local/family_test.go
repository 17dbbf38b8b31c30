//go:build llamacpp

package local

import (
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
)

// TestFamilies runs each family's tiny model through the predictor: it
// loads, answers, the same request gives the same text, two images give
// different texts; a projector of another architecture's family is refused.
func TestFamilies(t *testing.T) {
	files := map[string]synth.Files{}
	for _, f := range family.All() {
		fs, err := synth.Write(t.TempDir(), synth.Options{Family: f.Name, Shape: synth.Tiny, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = fs
	}
	for _, f := range family.All() {
		t.Run(f.Name, func(t *testing.T) {
			cfg := Config{ModelFile: files[f.Name].Model, MmprojFile: files[f.Name].Mmproj, Parallel: 2, Threads: 1,
				ImageMaxTokens: 256, MaxTokens: 12}
			p := newTiny(t, cfg)
			reqs := requests(t, 4)
			reqs[1] = reqs[3] // a dark street against a daylit one
			a, err := p.Predict(t.Context(), reqs[0])
			if err != nil {
				t.Fatal(err)
			}
			a2, err := p.Predict(t.Context(), reqs[0])
			if err != nil {
				t.Fatal(err)
			}
			b, err := p.Predict(t.Context(), reqs[1])
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("image 0: %q, image 1: %q", a.Text, b.Text)
			if a.Text == "" || a.Text != a2.Text {
				t.Errorf("same request gave %q then %q", a.Text, a2.Text)
			}
			if a.Text == b.Text {
				t.Errorf("two images gave the same text %q", a.Text)
			}
		})
	}
	bad := Config{ModelFile: files["qwen2vl"].Model, MmprojFile: files["qwen3vl"].Mmproj, Parallel: 1, Threads: 1, ImageMaxTokens: 256}
	if p, err := New(t.Context(), bad); err == nil {
		p.Close()
		t.Error("a Qwen3-VL projector with a Qwen2-VL model was accepted")
	} else {
		t.Logf("refused: %v", err)
	}
}
