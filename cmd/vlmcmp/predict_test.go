//go:build llamacpp

package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
)

// predictModels writes the tiny synthetic model (with a LoRA) and, for the
// mismatch cases, the small one, once per test binary.
var predictModels = sync.OnceValues(func() (map[string]synth.Files, error) {
	dir, err := os.MkdirTemp("", "predict-test-")
	if err != nil {
		return nil, err
	}
	out := map[string]synth.Files{}
	for name, shape := range map[string]synth.Shape{"tiny": synth.Tiny, "small": synth.Small} {
		f, err := synth.Write(filepath.Join(dir, name), synth.Options{Shape: shape, Seed: 1, LoRA: true})
		if err != nil {
			return nil, err
		}
		out[name] = f
	}
	return out, nil
})

func runVLM(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), append([]string{"vlmcmp"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func writePNG(t *testing.T, path string, shade uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 96, 64))
	for y := range 64 {
		for x := range 96 {
			img.Set(x, y, color.RGBA{R: shade, G: uint8(x * 2), B: uint8(y * 3), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPredict(t *testing.T) {
	models, err := predictModels()
	if err != nil {
		t.Fatalf("write synthetic models: %v", err)
	}
	tiny, small := models["tiny"], models["small"]
	dir := t.TempDir()
	img := filepath.Join(dir, "street.png")
	data := writePNG(t, img, 40)
	other := filepath.Join(dir, "other.png")
	writePNG(t, other, 220)
	base := []string{"predict", "--model-file", tiny.Model, "--mmproj", tiny.Mmproj, "--threads", "1", "--max-tokens", "8"}
	args := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }

	t.Run("same command twice", func(t *testing.T) {
		a := args("--image", img, "--prompt", "How safe is this street?")
		code1, out1, err1 := runVLM(t, a...)
		code2, out2, _ := runVLM(t, a...)
		if code1 != 0 || code2 != 0 {
			t.Fatalf("exit %d, %d; stderr: %s", code1, code2, err1)
		}
		if out1 != out2 || strings.TrimSpace(out1) == "" {
			t.Errorf("stdout %q then %q: want the same non-empty answer", out1, out2)
		}
		if strings.Count(out1, "\n") < 1 {
			t.Errorf("stdout %q: want the answer and a newline", out1)
		}
		code3, out3, _ := runVLM(t, args("--image", other, "--prompt", "How safe is this street?")...)
		if code3 != 0 || out3 == out1 {
			t.Errorf("another image: exit %d, answer %q, first image's %q: want a different answer", code3, out3, out1)
		}
	})
	t.Run("grammar and timings", func(t *testing.T) {
		g := filepath.Join(dir, "score.gbnf")
		os.WriteFile(g, []byte(`root ::= "Safety score: " ([1-9] | "10") "/10"`), 0o644)
		code, out, errs := runVLM(t, args("--image", img, "--prompt", "Score?", "--grammar", g, "--max-tokens", "20", "--timings")...)
		if code != 0 || !strings.HasPrefix(out, "Safety score: ") || !strings.Contains(errs, "timings: image encode") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})
	t.Run("lora scale 0 is the base model", func(t *testing.T) {
		a := args("--image", img, "--prompt", "How safe is this street?")
		_, plain, _ := runVLM(t, a...)
		code, zero, errs := runVLM(t, append(a, "--lora", tiny.LoRA+":0")...)
		if code != 0 || zero != plain {
			t.Errorf("scale 0: exit %d, %q, base model %q (stderr %s)", code, zero, plain, errs)
		}
		code, one, _ := runVLM(t, append(a, "--lora", tiny.LoRA)...)
		if code != 0 || one == plain {
			t.Errorf("scale 1: exit %d, %q, base model %q: want a different answer", code, one, plain)
		}
	})
	t.Run("raw prompt", func(t *testing.T) {
		code, out, errs := runVLM(t, args("--image", img, "--raw-prompt", "--prompt", `<|im_start|>user\n<__media__>How safe?<|im_end|>\n<|im_start|>assistant\n`)...)
		if code != 0 || strings.TrimSpace(out) == "" {
			t.Errorf("exit %d, stdout %q, stderr %s", code, out, errs)
		}
		code, _, errs = runVLM(t, args("--image", img, "--raw-prompt", "--prompt", "no marker")...)
		if code != 1 || !strings.Contains(errs, "media marker") {
			t.Errorf("raw prompt without marker: exit %d, stderr %s", code, errs)
		}
	})

	textGGUF := filepath.Join(dir, "notes.gguf")
	os.WriteFile(textGGUF, []byte("these are notes, not a model\n"), 0o644)
	model, _ := os.ReadFile(tiny.Model)
	truncated := filepath.Join(dir, "truncated.gguf")
	os.WriteFile(truncated, model[:len(model)/2], 0o644)
	header := filepath.Join(dir, "header.gguf")
	os.WriteFile(header, model[:40], 0o644)
	corrupt := filepath.Join(dir, "corrupt.png")
	os.WriteFile(corrupt, data[:len(data)/2], 0o644)
	empty := filepath.Join(dir, "empty.jpg")
	os.WriteFile(empty, nil, 0o644)
	notImage := filepath.Join(dir, "readme.png")
	os.WriteFile(notImage, []byte("hello\n"), 0o644)
	audio := filepath.Join(dir, "clip.wav")
	os.WriteFile(audio, append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 64)...), 0o644)
	bad := []struct {
		name string
		args []string
		want []string
	}{
		{"missing model", []string{"predict", "--model-file", filepath.Join(dir, "none.gguf"), "--mmproj", tiny.Mmproj, "--image", img, "--prompt", "p"}, []string{"none.gguf", "no such file"}},
		{"text named gguf", []string{"predict", "--model-file", textGGUF, "--mmproj", tiny.Mmproj, "--image", img, "--prompt", "p"}, []string{"notes.gguf"}},
		{"truncated model", []string{"predict", "--model-file", truncated, "--mmproj", tiny.Mmproj, "--image", img, "--prompt", "p"}, []string{"truncated.gguf"}},
		{"header only", []string{"predict", "--model-file", header, "--mmproj", tiny.Mmproj, "--image", img, "--prompt", "p"}, []string{"header.gguf"}},
		{"mmproj of another model", []string{"predict", "--model-file", tiny.Model, "--mmproj", small.Mmproj, "--image", img, "--prompt", "p"}, []string{small.Mmproj, "width"}},
		{"lora of another base", args("--lora", small.LoRA, "--image", img, "--prompt", "p"), []string{small.LoRA}},
		{"missing image", args("--image", filepath.Join(dir, "nope.jpg"), "--prompt", "p"), []string{"nope.jpg"}},
		{"corrupt image", args("--image", corrupt, "--prompt", "p"), []string{"corrupt.png", "truncated"}},
		{"zero-size image", args("--image", empty, "--prompt", "p"), []string{"empty.jpg", "empty"}},
		{"text as image", args("--image", notImage, "--prompt", "p"), []string{"readme.png", "text"}},
		{"audio file", args("--image", audio, "--prompt", "p"), []string{"clip.wav", "audio"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runVLM(t, tt.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr %s", code, errs)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q does not mention %q", errs, w)
				}
			}
			if n := strings.Count(strings.TrimSpace(errs), "\n"); n > 1 {
				t.Errorf("stderr has %d lines, want one clear error: %s", n+1, errs)
			}
		})
	}
}

func TestPredictUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"predict", "--mmproj", "p.gguf", "--image", "i.png", "--prompt", "p"}, "--model-file is required"},
		{[]string{"predict", "--model-file", "m.gguf", "--image", "i.png", "--prompt", "p"}, "--mmproj is required"},
		{[]string{"predict", "--model-file", "m.gguf", "--mmproj", "p.gguf", "--prompt", "p"}, "--image is required"},
		{[]string{"predict", "--model-file", "m.gguf", "--mmproj", "p.gguf", "--image", "i", "--prompt", "p", "--grammar", "g", "--json-schema", "s"}, "not both"},
		{[]string{"predict", "--model-file", "m.gguf", "--mmproj", "p.gguf", "--image", "i", "--prompt", "p", "--lora", ":1"}, "--lora"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			code, _, errs := runVLM(t, tt.args...)
			if code != 2 || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q: want 2 and %q", code, errs, tt.want)
			}
		})
	}
}
