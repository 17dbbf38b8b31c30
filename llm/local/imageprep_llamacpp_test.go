//go:build llamacpp

package local

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/imagefile"
	"github.com/vlmcmp/vlmcmp/llm/imageprep"
)

// goldens is imageprep's Pillow goldens: test images, and for each case the
// RGB pixels transformers' processor gives the encoder (made by Pillow).
const goldens = "../imageprep/testdata/goldens"

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldens, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPredictSeesTheReferencePicture: predict on a rotated (EXIF), CMYK,
// transparent or odd-sized file answers exactly as the same model given
// Pillow's picture of it (transformers' pipeline, already at its target
// size, so that nothing resizes it). With llama.cpp's resampling and the
// orientation ignored, the rotated and odd-sized files answer otherwise,
// so the answers do depend on those pixels.
func TestPredictSeesTheReferencePicture(t *testing.T) {
	cases := []struct{ name, file, want string }{
		{"rotated 90° (EXIF 6)", "orient6.jpg", "orient6_q2.want.png"},
		{"transverse (EXIF 7)", "orient7.jpg", "orient7_q2.want.png"},
		{"CMYK JPEG", "cmyk.jpg", "cmyk_jpg_q2.want.png"},
		{"RGBA on white", "rgba.png", "rgba_png_q2.want.png"},
		{"palette with transparency", "p_trns.png", "p_trns_png_q2.want.png"},
		{"odd size, round half to even", "half28.png", "half28_png_q2.want.png"},
	}
	cfg := tinyConfig(t, 1)
	p := newTiny(t, cfg)
	mtmd := cfg
	mtmd.Image = ImageOptions{Resample: imageprep.LlamaCpp, Orientation: imageprep.OrientIgnore}
	pm := newTiny(t, mtmd)
	answer := func(p *Predictor, name string, data []byte) string {
		t.Helper()
		pred, err := p.Predict(t.Context(), &llm.Request{ID: name, Image: data, Prompt: llm.DefaultPrompt})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return pred.Text
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := answer(p, c.file, readGolden(t, c.file))
			want := answer(p, c.want, readGolden(t, c.want))
			if got != want {
				t.Errorf("%s answers %q, Pillow's picture of it %q", c.file, got, want)
			}
			t.Logf("%s: %q", c.file, got)
			if c.file == "orient6.jpg" || c.file == "half28.png" {
				if other := answer(pm, c.file, readGolden(t, c.file)); other == want {
					t.Errorf("%s with resample llama.cpp and orientation ignored answers %q too: the test cannot tell", c.file, other)
				}
			}
		})
	}
}

// TestPredictBadImages: a truncated JPEG and a decompression bomb get one
// sentence naming the file, and no crash; a JPEG whose EXIF block lies
// (offsets past its end, a count beyond it) is scored as stored.
func TestPredictBadImages(t *testing.T) {
	p := newTiny(t, tinyConfig(t, 1))
	jpg := readGolden(t, "orient1.jpg")
	bomb := readGolden(t, "p420.jpg")
	bomb = append([]byte(nil), bomb...)
	sof := strings.Index(string(bomb), "\xff\xc0")
	binary.BigEndian.PutUint16(bomb[sof+5:], 60000) // height
	binary.BigEndian.PutUint16(bomb[sof+7:], 60000) // width
	pngBomb := append([]byte(nil), readGolden(t, "l.png")...)
	binary.BigEndian.PutUint32(pngBomb[16:], 50000)
	binary.BigEndian.PutUint32(pngBomb[20:], 50000)
	binary.BigEndian.PutUint32(pngBomb[29:], crc32.ChecksumIEEE(pngBomb[12:29]))
	for _, c := range []struct{ name, want string }{
		{"truncated.jpg", "corrupt or truncated jpeg"},
		{"bomb.jpg", "over 100000000 pixels"},
		{"bomb.png", "over 100000000 pixels"},
	} {
		data := map[string][]byte{"truncated.jpg": jpg[:len(jpg)/2], "bomb.jpg": bomb, "bomb.png": pngBomb}[c.name]
		_, err := p.Predict(t.Context(), &llm.Request{ID: c.name, ImagePath: c.name, Image: data, Prompt: "Rate."})
		if err == nil || !errors.Is(err, imagefile.ErrNotImage) || !strings.Contains(err.Error(), c.name) ||
			!strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line naming the file and %q", c.name, err, c.want)
		}
		t.Logf("%s: %v", c.name, err)
	}
	liar := lyingEXIF(t, readGolden(t, "orient1.jpg"))
	if imagefile.Orientation(liar) != 1 {
		t.Fatal("lying EXIF read as an orientation")
	}
	got, err := p.Predict(t.Context(), &llm.Request{ID: "liar", Image: liar, Prompt: "Rate."})
	if err != nil {
		t.Fatalf("lying EXIF: %v", err)
	}
	want, err := p.Predict(t.Context(), &llm.Request{ID: "honest", Image: readGolden(t, "orient1.jpg"), Prompt: "Rate."})
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != want.Text {
		t.Errorf("lying EXIF answers %q, the same pixels with an honest one %q", got.Text, want.Text)
	}
}

// lyingEXIF rewrites the EXIF block of a JPEG so that its first IFD is
// said to hold 65535 entries from an offset past the block's end.
func lyingEXIF(t testing.TB, jpg []byte) []byte {
	t.Helper()
	out := append([]byte(nil), jpg...)
	i := strings.Index(string(out), "Exif\x00\x00")
	if i < 0 {
		t.Fatal("no EXIF block")
	}
	tiff := out[i+6:]
	var bo binary.ByteOrder = binary.BigEndian
	if string(tiff[:2]) == "II" {
		bo = binary.LittleEndian
	}
	off := bo.Uint32(tiff[4:])
	bo.PutUint16(tiff[off:], 0xFFFF) // entry count past the end
	bo.PutUint32(tiff[4:], 0xFFFFFF00)
	return out
}
