package anthropicclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/vlmcmp/vlmcmp/llm"
)

// Backend is the backend kind predictions name.
const Backend = "anthropic"

// APIVersion is the anthropic-version anthropic-sdk-go v2 sends: what the
// API's answers and the request's accepted fields depend on, for a model's
// identity.
const APIVersion = "2026-10-21"

// Defaults of [Config].
const (
	DefaultMaxTokens = 300
	// DefaultThinkingMaxTokens is the answer budget of a model that always
	// thinks, whose output tokens include its thinking.
	DefaultThinkingMaxTokens = 2000
	DefaultConcurrency       = 4
	DefaultTimeout           = 60 * time.Second
	DefaultMaxRetries        = 6
	DefaultMaxRetryWait      = 60 * time.Second
)

// Config configures the Anthropic backend. The zero value of each field
// means its default.
type Config struct {
	// Model is the Claude API model ID (claude-sonnet-5-5,
	// claude-haiku-4-5-20251001). It must be in Models and take images.
	Model string
	// APIKey is the key itself, when the caller has resolved it. It is never
	// logged, and never appears in errors or predictions. Empty means
	// ResolveKey(APIKeyFile): the file, else ANTHROPIC_API_KEY.
	APIKey     string
	APIKeyFile string
	// BaseURL of the API; empty means ANTHROPIC_BASE_URL or the Claude API.
	BaseURL string
	// MaxTokens bounds the answer (the API requires it): default 300, 2000
	// for a model that always thinks.
	MaxTokens int
	// Temperature must be 0. anthropic-sdk-go v2 speaks the Messages API
	// version 2026-10-21, which removed temperature, top_p and top_k (a
	// request with any of them is refused, whatever the value): Claude
	// samples at its default, so answers are not reproducible token for
	// token. A non-zero value is refused with ErrTemperature rather than
	// silently dropped.
	Temperature float64
	// Concurrency bounds the requests in flight (default 4).
	Concurrency int
	// Timeout bounds each attempt of a request (default 60 s); an attempt
	// that runs out is retried.
	Timeout time.Duration
	// MaxRetries bounds the retries of one request (default 6; -1 none).
	// 429, 529 (overloaded), other 5xx, 408, 409 and connection failures or
	// timeouts are retried, after the wait the answer's retry-after (or
	// retry-after-ms) asks for, else after an exponential backoff.
	MaxRetries int
	// MaxRetryWait is the longest wait a retry-after is honoured for
	// (default 60 s): an answer asking for longer ends the request with its
	// error at once, rather than holding a worker.
	MaxRetryWait time.Duration
	// Models is the model table; nil means DefaultModels. Extend it with
	// MergeModels.
	Models Models
	// HTTPClient sends the requests; nil means a client without its own
	// timeout (each attempt has Timeout).
	HTTPClient *http.Client
	// Logger receives Debug logs; nil means slog.Default().
	Logger *slog.Logger
}

// Predictor scores images with a Claude model through the Messages API. It
// is safe for concurrent use; at most Config.Concurrency requests are in
// flight at once, however many goroutines call Predict.
type Predictor struct {
	cfg       Config
	key       string
	keySource string
	baseURL   string
	info      ModelInfo
	client    anthropic.Client
	sem       chan struct{}
	log       *slog.Logger
}

var (
	_ llm.Predictor      = (*Predictor)(nil)
	_ llm.BatchPredictor = (*Predictor)(nil)
)

// modelInfo checks that cfg's model is in the table and takes images.
func modelInfo(cfg Config) (ModelInfo, error) {
	if cfg.Model == "" {
		return ModelInfo{}, fmt.Errorf("anthropic: %w: no model given", ErrModel)
	}
	models := cfg.Models
	if models == nil {
		models = DefaultModels()
	}
	info, ok := models.Lookup(cfg.Model)
	if !ok {
		return ModelInfo{}, fmt.Errorf("anthropic: %w: model %s is not in the model table (vision models: %s); add it to the table with vision: true if it takes images",
			ErrModel, cfg.Model, models.visionModels())
	}
	if !info.Vision {
		return ModelInfo{}, fmt.Errorf("anthropic: %w: model %s does not take images (the model table marks it text-only)", ErrModel, cfg.Model)
	}
	return info, nil
}

func checkTemperature(t float64) error {
	if t != 0 {
		return fmt.Errorf("anthropic: %w: temperature %g: the Messages API version anthropic-sdk-go v2 speaks (%s) removed temperature, top_p and top_k; leave it unset", ErrTemperature, t, APIVersion)
	}
	return nil
}

