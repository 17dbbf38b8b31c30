package backend

import (
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/config"
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
			b, err := Build(t.Context(), cfg, m, Env{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			got := strings.Contains(b.Identity, "max_completion_tokens") && strings.Contains(b.Identity, "reasoning_effort=low")
			if got != tt.reasoning {
				t.Errorf("identity %q: reasoning %v, want %v", b.Identity, got, tt.reasoning)
			}
		})
	}
}
