package openaiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"golang.org/x/time/rate"

	"github.com/vlmcmp/vlmcmp/llm"
)

// Defaults of [Config].
const (
	DefaultDetail    = DetailLow
	DefaultMaxTokens = 300
	// DefaultReasoningMaxTokens is the answer budget of a reasoning model,
	// whose completion tokens include its hidden reasoning.
	DefaultReasoningMaxTokens = 2000
	DefaultSeed               = 42
	DefaultConcurrency        = 8
	DefaultTimeout            = 60 * time.Second
	DefaultMaxRetries         = 6
)

// Config configures the OpenAI backend. The zero value of each field means
// its default.
type Config struct {
	// Model is the API's model name (gpt-4o, ft:gpt-4o-mini-...:org::id).
	Model string
	// BaseURL of the API; empty means OPENAI_BASE_URL or the OpenAI API.
	BaseURL string
	// BaseURLs, when not empty, are several OpenAI-compatible servers of
	// the same model (a fleet), used instead of BaseURL: each request goes
	// to the least busy healthy one, and a server that fails is set aside
	// for a while and its requests retried on the others. See [fleet].
	BaseURLs []string
	// APIKey is the key itself, when the caller has resolved it. It is never
	// logged or written. Empty means ResolveKey(APIKeyFile).
	APIKey string
	// APIKeyFile holds the key (used when APIKey is empty).
	APIKeyFile string
	// NoKey allows an empty key, for OpenAI-compatible servers that need
	// none.
	NoKey bool
	// Detail is the image detail: low (default), high or auto.
	Detail string
	// Structured asks for JSON-schema structured output (score 1..10 and a
	// short reason) and reads the score from it.
	Structured bool
	// MaxTokens bounds the answer (default 300, 2000 for a reasoning model),
	// sent as max_completion_tokens to the OpenAI API and to models of the
	// table, as max_tokens to other servers' unknown models. Temperature
	// defaults to 0 (left out for reasoning models, which take only the
	// default); Seed to 42 (NoSeed sends none).
	MaxTokens   int
	Temperature float64
	Seed        int64
	NoSeed      bool
	// Concurrency bounds the requests in flight (default 8).
	Concurrency int
	// RPM and TPM are the requests and tokens per minute the client keeps
	// to; 0 means no limit (the retries still honour the server's 429s).
	RPM, TPM int
	// Timeout bounds each attempt of a request (default 60 s).
	Timeout time.Duration
	// MaxRetries bounds the retries of one request (default 6; -1 none).
	MaxRetries int
	// RetryBase and RetryMax are the backoff's first and largest wait
	// (default 1 s and 60 s).
	RetryBase, RetryMax time.Duration
	// Models is the model table (capabilities, image-token rule, prices);
	// nil means DefaultModels. Extend it with MergeModels.
	Models Models
	// ReasoningEffort overrides the table's reasoning_effort for a
	// reasoning model ("none" sends none).
	ReasoningEffort string
	// Prices prices usage; nil means the model table's prices.
	Prices Prices
	// UploadRate is the slowest upload speed, in bytes per second, an
	// upload's timeout allows for (default 256 KiB/s, about 2 Mbit/s): an
	// attempt may take Timeout plus its size over UploadRate. A negative
	// rate bounds uploads by the context only.
	UploadRate int64
	// ProcessTimeout bounds the wait for an uploaded file to be processed
	// (default 30 min).
	ProcessTimeout time.Duration
	// HTTPClient sends the requests; nil means a client without its own
	// timeout (each attempt has Timeout).
	HTTPClient *http.Client
	// Logger receives Debug logs; nil means slog.Default().
	Logger *slog.Logger
}

// conn is what the predictor and the fine-tuning client share: the base
// URL, the key and the HTTP doer.
type conn struct {
	cfg     Config
	baseURL string
	key     string
	doer    *doer
	api     *openai.Client
	log     *slog.Logger
	// azure is set for an Azure OpenAI deployment ([NewAzurePredictor]).
	azure bool
}

