package local

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
)

// The replicas' tests on the fake engine: one queue, several engines.

// newFakeReplicas starts a predictor with one replica on each of engs;
// closing it at the end of the test checks every engine and that every
// goroutine ended.
func newFakeReplicas(t testing.TB, cfg Config, engs ...*fakeEngine) *Predictor {
	t.Helper()
	before := runtime.NumGoroutine()
	var (
		list   []engine
		setups []engineSetup
	)
	for _, e := range engs {
		list = append(list, e)
		setups = append(setups, engineSetup{parallel: e.parallel})
	}
	cfg.Replicas = len(engs)
	p, err := newPredictor(cfg, list, setups)
	if err != nil {
		t.Fatalf("newPredictor: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for _, e := range engs {
			e.check(t)
		}
		noLeak(t, before)
	})
	return p
}

// taken is how many requests each replica of p took.
func taken(p *Predictor) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := make([]int, len(p.replicas))
	for i, r := range p.replicas {
		n[i] = r.taken
	}
	return n
}

func fakes(n, parallel, ctxSize int) []*fakeEngine {
	engs := make([]*fakeEngine, n)
	for i := range engs {
		engs[i] = newFake(parallel, ctxSize)
	}
	return engs
}

// TestReplicasMatchPlain: with 2 or 3 replicas every request gets one
// answer, the one the plain loop gives, and every replica decodes some of
// them.
func TestReplicasMatchPlain(t *testing.T) {
	reqs := requests(t, 12)
	for _, tt := range []struct{ replicas, parallel int }{{1, 2}, {2, 1}, {2, 2}, {3, 2}} {
		t.Run(fmt.Sprintf("replicas=%d,parallel=%d", tt.replicas, tt.parallel), func(t *testing.T) {
			cfg := fakeConfig(t, tt.parallel)
			engs := fakes(tt.replicas, tt.parallel, cfg.ContextSize)
			for _, e := range engs {
				e.stepDelay = time.Millisecond
			}
			p := newFakeReplicas(t, cfg, engs...)
			if p.Replicas() != tt.replicas || p.Parallel() != tt.replicas*tt.parallel {
				t.Errorf("Replicas() %d, Parallel() %d, want %d and %d", p.Replicas(), p.Parallel(), tt.replicas, tt.replicas*tt.parallel)
			}
			got := texts(t, collect(t, reqs, p.PredictBatch(t.Context(), reqs)))
			for _, r := range reqs {
				if want := plainFake(t, cfg, 16, r); got[r.ID] != want {
					t.Errorf("%s: %q, plain loop %q", r.ID, got[r.ID], want)
				}
			}
			// 12 requests, at most 2P+1 taken by a replica while another
			// has room: each replica gets some.
			for i, e := range engs {
				if e.steps == 0 {
					t.Errorf("replica %d decoded nothing", i)
				}
			}
		})
	}
}

// TestFreeReplicaTakesNext: while one replica is stuck in a step, a new
// request goes to the free replica and is answered, not queued behind the
// stuck one.
func TestFreeReplicaTakesNext(t *testing.T) {
	cfg := fakeConfig(t, 1)
	engs := fakes(2, 1, cfg.ContextSize)
	engs[1].blocked = engs[0].blocked // either replica may take the slow request
	p := newFakeReplicas(t, cfg, engs...)
	reqs := requests(t, 3)
	slow := reqs[0]
	slow.Prompt += " slow:step"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	slowCh := p.PredictBatch(ctx, []*llm.Request{slow})
	select {
	case <-engs[0].blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow step never started")
	}
	// Each replica has one sequence: the stuck one has no room, so both
	// requests run on the other, one after the other.
	for _, r := range reqs[1:] {
		wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
		got, err := p.Predict(wctx, r)
		wcancel()
		if err != nil {
			t.Fatalf("%s while the other replica is stuck: %v", r.ID, err)
		}
		if want := plainFake(t, cfg, 16, r); got.Text != want {
			t.Errorf("%s: %q, plain loop %q", r.ID, got.Text, want)
		}
	}
	cancel()
	if r := <-slowCh; !errors.Is(r.Err, context.Canceled) {
		t.Errorf("stuck request: %v, want context.Canceled", r.Err)
	}
}

