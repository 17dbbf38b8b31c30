package backend_test

import (
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// TestOpenAIModelsFromConfig: a model the built-in table does not know is
// sent as an ordinary chat model, and the config's openai_models entry
// (like a reasoning model) makes it one: its identity then names
// max_completion_tokens and the reasoning effort.
func TestOpenAIModelsFromConfig(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-test")
	tests := []struct {
		name, yaml string
		reasoning  bool
	}{
		{"unknown model", "models:\n  - {name: new, backend: openai, model: acme-vision-1}\n", false},
		{"declared like gpt-5-mini", "openai_models:\n  acme-vision-1: {like: gpt-5-mini, vision: true, structured: true, reasoning: true, reasoning_effort: low}\nmodels:\n  - {name: new, backend: openai, model: acme-vision-1}\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse("vlmcmp.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			m, err := cfg.Lookup("new")
			if err != nil {
				t.Fatal(err)
			}
			b, err := build(t, m, backend.Env{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			got := b.Identity["max_completion_tokens"] != "" && b.Identity["reasoning_effort"] == "low"
			if got != tt.reasoning {
				t.Errorf("identity %q: reasoning %v, want %v", b.Identity, got, tt.reasoning)
			}
		})
	}
}

// A model's base_urls make a fleet: the predictor asks every server, the
// identity names them all in a fixed order, readiness lists them, and
// --base-url still picks one server.
func TestOpenAIFleetFromConfig(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	cfg, err := config.Parse("vlmcmp.yaml", []byte("models:\n  - {name: f, backend: openai, model: qwen, base_urls: [http://b:8080/v1/, http://a:8080/v1]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := cfg.Lookup("f")
	b, err := build(t, m, backend.Env{})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := b.Predictor.(*openaiclient.Predictor)
	if !ok {
		t.Fatalf("predictor %T", b.Predictor)
	}
	if got := strings.Join(p.BaseURLs(), " "); got != "http://a:8080/v1 http://b:8080/v1" {
		t.Errorf("servers %q", got)
	}
	if b.Identity["base_urls"] != "http://a:8080/v1,http://b:8080/v1" {
		t.Errorf("identity %q does not name both servers in order", b.Identity)
	}
	if r := m.Spec.Ready(backend.Env{}); !r.Ready || !strings.Contains(r.Reason, "qwen at http://a:8080/v1, http://b:8080/v1, no key") {
		t.Errorf("readiness %+v", r)
	}
	one, err := build(t, m, backend.Env{OpenAI: backend.OpenAIOverrides{BaseURL: "http://c/v1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := one.Predictor.(*openaiclient.Predictor).BaseURLs(); len(got) != 1 || got[0] != "http://c/v1" {
		t.Errorf("--base-url: servers %q, want only it", got)
	}
}

// build builds m as eval does: its identity, then its predictor.
func build(t *testing.T, m *config.Model, env backend.Env) (*backend.Built, error) {
	t.Helper()
	id, err := backend.ModelIdentity(m.Spec, m.Prompt, m.System, env)
	if err != nil {
		return nil, err
	}
	return backend.Build(t.Context(), m.Name, m.Spec, id, env)
}
