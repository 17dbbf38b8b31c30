package local

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/imageprep"
)

func TestParseImageOptions(t *testing.T) {
	for _, c := range []struct {
		resample, orientation string
		want                  ImageOptions
		err                   string
	}{
		{"", "", ImageOptions{}, ""},
		{"Bilinear", "ignore", ImageOptions{Resample: imageprep.Bilinear, Orientation: imageprep.OrientIgnore}, ""},
		{"llama.cpp", "exif", ImageOptions{Resample: imageprep.LlamaCpp}, ""},
		{"lanczos", "", ImageOptions{}, `resample "lanczos" is not one of bicubic, bilinear, nearest, llama.cpp`},
		{"", "upright", ImageOptions{}, `orientation "upright" is not one of exif, ignore`},
	} {
		got, err := ParseImageOptions(c.resample, c.orientation, "")
		if c.err != "" {
			if err == nil || !isUsage(err) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseImageOptions(%q, %q) = %v, want a usage error %q", c.resample, c.orientation, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseImageOptions(%q, %q) = %+v, %v; want %+v", c.resample, c.orientation, got, err, c.want)
		}
	}
}

// qwen2Preprocessor is Qwen/Qwen2-VL-2B-Instruct's preprocessor_config.json.
const qwen2Preprocessor = `{
  "min_pixels": 3136,
  "max_pixels": 12845056,
  "patch_size": 14,
  "temporal_patch_size": 2,
  "merge_size": 2,
  "image_mean": [0.48145466, 0.4578275, 0.40821073],
  "image_std": [0.26862954, 0.26130258, 0.27577711],
  "image_processor_type": "Qwen2VLImageProcessor",
  "processor_class": "Qwen2VLProcessor"
}`

func writeFile(t testing.TB, name, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadPreprocessor(t *testing.T) {
	p, err := ReadPreprocessor(writeFile(t, "preprocessor_config.json", qwen2Preprocessor), family.Qwen2VL)
	if err != nil {
		t.Fatal(err)
	}
	if p.MinPixels != 3136 || p.MaxPixels != 12845056 || p.Resample != imageprep.Bicubic {
		t.Errorf("read %+v, want 3136..12845056 bicubic", p)
	}
	sized := `{"size": {"shortest_edge": 65536, "longest_edge": 16777216}, "patch_size": 16, "merge_size": 2, "resample": 2,
	  "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}`
	p, err = ReadPreprocessor(writeFile(t, "p.json", sized), family.Qwen3VL)
	if err != nil || p.MinPixels != 65536 || p.MaxPixels != 16777216 || p.Resample != imageprep.Bilinear {
		t.Errorf("size.shortest_edge/longest_edge: %+v, %v; want 65536..16777216 bilinear", p, err)
	}
	for _, c := range []struct{ json, want string }{
		{`{"min_pixels": 3136}`, "has no min_pixels and max_pixels"},
		{`{"min_pixels": 3136, "max_pixels": 100.5}`, "are not whole pixel counts"},
		{`{"min_pixels": 3136, "max_pixels": 802816, "resample": 1}`, "resample 1 is not one vlmcmp has"},
		{`{"min_pixels": 3136, "max_pixels": 802816, "patch_size": 16}`, "patch_size 16 is not the Qwen2-VL projector's 14"},
		{`{"min_pixels": 3136, "max_pixels": 802816, "image_mean": [0.5, 0.5, 0.5]}`, "image_mean [0.5 0.5 0.5] is not the Qwen2-VL projector's"},
		{`{"min_pixels": 3136, "max_pixels": 802816, "do_resize": false}`, "do_resize is false"},
		{`{"min_pixels": 3136, "max_pixels": 802816, "rescale_factor": 0.5}`, "rescale_factor 0.5 is not 1/255"},
		{`not json`, "not a preprocessor_config.json"},
	} {
		path := writeFile(t, "bad.json", c.json)
		_, err := ReadPreprocessor(path, family.Qwen2VL)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ReadPreprocessor(%s) = %v, want one line naming the file and %q", c.json, err, c.want)
		}
	}
}

