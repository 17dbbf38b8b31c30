package openaiclient

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"

	"github.com/vlmcmp/vlmcmp/llm/imagefile"
)

// Image detail levels of the chat API.
const (
	DetailLow  = "low"
	DetailHigh = "high"
	DetailAuto = "auto"
)

// ValidDetail reports whether d is a detail level the API accepts.
func ValidDetail(d string) bool {
	return d == DetailLow || d == DetailHigh || d == DetailAuto
}

// TargetSize is the size at which the API looks at a w×h image for a detail
// level: low detail fits within 512×512; high and auto fit within 2048×2048
// and then scale the short side down to 768 (OpenAI vision guide,
// "calculating costs"). Images are never scaled up.
func TargetSize(detail string, w, h int) (int, int) {
	fw, fh := float64(w), float64(h)
	scale := 1.0
	if detail == DetailLow {
		scale = math.Min(1, 512/math.Max(fw, fh))
	} else {
		scale = math.Min(1, 2048/math.Max(fw, fh))
		if short := math.Min(fw, fh) * scale; short > 768 {
			scale *= 768 / short
		}
	}
	if scale >= 1 {
		return w, h
	}
	return max(1, int(fw*scale+0.5)), max(1, int(fh*scale+0.5))
}

// EncodedImage is an image ready to send.
type EncodedImage struct {
	DataURL       string // data:image/...;base64,...
	Width, Height int    // pixels sent
	Bytes         int    // encoded size
	Scaled        bool   // the image was scaled down (and re-encoded as JPEG)
	Upright       bool   // the image was turned upright by its EXIF orientation (and re-encoded)
}

// EncodeImage decodes data and returns it as a data URL at the size the API
// would use for detail, so that nothing is sent that the model would not
// see. Images already small enough are sent as they are when their format is
// one the API takes (JPEG, PNG, WebP, GIF); others are re-encoded as JPEG
// (quality 90). A photo with an EXIF orientation other than 1 is turned
// upright first and re-encoded (PNG as PNG, others as JPEG), as the local
// models and the raters see it.
func EncodeImage(data []byte, detail string) (*EncodedImage, error) {
	img, format, err := imagefile.Decode(data)
	if err != nil {
		return nil, err
	}
	return encodeDecoded(data, img, format, detail)
}

// encodeDecoded is EncodeImage of data already decoded as img (format).
func encodeDecoded(data []byte, img image.Image, format, detail string) (*EncodedImage, error) {
	// A photo whose EXIF orientation turns it is sent upright, re-encoded
	// (as PNG when it was a PNG, else JPEG), as every model sees it.
	o := imagefile.Orientation(data)
	img = imagefile.Upright(img, o)
	b := img.Bounds()
	w, h := TargetSize(detail, b.Dx(), b.Dy())
	mime := map[string]string{"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}[format]
	out := &EncodedImage{Width: w, Height: h, Upright: o != 1}
	if o != 1 && format == "png" && w == b.Dx() && h == b.Dy() {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return nil, fmt.Errorf("encode image: %w", err)
		}
		out.DataURL = "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
		out.Bytes = buf.Len()
		return out, nil
	}
	if w == b.Dx() && h == b.Dy() && mime != "" && o == 1 {
		out.DataURL = "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(data)
		out.Bytes = len(data)
		return out, nil
	}
	var scaled image.Image = img
	if w != b.Dx() || h != b.Dy() {
		scaled = imagefile.Resize(img, w, h)
		out.Scaled = true
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, scaled, &jpeg.Options{Quality: 90}); err != nil {
		return nil, fmt.Errorf("encode image: %w", err)
	}
	out.DataURL = "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
	out.Bytes = buf.Len()
	return out, nil
}
