package llm

import (
	"testing"
	"time"
)

func TestPredictionSummary(t *testing.T) {
	seven := 7.0
	for _, tc := range []struct {
		p    Prediction
		want string
	}{
		{Prediction{Score: &seven, Latency: 1234567 * time.Microsecond, CostUSD: 0.00012}, "score 7, 1.235s, $0.00012"},
		{Prediction{ScoreError: "no number", Latency: 5 * time.Millisecond}, "no score (no number), 5ms"},
		{Prediction{}, "no score, 0s"},
	} {
		if got := tc.p.Summary(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.p, got, tc.want)
		}
	}
	p := Prediction{Latency: 1500 * time.Microsecond, Usage: Usage{PromptTokens: 10, CompletionTokens: 2},
		Timings: &Timings{ImageEncodeMS: 1, PrefillMS: 2, DecodeMS: 3, FirstTokenMS: 4}}
	if got, want := p.TimingsLine(), "timings: image encode 1.0 ms, prefill 2.0 ms (10 prompt tokens), decode 3.0 ms (2 tokens), first token 4.0 ms, total 1.5 ms"; got != want {
		t.Errorf("TimingsLine %q, want %q", got, want)
	}
	if (&Prediction{}).TimingsLine() != "" {
		t.Error("TimingsLine without timings is not empty")
	}
}