func newConn(cfg Config) (*conn, error) {
	urls := []string{ResolveBaseURL(cfg.BaseURL)}
	if len(cfg.BaseURLs) > 0 {
		var err error
		if urls, err = CheckBaseURLs(cfg.BaseURLs); err != nil {
			return nil, err
		}
		cfg.BaseURL = urls[0]
	}
	key := cfg.APIKey
	if key == "" && !cfg.NoKey {
		var err error
		if key, _, err = ResolveKeyFor(cfg.APIKeyFile, cfg.BaseURL); err != nil {
			return nil, err
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 60 * time.Second
	}
	if cfg.Models == nil {
		cfg.Models = DefaultModels()
	}
	if cfg.Prices == nil {
		cfg.Prices = cfg.Models.Prices()
	}
	if cfg.UploadRate == 0 {
		cfg.UploadRate = DefaultUploadRate
	}
	if cfg.ProcessTimeout == 0 {
		cfg.ProcessTimeout = DefaultProcessTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	d := &doer{client: hc, rpm: newLimiter(cfg.RPM), tpm: newLimiter(cfg.TPM), timeout: cfg.Timeout,
		maxRetries: cfg.MaxRetries, base: cfg.RetryBase, cap: cfg.RetryMax, key: key, log: log, sleep: sleepCtx,
		fleet: newFleet(urls, cfg.RetryBase, cfg.RetryMax)}
	if d.tpm != nil {
		// A request's tokens must fit in the burst; a tenth of the minute
		// is too little for a large image at a small TPM.
		d.tpm = rate.NewLimiter(rate.Limit(float64(cfg.TPM)/60), cfg.TPM)
	}
	base := d.fleet.primary()
	oc := openai.DefaultConfig(key)
	oc.BaseURL = base
	oc.HTTPClient = d
	return &conn{cfg: cfg, baseURL: base, key: key, doer: d, api: openai.NewClientWithConfig(oc), log: log}, nil
}

// Predictor scores images with an OpenAI chat model. It is safe for
// concurrent use; at most Config.Concurrency requests are in flight at once,
// however many goroutines call Predict.
type Predictor struct {
	c    *conn
	sem  chan struct{}
	info ModelInfo
}

var (
	_ llm.Predictor      = (*Predictor)(nil)
	_ llm.BatchPredictor = (*Predictor)(nil)
)

// New returns a Predictor for cfg. It fails when no key can be found (unless
// NoKey), when Model is empty or Detail is not low, high or auto.
func New(cfg Config) (*Predictor, error) {
	if cfg.Model == "" {
		return nil, errors.New("openai: no model given")
	}
	if cfg.Detail == "" {
		cfg.Detail = DefaultDetail
	}
	if !ValidDetail(cfg.Detail) {
		return nil, fmt.Errorf("openai: detail %q is not one of low, high, auto", cfg.Detail)
	}
	models := cfg.Models
	if models == nil {
		models = DefaultModels()
	}
	info := models.Info(cfg.Model)
	if known, ok := models.Lookup(cfg.Model); ok && !known.Vision {
		return nil, fmt.Errorf("openai: model %s does not take images (the model table marks it text-only)", cfg.Model)
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = DefaultMaxTokens
		if info.Reasoning {
			cfg.MaxTokens = DefaultReasoningMaxTokens
		}
	}
	if cfg.ReasoningEffort != "" {
		info.ReasoningEffort = cfg.ReasoningEffort
	}
	if cfg.Seed == 0 {
		cfg.Seed = DefaultSeed
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	c, err := newConn(cfg)
	if err != nil {
		return nil, err
	}
	return &Predictor{c: c, sem: make(chan struct{}, cfg.Concurrency), info: info}, nil
}

// Info is what the predictor knows of its model (from the model table, or
// guessed for a name it lacks).
func (p *Predictor) Info() ModelInfo { return p.info }

// completionParam reports whether the answer budget goes out as
// max_completion_tokens: always to the OpenAI API and for models the table
// knows; OpenAI-compatible servers (llama-server, vLLM, Ollama) all take
// max_tokens, some not the newer name.
func (p *Predictor) completionParam() bool {
	if p.c.azure {
		// Azure's GA API versions take max_tokens; reasoning models need
		// the newer name.
		return p.info.Reasoning
	}
	if p.c.baseURL == DefaultBaseURL || p.info.Reasoning {
		return true
	}
	_, known := p.c.cfg.Models.Lookup(p.c.cfg.Model)
	return known
}

// Model is the model the predictor asks.
func (p *Predictor) Model() string { return p.c.cfg.Model }

// BaseURL is the API's base URL in use (the first of a fleet).
func (p *Predictor) BaseURL() string { return p.c.baseURL }

// BaseURLs are the base URLs of every server in use.
func (p *Predictor) BaseURLs() []string {
	var out []string
	for _, s := range p.c.doer.fleet.servers {
		out = append(out, s.url)
	}
	return out
}

// ScoreSchema is the structured output's JSON schema. The score is an
// integer enum 1..10 rather than minimum/maximum, which strict mode refuses
// for fine-tuned models; every strict-mode model takes an enum. The range
// is checked again on the answer.
var ScoreSchema = fmt.Sprintf(`{"type":"object","properties":{"score":{"type":"integer","enum":%s,"description":"perceived safety, %d (very unsafe) to %d (very safe)"},"reason":{"type":"string","description":"one short sentence"}},"required":["score","reason"],"additionalProperties":false}`,
	scaleEnum(), llm.ScoreMin, llm.ScoreMax)

// scaleEnum is every score of the scale as a JSON array.
func scaleEnum() string {
	var b strings.Builder
	for v := llm.ScoreMin; v <= llm.ScoreMax; v++ {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(v))
	}
	return "[" + b.String() + "]"
}

type rawSchema string

func (s rawSchema) MarshalJSON() ([]byte, error) { return []byte(s), nil }

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

func (p *Predictor) predict(ctx context.Context, req *llm.Request) (*llm.Prediction, error) {
	cfg := p.c.cfg
	img, err := requestImage(req, cfg.Detail)
	if err != nil {
		return nil, err
	}
	var msgs []openai.ChatCompletionMessage
	if req.System != "" {
		msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleSystem, Content: req.System})
	}
	var parts []openai.ChatMessagePart
	if req.Prompt != "" {
		// go-openai omits an empty text, which the API refuses.
		parts = append(parts, openai.ChatMessagePart{Type: openai.ChatMessagePartTypeText, Text: req.Prompt})
	}
	parts = append(parts, openai.ChatMessagePart{Type: openai.ChatMessagePartTypeImageURL,
		ImageURL: &openai.ChatMessageImageURL{URL: img.DataURL, Detail: openai.ImageURLDetail(cfg.Detail)}})
	msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, MultiContent: parts})
	maxTokens := cfg.MaxTokens
	if req.Options.MaxTokens > 0 {
		maxTokens = req.Options.MaxTokens
	}
	temp := cfg.Temperature
	if req.Options.Temperature > 0 {
		temp = req.Options.Temperature
	}
	cr := openai.ChatCompletionRequest{Model: cfg.Model, Messages: msgs}
	if p.completionParam() {
		cr.MaxCompletionTokens = maxTokens
	} else {
		cr.MaxTokens = maxTokens
	}
	switch {
	case p.info.Reasoning:
		// Temperature and top_p are left out: reasoning models take only
		// the default. go-openai omits a zero Temperature.
		if e := p.info.ReasoningEffort; e != "" && e != "none" {
			cr.ReasoningEffort = e
		}
	case temp == 0:
		// go-openai omits a zero temperature, and the API's default is 1;
		// the smallest float32 is sent instead and means greedy decoding.
		cr.Temperature = math.SmallestNonzeroFloat32
	default:
		cr.Temperature = float32(temp)
	}
	if !cfg.NoSeed {
		seed := int(cfg.Seed)
		if req.Options.Seed != 0 {
			seed = int(req.Options.Seed)
		}
		cr.Seed = &seed
	}
	structured := cfg.Structured || req.Options.JSONSchema != ""
	if structured {
		schema := ScoreSchema
		if req.Options.JSONSchema != "" {
			schema = req.Options.JSONSchema
		}
		cr.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{Name: "safety_score", Schema: rawSchema(schema), Strict: true}}
	}
	est := EstimateTextTokens(req.System+req.Prompt) + 2*MessageOverhead + ReplyOverhead +
		p.info.ImageTokens.Tokens(cfg.Detail, img.Width, img.Height) + maxTokens
	start := time.Now()
	var served string
	resp, err := p.c.api.CreateChatCompletion(withServed(withTokens(ctx, est), &served), cr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		err = convertError(err, p.c.key)
		at := ""
		if served != "" {
			at = " at " + RedactURL(served)
		}
		return nil, llm.Missing(missingReason(err), fmt.Errorf("openai %s%s: %w", cfg.Model, at, err))
	}
	if len(resp.Choices) == 0 {
		return nil, fmt.Errorf("openai %s: %w: no choices", cfg.Model, ErrMalformed)
	}
	pred := &llm.Prediction{Latency: time.Since(start), Backend: "openai", Model: resp.Model, ResponseID: resp.ID,
		Usage: llm.Usage{PromptTokens: resp.Usage.PromptTokens, CompletionTokens: resp.Usage.CompletionTokens}}
	if pred.Model == "" {
		pred.Model = cfg.Model
	}
	pred.Server = &llm.Server{URL: RedactURL(served), Software: resp.Header().Get("Server"), Fingerprint: resp.SystemFingerprint}
	pred.CostUSD = p.c.cfg.Prices.Cost(cfg.Model, pred.Usage)
	text := resp.Choices[0].Message.Content
	if text == "" && resp.Choices[0].Message.Refusal != "" {
		text = resp.Choices[0].Message.Refusal
	}
	pred.SetText(text)
	if structured {
		readStructured(pred, text)
	}
	if resp.Choices[0].FinishReason == openai.FinishReasonContentFilter {
		// A content filter cut the answer: the model's refusal, not a
		// missing answer.
		pred.Score, pred.ScoreError = nil, contentFilterReason(resp.Choices[0].ContentFilterResults)
	}
	if text == "" && resp.Choices[0].FinishReason == openai.FinishReasonLength {
		pred.ScoreError = fmt.Sprintf("empty answer: the model used all %d completion tokens (a reasoning model spends them on hidden reasoning): raise max_tokens", maxTokens)
	}
	p.c.log.Debug("openai: answer", "id", req.ID, "model", cfg.Model, "server", RedactURL(served), "latency", pred.Latency,
		"prompt_tokens", pred.Usage.PromptTokens, "completion_tokens", pred.Usage.CompletionTokens)
	return pred, nil
}

