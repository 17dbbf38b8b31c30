package openaiclient

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"strings"

	"github.com/vlmcmp/vlmcmp/llm/imagefile"
)

// Limits of the fine-tuning API checked before anything is uploaded
// (OpenAI fine-tuning and vision fine-tuning guides).
const (
	MinTrainingExamples  = 10
	MaxImagesPerExample  = 10
	MaxImageBytes        = 10 << 20
	MaxExampleTokens     = 65536 // training context of gpt-4o(-mini) and gpt-4.1 fine-tuning
	MaxTrainingFileBytes = 512 << 20
)

// AcceptsImages reports whether base model is known to accept images in
// fine-tuning data by the built-in model table: only gpt-4o-2024-08-06, the
// model OpenAI documents it for. See [Models.AcceptsImages] for a table
// the user extended.
func AcceptsImages(model string) bool {
	return DefaultModels().AcceptsImages(model)
}

// AcceptsImages reports whether the table marks base model as accepting
// images in fine-tuning data (FineTuneImages).
func (m Models) AcceptsImages(model string) bool {
	mi, ok := m.Lookup(model)
	return ok && mi.FineTuneImages
}

// Example is one chat example of a fine-tuning file.
type Example struct {
	Messages []ExampleMessage `json:"messages"`
}

// ExampleMessage is one message of an example; Content is a string or a
// []ExamplePart.
type ExampleMessage struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

// ExamplePart is a text or image part of a user message.
type ExamplePart struct {
	Type     string        `json:"type"`
	Text     string        `json:"text,omitempty"`
	ImageURL *ExampleImage `json:"image_url,omitempty"`
}

// ExampleImage is an image part's URL (a base64 data URL) and detail.
type ExampleImage struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// ImageMode names an image's pixel layout as image libraries do: RGB,
// RGBA, L (grey), LA, P (palette), CMYK, or the Go type otherwise.
// Fine-tuning takes RGB and RGBA images only.
func ImageMode(m color.Model) string {
	switch m {
	case color.RGBAModel, color.RGBA64Model, color.NRGBAModel, color.NRGBA64Model:
		return "RGBA"
	case color.YCbCrModel, color.NYCbCrAModel:
		return "RGB"
	case color.GrayModel, color.Gray16Model:
		return "L"
	case color.AlphaModel, color.Alpha16Model:
		return "A"
	case color.CMYKModel:
		return "CMYK"
	}
	if _, ok := m.(color.Palette); ok {
		return "P"
	}
	return fmt.Sprintf("%T", m)
}

func rgbMode(mode string) bool { return mode == "RGB" || mode == "RGBA" }

// EncodeForFineTuning encodes an image for a fine-tuning example like
// [EncodeImage], but only as the fine-tuning API takes it: JPEG, PNG or
// WebP (not GIF), in RGB or RGBA. Grey, palette, CMYK and other images are
// converted to RGB(A) and re-encoded (JPEG, or PNG when they have
// transparency).
func EncodeForFineTuning(data []byte, detail string) (*EncodedImage, error) {
	img, err := EncodeImage(data, detail)
	if err != nil {
		return nil, err
	}
	raw, err := dataURLBytes(img.DataURL)
	if err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("encode image: %w", err)
	}
	if rgbMode(ImageMode(cfg.ColorModel)) && !strings.HasPrefix(img.DataURL, "data:image/gif") {
		return img, nil
	}
	return reencodeRGB(raw, img)
}

// reencodeRGB converts the image in raw to RGB(A) and encodes it as JPEG
// (quality 90), or as PNG when it has transparent pixels.
func reencodeRGB(raw []byte, out *EncodedImage) (*EncodedImage, error) {
	src, _, err := imagefile.Decode(raw)
	if err != nil {
		return nil, err
	}
	b := src.Bounds()
	rgba := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(rgba, rgba.Bounds(), src, b.Min, draw.Src)
	opaque := rgba.Opaque()
	var buf bytes.Buffer
	mime := "image/jpeg"
	if opaque {
		err = jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: 90})
	} else {
		mime = "image/png"
		err = png.Encode(&buf, rgba)
	}
	if err != nil {
		return nil, fmt.Errorf("encode image: %w", err)
	}
	return &EncodedImage{DataURL: "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
		Width: out.Width, Height: out.Height, Bytes: buf.Len(), Scaled: out.Scaled}, nil
}