// Ready checks, without sending anything, that cfg can predict: a key is
// found (Config.APIKey, the key file or ANTHROPIC_API_KEY), the model is in
// the table and takes images, and no temperature is asked for. It returns
// where the key comes from, for display (never the key).
func Ready(cfg Config) (keySource string, err error) {
	if _, err := modelInfo(cfg); err != nil {
		return "", err
	}
	if err := checkTemperature(cfg.Temperature); err != nil {
		return "", err
	}
	if cfg.MaxTokens < 0 {
		return "", fmt.Errorf("anthropic: max_tokens %d is negative", cfg.MaxTokens)
	}
	if cfg.APIKey != "" {
		return "given", nil
	}
	_, src, err := ResolveKey(cfg.APIKeyFile)
	if err != nil {
		return "", fmt.Errorf("anthropic: %w", err)
	}
	return src, nil
}

// NewPredictor returns a Predictor for cfg after the checks of [Ready].
func NewPredictor(cfg Config) (*Predictor, error) {
	info, err := modelInfo(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkTemperature(cfg.Temperature); err != nil {
		return nil, err
	}
	if cfg.Models == nil {
		cfg.Models = DefaultModels()
	}
	if err := cfg.Models.Check(); err != nil {
		return nil, err
	}
	key, src := cfg.APIKey, "given"
	if key == "" {
		if key, src, err = ResolveKey(cfg.APIKeyFile); err != nil {
			return nil, fmt.Errorf("anthropic: %w", err)
		}
	}
	switch {
	case cfg.MaxTokens < 0:
		return nil, fmt.Errorf("anthropic: max_tokens %d is negative", cfg.MaxTokens)
	case cfg.MaxTokens == 0 && info.Thinking:
		cfg.MaxTokens = DefaultThinkingMaxTokens
	case cfg.MaxTokens == 0:
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = DefaultMaxRetryWait
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	p := &Predictor{cfg: cfg, key: key, keySource: src, baseURL: ResolveBaseURL(cfg.BaseURL), info: info,
		sem: make(chan struct{}, cfg.Concurrency), log: log}
	// The SDK is told everything: nothing comes from the environment or a
	// profile on disk behind the caller's back.
	p.client = anthropic.NewClient(
		option.WithoutEnvironmentDefaults(),
		option.WithAPIKey(key),
		option.WithBaseURL(p.baseURL+"/"),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(cfg.MaxRetries),
		option.WithRequestTimeout(cfg.Timeout),
		option.WithMiddleware(p.observe),
	)
	return p, nil
}

// Model is the model the predictor asks.
func (p *Predictor) Model() string { return p.cfg.Model }

// BaseURL is the API's base URL in use.
func (p *Predictor) BaseURL() string { return p.baseURL }

// Info is the model table's entry for the model.
func (p *Predictor) Info() ModelInfo { return p.info }

// KeySource says where the key came from ("ANTHROPIC_API_KEY", "file
// NAME", "given"), never the key.
func (p *Predictor) KeySource() string { return p.keySource }

// MaxTokens is the answer budget in use.
func (p *Predictor) MaxTokens() int { return p.cfg.MaxTokens }

// retryAfter reads retry-after-ms or retry-after (seconds or an HTTP date).
func retryAfter(h http.Header) (time.Duration, bool) {
	if ms, err := strconv.ParseFloat(h.Get("retry-after-ms"), 64); err == nil && ms >= 0 {
		return time.Duration(ms * float64(time.Millisecond)), true
	}
	v := h.Get("retry-after")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t)), true
	}
	return 0, false
}

// waitTooLongHeader marks an answer whose retry-after is over MaxRetryWait.
const waitTooLongHeader = "X-Vlmcmp-Retry-Wait-Refused"

// observe sees every attempt the SDK makes: it logs it at Debug, and stops
// the SDK's retries when the server asks for a wait over MaxRetryWait.
func (p *Predictor) observe(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	attempt := req.Header.Get("X-Stainless-Retry-Count")
	start := time.Now()
	resp, err := next(req)
	if err != nil {
		p.log.Debug("anthropic: attempt failed", "model", p.cfg.Model, "attempt", attempt,
			"elapsed", time.Since(start), "err", Redact(err.Error(), p.key))
		return resp, err
	}
	if resp.StatusCode < 400 {
		return resp, nil
	}
	wait, ok := retryAfter(resp.Header)
	p.log.Debug("anthropic: attempt refused", "model", p.cfg.Model, "attempt", attempt, "status", resp.StatusCode,
		"retry_after", wait, "request_id", resp.Header.Get("request-id"), "elapsed", time.Since(start))
	if ok && wait > p.cfg.MaxRetryWait {
		resp.Header.Set("x-should-retry", "false")
		resp.Header.Set(waitTooLongHeader, wait.String())
	}
	return resp, nil
}

