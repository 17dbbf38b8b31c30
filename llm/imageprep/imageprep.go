// Package imageprep turns an image file into the RGB pixels a Qwen-VL
// vision encoder gets, as Hugging Face transformers prepares them for
// training, so that a fine-tuned model sees at inference what it saw in
// training:
//
//  1. decode: JPEG with libjpeg-turbo under Pillow's settings (package
//     native; Go's image/jpeg in a build without llama.cpp), PNG, GIF, BMP
//     and WebP with Go's decoders;
//  2. EXIF orientation, all eight (PIL.ImageOps.exif_transpose);
//  3. RGB as transformers' convert_to_rgb makes it: an image with alpha
//     (RGBA, LA, a palette or grayscale with transparency) is composited on
//     white with Pillow's alpha_composite; 16-bit samples and CMYK are
//     converted as Pillow converts them;
//  4. smart_resize's size ([SmartResize]) for the family's factor and the
//     pixel bounds of the image-token budget;
//  5. Pillow's resize ([Resize]), BICUBIC by default.
//
// The result goes to mtmd at its final size: mtmd then only copies it (its
// own size computation keeps a size smart_resize made within its bounds).
package imageprep

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"strings"

	"github.com/vlmcmp/vlmcmp/llm/imagefile"
	"github.com/vlmcmp/vlmcmp/native"
)

// RGB is an image as packed 8-bit RGB rows, 3 bytes a pixel, no padding:
// the layout mtmd_bitmap_init takes.
type RGB struct {
	Width, Height int
	Pix           []byte
}

// Orientation says whether the EXIF orientation is applied.
type Orientation int

const (
	// OrientEXIF turns the image upright by its EXIF orientation, as
	// transformers' load_image does.
	OrientEXIF Orientation = iota
	// OrientIgnore takes the stored pixels as they are.
	OrientIgnore
)

func (o Orientation) String() string {
	if o == OrientIgnore {
		return "ignore"
	}
	return "exif"
}

// ParseOrientation reads exif (also "") or ignore.
func ParseOrientation(s string) (Orientation, error) {
	switch strings.ToLower(s) {
	case "", "exif":
		return OrientEXIF, nil
	case "ignore":
		return OrientIgnore, nil
	}
	return 0, fmt.Errorf("orientation %q is not one of exif, ignore", s)
}

// Options configures Prepare.
type Options struct {
	Resample    Resample
	Orientation Orientation
	// Factor is smart_resize's factor: the patch size times the merge size
	// (28 for Qwen2-VL and Qwen2.5-VL, 32 for Qwen3-VL).
	Factor int
	// MinPixels and MaxPixels bound the resized area: the image-token
	// bounds times the pixels of one token (Factor²).
	MinPixels, MaxPixels int
}

// Result is a prepared image.
type Result struct {
	// RGB is what the encoder gets: at smart_resize's size, or, with
	// Resample LlamaCpp, upright at the file's size for mtmd to resize.
	RGB
	// SourceWidth and SourceHeight are the upright image's size before
	// resizing.
	SourceWidth, SourceHeight int
	// Orientation is the EXIF orientation applied (1: none).
	Orientation int
	// Format is the file's format ("jpeg", "png", ...); Decoder the
	// decoder that read it.
	Format, Decoder string
}

// Prepare decodes an encoded image and makes it what the encoder gets
// under o. Errors wrap imagefile.ErrNotImage for data that is not a usable
// image and name no file.
func Prepare(data []byte, o Options) (*Result, error) {
	src, res, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if o.Orientation == OrientEXIF {
		res.Orientation = imagefile.Orientation(data)
		src = Orient(src, res.Orientation)
	} else {
		res.Orientation = 1
	}
	res.SourceWidth, res.SourceHeight = src.Width, src.Height
	if o.Resample == LlamaCpp {
		res.RGB = src
		return res, nil
	}
	h, w, err := SmartResize(src.Height, src.Width, o.Factor, o.MinPixels, o.MaxPixels)
	if err != nil {
		return nil, fmt.Errorf("%w: %dx%d image: %v", imagefile.ErrNotImage, src.Width, src.Height, err)
	}
	if a := w * h; a < o.MinPixels || a > o.MaxPixels {
		f2 := o.Factor * o.Factor
		return nil, fmt.Errorf("%w: smart_resize turns the %dx%d image into %dx%d (%d tokens), outside the image token bounds %d..%d: widen them, or use resample llama.cpp",
			imagefile.ErrNotImage, src.Width, src.Height, w, h, a/f2, o.MinPixels/f2, o.MaxPixels/f2)
	}
	res.RGB = Resize(src, w, h, o.Resample)
	return res, nil
}

