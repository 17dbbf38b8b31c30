// Package openaitest is an in-process fake of the OpenAI API endpoints
// vlmcmp uses, for tests: chat completions with image parts, files, and
// fine-tuning jobs with their events and checkpoints.
//
// The fake is strict where the real API is: it checks the bearer key (none
// when Key is empty, as llama-server, vLLM and Ollama need none), the JSON
// body, roles, that images are base64 data URLs of a supported format with
// a valid detail value, and that a json_schema response format has a name
// and a schema; in strict mode every object must have additionalProperties
// false and require all its properties, and for fine-tuned models the
// bound keywords (minimum, maximum, pattern…) are refused. Reasoning models
// (o-series, gpt-5 family, and fine-tunes of them) refuse max_tokens ("Use
// 'max_completion_tokens' instead"), temperature and top_p other than 1,
// and reasoning_effort values they lack; their hidden reasoning uses
// completion tokens, and an answer whose budget it exhausts comes back
// empty, cut for length. It answers 400, 401 or 404 with the API's error
// body otherwise. Answers are deterministic: the chat score is the image's
// mean brightness mapped onto 1..10 ([ScoreOf]), so a test can compute
// what any image must get. Every answer carries the x-ratelimit-* headers.
//
// Faults are injected with [Server.Inject] (401, 429 with or without
// Retry-After and retry-after-ms, or with an exhausted request limit, 500,
// slow answers, malformed and truncated bodies) and consumed in order by
// the matching requests; [Server.Verify] fails a test that left an
// injected fault unused, so "the retry happened" is checked, not assumed.
// Every request is recorded ([Server.Requests]). [Server.Kill] stops the
// server as a dying machine does (open connections cut, new ones refused)
// and [Server.Restart] brings it back at the same address, for tests of a
// fleet of servers; Software and Fingerprint set the Server header and the
// system_fingerprint an OpenAI-compatible server sends.
//
// Uploads are refused when not .jsonl (for fine-tuning) or over
// MaxUploadBytes, can be read slowly (UploadRate), and are processed after
// ProcessPolls retrievals. Job creation refuses suffixes over 64
// characters, seeds outside 0..2³¹−1, n_epochs outside 1..50, batch_size
// outside 1..256 and learning-rate multipliers not above 0, and, with
// DenyFineTuning, answers as an account that may not fine-tune does.
//
// Fine-tuning jobs move one state per observation (a retrieve of the job or
// a list of its events): validating_files, where the files' examples are
// checked as the service does (roles, a final assistant message, at most 10
// images per example, JPEG/PNG/WebP in RGB or RGBA up to 10 MB, images
// only for ImageModels, at least 10 training examples) and a bad file
// fails the job with the reason in job.error; then queued, running (one
// training step per observation, each with a metrics event whose step
// counts are floats, 1.0, as the API writes them), then succeeded, or
// failed when [Server.FailJobs] is set; cancel moves a job to cancelled.
//
// [NewAzure] serves the same behind an Azure OpenAI resource's routes and
// rules (api-version, api-key, deployments, Azure's error bodies); files
// are listed (GET /files) on both, and a fault may answer Late, after the
// work is done.
//
// A Server is safe for concurrent use.
package openaitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/vlmcmp/vlmcmp/llm/imagefile" // registers the image decoders
)

// Fault is an injected misbehaviour for the next requests matching Method
// and Path.
type Fault struct {
	// Method and Path select requests ("POST", "/v1/chat/completions"); an
	// empty Method matches any; Path matches as a prefix.
	Method, Path string
	// Times is how many matching requests get the fault (0 means 1).
	Times int
	// Status is the HTTP status to answer with (401, 429, 500...); 0 leaves
	// the normal answer (with Delay or Malformed).
	Status int
	// RetryAfter sets the Retry-After header, in seconds; RetryAfterMS the
	// retry-after-ms header the API sends beside it. A 429 with neither
	// is what the API sometimes sends.
	RetryAfter, RetryAfterMS string
	// ResetRequests, when set (a duration such as "300ms"), reports the
	// request limit exhausted: x-ratelimit-remaining-requests 0 and
	// x-ratelimit-reset-requests this value.
	ResetRequests string
	// Delay is waited before answering (or until the client gives up).
	Delay time.Duration
	// Malformed answers 200 with a body that is not the JSON the API sends.
	Malformed bool
	// Truncated answers 200 with a Content-Length longer than the body it
	// sends before closing the connection.
	Truncated bool
	// Message is the error message of a Status fault.
	Message string
	// Late serves the request first (an upload is stored) and then waits
	// Delay before answering: a server whose answer is lost or late
	// although the work was done.
	Late bool

	used int
}

// Request is one recorded request.
type Request struct {
	Method, Path string
	// Query is the URL's raw query (Azure's api-version=…).
	Query string
	// Status is what the fake answered.
	Status int
	// Fault is true when an injected fault answered it.
	Fault bool
	Time  time.Time
	// Chat holds what a chat completion request asked for.
	Chat *ChatRequest
	// Body is the raw request body (multipart for uploads).
	Body []byte
}

// ChatRequest is what the fake read from a chat completion request.
type ChatRequest struct {
	Model       string
	Detail      string
	ImageWidth  int
	ImageHeight int
	ImageFormat string
	Seed        *int64
	Temperature *float64
	TopP        *float64
	// MaxTokens is the larger of max_tokens and max_completion_tokens;
	// MaxTokensParam names the one sent.
	MaxTokens       int
	MaxTokensParam  string
	ReasoningEffort string
	ResponseFormat  string
	System, Prompt  string
}

