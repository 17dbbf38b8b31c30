//go:build llamacpp

package local

import (
	"fmt"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
)

// TestFamilyImageTokensReachEngine: with no image-token budget in the
// config, each family's tiny model turns the same images into the number
// of tokens its own default budget gives (family.ResizedTokens within
// family.DefaultImageTokens), as llama.cpp reports them in the prompt
// count; a budget in the config replaces the default.
func TestFamilyImageTokensReachEngine(t *testing.T) {
	sizes := [][2]int{{32, 32}, {112, 84}, {1400, 1050}}
	type run struct {
		fam      *family.Family
		min, max int // the config's; 0: default
	}
	runs := []run{{family.Qwen3VL, 0, 256}}
	for _, f := range family.All() {
		runs = append(runs, run{fam: f})
	}
	largest := map[string]int{}
	for _, r := range runs {
		t.Run(fmt.Sprintf("%s/%d..%d", r.fam.Name, r.min, r.max), func(t *testing.T) {
			files, err := synth.Write(t.TempDir(), synth.Options{Family: r.fam.Name, Shape: synth.Tiny, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			p := newTiny(t, Config{ModelFile: files.Model, MmprojFile: files.Mmproj, Parallel: 1, Threads: 2,
				ImageMinTokens: r.min, ImageMaxTokens: r.max, MaxTokens: 1})
			lo, hi := r.fam.DefaultImageTokens()
			if r.min > 0 || r.max > 0 {
				lo, hi = min(lo, r.max), r.max
			}
			if got := p.Config(); got.ImageMinTokens != lo || got.ImageMaxTokens != hi {
				t.Fatalf("config image tokens %d..%d, want %d..%d", got.ImageMinTokens, got.ImageMaxTokens, lo, hi)
			}
			text := -1 // the prompt's tokens besides the image's
			for _, s := range sizes {
				res, err := p.Predict(t.Context(), &llm.Request{ID: "img", Image: streetPNG(t, 1, s[0], s[1]), Prompt: "Rate it."})
				if err != nil {
					t.Fatal(err)
				}
				img := r.fam.ResizedTokens(s[0], s[1], lo, hi)
				t.Logf("%dx%d: %d prompt tokens, %d of them the image's", s[0], s[1], res.Usage.PromptTokens, img)
				if img < lo || img > hi {
					t.Errorf("%dx%d: %d image tokens, outside %d..%d", s[0], s[1], img, lo, hi)
				}
				if text < 0 {
					text = res.Usage.PromptTokens - img
				} else if got := res.Usage.PromptTokens - text; got != img {
					t.Errorf("%dx%d: the engine made %d image tokens, the budget %d..%d gives %d", s[0], s[1], got, lo, hi, img)
				}
				if r.min == 0 && r.max == 0 && s == sizes[len(sizes)-1] {
					largest[r.fam.Name] = img
				}
			}
		})
	}
	// The same photo costs Qwen2-VL and Qwen3-VL different token counts.
	if a, b := largest["qwen2vl"], largest["qwen3vl"]; a == 0 || a == b {
		t.Errorf("1400x1050: qwen2vl %d tokens, qwen3vl %d: want different counts", a, b)
	}
}