// Decode decodes an encoded image to RGB as transformers' convert_to_rgb
// makes it (see the package comment), without orientation or resizing.
func Decode(data []byte) (RGB, *Result, error) {
	if len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF {
		// The header's size first, as imagefile.Decode checks it.
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(data)); err == nil && int64(cfg.Width)*int64(cfg.Height) > imagefile.MaxPixels {
			return RGB{}, nil, fmt.Errorf("%w: jpeg image of %dx%d is over %d pixels", imagefile.ErrNotImage, cfg.Width, cfg.Height, imagefile.MaxPixels)
		}
		j, err := native.DecodeJPEG(data, imagefile.MaxPixels)
		if err != nil {
			return RGB{}, nil, fmt.Errorf("%w: corrupt or truncated jpeg: %s", imagefile.ErrNotImage, strings.TrimPrefix(err.Error(), "jpeg: "))
		}
		return jpegRGB(j), &Result{Format: "jpeg", Decoder: native.JPEGDecoder}, nil
	}
	img, format, err := imagefile.Decode(data)
	if err != nil {
		return RGB{}, nil, err
	}
	res := &Result{Format: format, Decoder: "Go image/" + format}
	if format == "webp" || format == "bmp" {
		res.Decoder = "golang.org/x/image/" + format
	}
	return flatten(img, pngInfo(data)), res, nil
}

// jpegRGB converts a decoded JPEG as Pillow does: gray and RGB as they
// are; CMYK read as "CMYK;I" (Adobe's inverted inks), then cmyk2rgb
// (libImaging/Convert.c: nk = 255-k, c' = nk - c·nk/255 rounded).
func jpegRGB(j native.JPEGImage) RGB {
	n := j.Width * j.Height
	out := RGB{Width: j.Width, Height: j.Height, Pix: make([]byte, n*3)}
	switch j.Components {
	case 1:
		for i, v := range j.Pix[:n] {
			out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = v, v, v
		}
	case 3:
		copy(out.Pix, j.Pix)
	case 4:
		for i := range n {
			p := j.Pix[4*i : 4*i+4]
			nk := 255 - int(255-p[3])
			for c := range 3 {
				out.Pix[3*i+c] = clamp8(nk - mulDiv255(int(255-p[c]), nk))
			}
		}
	}
	return out
}

// mulDiv255 is Pillow's MULDIV255: a·b/255 rounded, in integers.
func mulDiv255(a, b int) int {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

func clamp8(v int) byte {
	return byte(min(max(v, 0), 255))
}

// pngColor is a PNG's colour type and bit depth (IHDR), and whether it has
// a tRNS chunk; zero for other formats.
type pngColor struct {
	ctype, depth byte
	trns         bool
}

// pngInfo reads a PNG's IHDR and looks for tRNS before the image data.
func pngInfo(data []byte) pngColor {
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) || len(data) < 33 {
		return pngColor{}
	}
	pc := pngColor{depth: data[24], ctype: data[25]}
	for i := 8; i+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if typ == "tRNS" {
			pc.trns = true
		}
		if typ == "IDAT" || n < 0 || n > len(data)-i-12 {
			break
		}
		i += 12 + n
	}
	return pc
}

// onWhite[a][v] is channel value v at alpha a composited on opaque white by
// Pillow's ImagingAlphaComposite (libImaging/AlphaComposite.c, 7 bits of
// precision, rounded divisions by 255).
var onWhite = func() *[256][256]byte {
	var t [256][256]byte
	const bits = 7
	shiftDiv255 := func(a uint32) uint32 { return ((a >> 8) + a) >> 8 }
	for a := range 256 {
		for v := range 256 {
			if a == 0 {
				t[a][v] = 255
				continue
			}
			sa := uint32(a)
			blend := 255 * (255 - sa)
			outa255 := sa*255 + blend
			coef1 := sa * 255 * 255 * (1 << bits) / outa255
			coef2 := 255*(1<<bits) - coef1
			tmp := uint32(v)*coef1 + 255*coef2
			t[a][v] = byte(shiftDiv255(tmp+(0x80<<bits)) >> bits)
		}
	}
	return &t
}()

