package backend

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vlmcmp/vlmcmp/openaiclient"
	"github.com/vlmcmp/vlmcmp/usage"
)

func init() {
	register(Kind{Name: "openai", New: func(c Common) Spec { return &OpenAISpec{common: c} }, Cached: true,
		SameAnswers: []string{"api_key_file"}})
}

// OpenAISpec is an OpenAI (or OpenAI-compatible) model. A new key is a
// field here with its yaml tag; Identity must name it when it can change an
// answer.
type OpenAISpec struct {
	// Model is the API model name or the fine-tuning record naming it.
	Model ModelRef `yaml:"model"`
	// BaseURL of an OpenAI-compatible server; empty means OPENAI_BASE_URL
	// or the OpenAI API.
	BaseURL string `yaml:"base_url"`
	// BaseURLs, instead of BaseURL, are several servers of the same model
	// (vLLM or llama-server on several machines): each request goes to the
	// least busy healthy one, and a server that fails is skipped and tried
	// again later.
	BaseURLs []string `yaml:"base_urls"`
	// APIKeyFile holds the API key; empty means OPENAI_API_KEY.
	APIKeyFile string `yaml:"api_key_file" vlmcmp:"path"`
	// Detail is the image detail: low, high or auto.
	Detail string `yaml:"detail"`
	// Structured asks for JSON-schema structured output.
	Structured bool `yaml:"structured"`

	common Common
}

// ModelRef names an OpenAI model directly (`model: gpt-4o`) or through the
// fine-tuning record vlmcmp finetune writes
// (`model: {from: models/gpt4o_mini_finetuned/fine_tune_info.json}`).
type ModelRef struct {
	Name string
	From string `vlmcmp:"path"`
}

// String is the name, or "from FILE".
func (r ModelRef) String() string {
	if r.From != "" {
		return "from " + r.From
	}
	return r.Name
}

// UnmarshalYAML accepts a scalar name or a mapping with the single key from.
func (r *ModelRef) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		r.Name = n.Value
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value != "from" {
				return lineErrorf(k.Line, "model", "unknown key %q in model (want a name or {from: FILE})", k.Value)
			}
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				return lineErrorf(v.Line, "model", "model: from must be a file name")
			}
			r.From = v.Value
		}
		return nil
	}
	return lineErrorf(n.Line, "model", "model must be a name or {from: FILE}")
}

// Validate checks what needs no file.
func (s *OpenAISpec) Validate() error {
	if s.Model.Name == "" && s.Model.From == "" {
		return usage.Errorf("model", "openai models need model: NAME or model: {from: FILE}")
	}
	if s.Detail != "" && !openaiclient.ValidDetail(s.Detail) {
		return usage.Errorf("detail", "detail %q is not one of low, high, auto", s.Detail)
	}
	if err := usage.Exclusive(usage.Opt{Name: "base_url", Set: s.BaseURL != ""}, usage.Opt{Name: "base_urls", Set: len(s.BaseURLs) > 0}); err != nil {
		return err
	}
	if len(s.BaseURLs) > 0 {
		if _, err := openaiclient.CheckBaseURLs(s.BaseURLs); err != nil {
			return usage.Errorf("base_urls", "base_urls: %s", strings.TrimPrefix(err.Error(), "openai: "))
		}
	}
	return nil
}

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

// Resolve combines the overrides, the spec and the environment.
func (s *OpenAISpec) Resolve(flags OpenAIOverrides) (*OpenAISettings, error) {
	st, base, err := s.endpoint(flags)
	if err != nil {
		return nil, err
	}
	keyFile := flags.APIKeyFile
	if keyFile == "" {
		keyFile = s.APIKeyFile
	}
	// A server other than the OpenAI API, given by --base-url or the
	// model's base_url, may need no key.
	if st.Key, st.KeySource, err = openaiclient.ResolveKeyFor(keyFile, base); err != nil {
		return nil, err
	}
	return st, nil
}