func dataURLBytes(u string) ([]byte, error) {
	_, data, ok := strings.Cut(u, ";base64,")
	if !ok {
		return nil, fmt.Errorf("not a base64 data URL")
	}
	return base64.StdEncoding.DecodeString(data)
}

// CheckExample returns what the fine-tuning API would reject in one chat
// example: unknown roles, no user message, the order of messages (an
// optional system message first, then user and assistant turns), a last
// message that is not the assistant's, an empty assistant answer, images
// outside user messages, more than 10 images, images that are not base64
// JPEG, PNG or WebP data URLs (or https URLs), images over 10 MB, images
// that are not RGB or RGBA.
func CheckExample(ex Example) []string {
	var probs []string
	if len(ex.Messages) == 0 {
		return []string{"no messages"}
	}
	images, users := 0, 0
	for i, m := range ex.Messages {
		switch m.Role {
		case "system", "developer":
			if i != 0 {
				probs = append(probs, fmt.Sprintf("message %d: %s message after the first", i+1, m.Role))
			}
		case "user":
			users++
		case "assistant":
			if i == 0 || ex.Messages[i-1].Role == "assistant" {
				probs = append(probs, fmt.Sprintf("message %d: assistant message without a user message before it", i+1))
			}
		default:
			probs = append(probs, fmt.Sprintf("message %d: role %q is not system, user or assistant", i+1, m.Role))
		}
		switch c := m.Content.(type) {
		case string:
			if m.Role == "assistant" && strings.TrimSpace(c) == "" {
				probs = append(probs, fmt.Sprintf("message %d: empty assistant answer", i+1))
			}
		case []ExamplePart:
			for _, p := range c {
				if p.Type != "image_url" {
					continue
				}
				images++
				if m.Role != "user" {
					probs = append(probs, fmt.Sprintf("message %d: images are only allowed in user messages", i+1))
				}
				if p.ImageURL == nil {
					probs = append(probs, fmt.Sprintf("message %d: image part without a URL", i+1))
					continue
				}
				if p.ImageURL.Detail != "" && !ValidDetail(p.ImageURL.Detail) {
					probs = append(probs, fmt.Sprintf("message %d: detail %q is not low, high or auto", i+1, p.ImageURL.Detail))
				}
				probs = append(probs, checkImageURL(i+1, images, p.ImageURL.URL)...)
			}
		}
	}
	if users == 0 {
		probs = append(probs, "no user message")
	}
	if last := ex.Messages[len(ex.Messages)-1]; last.Role != "assistant" {
		probs = append(probs, "the last message is not the assistant's answer")
	}
	if images > MaxImagesPerExample {
		probs = append(probs, fmt.Sprintf("%d images, the API takes up to %d per example", images, MaxImagesPerExample))
	}
	return probs
}

// checkImageURL checks the n-th image of an example, in message msg.
func checkImageURL(msg, n int, u string) []string {
	if strings.HasPrefix(u, "https://") {
		return nil
	}
	ok := false
	for _, f := range []string{"jpeg", "png", "webp"} {
		ok = ok || strings.HasPrefix(u, "data:image/"+f+";base64,")
	}
	if !ok {
		return []string{fmt.Sprintf("message %d: image %d is not a JPEG, PNG or WebP data URL", msg, n)}
	}
	raw, err := dataURLBytes(u)
	if err != nil {
		return []string{fmt.Sprintf("message %d: image %d: the data URL is not valid base64", msg, n)}
	}
	if len(raw) > MaxImageBytes {
		return []string{fmt.Sprintf("message %d: image %d is %d MB, the API takes up to %d MB", msg, n, len(raw)>>20, MaxImageBytes>>20)}
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return []string{fmt.Sprintf("message %d: image %d does not decode: %v", msg, n, err)}
	}
	if mode := ImageMode(cfg.ColorModel); !rgbMode(mode) {
		return []string{fmt.Sprintf("message %d: image %d is %s, the API takes RGB or RGBA images only", msg, n, mode)}
	}
	return nil
}