// readStructured takes the score from a structured answer when it holds an
// integer score on the scale, and keeps SetText's reading otherwise.
func readStructured(pred *llm.Prediction, text string) {
	var v struct {
		Score *float64 `json:"score"`
	}
	if err := json.Unmarshal([]byte(text), &v); err != nil || v.Score == nil {
		return
	}
	if s := *v.Score; llm.InScale(s) {
		pred.Score, pred.ScoreError = &s, ""
		return
	}
	pred.Score = nil
	pred.ScoreError = fmt.Sprintf("structured score %v is outside %s", *v.Score, llm.ScaleText)
}

// PredictBatch scores reqs with up to Config.Concurrency requests in flight
// under the rate limits. See llm.BatchPredictor.
func (p *Predictor) PredictBatch(ctx context.Context, reqs []*llm.Request) <-chan llm.Result {
	return llm.PredictPool(ctx, reqs, cap(p.sem), p.Predict)
}

// ShareKey makes the runner count the predictor among those that take a
// shared image's decoded pixels (llm.DecodeKey), so they are dropped once
// every such model has them.
func (p *Predictor) ShareKey() string { return llm.DecodeKey }

// requestImage is req's image ready to send: from its shared image when the
// runner gave one (read and decoded once for every model of a run), else
// from Image or the file.
func requestImage(req *llm.Request, detail string) (*EncodedImage, error) {
	if req.Shared != nil && req.Image == nil {
		data, err := req.Shared.Data()
		if err != nil {
			return nil, err
		}
		img, format, err := req.Shared.Decode()
		if err != nil {
			return nil, err
		}
		return encodeDecoded(data, img, format, detail)
	}
	data := req.Image
	if data == nil {
		var err error
		if data, err = os.ReadFile(req.ImagePath); err != nil {
			return nil, fmt.Errorf("read image: %w", err)
		}
	}
	img, err := EncodeImage(data, detail)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", req.ImagePath, err)
	}
	return img, nil
}
