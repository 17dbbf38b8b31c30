// Package imagefile reads the images vlmcmp scores: it decodes JPEG, PNG,
// WebP, GIF and BMP in Go, names the file and the problem when an image cannot
// be used, converts to the packed RGB that llama.cpp's mtmd takes, and scales
// images down.
package imagefile

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // register GIF
	_ "image/jpeg"
	_ "image/png"
	"os"

	xdraw "golang.org/x/image/draw"

	_ "golang.org/x/image/bmp" // register BMP
	_ "golang.org/x/image/webp"
)

// ErrNotImage is wrapped by errors for data that is not a supported image.
var ErrNotImage = errors.New("not a supported image")

// MaxPixels bounds the decoded size; larger images are refused before their
// pixels are allocated (a 100-megapixel RGBA image is 400 MB).
const MaxPixels = 100_000_000

// Read reads and decodes the image file at path. Errors name the file.
func Read(path string) (image.Image, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read image: %w", err)
	}
	img, _, err := Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("image %s: %w", path, err)
	}
	return img, data, nil
}

// Decode decodes an encoded image and returns it with its format name
// ("jpeg", "png", "webp", "gif", "bmp"). The error says what the data is when
// it can tell (empty, audio, text) and does not name a file.
func Decode(data []byte) (image.Image, string, error) {
	if len(data) == 0 {
		return nil, "", fmt.Errorf("%w: the file is empty", ErrNotImage)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if kind := sniffNonImage(data); kind != "" {
			return nil, "", fmt.Errorf("%w: it is %s", ErrNotImage, kind)
		}
		return nil, "", fmt.Errorf("%w: %v", ErrNotImage, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", fmt.Errorf("%w: %s image has size %dx%d", ErrNotImage, format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, "", fmt.Errorf("%w: %s image of %dx%d is over %d pixels", ErrNotImage, format, cfg.Width, cfg.Height, MaxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("%w: corrupt or truncated %s: %v", ErrNotImage, format, err)
	}
	return img, format, nil
}

// sniffNonImage names common non-image contents, for clearer errors.
func sniffNonImage(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("RIFF")) && len(b) >= 12 && string(b[8:12]) == "WAVE":
		return "WAV audio, and vlmcmp scores images only"
	case bytes.HasPrefix(b, []byte("ID3")), len(b) >= 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0:
		return "MP3 audio, and vlmcmp scores images only"
	case bytes.HasPrefix(b, []byte("fLaC")):
		return "FLAC audio, and vlmcmp scores images only"
	case bytes.HasPrefix(b, []byte("OggS")):
		return "Ogg audio, and vlmcmp scores images only"
	case bytes.HasPrefix(b, []byte("GGUF")):
		return "a GGUF model file"
	case bytes.HasPrefix(b, []byte("%PDF")):
		return "a PDF document"
	}
	text := true
	n := min(len(b), 512)
	for _, c := range b[:n] {
		if c < 0x09 || (c > 0x0d && c < 0x20) {
			text = false
			break
		}
	}
	if text {
		return "text"
	}
	return ""
}

// RGB returns img's pixels as packed 8-bit RGB rows (3 bytes a pixel, no
// padding), the layout mtmd_bitmap_init takes. Alpha is dropped.
func RGB(img image.Image) (width, height int, pix []byte) {
	b := img.Bounds()
	width, height = b.Dx(), b.Dy()
	rgba, ok := img.(*image.RGBA)
	if !ok || rgba.Rect.Min != (image.Point{}) {
		rgba = image.NewRGBA(image.Rect(0, 0, width, height))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
	}
	pix = make([]byte, 0, width*height*3)
	for y := 0; y < height; y++ {
		row := rgba.Pix[y*rgba.Stride : y*rgba.Stride+width*4]
		for x := 0; x < width*4; x += 4 {
			pix = append(pix, row[x], row[x+1], row[x+2])
		}
	}
	return width, height, pix
}

// Fit scales img down, keeping its aspect ratio, so that it fits within
// maxW×maxH. It returns img itself when it already fits. Scaling uses a
// Catmull-Rom kernel.
func Fit(img image.Image, maxW, maxH int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= maxW && h <= maxH {
		return img
	}
	scale := min(float64(maxW)/float64(w), float64(maxH)/float64(h))
	return Resize(img, max(1, int(float64(w)*scale+0.5)), max(1, int(float64(h)*scale+0.5)))
}

// Resize scales img to exactly w×h with a Catmull-Rom kernel.
func Resize(img image.Image, w, h int) image.Image {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Rect, img, img.Bounds(), xdraw.Src, nil)
	return dst
}

// Check says whether the encoded image data can be scored: the one rule that
// every step deciding about an image uses (vlmcmp prepare and vlmcmp compare
// through package eval/dataset, the backends through [Decode]). It decodes
// the whole image, since a truncated file is only found by decoding its
// pixels, after refusing, from the header alone, one over [MaxPixels] (a
// decompression bomb). The error wraps [ErrNotImage] and names no file.
func Check(data []byte) error {
	_, _, err := Decode(data)
	return err
}
