// Package anthropictest is an in-process fake of the Claude Messages API
// (POST /v1/messages) for tests of the anthropic backend.
//
// It is strict where the real API is, and answers as it does, with the body
// {"type":"error","error":{"type":...,"message":...},"request_id":...} and a
// request-id header:
//
//   - credentials: the key in x-api-key, or as Authorization: Bearer (what
//     anthropic-sdk-go v2 sends); none is 401 authentication_error "x-api-key
//     header is required", a wrong one 401 "invalid x-api-key";
//   - the anthropic-version header: missing is 400 "anthropic-version: header
//     is required"; it must be 2023-01-01, 2023-06-01 or 2026-10-21, and
//     under 2026-10-21 temperature, top_p and top_k are refused;
//   - the JSON body: model, max_tokens (at least 1, at most the model's
//     output limit) and messages are required ("max_tokens: Field
//     required"), unknown fields are refused ("x: Extra inputs are not
//     permitted");
//   - messages: at least one, roles user or assistant, alternating and
//     starting with user; content a string or blocks of type text (not
//     empty) or image;
//   - image blocks: source type base64, media_type one of image/jpeg,
//     image/png, image/gif, image/webp, data that decodes as base64 and as
//     an image of that very type ("The image was specified using the
//     image/jpeg media type, but the image appears to be a image/png image"),
//     at most 5 MB and 8000 pixels a side;
//   - the model: one the fake does not know is 404 not_found_error "model:
//     NAME"; a text-only one refuses images.
//
// Answers come from Server.Answer, a function of the request (by default
// "Score: N" with N = [ScoreOf] the image), with usage: input tokens counted
// as text length / 4 plus width × height / 750 per image, output tokens as
// answer length / 4 (at least 1), cut at max_tokens with stop_reason
// max_tokens. With ThinkingTokens an answer starts with a thinking block
// billed as output, as a model that always thinks answers.
//
// Faults are injected with [Server.Inject] (429 rate_limit_error with
// retry-after, 529 overloaded_error, 500 api_error, 401, slow answers) and
// consumed in order by the next requests that pass the credential and
// version checks; [Server.Verify] fails a test that left one unused. Every
// request is recorded ([Server.Requests]). A Server is safe for concurrent
// use.
package anthropictest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/llm/imagefile"
)

// Versions are the anthropic-version values the API takes.
var Versions = []string{"2023-01-01", "2023-06-01", "2026-10-21"}

// Model is what the fake knows of a model.
type Model struct {
	Vision    bool
	MaxOutput int // the most max_tokens it takes
}

// DefaultModels are the models the fake serves: a few current vision
// models and a retired text-only one.
func DefaultModels() map[string]Model {
	return map[string]Model{
		"claude-fable-5-2":          {Vision: true, MaxOutput: 128000},
		"claude-opus-5-5":           {Vision: true, MaxOutput: 128000},
		"claude-opus-5":             {Vision: true, MaxOutput: 128000},
		"claude-sonnet-5-5":         {Vision: true, MaxOutput: 128000},
		"claude-sonnet-5":           {Vision: true, MaxOutput: 128000},
		"claude-haiku-5-5":          {Vision: true, MaxOutput: 128000},
		"claude-opus-4-6":           {Vision: true, MaxOutput: 128000},
		"claude-sonnet-4-6":         {Vision: true, MaxOutput: 64000},
		"claude-sonnet-4-5":         {Vision: true, MaxOutput: 64000},
		"claude-haiku-4-5":          {Vision: true, MaxOutput: 64000},
		"claude-haiku-4-5-20251001": {Vision: true, MaxOutput: 64000},
		"claude-2.1":                {Vision: false, MaxOutput: 4096},
	}
}

// Fault is an injected misbehaviour for the next request.
type Fault struct {
	// Status is the HTTP status to answer with: 429, 529, 500, 401…; 0
	// answers normally (after Delay).
	Status int
	// RetryAfter, when not 0, is sent as the retry-after header, in seconds
	// (fractions are written as such: 0.2).
	RetryAfter time.Duration
	// Delay is waited before answering (or until the client gives up).
	Delay time.Duration
	// Message replaces the API's message for Status.
	Message string
}

// Request is one recorded request.
type Request struct {
	// Status is what the fake answered; Fault is true when an injected
	// fault answered.
	Status int
	Fault  bool
	Time   time.Time
	// Version is the anthropic-version header; Auth says how the key came:
	// "x-api-key", "bearer" or "".
	Version, Auth string
	// What a well-formed body asked for.
	Model     string
	MaxTokens int
	System    string
	Prompt    string // the text blocks of the last user message, joined
	MediaType string // of the last image
	Image     image.Image
	// Body is the raw request body.
	Body []byte
}