// Server is the fake API. Create it with [New].
type Server struct {
	// Key is the API key the fake accepts.
	Key string
	// Latency is added to every answer.
	Latency time.Duration
	// FailJobs makes fine-tuning jobs end in failed instead of succeeded.
	FailJobs bool
	// DenyFineTuning answers job creation with the refusal an account gets
	// when it may not fine-tune: DenyStatus (default 403) and DenyMessage
	// (default a 403's wording).
	DenyFineTuning bool
	DenyStatus     int
	DenyMessage    string
	// UploadRate, when positive, is the speed in bytes per second at which
	// the fake reads an upload's body: a slow link.
	UploadRate int64
	// MaxUploadBytes is the largest upload taken (default 512 MB).
	MaxUploadBytes int
	// ProcessPolls is how many retrievals of a file it takes to be
	// processed (default 1); negative never.
	ProcessPolls int
	// ImageModels are the base models whose jobs take training files with
	// images (default gpt-4o-2024-08-06, as OpenAI documents).
	ImageModels []string
	// ReasoningTokens is the hidden reasoning a reasoning model spends per
	// answer (default 64); an answer whose max_completion_tokens does not
	// cover it and the answer comes back empty, cut for length.
	ReasoningTokens int
	// Steps is the number of training steps a job runs (default 4).
	Steps int
	// ModerationSkips is how many image examples the job's moderation step
	// reports skipped.
	ModerationSkips int
	// Software, when set, is sent as the Server header of every answer, as
	// llama-server sends "llama.cpp".
	Software string
	// Fingerprint is the chat answers' system_fingerprint (default
	// "fp_fake").
	Fingerprint string
	// Serves, when set, are the only models the fake serves, as a vLLM or
	// Ollama server serves those it has loaded: a chat request for another
	// model is answered 404 model_not_found, as the API answers an unknown
	// model.
	Serves []string

	srv *httptest.Server
	// azure, when set, makes the fake an Azure OpenAI resource ([NewAzure]).
	azure *azureState

	mu       sync.Mutex
	faults   []*Fault
	requests []Request
	files    map[string]*file
	jobs     map[string]*job
	order    []string // job IDs, oldest first
	nextID   int
	clock    int64
	inflight int
	maxIn    int
}

type file struct {
	ID, Name, Purpose, Status, Details string
	Bytes, Lines, Images               int
	CreatedAt                          int64
	polls                              int
	content                            []byte
}

type job struct {
	obj         map[string]any
	status      string
	step        int
	events      []map[string]any // oldest first
	checkpoints []map[string]any
}

// New starts a fake server with key "sk-fake-test" and stops it when the
// test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{Key: "sk-fake-test", files: map[string]*file{}, jobs: map[string]*job{}, clock: 1_700_000_000}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL to give a client: the server's address with /v1.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv.URL + "/v1"
}

// Kill stops the server as a machine that dies does: new connections are
// refused and the open ones, with the requests on them, are cut off.
func (s *Server) Kill() {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	srv.CloseClientConnections()
	srv.Close()
}

// Restart starts a killed server again at the same address, keeping its
// state (recorded requests, faults, files, jobs).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := net.Listen("tcp", s.srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("openaitest: restart at %s: %v", s.srv.Listener.Addr(), err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	s.srv = srv
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// Verify fails t for each injected fault not used up.
func (s *Server) Verify(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.used < f.Times {
			t.Errorf("openaitest: fault %s %s status %d used %d of %d times", f.Method, f.Path, f.Status, f.used, f.Times)
		}
	}
}

// Requests returns a copy of the requests recorded so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count counts recorded requests with method and path prefix.
func (s *Server) Count(method, path string) int {
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, path) {
			n++
		}
	}
	return n
}

// InFlight is the number of requests the fake is serving now; a request is
// recorded before it stops counting here.
func (s *Server) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight
}

// MaxInFlight is the largest number of requests the fake served at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxIn
}

// JobStatus is a job's current status, "" for an unknown job.
func (s *Server) JobStatus(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[id]; ok {
		return j.status
	}
	return ""
}

// ScoreOf is the score the fake gives an image: its mean brightness (the
// mean of R, G and B over all pixels, 0..255) mapped linearly onto 1..10 and
// rounded. Tests compute expected answers with it.
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

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if s.UploadRate > 0 && r.Method == http.MethodPost && (strings.HasPrefix(r.URL.Path, "/v1/files") || strings.HasPrefix(r.URL.Path, "/openai/files")) {
		var err error
		if body, err = s.readSlowly(r); err != nil {
			s.record(Request{Method: r.Method, Path: r.URL.Path, Time: time.Now(), Status: 499})
			return
		}
	} else {
		body, _ = io.ReadAll(r.Body)
	}
	s.mu.Lock()
	s.inflight++
	s.maxIn = max(s.maxIn, s.inflight)
	fault := s.takeFault(r)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Time: time.Now(), Body: body, Fault: fault != nil}
	delay := s.Latency
	if fault != nil && !fault.Late {
		delay += fault.Delay
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			rec.Status = 499
			s.record(rec)
			return
		}
	}
	rw := &statusWriter{ResponseWriter: w}
	s.rateHeaders(w.Header(), fault)
	if s.Software != "" {
		w.Header().Set("Server", s.Software)
	}
	switch {
	case fault != nil && fault.Status != 0:
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		if fault.RetryAfterMS != "" {
			w.Header().Set("retry-after-ms", fault.RetryAfterMS)
		}
		msg := fault.Message
		if msg == "" {
			msg = http.StatusText(fault.Status)
		}
		if fault.Status == http.StatusUnauthorized && fault.Message == "" {
			msg = "Incorrect API key provided"
		}
		if s.azure != nil {
			azureError(rw, fault.Status, strconv.Itoa(fault.Status), msg)
		} else {
			apiError(rw, fault.Status, msg, errType(fault.Status), "")
		}
	case fault != nil && fault.Malformed:
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusOK)
		io.WriteString(rw, `{"id": "broken", "choices": [{"message": `)
	case fault != nil && fault.Truncated:
		rw.Header().Set("Content-Type", "application/json")
		rw.Header().Set("Content-Length", "4096")
		rw.WriteHeader(http.StatusOK)
		io.WriteString(rw, `{"id": "chatcmpl-cut", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Safety`)
	case fault != nil && fault.Late:
		// The work is done; the answer comes after Delay, or never.
		late := httptest.NewRecorder()
		if s.azure != nil {
			rec.Chat = s.routeAzure(late, r, body)
		} else {
			rec.Chat = s.route(late, r, body)
		}
		select {
		case <-time.After(fault.Delay):
		case <-r.Context().Done():
			rec.Status = 499
			s.record(rec)
			return
		}
		for k, v := range late.Header() {
			rw.Header()[k] = v
		}
		rw.WriteHeader(late.Code)
		rw.Write(late.Body.Bytes())
	case s.azure != nil:
		rec.Chat = s.routeAzure(rw, r, body)
	default:
		rec.Chat = s.route(rw, r, body)
	}
	rec.Status = rw.status
	s.record(rec)
}

