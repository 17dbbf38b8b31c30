package bench

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/demo"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/imagefile"
)

// Requests makes one request per image: the files of opts.Dir, or
// opts.Synthetic synthetic images.
func Requests(opts Images) ([]*llm.Request, error) {
	var reqs []*llm.Request
	add := func(id string, data []byte) {
		reqs = append(reqs, &llm.Request{ID: id, ImagePath: id, Image: data, Prompt: opts.Prompt,
			Options: llm.Options{MaxTokens: opts.MaxTokens}})
	}
	if opts.Dir != "" {
		entries, err := os.ReadDir(opts.Dir)
		if err != nil {
			return nil, fmt.Errorf("images: %w", err)
		}
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp":
			default:
				continue
			}
			path := filepath.Join(opts.Dir, e.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read image: %w", err)
			}
			add(path, data)
		}
		if len(reqs) == 0 {
			return nil, fmt.Errorf("images: %s holds no JPEG, PNG, WebP, GIF or BMP file", opts.Dir)
		}
		return reqs, nil
	}
	w, h, err := ParseSize(opts.SyntheticSize)
	if err != nil {
		return nil, err
	}
	for i, data := range SyntheticImages(opts.Synthetic, opts.Seed, w, h) {
		add(fmt.Sprintf("synthetic-%03d.png", i+1), data)
	}
	return reqs, nil
}

// SyntheticImages draws n street-like scenes (eval/demo's painter) at w×h
// and encodes them as PNG. The same seed gives the same images.
func SyntheticImages(n int, seed uint64, w, h int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 0x62656e6368))
	out := make([][]byte, n)
	for i := range out {
		sc := demo.Scene{
			Daylight: r.Float64(), Lights: r.IntN(6), Greenery: r.Float64(),
			RoadWidth: 0.2 + 0.4*r.Float64(), Clutter: r.Float64() * r.Float64(),
			Windows: r.Float64(), BuildingsH: 0.3 + 0.5*r.Float64(),
		}
		img := imagefile.Resize(demo.Draw(sc, r.Uint64()), w, h)
		var b bytes.Buffer
		_ = png.Encode(&b, img) // encoding an in-memory RGBA cannot fail
		out[i] = b.Bytes()
	}
	return out
}

// ParseSize reads a synthetic image size, WxH between 28x28 and 8192x8192.
func ParseSize(s string) (w, h int, err error) {
	if _, err := fmt.Sscanf(s, "%dx%d", &w, &h); err != nil || w < 28 || h < 28 || w > 8192 || h > 8192 {
		return 0, 0, fmt.Errorf("synthetic size %q is not WxH between 28x28 and 8192x8192", s)
	}
	return w, h, nil
}

// Variants returns a copy of reqs whose images differ from the originals,
// and from every other k's, in one pixel (k > 0; k up to 65535): the first
// pixel's red value is moved by k's low byte and the second's by its high
// byte, and the image is re-encoded as PNG. A server that caches prompts
// by image content then has to encode every image of a timed pass, while
// the work is the same as for the originals.
func Variants(reqs []*llm.Request, k int) ([]*llm.Request, error) {
	if k <= 0 || k > 0xffff {
		return nil, fmt.Errorf("bench: image variant %d, want 1 to 65535", k)
	}
	out := make([]*llm.Request, len(reqs))
	for i, r := range reqs {
		img, _, err := imagefile.Decode(r.Image)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", r.ID, err)
		}
		b := img.Bounds()
		m := image.NewNRGBA(b)
		draw.Draw(m, b, img, b.Min, draw.Src)
		m.Pix[0] += byte(k)
		if len(m.Pix) > 4 {
			m.Pix[4] += byte(k >> 8)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, m); err != nil {
			return nil, fmt.Errorf("image %s: %w", r.ID, err)
		}
		v := *r
		v.Image, v.ImagePath = buf.Bytes(), ""
		out[i] = &v
	}
	return out, nil
}
