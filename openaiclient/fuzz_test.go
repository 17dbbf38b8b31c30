package openaiclient

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// FuzzMetrics: any data a metrics event may carry decodes or fails with an
// error, never a panic; a decoded step is a whole, non-negative count.
func FuzzMetrics(f *testing.F) {
	for _, s := range []string{`{"step": 88.0, "total_steps": 100.0, "train_loss": 0.5}`, `{"step": 1}`, `{"step": 1.5}`,
		`{"step": -1}`, `{"step": 1e300}`, `{"step": "1"}`, `null`, `[]`, `{"valid_loss": null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e := Event{ID: "e", Type: "metrics", Data: json.RawMessage(data)}
		m, ok, err := e.Metrics()
		if ok == (err != nil) {
			t.Fatalf("ok %v and err %v", ok, err)
		}
		if ok && (m.Step < 0 || m.TotalSteps < 0) {
			t.Fatalf("negative step %+v", m)
		}
		var c Checkpoint
		_ = json.Unmarshal(append(append([]byte(`{"id":"c","step_number":1,"metrics":`), data...), '}'), &c)
	})
}

// FuzzRetryHeaders: the waits read from retry headers are never negative.
func FuzzRetryHeaders(f *testing.F) {
	f.Add("250", "1", "0", "1.5s")
	f.Add("", "Wed, 21 Oct 2015 07:28:00 GMT", "0", "6m0s")
	f.Add("-5", "-1", "1", "-1s")
	f.Fuzz(func(t *testing.T, ms, ra, remaining, reset string) {
		h := http.Header{}
		h.Set("retry-after-ms", ms)
		h.Set("Retry-After", ra)
		h.Set("x-ratelimit-remaining-requests", remaining)
		h.Set("x-ratelimit-reset-requests", reset)
		if d, ok := retryAfter(h, time.Now()); ok && d < 0 {
			t.Fatalf("retryAfter %s", d)
		}
		if d, ok := rateLimitReset(h); ok && d < 0 {
			t.Fatalf("rateLimitReset %s", d)
		}
	})
}
