package openaiclient

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// TestNewerModelsNotRefused predicts with the models replacing gpt-4o and
// gpt-4o-mini against the fake, which refuses max_tokens and temperature
// other than 1 for reasoning models as the API does: no request may be
// refused, and each carries the parameters its model takes.
func TestNewerModelsNotRefused(t *testing.T) {
	tests := []struct {
		model      string
		structured bool
		reasoning  bool
		effort     string
	}{
		{model: "gpt-5-mini", reasoning: true, effort: "minimal"},
		{model: "o4-mini", reasoning: true, effort: "low"},
		{model: "gpt-5-mini", structured: true, reasoning: true, effort: "minimal"},
		{model: "o4-mini-2025-04-16", structured: true, reasoning: true, effort: "low"},
		{model: "gpt-5", reasoning: true, effort: "minimal"},
		{model: "gpt-5.1", reasoning: true}, // not in the table: guessed from the family
		{model: "o3", reasoning: true, effort: "low"},
		{model: "gpt-4.1-mini"},
		{model: "gpt-4o"},
		{model: "ft:gpt-4o-mini-2024-07-18:org::abc123", structured: true},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			srv := openaitest.New(t)
			p, _ := newTestPredictor(t, srv, func(c *Config) { c.Model = tt.model; c.Structured = tt.structured })
			pred, err := p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 16, 16, 255), Prompt: "Rate", System: "Judge"})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if pred.Score == nil || *pred.Score != 10 {
				t.Errorf("score %v (%q, %s), want 10", pred.Score, pred.Text, pred.ScoreError)
			}
			c := srv.Requests()[0].Chat
			if c.MaxTokensParam != "max_completion_tokens" {
				t.Errorf("answer budget sent as %q, want max_completion_tokens", c.MaxTokensParam)
			}
			if tt.reasoning {
				if c.Temperature != nil || c.TopP != nil {
					t.Errorf("temperature %v top_p %v sent to a reasoning model", c.Temperature, c.TopP)
				}
				if c.MaxTokens != DefaultReasoningMaxTokens || c.ReasoningEffort != tt.effort {
					t.Errorf("max_completion_tokens %d reasoning_effort %q, want %d %q", c.MaxTokens, c.ReasoningEffort, DefaultReasoningMaxTokens, tt.effort)
				}
			} else if c.Temperature == nil || *c.Temperature > 1e-6 || c.MaxTokens != DefaultMaxTokens {
				t.Errorf("temperature %v max tokens %d, want ~0 and %d", c.Temperature, c.MaxTokens, DefaultMaxTokens)
			}
			if pred.CostUSD <= 0 && tt.model != "gpt-5.1" {
				t.Errorf("no cost for %s", tt.model)
			}
		})
	}
}

// A reasoning model whose budget goes on reasoning answers nothing; the
// prediction says why instead of "no score".
func TestReasoningBudgetExhausted(t *testing.T) {
	srv := openaitest.New(t)
	srv.ReasoningTokens = 500
	p, _ := newTestPredictor(t, srv, func(c *Config) { c.Model = "o4-mini"; c.MaxTokens = 100 })
	pred, err := p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 4, 4, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if pred.Score != nil || !strings.Contains(pred.ScoreError, "raise max_tokens") {
		t.Errorf("score %v error %q, want none and a hint to raise max_tokens", pred.Score, pred.ScoreError)
	}
}