// TestReplicaFailure: a replica whose steps fail (a lost device) loses no
// request: what it held is run again on another replica, with the same
// answers. A request that fails on every replica is answered once, with
// the error.
func TestReplicaFailure(t *testing.T) {
	reqs := requests(t, 8)
	for _, at := range []string{"step", "eval"} {
		t.Run("one broken at "+at, func(t *testing.T) {
			cfg := fakeConfig(t, 2)
			engs := fakes(2, 2, cfg.ContextSize)
			engs[0].broken = at
			p := newFakeReplicas(t, cfg, engs...)
			got := texts(t, collect(t, reqs, p.PredictBatch(t.Context(), reqs)))
			for _, r := range reqs {
				if want := plainFake(t, cfg, 16, r); got[r.ID] != want {
					t.Errorf("%s: %q, plain loop %q", r.ID, got[r.ID], want)
				}
			}
			if n := taken(p); n[0] == 0 {
				t.Errorf("requests taken per replica %v: the broken one took none, so nothing was rerun", n)
			}
		})
		t.Run("all broken at "+at, func(t *testing.T) {
			cfg := fakeConfig(t, 2)
			engs := fakes(3, 2, cfg.ContextSize)
			for _, e := range engs {
				e.broken = at
			}
			p := newFakeReplicas(t, cfg, engs...)
			lost := 0
			for id, r := range collect(t, reqs, p.PredictBatch(t.Context(), reqs)) {
				// An answer whose first token ends it never steps.
				if r.Err != nil {
					lost++
					if !strings.Contains(r.Err.Error(), "device is lost") {
						t.Errorf("%s: %v, want the lost device's error", id, r.Err)
					}
				}
			}
			if lost == 0 {
				t.Error("every request answered on broken replicas")
			}
		})
	}
	t.Run("bad image decode", func(t *testing.T) {
		cfg := fakeConfig(t, 2)
		p := newFakeReplicas(t, cfg, fakes(2, 2, cfg.ContextSize)...)
		bad := *reqs[3]
		bad.Prompt += " fail:eval"
		if _, err := p.Predict(t.Context(), &bad); err == nil || !strings.Contains(err.Error(), "image decode failed") {
			t.Errorf("%s: %v, want the decode's failure", bad.ID, err)
		}
		if n := taken(p); n[0]+n[1] != 2 {
			t.Errorf("requests taken per replica %v, want one try on each", n)
		}
	})
	t.Run("failing request", func(t *testing.T) {
		cfg := fakeConfig(t, 2)
		p := newFakeReplicas(t, cfg, fakes(2, 2, cfg.ContextSize)...)
		bad := *reqs[1]
		bad.Prompt += " fail:step"
		batch := []*llm.Request{reqs[0], &bad, reqs[2]}
		got := collect(t, batch, p.PredictBatch(t.Context(), batch))
		if err := got[bad.ID].Err; err == nil || !strings.Contains(err.Error(), "decode failed") {
			t.Errorf("%s: %v, want the step's failure", bad.ID, err)
		}
		// A request sharing a step with the failing one on every replica
		// fails with it, as with one replica.
		for _, r := range []*llm.Request{reqs[0], reqs[2]} {
			if res := got[r.ID]; res.Err != nil {
				if !strings.Contains(res.Err.Error(), "decode failed") {
					t.Errorf("%s: %v, want an answer or the shared step's failure", r.ID, res.Err)
				}
			} else if want := plainFake(t, cfg, 16, r); res.Prediction.Text != want {
				t.Errorf("%s: %q, plain loop %q", r.ID, res.Prediction.Text, want)
			}
		}
	})
}

