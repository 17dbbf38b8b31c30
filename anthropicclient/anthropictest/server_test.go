package anthropictest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func encode(t *testing.T, format string) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 16, 8))
	var b bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// send posts body to the fake with the given headers (key, version; ""
// leaves one out) and returns the status and the decoded error.
func send(t *testing.T, s *Server, key, version, body string) (int, string, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/v1/messages", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	if version != "" {
		req.Header.Set("anthropic-version", version)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	if resp.StatusCode != 200 {
		if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || e.RequestID == "" || resp.Header.Get("request-id") != e.RequestID {
			t.Fatalf("error body %s is not in the API's shape", b)
		}
	}
	return resp.StatusCode, e.Error.Type, e.Error.Message, resp.Header
}

func body(model, maxTokens, messages string, extra ...string) string {
	parts := []string{}
	if model != "" {
		parts = append(parts, `"model":"`+model+`"`)
	}
	if maxTokens != "" {
		parts = append(parts, `"max_tokens":`+maxTokens)
	}
	if messages != "" {
		parts = append(parts, `"messages":`+messages)
	}
	parts = append(parts, extra...)
	return "{" + strings.Join(parts, ",") + "}"
}

func imageMsg(mediaType, data string) string {
	return `[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"` + mediaType + `","data":"` + data + `"}},{"type":"text","text":"Rate it."}]}]`
}

func TestFakeIsStrict(t *testing.T) {
	s := New(t)
	pngData, jpgData := encode(t, "png"), encode(t, "jpeg")
	good := imageMsg("image/png", pngData)
	for _, tt := range []struct {
		name, key, version, body string
		status                   int
		typ, msg                 string
	}{
		{"no key", "", "2023-06-01", body("claude-sonnet-5-5", "10", good), 401, "authentication_error", "x-api-key header is required"},
		{"bad key", "sk-ant-nope", "2023-06-01", body("claude-sonnet-5-5", "10", good), 401, "authentication_error", "invalid x-api-key"},
		{"no version", s.Key, "", body("claude-sonnet-5-5", "10", good), 400, "invalid_request_error", "anthropic-version: header is required"},
		{"bad version", s.Key, "2024-01-01", body("claude-sonnet-5-5", "10", good), 400, "invalid_request_error", "anthropic-version: invalid version"},
		{"no max_tokens", s.Key, "2023-06-01", body("claude-sonnet-5-5", "", good), 400, "invalid_request_error", "max_tokens: Field required"},
		{"no model", s.Key, "2023-06-01", body("", "10", good), 400, "invalid_request_error", "model: Field required"},
		{"no messages", s.Key, "2023-06-01", body("claude-sonnet-5-5", "10", ""), 400, "invalid_request_error", "messages: Field required"},
		{"zero max_tokens", s.Key, "2023-06-01", body("claude-sonnet-5-5", "0", good), 400, "invalid_request_error", "max_tokens: Input should be greater than or equal to 1"},
		{"max_tokens over the model's", s.Key, "2023-06-01", body("claude-haiku-4-5", "64001", good), 400, "invalid_request_error", "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for claude-haiku-4-5"},
		{"unknown field", s.Key, "2023-06-01", body("claude-sonnet-5-5", "10", good, `"detail":"low"`), 400, "invalid_request_error", "detail: Extra inputs are not permitted"},
		{"temperature under 2026-10-21", s.Key, "2026-10-21", body("claude-sonnet-5-5", "10", good, `"temperature":0`), 400, "invalid_request_error", "temperature: Extra inputs are not permitted"},
		{"unknown model", s.Key, "2023-06-01", body("claude-sonnet-9", "10", good), 404, "not_found_error", "model: claude-sonnet-9"},
		{"first role assistant", s.Key, "2023-06-01", body("claude-sonnet-5-5", "10", `[{"role":"assistant","content":"hi"}]`), 400, "invalid_request_error", `messages: first message must use the "user" role`},
		{"roles not alternating", s.Key, "2023-06-01", body("claude-sonnet-5-5", "10", `[{"role":"user","content":"a"},{"role":"user","content":"b"}]`), 400, "invalid_request_error", `roles must alternate between "user" and "assistant", but found multiple "user" roles in a row`},
		{"system role", s.Key, "2023-06-01", body("claude-sonnet-5-5", "10", `[{"role":"system","content":"a"}]`), 400, "invalid_request_error", "messages.0.role: Input should be 'user' or 'assistant'"},
		{"media type not taken", s.Key, "2023-06-01", body("claude-sonnet-5-5", "10", imageMsg("image/bmp", pngData)), 400, "invalid_request_error", "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"},
		{"media type mismatch", s.Key, "2023-06-01", body("claude-sonnet-5-5", "10", imageMsg("image/png", jpgData)), 400, "invalid_request_error", "messages.0.content.0.image.source.base64: The image was specified using the image/png media type, but the image appears to be a image/jpeg image"},
		{"bad base64", s.Key, "2023-06-01", body("claude-sonnet-5-5", "10", imageMsg("image/png", "!!!")), 400, "invalid_request_error", "image.source.base64.data: invalid base64 data"},
		{"not an image", s.Key, "2023-06-01", body("claude-sonnet-5-5", "10", imageMsg("image/png", base64.StdEncoding.EncodeToString([]byte("hello")))), 400, "invalid_request_error", "Could not process image"},
		{"url source", s.Key, "2023-06-01", body("claude-sonnet-5-5", "10", `[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"http://x/y.png"}}]}]`), 400, "invalid_request_error", "send base64"},
		{"empty text", s.Key, "2023-06-01", body("claude-sonnet-5-5", "10", `[{"role":"user","content":[{"type":"text","text":""}]}]`), 400, "invalid_request_error", "text content blocks must contain non-whitespace text"},
		{"text-only model", s.Key, "2023-06-01", body("claude-2.1", "10", good), 400, "invalid_request_error", "does not support image input"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, typ, msg, _ := send(t, s, tt.key, tt.version, tt.body)
			if status != tt.status || typ != tt.typ || !strings.Contains(msg, tt.msg) {
				t.Fatalf("got %d %s %q, want %d %s %q", status, typ, msg, tt.status, tt.typ, tt.msg)
			}
		})
	}
	// Well-formed requests pass, temperature included under 2023-06-01.
	if status, _, msg, _ := send(t, s, s.Key, "2023-06-01", body("claude-sonnet-5-5", "10", good, `"temperature":0`, `"system":"be brief"`)); status != 200 {
		t.Fatalf("a well-formed request got %d %s", status, msg)
	}
	if r := s.Requests(); r[len(r)-1].System != "be brief" || r[len(r)-1].MediaType != "image/png" || r[len(r)-1].Image == nil {
		t.Fatalf("recorded %+v", r[len(r)-1])
	}
}

