//go:build !llamacpp

package native

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
)

// JPEGDecoder names the decoder DecodeJPEG uses in this build: Go's
// image/jpeg, whose pixels differ from Pillow's (libjpeg-turbo) by a few
// levels, more at sharp colour edges in 4:2:0 files. Build with llama.cpp
// (make) for libjpeg-turbo.
const JPEGDecoder = "image/jpeg (not Pillow-exact: built without llama.cpp)"

// DecodeJPEG decodes a JPEG with Go's image/jpeg into the layout of the
// cgo build (see JPEGDecoder for how its pixels differ).
func DecodeJPEG(data []byte, maxPixels int) (JPEGImage, error) {
	if len(data) == 0 {
		return JPEGImage{}, errors.New("empty JPEG data")
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return JPEGImage{}, fmt.Errorf("jpeg: %w", err)
	}
	if maxPixels > 0 && int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return JPEGImage{}, fmt.Errorf("jpeg of %dx%d is over %d pixels", cfg.Width, cfg.Height, maxPixels)
	}
	src, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return JPEGImage{}, fmt.Errorf("jpeg: %w", err)
	}
	b := src.Bounds()
	out := JPEGImage{Width: b.Dx(), Height: b.Dy()}
	switch m := src.(type) {
	case *image.Gray:
		out.Components = 1
		out.Pix = make([]byte, 0, out.Width*out.Height)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			out.Pix = append(out.Pix, m.Pix[m.PixOffset(b.Min.X, y):][:out.Width]...)
		}
	case *image.CMYK:
		// Back to the stored (Adobe-inverted) values the cgo build returns.
		out.Components = 4
		out.Pix = make([]byte, 0, out.Width*out.Height*4)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for _, v := range m.Pix[m.PixOffset(b.Min.X, y):][:out.Width*4] {
				out.Pix = append(out.Pix, 255-v)
			}
		}
	default:
		out.Components = 3
		out.Pix = make([]byte, 0, out.Width*out.Height*3)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.RGBAModel.Convert(src.At(x, y)).(color.RGBA)
				out.Pix = append(out.Pix, c.R, c.G, c.B)
			}
		}
	}
	return out, nil
}
