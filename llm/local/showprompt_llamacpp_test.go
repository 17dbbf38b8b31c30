//go:build llamacpp

package local

import (
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/native"
)

// TestRenderPromptIsThePredictors: for each family's tiny model, with the
// image first, the text first and a raw prompt, RenderPrompt's chunks take
// as many tokens as the predictor reports for the same request and config
// (the image's included), the prompt's text sits on the right side of the
// image, and every text token has its piece.
func TestRenderPromptIsThePredictors(t *testing.T) {
	const user = "Rate it."
	for _, fam := range family.All() {
		files, err := synth.Write(t.TempDir(), synth.Options{Family: fam.Name, Shape: synth.Tiny, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name      string
			textFirst bool
			raw       bool
		}{{"image first", false, false}, {"text first", true, false}, {"raw", false, true}} {
			t.Run(fam.Name+"/"+tc.name, func(t *testing.T) {
				cfg := Config{ModelFile: files.Model, MmprojFile: files.Mmproj, Parallel: 1, Threads: 2, MaxTokens: 1,
					TextFirst: tc.textFirst, RawPrompt: tc.raw}
				req := &llm.Request{ID: "img", Image: streetPNG(t, 1, 112, 84), System: "Be brief.", Prompt: user}
				if tc.raw {
					req.System, req.Prompt = "", "<|im_start|>user\n"+native.MediaMarker+user+"<|im_end|>\n<|im_start|>assistant\n"
				}
				got, err := RenderPrompt(t.Context(), cfg, req)
				if err != nil {
					t.Fatal(err)
				}
				if got.Family != fam.Name || got.Template != "gguf" || got.Model != files.Model {
					t.Errorf("model %q family %q template %q, want %s %s gguf", got.Model, got.Family, got.Template, files.Model, fam.Name)
				}
				if tc.raw && got.Prompt != req.Prompt {
					t.Errorf("raw prompt rendered as %q, want it unchanged", got.Prompt)
				}
				total, images, before, after := 0, 0, "", ""
				for _, c := range got.Chunks {
					if c.Type == "image" {
						images++
						total += c.ImageTokens
						continue
					}
					if len(c.Pieces) != len(c.Tokens) {
						t.Errorf("%d pieces for %d tokens", len(c.Pieces), len(c.Tokens))
					}
					total += len(c.Tokens)
					if images == 0 {
						before += strings.Join(c.Pieces, "")
					} else {
						after += strings.Join(c.Pieces, "")
					}
				}
				if images != 1 {
					t.Fatalf("%d image chunks, want 1", images)
				}
				if strings.Contains(before, user) != tc.textFirst || strings.Contains(after, user) == tc.textFirst {
					t.Errorf("text first %v: %q before the image, %q after it", tc.textFirst, before, after)
				}
				res, err := newTiny(t, cfg).Predict(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				if res.Usage.PromptTokens != total {
					t.Errorf("RenderPrompt's chunks take %d tokens, the predictor evaluated %d", total, res.Usage.PromptTokens)
				}
			})
		}
	}
}
