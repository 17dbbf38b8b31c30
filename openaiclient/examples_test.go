package openaiclient

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
)

func TestCheckExample(t *testing.T) {
	rgb := imageURL(t, image.NewRGBA(image.Rect(0, 0, 4, 4)))
	grey := imageURL(t, image.NewGray(image.Rect(0, 0, 4, 4)))
	pal := imageURL(t, image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White}))
	img := []ExamplePart{{Type: "text", Text: "Rate"}, {Type: "image_url", ImageURL: &ExampleImage{URL: rgb, Detail: "low"}}}
	tests := []struct {
		name string
		msgs []ExampleMessage
		want string // "" for none
	}{
		{"good", []ExampleMessage{{"system", "S"}, {"user", img}, {"assistant", "Safety score: 3/10"}}, ""},
		{"text only", []ExampleMessage{{"user", "Rate"}, {"assistant", "7"}}, ""},
		{"no messages", nil, "no messages"},
		{"last not assistant", []ExampleMessage{{"user", "Rate"}}, "last message is not the assistant's"},
		{"bad role", []ExampleMessage{{"robot", "x"}, {"user", "x"}, {"assistant", "1"}}, `role "robot"`},
		{"system later", []ExampleMessage{{"user", "x"}, {"system", "S"}, {"assistant", "1"}}, "system message after the first"},
		{"empty answer", []ExampleMessage{{"user", "x"}, {"assistant", " "}}, "empty assistant answer"},
		{"two answers", []ExampleMessage{{"user", "x"}, {"assistant", "1"}, {"assistant", "2"}}, "without a user message before it"},
		{"gif image", []ExampleMessage{{"user", []ExamplePart{{Type: "image_url", ImageURL: &ExampleImage{URL: "data:image/gif;base64,AA"}}}}, {"assistant", "1"}}, "not a JPEG, PNG or WebP"},
		{"image in answer", []ExampleMessage{{"user", "x"}, {"assistant", img}}, "only allowed in user messages"},
		{"ten images", []ExampleMessage{{"user", images(rgb, 10)}, {"assistant", "1"}}, ""},
		{"eleven images", []ExampleMessage{{"user", images(rgb, 11)}, {"assistant", "1"}}, "11 images, the API takes up to 10"},
		{"grey image", []ExampleMessage{{"user", images(grey, 1)}, {"assistant", "1"}}, "image 1 is L, the API takes RGB or RGBA"},
		{"palette image", []ExampleMessage{{"user", images(pal, 1)}, {"assistant", "1"}}, "is P"},
		{"not base64", []ExampleMessage{{"user", images("data:image/png;base64,!!", 1)}, {"assistant", "1"}}, "not valid base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(CheckExample(Example{Messages: tt.msgs}), "; ")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("problems %q, want %q", got, tt.want)
			}
		})
	}
}

func images(url string, n int) []ExamplePart {
	p := make([]ExamplePart, n)
	for i := range p {
		p[i] = ExamplePart{Type: "image_url", ImageURL: &ExampleImage{URL: url}}
	}
	return p
}

// Images that are not RGB or RGBA are converted, so that the examples pass
// CheckExample and the fake's job-time check.
func TestEncodeForFineTuningRGB(t *testing.T) {
	grey := image.NewGray(image.Rect(0, 0, 8, 8))
	pal := image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{color.NRGBA{0, 0, 0, 0}, color.White})
	cmyk := image.NewCMYK(image.Rect(0, 0, 8, 8))
	var greyJPEG, cmykJPEG bytes.Buffer
	jpeg.Encode(&greyJPEG, grey, nil)
	jpeg.Encode(&cmykJPEG, cmyk, nil)
	tests := []struct {
		name     string
		data     []byte
		wantMIME string
	}{
		{"grey png", pngBytes(t, grey), "image/jpeg"},
		{"palette png with transparency", pngBytes(t, pal), "image/png"},
		{"grey jpeg", greyJPEG.Bytes(), "image/jpeg"},
		{"cmyk jpeg", cmykJPEG.Bytes(), "image/jpeg"},
		{"rgb png kept", pngBytes(t, image.NewRGBA(image.Rect(0, 0, 8, 8))), "image/png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := EncodeForFineTuning(tt.data, DetailLow)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(img.DataURL, "data:"+tt.wantMIME+";") {
				t.Errorf("data URL %.30s, want %s", img.DataURL, tt.wantMIME)
			}
			ex := Example{Messages: []ExampleMessage{{"user", images(img.DataURL, 1)}, {"assistant", "1"}}}
			if p := CheckExample(ex); len(p) > 0 {
				t.Errorf("problems %v", p)
			}
		})
	}
}

func pngBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Only gpt-4o-2024-08-06 is documented to take images in fine-tuning;
// others only by the model table.
func TestAcceptsImages(t *testing.T) {
	for model, want := range map[string]bool{"gpt-4o-2024-08-06": true, "gpt-4.1-2025-04-14": false, "gpt-4o-mini-2024-07-18": false, "gpt-4o-mini": false, "gpt-4o": false} {
		if got := AcceptsImages(model); got != want {
			t.Errorf("AcceptsImages(%q) = %v, want %v", model, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	key := "sk-proj-abcdefghijklmnop"
	for _, in := range []string{"key " + key + " refused", "Incorrect API key provided: sk-proj-***mnop.", "x=" + key} {
		if out := Redact(in, key); strings.Contains(out, "abcdef") || strings.Contains(out, "sk-") {
			t.Errorf("Redact(%q) = %q", in, out)
		}
	}
}