// readSlowly reads an upload's body at UploadRate bytes per second, as a
// slow link delivers it; it fails when the client gives up.
func (s *Server) readSlowly(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	chunk := make([]byte, max(1024, min(64<<10, int(s.UploadRate/20))))
	start := time.Now()
	for {
		n, err := r.Body.Read(chunk)
		buf.Write(chunk[:n])
		due := time.Duration(float64(buf.Len()) / float64(s.UploadRate) * float64(time.Second))
		if wait := due - time.Since(start); wait > 0 {
			select {
			case <-time.After(wait):
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
		}
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// rateHeaders sets the x-ratelimit-* headers the API sends on every
// answer; a fault with ResetRequests reports the request limit exhausted.
func (s *Server) rateHeaders(h http.Header, f *Fault) {
	s.mu.Lock()
	n := len(s.requests)
	s.mu.Unlock()
	h.Set("x-ratelimit-limit-requests", "10000")
	h.Set("x-ratelimit-remaining-requests", strconv.Itoa(max(0, 9999-n)))
	h.Set("x-ratelimit-reset-requests", "6ms")
	h.Set("x-ratelimit-limit-tokens", "30000000")
	h.Set("x-ratelimit-remaining-tokens", strconv.Itoa(max(0, 29999000-1000*n)))
	h.Set("x-ratelimit-reset-tokens", "0s")
	if f != nil && f.ResetRequests != "" {
		h.Set("x-ratelimit-remaining-requests", "0")
		h.Set("x-ratelimit-reset-requests", f.ResetRequests)
	}
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.mu.Unlock()
}

func (s *Server) takeFault(r *http.Request) *Fault {
	for _, f := range s.faults {
		if f.used >= f.Times {
			continue
		}
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.Path) {
			f.used++
			return f
		}
	}
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func errType(status int) string {
	switch status {
	case 401:
		return "invalid_request_error"
	case 429:
		return "rate_limit_exceeded"
	case 500, 502, 503:
		return "server_error"
	}
	return "invalid_request_error"
}

// apiError writes the API's error body.
func apiError(w http.ResponseWriter, status int, msg, typ, code string) {
	apiErrorParam(w, status, msg, typ, code, "")
}

// apiErrorParam writes the API's error body naming the parameter at fault.
func apiErrorParam(w http.ResponseWriter, status int, msg, typ, code, param string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	e := map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}
	if code != "" {
		e["code"] = code
	}
	if param != "" {
		e["param"] = param
	}
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

// BaseModel is the model a name stands for: a fine-tuned model's base
// ("ft:gpt-4o-mini-2024-07-18:org::id" is gpt-4o-mini-2024-07-18).
func BaseModel(model string) string {
	if rest, ok := strings.CutPrefix(model, "ft:"); ok {
		base, _, _ := strings.Cut(rest, ":")
		return base
	}
	return model
}

// IsReasoningModel reports whether the API treats a base model as a
// reasoning model: the o-series and the gpt-5 family, which refuse
// max_tokens and any temperature or top_p but the default.
func IsReasoningModel(base string) bool {
	for _, p := range []string{"o1", "o3", "o4", "gpt-5"} {
		if base == p || strings.HasPrefix(base, p+"-") || strings.HasPrefix(base, p+".") {
			return true
		}
	}
	return false
}

// Vision reports whether a base model takes images: every model but the
// text-only ones the fake knows (o1-mini, o3-mini, gpt-3.5).
func Vision(base string) bool {
	for _, p := range []string{"o1-mini", "o3-mini", "gpt-3.5"} {
		if strings.HasPrefix(base, p) {
			return false
		}
	}
	return true
}

// strictNumberKeywords are the keywords strict mode refuses in schemas for
// fine-tuned models (and for older models in general).
var strictNumberKeywords = []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
	"minLength", "maxLength", "pattern", "format", "minItems", "maxItems", "minProperties", "maxProperties", "patternProperties"}

// checkStrictSchema checks a schema the way strict mode does: every object
// has additionalProperties false and requires all its properties, and for
// fine-tuned models none of the bound keywords appear. It returns the
// API's message, "" when the schema is accepted.
func checkStrictSchema(v map[string]any, fineTuned bool, path []string) string {
	ctx := func() string {
		if len(path) == 0 {
			return "In context=()"
		}
		q := make([]string, len(path))
		for i, p := range path {
			q[i] = "'" + p + "'"
		}
		return "In context=(" + strings.Join(q, ", ") + ")"
	}
	if fineTuned {
		for _, k := range strictNumberKeywords {
			if _, ok := v[k]; ok {
				return fmt.Sprintf("%s, '%s' is not permitted.", ctx(), k)
			}
		}
	}
	if v["type"] == "object" {
		if ap, ok := v["additionalProperties"]; !ok || ap != false {
			return fmt.Sprintf("%s, 'additionalProperties' is required to be supplied and to be false.", ctx())
		}
		props, _ := v["properties"].(map[string]any)
		req := map[string]bool{}
		if list, ok := v["required"].([]any); ok {
			for _, r := range list {
				if name, ok := r.(string); ok {
					req[name] = true
				}
			}
		}
		names := make([]string, 0, len(props))
		for k := range props {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if !req[k] {
				return fmt.Sprintf("%s, 'required' is required to be supplied and to be an array including every key in properties. Missing '%s'.", ctx(), k)
			}
		}
		for _, k := range names {
			sub, ok := props[k].(map[string]any)
			if !ok {
				continue
			}
			if msg := checkStrictSchema(sub, fineTuned, append(slices.Clip(path), "properties", k)); msg != "" {
				return msg
			}
		}
	}
	if items, ok := v["items"].(map[string]any); ok {
		return checkStrictSchema(items, fineTuned, append(slices.Clip(path), "items"))
	}
	return ""
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) *ChatRequest {
	if s.Key == "" {
		// A server that needs no key (llama-server, vLLM, Ollama) takes
		// requests with or without one.
	} else if r.Header.Get("Authorization") != "Bearer "+s.Key {
		apiError(w, http.StatusUnauthorized, "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key")
		return nil
	}
	p := strings.TrimSuffix(r.URL.Path, "/")
	parts := strings.Split(strings.TrimPrefix(p, "/v1/"), "/")
	switch {
	case p == "/v1/chat/completions" && r.Method == http.MethodPost:
		return s.chat(w, body)
	case p == "/v1/files" && r.Method == http.MethodPost:
		s.upload(w, r, body)
	case p == "/v1/files" && r.Method == http.MethodGet:
		s.listFiles(w, r)
	case len(parts) == 2 && parts[0] == "files" && r.Method == http.MethodGet:
		s.getFile(w, parts[1])
	case p == "/v1/fine_tuning/jobs" && r.Method == http.MethodPost:
		s.createJob(w, body)
	case p == "/v1/fine_tuning/jobs" && r.Method == http.MethodGet:
		s.listJobs(w, r)
	case len(parts) >= 3 && parts[0] == "fine_tuning" && parts[1] == "jobs":
		s.jobEndpoint(w, r, parts[2], parts[3:])
	default:
		apiError(w, http.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), "invalid_request_error", "")
	}
	return nil
}

// --- chat completions ---

type wirePart struct {
	Type     string  `json:"type"`
	Text     *string `json:"text"`
	ImageURL *struct {
		URL    string `json:"url"`
		Detail string `json:"detail"`
	} `json:"image_url"`
}

type wireMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type wireChat struct {
	Model               string        `json:"model"`
	Messages            []wireMessage `json:"messages"`
	MaxTokens           *int          `json:"max_tokens"`
	MaxCompletionTokens *int          `json:"max_completion_tokens"`
	Temperature         *float64      `json:"temperature"`
	TopP                *float64      `json:"top_p"`
	ReasoningEffort     string        `json:"reasoning_effort"`
	Seed                *int64        `json:"seed"`
	ResponseFormat      *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
			Strict bool            `json:"strict"`
		} `json:"json_schema"`
	} `json:"response_format"`
}

