package llm

import (
	"context"
	"fmt"
	"time"
)

// Predictor scores one image. Implementations must be safe for concurrent use:
// without a [BatchPredictor], the comparison runner calls Predict from several
// goroutines at once (its concurrency setting) and relies on the backend to
// queue or limit as it needs.
//
// Predict returns an error only when the request could not be answered at all
// (the image would not decode, the API refused the request, ctx was cancelled).
// An answer from which no score could be read is not an error: the Prediction
// holds the text verbatim, a nil Score and the reason in ScoreError.
type Predictor interface {
	Predict(ctx context.Context, req *Request) (*Prediction, error)
}

// BatchPredictor is implemented by backends that do better on many requests at
// once: the local backend decodes many sequences in one llama_decode step, the
// OpenAI backend runs requests concurrently under its rate limit.
//
// PredictBatch starts scoring reqs and returns at once. It sends exactly one
// [Result] per request on the returned channel, in completion order (not the
// order of reqs), and closes the channel after the last one. When ctx is
// cancelled, the requests not yet answered are sent with ctx's error and the
// channel is closed promptly. The caller must drain the channel.
//
// When a backend does not implement BatchPredictor, the runner falls back to
// calling Predict from a fixed number of goroutines.
type BatchPredictor interface {
	Predictor
	PredictBatch(ctx context.Context, reqs []*Request) <-chan Result
}

// Result is one answered request of a batch: Prediction is set when Err is nil.
type Result struct {
	Request    *Request
	Prediction *Prediction
	Err        error
}

// Request is one image to score with one prompt.
type Request struct {
	// ID is the caller's name for the item (usually the image path relative to
	// the data file); backends echo it and never interpret it.
	ID string
	// ImagePath is the image file. It is read when Image is nil, and named in
	// errors either way.
	ImagePath string
	// Image holds the encoded image (JPEG, PNG, WebP, GIF or BMP) when the
	// caller has already read it.
	Image []byte
	// Shared, when set, is the run's one copy of the image at ImagePath,
	// read and decoded once for every model that asks about it (see
	// SharedImage); backends take the bytes and pixels from it.
	Shared *SharedImage
	// Prompt is the user's text; System the system prompt (may be empty).
	Prompt string
	System string
	// Options are the decoding options.
	Options Options
}

// Options control decoding. The zero value means greedy decoding with the
// backend's default answer length.
type Options struct {
	// MaxTokens bounds the answer length in tokens; 0 means the backend default.
	MaxTokens int `json:"max_tokens,omitempty" yaml:"max_tokens,omitempty"`
	// Temperature 0 is greedy decoding (the default, so runs are reproducible).
	Temperature float64 `json:"temperature,omitempty" yaml:"temperature,omitempty"`
	// TopK and TopP restrict sampling when Temperature > 0; 0 disables them.
	TopK int     `json:"top_k,omitempty" yaml:"top_k,omitempty"`
	TopP float64 `json:"top_p,omitempty" yaml:"top_p,omitempty"`
	// Seed makes sampling reproducible.
	Seed int64 `json:"seed,omitempty" yaml:"seed,omitempty"`
	// Grammar is a GBNF grammar constraining the answer (local backend).
	Grammar string `json:"grammar,omitempty" yaml:"grammar,omitempty"`
	// JSONSchema is a JSON schema the answer must follow (structured output
	// for OpenAI; converted to a grammar by the local backend).
	JSONSchema string `json:"json_schema,omitempty" yaml:"json_schema,omitempty"`
}

// Usage counts the tokens of one request.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// Timings break a local prediction's latency down, in milliseconds.
type Timings struct {
	ImageEncodeMS float64 `json:"image_encode_ms,omitempty"`
	PrefillMS     float64 `json:"prefill_ms,omitempty"`
	DecodeMS      float64 `json:"decode_ms,omitempty"`
	// FirstTokenMS is the time from the request's start to its first answer
	// token, queueing included.
	FirstTokenMS float64 `json:"first_token_ms,omitempty"`
}

// Prediction is one model's answer for one image.
type Prediction struct {
	// Text is the model's answer verbatim.
	Text string `json:"text"`
	// Score is the score read from Text (or given directly by a structured
	// answer or a baseline); nil when none could be read.
	Score *float64 `json:"score"`
	// ScoreError says why Score is nil.
	ScoreError string `json:"score_error,omitempty"`
	// Latency is the wall time of the request, queueing excluded where the
	// backend can tell.
	Latency time.Duration `json:"latency_ns"`
	// Usage is the token count the backend reported.
	Usage Usage `json:"usage"`
	// CostUSD is Usage priced with the backend's price table; 0 for local.
	CostUSD float64 `json:"cost_usd"`
	// Backend names the backend kind ("local", "openai", "baseline").
	Backend string `json:"backend"`
	// Model is the backend's own model identifier (the API's model name, the
	// GGUF file's name), not the user's name for the configured model.
	Model string `json:"model"`
	// ResponseID is the backend's identifier of the response, if any.
	ResponseID string `json:"response_id,omitempty"`
	// Server is the server that answered, for backends that ask one over
	// HTTP (an OpenAI-compatible API); nil otherwise.
	Server *Server `json:"server,omitempty"`
	// Timings is the latency breakdown of local predictions.
	Timings *Timings `json:"timings,omitempty"`
	// Cached is true when the prediction came from the response cache.
	Cached bool `json:"cached,omitempty"`
}

// Server names the server that answered a prediction. The model name it
// returned is the prediction's Model.
type Server struct {
	// URL is the base URL the request went to.
	URL string `json:"url"`
	// Software is the answer's Server header (llama.cpp, uvicorn…), if any.
	Software string `json:"software,omitempty"`
	// Fingerprint is the answer's system_fingerprint, if any.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// SetText stores an answer and the score read from it with [ExtractScore].
// Backends call it so that every prediction is scored the same way.
func (p *Prediction) SetText(text string) {
	p.Text = text
	p.Score = nil
	p.ScoreError = ""
	if s, err := ExtractScore(text); err != nil {
		p.ScoreError = err.Error()
	} else {
		p.Score = &s
	}
}

// Summary is the prediction in a few words for people: its score (or
// "no score" and why), its latency to the millisecond and its cost when
// it has one: "score 7, 1.234s, $0.00012".
func (p *Prediction) Summary() string {
	s := "no score"
	switch {
	case p.Score != nil:
		s = fmt.Sprintf("score %g", *p.Score)
	case p.ScoreError != "":
		s = "no score (" + p.ScoreError + ")"
	}
	s += ", " + p.Latency.Round(time.Millisecond).String()
	if p.CostUSD > 0 {
		s += fmt.Sprintf(", $%.5f", p.CostUSD)
	}
	return s
}

// TimingsLine is the latency breakdown of a local prediction in one line,
// with the token counts and the whole latency; "" when it has none.
func (p *Prediction) TimingsLine() string {
	t := p.Timings
	if t == nil {
		return ""
	}
	return fmt.Sprintf("timings: image encode %.1f ms, prefill %.1f ms (%d prompt tokens), decode %.1f ms (%d tokens), first token %.1f ms, total %.1f ms",
		t.ImageEncodeMS, t.PrefillMS, p.Usage.PromptTokens, t.DecodeMS, p.Usage.CompletionTokens, t.FirstTokenMS, float64(p.Latency.Microseconds())/1000)
}
