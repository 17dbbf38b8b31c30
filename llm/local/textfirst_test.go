//go:build llamacpp

package local

import "testing"

// TestTextFirst puts the prompt before the image: the prompt joins the
// shared prefix, decoded once for every request, so the prompt tokens
// decoded per request drop by the prompt's length; answers stay
// deterministic and every request is answered.
func TestTextFirst(t *testing.T) {
	reqs := requests(t, 4)
	decoded := map[bool]Stats{}
	for _, first := range []bool{false, true} {
		cfg := tinyConfig(t, 2)
		cfg.TextFirst = first
		p := newTiny(t, cfg)
		a := texts(t, collect(t, reqs, p.PredictBatch(t.Context(), reqs)))
		decoded[first] = p.Stats()
		p.ResetStats()
		b := texts(t, collect(t, reqs, p.PredictBatch(t.Context(), reqs)))
		for id := range a {
			if a[id] != b[id] {
				t.Errorf("text first %v: %s answered %q then %q", first, id, a[id], b[id])
			}
		}
	}
	after, before := decoded[true], decoded[false]
	if after.PrefixReuses != len(reqs)-1 {
		t.Errorf("text first: %d prefix reuses, want %d", after.PrefixReuses, len(reqs)-1)
	}
	// Each request after the first skips the prompt (over 5 tokens).
	if saved := before.PrefillTokens - after.PrefillTokens; saved < 5*(len(reqs)-1) {
		t.Errorf("text first decoded %d prompt tokens, image first %d: want at least %d fewer", after.PrefillTokens, before.PrefillTokens, 5*(len(reqs)-1))
	}
}