// Server is the fake.
type Server struct {
	// Key is the API key the fake accepts.
	Key string
	// Models are the models served (DefaultModels when New made it).
	Models map[string]Model
	// Answer gives the answer text for a well-formed request; nil answers
	// "Score: N" with N = ScoreOf the image.
	Answer func(*Request) string
	// ThinkingTokens, when above 0, makes every answer start with a
	// thinking block of that many output tokens, as a model that always
	// thinks answers; when they reach max_tokens the answer holds only the
	// thinking, cut with stop_reason max_tokens.
	ThinkingTokens int

	srv      *httptest.Server
	mu       sync.Mutex
	faults   []Fault
	requests []Request
	inFlight int
	maxIn    int
	nextID   int
}

// New starts a fake on the loopback interface, stopped when t ends.
func New(t testing.TB) *Server {
	s := &Server{Key: "sk-ant-api03-fake-" + strconv.FormatInt(time.Now().UnixNano(), 36), Models: DefaultModels()}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the fake's base URL (without /v1).
func (s *Server) URL() string { return s.srv.URL }

// Inject queues a fault for the next request.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// Verify fails t when an injected fault was not used.
func (s *Server) Verify(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) > 0 {
		t.Errorf("anthropictest: %d injected faults were not used", len(s.faults))
	}
}

// Requests are the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// MaxInFlight is the most requests the fake was answering at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxIn
}

// ScoreOf is the score the fake gives an image: its mean brightness mapped
// linearly onto 1..10 and rounded. Tests compute expected answers with it.
func ScoreOf(img image.Image) int {
	b := img.Bounds()
	var sum float64
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			sum += float64(r+g+bb) / 3 / 257
			n++
		}
	}
	if n == 0 {
		return 1
	}
	return 1 + int(math.Round(sum/float64(n)/255*9))
}

// ImageTokens is the prompt tokens the fake counts for a w×h image.
func ImageTokens(w, h int) int { return int(math.Ceil(float64(w) * float64(h) / 750)) }

// TextTokens is the tokens the fake counts for text.
func TextTokens(s string) int { return (len(s) + 3) / 4 }

// errorTypes are the API's error types by status.
var errorTypes = map[int]string{
	400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
	413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}

// messages are the API's messages for faults.
var messages = map[int]string{
	401: "invalid x-api-key",
	429: "Number of requests has exceeded your per-minute rate limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.",
	500: "Internal server error",
	529: "Overloaded",
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return fmt.Sprintf("req_fake%08d", s.nextID)
}

func (s *Server) apiError(w http.ResponseWriter, status int, msg string) {
	typ := errorTypes[status]
	if typ == "" {
		typ = "api_error"
	}
	id := s.requestID()
	w.Header().Set("request-id", id)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}, "request_id": id})
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
}

func (s *Server) takeFault() *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return nil
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return &f
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.inFlight++
	s.maxIn = max(s.maxIn, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	rec := Request{Time: time.Now(), Version: r.Header.Get("anthropic-version"), Body: body}
	status := s.handle(w, r, body, &rec)
	rec.Status = status
	s.record(rec)
}

