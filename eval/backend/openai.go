package backend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// openAIBackend builds OpenAI (and OpenAI-compatible) models.
var openAIBackend = Backend{Build: buildOpenAI, Ready: openAIReady, Cached: true}

// OpenAISettings are the settings of an OpenAI model after the command
// line, the config and the environment are combined: the command line wins,
// then the model's config, then OPENAI_BASE_URL / OPENAI_API_KEY.
type OpenAISettings struct {
	Model   string // API model name (a fine-tuned one resolved from its record)
	BaseURL string // the first of BaseURLs for a fleet
	// BaseURLs are the servers of a fleet (the model's base_urls), sorted;
	// empty for one server.
	BaseURLs  []string
	Key       string
	KeySource string // where the key came from, for display; never the key
	Detail    string
}

// ResolveOpenAI combines the overrides, m's config and the environment.
func ResolveOpenAI(m *config.Model, flags OpenAIOverrides) (*OpenAISettings, error) {
	st := &OpenAISettings{Model: m.Model.Name, Detail: m.Detail}
	if m.Model.From != "" {
		name, err := FineTunedModel(m.Model.From)
		if err != nil {
			return nil, err
		}
		st.Model = name
	}
	if st.Model == "" {
		return nil, errors.New("no OpenAI model: set model: NAME or model: {from: fine_tune_info.json}")
	}
	if st.Detail == "" {
		st.Detail = openaiclient.DefaultDetail
	}
	if !openaiclient.ValidDetail(st.Detail) {
		return nil, fmt.Errorf("detail %q is not one of low, high, auto", st.Detail)
	}
	base := flags.BaseURL
	if base == "" {
		base = m.BaseURL
	}
	if base == "" && len(m.BaseURLs) > 0 {
		// A fleet, unless --base-url names one server.
		urls, err := openaiclient.CheckBaseURLs(m.BaseURLs)
		if err != nil {
			return nil, err
		}
		st.BaseURLs = slices.Sorted(slices.Values(urls))
		base = st.BaseURLs[0]
	}
	st.BaseURL = openaiclient.ResolveBaseURL(base)
	keyFile := flags.APIKeyFile
	if keyFile == "" {
		keyFile = m.APIKeyFile
	}
	var err error
	// A server other than the OpenAI API, given by --base-url or the
	// model's base_url, may need no key.
	if st.Key, st.KeySource, err = openaiclient.ResolveKeyFor(keyFile, base); err != nil {
		return nil, err
	}
	return st, nil
}

// servers is the base URL, or a fleet's base URLs joined by commas (sorted,
// so that the identity does not depend on their order).
func (st *OpenAISettings) servers() string {
	if len(st.BaseURLs) > 0 {
		return strings.Join(st.BaseURLs, ",")
	}
	return st.BaseURL
}

// buildOpenAI builds the predictor of an OpenAI (or OpenAI-compatible)
// model. env.Concurrency, when positive, wins over the model's.
func buildOpenAI(_ context.Context, cfg *config.Config, m *config.Model, env Env) (*Built, error) {
	st, err := ResolveOpenAI(m, env.OpenAI)
	if err != nil {
		return nil, err
	}
	conc := env.Concurrency
	if conc <= 0 {
		conc = m.Concurrency
	}
	p, err := openaiclient.New(openaiclient.Config{
		Model:       st.Model,
		Models:      openaiclient.MergeModels(openaiclient.DefaultModels(), cfg.OpenAIModels),
		BaseURL:     st.BaseURL,
		BaseURLs:    st.BaseURLs,
		APIKey:      st.Key,
		Detail:      st.Detail,
		Structured:  m.Structured,
		MaxTokens:   m.MaxTokens,
		Concurrency: conc,
		Logger:      env.Log,
	})
	if err != nil {
		return nil, err
	}
	maxTokens := m.MaxTokens
	if maxTokens == 0 {
		maxTokens = openaiclient.DefaultMaxTokens
	}
	// Temperature 0 and seed 42 are the client's fixed defaults; they are
	// named so that changing them would change the key. A fleet's servers
	// are all named: they serve one model, but which is for the user to
	// vouch for, as for one server.
	id := fmt.Sprintf("openai model=%s base_url=%s detail=%s structured=%t max_tokens=%d temperature=0 seed=%d",
		st.Model, st.servers(), st.Detail, m.Structured, maxTokens, openaiclient.DefaultSeed)
	if info := p.Info(); info.Reasoning {
		// A reasoning model takes no temperature and has its own budget.
		if m.MaxTokens == 0 {
			maxTokens = openaiclient.DefaultReasoningMaxTokens
		}
		id = fmt.Sprintf("openai model=%s base_url=%s detail=%s structured=%t max_completion_tokens=%d reasoning_effort=%s seed=%d",
			st.Model, st.servers(), st.Detail, m.Structured, maxTokens, info.ReasoningEffort, openaiclient.DefaultSeed)
	}
	return &Built{Predictor: p, Identity: id}, nil
}

func openAIReady(_ *config.Config, m *config.Model, env Env) Readiness {
	st, err := ResolveOpenAI(m, env.OpenAI)
	if err != nil {
		return Readiness{false, err.Error()}
	}
	what := st.Model
	switch {
	case len(st.BaseURLs) > 0:
		shown := make([]string, len(st.BaseURLs))
		for i, u := range st.BaseURLs {
			shown[i] = openaiclient.RedactURL(u)
		}
		what += " at " + strings.Join(shown, ", ")
	case st.BaseURL != openaiclient.DefaultBaseURL:
		what += " at " + openaiclient.RedactURL(st.BaseURL)
	}
	if st.Key == "" {
		return Readiness{true, what + ", no key"}
	}
	return Readiness{true, what + ", key from " + st.KeySource}
}

// FineTunedModel reads the fine-tuned model's name from the record vlmcmp
// finetune writes, or says why there is none yet.
func FineTunedModel(path string) (string, error) {
	info, err := openaiclient.ReadInfo(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("no fine-tuned model: %s not found (run vlmcmp finetune start)", path)
	case err != nil:
		return "", fmt.Errorf("no fine-tuned model: %w", err)
	}
	if info.FineTunedModel == "" {
		st := info.Status
		if st == "" {
			st = "unknown"
		}
		return "", fmt.Errorf("fine-tuning job %s not finished (status %s): run vlmcmp finetune wait", info.JobID, st)
	}
	return info.FineTunedModel, nil
}