// flatten converts a decoded image to RGB as Pillow's modes convert, then
// transformers' convert_to_rgb: mode RGB (an RGB PNG, even with a tRNS
// colour) stays as it is; any other mode goes to RGBA and is composited
// on white. 16-bit samples become 8-bit as Pillow unpacks them (the high
// byte), except 16-bit grayscale, which Pillow holds as mode I and clips to
// 0..255 when it converts.
func flatten(img image.Image, pc pngColor) RGB {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := RGB{Width: w, Height: h, Pix: make([]byte, 0, w*h*3)}
	put := func(r, g, bl, a byte) {
		t := &onWhite[a]
		out.Pix = append(out.Pix, t[r], t[g], t[bl])
	}
	switch m := img.(type) {
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for _, v := range m.Pix[m.PixOffset(b.Min.X, y):][:w] {
				out.Pix = append(out.Pix, v, v, v)
			}
		}
		return out
	case *image.Gray16:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):][:2*w]
			for x := range w {
				v := byte(min(int(row[2*x])<<8|int(row[2*x+1]), 255))
				out.Pix = append(out.Pix, v, v, v)
			}
		}
		return out
	case *image.RGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):][:4*w]
			for x := range w {
				if a := row[4*x+3]; a != 255 { // premultiplied: from a BMP with alpha
					c := color.NRGBAModel.Convert(color.RGBA{row[4*x], row[4*x+1], row[4*x+2], a}).(color.NRGBA)
					put(c.R, c.G, c.B, c.A)
					continue
				}
				out.Pix = append(out.Pix, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
		return out
	case *image.RGBA64:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):][:8*w]
			for x := range w {
				out.Pix = append(out.Pix, row[8*x], row[8*x+2], row[8*x+4])
			}
		}
		return out
	case *image.NRGBA:
		rgbKey := pc.ctype == 2 // mode RGB with a tRNS colour: kept as RGB
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):][:4*w]
			for x := range w {
				p := row[4*x : 4*x+4]
				if rgbKey {
					out.Pix = append(out.Pix, p[0], p[1], p[2])
				} else {
					put(p[0], p[1], p[2], p[3])
				}
			}
		}
		return out
	case *image.NRGBA64:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):][:8*w]
			for x := range w {
				p := row[8*x : 8*x+8]
				switch {
				case pc.ctype == 2:
					out.Pix = append(out.Pix, p[0], p[2], p[4])
				case pc.ctype == 0: // 16-bit gray with a tRNS value: mode I, clipped
					v := byte(min(int(p[0])<<8|int(p[1]), 255))
					put(v, v, v, p[6])
				default:
					put(p[0], p[2], p[4], p[6])
				}
			}
		}
		return out
	case *image.Paletted:
		pal := make([]color.NRGBA, 256)
		for i, c := range m.Palette {
			pal[i] = color.NRGBAModel.Convert(c).(color.NRGBA)
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for _, i := range m.Pix[m.PixOffset(b.Min.X, y):][:w] {
				c := pal[i]
				put(c.R, c.G, c.B, c.A)
			}
		}
		return out
	}
	// YCbCr (lossy WebP), NYCbCrA and the rest: through NRGBA.
	n := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(n, n.Rect, img, b.Min, draw.Src)
	for i := 0; i < len(n.Pix); i += 4 {
		put(n.Pix[i], n.Pix[i+1], n.Pix[i+2], n.Pix[i+3])
	}
	return out
}

// Orient returns src turned by EXIF orientation o as Pillow's
// Image.transpose does in exif_transpose: 2 mirror, 3 rotate 180°, 4 flip,
// 5 transpose, 6 rotate 90° clockwise, 7 transverse, 8 rotate 90°
// counter-clockwise. Any other o returns src.
func Orient(src RGB, o int) RGB {
	if o < 2 || o > 8 {
		return src
	}
	W, H := src.Width, src.Height
	w, h := W, H
	if o >= 5 {
		w, h = H, W
	}
	// at(x, y) is the source pixel for output (x, y).
	var at func(x, y int) (int, int)
	switch o {
	case 2:
		at = func(x, y int) (int, int) { return W - 1 - x, y }
	case 3:
		at = func(x, y int) (int, int) { return W - 1 - x, H - 1 - y }
	case 4:
		at = func(x, y int) (int, int) { return x, H - 1 - y }
	case 5:
		at = func(x, y int) (int, int) { return y, x }
	case 6:
		at = func(x, y int) (int, int) { return y, H - 1 - x }
	case 7:
		at = func(x, y int) (int, int) { return W - 1 - y, H - 1 - x }
	case 8:
		at = func(x, y int) (int, int) { return W - 1 - y, x }
	}
	out := RGB{Width: w, Height: h, Pix: make([]byte, w*h*3)}
	for y := range h {
		for x := range w {
			sx, sy := at(x, y)
			copy(out.Pix[(y*w+x)*3:][:3], src.Pix[(sy*W+sx)*3:][:3])
		}
	}
	return out
}