func (s *Server) chat(w http.ResponseWriter, body []byte) *ChatRequest {
	var req wireChat
	if err := json.Unmarshal(body, &req); err != nil {
		apiError(w, 400, "We could not parse the JSON body of your request: "+err.Error(), "invalid_request_error", "")
		return nil
	}
	cr := &ChatRequest{Model: req.Model, Seed: req.Seed, Temperature: req.Temperature, TopP: req.TopP, ReasoningEffort: req.ReasoningEffort}
	switch {
	case req.MaxTokens != nil && req.MaxCompletionTokens != nil:
		cr.MaxTokensParam = "both"
		cr.MaxTokens = max(*req.MaxTokens, *req.MaxCompletionTokens)
	case req.MaxTokens != nil:
		cr.MaxTokensParam, cr.MaxTokens = "max_tokens", *req.MaxTokens
	case req.MaxCompletionTokens != nil:
		cr.MaxTokensParam, cr.MaxTokens = "max_completion_tokens", *req.MaxCompletionTokens
	}
	bad := func(msg string) *ChatRequest {
		apiError(w, 400, msg, "invalid_request_error", "")
		return cr
	}
	badParam := func(code, param, msg string) *ChatRequest {
		apiErrorParam(w, 400, msg, "invalid_request_error", code, param)
		return cr
	}
	if req.Model == "" {
		return bad("you must provide a model parameter")
	}
	if strings.HasPrefix(req.Model, "missing") || (len(s.Serves) > 0 && !slices.Contains(s.Serves, req.Model)) {
		apiError(w, 404, fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.Model), "invalid_request_error", "model_not_found")
		return cr
	}
	if len(req.Messages) == 0 {
		return bad("[] is too short - 'messages'")
	}
	if req.Temperature != nil && (*req.Temperature < 0 || *req.Temperature > 2) {
		return bad("Invalid 'temperature': must be between 0 and 2")
	}
	base := BaseModel(req.Model)
	reasoning := IsReasoningModel(base)
	if cr.MaxTokensParam == "both" {
		return badParam("invalid_request_error", "max_tokens", "max_tokens and max_completion_tokens cannot both be set. Use max_completion_tokens.")
	}
	if reasoning {
		if req.MaxTokens != nil {
			return badParam("unsupported_parameter", "max_tokens", "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.")
		}
		if t := req.Temperature; t != nil && *t != 1 {
			return badParam("unsupported_value", "temperature", fmt.Sprintf("Unsupported value: 'temperature' does not support %v with this model. Only the default (1) value is supported.", *t))
		}
		if t := req.TopP; t != nil && *t != 1 {
			return badParam("unsupported_value", "top_p", fmt.Sprintf("Unsupported value: 'top_p' does not support %v with this model. Only the default (1) value is supported.", *t))
		}
		switch e := req.ReasoningEffort; {
		case e == "", e == "low", e == "medium", e == "high":
		case e == "minimal" && strings.HasPrefix(base, "gpt-5"):
		default:
			return badParam("unsupported_value", "reasoning_effort", fmt.Sprintf("Unsupported value: 'reasoning_effort' does not support '%s' with this model. Supported values are: 'low', 'medium', and 'high'.", e))
		}
	} else if req.ReasoningEffort != "" {
		return badParam("unsupported_parameter", "reasoning_effort", "Unsupported parameter: 'reasoning_effort' is not supported with this model.")
	}
	var img image.Image
	promptChars := 0
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "developer", "user", "assistant":
		default:
			return bad(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'tool', 'developer'. ('messages[%d].role')", m.Role, i))
		}
		var text string
		if err := json.Unmarshal(m.Content, &text); err == nil {
			promptChars += len(text)
			if m.Role == "system" {
				cr.System = text
			} else if m.Role == "user" {
				cr.Prompt = text
			}
			continue
		}
		var parts []wirePart
		if err := json.Unmarshal(m.Content, &parts); err != nil || len(parts) == 0 {
			return bad(fmt.Sprintf("Invalid type for 'messages[%d].content': expected a string or an array of content parts", i))
		}
		for j, p := range parts {
			switch p.Type {
			case "text":
				if p.Text == nil {
					return bad(fmt.Sprintf("Missing required parameter: 'messages[%d].content[%d].text'.", i, j))
				}
				promptChars += len(*p.Text)
				if m.Role == "user" {
					cr.Prompt = *p.Text
				}
			case "image_url":
				if !Vision(base) {
					return badParam("invalid_value", fmt.Sprintf("messages[%d].content[%d].type", i, j), "Invalid content type. image_url is only supported by certain models.")
				}
				if m.Role != "user" {
					return bad(fmt.Sprintf("Invalid 'messages[%d]'. Image URLs are only allowed for messages with role 'user'", i))
				}
				if p.ImageURL == nil || p.ImageURL.URL == "" {
					return bad(fmt.Sprintf("Missing required parameter: 'messages[%d].content[%d].image_url.url'.", i, j))
				}
				switch p.ImageURL.Detail {
				case "", "low", "high", "auto":
				default:
					return bad(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'low', 'high', and 'auto'. ('messages[%d].content[%d].image_url.detail')", p.ImageURL.Detail, i, j))
				}
				cr.Detail = p.ImageURL.Detail
				im, format, msg := decodeDataURL(p.ImageURL.URL)
				if msg != "" {
					return bad(msg)
				}
				img, cr.ImageFormat = im, format
				cr.ImageWidth, cr.ImageHeight = im.Bounds().Dx(), im.Bounds().Dy()
			default:
				return bad(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', 'audio', and 'file'. ('messages[%d].content[%d].type')", p.Type, i, j))
			}
		}
	}
	score := 5
	if img != nil {
		score = ScoreOf(img)
	}
	answer := fmt.Sprintf("Safety score: %d/10", score)
	if rf := req.ResponseFormat; rf != nil {
		cr.ResponseFormat = rf.Type
		switch rf.Type {
		case "", "text":
		case "json_object":
			answer = fmt.Sprintf(`{"score": %d, "reason": "mean brightness"}`, score)
		case "json_schema":
			if rf.JSONSchema == nil || rf.JSONSchema.Name == "" {
				return bad("Missing required parameter: 'response_format.json_schema.name'.")
			}
			var schema map[string]any
			if err := json.Unmarshal(rf.JSONSchema.Schema, &schema); err != nil || schema["type"] != "object" {
				return bad("Invalid schema for response_format '" + rf.JSONSchema.Name + "': schema must be a JSON Schema of 'type: \"object\"'")
			}
			if rf.JSONSchema.Strict {
				if msg := checkStrictSchema(schema, strings.HasPrefix(req.Model, "ft:"), nil); msg != "" {
					return badParam("invalid_json_schema", "response_format", "Invalid schema for response_format '"+rf.JSONSchema.Name+"': "+msg)
				}
			}
			answer = fmt.Sprintf(`{"score":%d,"reason":"mean brightness"}`, score)
		default:
			return bad(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'json_object', 'json_schema', and 'text'.", rf.Type))
		}
	}
	reasoningTokens := 0
	if reasoning {
		reasoningTokens = s.ReasoningTokens
		if reasoningTokens <= 0 {
			reasoningTokens = 64
		}
	}
	finish := "stop"
	switch {
	case reasoning && cr.MaxTokens > 0 && cr.MaxTokens < reasoningTokens+len(answer)/4+1:
		// The budget went on reasoning: nothing visible is left.
		answer, finish, reasoningTokens = "", "length", cr.MaxTokens
	case cr.MaxTokens > 0 && cr.MaxTokens < 3:
		answer, finish = answer[:min(len(answer), 4*cr.MaxTokens)], "length"
	}
	prompt := promptChars/4 + 1
	if img != nil {
		prompt += ImageTokens(cr.Detail, cr.ImageWidth, cr.ImageHeight)
	}
	completion := reasoningTokens
	if answer != "" {
		completion += len(answer)/4 + 1
	}
	s.mu.Lock()
	s.nextID++
	id := fmt.Sprintf("chatcmpl-fake%d", s.nextID)
	s.mu.Unlock()
	fingerprint := s.Fingerprint
	if fingerprint == "" {
		fingerprint = "fp_fake"
	}
	writeJSON(w, map[string]any{
		"id": id, "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model + "-fake",
		"system_fingerprint": fingerprint,
		"choices": []any{map[string]any{"index": 0, "finish_reason": finish,
			"message": map[string]any{"role": "assistant", "content": answer, "refusal": nil}}},
		"usage": map[string]any{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
			"completion_tokens_details": map[string]any{"reasoning_tokens": reasoningTokens}},
	})
	return cr
}

// ImageTokens is the fake's count of an image's prompt tokens: the GPT-4o
// formula (85 for low detail; for high or auto, fit within 2048×2048, then
// the short side to 768, and 85 + 170 per 512-pixel tile).
func ImageTokens(detail string, w, h int) int {
	if detail == "low" {
		return 85
	}
	fw, fh := float64(w), float64(h)
	if m := math.Max(fw, fh); m > 2048 {
		fw, fh = fw*2048/m, fh*2048/m
	}
	if m := math.Min(fw, fh); m > 768 {
		fw, fh = fw*768/m, fh*768/m
	}
	tiles := int(math.Ceil(fw/512)) * int(math.Ceil(fh/512))
	return 85 + 170*tiles
}

func decodeDataURL(u string) (image.Image, string, string) {
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		return nil, "", "Timeout while downloading " + u + "."
	}
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return nil, "", "Invalid 'image_url.url'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,...'), but got a value without the 'data:' prefix."
	}
	meta, data, ok := strings.Cut(rest, ",")
	mime, enc, _ := strings.Cut(meta, ";")
	if !ok || enc != "base64" {
		return nil, "", "Invalid 'image_url.url'. Expected a base64-encoded data URL."
	}
	switch mime {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
	default:
		return nil, "", fmt.Sprintf("Invalid MIME type %q. Only image types are supported: image/jpeg, image/png, image/gif, image/webp.", mime)
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, "", "Invalid base64 image_url."
	}
	img, format, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, "", "You uploaded an unsupported image. Please make sure your image is valid."
	}
	if "image/"+format != mime {
		return nil, "", fmt.Sprintf("The image data is %s but the data URL says %s.", format, mime)
	}
	return img, format, ""
}

