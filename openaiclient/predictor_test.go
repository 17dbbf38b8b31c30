package openaiclient

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// pngOf encodes a w×h image of one grey shade.
func pngOf(t testing.TB, w, h int, shade uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{shade, shade, shade, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// newTestPredictor returns a predictor talking to srv with fast retries and
// its debug log in logBuf.
func newTestPredictor(t testing.TB, srv *openaitest.Server, mod func(*Config)) (*Predictor, *bytes.Buffer) {
	t.Helper()
	var logBuf bytes.Buffer
	cfg := Config{Model: "gpt-4o", BaseURL: srv.URL(), APIKey: srv.Key, RetryBase: time.Millisecond, RetryMax: 20 * time.Millisecond,
		Timeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, &logBuf
}

func TestPredictScalesAndScores(t *testing.T) {
	tests := []struct {
		name         string
		detail       string
		w, h         int
		shade        uint8
		wantW, wantH int
	}{
		{"low fits 512", "low", 1000, 500, 200, 512, 256},
		{"low small unchanged", "low", 300, 200, 30, 300, 200},
		{"high short side 768", "high", 1600, 1200, 128, 1024, 768},
		{"high fits 2048 first", "high", 4096, 1024, 250, 2048, 512},
		{"auto like high", "auto", 800, 1000, 0, 768, 960},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaitest.New(t)
			p, _ := newTestPredictor(t, srv, func(c *Config) { c.Detail = tt.detail })
			pred, err := p.Predict(t.Context(), &llm.Request{ID: "x", Image: pngOf(t, tt.w, tt.h, tt.shade), Prompt: "Rate", System: "Judge"})
			if err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 || reqs[0].Chat == nil {
				t.Fatalf("requests: %+v", reqs)
			}
			c := reqs[0].Chat
			if c.ImageWidth != tt.wantW || c.ImageHeight != tt.wantH || c.Detail != tt.detail {
				t.Errorf("sent %dx%d detail %q, want %dx%d %q", c.ImageWidth, c.ImageHeight, c.Detail, tt.wantW, tt.wantH, tt.detail)
			}
			if c.Seed == nil || *c.Seed != DefaultSeed || c.Temperature == nil || *c.Temperature > 1e-6 || c.MaxTokens != DefaultMaxTokens {
				t.Errorf("seed %v temperature %v max tokens %d, want 42, 0, %d", c.Seed, c.Temperature, c.MaxTokens, DefaultMaxTokens)
			}
			if c.System != "Judge" || c.Prompt != "Rate" {
				t.Errorf("system %q prompt %q", c.System, c.Prompt)
			}
			want := float64(1 + int(math.Round(float64(tt.shade)/255*9)))
			if pred.Score == nil || *pred.Score != want {
				t.Errorf("score %v (%q), want %v", pred.Score, pred.Text, want)
			}
			if pred.Usage.PromptTokens == 0 || pred.CostUSD <= 0 || pred.Backend != "openai" || pred.ResponseID == "" {
				t.Errorf("prediction %+v lacks usage, cost or ids", pred)
			}
			if got := DefaultPrices().Cost("gpt-4o", pred.Usage); got != pred.CostUSD {
				t.Errorf("cost %v, want %v", pred.CostUSD, got)
			}
		})
	}
}

func TestPredictStructured(t *testing.T) {
	srv := openaitest.New(t)
	p, _ := newTestPredictor(t, srv, func(c *Config) { c.Structured = true })
	pred, err := p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 8, 8, 255), Prompt: "Rate"})
	if err != nil {
		t.Fatal(err)
	}
	if pred.Score == nil || *pred.Score != 10 || !strings.HasPrefix(pred.Text, "{") {
		t.Errorf("structured answer %q score %v, want JSON with 10", pred.Text, pred.Score)
	}
	if got := srv.Requests()[0].Chat.ResponseFormat; got != "json_schema" {
		t.Errorf("response format %q", got)
	}
}

