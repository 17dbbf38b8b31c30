package bench

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
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
// and from every other k's (k from 1 to 4095), in their top-left corner, in
// the original's format where that is JPEG (so that a server decodes what it
// would decode for the original; other formats become PNG). A server that
// caches prompts by image content then has to encode every image of a timed
// pass, while the work is the same as for the originals.
//
// PNG keeps every pixel, so the first pixel's red and green values carry k.
// JPEG's quantization could merge close values, so a flat 16×16 block (one
// whole 4:2:0 block) carries k in steps of 4 per channel.
func Variants(reqs []*llm.Request, k int) ([]*llm.Request, error) {
	if k <= 0 || k >= 1<<12 {
		return nil, fmt.Errorf("bench: image variant %d, want 1 to 4095", k)
	}
	out := make([]*llm.Request, len(reqs))
	for i, r := range reqs {
		img, format, err := imagefile.Decode(r.Image)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", r.ID, err)
		}
		b := img.Bounds()
		m := image.NewNRGBA(b)
		draw.Draw(m, b, img, b.Min, draw.Src)
		var buf bytes.Buffer
		if format == "jpeg" {
			mark := color.NRGBA{R: byte(k&63) * 4, G: byte(k>>6) * 4, B: 128, A: 255}
			draw.Draw(m, image.Rect(b.Min.X, b.Min.Y, b.Min.X+16, b.Min.Y+16).Intersect(b), image.NewUniform(mark), image.Point{}, draw.Src)
			err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95})
		} else {
			m.Pix[0] += byte(k)
			if len(m.Pix) > 1 {
				m.Pix[1] += byte(k >> 8)
			}
			err = png.Encode(&buf, m)
		}
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", r.ID, err)
		}
		v := *r
		v.Image, v.ImagePath = buf.Bytes(), ""
		out[i] = &v
	}
	return out, nil
}
