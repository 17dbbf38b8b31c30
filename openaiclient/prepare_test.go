package openaiclient

import (
	"strings"
	"testing"
)

func TestCheckExample(t *testing.T) {
	img := []ftPart{{Type: "text", Text: "Rate"}, {Type: "image_url", ImageURL: &ftImageURL{URL: "data:image/png;base64,AAAA", Detail: "low"}}}
	tests := []struct {
		name string
		msgs []ftMessage
		want string // "" for none
	}{
		{"good", []ftMessage{{"system", "S"}, {"user", img}, {"assistant", "Safety score: 3/10"}}, ""},
		{"text only", []ftMessage{{"user", "Rate"}, {"assistant", "7"}}, ""},
		{"no messages", nil, "no messages"},
		{"last not assistant", []ftMessage{{"user", "Rate"}}, "last message is not the assistant's"},
		{"bad role", []ftMessage{{"robot", "x"}, {"user", "x"}, {"assistant", "1"}}, `role "robot"`},
		{"system later", []ftMessage{{"user", "x"}, {"system", "S"}, {"assistant", "1"}}, "system message after the first"},
		{"empty answer", []ftMessage{{"user", "x"}, {"assistant", " "}}, "empty assistant answer"},
		{"two answers", []ftMessage{{"user", "x"}, {"assistant", "1"}, {"assistant", "2"}}, "without a user message before it"},
		{"gif image", []ftMessage{{"user", []ftPart{{Type: "image_url", ImageURL: &ftImageURL{URL: "data:image/gif;base64,AA"}}}}, {"assistant", "1"}}, "not a JPEG, PNG or WebP"},
		{"image in answer", []ftMessage{{"user", "x"}, {"assistant", img}}, "only allowed in user messages"},
		{"too many images", []ftMessage{{"user", manyImages(65)}, {"assistant", "1"}}, "65 images"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(CheckExample(ftExample{Messages: tt.msgs}), "; ")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("problems %q, want %q", got, tt.want)
			}
		})
	}
}

func manyImages(n int) []ftPart {
	p := make([]ftPart, n)
	for i := range p {
		p[i] = ftPart{Type: "image_url", ImageURL: &ftImageURL{URL: "data:image/jpeg;base64,AA"}}
	}
	return p
}

func TestAcceptsImages(t *testing.T) {
	for model, want := range map[string]bool{"gpt-4o-2024-08-06": true, "gpt-4.1-2025-04-14": true, "gpt-4o-mini-2024-07-18": false, "gpt-4o-mini": false} {
		if got := AcceptsImages(model); got != want {
			t.Errorf("AcceptsImages(%q) = %v", model, got)
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
