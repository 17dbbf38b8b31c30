// Package backend turns a configured model (eval/config) into a ready
// predictor (llm.Predictor): a small registry keyed by the config's backend
// name, one file per backend (local.go, openai.go, baseline.go). Adding a
// backend is one file with its Backend value and one line in the registry.
//
// It owns predictor construction, the readiness check that says whether a
// model can run here without loading it, the identity that keys the response
// cache, and the baselines. It may import llm and its backends (llm/local,
// openaiclient), native (to ask whether llama.cpp is built in) and
// eval/config; it imports nothing else of eval, so that eval can build its
// models through it.
package backend

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm"
)

// Backend builds and checks the models of one backend.
type Backend struct {
	// Build makes the predictor of m.
	Build func(ctx context.Context, cfg *config.Config, m *config.Model, env Env) (*Built, error)
	// Ready says whether m can run here, without loading it.
	Ready func(cfg *config.Config, m *config.Model, env Env) Readiness
	// Cached says whether answers go through the response cache (a
	// baseline's cost nothing to recompute).
	Cached bool
}

// registry is every backend by its config name. A plain table: nothing
// registers into it at run time.
var registry = map[string]Backend{
	config.BackendLocal:    localBackend,
	config.BackendOpenAI:   openAIBackend,
	config.BackendBaseline: baselineBackend,
}

// Names are the backends' config names, sorted.
func Names() []string {
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func lookup(name string) (Backend, error) {
	b, ok := registry[name]
	if !ok {
		return Backend{}, fmt.Errorf("backend %q is not one of %v", name, Names())
	}
	return b, nil
}

// OpenAIOverrides are settings of every OpenAI model given by the caller
// (vlmcmp's --api-key-file and --base-url); they win over the config.
type OpenAIOverrides struct {
	APIKeyFile string
	BaseURL    string
}

// Env is what building a predictor may need besides the model's config.
type Env struct {
	// TrainScores are the training split's scores, for the baselines.
	TrainScores []float64
	// Cache, when set, wraps the predictors of cached backends.
	Cache *llm.Cache
	// OpenAI overrides the config of OpenAI models.
	OpenAI OpenAIOverrides
	// Concurrency, when positive, is the requests in flight per model,
	// over the model's own setting.
	Concurrency int
	// Log receives the backends' debug lines; nil: slog.Default().
	Log *slog.Logger
}

// Built is a configured model ready to answer.
type Built struct {
	Predictor llm.Predictor
	// Closer releases the backend (a loaded local model); may be nil.
	Closer io.Closer
	// Identity names everything that determines its answers (cache key).
	Identity string
}

// Close releases the backend; a nil Built or one without a Closer is a
// no-op.
func (b *Built) Close() error {
	if b == nil || b.Closer == nil {
		return nil
	}
	return b.Closer.Close()
}

// Build builds the predictor of one configured model, wrapped in env.Cache
// when its backend is cached. Errors name the model.
func Build(ctx context.Context, cfg *config.Config, m *config.Model, env Env) (*Built, error) {
	be, err := lookup(m.Backend)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	b, err := be.Build(ctx, cfg, m, env)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	if env.Cache != nil && be.Cached {
		b.Predictor = llm.WithCache(b.Predictor, env.Cache, b.Identity)
	}
	return b, nil
}

// Readiness says whether a model can run here and, when not, why.
type Readiness struct {
	Ready  bool
	Reason string // why not, or what it will use
}

// Ready checks what a model needs without loading it: files present, a key
// present, the fine-tuned model known, llama.cpp built in.
func Ready(cfg *config.Config, m *config.Model, env Env) Readiness {
	be, err := lookup(m.Backend)
	if err != nil {
		return Readiness{false, "unknown backend " + m.Backend}
	}
	return be.Ready(cfg, m, env)
}
