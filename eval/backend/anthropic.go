package backend

import (
	"context"
	"log/slog"
	"strconv"
	"strings"

	"github.com/vlmcmp/vlmcmp/anthropicclient"
	"github.com/vlmcmp/vlmcmp/usage"
)

func init() {
	register(Kind{Name: "anthropic", New: func(c Common) Spec { return &AnthropicSpec{common: c} }, Cached: true,
		SameAnswers: []string{"api_key_file"}})
}

// AnthropicSpec is a Claude model asked through the Messages API
// (anthropicclient). Its answer budget and requests in flight are the
// entry's max_tokens and concurrency. Claude takes no temperature under the
// API version the SDK sends (anthropicclient.APIVersion), so the entry has
// none: answers are sampled at the API's default.
type AnthropicSpec struct {
	// Model is the Claude API model ID (claude-sonnet-4-5,
	// claude-haiku-4-5-20251001); the client's model table must know it as
	// a vision model.
	Model string `yaml:"model"`
	// BaseURL of the API; empty means ANTHROPIC_BASE_URL or the Claude API.
	BaseURL string `yaml:"base_url"`
	// APIKeyFile holds the key; empty means ANTHROPIC_API_KEY.
	APIKeyFile string `yaml:"api_key_file" vlmcmp:"path"`

	common Common
}

// Validate checks the model against the client's model table.
func (s *AnthropicSpec) Validate() error {
	if s.Model == "" {
		return usage.Errorf("model", "anthropic models need model: NAME (a Claude model ID such as claude-sonnet-4-5)")
	}
	info, ok := anthropicclient.DefaultModels().Lookup(s.Model)
	switch {
	case !ok:
		return usage.Errorf("model", "model %s is not a Claude model vlmcmp knows (its table: %s)", s.Model, visionNames(anthropicclient.DefaultModels()))
	case !info.Vision:
		return usage.Errorf("model", "model %s takes no images", s.Model)
	}
	return nil
}

// visionNames are the table's vision models, for an error.
func visionNames(m anthropicclient.Models) string {
	var out []string
	for _, n := range m.Names() {
		if m[n].Vision {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}

func (s *AnthropicSpec) config(env Env) anthropicclient.Config {
	conc := env.Concurrency
	if conc <= 0 {
		conc = s.common.Concurrency
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return anthropicclient.Config{Model: s.Model, APIKeyFile: s.APIKeyFile, BaseURL: s.BaseURL,
		MaxTokens: s.common.MaxTokens, Concurrency: conc, Logger: log}
}

// Identity names the model, the API's URL, the answer budget as resolved
// (a model that always thinks has a larger default) and the API version the
// SDK sends, which decides what a request may ask for.
func (s *AnthropicSpec) Identity(Env) (Identity, error) {
	info, _ := anthropicclient.DefaultModels().Lookup(s.Model)
	maxTokens := s.common.MaxTokens
	switch {
	case maxTokens == 0 && info.Thinking:
		maxTokens = anthropicclient.DefaultThinkingMaxTokens
	case maxTokens == 0:
		maxTokens = anthropicclient.DefaultMaxTokens
	}
	return Identity{
		"backend":           "anthropic",
		"model":             s.Model,
		"base_url":          redactURL(anthropicclient.ResolveBaseURL(s.BaseURL)),
		"max_tokens":        strconv.Itoa(maxTokens),
		"anthropic_version": anthropicclient.APIVersion,
	}, nil
}

// Ready checks the model and finds the key, sending nothing.
func (s *AnthropicSpec) Ready(env Env) Readiness {
	src, err := anthropicclient.Ready(s.config(env))
	if err != nil {
		return Readiness{false, err.Error()}
	}
	what := s.Model
	if base := anthropicclient.ResolveBaseURL(s.BaseURL); base != anthropicclient.DefaultBaseURL {
		what += " at " + redactURL(base)
	}
	return Readiness{true, what + ", key from " + src}
}

// Build makes the client; env.Concurrency, when positive, wins over the
// model's.
func (s *AnthropicSpec) Build(_ context.Context, env Env) (*Built, error) {
	p, err := anthropicclient.NewPredictor(s.config(env))
	if err != nil {
		return nil, err
	}
	return &Built{Predictor: p}, nil
}

// Describe is the Claude model's ID.
func (s *AnthropicSpec) Describe() string { return s.Model }