// The fake refuses for reasoning models what the API refuses, so the test
// above means something.
func TestFakeRefusesOldParameters(t *testing.T) {
	srv := openaitest.New(t)
	one, two := float32(1), 0.5
	tests := []struct {
		model string
		body  map[string]any
		want  string
	}{
		{"o4-mini", map[string]any{"max_tokens": 300}, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."},
		{"gpt-5-mini", map[string]any{"temperature": 0}, "Only the default (1) value is supported"},
		{"gpt-5-mini", map[string]any{"top_p": two}, "'top_p' does not support 0.5"},
		{"o4-mini", map[string]any{"reasoning_effort": "minimal"}, "'reasoning_effort' does not support 'minimal'"},
		{"gpt-4o", map[string]any{"reasoning_effort": "low"}, "'reasoning_effort' is not supported"},
		{"gpt-4o", map[string]any{"max_tokens": 5, "max_completion_tokens": 5}, "cannot both be set"},
		{"o3-mini", map[string]any{"image": true}, "image_url is only supported by certain models"},
	}
	for _, tt := range tests {
		t.Run(tt.model+" "+tt.want, func(t *testing.T) {
			body := map[string]any{"model": tt.model}
			content := any("Rate")
			for k, v := range tt.body {
				if k == "image" {
					content = []any{map[string]any{"type": "image_url", "image_url": map[string]any{"url": dataURL(t, 4)}}}
					continue
				}
				body[k] = v
			}
			body["messages"] = []any{map[string]any{"role": "user", "content": content}}
			status, msg := rawPost(t, srv, "/chat/completions", body)
			if status != 400 || !strings.Contains(msg, tt.want) {
				t.Errorf("got %d %s, want 400 with %q", status, msg, tt.want)
			}
		})
	}
	// temperature 1 is the default and is taken.
	status, msg := rawPost(t, srv, "/chat/completions", map[string]any{"model": "o4-mini", "temperature": one, "max_completion_tokens": 500,
		"messages": []any{map[string]any{"role": "user", "content": "Rate"}}})
	if status != 200 {
		t.Errorf("temperature 1: %d %s", status, msg)
	}
}

// A model on an OpenAI-compatible server the table does not know gets
// max_tokens, which every such server takes; and the server needs no key.
func TestCompatibleServerWithoutKey(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	t.Chdir(t.TempDir()) // no API_KEY_Enoch here
	srv := openaitest.New(t)
	srv.Key = ""
	p, err := New(Config{Model: "qwen2-vl-7b", BaseURL: srv.URL()})
	if err != nil {
		t.Fatalf("no key for a server that needs none: %v", err)
	}
	pred, err := p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 4, 4, 0)})
	if err != nil || pred.Score == nil || *pred.Score != 1 {
		t.Fatalf("pred %+v err %v", pred, err)
	}
	r := srv.Requests()[0]
	if r.Chat.MaxTokensParam != "max_tokens" {
		t.Errorf("sent %s, want max_tokens to an unknown server's model", r.Chat.MaxTokensParam)
	}
	if _, _, err := ResolveKeyFor("", ""); !errors.Is(err, ErrNoKey) {
		t.Errorf("the OpenAI API without a key: err %v, want ErrNoKey", err)
	}
	if _, _, err := ResolveKeyFor("missing.txt", srv.URL()); !errors.Is(err, ErrNoKey) {
		t.Errorf("a named key file that is missing: err %v, want ErrNoKey", err)
	}
}

