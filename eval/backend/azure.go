package backend

import (
	"context"
	"strconv"

	"github.com/vlmcmp/vlmcmp/openaiclient"
	"github.com/vlmcmp/vlmcmp/usage"
)

func init() {
	register(Kind{Name: "azure", New: func(c Common) Spec { return &AzureSpec{common: c} }, Cached: true,
		SameAnswers: []string{"api_key_file"}})
}

// AzureSpec is a deployment of an Azure OpenAI resource
// (openaiclient.AzurePredictor). Empty settings come from the variables
// the official SDKs read: AZURE_OPENAI_ENDPOINT, OPENAI_API_VERSION (else
// openaiclient.DefaultAzureAPIVersion) and, without api_key_file,
// AZURE_OPENAI_API_KEY. vlmcmp's --base-url and --api-key-file are the
// OpenAI models' and do not apply here.
type AzureSpec struct {
	// Endpoint is the resource's root, https://NAME.openai.azure.com.
	Endpoint string `yaml:"endpoint"`
	// Deployment is the deployment's name (not the model's).
	Deployment string `yaml:"deployment"`
	// APIVersion is the data-plane version, such as 2024-10-21.
	APIVersion string `yaml:"api_version"`
	// APIKeyFile holds the resource's key.
	APIKeyFile string `yaml:"api_key_file" vlmcmp:"path"`
	// Model is the model the deployment serves, for the model table
	// (images, reasoning parameters, prices); empty means the deployment's
	// name.
	Model string `yaml:"model"`
	// Detail is the image detail: low, high or auto.
	Detail string `yaml:"detail"`
	// Structured asks for JSON-schema structured output.
	Structured bool `yaml:"structured"`

	common Common
}

// Validate checks the deployment, and the endpoint and version when the
// entry gives them (else they come from the environment when the model is
// used).
func (s *AzureSpec) Validate() error {
	const someEndpoint = "https://resource.openai.azure.com"
	if s.Deployment == "" {
		return usage.Errorf("deployment", "azure models need deployment: NAME (az cognitiveservices account deployment list shows them)")
	}
	checks := []struct {
		key string
		cfg openaiclient.AzureConfig
	}{
		{"deployment", openaiclient.AzureConfig{Endpoint: someEndpoint, APIVersion: openaiclient.DefaultAzureAPIVersion, Deployment: s.Deployment}},
		{"endpoint", openaiclient.AzureConfig{Endpoint: s.Endpoint, APIVersion: openaiclient.DefaultAzureAPIVersion}},
		{"api_version", openaiclient.AzureConfig{Endpoint: someEndpoint, APIVersion: s.APIVersion}},
	}
	for _, c := range checks {
		if c.cfg.Endpoint == "" || c.cfg.APIVersion == "" {
			continue // from the environment, checked when the model is used
		}
		if _, err := c.cfg.Resolve(c.key == "deployment"); err != nil {
			return usage.Wrap(c.key, err)
		}
	}
	if s.Detail != "" && !openaiclient.ValidDetail(s.Detail) {
		return usage.Errorf("detail", "detail %q is not one of low, high, auto", s.Detail)
	}
	return nil
}

// config is the client's configuration, the environment not yet read.
func (s *AzureSpec) config(env Env) openaiclient.AzureConfig {
	conc := env.Concurrency
	if conc <= 0 {
		conc = s.common.Concurrency
	}
	return openaiclient.AzureConfig{
		Endpoint: s.Endpoint, Deployment: s.Deployment, APIVersion: s.APIVersion, APIKeyFile: s.APIKeyFile, Model: s.Model,
		Options: openaiclient.Config{
			Detail: s.detail(), Structured: s.Structured, MaxTokens: s.common.MaxTokens, Concurrency: conc,
			Models: openaiclient.MergeModels(openaiclient.DefaultModels(), s.common.Shared.OpenAIModels), Logger: env.Log,
		},
	}
}

func (s *AzureSpec) detail() string {
	if s.Detail == "" {
		return openaiclient.DefaultDetail
	}
	return s.Detail
}

// Identity names the resource's endpoint, the deployment, the API version,
// the model the table reads for it and every request setting (as the
// OpenAI backend's, with the client's fixed defaults); never the key.
func (s *AzureSpec) Identity(env Env) (Identity, error) {
	cfg, err := s.config(env).Resolve(true)
	if err != nil {
		return nil, err
	}
	ai := cfg.Identity()
	model := ai.Model
	if model == "" {
		model = ai.Deployment
	}
	id := Identity{
		"backend": "azure", "endpoint": redactURL(ai.Endpoint), "deployment": ai.Deployment, "api_version": ai.APIVersion,
		"model": model, "detail": s.detail(), "structured": strconv.FormatBool(s.Structured),
		"seed": strconv.Itoa(openaiclient.DefaultSeed),
	}
	info := cfg.Options.Models.Info(openaiclient.AzureTableName(model))
	maxTokens := s.common.MaxTokens
	if info.Reasoning {
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

// Ready checks the settings and finds the key, sending nothing.
func (s *AzureSpec) Ready(env Env) Readiness {
	cfg, err := s.config(env).Resolve(true)
	if err != nil {
		return Readiness{false, err.Error()}
	}
	_, src, err := cfg.Key()
	if err != nil {
		return Readiness{false, err.Error()}
	}
	return Readiness{true, "deployment " + cfg.Deployment + " at " + redactURL(cfg.Endpoint) + ", key from " + src}
}

// Build makes the client.
func (s *AzureSpec) Build(_ context.Context, env Env) (*Built, error) {
	p, err := openaiclient.NewAzurePredictor(s.config(env))
	if err != nil {
		return nil, err
	}
	return &Built{Predictor: p}, nil
}

// Describe is the deployment, and its model when the entry names it.
func (s *AzureSpec) Describe() string {
	if s.Model != "" {
		return "deployment " + s.Deployment + " (" + s.Model + ")"
	}
	return "deployment " + s.Deployment
}