// --- files ---

func (s *Server) upload(w http.ResponseWriter, r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := r.ParseMultipartForm(64 << 20); err != nil {
		apiError(w, 400, "Invalid multipart body: "+err.Error(), "invalid_request_error", "")
		return
	}
	purpose := r.FormValue("purpose")
	switch purpose {
	case "fine-tune", "batch", "assistants", "vision", "user_data":
	case "":
		apiError(w, 400, "Missing required parameter: 'purpose'.", "invalid_request_error", "")
		return
	default:
		apiError(w, 400, fmt.Sprintf("Invalid value for 'purpose': '%s'.", purpose), "invalid_request_error", "")
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		apiError(w, 400, "Missing required parameter: 'file'.", "invalid_request_error", "")
		return
	}
	defer f.Close()
	content, _ := io.ReadAll(f)
	limit := s.MaxUploadBytes
	if limit <= 0 {
		limit = 512 << 20
	}
	if len(content) > limit {
		apiErrorParam(w, 400, fmt.Sprintf("File is too large: %d bytes. The maximum file size is %d bytes.", len(content), limit), "invalid_request_error", "file_too_large", "file")
		return
	}
	if purpose == "fine-tune" && !strings.HasSuffix(strings.ToLower(hdr.Filename), ".jsonl") {
		apiErrorParam(w, 400, "Invalid file format for Fine-Tuning API. Must be .jsonl", "invalid_request_error", "invalid_file_format", "file")
		return
	}
	fl := &file{Name: hdr.Filename, Purpose: purpose, Status: "uploaded", Bytes: len(content), content: content}
	if purpose == "fine-tune" {
		fl.Lines, fl.Images, fl.Details = checkTrainingFile(content)
	}
	s.mu.Lock()
	s.nextID++
	fl.ID = fmt.Sprintf("file-fake%d", s.nextID)
	s.clock++
	fl.CreatedAt = s.clock
	s.files[fl.ID] = fl
	out := fl.object()
	s.mu.Unlock()
	writeJSON(w, out)
}