// handle answers r and returns the status it answered with.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, body []byte, rec *Request) int {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		s.apiError(w, 404, "Not found")
		return 404
	}
	key := r.Header.Get("x-api-key")
	rec.Auth = "x-api-key"
	if key == "" {
		if k, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			key, rec.Auth = k, "bearer"
		} else {
			rec.Auth = ""
		}
	}
	switch {
	case key == "":
		s.apiError(w, 401, "x-api-key header is required")
		return 401
	case key != s.Key:
		s.apiError(w, 401, "invalid x-api-key")
		return 401
	}
	version := rec.Version
	switch {
	case version == "":
		s.apiError(w, 400, "anthropic-version: header is required")
		return 400
	case !contains(Versions, version):
		s.apiError(w, 400, fmt.Sprintf("anthropic-version: invalid version %q", version))
		return 400
	}
	if f := s.takeFault(); f != nil {
		rec.Fault = true
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return 499
			}
		}
		if f.Status != 0 {
			if f.RetryAfter > 0 {
				w.Header().Set("retry-after", strconv.FormatFloat(f.RetryAfter.Seconds(), 'f', -1, 64))
			}
			if f.Status == 429 {
				w.Header().Set("anthropic-ratelimit-requests-remaining", "0")
			}
			msg := f.Message
			if msg == "" {
				msg = messages[f.Status]
			}
			s.apiError(w, f.Status, msg)
			return f.Status
		}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.apiError(w, 400, "content-type: must be application/json")
		return 400
	}
	status, msg := s.check(body, version, rec)
	if status != 0 {
		s.apiError(w, status, msg)
		return status
	}
	text := ""
	if s.Answer != nil {
		text = s.Answer(rec)
	} else if rec.Image != nil {
		text = fmt.Sprintf("Score: %d", ScoreOf(rec.Image))
	}
	in := TextTokens(rec.System) + TextTokens(rec.Prompt)
	if rec.Image != nil {
		b := rec.Image.Bounds()
		in += ImageTokens(b.Dx(), b.Dy())
	}
	var content []map[string]any
	think := min(s.ThinkingTokens, rec.MaxTokens)
	if think > 0 {
		content = append(content, map[string]any{"type": "thinking", "thinking": strings.Repeat("hmm ", think), "signature": "sig"})
	}
	out, stop := think+max(1, TextTokens(text)), "end_turn"
	if out > rec.MaxTokens {
		out, stop = rec.MaxTokens, "max_tokens"
		text = text[:min(len(text), 4*(out-think))]
	}
	if think < rec.MaxTokens {
		content = append(content, map[string]any{"type": "text", "text": text})
	}
	id := s.requestID()
	w.Header().Set("request-id", id)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"id": "msg_" + strings.TrimPrefix(id, "req_"), "type": "message", "role": "assistant", "model": rec.Model,
		"content":     content,
		"stop_reason": stop, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": in, "output_tokens": out, "cache_creation_input_tokens": 0,
			"cache_read_input_tokens": 0, "service_tier": "standard"},
	})
	return 200
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// topFields are the request fields of the Messages API; sampling marks those
// version 2026-10-21 removed.
var (
	topFields = []string{"model", "max_tokens", "messages", "system", "metadata", "stop_sequences", "stream", "tools",
		"tool_choice", "thinking", "service_tier", "container", "output_config", "inference_geo", "cache_control",
		"speed", "diagnostics", "mcp_servers", "context_management"}
	sampling = []string{"temperature", "top_p", "top_k"}
)

// check validates a request body as the API does; status 0 means well-formed.
// It fills rec with what the request asked for.
func (s *Server) check(body []byte, version string, rec *Request) (int, string) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return 400, "There was an error parsing the body: " + err.Error()
	}
	for k := range top {
		if contains(topFields, k) || contains(sampling, k) && version != "2026-10-21" {
			continue
		}
		return 400, k + ": Extra inputs are not permitted"
	}
	for _, k := range []string{"model", "messages", "max_tokens"} {
		if _, ok := top[k]; !ok {
			return 400, k + ": Field required"
		}
	}
	if err := json.Unmarshal(top["model"], &rec.Model); err != nil {
		return 400, "model: Input should be a valid string"
	}
	var mt float64
	if err := json.Unmarshal(top["max_tokens"], &mt); err != nil || mt != math.Trunc(mt) {
		return 400, "max_tokens: Input should be a valid integer"
	}
	rec.MaxTokens = int(mt)
	if rec.MaxTokens < 1 {
		return 400, "max_tokens: Input should be greater than or equal to 1"
	}
	if raw, ok := top["system"]; ok {
		if status, msg := readSystem(raw, rec); status != 0 {
			return status, msg
		}
	}
	var msgs []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(top["messages"], &msgs); err != nil {
		return 400, "messages: Input should be a valid list"
	}
	if len(msgs) == 0 {
		return 400, "messages: at least one message is required"
	}
	for i, m := range msgs {
		switch {
		case m.Role != "user" && m.Role != "assistant":
			return 400, fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		case i == 0 && m.Role != "user":
			return 400, `messages: first message must use the "user" role`
		case i > 0 && m.Role == msgs[i-1].Role:
			return 400, fmt.Sprintf(`messages: roles must alternate between "user" and "assistant", but found multiple %q roles in a row`, m.Role)
		}
	}
	model, known := s.Models[rec.Model]
	if !known {
		return 404, "model: " + rec.Model
	}
	if rec.MaxTokens > model.MaxOutput {
		return 400, fmt.Sprintf("max_tokens: %d > %d, which is the maximum allowed number of output tokens for %s", rec.MaxTokens, model.MaxOutput, rec.Model)
	}
	for i, m := range msgs {
		var str string
		if json.Unmarshal(m.Content, &str) == nil {
			if m.Role == "user" {
				rec.Prompt = str
			}
			continue
		}
		var blocks []map[string]json.RawMessage
		if err := json.Unmarshal(m.Content, &blocks); err != nil {
			return 400, fmt.Sprintf("messages.%d.content: Input should be a valid list", i)
		}
		if len(blocks) == 0 && i < len(msgs)-1 {
			return 400, fmt.Sprintf("messages.%d: all messages must have non-empty content except for the optional final assistant message", i)
		}
		var texts []string
		for j, b := range blocks {
			at := fmt.Sprintf("messages.%d.content.%d", i, j)
			var typ string
			json.Unmarshal(b["type"], &typ)
			switch typ {
			case "text":
				var t string
				if err := json.Unmarshal(b["text"], &t); err != nil {
					return 400, at + ".text.text: Field required"
				}
				if strings.TrimSpace(t) == "" {
					return 400, "messages: text content blocks must contain non-whitespace text"
				}
				texts = append(texts, t)
			case "image":
				if m.Role != "user" {
					return 400, at + ": image blocks are only allowed in user messages"
				}
				if !model.Vision {
					return 400, at + ": this model does not support image input"
				}
				if status, msg := readImage(b["source"], at, rec); status != 0 {
					return status, msg
				}
			case "":
				return 400, at + ".type: Field required"
			default:
				return 400, fmt.Sprintf("%s.type: Input tag '%s' found using 'type' does not match any of the expected tags: 'text', 'image'", at, typ)
			}
		}
		if m.Role == "user" {
			rec.Prompt = strings.Join(texts, "\n")
		}
	}
	return 0, ""
}