func TestPredictRetries(t *testing.T) {
	tests := []struct {
		name      string
		faults    []openaitest.Fault
		model     string
		requests  int    // chat requests the fake sees
		wantErr   string // "" for success
		wantIs    error
		minWait   time.Duration
		configure func(*Config)
	}{
		{name: "429 then ok", faults: []openaitest.Fault{{Path: "/v1/chat", Status: 429, RetryAfter: "0"}}, requests: 2},
		{name: "500 twice then ok", faults: []openaitest.Fault{{Path: "/v1/chat", Status: 500, Times: 2}}, requests: 3},
		{name: "503 then ok", faults: []openaitest.Fault{{Path: "/v1/chat", Status: 503}}, requests: 2},
		{name: "retry-after honoured", faults: []openaitest.Fault{{Path: "/v1/chat", Status: 429, RetryAfter: "0.4"}}, requests: 2, minWait: 400 * time.Millisecond},
		{name: "timeout then ok", faults: []openaitest.Fault{{Path: "/v1/chat", Delay: time.Second}}, requests: 2,
			configure: func(c *Config) { c.Timeout = 150 * time.Millisecond }},
		{name: "gives up after max retries", faults: []openaitest.Fault{{Path: "/v1/chat", Status: 500, Times: 3}}, requests: 3,
			configure: func(c *Config) { c.MaxRetries = 2 }, wantErr: "status 500"},
		{name: "429 without the quota code retried", faults: []openaitest.Fault{{Path: "/v1/chat", Status: 429, Message: "You exceeded your current quota", RetryAfter: "0"}}, requests: 2},
		{name: "400 not retried", faults: []openaitest.Fault{{Path: "/v1/chat", Status: 400, Message: "Invalid image."}}, requests: 1, wantErr: "status 400: Invalid image"},
		{name: "401 not retried", faults: []openaitest.Fault{{Path: "/v1/chat", Status: 401}}, requests: 1, wantErr: "status 401", wantIs: ErrUnauthorized},
		{name: "403 not retried", faults: []openaitest.Fault{{Path: "/v1/chat", Status: 403}}, requests: 1, wantErr: "status 403"},
		{name: "404 model not retried", model: "missing-model", requests: 1, wantErr: "status 404: The model `missing-model` does not exist"},
		{name: "malformed 200 retried", faults: []openaitest.Fault{{Path: "/v1/chat", Malformed: true}}, requests: 2},
		{name: "truncated 200 retried", faults: []openaitest.Fault{{Path: "/v1/chat", Truncated: true}}, requests: 2},
		{name: "malformed to the end", faults: []openaitest.Fault{{Path: "/v1/chat", Malformed: true, Times: 3}}, requests: 3,
			configure: func(c *Config) { c.MaxRetries = 2 }, wantIs: ErrMalformed},
		{name: "truncated to the end", faults: []openaitest.Fault{{Path: "/v1/chat", Truncated: true, Times: 2}}, requests: 2,
			configure: func(c *Config) { c.MaxRetries = 1 }, wantIs: ErrMalformed},
		{name: "retry-after-ms honoured", faults: []openaitest.Fault{{Path: "/v1/chat", Status: 429, RetryAfterMS: "300"}}, requests: 2, minWait: 300 * time.Millisecond},
		{name: "429 without retry-after waits for the rate-limit reset", faults: []openaitest.Fault{{Path: "/v1/chat", Status: 429, ResetRequests: "300ms"}},
			requests: 2, minWait: 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaitest.New(t)
			for _, f := range tt.faults {
				srv.Inject(f)
			}
			p, _ := newTestPredictor(t, srv, func(c *Config) {
				if tt.model != "" {
					c.Model = tt.model
				}
				if tt.configure != nil {
					tt.configure(c)
				}
			})
			start := time.Now()
			pred, err := p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 4, 4, 100), Prompt: "Rate"})
			elapsed := time.Since(start)
			if tt.wantErr == "" && tt.wantIs == nil {
				if err != nil || pred.Score == nil {
					t.Fatalf("err %v pred %+v", err, pred)
				}
			} else {
				if err == nil {
					t.Fatal("no error")
				}
				if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err %q, want %q", err, tt.wantErr)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("err %v is not %v", err, tt.wantIs)
				}
			}
			if got := srv.Count("POST", "/v1/chat/completions"); got != tt.requests {
				t.Errorf("%d chat requests, want %d", got, tt.requests)
			}
			if elapsed < tt.minWait {
				t.Errorf("took %s, want at least %s (Retry-After)", elapsed, tt.minWait)
			}
			srv.Verify(t)
		})
	}
}