// checkTrainingFile checks a fine-tuning JSONL file the way the API's file
// processing does (every line a chat example ending with an assistant
// message) and counts its examples and images.
func checkTrainingFile(b []byte) (lines, images int, problem string) {
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ex struct {
			Messages []wireMessage `json:"messages"`
		}
		if err := json.Unmarshal(line, &ex); err != nil || len(ex.Messages) == 0 {
			return lines, images, fmt.Sprintf("Invalid file format. Line %d is not a chat example.", i+1)
		}
		if ex.Messages[len(ex.Messages)-1].Role != "assistant" {
			return lines, images, fmt.Sprintf("Invalid file format. Example %d has no assistant message last.", i+1)
		}
		images += bytes.Count(line, []byte(`"image_url"`))
		lines++
	}
	if lines == 0 {
		return 0, 0, "Invalid file format. The file is empty."
	}
	return lines, images, ""
}

func (f *file) object() map[string]any {
	return map[string]any{"id": f.ID, "object": "file", "bytes": f.Bytes, "created_at": f.CreatedAt,
		"filename": f.Name, "purpose": f.Purpose, "status": f.Status, "status_details": f.Details}
}

func (s *Server) getFile(w http.ResponseWriter, id string) {
	s.mu.Lock()
	f, ok := s.files[id]
	if ok {
		f.polls++
		need := s.ProcessPolls
		if need == 0 {
			need = 1
		}
		if f.Status == "uploaded" && need > 0 && f.polls >= need {
			f.Status = "processed"
			if f.Details != "" {
				f.Status = "error"
			}
		}
	}
	var out map[string]any
	if ok {
		out = f.object()
	}
	s.mu.Unlock()
	if !ok {
		apiError(w, 404, "No such File object: "+id, "invalid_request_error", "")
		return
	}
	writeJSON(w, out)
}

// --- fine-tuning jobs ---

type wireJob struct {
	Model           string          `json:"model"`
	TrainingFile    string          `json:"training_file"`
	ValidationFile  string          `json:"validation_file"`
	Suffix          string          `json:"suffix"`
	Seed            *int64          `json:"seed"`
	Hyperparameters json.RawMessage `json:"hyperparameters"`
	Method          *struct {
		Type       string `json:"type"`
		Supervised *struct {
			Hyperparameters json.RawMessage `json:"hyperparameters"`
		} `json:"supervised"`
	} `json:"method"`
}

func (s *Server) createJob(w http.ResponseWriter, body []byte) {
	var req wireJob
	if err := json.Unmarshal(body, &req); err != nil {
		apiError(w, 400, "We could not parse the JSON body of your request.", "invalid_request_error", "")
		return
	}
	if s.DenyFineTuning {
		status, msg := s.DenyStatus, s.DenyMessage
		if status == 0 {
			status = 403
		}
		if msg == "" {
			msg = "You do not have access to fine-tuning. Fine-tuning is not available to new accounts."
		}
		apiError(w, status, msg, "invalid_request_error", "")
		return
	}
	if req.Model == "" {
		apiError(w, 400, "Missing required parameter: 'model'.", "invalid_request_error", "")
		return
	}
	if strings.HasPrefix(req.Model, "missing") || (len(s.Serves) > 0 && !slices.Contains(s.Serves, req.Model)) {
		apiError(w, 404, fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.Model), "invalid_request_error", "model_not_found")
		return
	}
	hp := json.RawMessage(`{"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8}`)
	method := map[string]any{"type": "supervised"}
	if len(req.Hyperparameters) > 0 && req.Method != nil {
		apiError(w, 400, "Hyperparameters must be given either in 'method' or at the top level, not both.", "invalid_request_error", "")
		return
	}
	if req.Method != nil {
		if req.Method.Type != "supervised" || req.Method.Supervised == nil {
			apiError(w, 400, "Invalid 'method': expected type 'supervised' with a 'supervised' object.", "invalid_request_error", "")
			return
		}
		if len(req.Method.Supervised.Hyperparameters) > 0 {
			hp = mergeHP(hp, req.Method.Supervised.Hyperparameters)
		}
	} else if len(req.Hyperparameters) > 0 {
		hp = mergeHP(hp, req.Hyperparameters)
	}
	if msg, param := checkJobRanges(req, hp); msg != "" {
		apiErrorParam(w, 400, msg, "invalid_request_error", "invalid_value", param)
		return
	}
	method["supervised"] = map[string]any{"hyperparameters": hp}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fid := range []string{req.TrainingFile, req.ValidationFile} {
		if fid == "" && req.TrainingFile != "" {
			continue // no validation file
		}
		f, ok := s.files[fid]
		switch {
		case !ok:
			apiError(w, 400, fmt.Sprintf("invalid training_file: %s", fid), "invalid_request_error", "invalid_file")
			return
		case f.Purpose != "fine-tune":
			apiError(w, 400, fmt.Sprintf("File %s has purpose %s, not fine-tune.", fid, f.Purpose), "invalid_request_error", "")
			return
		case f.Status != "processed":
			apiError(w, 400, fmt.Sprintf("File %s is not ready (status %s).", fid, f.Status), "invalid_request_error", "file_not_ready")
			return
		}
	}
	s.nextID++
	id := fmt.Sprintf("ftjob-fake%d", s.nextID)
	s.clock++
	seed := int64(s.nextID)
	if req.Seed != nil {
		seed = *req.Seed
	}
	j := &job{status: "validating_files"}
	j.obj = map[string]any{"id": id, "object": "fine_tuning.job", "created_at": s.clock, "model": req.Model,
		"training_file": req.TrainingFile, "validation_file": nilIfEmpty(req.ValidationFile), "suffix": nilIfEmpty(req.Suffix),
		"hyperparameters": hp, "method": method, "seed": seed, "organization_id": "org-fake",
		"result_files": []string{}, "fine_tuned_model": nil, "finished_at": nil, "trained_tokens": nil, "error": nil,
		"estimated_finish": nil}
	s.jobs[id] = j
	s.order = append(s.order, id)
	s.event(j, "info", "message", "Validating training file: "+req.TrainingFile, nil)
	writeJSON(w, j.view())
}

