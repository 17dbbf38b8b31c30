package imageprep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/imagefile"
	"github.com/vlmcmp/vlmcmp/native"
)

// goldens is testdata/goldens/goldens.json, written by
// testdata/make_goldens.py with Pillow.
type goldens struct {
	Pillow string `json:"pillow"`
	Cases  []struct {
		Name, Input, Resample, Orientation, Want, Error string
		Factor                                          int
		MinPixels                                       int `json:"min_pixels"`
		MaxPixels                                       int `json:"max_pixels"`
		Width, Height                                   int
	} `json:"cases"`
	SmartResize [][7]int `json:"smart_resize"`
}

func loadGoldens(t testing.TB) goldens {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "goldens", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldens
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// exactJPEG says whether this build decodes JPEG as Pillow does.
var exactJPEG = native.JPEGDecoder == "libjpeg-turbo"

// TestGoldens runs the whole pipeline on every case the script wrote and
// wants Pillow's pixels exactly (max difference 0). JPEG cases need the
// libjpeg-turbo decoder (-tags llamacpp); without it they only check size.
func TestGoldens(t *testing.T) {
	g := loadGoldens(t)
	if len(g.Cases) < 40 {
		t.Fatalf("%d golden cases, want 40 or more", len(g.Cases))
	}
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "goldens", c.Input))
			if err != nil {
				t.Fatal(err)
			}
			rs, err := ParseResample(c.Resample)
			if err != nil {
				t.Fatal(err)
			}
			or, err := ParseOrientation(c.Orientation)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Prepare(data, Options{Resample: rs, Orientation: or, Factor: c.Factor, MinPixels: c.MinPixels, MaxPixels: c.MaxPixels})
			if c.Error != "" {
				if err == nil || !errors.Is(err, imagefile.ErrNotImage) || !strings.Contains(err.Error(), "aspect ratio") {
					t.Fatalf("Prepare(%s) = %v, want an aspect-ratio error as transformers' %q", c.Input, err, c.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("Prepare(%s): %v", c.Input, err)
			}
			if got.Width != c.Width || got.Height != c.Height {
				t.Fatalf("Prepare(%s) is %dx%d, want %dx%d", c.Input, got.Width, got.Height, c.Width, c.Height)
			}
			if strings.HasSuffix(c.Input, ".jpg") && !exactJPEG {
				t.Skipf("size matches; pixels need libjpeg-turbo (build with -tags llamacpp; this build decodes with %s)", native.JPEGDecoder)
			}
			want := readRGB(t, filepath.Join("testdata", "goldens", c.Want))
			if d, at := maxDiff(got.RGB, want); d != 0 {
				t.Errorf("Prepare(%s): max difference from Pillow %s is %d, at %s; want 0", c.Input, g.Pillow, d, at)
			}
		})
	}
}

// TestSmartResizeGoldens compares SmartResize with the script's Python
// smart_resize over sizes, factors and bounds (-1: transformers raises).
func TestSmartResizeGoldens(t *testing.T) {
	g := loadGoldens(t)
	for _, s := range g.SmartResize {
		h, w, f, mn, mx := s[0], s[1], s[2], s[3], s[4]
		gh, gw, err := SmartResize(h, w, f, mn, mx)
		if err != nil {
			gh, gw = -1, -1
		}
		if gh != s[5] || gw != s[6] {
			t.Errorf("SmartResize(h %d, w %d, factor %d, %d..%d) = %dx%d, want %dx%d (h×w)", h, w, f, mn, mx, gh, gw, s[5], s[6])
		}
	}
}

// readRGB reads an 8-bit RGB PNG.
func readRGB(t testing.TB, path string) RGB {
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
		t.Fatalf("%s decodes to %T, want an RGB PNG", path, img)
	}
	out := RGB{Width: m.Rect.Dx(), Height: m.Rect.Dy()}
	for i := 0; i < len(m.Pix); i += 4 {
		out.Pix = append(out.Pix, m.Pix[i], m.Pix[i+1], m.Pix[i+2])
	}
	return out
}

// maxDiff is the largest difference of one channel between a and b, and
// where it is.
func maxDiff(a, b RGB) (int, string) {
	if a.Width != b.Width || a.Height != b.Height {
		return 256, fmt.Sprintf("sizes %dx%d and %dx%d", a.Width, a.Height, b.Width, b.Height)
	}
	d, at := 0, ""
	for i := range a.Pix {
		if v := int(a.Pix[i]) - int(b.Pix[i]); max(v, -v) > d {
			d = max(v, -v)
			p := i / 3
			at = fmt.Sprintf("x %d y %d channel %d (%d, want %d)", p%a.Width, p/a.Width, i%3, a.Pix[i], b.Pix[i])
		}
	}
	return d, at
}
