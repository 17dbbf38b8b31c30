//go:build llamacpp

package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
)

// TestPromptSaveImage: `vlmcmp prompt --image F --save-image OUT` writes
// the pixels Pillow's transformers pipeline gives the encoder for F (the
// goldens of llm/imageprep), exactly, and says how it got them; the image
// token bounds and --resample reach it.
func TestPromptSaveImage(t *testing.T) {
	files, err := synth.Write(t.TempDir(), synth.Options{Shape: synth.Tiny, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	const goldens = "../../llm/imageprep/testdata/goldens/"
	for _, c := range []struct {
		file, want string
		args       []string
		line       string
	}{
		{"orient6.jpg", "orient6_q2.want.png", nil, "image: jpeg 30x45 (decoded by libjpeg-turbo, turned upright by EXIF orientation 6), bicubic to 56x84"},
		{"rgba.png", "rgba_png_q2.want.png", nil, "image: png 280x56 (decoded by Go image/png), bicubic to 280x56"},
		{"large.jpg", "large_max64_q2.want.png", []string{"--image-max-tokens", "64"}, "bicubic to 252x168"},
		{"large.jpg", "large_nearest.want.png", []string{"--image-max-tokens", "100", "--resample", "nearest"}, "nearest to 308x224"},
	} {
		t.Run(c.want, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "seen.png")
			args := append([]string{"--model-file", files.Model, "--mmproj", files.Mmproj, "--prompt", "Rate.",
				"--image", goldens + c.file, "--save-image", out}, c.args...)
			code, stdout, stderr := runPromptCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if !strings.Contains(stdout, c.line) {
				t.Errorf("output lacks %q:\n%s", c.line, stdout)
			}
			got, want := decodePNG(t, out), decodePNG(t, goldens+c.want)
			if got.Bounds() != want.Bounds() || !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("%s: saved %v, Pillow's %v: pixels differ", c.file, got.Bounds(), want.Bounds())
			}
		})
	}
	code, _, stderr := runPromptCLI(t, "--model-file", files.Model, "--mmproj", files.Mmproj, "--prompt", "Rate.", "--save-image", "x.png")
	if code == 0 || !strings.Contains(stderr, "--save-image needs --image") {
		t.Errorf("--save-image without --image: exit %d\n%s", code, stderr)
	}
	code, _, stderr = runPromptCLI(t, "--model-file", files.Model, "--mmproj", files.Mmproj, "--prompt", "Rate.", "--resample", "lanczos")
	if code == 0 || !strings.Contains(stderr, `resample "lanczos" is not one of bicubic, bilinear, nearest, llama.cpp`) {
		t.Errorf("--resample lanczos: exit %d\n%s", code, stderr)
	}
}

func decodePNG(t *testing.T, path string) *image.RGBA {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := img.(*image.RGBA)
	if !ok {
		t.Fatalf("%s decodes to %T, want RGB", path, img)
	}
	return m
}