// checkJobRanges checks a job's suffix, seed and hyperparameters against the
// API's ranges; it returns the API's message and the parameter at fault.
func checkJobRanges(req wireJob, hp json.RawMessage) (string, string) {
	if n := len([]rune(req.Suffix)); n > 64 {
		return fmt.Sprintf("Invalid 'suffix': string too long. Expected a string with maximum length 64, but got a string with length %d instead.", n), "suffix"
	}
	if req.Seed != nil {
		if *req.Seed < 0 {
			return fmt.Sprintf("Invalid 'seed': integer below minimum value. Expected a value >= 0, but got %d instead.", *req.Seed), "seed"
		}
		if *req.Seed > 1<<31-1 {
			return fmt.Sprintf("Invalid 'seed': integer above maximum value. Expected a value <= 2147483647, but got %d instead.", *req.Seed), "seed"
		}
	}
	var h map[string]any
	json.Unmarshal(hp, &h)
	for _, r := range []struct {
		name     string
		min, max float64
		open     bool // min excluded
	}{{"n_epochs", 1, 50, false}, {"batch_size", 1, 256, false}, {"learning_rate_multiplier", 0, math.Inf(1), true}} {
		v, ok := h[r.name].(float64)
		if !ok {
			continue
		}
		param := "hyperparameters." + r.name
		switch {
		case r.open && v <= r.min:
			return fmt.Sprintf("Invalid '%s': number below minimum value. Expected a value > %v, but got %v instead.", param, r.min, v), param
		case !r.open && v < r.min:
			return fmt.Sprintf("Invalid '%s': integer below minimum value. Expected a value >= %v, but got %v instead.", param, r.min, v), param
		case v > r.max:
			return fmt.Sprintf("Invalid '%s': integer above maximum value. Expected a value <= %v, but got %v instead.", param, r.max, v), param
		case !r.open && v != math.Trunc(v):
			return fmt.Sprintf("Invalid '%s': expected an integer, but got %v instead.", param, v), param
		}
	}
	return "", ""
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func mergeHP(base, over json.RawMessage) json.RawMessage {
	var b, o map[string]any
	json.Unmarshal(base, &b)
	json.Unmarshal(over, &o)
	for k, v := range o {
		if v != "auto" {
			b[k] = v
		}
	}
	out, _ := json.Marshal(b)
	return out
}

// floatNumber is n written as the API writes counts it keeps as floats.
func floatNumber(n int) json.Number { return json.Number(strconv.Itoa(n) + ".0") }

// validateTrainingFile checks a fine-tuning file's examples as the job's
// validating_files step does: every line a chat example whose roles are
// known and whose last message is the assistant's; at most 10 images per
// example, each a base64 JPEG, PNG or WebP of at most 10 MB in RGB or
// RGBA; images only for models that take them; at least 10 examples in a
// training file. It returns what is wrong, "" when nothing is.
func (s *Server) validateTrainingFile(b []byte, model string, training bool) string {
	imageModels := s.ImageModels
	if imageModels == nil {
		imageModels = []string{"gpt-4o-2024-08-06"}
	}
	n := 0
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n++
		var ex struct {
			Messages []wireMessage `json:"messages"`
		}
		if err := json.Unmarshal(line, &ex); err != nil || len(ex.Messages) == 0 {
			return fmt.Sprintf("Line %d is not a chat example.", i+1)
		}
		images := 0
		for k, m := range ex.Messages {
			switch m.Role {
			case "system", "developer", "user", "assistant":
			default:
				return fmt.Sprintf("Example %d, message %d: invalid role '%s'.", i+1, k+1, m.Role)
			}
			var parts []wirePart
			if json.Unmarshal(m.Content, &parts) != nil {
				continue
			}
			for _, p := range parts {
				if p.Type != "image_url" {
					continue
				}
				images++
				if !slices.Contains(imageModels, BaseModel(model)) {
					return fmt.Sprintf("Example %d contains images, but the model %s does not support images in fine-tuning.", i+1, model)
				}
				if m.Role != "user" {
					return fmt.Sprintf("Example %d, message %d: images are only allowed in user messages.", i+1, k+1)
				}
				if p.ImageURL == nil {
					return fmt.Sprintf("Example %d, message %d: image_url has no url.", i+1, k+1)
				}
				if msg := checkTrainingImage(p.ImageURL.URL); msg != "" {
					return fmt.Sprintf("Example %d, message %d: %s", i+1, k+1, msg)
				}
			}
		}
		if images > 10 {
			return fmt.Sprintf("Example %d has %d images; the maximum is 10 images per example.", i+1, images)
		}
		if ex.Messages[len(ex.Messages)-1].Role != "assistant" {
			return fmt.Sprintf("Example %d has no assistant message last.", i+1)
		}
	}
	if training && n < 10 {
		return fmt.Sprintf("Training file has %d example(s), but must have at least 10 examples.", n)
	}
	return ""
}

// checkTrainingImage checks one image of a fine-tuning example.
func checkTrainingImage(u string) string {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return "Image is not a base64 data URL."
	}
	meta, data, _ := strings.Cut(rest, ",")
	mime, _, _ := strings.Cut(meta, ";")
	switch mime {
	case "image/jpeg", "image/png", "image/webp":
	default:
		return fmt.Sprintf("Image format %s is not supported; use JPEG, PNG or WebP.", mime)
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return "Image is not valid base64."
	}
	if len(raw) > 10<<20 {
		return "Image is larger than 10 MB."
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return "Image could not be decoded."
	}
	switch cfg.ColorModel {
	case color.RGBAModel, color.RGBA64Model, color.NRGBAModel, color.NRGBA64Model, color.YCbCrModel, color.NYCbCrAModel:
		return ""
	}
	return "Image is not in RGB or RGBA mode."
}

