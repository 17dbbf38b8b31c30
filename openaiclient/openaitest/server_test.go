package openaitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
)

func pngURL(t *testing.T, shade uint8) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = shade
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())
}

func post(t *testing.T, s *Server, key, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", s.URL()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func chatBody(url, detail string) string {
	b, _ := json.Marshal(map[string]any{"model": "gpt-4o", "messages": []any{
		map[string]any{"role": "user", "content": []any{
			map[string]any{"type": "text", "text": "Rate"},
			map[string]any{"type": "image_url", "image_url": map[string]any{"url": url, "detail": detail}},
		}}}})
	return string(b)
}

// TestChatStrict checks that the fake refuses what the API refuses and
// answers from the image otherwise.
func TestChatStrict(t *testing.T) {
	s := New(t)
	good := pngURL(t, 255)
	tests := []struct {
		name, key, body string
		status          int
		want            string
	}{
		{"ok", s.Key, chatBody(good, "low"), 200, "Safety score: 10/10"},
		{"dark image", s.Key, chatBody(pngURL(t, 0), "high"), 200, "Safety score: 1/10"},
		{"wrong key", "sk-other", chatBody(good, "low"), 401, "Incorrect API key"},
		{"bad detail", s.Key, chatBody(good, "max"), 400, "Supported values are: 'low', 'high', and 'auto'"},
		{"not a data url", s.Key, chatBody("images/a.png", "low"), 400, "without the 'data:' prefix"},
		{"not base64", s.Key, chatBody("data:image/png;base64,!!!", "low"), 400, "Invalid base64"},
		{"not an image", s.Key, chatBody("data:image/png;base64,"+base64.StdEncoding.EncodeToString([]byte("hello")), "low"), 400, "unsupported image"},
		{"wrong mime", s.Key, chatBody(strings.Replace(good, "image/png", "image/jpeg", 1), "low"), 400, "data URL says image/jpeg"},
		{"bad role", s.Key, `{"model":"gpt-4o","messages":[{"role":"robot","content":"x"}]}`, 400, "Invalid value: 'robot'"},
		{"no model", s.Key, `{"messages":[{"role":"user","content":"x"}]}`, 400, "model parameter"},
		{"unknown model", s.Key, `{"model":"missing-x","messages":[{"role":"user","content":"x"}]}`, 404, "does not exist"},
		{"schema without name", s.Key, `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object"}}}}`, 400, "json_schema.name"},
		{"not json", s.Key, `{"model":`, 400, "could not parse"},
		{"max_tokens to a reasoning model", s.Key, `{"model":"gpt-5-mini","max_tokens":300,"messages":[{"role":"user","content":"x"}]}`, 400,
			"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."},
		{"max_tokens to a fine-tuned reasoning model", s.Key, `{"model":"ft:o4-mini-2025-04-16:org::x","max_tokens":300,"messages":[{"role":"user","content":"x"}]}`, 400, "Use 'max_completion_tokens' instead"},
		{"temperature 0 to a reasoning model", s.Key, `{"model":"o4-mini","temperature":0,"messages":[{"role":"user","content":"x"}]}`, 400, "Only the default (1) value is supported"},
		{"max_completion_tokens to a reasoning model", s.Key, `{"model":"o4-mini","max_completion_tokens":500,"messages":[{"role":"user","content":"x"}]}`, 200, "Safety score: 5/10"},
		{"max_tokens to gpt-4o", s.Key, `{"model":"gpt-4o","max_tokens":300,"messages":[{"role":"user","content":"x"}]}`, 200, "Safety score"},
		{"strict minimum on a fine-tuned model", s.Key, strictBody("ft:gpt-4o-mini-2024-07-18:org::x", `{"type":"integer","minimum":1,"maximum":10}`), 400,
			"In context=('properties', 'score'), 'minimum' is not permitted."},
		{"strict enum on a fine-tuned model", s.Key, strictBody("ft:gpt-4o-mini-2024-07-18:org::x", `{"type":"integer","enum":[1,2,3,4,5,6,7,8,9,10]}`), 200, `\"score\":5`},
		{"strict minimum on gpt-4o", s.Key, strictBody("gpt-4o", `{"type":"integer","minimum":1,"maximum":10}`), 200, "score"},
		{"strict without additionalProperties", s.Key, `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","strict":true,"schema":{"type":"object","properties":{"score":{"type":"integer"}},"required":["score"]}}}}`, 400, "'additionalProperties' is required to be supplied and to be false"},
		{"strict without required", s.Key, `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","strict":true,"schema":{"type":"object","properties":{"score":{"type":"integer"}},"additionalProperties":false}}}}`, 400, "Missing 'score'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, s, tt.key, "/chat/completions", tt.body)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("got %d %s, want %d with %q", status, body, tt.status, tt.want)
			}
		})
	}
}

func strictBody(model, score string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"safety","strict":true,"schema":` +
		`{"type":"object","properties":{"score":` + score + `},"required":["score"],"additionalProperties":false}}}}`
}

// The fake sends the rate-limit headers the API sends, retry-after-ms
// with a fault that asks for it, and 429s without Retry-After.
func TestRateLimitHeaders(t *testing.T) {
	s := New(t)
	s.Inject(Fault{Path: "/v1/chat", Status: 429, RetryAfterMS: "250", RetryAfter: "1"})
	s.Inject(Fault{Path: "/v1/chat", Status: 429, ResetRequests: "1.5s"})
	get := func() http.Header {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", s.URL()+"/chat/completions", strings.NewReader(chatBody(pngURL(t, 1), "low")))
		req.Header.Set("Authorization", "Bearer "+s.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}
	h := get()
	if h.Get("retry-after-ms") != "250" || h.Get("Retry-After") != "1" {
		t.Errorf("first 429: %v", h)
	}
	h = get()
	if h.Get("Retry-After") != "" || h.Get("retry-after-ms") != "" || h.Get("x-ratelimit-remaining-requests") != "0" || h.Get("x-ratelimit-reset-requests") != "1.5s" {
		t.Errorf("second 429: %v", h)
	}
	h = get()
	for _, k := range []string{"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
		"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"} {
		if h.Get(k) == "" {
			t.Errorf("answer lacks %s", k)
		}
	}
	s.Verify(t)
}

// A fake with no key takes requests without Authorization, as servers that
// need none do.
func TestNoKey(t *testing.T) {
	s := New(t)
	s.Key = ""
	req, _ := http.NewRequestWithContext(t.Context(), "POST", s.URL()+"/chat/completions", strings.NewReader(chatBody(pngURL(t, 255), "low")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

type recordingTB struct {
	testing.TB
	failed []string
}

func (r *recordingTB) Errorf(format string, args ...any) { r.failed = append(r.failed, format) }
func (r *recordingTB) Helper()                           {}

func TestVerifyFailsOnUnusedFault(t *testing.T) {
	s := New(t)
	s.Inject(Fault{Path: "/v1/chat", Status: 429, Times: 2})
	post(t, s, s.Key, "/chat/completions", chatBody(pngURL(t, 1), "low"))
	rec := &recordingTB{TB: t}
	s.Verify(rec)
	if len(rec.failed) != 1 {
		t.Errorf("Verify reported %d failures, want 1 (fault used 1 of 2 times)", len(rec.failed))
	}
	post(t, s, s.Key, "/chat/completions", chatBody(pngURL(t, 1), "low"))
	rec = &recordingTB{TB: t}
	s.Verify(rec)
	if len(rec.failed) != 0 {
		t.Errorf("Verify failed after the faults were used: %v", rec.failed)
	}
}