func TestFakeFaults(t *testing.T) {
	s := New(t)
	good := body("claude-sonnet-5-5", "10", imageMsg("image/png", encode(t, "png")))
	s.Inject(Fault{Status: 429, RetryAfter: 1500 * time.Millisecond})
	s.Inject(Fault{Status: 529})
	s.Inject(Fault{Status: 500})
	s.Inject(Fault{Delay: 100 * time.Millisecond})
	status, typ, msg, h := send(t, s, s.Key, "2026-10-21", good)
	if status != 429 || typ != "rate_limit_error" || h.Get("retry-after") != "1.5" || !strings.Contains(msg, "rate limit") {
		t.Fatalf("429 fault: %d %s %q retry-after %q", status, typ, msg, h.Get("retry-after"))
	}
	if status, typ, msg, _ = send(t, s, s.Key, "2026-10-21", good); status != 529 || typ != "overloaded_error" || msg != "Overloaded" {
		t.Fatalf("529 fault: %d %s %q", status, typ, msg)
	}
	if status, typ, msg, _ = send(t, s, s.Key, "2026-10-21", good); status != 500 || typ != "api_error" || msg != "Internal server error" {
		t.Fatalf("500 fault: %d %s %q", status, typ, msg)
	}
	start := time.Now()
	if status, _, _, _ = send(t, s, s.Key, "2026-10-21", good); status != 200 || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("slow fault: %d after %v", status, time.Since(start))
	}
	s.Verify(t)
	// A fault is not spent on a request without a valid key.
	s.Inject(Fault{Status: 529})
	if status, _, _, _ = send(t, s, "wrong", "2026-10-21", good); status != 401 {
		t.Fatalf("bad key got %d", status)
	}
	if status, _, _, _ = send(t, s, s.Key, "2026-10-21", good); status != 529 {
		t.Fatalf("the fault was spent on the refused request: %d", status)
	}
}

func TestFakeAnswerAndUsage(t *testing.T) {
	s := New(t)
	s.Answer = func(r *Request) string { return "Score: 7 because " + r.Prompt }
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/v1/messages",
		strings.NewReader(body("claude-sonnet-5-5", "3", imageMsg("image/jpeg", encode(t, "jpeg")))))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Key)
	req.Header.Set("anthropic-version", "2026-10-21")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Content []struct {
			Type, Text string
		}
		StopReason string `json:"stop_reason"`
		Usage      struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	// "Score: 7 because Rate it." is 7 tokens, cut at max_tokens 3.
	if resp.StatusCode != 200 || m.StopReason != "max_tokens" || m.Usage.OutputTokens != 3 || m.Content[0].Text != "Score: 7 bec" ||
		m.Usage.InputTokens != TextTokens("Rate it.")+ImageTokens(16, 8) {
		t.Fatalf("answer %d %+v", resp.StatusCode, m)
	}
	if r := s.Requests(); r[0].Auth != "bearer" {
		t.Fatalf("auth recorded as %q", r[0].Auth)
	}
}