// The quota case above: the fake's message lacks the code, so it is retried
// once; with the insufficient_quota code it is not.
func TestQuotaNotRetried(t *testing.T) {
	srv := openaitest.New(t)
	srv.Inject(openaitest.Fault{Path: "/v1/chat", Status: 429, Message: "insufficient_quota: You exceeded your current quota"})
	p, _ := newTestPredictor(t, srv, nil)
	_, err := p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 4, 4, 100)})
	if err == nil || !strings.Contains(err.Error(), "status 429") {
		t.Fatalf("err = %v", err)
	}
	if n := srv.Count("POST", "/v1/chat"); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	srv.Verify(t)
}

func TestKeyNeverShown(t *testing.T) {
	srv := openaitest.New(t)
	srv.Key = "sk-proj-SECRETSECRETSECRET1234"
	srv.Inject(openaitest.Fault{Path: "/v1/chat", Status: 500, Message: "boom sk-proj-SECRETSECRETSECRET1234"})
	srv.Inject(openaitest.Fault{Path: "/v1/chat", Status: 401, Message: "Incorrect API key provided: sk-proj-***1234."})
	p, logBuf := newTestPredictor(t, srv, nil)
	_, err := p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 4, 4, 1)})
	if err == nil {
		t.Fatal("want the 401")
	}
	for what, s := range map[string]string{"error": err.Error(), "log": logBuf.String()} {
		if strings.Contains(s, "SECRET") || strings.Contains(s, "sk-proj") {
			t.Errorf("%s shows the key: %s", what, s)
		}
	}
	if !strings.Contains(logBuf.String(), "retrying") {
		t.Errorf("log lacks the retry: %s", logBuf.String())
	}
	srv.Verify(t)
}

func TestRateLimiterHolds(t *testing.T) {
	srv := openaitest.New(t)
	// 300 per minute is 5 per second with a burst of 30: 40 requests need
	// about 2 s, the last 10 spaced 200 ms apart.
	p, _ := newTestPredictor(t, srv, func(c *Config) { c.RPM = 300; c.Concurrency = 16 })
	reqs := make([]*llm.Request, 40)
	img := pngOf(t, 4, 4, 9)
	for i := range reqs {
		reqs[i] = &llm.Request{Image: img}
	}
	start := time.Now()
	for r := range p.PredictBatch(t.Context(), reqs) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	elapsed := time.Since(start)
	t.Logf("40 requests at 300 rpm: %s", elapsed)
	if elapsed < 1700*time.Millisecond || elapsed > 6*time.Second {
		t.Errorf("took %s, want about 2 s", elapsed)
	}
	// No window of one second after the burst holds more than 5+1 starts.
	rs := srv.Requests()
	for i := 30; i+6 < len(rs); i++ {
		if d := rs[i+6].Time.Sub(rs[i].Time); d < 900*time.Millisecond {
			t.Errorf("requests %d..%d within %s", i, i+6, d)
		}
	}
}

func TestConcurrencyThroughput(t *testing.T) {
	srv := openaitest.New(t)
	srv.Latency = 200 * time.Millisecond
	p, _ := newTestPredictor(t, srv, func(c *Config) { c.Concurrency = 16 })
	reqs := make([]*llm.Request, 100)
	img := pngOf(t, 4, 4, 9)
	for i := range reqs {
		reqs[i] = &llm.Request{ID: string(rune('a' + i%26)), Image: img}
	}
	start := time.Now()
	n := 0
	for r := range p.PredictBatch(t.Context(), reqs) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		n++
	}
	elapsed := time.Since(start)
	t.Logf("100 requests, 200 ms each, concurrency 16: %s (ideal %s)", elapsed, 7*200*time.Millisecond)
	if n != 100 {
		t.Errorf("%d results", n)
	}
	if elapsed > 4*time.Second {
		t.Errorf("took %s, want close to 100×0.2/16 s", elapsed)
	}
	if m := srv.MaxInFlight(); m > 16 {
		t.Errorf("%d requests in flight, bound is 16", m)
	}
}

