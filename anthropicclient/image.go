package anthropicclient

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/jpeg"
	"math"

	"github.com/vlmcmp/vlmcmp/llm/imagefile"
)

// Image limits of the Messages API (Claude vision guide): the API scales
// down an image whose long edge is over 1568 pixels before the model sees
// it, and refuses an image over 5 MB (as sent, base64) or over 8000 pixels
// on a side.
const (
	MaxEdge      = 1568
	MaxImageSize = 5 << 20
)

// MediaTypes are the image media types the Messages API takes, by the
// format name imagefile.Decode gives.
var MediaTypes = map[string]string{"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}

// EncodedImage is an image ready to send as a base64 image block.
type EncodedImage struct {
	MediaType     string // image/jpeg, image/png, image/gif or image/webp
	Data          string // base64 (standard encoding)
	Width, Height int    // pixels sent
	Scaled        bool   // scaled down (and re-encoded as JPEG)
}

// Tokens estimates the image's prompt tokens as Anthropic's vision guide
// does: width × height / 750.
func (e *EncodedImage) Tokens() int {
	return int(math.Ceil(float64(e.Width) * float64(e.Height) / 750))
}

// fitSize is the size of a w×h image with its long edge brought down to
// MaxEdge; images are never scaled up.
func fitSize(w, h int) (int, int) {
	long := max(w, h)
	if long <= MaxEdge {
		return w, h
	}
	s := float64(MaxEdge) / float64(long)
	return max(1, int(float64(w)*s+0.5)), max(1, int(float64(h)*s+0.5))
}

// EncodeImage decodes data and returns it as the API should get it: as it
// is when its format is one the API takes and it is small enough (so that
// nothing is sent that the model would not see), else scaled down to a long
// edge of MaxEdge and re-encoded as JPEG (quality 90). BMP and other formats
// the API lacks are re-encoded as JPEG too.
func EncodeImage(data []byte) (*EncodedImage, error) {
	img, format, err := imagefile.Decode(data)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	w, h := fitSize(b.Dx(), b.Dy())
	mt := MediaTypes[format]
	if mt != "" && w == b.Dx() && h == b.Dy() && base64.StdEncoding.EncodedLen(len(data)) <= MaxImageSize {
		return &EncodedImage{MediaType: mt, Data: base64.StdEncoding.EncodeToString(data), Width: w, Height: h}, nil
	}
	var out image.Image = img
	scaled := w != b.Dx() || h != b.Dy()
	if scaled {
		out = imagefile.Resize(img, w, h)
	}
	var buf bytes.Buffer
	for q := 90; ; q -= 15 {
		buf.Reset()
		if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: q}); err != nil {
			return nil, fmt.Errorf("encode image: %w", err)
		}
		if base64.StdEncoding.EncodedLen(buf.Len()) <= MaxImageSize || q <= 30 {
			break
		}
	}
	return &EncodedImage{MediaType: "image/jpeg", Data: base64.StdEncoding.EncodeToString(buf.Bytes()), Width: w, Height: h, Scaled: scaled}, nil
}
