//go:build llamacpp

package chat_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/chat"
	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/native"
)

// TestPromptTokensMatchHuggingFace: for each family's tiny model, the
// tokens llama.cpp evaluates for a rendered conversation (mtmd's text
// chunks, the image as its number of positions) equal the tokens of the
// prompt as Hugging Face's processor builds it: the template rendered,
// <|image_pad|> repeated once per image token, tokenized with special
// tokens parsed.
func TestPromptTokensMatchHuggingFace(t *testing.T) {
	for _, fam := range family.All() {
		t.Run(fam.Name, func(t *testing.T) {
			files, err := synth.Write(t.TempDir(), synth.Options{Family: fam.Name, Shape: synth.Tiny, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			m, err := native.LoadModel(files.Model, native.ModelParams{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			p, err := native.LoadProjector(files.Mmproj, m, native.ProjectorParams{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			src, _ := m.Meta("tokenizer.chat_template")
			tpl, err := chat.ForModel(src, fam)
			if err != nil {
				t.Fatal(err)
			}
			if tpl.Source != chat.FromFile {
				t.Errorf("template source %s, want the file's", tpl.Source)
			}
			pad, err := m.Tokenize("<|image_pad|>", false, true)
			if err != nil || len(pad) != 1 {
				t.Fatalf("image pad tokens %v, %v", pad, err)
			}
			rgb := make([]byte, 64*48*3)
			for i := range rgb {
				rgb[i] = byte(i % 251)
			}
			bm, err := native.NewBitmap(64, 48, rgb)
			if err != nil {
				t.Fatal(err)
			}
			defer bm.Close()
			for _, msgs := range [][]chat.Message{
				{chat.Text("system", "You rate street photos."), {Role: "user", Parts: []chat.Part{{Type: "image"}, {Type: "text", Text: "How safe is this street?"}}}},
				{{Role: "user", Parts: []chat.Part{{Type: "image"}, {Type: "text", Text: "How safe is this street?"}}}},
			} {
				hf, err := tpl.Render(msgs, true)
				if err != nil {
					t.Fatal(err)
				}
				text, err := chat.ForMtmd(hf, native.MediaMarker, 1)
				if err != nil {
					t.Fatal(err)
				}
				ch, err := p.Tokenize(text, []*native.Bitmap{bm}, false)
				if err != nil {
					t.Fatal(err)
				}
				var got []native.Token
				nImage := 0
				for i := range ch.Len() {
					if ch.Kind(i) == native.ChunkImage {
						nImage = ch.NTokens(i)
						for range nImage {
							got = append(got, pad[0])
						}
						continue
					}
					got = append(got, ch.Tokens(i)...)
				}
				ch.Close()
				want, err := m.Tokenize(strings.Replace(hf, "<|image_pad|>", strings.Repeat("<|image_pad|>", nImage), 1), false, true)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%d messages: llama.cpp evaluates\n%v\nhugging face\n%v", len(msgs), got, want)
				}
				t.Logf("%d messages: %d tokens (%d image) match", len(msgs), len(got), nImage)
			}
		})
	}
}
