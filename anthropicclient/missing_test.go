package anthropicclient

import (
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/anthropicclient/anthropictest"
	"github.com/vlmcmp/vlmcmp/llm"
)

// A failure that is not the request's own (a refused key, a model the API
// lacks, overload or a rate limit past the retries, no server) is a missing
// answer with its reason, which a run counts apart from "no score" and a
// resume asks again; a request the API refuses for what it holds (here a
// max_tokens over the model's limit, 400) is the model's no score.
func TestFailuresAreMissingAnswers(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		faults []anthropictest.Fault
		want   string
	}{
		{"refused key", Config{APIKey: "sk-ant-api03-wrong-0123456789"}, nil, llm.MissingRefusedKey},
		{"overloaded past the retries", Config{MaxRetries: -1}, []anthropictest.Fault{{Status: 529, RetryAfter: time.Millisecond}}, llm.MissingServerError},
		{"rate limited past the retries", Config{MaxRetries: -1}, []anthropictest.Fault{{Status: 429, RetryAfter: time.Millisecond}}, llm.MissingRateLimited},
		{"model the API lacks", Config{Model: "claude-sonnet-9", Models: MergeModels(DefaultModels(), Models{"claude-sonnet-9": {Vision: true, Like: "claude-sonnet-5-5"}})}, nil, llm.MissingNoModel},
		{"max_tokens over the model's limit", Config{MaxTokens: 1_000_000}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := anthropictest.New(t)
			for _, f := range tt.faults {
				srv.Inject(f)
			}
			p := newPredictor(t, srv, tt.cfg, nil)
			_, err := p.Predict(t.Context(), request(t, 50))
			if err == nil {
				t.Fatal("no error")
			}
			if got := llm.MissingReason(err); got != tt.want {
				t.Errorf("%v: missing %q, want %q", err, got, tt.want)
			}
			srv.Verify(t)
		})
	}
	// No server at all.
	p, err := NewPredictor(Config{Model: "claude-sonnet-5-5", APIKey: "k", BaseURL: "http://127.0.0.1:1", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Predict(t.Context(), request(t, 50)); llm.MissingReason(err) != llm.MissingUnreachable {
		t.Errorf("%v: missing %q, want unreachable", err, llm.MissingReason(err))
	}
}