func TestPredictBatchCancel(t *testing.T) {
	srv := openaitest.New(t)
	srv.Latency = 100 * time.Millisecond
	p, _ := newTestPredictor(t, srv, func(c *Config) { c.Concurrency = 2 })
	ctx, cancel := context.WithCancel(t.Context())
	reqs := make([]*llm.Request, 20)
	for i := range reqs {
		reqs[i] = &llm.Request{Image: pngOf(t, 4, 4, 9)}
	}
	ch := p.PredictBatch(ctx, reqs)
	time.AfterFunc(150*time.Millisecond, cancel)
	n, cancelled := 0, 0
	for r := range ch {
		n++
		if errors.Is(r.Err, context.Canceled) {
			cancelled++
		}
	}
	if n != 20 || cancelled == 0 {
		t.Errorf("%d results, %d cancelled; want 20 with some cancelled", n, cancelled)
	}
}

func TestPricesLookup(t *testing.T) {
	p := DefaultPrices()
	tests := []struct {
		model string
		in    float64
		ok    bool
	}{
		{"gpt-4o", 2.5, true},
		{"gpt-4o-2024-08-06", 2.5, true},
		{"gpt-4o-mini-2024-07-18", 0.15, true},
		{"ft:gpt-4o-mini-2024-07-18:org::abc123", 0.30, true},
		{"gpt-4.1-mini-2025-04-14", 0.40, true},
		{"llava-local", 0, false},
	}
	for _, tt := range tests {
		got, ok := p.Lookup(tt.model)
		if ok != tt.ok || got.Input != tt.in {
			t.Errorf("Lookup(%q) = %+v, %v; want input %v, %v", tt.model, got, ok, tt.in, tt.ok)
		}
	}
	if c := p.Cost("gpt-4o", llm.Usage{PromptTokens: 1_000_000, CompletionTokens: 100_000}); math.Abs(c-3.5) > 1e-9 {
		t.Errorf("cost %v, want 3.5", c)
	}
}

func TestImageTokens(t *testing.T) {
	tests := []struct {
		model, detail string
		w, h, want    int
	}{
		{"gpt-4o", "low", 4096, 8192, 85},
		{"gpt-4o", "high", 1024, 1024, 765},  // OpenAI's worked example
		{"gpt-4o", "high", 2048, 4096, 1105}, // idem
		{"gpt-4o-mini", "low", 100, 100, 2833},
		{"gpt-4.1", "high", 1024, 1024, 765},          // tiles, as GPT-4o
		{"gpt-4.1-mini", "high", 1024, 1024, 1659},    // 1024 patches × 1.62
		{"gpt-4.1-mini-2025-04-14", "low", 64, 64, 7}, // 4 patches × 1.62
		{"o4-mini", "high", 1024, 1024, 1762},         // × 1.72
		{"gpt-5-mini", "high", 4096, 4096, 2465},      // scaled to 39×39 patches (cap 1536) × 1.62
		{"gpt-5", "high", 1024, 1024, 630},            // 70 + 140 × 4 tiles
		{"o3", "low", 1024, 1024, 75},                 // o-series tiles
		{"ft:gpt-4o-mini-2024-07-18:org::x", "low", 1, 1, 2833},
	}
	for _, tt := range tests {
		if got := EstimateImageTokens(tt.model, tt.detail, tt.w, tt.h); got != tt.want {
			t.Errorf("%s %s %dx%d: %d tokens, want %d", tt.model, tt.detail, tt.w, tt.h, got, tt.want)
		}
	}
}
