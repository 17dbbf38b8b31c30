package config

import (
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/backend"
)

// An OpenAI model's base_urls are a fleet of servers; they are checked as
// the file is read.
func TestParseBaseURLs(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("models:\n  - name: g\n    backend: openai\n    model: qwen\n    base_urls: [http://a:8080/v1, http://b:8080/v1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Models[0].Spec.(*backend.OpenAISpec).BaseURLs, " "); got != "http://a:8080/v1 http://b:8080/v1" {
		t.Errorf("base_urls %q", got)
	}
	for _, tt := range []struct{ name, urls, want string }{
		{"with base_url", "base_url: http://c/v1, base_urls: [http://a/v1]", `c.yaml:2: model "g": give base_url or base_urls, not both`},
		{"not a URL", "base_urls: [a:8080]", `c.yaml:2: model "g": base_urls: base URL "a:8080" is not an http:// or https:// URL`},
		{"twice", "base_urls: [http://a/v1, http://a/v1/]", `base_urls: base URL http://a/v1 is listed twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte("models:\n  - {name: g, backend: openai, model: qwen, "+tt.urls+"}\n"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
