package bench

import (
	"bytes"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/imagefile"
	"github.com/vlmcmp/vlmcmp/llm/local"
	"github.com/vlmcmp/vlmcmp/usage"
)

// TestSpecCheck: each mistake is a usage error naming what is wrong; a
// server-only spec and a local one pass.
func TestSpecCheck(t *testing.T) {
	ok := func() Spec {
		return Spec{Engine: &local.Config{}, Batch: []int{1}, Repeat: 1, Format: "table",
			Images: Images{Synthetic: 2, SyntheticSize: "64x48", MaxTokens: 4}}
	}
	for _, tc := range []struct {
		edit func(*Spec)
		want string
	}{
		{func(s *Spec) {}, ""},
		{func(s *Spec) { s.Engine, s.Server = nil, ServerOptions{URL: "http://h:1/v1", Concurrency: []int{2}} }, ""},
		{func(s *Spec) { s.Engine = nil }, "no local model and no server"},
		{func(s *Spec) { s.Images.Synthetic = 0 }, "give a folder of images or a number"},
		{func(s *Spec) { s.Images.Dir = "x" }, "not both"},
		{func(s *Spec) { s.Repeat = 0 }, "repeat is 0"},
		{func(s *Spec) { s.Images.MaxTokens = 0 }, "max-tokens is 0"},
		{func(s *Spec) { s.Format = "csv" }, `format "csv"`},
		{func(s *Spec) { s.Batch = nil }, "batch has no size"},
		{func(s *Spec) { s.Server = ServerOptions{URL: "http://h:1/v1"} }, "concurrency has no value"},
		{func(s *Spec) { s.Server = ServerOptions{URL: "h:1", Concurrency: []int{1}} }, "not an http(s) URL"},
		{func(s *Spec) { s.Images.SyntheticSize = "9x9" }, `synthetic-size "9x9"`},
	} {
		s := ok()
		tc.edit(&s)
		err := s.Check()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v, want no error", s, err)
			}
			continue
		}
		if _, ok := usage.Is(err); !ok || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a usage error saying %q", s, err, tc.want)
		}
	}
}

// TestWriteFormats: benchstat lines or the table, with the phases only
// when there are local sizes.
func TestWriteFormats(t *testing.T) {
	rep := &Report{Model: "m.gguf", Images: 2, MaxTokens: 4, Repeat: 1}
	var table, bs bytes.Buffer
	Write(&table, rep, "table")
	Write(&bs, rep, "benchstat")
	if !strings.Contains(table.String(), "model m.gguf, 2 images") || table.String() == bs.String() {
		t.Errorf("table:\n%s\nbenchstat:\n%s", table.String(), bs.String())
	}
}

// TestVariants: each k gives other image bytes than the original and than
// every other k, in the original's format for JPEG (PNG otherwise), the same
// size, and the same pixels outside the top-left corner; after JPEG's
// quantization too, the variants decode to distinct images.
func TestVariants(t *testing.T) {
	reqs, err := Requests(Images{Synthetic: 2, SyntheticSize: "64x48", MaxTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	orig, _, err := imagefile.Decode(reqs[0].Image)
	if err != nil {
		t.Fatal(err)
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, orig, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	jreq := *reqs[0]
	jreq.Image = jb.Bytes()
	for _, tc := range []struct {
		name   string
		req    *llm.Request
		format string
	}{{"png", reqs[0], "png"}, {"jpeg", &jreq, "jpeg"}} {
		t.Run(tc.name, func(t *testing.T) {
			base, _, err := imagefile.Decode(tc.req.Image)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, k := range []int{1, 2, 3, 63, 64, 65, 4095} {
				v, err := Variants([]*llm.Request{tc.req}, k)
				if err != nil {
					t.Fatal(err)
				}
				img, format, err := imagefile.Decode(v[0].Image)
				if err != nil {
					t.Fatal(err)
				}
				_, _, rgb := imagefile.RGB(img)
				if v[0].ID != tc.req.ID || format != tc.format || img.Bounds() != base.Bounds() || seen[string(rgb)] {
					t.Fatalf("variant %d: id %q, %s, %v, pixels seen before: %v; want %q, %s, %v, new pixels",
						k, v[0].ID, format, img.Bounds(), seen[string(rgb)], tc.req.ID, tc.format, base.Bounds())
				}
				seen[string(rgb)] = true
				if tc.format == "png" {
					diff := 0
					b := img.Bounds()
					for y := b.Min.Y; y < b.Max.Y; y++ {
						for x := b.Min.X; x < b.Max.X; x++ {
							if img.At(x, y) != base.At(x, y) {
								diff++
							}
						}
					}
					if diff != 1 {
						t.Errorf("variant %d: %d pixels differ from the original, want 1", k, diff)
					}
				}
			}
		})
	}
	for _, k := range []int{0, 4096} {
		if _, err := Variants(reqs, k); err == nil {
			t.Errorf("variant %d: no error", k)
		}
	}
}
