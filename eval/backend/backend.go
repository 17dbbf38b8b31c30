// Package backend turns a model's entry of vlmcmp.yaml into a ready
// predictor (llm.Predictor). Each backend is one file of this package
// (local.go, openai.go, azure.go, anthropic.go, baseline.go) that owns its
// part of the entry:
//
//   - a spec type: a struct whose yaml-tagged fields are the backend's keys
//     (model_file, detail, ...). Adding a key to a backend is adding a field
//     there: decoding is generic, unknown keys are refused naming their line,
//     and a field tagged `vlmcmp:"path"` is resolved relative to the config
//     file's folder. The spec implements [Spec]: Validate (what needs no file),
//     Identity (content hashes and every resolved setting that can change an
//     answer), Ready (can it run here, without loading it), Build (the
//     predictor) and Describe (a few words for vlmcmp models).
//   - a call to register in the file's init, with a [Kind]: its name in the
//     config, a constructor of its zero spec, whether its answers go
//     through the response cache, and which of its keys never change an
//     answer (every other key must appear in its identity, as KEY or
//     KEY.something; TestIdentityNamesEveryKey checks it with a fixture each
//     backend's test registers in identityFixtures).
//
// A new backend is therefore one new file (and its test); nothing else in
// the project names it. eval/config decodes every model's entry through
// [Decode] when it reads the file, so a mistake in a backend's keys is an
// error of the config file (a [usage.Error] naming the key).
//
// One identity per model: [Identity] is recorded in run.json, compared on
// resume and across shards with [Diff], and its [Identity.Key] keys the
// response cache, so a model whose files or settings changed never answers
// from another model's cache nor resumes another model's run. Files are
// named by content ([FileSHA256], hashed once per process).
//
// It imports llm and the backends' packages (llm/local, openaiclient),
// native (to ask whether llama.cpp is built in) and usage; nothing of eval,
// so that eval/config and eval can both import it.
package backend

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// Spec is one model's backend configuration, decoded from its YAML entry.
type Spec interface {
	// Validate checks the spec without touching files or the network.
	Validate() error
	// Identity is everything that decides the model's answers, as resolved
	// here (defaults filled in, files hashed); see [ModelIdentity].
	Identity(env Env) (Identity, error)
	// Ready says whether the model can run here, without loading it.
	Ready(env Env) Readiness
	// Build makes the predictor. Callers use the package's [Build], which
	// adds the response cache.
	Build(ctx context.Context, env Env) (*Built, error)
	// Describe is what the model is, in a few words.
	Describe() string
}

// Kind is one backend as the registry holds it.
type Kind struct {
	// Name is the backend's name in the config (backend: NAME).
	Name string
	// New returns a spec with no key set, for the model c, as a pointer
	// to the struct its YAML keys decode into.
	New func(c Common) Spec
	// Cached says whether answers go through the response cache (a
	// baseline's cost nothing to recompute).
	Cached bool
	// SameAnswers are the spec's keys that never change an answer (where
	// it runs, how fast, where its key is read from), so that the identity
	// leaves them out and a run may resume with others. Every other key
	// must be named by the identity (a test checks it): a new key is
	// identified unless it is listed here.
	SameAnswers []string
}

// registry is every backend by its config name, filled by the init of each
// backend's file; nothing outside this package adds to it.
var (
	registry = map[string]Kind{}
	byType   = map[reflect.Type]Kind{}
)

func register(k Kind) {
	t := reflect.TypeOf(k.New(Common{}))
	if _, dup := registry[k.Name]; dup || byType[t].Name != "" {
		panic("backend: " + k.Name + " registered twice")
	}
	registry[k.Name] = k
	byType[t] = k
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

// Common is what every model's entry has, whatever its backend; a spec
// gets it from [Decode].
type Common struct {
	Name, Backend string
	// MaxTokens bounds the answer (0: the backend's default);
	// Concurrency is the requests in flight for backends that do not
	// batch (0: the runner's default).
	MaxTokens, Concurrency int
	// Dir anchors the entry's relative paths ("" for the working folder);
	// At names the entry in errors (FILE:LINE, or "default config").
	Dir, At string
	// Shared are the config's settings beside the models.
	Shared Shared
}

// Shared are settings of the config file that are not a model's but that
// some backend needs.
type Shared struct {
	// OpenAIModels extends the built-in OpenAI model table (openai_models).
	OpenAIModels openaiclient.Models
	// SplitPath is the split manifest the baselines' training scores come
	// from.
	SplitPath string
}

// OpenAIOverrides are settings of every OpenAI model given by the caller
// (vlmcmp's --api-key-file and --base-url); they win over the config.
type OpenAIOverrides struct {
	APIKeyFile string
	BaseURL    string
}

// Env is what resolving and building a model may need besides its spec.
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
	// Log receives the backends' debug lines; nil: discarded. Status
	// receives the lines a person must see (a GPU library without a GPU);
	// nil: discarded.
	Log    *slog.Logger
	Status io.Writer
}

// Built is a configured model ready to answer.
type Built struct {
	Predictor llm.Predictor
	// Closer releases the backend (a loaded local model); may be nil.
	Closer io.Closer
	// Identity is the model's identity; its Key keys the response cache.
	Identity Identity
}

// Close releases the backend; a nil Built or one without a Closer is a
// no-op.
func (b *Built) Close() error {
	if b == nil || b.Closer == nil {
		return nil
	}
	return b.Closer.Close()
}

// ModelIdentity is the identity of a model asked with the given prompt and
// system prompt (empty: the ground truth's): its spec's, plus the prompts.
// It is what run.json records and what keys the response cache.
func ModelIdentity(spec Spec, prompt, system string, env Env) (Identity, error) {
	id, err := spec.Identity(env)
	if err != nil {
		return nil, err
	}
	if prompt != "" {
		id["prompt"] = prompt
	}
	if system != "" {
		id["system"] = system
	}
	return id, nil
}

// Build builds the predictor of the model name with the identity id (from
// [ModelIdentity]), wrapped in env.Cache under id's key when its backend is
// cached. Errors name the model.
func Build(ctx context.Context, name string, spec Spec, id Identity, env Env) (*Built, error) {
	b, err := spec.Build(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	b.Identity = id
	if env.Cache != nil && kindOf(spec).Cached {
		b.Predictor = llm.WithCache(b.Predictor, env.Cache, id.Key())
	}
	return b, nil
}

// kindOf is the registered kind of a spec, by its type.
func kindOf(spec Spec) Kind {
	return byType[reflect.TypeOf(spec)]
}

// Readiness says whether a model can run here and, when not, why.
type Readiness struct {
	Ready  bool
	Reason string // why not, or what it will use
}
