package backend

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vlmcmp/vlmcmp/anthropicclient"
	"github.com/vlmcmp/vlmcmp/anthropicclient/anthropictest"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/usage"
)

func init() {
	identityFixtures["anthropic"] = func(t *testing.T) ([]Spec, Env) {
		return []Spec{&AnthropicSpec{Model: "claude-sonnet-4-5", BaseURL: "http://a", APIKeyFile: "k"}}, Env{}
	}
}

// decodeEntry decodes one model entry of a config in dir, as eval/config
// does.
func decodeEntry(t *testing.T, dir, text string) (Spec, error) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		t.Fatal(err)
	}
	var c struct {
		Name, Backend string
		MaxTokens     int `yaml:"max_tokens"`
		Concurrency   int
	}
	if err := n.Content[0].Decode(&c); err != nil {
		t.Fatal(err)
	}
	return Decode(Common{Name: c.Name, Backend: c.Backend, MaxTokens: c.MaxTokens, Concurrency: c.Concurrency, Dir: dir}, n.Content[0])
}

// grey is a PNG of one grey level, whose score the fakes compute.
func grey(t *testing.T, level uint8) ([]byte, image.Image) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 32, 24))
	for i := range img.Pix {
		img.Pix[i] = level
	}
	img.Set(0, 0, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), img
}

// The anthropic backend from its YAML entry against the loopback fake of
// the Messages API: the key from api_key_file (relative to the config),
// the entry's max_tokens and concurrency sent, a 429 retried after its
// retry-after, the score read, the identity naming what decides the answer
// and never the key, and the second ask answered from the cache.
func TestAnthropicBackend(t *testing.T) {
	srv := anthropictest.New(t)
	t.Setenv(anthropicclient.KeyEnv, "")
	t.Setenv(anthropicclient.BaseURLEnv, "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "claude.key"), []byte(srv.Key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec, err := decodeEntry(t, dir, "name: claude\nbackend: anthropic\nmodel: claude-sonnet-4-5\nbase_url: "+srv.URL()+
		"\napi_key_file: claude.key\nmax_tokens: 40\nconcurrency: 2\n")
	if err != nil {
		t.Fatal(err)
	}
	if r := spec.Ready(Env{}); !r.Ready || r.Reason != "claude-sonnet-4-5 at "+srv.URL()+", key from file claude.key" {
		t.Errorf("readiness %+v", r)
	}
	cache, err := llm.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := Env{Cache: cache, OpenAI: OpenAIOverrides{BaseURL: "http://openai.invalid/v1", APIKeyFile: "openai.key"}}
	id, err := ModelIdentity(spec, "Rate it.", "", env)
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{"backend": "anthropic", "model": "claude-sonnet-4-5", "base_url": srv.URL(), "max_tokens": "40",
		"anthropic_version": anthropicclient.APIVersion, "prompt": "Rate it."}
	if id.Key() != want.Key() {
		t.Errorf("identity %v, want %v", id, want)
	}
	srv.Inject(anthropictest.Fault{Status: 429, RetryAfter: 10 * time.Millisecond})
	data, img := grey(t, 180)
	req := &llm.Request{ID: "a.png", Image: data, Prompt: "Rate it."}
	for i := range 2 {
		b, err := Build(t.Context(), "claude", spec, id, env)
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.Predictor.Predict(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if p.Score == nil || *p.Score != float64(anthropictest.ScoreOf(img)) || p.Cached != (i == 1) {
			t.Errorf("answer %d: %+v", i+1, p)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].Status != 429 || reqs[1].Status != 200 || reqs[1].MaxTokens != 40 ||
		reqs[1].Model != "claude-sonnet-4-5" || reqs[1].Version != anthropicclient.APIVersion {
		t.Errorf("requests %+v", reqs)
	}
	srv.Verify(t)
	for k, v := range id {
		if strings.Contains(k+v, srv.Key) {
			t.Errorf("the identity holds the key: %s", k)
		}
	}
}

// A model that always thinks gets the larger default budget in its
// identity; the identity changes with the model and the URL.
func TestAnthropicIdentity(t *testing.T) {
	id := func(model, base string) Identity {
		got, err := (&AnthropicSpec{Model: model, BaseURL: base}).Identity(Env{})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	t.Setenv(anthropicclient.BaseURLEnv, "")
	if got := id("claude-opus-5-5", "")["max_tokens"]; got != "2000" {
		t.Errorf("thinking model: max_tokens %s, want 2000", got)
	}
	if got := id("claude-haiku-4-5", ""); got["max_tokens"] != "300" || got["base_url"] != anthropicclient.DefaultBaseURL {
		t.Errorf("identity %v", got)
	}
	if id("claude-haiku-4-5", "").Key() == id("claude-haiku-4-5", "http://proxy").Key() || id("claude-haiku-4-5", "").Key() == id("claude-sonnet-4-5", "").Key() {
		t.Error("the identity does not change with the model or the URL")
	}
}

// Mistakes in an anthropic entry are the config's, naming the key.
func TestAnthropicEntryErrors(t *testing.T) {
	t.Setenv(anthropicclient.KeyEnv, "")
	for _, tt := range []struct{ entry, key, want string }{
		{"name: c\nbackend: anthropic\n", "model", "anthropic models need model: NAME"},
		{"name: c\nbackend: anthropic\nmodel: claude-9\n", "model", "model claude-9 is not a Claude model vlmcmp knows (its table: claude-fable-5"},
		{"name: c\nbackend: anthropic\nmodel: claude-2.1\n", "model", "model claude-2.1 takes no images"},
		{"name: c\nbackend: anthropic\nmodel: claude-haiku-4-5\ntemperature: 0\n", "temperature", `unknown key "temperature" for backend anthropic (its keys: name, backend, prompt, system, max_tokens, concurrency, model, base_url, api_key_file)`},
	} {
		_, err := decodeEntry(t, "", tt.entry)
		if key, _ := usage.Is(err); err == nil || key != tt.key || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v (key %q), want %q naming %s", tt.entry, err, key, tt.want, tt.key)
		}
	}
	spec, err := decodeEntry(t, "", "name: c\nbackend: anthropic\nmodel: claude-haiku-4-5\n")
	if err != nil {
		t.Fatal(err)
	}
	if r := spec.Ready(Env{}); r.Ready || !strings.Contains(r.Reason, "set ANTHROPIC_API_KEY or give api_key_file") {
		t.Errorf("no key: %+v", r)
	}
}
