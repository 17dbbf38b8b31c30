package local

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/imagefile"
	"github.com/vlmcmp/vlmcmp/native"
)

// The scheduler's tests on the fake engine of fake_test.go: no llama.cpp,
// run with and without the llamacpp tag, meant for -race.

// fakeConfig is a validated Config for the fake engine with p sequences.
func fakeConfig(t testing.TB, p int) Config {
	t.Helper()
	cfg := Config{ModelFile: "fake.gguf", MmprojFile: "fake-mmproj.gguf", Parallel: p, Threads: 1,
		ContextSize: 256, MaxTokens: 12, EncodeAhead: "on"}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newFakePredictor starts a predictor on e; closing it at the end of the
// test checks the engine was used correctly and every goroutine ended.
func newFakePredictor(t testing.TB, e *fakeEngine, cfg Config) *Predictor {
	t.Helper()
	before := runtime.NumGoroutine()
	p, err := newPredictor(cfg, []engine{e}, []engineSetup{{parallel: cfg.Parallel}})
	if err != nil {
		t.Fatalf("newPredictor: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		e.check(t)
		noLeak(t, before)
	})
	return p
}

// noLeak fails t when more goroutines run than before, after a grace
// period.
func noLeak(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// plainFake answers req the way a user would without the scheduler: every
// chunk decoded straight into sequence 0 of a fresh engine, then one token
// a step, ending on a token with hash%eogEvery == 0 (the fake's default is
// 16). It is the reference for the scheduler's answers.
func plainFake(t testing.TB, cfg Config, eogEvery uint64, req *llm.Request) string {
	t.Helper()
	e := newFake(1, cfg.ContextSize)
	e.eogEvery = eogEvery
	ch := tokenized(t, &cfg, e, req)
	var err error
	pos := 0
	for i := range ch.Len() {
		var emb embedding
		if ch.Kind(i) == native.ChunkImage {
			if emb, err = e.Encode(ch, i); err != nil {
				t.Fatal(err)
			}
		}
		if pos, err = e.Eval(ch, i, emb, pos, 0, i == ch.Len()-1); err != nil {
			t.Fatal(err)
		}
	}
	s, err := e.NewSampler(native.SamplerParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	limit := min(orDefault(req.Options.MaxTokens, cfg.MaxTokens), cfg.ContextSize-ch.TotalTokens())
	var out []native.Token
	tok, end, err := s.Sample(-1)
	for err == nil && !end {
		out = append(out, tok)
		if len(out) >= limit {
			break
		}
		if err = e.Step([]stepToken{{tok: tok, pos: pos, seq: 0}}); err != nil {
			break
		}
		pos++
		tok, end, err = s.Sample(0)
	}
	if err != nil {
		t.Fatal(err)
	}
	text, _ := e.Detokenize(out)
	return text
}

// orDefault returns a unless it is zero, then b.
func orDefault(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// TestSchedulerMatchesPlain runs more requests than sequences at several P,
// encoding ahead or on the owner: every request gets one answer, the same as
// the plain loop's, steps never carry more than P sequences, and the shared
// prefix is decoded once.
func TestSchedulerMatchesPlain(t *testing.T) {
	reqs := requests(t, 8)
	want := map[string]string{}
	for _, r := range reqs {
		want[r.ID] = plainFake(t, fakeConfig(t, 1), 16, r)
	}
	distinct := map[string]bool{}
	for _, s := range want {
		distinct[s] = true
	}
	if len(distinct) < 6 {
		t.Fatalf("8 images gave %d distinct reference answers: %q", len(distinct), want)
	}
	for _, tt := range []struct {
		parallel int
		ahead    string
	}{{1, "on"}, {3, "on"}, {3, "off"}, {8, "on"}, {8, "off"}} {
		t.Run(fmt.Sprintf("parallel=%d,ahead=%s", tt.parallel, tt.ahead), func(t *testing.T) {
			cfg := fakeConfig(t, tt.parallel)
			cfg.EncodeAhead = tt.ahead
			e := newFake(tt.parallel, cfg.ContextSize)
			e.hold = make(chan struct{})
			p := newFakePredictor(t, e, cfg)
			var release sync.Once
			t.Cleanup(func() { release.Do(func() { close(e.hold) }) })
			var order []string
			ch := p.PredictBatch(t.Context(), reqs)
			// Hold the first step until the preparer has handed over all
			// it may (P requests), so that the next admission fills every
			// free slot.
			if what := <-e.blocked; what != "hold" {
				t.Fatalf("blocked in %s, want the first step", what)
			}
			nReady := min(tt.parallel, len(reqs)-e.heldN)
			for deadline := time.Now().Add(10 * time.Second); len(p.replicas[0].ready) < nReady; {
				if time.Now().After(deadline) {
					t.Fatalf("%d requests prepared, want %d", len(p.replicas[0].ready), nReady)
				}
				time.Sleep(time.Millisecond)
			}
			release.Do(func() { close(e.hold) })
			got := map[string]string{}
			for res := range ch {
				order = append(order, res.Request.ID)
				if res.Err != nil {
					t.Errorf("%s: %v", res.Request.ID, res.Err)
					continue
				}
				got[res.Request.ID] = res.Prediction.Text
				if u := res.Prediction.Usage; u.CompletionTokens != len(res.Prediction.Text) || u.PromptTokens == 0 {
					t.Errorf("%s: usage %+v for answer %q", res.Request.ID, u, res.Prediction.Text)
				}
			}
			for _, r := range reqs {
				if got[r.ID] != want[r.ID] {
					t.Errorf("%s: scheduler says %q, plain loop %q", r.ID, got[r.ID], want[r.ID])
				}
			}
			if len(order) != len(reqs) {
				t.Errorf("%d results for %d requests", len(order), len(reqs))
			}
			if tt.parallel == 1 {
				// One sequence: requests are answered in the order they came.
				for i, id := range order {
					if id != reqs[i].ID {
						t.Errorf("answer %d is %s, want %s (first in, first answered)", i, id, reqs[i].ID)
					}
				}
			}
			p.Close()
			if e.maxLive > tt.parallel {
				t.Errorf("a step carried %d sequences, more than parallel %d", e.maxLive, tt.parallel)
			}
			if tt.parallel < len(reqs) && e.maxLive != tt.parallel {
				t.Errorf("steps carried at most %d sequences with %d requests on %d slots, want %d", e.maxLive, len(reqs), tt.parallel, tt.parallel)
			}
			st := p.Stats()
			if st.PrefixReuses != len(reqs)-1 || st.Images != len(reqs) || st.Steps != e.steps {
				t.Errorf("stats %+v: want %d prefix reuses, %d images, %d steps", st, len(reqs)-1, len(reqs), e.steps)
			}
		})
	}
}

// TestSchedFailuresFailAlone puts requests that fail at each stage (preparing,
// encoding, prefill, sampler, a sample mid-answer) among good ones: each
// fails with an error naming its image and the cause; the others answer as
// the plain loop does.
func TestSchedFailuresFailAlone(t *testing.T) {
	good := requests(t, 5)
	bad := []struct {
		req  *llm.Request
		want string
	}{
		{&llm.Request{ID: "not-an-image", Image: []byte("just some notes\n")}, "not-an-image"},
		{&llm.Request{ID: "no-image"}, "has no image"},
		{&llm.Request{ID: "missing", ImagePath: "/nonexistent/nope.jpg"}, "nope.jpg"},
		{&llm.Request{ID: "too-long", Image: streetPNG(t, 1, 448, 448)}, "more than the"},
		{&llm.Request{ID: "encode", Prompt: "fail:encode"}, "vision encoder failed"},
		{&llm.Request{ID: "eval", Prompt: "fail:eval"}, "image decode failed"},
		{&llm.Request{ID: "grammar", Options: llm.Options{Grammar: "refuse"}}, "grammar refused"},
		{&llm.Request{ID: "sample", Options: llm.Options{Grammar: "fail:sample"}}, "allows no token"},
		{&llm.Request{ID: "schema", Options: llm.Options{JSONSchema: `{"type":`}}, "json schema"},
	}
	for _, ahead := range []string{"on", "off"} {
		t.Run("ahead="+ahead, func(t *testing.T) {
			var reqs []*llm.Request
			reqs = append(reqs, good[:2]...)
			for i, b := range bad {
				r := *b.req
				if r.Image == nil && r.ImagePath == "" && r.ID != "no-image" {
					r.Image = streetPNG(t, 10+i, 64, 48)
				}
				r.Prompt = good[0].Prompt + " " + r.Prompt
				reqs = append(reqs, &r)
			}
			reqs = append(reqs, good[2:]...)
			cfg := fakeConfig(t, 3)
			cfg.ContextSize = 200 // the 448x448 image (784 tokens) does not fit
			cfg.EncodeAhead = ahead
			p := newFakePredictor(t, newFake(3, cfg.ContextSize), cfg)
			got := collect(t, reqs, p.PredictBatch(t.Context(), reqs))
			for _, b := range bad {
				r := got[b.req.ID]
				switch {
				case r.Err == nil:
					t.Errorf("%s: no error, answer %q", b.req.ID, r.Prediction.Text)
				case !strings.Contains(r.Err.Error(), b.want):
					t.Errorf("%s: error %q does not mention %q", b.req.ID, r.Err, b.want)
				case b.req.ID != "no-image" && b.req.ImagePath == "" && !strings.Contains(r.Err.Error(), b.req.ID):
					t.Errorf("%s: error %q does not name the request", b.req.ID, r.Err)
				}
			}
			for _, g := range good {
				if r := got[g.ID]; r.Err != nil {
					t.Errorf("%s: %v", g.ID, r.Err)
				} else if want := plainFake(t, cfg, 16, g); r.Prediction.Text != want {
					t.Errorf("%s: %q beside failing requests, %q in the plain loop", g.ID, r.Prediction.Text, want)
				}
			}
		})
	}
}

// TestStepFailure: a failed decoding step fails the sequences in it (the
// failure is the engine's, not one request's), and the predictor goes on
// answering.
func TestStepFailure(t *testing.T) {
	cfg := fakeConfig(t, 2)
	p := newFakePredictor(t, newFake(2, cfg.ContextSize), cfg)
	reqs := requests(t, 3)
	reqs[1].Prompt += " fail:step"
	got := collect(t, reqs, p.PredictBatch(t.Context(), reqs))
	if err := got[reqs[1].ID].Err; err == nil || !strings.Contains(err.Error(), "decode failed") {
		t.Errorf("%s: error %v, want the step's decode failure", reqs[1].ID, err)
	}
	for _, r := range []*llm.Request{reqs[0], reqs[2]} {
		res := got[r.ID]
		if res.Err != nil && !strings.Contains(res.Err.Error(), "decode failed") {
			t.Errorf("%s: %v, want an answer or the shared step's failure", r.ID, res.Err)
		}
	}
	after, err := p.Predict(t.Context(), reqs[2])
	if err != nil {
		t.Fatalf("predict after a failed step: %v", err)
	}
	if want := plainFake(t, cfg, 16, reqs[2]); after.Text != want {
		t.Errorf("after a failed step: %q, plain loop %q", after.Text, want)
	}
}

// TestCancelOne cancels one request while its decoding step runs: the step
// is interrupted at once, that request answers with its context's error,
// and the requests sharing the step run it again and answer as if alone.
func TestCancelOne(t *testing.T) {
	cfg := fakeConfig(t, 3)
	cfg.MaxTokens = 200
	e := newFake(3, cfg.ContextSize)
	e.eogEvery = 0
	e.stepDelay = 2 * time.Millisecond
	p := newFakePredictor(t, e, cfg)
	reqs := requests(t, 3)
	slow := reqs[2]
	slow.Prompt += " slow:step"
	var chans []<-chan llm.Result
	for _, r := range reqs[:2] {
		chans = append(chans, p.PredictBatch(t.Context(), []*llm.Request{r}))
	}
	// The slow request joins the two others' steps.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	slowCh := p.PredictBatch(ctx, []*llm.Request{slow})
	select {
	case <-e.blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow step never started")
	}
	start := time.Now()
	cancel()
	r := <-slowCh
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("cancelled request answered %v after cancel", took)
	}
	if !errors.Is(r.Err, context.Canceled) {
		t.Errorf("cancelled request: %v, want context.Canceled", r.Err)
	}
	if n := e.aborted.Load(); n != 1 {
		t.Errorf("%d engine calls interrupted, want 1", n)
	}
	if n := e.abortedN.Load(); n != 3 {
		t.Errorf("the interrupted step carried %d sequences, want 3", n)
	}
	for i, ch := range chans {
		res := <-ch
		if res.Err != nil {
			t.Errorf("%s: %v", reqs[i].ID, res.Err)
		} else if want := plainFake(t, cfg, 0, reqs[i]); res.Prediction.Text != want {
			t.Errorf("%s: %q after sharing an interrupted step, %q in the plain loop", reqs[i].ID, res.Prediction.Text, want)
		}
	}
}

// TestCancelInterruptsPrefill cancels a request during its image's prefill,
// which would block for fakeBlock: the engine is interrupted, the request
// answers at once, and the next request runs normally (the interrupt was
// reset).
func TestCancelInterruptsPrefill(t *testing.T) {
	cfg := fakeConfig(t, 2)
	e := newFake(2, cfg.ContextSize)
	p := newFakePredictor(t, e, cfg)
	reqs := requests(t, 2)
	reqs[0].Prompt += " slow:image"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := p.Predict(ctx, reqs[0])
		done <- err
	}()
	select {
	case what := <-e.blocked:
		if what != "image" {
			t.Fatalf("blocked in %s, want the image prefill", what)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the image prefill never started")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled during prefill: %v, want context.Canceled", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("answered %v after cancel", took)
		}
	case <-time.After(fakeBlock / 2):
		t.Fatal("the prefill was not interrupted")
	}
	if n := e.aborted.Load(); n != 1 {
		t.Errorf("%d engine calls interrupted, want 1", n)
	}
	got, err := p.Predict(t.Context(), reqs[1])
	if err != nil {
		t.Fatalf("next request: %v", err)
	}
	if want := plainFake(t, cfg, 16, reqs[1]); got.Text != want {
		t.Errorf("next request: %q, plain loop %q", got.Text, want)
	}
}

// TestCloseWhileBusy closes the predictor while it is blocked in a prefill,
// blocked in a step, or busy with more requests than sequences: Close
// interrupts the engine and returns promptly, every request is answered
// once (an answer or ErrClosed), later requests get ErrClosed, and the
// engine is closed once with nothing leaked.
func TestCloseWhileBusy(t *testing.T) {
	tests := []struct {
		name   string
		marker string // on the first request
		wait   string // what the engine blocks in before Close
	}{
		{"prefill", "slow:image", "image"},
		{"step", "slow:step", "step"},
		{"queue", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			cfg := fakeConfig(t, 2)
			cfg.MaxTokens = 100
			e := newFake(2, cfg.ContextSize)
			e.eogEvery = 0
			e.stepDelay = time.Millisecond
			p, err := newPredictor(cfg, []engine{e}, []engineSetup{{parallel: 2}})
			if err != nil {
				t.Fatal(err)
			}
			reqs := requests(t, 6)
			reqs[0].Prompt += " " + tt.marker
			ch := p.PredictBatch(t.Context(), reqs)
			if tt.wait != "" {
				select {
				case what := <-e.blocked:
					if what != tt.wait {
						t.Fatalf("blocked in %s, want %s", what, tt.wait)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("never blocked in %s", tt.wait)
				}
			} else {
				time.Sleep(20 * time.Millisecond)
			}
			start := time.Now()
			if err := p.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Close took %v", took)
			}
			closed := 0
			for _, r := range collect(t, reqs, ch) {
				if errors.Is(r.Err, ErrClosed) {
					closed++
				} else if r.Err != nil {
					t.Errorf("%s: %v, want an answer or ErrClosed", r.Request.ID, r.Err)
				}
			}
			if closed == 0 {
				t.Error("no request was cut short by Close")
			}
			if tt.wait != "" && e.aborted.Load() != 1 {
				t.Errorf("%d engine calls interrupted, want 1", e.aborted.Load())
			}
			if _, err := p.Predict(t.Context(), reqs[1]); !errors.Is(err, ErrClosed) {
				t.Errorf("predict after Close: %v, want ErrClosed", err)
			}
			if err := p.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			e.check(t)
			noLeak(t, before)
		})
	}
}

// TestAnswerFillsSequence is why the scheduler has no KV-full path: a
// sequence's answer is capped so that the prompt and the decoded answer fit
// its ContextSize cells, which the engine gives each sequence (the fake
// refuses one cell more with ErrKVCacheFull, as TestFakeEngine checks).
// Answers without an end token run up to their sequence's size, side by
// side.
func TestAnswerFillsSequence(t *testing.T) {
	reqs := requests(t, 4)
	for _, r := range reqs {
		r.Options.MaxTokens = 10000
	}
	for _, size := range []int{60, 100} {
		t.Run(fmt.Sprint("context=", size), func(t *testing.T) {
			cfg := fakeConfig(t, 4)
			cfg.ContextSize = size
			e := newFake(4, size)
			e.eogEvery = 0
			p := newFakePredictor(t, e, cfg)
			for id, r := range collect(t, reqs, p.PredictBatch(t.Context(), reqs)) {
				if r.Err != nil {
					t.Errorf("%s: %v", id, r.Err)
					continue
				}
				u := r.Prediction.Usage
				if u.PromptTokens+u.CompletionTokens != size {
					t.Errorf("%s: %d prompt + %d answer tokens, want the sequence's %d", id, u.PromptTokens, u.CompletionTokens, size)
				}
			}
		})
	}
}

// TestFakeEngine checks the fake's own strictness, which the scheduler's
// tests rely on: positions must follow on, a sequence holds ContextSize
// cells, interrupts stick until reset, and sampling needs logits.
func TestFakeEngine(t *testing.T) {
	e := newFake(1, 38)
	req := requests(t, 1)[0]
	img, _, err := imagefile.Decode(req.Image)
	if err != nil {
		t.Fatal(err)
	}
	w, h, rgb := imagefile.RGB(img)
	ch, err := e.Tokenize("a b "+native.MediaMarker+" c d", w, h, rgb)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if n := ch.TotalTokens(); n != 4+35 {
		t.Fatalf("prompt of %d cells, want 39", n)
	}
	pos, err := e.Eval(ch, 0, nil, 0, 0, false)
	if err != nil || pos != 2 {
		t.Fatalf("eval text: pos %d, %v", pos, err)
	}
	if _, err := e.Eval(ch, 2, nil, 5, 0, false); err == nil {
		t.Error("eval at a gap in positions succeeded")
	}
	if _, err := e.Eval(ch, 1, nil, pos, 0, false); err == nil {
		t.Error("image decoded without its embedding")
	}
	emb, err := e.Encode(ch, 1)
	if err != nil {
		t.Fatal(err)
	}
	if pos, err = e.Eval(ch, 1, emb, pos, 0, false); err != nil || pos != 2+7 {
		t.Fatalf("eval image: pos %d, %v, want 9 (grid 7x5)", pos, err)
	}
	if _, err := e.Eval(ch, 2, nil, pos, 0, true); !errors.Is(err, native.ErrKVCacheFull) {
		t.Errorf("cells 38 and 39 of 38: %v, want ErrKVCacheFull", err)
	}
	e.ctxSize = 40
	if pos, err = e.Eval(ch, 2, nil, pos, 0, true); err != nil {
		t.Fatal(err)
	}
	s, err := e.NewSampler(native.SamplerParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok, _, err := s.Sample(-1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Sample(1); err == nil {
		t.Error("sampled an output the decode did not have")
	}
	step := []stepToken{{tok: tok, pos: pos, seq: 0}}
	e.Interrupt()
	if err := e.Step(step); !errors.Is(err, native.ErrAborted) {
		t.Errorf("step after Interrupt: %v, want ErrAborted", err)
	}
	if err := e.Step(step); !errors.Is(err, native.ErrAborted) {
		t.Errorf("second step after Interrupt: %v, want ErrAborted (sticky)", err)
	}
	e.ResetInterrupt()
	if err := e.Step(step); err != nil {
		t.Errorf("step after ResetInterrupt: %v", err)
	}
	if err := e.Step([]stepToken{{tok: tok, pos: pos + 1, seq: 0}}); !errors.Is(err, native.ErrKVCacheFull) {
		t.Errorf("41st cell of 40: %v, want ErrKVCacheFull", err)
	}
	e.badMu.Lock()
	n := len(e.bad)
	e.bad = nil
	e.badMu.Unlock()
	if n != 3 {
		t.Errorf("%d misuses recorded, want 3 (gap, image without embedding, bad output)", n)
	}
}