// TestReplicasCancel cancels a batch spread over two replicas: every
// request answers once, with an answer or the context's error.
// TestBrokenReplicaSitsOut: a replica whose engine fails brokenAfter
// requests in a row stops taking requests while the other one answers, so
// that it does not take its share of a long batch only to hand it back.
func TestBrokenReplicaSitsOut(t *testing.T) {
	reqs := requests(t, 40)
	cfg := fakeConfig(t, 2)
	engs := fakes(2, 2, cfg.ContextSize)
	engs[0].broken = "eval"
	p := newFakeReplicas(t, cfg, engs...)
	got := texts(t, collect(t, reqs, p.PredictBatch(t.Context(), reqs)))
	for _, r := range reqs {
		if want := plainFake(t, cfg, 16, r); got[r.ID] != want {
			t.Errorf("%s: %q, plain loop %q", r.ID, got[r.ID], want)
		}
	}
	// It stops at its third failure; what it took before that (a sequence
	// each and one prepared ahead) it hands back too.
	if n := taken(p); n[0] > brokenAfter+cfg.Parallel+1 || n[1] < len(reqs) {
		t.Errorf("requests taken per replica %v: want at most %d by the broken one, all %d by the other",
			n, brokenAfter+cfg.Parallel+1, len(reqs))
	}
}

func TestReplicasCancel(t *testing.T) {
	cfg := fakeConfig(t, 2)
	cfg.MaxTokens = 100
	engs := fakes(2, 2, cfg.ContextSize)
	for _, e := range engs {
		e.eogEvery = 0
		e.stepDelay = time.Millisecond
	}
	p := newFakeReplicas(t, cfg, engs...)
	reqs := requests(t, 12)
	ctx, cancel := context.WithCancel(t.Context())
	ch := p.PredictBatch(ctx, reqs)
	time.AfterFunc(30*time.Millisecond, cancel)
	cancelled := 0
	for id, r := range collect(t, reqs, ch) {
		switch {
		case errors.Is(r.Err, context.Canceled):
			cancelled++
		case r.Err != nil:
			t.Errorf("%s: %v, want an answer or context.Canceled", id, r.Err)
		}
	}
	if cancelled == 0 {
		t.Error("no request was cancelled")
	}
	// The replicas go on answering.
	if _, err := p.Predict(t.Context(), reqs[0]); err != nil {
		t.Errorf("predict after a cancel: %v", err)
	}
}

// TestReplicasCloseWhileBusy closes two busy replicas: every request
// answers once, each engine is closed once, no goroutine is left (checked
// by newFakeReplicas).
func TestReplicasCloseWhileBusy(t *testing.T) {
	cfg := fakeConfig(t, 2)
	cfg.MaxTokens = 100
	engs := fakes(2, 2, cfg.ContextSize)
	for _, e := range engs {
		e.eogEvery = 0
		e.stepDelay = time.Millisecond
	}
	p := newFakeReplicas(t, cfg, engs...)
	reqs := requests(t, 10)
	ch := p.PredictBatch(t.Context(), reqs)
	time.Sleep(20 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	closed := 0
	for id, r := range collect(t, reqs, ch) {
		switch {
		case errors.Is(r.Err, ErrClosed):
			closed++
		case r.Err != nil:
			t.Errorf("%s: %v, want an answer or ErrClosed", id, r.Err)
		}
	}
	if closed == 0 {
		t.Error("no request was cut short by Close")
	}
}

// TestReplicaConfig checks the replicas and devices settings.
func TestReplicaConfig(t *testing.T) {
	tests := []struct {
		replicas int
		devices  []int
		want     int    // Replicas after validate
		err      string // part of the error; "" for none
	}{
		{0, nil, 1, ""},
		{2, nil, 2, ""},
		{0, []int{0, 1}, 2, ""},
		{2, []int{1, 0}, 2, ""},
		{-1, nil, 0, "replicas is -1"},
		{3, []int{0, 1}, 0, "3 replicas on 2 devices"},
		{2, []int{0, 0}, 0, "device 0 is listed twice"},
		{1, []int{-2}, 0, "device -2 is negative"},
	}
	for _, tt := range tests {
		cfg := Config{ModelFile: "m.gguf", MmprojFile: "p.gguf", Replicas: tt.replicas, Devices: tt.devices}
		err := cfg.validate()
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("replicas %d devices %v: %v", tt.replicas, tt.devices, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("replicas %d devices %v: %v, want %q", tt.replicas, tt.devices, err, tt.err)
		case tt.err == "" && cfg.Replicas != tt.want:
			t.Errorf("replicas %d devices %v: Replicas %d, want %d", tt.replicas, tt.devices, cfg.Replicas, tt.want)
		}
	}
}
