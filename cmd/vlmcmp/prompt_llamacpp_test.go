//go:build llamacpp

package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/llm/local"
	"github.com/vlmcmp/vlmcmp/native"
)

// TestPromptCommand: for each family's tiny model and both conversations,
// `vlmcmp prompt --json` prints the template's source (the file's), the
// prompt with the image as the media marker, and chunks whose tokens, the
// image chunk written as its number of <|image_pad|>, are the tokens of the
// prompt Hugging Face's processor builds (written out here from the
// templates' rules, tokenized with special tokens parsed). The text output
// lists the same tokens.
func TestPromptCommand(t *testing.T) {
	const img = "<|vision_start|><|image_pad|><|vision_end|>"
	const user = "How safe is this street?"
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
			defaultSystem := "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
			if fam == family.Qwen3VL {
				defaultSystem = "" // Qwen3-VL's template adds no system turn
			}
			for _, tc := range []struct {
				system, hf string
			}{
				{"You rate street photos.", "<|im_start|>system\nYou rate street photos.<|im_end|>\n<|im_start|>user\n" + img + user + "<|im_end|>\n<|im_start|>assistant\n"},
				{"", defaultSystem + "<|im_start|>user\n" + img + user + "<|im_end|>\n<|im_start|>assistant\n"},
			} {
				args := []string{"--model-file", files.Model, "--mmproj", files.Mmproj, "--prompt", user}
				if tc.system != "" {
					args = append(args, "--system", tc.system)
				}
				code, stdout, stderr := runPromptCLI(t, append(args, "--json")...)
				if code != 0 {
					t.Fatalf("exit %d\n%s", code, stderr)
				}
				var got local.RenderedPrompt
				if err := json.Unmarshal([]byte(stdout), &got); err != nil {
					t.Fatalf("%v\n%s", err, stdout)
				}
				if got.Template != "gguf" || got.Family != fam.Name {
					t.Errorf("template %q family %q, want gguf %s", got.Template, got.Family, fam.Name)
				}
				if want := strings.Replace(tc.hf, img, native.MediaMarker, 1); got.Prompt != want {
					t.Errorf("prompt\n%q\nwant\n%q", got.Prompt, want)
				}
				pad, err := m.Tokenize("<|image_pad|>", false, true)
				if err != nil || len(pad) != 1 {
					t.Fatalf("image pad %v, %v", pad, err)
				}
				var toks []native.Token
				nImage := 0
				for _, c := range got.Chunks {
					if c.Type == "image" {
						nImage++
						for range c.ImageTokens {
							toks = append(toks, pad[0])
						}
						continue
					}
					if len(c.Pieces) != len(c.Tokens) {
						t.Errorf("%d pieces for %d tokens", len(c.Pieces), len(c.Tokens))
					}
					toks = append(toks, c.Tokens...)
				}
				if nImage != 1 {
					t.Fatalf("%d image chunks, want 1: %s", nImage, stdout)
				}
				n := 0
				for _, c := range got.Chunks {
					n += c.ImageTokens
				}
				want, err := m.Tokenize(strings.Replace(tc.hf, "<|image_pad|>", strings.Repeat("<|image_pad|>", n), 1), true, true)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(toks, want) {
					t.Errorf("system %q: tokens\n%v\nHugging Face's\n%v", tc.system, toks, want)
				}

				code, text, stderr := runPromptCLI(t, args...)
				if code != 0 {
					t.Fatalf("exit %d\n%s", code, stderr)
				}
				for _, w := range []string{"template: the model file's tokenizer.chat_template\n", "prompt:\n" + got.Prompt + "tokens:\n",
					fmt.Sprintf("[image: %d tokens]", n), fmt.Sprintf("%q\n", "<|vision_end|>")} {
					if !strings.Contains(text, w) {
						t.Errorf("text output lacks %q:\n%s", w, text)
					}
				}
				if lines := strings.Count(text[strings.Index(text, "tokens:\n"):], "\n") - 1; lines != len(want)-n+1 {
					t.Errorf("text output lists %d tokens, want %d text tokens and the image", lines, len(want)-n)
				}
			}
		})
	}
}
