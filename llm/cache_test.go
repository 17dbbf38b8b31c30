package llm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

type countingPredictor struct{ calls atomic.Int32 }

func (c *countingPredictor) Predict(ctx context.Context, req *Request) (*Prediction, error) {
	c.calls.Add(1)
	p := &Prediction{Backend: "test", Model: "m", CostUSD: 0.01}
	p.SetText("Safety score: 6/10 for " + req.Prompt)
	return p, nil
}

type countingBatch struct {
	countingPredictor
	batched atomic.Int32
}

func (c *countingBatch) PredictBatch(ctx context.Context, reqs []*Request) <-chan Result {
	out := make(chan Result, len(reqs))
	for _, r := range reqs {
		c.batched.Add(1)
		p, err := c.Predict(ctx, r)
		out <- Result{Request: r, Prediction: p, Err: err}
	}
	close(out)
	return out
}

func TestCacheKeyCoversEverything(t *testing.T) {
	base := &Request{ID: "a", Prompt: "p", System: "s", Options: Options{MaxTokens: 10}}
	k0 := CacheKey("openai/gpt-4o", base, "img1")
	vary := map[string]string{
		"identity": CacheKey("openai/gpt-4o-mini", base, "img1"),
		"image":    CacheKey("openai/gpt-4o", base, "img2"),
		"prompt":   CacheKey("openai/gpt-4o", &Request{Prompt: "q", System: "s", Options: base.Options}, "img1"),
		"system":   CacheKey("openai/gpt-4o", &Request{Prompt: "p", System: "t", Options: base.Options}, "img1"),
		"options":  CacheKey("openai/gpt-4o", &Request{Prompt: "p", System: "s", Options: Options{MaxTokens: 11}}, "img1"),
	}
	for what, k := range vary {
		if k == k0 {
			t.Errorf("changing the %s does not change the key", what)
		}
	}
	// The ID and the path are not part of the answer.
	if k := CacheKey("openai/gpt-4o", &Request{ID: "b", ImagePath: "x", Prompt: "p", System: "s", Options: base.Options}, "img1"); k != k0 {
		t.Error("the request ID changes the key")
	}
}

func TestWithCache(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "a.png")
	os.WriteFile(img, []byte("image bytes"), 0o644)
	c, err := OpenCache(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	inner := &countingPredictor{}
	p := WithCache(inner, c, "test/m")
	if _, ok := p.(BatchPredictor); ok {
		t.Fatal("the cache made a plain predictor a BatchPredictor")
	}
	req := &Request{ImagePath: img, Prompt: "p"}
	first, err := p.Predict(t.Context(), req)
	if err != nil || first.Cached {
		t.Fatalf("first = %+v, %v", first, err)
	}
	second, err := p.Predict(t.Context(), &Request{ImagePath: img, Prompt: "p"})
	if err != nil || !second.Cached || second.Text != first.Text || *second.Score != 6 || second.CostUSD != 0.01 {
		t.Fatalf("second = %+v, %v", second, err)
	}
	if inner.calls.Load() != 1 {
		t.Errorf("inner called %d times, want 1", inner.calls.Load())
	}
	// New image bytes are a new question.
	os.WriteFile(img, []byte("other bytes"), 0o644)
	if third, _ := p.Predict(t.Context(), req); third.Cached {
		t.Error("answer for changed image bytes came from the cache")
	}
	if _, err := p.Predict(t.Context(), &Request{ImagePath: filepath.Join(dir, "missing.png")}); err == nil {
		t.Error("missing image gave no error")
	}
}

func TestWithCacheBatch(t *testing.T) {
	dir := t.TempDir()
	var reqs []*Request
	for _, n := range []string{"a", "b", "c"} {
		path := filepath.Join(dir, n+".png")
		os.WriteFile(path, []byte(n), 0o644)
		reqs = append(reqs, &Request{ID: n, ImagePath: path, Prompt: "p"})
	}
	reqs = append(reqs, &Request{ID: "gone", ImagePath: filepath.Join(dir, "gone.png")})
	c, _ := OpenCache(filepath.Join(dir, "cache"))
	inner := &countingBatch{}
	p := WithCache(inner, c, "test/m").(BatchPredictor)
	if _, err := p.Predict(t.Context(), reqs[0]); err != nil {
		t.Fatal(err)
	}
	got := map[string]Result{}
	for r := range p.PredictBatch(t.Context(), reqs) {
		got[r.Request.ID] = r
	}
	if len(got) != 4 || !got["a"].Prediction.Cached || got["b"].Prediction.Cached || got["gone"].Err == nil {
		t.Errorf("batch results = %+v", got)
	}
	if inner.batched.Load() != 2 {
		t.Errorf("%d requests reached the batch, want 2 (b and c)", inner.batched.Load())
	}
}

// TestCacheOlderFormatNoted: answers stored under an older key version are
// never read (their keys cannot match) and opening the folder says so in
// one line, once; a new folder says nothing.
func TestCacheOlderFormatNoted(t *testing.T) {
	fresh, err := OpenCache(t.TempDir())
	if err != nil || fresh.Note() != "" {
		t.Fatalf("new cache: %v, note %q", err, fresh.Note())
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "ab"), 0o755); err != nil { // an entry of version 1
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ab", "abcd.json"), []byte(`{"text":"old"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Note(); !strings.Contains(n, "older vlmcmp are not used") || strings.Contains(n, "\n") {
		t.Errorf("note %q, want one line about the older answers", n)
	}
	if again, _ := OpenCache(dir); again.Note() != "" {
		t.Errorf("second open: note %q, want none", again.Note())
	}
}
