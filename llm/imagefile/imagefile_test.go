package imagefile

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
)

// gradient is a small test image whose every pixel differs.
func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), uint8(x + y), 255})
		}
	}
	return img
}

func encode(t testing.TB, format string, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	case "gif":
		err = gif.Encode(&buf, img, nil)
	case "bmp":
		err = bmp.Encode(&buf, img)
	default:
		t.Fatalf("unknown format %q", format)
	}
	if err != nil {
		t.Fatalf("encode %s: %v", format, err)
	}
	return buf.Bytes()
}

func TestDecodeFormats(t *testing.T) {
	src := gradient(31, 17)
	for _, format := range []string{"png", "jpeg", "gif", "bmp"} {
		t.Run(format, func(t *testing.T) {
			img, got, err := Decode(encode(t, format, src))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != format {
				t.Errorf("format = %q, want %q", got, format)
			}
			if b := img.Bounds(); b.Dx() != 31 || b.Dy() != 17 {
				t.Errorf("size = %v, want 31x17", b.Size())
			}
		})
	}
}

func TestDecodeBadInput(t *testing.T) {
	good := encode(t, "png", gradient(16, 16))
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"text", []byte("image,score\na.jpg,7\n"), "it is text"},
		{"wav", append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 32)...), "WAV audio"},
		{"flac", append([]byte("fLaC"), make([]byte, 40)...), "FLAC audio"},
		{"gguf", append([]byte("GGUF\x03\x00\x00\x00"), make([]byte, 40)...), "GGUF model"},
		{"random", []byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x80, 0x90, 0xfe}, "not a supported image"},
		{"truncated png", good[:len(good)/2], "corrupt or truncated png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode(tt.data)
			if err == nil {
				t.Fatal("Decode succeeded, want an error")
			}
			if !errors.Is(err, ErrNotImage) {
				t.Errorf("error %v does not wrap ErrNotImage", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestReadNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "street.jpg")
	if err := os.WriteFile(bad, []byte("not really a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing.png")} {
		_, _, err := Read(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Read(%s) error = %v, want one naming the file", path, err)
		}
	}
}

func TestRGB(t *testing.T) {
	src := gradient(5, 3)
	// A sub-image starts away from the origin and has a wider stride.
	sub := gradient(9, 7).SubImage(image.Rect(2, 3, 7, 6))
	for name, img := range map[string]image.Image{"rgba": src, "subimage": sub} {
		t.Run(name, func(t *testing.T) {
			w, h, pix := RGB(img)
			if w != 5 || h != 3 || len(pix) != 5*3*3 {
				t.Fatalf("RGB = %dx%d with %d bytes, want 5x3 with 45", w, h, len(pix))
			}
			b := img.Bounds()
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
					i := (y*w + x) * 3
					if pix[i] != uint8(r>>8) || pix[i+1] != uint8(g>>8) || pix[i+2] != uint8(bl>>8) {
						t.Fatalf("pixel (%d,%d) = %v, want %d %d %d", x, y, pix[i:i+3], r>>8, g>>8, bl>>8)
					}
				}
			}
		})
	}
}

func TestFit(t *testing.T) {
	tests := []struct {
		w, h, maxW, maxH int
		wantW, wantH     int
	}{
		{100, 50, 200, 200, 100, 50}, // fits: unchanged
		{4000, 3000, 2048, 2048, 2048, 1536},
		{3000, 4000, 768, 768, 576, 768},
		{1000, 10, 100, 100, 100, 1},
	}
	for _, tt := range tests {
		img := image.NewRGBA(image.Rect(0, 0, tt.w, tt.h))
		got := Fit(img, tt.maxW, tt.maxH).Bounds()
		if got.Dx() != tt.wantW || got.Dy() != tt.wantH {
			t.Errorf("Fit(%dx%d, %dx%d) = %dx%d, want %dx%d", tt.w, tt.h, tt.maxW, tt.maxH, got.Dx(), got.Dy(), tt.wantW, tt.wantH)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(f, "png", gradient(4, 4)))
	f.Add(encode(f, "gif", gradient(4, 4)))
	f.Add(encode(f, "bmp", gradient(4, 4)))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		img, _, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrNotImage) {
				t.Fatalf("error %v does not wrap ErrNotImage", err)
			}
			return
		}
		w, h, pix := RGB(img)
		if len(pix) != w*h*3 {
			t.Fatalf("RGB gave %d bytes for %dx%d", len(pix), w, h)
		}
	})
}