// Predict scores one image. See llm.Predictor.
func (p *Predictor) Predict(ctx context.Context, req *llm.Request) (*llm.Prediction, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.sem }()
	return p.predict(ctx, req)
}

// PredictBatch scores reqs with up to Config.Concurrency requests in
// flight. See llm.BatchPredictor.
func (p *Predictor) PredictBatch(ctx context.Context, reqs []*llm.Request) <-chan llm.Result {
	return llm.PredictPool(ctx, reqs, cap(p.sem), p.Predict)
}

func (p *Predictor) predict(ctx context.Context, req *llm.Request) (*llm.Prediction, error) {
	o := req.Options
	if err := checkTemperature(o.Temperature); err != nil {
		return nil, err
	}
	if o.TopK != 0 || o.TopP != 0 {
		return nil, fmt.Errorf("anthropic: %w: top_k and top_p were removed from the Messages API version anthropic-sdk-go v2 speaks (2026-10-21)", ErrTemperature)
	}
	if o.JSONSchema != "" {
		return nil, errors.New("anthropic: a JSON schema for the answer is not supported by this backend")
	}
	data := req.Image
	if data == nil {
		var err error
		if data, err = os.ReadFile(req.ImagePath); err != nil {
			return nil, fmt.Errorf("read image: %w", err)
		}
	}
	img, err := EncodeImage(data)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", req.ImagePath, err)
	}
	maxTokens := p.cfg.MaxTokens
	if o.MaxTokens > 0 {
		maxTokens = o.MaxTokens
	}
	var blocks []anthropic.ContentBlockParamUnion
	blocks = append(blocks, anthropic.NewImageBlockBase64(img.MediaType, img.Data))
	if req.Prompt != "" {
		// The API refuses an empty text block.
		blocks = append(blocks, anthropic.NewTextBlock(req.Prompt))
	}
	params := anthropic.MessageNewParams{
		Model:     p.cfg.Model,
		MaxTokens: int64(maxTokens),
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(blocks...)},
	}
	if req.System != "" {
		params.System = []anthropic.TextBlockParam{{Text: req.System}}
	}
	start := time.Now()
	msg, err := p.client.Messages.New(ctx, params)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, p.wrapError(err)
	}
	pred := &llm.Prediction{Latency: time.Since(start), Backend: Backend, Model: msg.Model, ResponseID: msg.ID,
		Server: &llm.Server{URL: p.baseURL},
		Usage: llm.Usage{PromptTokens: int(msg.Usage.InputTokens + msg.Usage.CacheCreationInputTokens + msg.Usage.CacheReadInputTokens),
			CompletionTokens: int(msg.Usage.OutputTokens)}}
	if pred.Model == "" {
		pred.Model = p.cfg.Model
	}
	pred.CostUSD = p.cfg.Models.Cost(p.cfg.Model, pred.Usage)
	var text strings.Builder
	for _, b := range msg.Content {
		if b.Type == "text" {
			text.WriteString(b.Text)
		}
	}
	pred.SetText(text.String())
	switch {
	case msg.StopReason == anthropic.StopReasonRefusal && pred.Score == nil:
		pred.ScoreError = "the model refused to answer (stop_reason refusal)"
	case text.Len() == 0 && msg.StopReason == anthropic.StopReasonMaxTokens:
		pred.ScoreError = fmt.Sprintf("empty answer: the model used all %d output tokens (thinking counts against them): raise max_tokens", maxTokens)
	}
	p.log.Debug("anthropic: answer", "id", req.ID, "model", p.cfg.Model, "latency", pred.Latency, "stop_reason", msg.StopReason,
		"input_tokens", pred.Usage.PromptTokens, "output_tokens", pred.Usage.CompletionTokens, "image", fmt.Sprintf("%dx%d", img.Width, img.Height))
	return pred, nil
}

// wrapError names the model, converts the SDK's error, says when a
// retry-after was too long to wait for, and marks an answer missing for a
// reason that is not the request's own (see [missingReason]).
func (p *Predictor) wrapError(err error) error {
	var ae *anthropic.Error
	suffix := ""
	if errors.As(err, &ae) && ae.Response != nil {
		if w := ae.Response.Header.Get(waitTooLongHeader); w != "" {
			suffix = fmt.Sprintf(" (the API asked to wait %s before retrying, over the %s this client waits)", w, p.cfg.MaxRetryWait)
		}
	}
	err = convertError(err, p.key)
	reason := missingReason(err)
	if suffix != "" {
		return llm.Missing(reason, fmt.Errorf("anthropic %s: %w%s", p.cfg.Model, err, suffix))
	}
	return llm.Missing(reason, fmt.Errorf("anthropic %s: %w", p.cfg.Model, err))
}
