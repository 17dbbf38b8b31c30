package anthropicclient

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/bmp"

	"github.com/vlmcmp/vlmcmp/anthropicclient/anthropictest"
	"github.com/vlmcmp/vlmcmp/llm"
)

// grayPNG is a w×h PNG of one gray level.
func grayPNG(t testing.TB, w, h int, level uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = level
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// newPredictor returns a predictor for the fake with cfg's other settings,
// logging into logs.
func newPredictor(t *testing.T, srv *anthropictest.Server, cfg Config, logs *bytes.Buffer) *Predictor {
	t.Helper()
	if cfg.Model == "" {
		cfg.Model = "claude-sonnet-5-5"
	}
	if cfg.APIKey == "" && cfg.APIKeyFile == "" {
		cfg.APIKey = srv.Key
	}
	cfg.BaseURL = srv.URL()
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	p, err := NewPredictor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func request(t testing.TB, level uint8) *llm.Request {
	return &llm.Request{ID: "street/1.png", ImagePath: "street/1.png", Image: grayPNG(t, 64, 48, level),
		Prompt: "Rate the perceived safety of this street from 1 to 10.", System: "You rate street photos."}
}

func TestPredictScoredAnswer(t *testing.T) {
	srv := anthropictest.New(t)
	p := newPredictor(t, srv, Config{}, nil)
	pred, err := p.Predict(t.Context(), request(t, 200))
	if err != nil {
		t.Fatal(err)
	}
	img, _, _ := image.Decode(bytes.NewReader(grayPNG(t, 64, 48, 200)))
	want := float64(anthropictest.ScoreOf(img))
	if pred.Score == nil || *pred.Score != want {
		t.Fatalf("score = %v (%q, %s), want %v", pred.Score, pred.Text, pred.ScoreError, want)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Status != 200 || r.Model != "claude-sonnet-5-5" || r.MaxTokens != DefaultMaxTokens || r.MediaType != "image/png" ||
		r.System != "You rate street photos." || !strings.HasPrefix(r.Prompt, "Rate the perceived") || r.Version != APIVersion || r.Auth == "" {
		t.Fatalf("the fake got %+v", r)
	}
	wantIn := anthropictest.TextTokens(r.System) + anthropictest.TextTokens(r.Prompt) + anthropictest.ImageTokens(64, 48)
	if pred.Usage.PromptTokens != wantIn || pred.Usage.CompletionTokens != anthropictest.TextTokens(pred.Text) {
		t.Fatalf("usage = %+v, want %d prompt tokens and %d completion tokens", pred.Usage, wantIn, anthropictest.TextTokens(pred.Text))
	}
	// Claude Sonnet 5.5: $2 input, $10 output per million tokens.
	wantCost := (float64(pred.Usage.PromptTokens)*2 + float64(pred.Usage.CompletionTokens)*10) / 1e6
	if math.Abs(pred.CostUSD-wantCost) > 1e-12 || pred.CostUSD == 0 {
		t.Fatalf("cost = %v, want %v", pred.CostUSD, wantCost)
	}
	if pred.Backend != "anthropic" || pred.Model != "claude-sonnet-5-5" || !strings.HasPrefix(pred.ResponseID, "msg_") ||
		pred.Latency <= 0 || pred.Server == nil || pred.Server.URL != srv.URL() {
		t.Fatalf("prediction = %+v", pred)
	}
}

func TestUnparseableAnswerKeptVerbatim(t *testing.T) {
	srv := anthropictest.New(t)
	srv.Answer = func(*anthropictest.Request) string { return "I cannot tell from this photo." }
	p := newPredictor(t, srv, Config{}, nil)
	pred, err := p.Predict(t.Context(), request(t, 100))
	if err != nil {
		t.Fatal(err)
	}
	if pred.Score != nil || pred.ScoreError == "" || pred.Text != "I cannot tell from this photo." {
		t.Fatalf("prediction = %+v, want the text verbatim and no score", pred)
	}
}

func TestRetries429And529HonourRetryAfter(t *testing.T) {
	srv := anthropictest.New(t)
	srv.Inject(anthropictest.Fault{Status: 429, RetryAfter: 600 * time.Millisecond})
	srv.Inject(anthropictest.Fault{Status: 529, RetryAfter: 400 * time.Millisecond})
	var logs bytes.Buffer
	p := newPredictor(t, srv, Config{}, &logs)
	pred, err := p.Predict(t.Context(), request(t, 50))
	if err != nil {
		t.Fatal(err)
	}
	if pred.Score == nil {
		t.Fatalf("no score: %+v", pred)
	}
	srv.Verify(t)
	reqs := srv.Requests()
	if len(reqs) != 3 || reqs[0].Status != 429 || reqs[1].Status != 529 || reqs[2].Status != 200 {
		t.Fatalf("requests = %+v, want 429, 529, 200", statuses(reqs))
	}
	// The SDK's own backoff would have waited at most 0.5 s and 1 s less a
	// quarter of jitter; retry-after asks for 0.6 s and 0.4 s.
	if gap := reqs[1].Time.Sub(reqs[0].Time); gap < 590*time.Millisecond {
		t.Errorf("retried the 429 after %v, before its retry-after of 600ms", gap)
	}
	if gap := reqs[2].Time.Sub(reqs[1].Time); gap < 390*time.Millisecond || gap > 700*time.Millisecond {
		t.Errorf("retried the 529 after %v, want its retry-after of 400ms", gap)
	}
	if !strings.Contains(logs.String(), "status=429") || !strings.Contains(logs.String(), "status=529") {
		t.Errorf("the retries were not logged at Debug:\n%s", logs.String())
	}
}

func statuses(reqs []anthropictest.Request) []int {
	var s []int
	for _, r := range reqs {
		s = append(s, r.Status)
	}
	return s
}

func TestRetries500AndTimeout(t *testing.T) {
	srv := anthropictest.New(t)
	srv.Inject(anthropictest.Fault{Status: 500})
	srv.Inject(anthropictest.Fault{Delay: 2 * time.Second})
	p := newPredictor(t, srv, Config{Timeout: 300 * time.Millisecond}, nil)
	start := time.Now()
	pred, err := p.Predict(t.Context(), request(t, 50))
	if err != nil {
		t.Fatal(err)
	}
	if pred.Score == nil {
		t.Fatalf("no score: %+v", pred)
	}
	srv.Verify(t)
	if reqs := srv.Requests(); len(reqs) != 3 || reqs[0].Status != 500 || reqs[2].Status != 200 {
		t.Fatalf("statuses = %v, want 500, a slow answer given up on, 200", statuses(reqs))
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v: the slow attempt was not cut at its 300ms timeout", el)
	}
}

func TestRetriesExhausted(t *testing.T) {
	srv := anthropictest.New(t)
	for range 3 {
		srv.Inject(anthropictest.Fault{Status: 529, RetryAfter: 10 * time.Millisecond})
	}
	p := newPredictor(t, srv, Config{MaxRetries: 2}, nil)
	_, err := p.Predict(t.Context(), request(t, 50))
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 529 || ae.Type != "overloaded_error" || ae.Message != "Overloaded" || ae.RequestID == "" {
		t.Fatalf("err = %v, want a 529 overloaded_error with its request id", err)
	}
	srv.Verify(t)
	if n := len(srv.Requests()); n != 3 {
		t.Fatalf("%d requests, want 1 + 2 retries", n)
	}
}

func TestRetryAfterOverMaxWaitEndsAtOnce(t *testing.T) {
	srv := anthropictest.New(t)
	srv.Inject(anthropictest.Fault{Status: 429, RetryAfter: 120 * time.Second})
	p := newPredictor(t, srv, Config{}, nil)
	start := time.Now()
	_, err := p.Predict(t.Context(), request(t, 50))
	if err == nil || !strings.Contains(err.Error(), "asked to wait 2m0s") || !strings.Contains(err.Error(), "rate_limit_error") {
		t.Fatalf("err = %v, want the 429 and the wait it asked for", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %v", el)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestBadKey401NotRetriedNorLeaked(t *testing.T) {
	srv := anthropictest.New(t)
	bad := "sk-ant-api03-wrong-Secret-Key-0123456789"
	var logs bytes.Buffer
	p := newPredictor(t, srv, Config{APIKey: bad}, &logs)
	pred, err := p.Predict(t.Context(), request(t, 50))
	if pred != nil || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if !strings.Contains(err.Error(), "authentication_error: invalid x-api-key") {
		t.Errorf("err = %v, want the API's message", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests: a 401 was retried", n)
	}
	if strings.Contains(err.Error(), bad) || strings.Contains(logs.String(), bad) || strings.Contains(logs.String(), "Secret") {
		t.Fatalf("the key leaked:\nerr: %v\nlogs: %s", err, logs.String())
	}
}

func TestKeyNeverInErrorsOrLogs(t *testing.T) {
	srv := anthropictest.New(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "anthropic_key")
	if err := os.WriteFile(file, []byte("# Claude\nANTHROPIC_API_KEY=\""+srv.Key+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := Ready(Config{Model: "claude-sonnet-5-5", APIKeyFile: file})
	if err != nil || src != "file anthropic_key" {
		t.Fatalf("Ready = %q, %v", src, err)
	}
	// A server that echoes the key back, in an error and slowly.
	srv.Inject(anthropictest.Fault{Status: 400, Message: "bad request from key " + srv.Key})
	var logs bytes.Buffer
	p := newPredictor(t, srv, Config{APIKeyFile: file}, &logs)
	if p.KeySource() != "file anthropic_key" {
		t.Fatalf("key source = %q", p.KeySource())
	}
	_, err = p.Predict(t.Context(), request(t, 50))
	if err == nil || strings.Contains(err.Error(), srv.Key) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("err = %v, want the key redacted", err)
	}
	pred, err := p.Predict(t.Context(), request(t, 50))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{logs.String(), pred.Text, pred.ResponseID, pred.Model, pred.Server.URL} {
		if strings.Contains(s, srv.Key) {
			t.Fatalf("the key appears in %q", s)
		}
	}
}

func TestUnknownModelFromAPI(t *testing.T) {
	srv := anthropictest.New(t)
	models := MergeModels(DefaultModels(), Models{"claude-sonnet-9": {Vision: true, Like: "claude-sonnet-5-5"}})
	p := newPredictor(t, srv, Config{Model: "claude-sonnet-9", Models: models}, nil)
	_, err := p.Predict(t.Context(), request(t, 50))
	var ae *APIError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &ae) || ae.Type != "not_found_error" || ae.Message != "model: claude-sonnet-9" {
		t.Fatalf("err = %v, want 404 not_found_error model: claude-sonnet-9", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests: a 404 was retried", n)
	}
}

func TestModelRefusedBeforeSending(t *testing.T) {
	srv := anthropictest.New(t)
	for _, tt := range []struct{ model, want string }{
		{"claude-2.1", "claude-2.1 does not take images"},
		{"claude-unknown-7", "claude-unknown-7 is not in the model table"},
		{"", "no model given"},
	} {
		cfg := Config{Model: tt.model, APIKey: srv.Key, BaseURL: srv.URL()}
		if _, err := Ready(cfg); !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Ready(%q) = %v, want %q", tt.model, err, tt.want)
		}
		if _, err := NewPredictor(cfg); !errors.Is(err, ErrModel) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewPredictor(%q) = %v, want %q", tt.model, err, tt.want)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests were sent", n)
	}
}

func TestNoKey(t *testing.T) {
	t.Setenv(KeyEnv, "")
	if _, err := Ready(Config{Model: "claude-haiku-4-5"}); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "ANTHROPIC_API_KEY") {
		t.Fatalf("err = %v, want ErrNoKey naming ANTHROPIC_API_KEY", err)
	}
	missing := filepath.Join(t.TempDir(), "nokey")
	if _, err := NewPredictor(Config{Model: "claude-haiku-4-5", APIKeyFile: missing}); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("err = %v, want ErrNoKey naming %s", err, missing)
	}
	t.Setenv(KeyEnv, "sk-ant-from-env")
	if src, err := Ready(Config{Model: "claude-haiku-4-5"}); err != nil || src != KeyEnv {
		t.Fatalf("Ready = %q, %v, want the key from %s", src, err, KeyEnv)
	}
}

func TestTemperatureRefused(t *testing.T) {
	srv := anthropictest.New(t)
	if _, err := Ready(Config{Model: "claude-sonnet-5-5", APIKey: "k", Temperature: 0.2}); !errors.Is(err, ErrTemperature) {
		t.Fatalf("Ready = %v, want ErrTemperature", err)
	}
	p := newPredictor(t, srv, Config{}, nil)
	req := request(t, 50)
	req.Options.Temperature = 0.7
	if _, err := p.Predict(t.Context(), req); !errors.Is(err, ErrTemperature) {
		t.Fatalf("Predict = %v, want ErrTemperature", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests were sent", n)
	}
}

func TestThinkingModelBudgetAndEmptyAnswer(t *testing.T) {
	srv := anthropictest.New(t)
	srv.ThinkingTokens = 40
	p := newPredictor(t, srv, Config{Model: "claude-opus-5-5"}, nil)
	if p.MaxTokens() != DefaultThinkingMaxTokens {
		t.Fatalf("max tokens = %d, want %d for a model that always thinks", p.MaxTokens(), DefaultThinkingMaxTokens)
	}
	// Within the budget: the thinking block comes first, the score is read
	// from the text after it, and the thinking is billed as output.
	pred, err := p.Predict(t.Context(), request(t, 250))
	if err != nil {
		t.Fatal(err)
	}
	if pred.Score == nil || strings.Contains(pred.Text, "hmm") || pred.Usage.CompletionTokens != 40+anthropictest.TextTokens(pred.Text) {
		t.Fatalf("prediction = %+v", pred)
	}
	// A budget the thinking uses up: no text at all.
	req := request(t, 50)
	req.Options.MaxTokens = 30
	if pred, err = p.Predict(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if r := srv.Requests()[1]; r.MaxTokens != 30 {
		t.Fatalf("sent max_tokens %d, want the request's 30", r.MaxTokens)
	}
	if pred.Score != nil || pred.Text != "" || pred.Usage.CompletionTokens != 30 || !strings.Contains(pred.ScoreError, "used all 30 output tokens") {
		t.Fatalf("prediction = %+v, want an empty answer that says to raise max_tokens", pred)
	}
}

func TestConcurrencyBound(t *testing.T) {
	srv := anthropictest.New(t)
	for range 6 {
		srv.Inject(anthropictest.Fault{Delay: 150 * time.Millisecond})
	}
	p := newPredictor(t, srv, Config{Concurrency: 2}, nil)
	var reqs []*llm.Request
	for i := range 6 {
		reqs = append(reqs, request(t, uint8(40*i)))
	}
	n := 0
	for res := range p.PredictBatch(t.Context(), reqs) {
		if res.Err != nil || res.Prediction.Score == nil {
			t.Fatalf("result %+v", res)
		}
		n++
	}
	if n != 6 {
		t.Fatalf("%d results, want 6", n)
	}
	if m := srv.MaxInFlight(); m != 2 {
		t.Fatalf("%d requests in flight at most, want 2", m)
	}
	srv.Verify(t)
}

func TestCancelStopsRetries(t *testing.T) {
	srv := anthropictest.New(t)
	srv.Inject(anthropictest.Fault{Status: 529, RetryAfter: 30 * time.Second})
	p := newPredictor(t, srv, Config{}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := p.Predict(ctx, request(t, 50)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
}

func TestEncodeImage(t *testing.T) {
	big := grayPNG(t, 3000, 2000, 90)
	e, err := EncodeImage(big)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Scaled || e.Width != 1568 || e.Height != 1045 || e.MediaType != "image/jpeg" {
		t.Fatalf("3000x2000 PNG sent as %s %dx%d scaled=%v, want JPEG 1568x1045", e.MediaType, e.Width, e.Height, e.Scaled)
	}
	small := grayPNG(t, 40, 30, 90)
	if e, err = EncodeImage(small); err != nil || e.Scaled || e.MediaType != "image/png" || e.Tokens() != 2 {
		t.Fatalf("small PNG: %+v, %v; want it as it is", e, err)
	}
	var b bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 20, 10))
	img.Set(1, 1, color.White)
	if err := bmp.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if e, err = EncodeImage(b.Bytes()); err != nil || e.MediaType != "image/jpeg" || e.Width != 20 {
		t.Fatalf("BMP: %+v, %v; want it re-encoded as JPEG", e, err)
	}
	if _, err := EncodeImage([]byte("not an image")); err == nil {
		t.Fatal("text encoded as an image")
	}
}

func TestBMPReachesTheFakeAsJPEG(t *testing.T) {
	srv := anthropictest.New(t)
	p := newPredictor(t, srv, Config{}, nil)
	var b bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 30, 20))
	if err := bmp.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	req := request(t, 0)
	req.Image = b.Bytes()
	if _, err := p.Predict(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if r := srv.Requests()[0]; r.MediaType != "image/jpeg" {
		t.Fatalf("media type %q", r.MediaType)
	}
}