// A fine-tuned model in strict mode: the fake refuses minimum/maximum as
// the API does for fine-tuned models, and the built-in schema passes.
func TestStructuredFineTunedModel(t *testing.T) {
	const old = `{"type":"object","properties":{"score":{"type":"integer","minimum":1,"maximum":10},"reason":{"type":"string"}},"required":["score","reason"],"additionalProperties":false}`
	srv := openaitest.New(t)
	p, _ := newTestPredictor(t, srv, func(c *Config) { c.Model = "ft:gpt-4o-mini-2024-07-18:org::abc"; c.Structured = true })
	pred, err := p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 4, 4, 255)})
	if err != nil || pred.Score == nil || *pred.Score != 10 {
		t.Fatalf("built-in schema: pred %+v err %v", pred, err)
	}
	_, err = p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 4, 4, 255), Options: llm.Options{JSONSchema: old}})
	if err == nil || !strings.Contains(err.Error(), "'minimum' is not permitted") {
		t.Errorf("minimum/maximum schema on a fine-tuned model: err %v, want the strict-mode refusal", err)
	}
	var schema struct {
		Properties struct {
			Score map[string]any `json:"score"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(ScoreSchema), &schema); err != nil {
		t.Fatal(err)
	}
	if _, ok := schema.Properties.Score["minimum"]; ok || len(schema.Properties.Score["enum"].([]any)) != 10 {
		t.Errorf("score schema %v, want an enum of 10 and no bounds", schema.Properties.Score)
	}
}

func TestMergeModels(t *testing.T) {
	base := DefaultModels()
	merged := MergeModels(base, Models{
		"gpt-4o-mini-2024-07-18": {Vision: true, Structured: true, FineTuneImages: true, Like: "gpt-4o-mini"},
		"my-vlm":                 {Vision: true, Reasoning: true, Price: Price{Input: 1, Output: 2}},
		"gpt-5-mini":             {Vision: true, Structured: true, Reasoning: true, Price: Price{Input: 0.3, Output: 2.5}},
	})
	if !merged.AcceptsImages("gpt-4o-mini-2024-07-18") || base.AcceptsImages("gpt-4o-mini-2024-07-18") {
		t.Errorf("fine-tune images by config: merged %v, built-in %v", merged.AcceptsImages("gpt-4o-mini-2024-07-18"), base.AcceptsImages("gpt-4o-mini-2024-07-18"))
	}
	if got := merged["gpt-4o-mini-2024-07-18"]; got.Price != base["gpt-4o-mini"].Price || got.ImageTokens != base["gpt-4o-mini"].ImageTokens {
		t.Errorf("like gpt-4o-mini: %+v", got)
	}
	if got := merged.Info("my-vlm"); !got.Reasoning || got.Price.Output != 2 {
		t.Errorf("new model: %+v", got)
	}
	if got := merged["gpt-5-mini"]; got.Price.Input != 0.3 || got.ImageTokens != base["gpt-5-mini"].ImageTokens {
		t.Errorf("gpt-5-mini override: %+v (image rule kept from the built-in)", got)
	}
	if base["gpt-5-mini"].Price.Input != 0.25 {
		t.Error("MergeModels changed its base")
	}
	srv := openaitest.New(t)
	p, _ := newTestPredictor(t, srv, func(c *Config) { c.Model = "my-vlm"; c.Models = merged })
	pred, err := p.Predict(t.Context(), &llm.Request{Image: pngOf(t, 4, 4, 9)})
	if err != nil {
		t.Fatal(err)
	}
	if c := srv.Requests()[0].Chat; c.Temperature != nil || c.MaxTokensParam != "max_completion_tokens" {
		t.Errorf("a model the user marked reasoning: temperature %v, %s", c.Temperature, c.MaxTokensParam)
	}
	if want := merged.Prices().Cost("my-vlm", pred.Usage); pred.CostUSD != want || want == 0 {
		t.Errorf("cost %v, want %v from the merged table", pred.CostUSD, want)
	}
}

func TestTextOnlyModelRefused(t *testing.T) {
	srv := openaitest.New(t)
	_, err := New(Config{Model: "o3-mini", BaseURL: srv.URL(), APIKey: srv.Key})
	if err == nil || !strings.Contains(err.Error(), "does not take images") {
		t.Errorf("o3-mini: err %v, want a refusal before any request", err)
	}
}

func TestModelsLookup(t *testing.T) {
	m := DefaultModels()
	tests := []struct {
		model           string
		reasoning, imgs bool
		ok              bool
	}{
		{"gpt-5-mini-2025-08-07", true, false, true},
		{"o4-mini", true, false, true},
		{"gpt-4o-2024-08-06", false, true, true},
		{"gpt-4.1-2025-04-14", false, false, true},
		{"gpt-4o-mini-2024-07-18", false, false, true},
		{"ft:gpt-4.1-mini-2025-04-14:org::x", false, false, true},
		{"ft:o4-mini-2025-04-16:org::x", true, false, true},
		{"llava", false, false, false},
	}
	for _, tt := range tests {
		got, ok := m.Lookup(tt.model)
		if ok != tt.ok || got.Reasoning != tt.reasoning || got.FineTuneImages != tt.imgs {
			t.Errorf("Lookup(%q) = %+v, %v; want reasoning %v, fine-tune images %v, %v", tt.model, got, ok, tt.reasoning, tt.imgs, tt.ok)
		}
	}
}

func dataURL(t *testing.T, n int) string {
	t.Helper()
	img, err := EncodeImage(pngOf(t, n, n, 128), DetailLow)
	if err != nil {
		t.Fatal(err)
	}
	return img.DataURL
}

// rawPost sends a JSON body to the fake with its key.
func rawPost(t *testing.T, srv *openaitest.Server, path string, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	return rawSend(t, srv, "POST", path, "application/json", b)
}