func (j *job) view() map[string]any {
	out := make(map[string]any, len(j.obj)+1)
	for k, v := range j.obj {
		out[k] = v
	}
	out["status"] = j.status
	return out
}

// event appends an event; the caller holds s.mu.
func (s *Server) event(j *job, level, typ, msg string, data any) {
	s.clock++
	s.nextID++
	e := map[string]any{"object": "fine_tuning.job.event", "id": fmt.Sprintf("ftevent-fake%d", s.nextID),
		"created_at": s.clock, "level": level, "message": msg, "type": typ, "data": data}
	j.events = append(j.events, e)
}

// advance moves a job one state on; the caller holds s.mu.
func (s *Server) advance(j *job) {
	steps := s.Steps
	if steps <= 0 {
		steps = 4
	}
	switch j.status {
	case "validating_files":
		for _, key := range []string{"training_file", "validation_file"} {
			id, _ := j.obj[key].(string)
			f := s.files[id]
			if f == nil {
				continue
			}
			if msg := s.validateTrainingFile(f.content, j.obj["model"].(string), key == "training_file"); msg != "" {
				s.clock++
				j.status = "failed"
				j.obj["finished_at"] = s.clock
				j.obj["error"] = map[string]any{"code": "invalid_" + key, "param": key,
					"message": fmt.Sprintf("The job failed due to an invalid %s file. %s", strings.ReplaceAll(key, "_file", ""), msg)}
				s.event(j, "error", "message", fmt.Sprintf("%s %s is invalid: %s", key, id, msg), nil)
				return
			}
		}
		j.status = "queued"
		s.event(j, "info", "message", "Files validated, moving job to queued state", nil)
	case "queued":
		j.status = "running"
		s.event(j, "info", "message", "Fine-tuning job started", nil)
		if s.ModerationSkips > 0 {
			s.event(j, "warn", "message", fmt.Sprintf("%d examples were skipped: their images were flagged by moderation (people, faces, children or CAPTCHAs are not allowed)", s.ModerationSkips), nil)
		}
	case "running":
		if j.step < steps {
			j.step++
			loss := 2.0 / float64(j.step)
			// The API writes step counts as floats ("step": 88.0).
			data := map[string]any{"step": floatNumber(j.step), "total_steps": floatNumber(steps), "train_loss": loss, "train_mean_token_accuracy": 0.5 + 0.1*float64(j.step)}
			if j.step%2 == 0 {
				data["valid_loss"] = loss * 1.1
			}
			s.event(j, "info", "metrics", fmt.Sprintf("Step %d/%d: training loss=%.4f", j.step, steps, loss), data)
			if j.step%2 == 0 {
				s.nextID++
				j.checkpoints = append(j.checkpoints, map[string]any{"object": "fine_tuning.job.checkpoint",
					"id": fmt.Sprintf("ftckpt-fake%d", s.nextID), "created_at": s.clock, "fine_tuning_job_id": j.obj["id"],
					"fine_tuned_model_checkpoint": fmt.Sprintf("ft:%s:org-fake::%s:ckpt-step-%d", j.obj["model"], j.obj["id"], j.step),
					"step_number":                 floatNumber(j.step), "metrics": data})
			}
			return
		}
		s.clock++
		j.obj["finished_at"] = s.clock
		if s.FailJobs {
			j.status = "failed"
			j.obj["error"] = map[string]any{"code": "invalid_training_file", "message": "The job failed due to an invalid training file.", "param": "training_file"}
			s.event(j, "error", "message", "The job failed due to an invalid training file.", nil)
			return
		}
		j.status = "succeeded"
		suffix, _ := j.obj["suffix"].(string)
		j.obj["fine_tuned_model"] = fmt.Sprintf("ft:%s:org-fake:%s:%s", j.obj["model"], suffix, strings.TrimPrefix(j.obj["id"].(string), "ftjob-"))
		if s.azure != nil {
			j.obj["fine_tuned_model"] = azureModelName(j.obj["model"].(string), j.obj["id"].(string))
		}
		j.obj["trained_tokens"] = 1234 * steps
		j.obj["result_files"] = []string{"file-result-" + j.obj["id"].(string)}
		s.event(j, "info", "message", "New fine-tuned model created", nil)
		s.event(j, "info", "message", "The job has successfully completed", nil)
	}
}

func (s *Server) jobEndpoint(w http.ResponseWriter, r *http.Request, id string, rest []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		apiError(w, 404, "No such fine-tuning job: "+id, "invalid_request_error", "")
		return
	}
	sub := strings.Join(rest, "/")
	switch {
	case sub == "" && r.Method == http.MethodGet:
		s.advance(j)
		writeJSON(w, j.view())
	case sub == "cancel" && r.Method == http.MethodPost:
		switch j.status {
		case "succeeded", "failed", "cancelled":
			apiError(w, 400, "Job has already completed: status "+j.status, "invalid_request_error", "")
			return
		}
		j.status = "cancelled"
		s.event(j, "info", "message", "Fine-tuning job cancelled", nil)
		writeJSON(w, j.view())
	case sub == "events" && r.Method == http.MethodGet:
		s.advance(j)
		list := make([]any, 0, len(j.events))
		for i := len(j.events) - 1; i >= 0; i-- { // newest first
			list = append(list, j.events[i])
		}
		writeJSON(w, page(list, r))
	case sub == "checkpoints" && r.Method == http.MethodGet:
		list := make([]any, 0, len(j.checkpoints))
		for i := len(j.checkpoints) - 1; i >= 0; i-- {
			list = append(list, j.checkpoints[i])
		}
		writeJSON(w, page(list, r))
	default:
		apiError(w, 404, fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), "invalid_request_error", "")
	}
}

// page applies the after and limit query parameters to a newest-first list.
func page(list []any, r *http.Request) map[string]any {
	if after := r.URL.Query().Get("after"); after != "" {
		for i, e := range list {
			if e.(map[string]any)["id"] == after {
				list = list[i+1:]
				break
			}
		}
	}
	limit := 20
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 {
		limit = l
	}
	more := len(list) > limit
	if more {
		list = list[:limit]
	}
	return map[string]any{"object": "list", "data": list, "has_more": more}
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]any, 0, len(s.order))
	for i := len(s.order) - 1; i >= 0; i-- {
		list = append(list, s.jobs[s.order[i]].view())
	}
	writeJSON(w, page(list, r))
}