// TestPlanImages: the preprocessor's bounds replace the family's defaults,
// bounds given in tokens win, and the identity tells every choice apart.
func TestPlanImages(t *testing.T) {
	pre := writeFile(t, "preprocessor_config.json", qwen2Preprocessor)
	fill := func(c Config) Config {
		t.Helper()
		c.ModelFile, c.MmprojFile = "m.gguf", "p.gguf"
		if err := c.check(); err != nil {
			t.Fatal(err)
		}
		if err := c.fill(family.Qwen2VL); err != nil {
			t.Fatal(err)
		}
		return c
	}
	def := fill(Config{})
	if o := def.plan.opts; o.Factor != 28 || o.MinPixels != 4*784 || o.MaxPixels != 1024*784 || o.Resample != imageprep.Bicubic {
		t.Errorf("defaults: %+v, want factor 28, 4..1024 tokens, bicubic", o)
	}
	withPre := fill(Config{Image: ImageOptions{Preprocessor: pre}})
	if o := withPre.plan.opts; o.MinPixels != 3136 || o.MaxPixels != 12845056 || withPre.ImageMaxTokens != 16384 || withPre.ImageMinTokens != 4 {
		t.Errorf("preprocessor: %+v, tokens %d..%d; want 3136..12845056 pixels, 4..16384 tokens", o, withPre.ImageMinTokens, withPre.ImageMaxTokens)
	}
	capped := fill(Config{ImageMaxTokens: 2048, Image: ImageOptions{Preprocessor: pre}})
	if o := capped.plan.opts; o.MaxPixels != 2048*784 || capped.ImageMaxTokens != 2048 || o.MinPixels != 3136 {
		t.Errorf("preprocessor with image max tokens 2048: %+v, want the tokens to win", o)
	}
	ids := map[string]bool{}
	for _, c := range []Config{def, withPre, capped, fill(Config{Image: ImageOptions{Resample: imageprep.Nearest}}),
		fill(Config{Image: ImageOptions{Orientation: imageprep.OrientIgnore}}), fill(Config{Image: ImageOptions{Resample: imageprep.LlamaCpp}})} {
		id := fmt.Sprint(c.ImageIdentity())
		if ids[id] {
			t.Errorf("identity %q given twice", id)
		}
		ids[id] = true
	}
	if id := fmt.Sprint(def.ImageIdentity()); id != "map[orientation:exif resample:bicubic]" {
		t.Errorf("default identity %s", id)
	}
}

// TestImageBudgetNote counts the images scaled below what Hugging Face's
// Qwen2-VL processor keeps by default, and says so once.
func TestImageBudgetNote(t *testing.T) {
	c := Config{ModelFile: "m.gguf", MmprojFile: "p.gguf"}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	if err := c.fill(family.Qwen2VL); err != nil {
		t.Fatal(err)
	}
	p := &Predictor{cfg: c, name: "qwen"}
	pngOf := func(w, h int) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if _, _, note := p.ImageBudgetNote(); note != "" {
		t.Errorf("note before any image: %q", note)
	}
	for _, size := range [][2]int{{1920, 1080}, {640, 480}, {300, 200}} {
		res, err := c.plan.prepareImage(pngOf(size[0], size[1]))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%dx%d -> %dx%d", size[0], size[1], res.Width, res.Height)
	}
	below, seen, note := p.ImageBudgetNote()
	want := "1 of 3 images were scaled below what Hugging Face's Qwen2-VL processor keeps by default (up to 12,845,056 pixels; here 1,024 tokens, 802,816 pixels)"
	if below != 1 || seen != 3 || !strings.HasPrefix(note, want) {
		t.Errorf("ImageBudgetNote() = %d, %d, %q; want 1, 3, %q...", below, seen, note, want)
	}
}