// endpoint is Resolve without the key: the model, the servers, the detail;
// base is the URL the user gave ("" for the default).
func (s *OpenAISpec) endpoint(flags OpenAIOverrides) (st *OpenAISettings, base string, err error) {
	st = &OpenAISettings{Model: s.Model.Name, Detail: s.Detail}
	if s.Model.From != "" {
		name, err := FineTunedModel(s.Model.From)
		if err != nil {
			return nil, "", err
		}
		st.Model = name
	}
	if st.Model == "" {
		return nil, "", errors.New("no OpenAI model: set model: NAME or model: {from: fine_tune_info.json}")
	}
	if st.Detail == "" {
		st.Detail = openaiclient.DefaultDetail
	}
	base = flags.BaseURL
	if base == "" {
		base = s.BaseURL
	}
	if base == "" && len(s.BaseURLs) > 0 {
		// A fleet, unless --base-url names one server.
		urls, err := openaiclient.CheckBaseURLs(s.BaseURLs)
		if err != nil {
			return nil, "", err
		}
		st.BaseURLs = slices.Sorted(slices.Values(urls))
		base = st.BaseURLs[0]
	}
	st.BaseURL = openaiclient.ResolveBaseURL(base)
	return st, base, nil
}

// servers is the base URL, or a fleet's base URLs joined by commas (sorted,
// so that the identity does not depend on their order), without passwords.
func (st *OpenAISettings) servers() string {
	urls := st.BaseURLs
	if len(urls) == 0 {
		urls = []string{st.BaseURL}
	}
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = redactURL(u)
	}
	return strings.Join(out, ",")
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

func (s *OpenAISpec) models() openaiclient.Models {
	return openaiclient.MergeModels(openaiclient.DefaultModels(), s.common.Shared.OpenAIModels)
}

// Identity names the resolved model, its servers (a fleet's all, sorted:
// they serve one model, but which is for the user to vouch for, as for one
// server) and every request setting, with the client's fixed defaults
// (temperature 0, seed) so that changing them would change it.
func (s *OpenAISpec) Identity(env Env) (Identity, error) {
	st, _, err := s.endpoint(env.OpenAI)
	if err != nil {
		return nil, err
	}
	info := s.models().Info(st.Model)
	id := Identity{
		"backend": "openai", "model": st.Model, "detail": st.Detail,
		"structured": strconv.FormatBool(s.Structured), "seed": strconv.Itoa(openaiclient.DefaultSeed),
	}
	if len(st.BaseURLs) > 0 {
		id["base_urls"] = st.servers()
	} else {
		id["base_url"] = st.servers()
	}
	maxTokens := s.common.MaxTokens
	if info.Reasoning {
		// A reasoning model takes no temperature and has its own budget.
		if maxTokens == 0 {
			maxTokens = openaiclient.DefaultReasoningMaxTokens
		}
		id["max_completion_tokens"] = strconv.Itoa(maxTokens)
		id["reasoning_effort"] = info.ReasoningEffort
		return id, nil
	}
	if maxTokens == 0 {
		maxTokens = openaiclient.DefaultMaxTokens
	}
	id["max_tokens"] = strconv.Itoa(maxTokens)
	id["temperature"] = "0"
	return id, nil
}

// Build makes the client. env.Concurrency, when positive, wins over the
// model's.
func (s *OpenAISpec) Build(_ context.Context, env Env) (*Built, error) {
	st, err := s.Resolve(env.OpenAI)
	if err != nil {
		return nil, err
	}
	conc := env.Concurrency
	if conc <= 0 {
		conc = s.common.Concurrency
	}
	p, err := openaiclient.New(openaiclient.Config{
		Model:       st.Model,
		Models:      s.models(),
		BaseURL:     st.BaseURL,
		BaseURLs:    st.BaseURLs,
		APIKey:      st.Key,
		Detail:      st.Detail,
		Structured:  s.Structured,
		MaxTokens:   s.common.MaxTokens,
		Concurrency: conc,
		Logger:      env.Log,
	})
	if err != nil {
		return nil, err
	}
	return &Built{Predictor: p}, nil
}

// Ready resolves the model, its servers and its key.
func (s *OpenAISpec) Ready(env Env) Readiness {
	st, err := s.Resolve(env.OpenAI)
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

// Describe is the API model's name, or where it is recorded.
func (s *OpenAISpec) Describe() string { return s.Model.String() }

// FineTunedModel reads the fine-tuned model's name from the record vlmcmp
// finetune writes, or says why there is none yet. An Azure job's record is
// refused: its model is scored through a deployment, by the azure backend.
func FineTunedModel(path string) (string, error) {
	info, err := openaiclient.ReadInfo(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("no fine-tuned model: %s not found (run vlmcmp finetune start)", path)
	case err != nil:
		return "", fmt.Errorf("no fine-tuned model: %w", err)
	}
	if info.Provider == "azure" {
		return "", usage.Errorf("model", "%s records an Azure OpenAI fine-tuning job, whose model answers only through a deployment: score it with a backend: azure entry (endpoint, deployment, api_version), as vlmcmp finetune printed when the job succeeded", path)
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