func readSystem(raw json.RawMessage, rec *Request) (int, string) {
	if json.Unmarshal(raw, &rec.System) == nil {
		return 0, ""
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return 400, "system: Input should be a valid string or a list of text blocks"
	}
	var parts []string
	for i, b := range blocks {
		if b.Type != "text" {
			return 400, fmt.Sprintf("system.%d.type: Input should be 'text'", i)
		}
		if strings.TrimSpace(b.Text) == "" {
			return 400, "system: text content blocks must contain non-whitespace text"
		}
		parts = append(parts, b.Text)
	}
	rec.System = strings.Join(parts, "\n")
	return 0, ""
}

var mediaTypes = map[string]string{"image/jpeg": "jpeg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}

func readImage(raw json.RawMessage, at string, rec *Request) (int, string) {
	var src struct {
		Type      *string `json:"type"`
		MediaType *string `json:"media_type"`
		Data      *string `json:"data"`
	}
	if raw == nil {
		return 400, at + ".image.source: Field required"
	}
	if err := json.Unmarshal(raw, &src); err != nil || src.Type == nil {
		return 400, at + ".image.source.type: Field required"
	}
	if *src.Type != "base64" {
		return 400, fmt.Sprintf("%s.image.source: source type %q is not served by this fake; send base64", at, *src.Type)
	}
	at += ".image.source.base64"
	switch {
	case src.MediaType == nil:
		return 400, at + ".media_type: Field required"
	case src.Data == nil:
		return 400, at + ".data: Field required"
	case mediaTypes[*src.MediaType] == "":
		return 400, at + ".media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
	}
	if n := len(*src.Data); n > 5<<20 {
		return 400, fmt.Sprintf("%s: image exceeds 5 MB maximum: %d bytes > %d bytes", at, n, 5<<20)
	}
	data, err := base64.StdEncoding.DecodeString(*src.Data)
	if err != nil {
		return 400, at + ".data: invalid base64 data"
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return 400, at + ": Could not process image"
	}
	if format != mediaTypes[*src.MediaType] {
		actual := "image/" + format
		return 400, fmt.Sprintf("%s: The image was specified using the %s media type, but the image appears to be a %s image", at, *src.MediaType, actual)
	}
	if cfg.Width > 8000 || cfg.Height > 8000 {
		return 400, at + ".data: At least one of the image dimensions exceed max allowed size: 8000 pixels"
	}
	img, _, err := imagefile.Decode(data)
	if err != nil {
		return 400, at + ": Could not process image"
	}
	rec.Image, rec.MediaType = img, *src.MediaType
	return 0, ""
}
