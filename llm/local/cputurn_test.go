package local

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
)

// countingEngine counts the engine calls that compute (shared between
// engines: calls of any of them at once).
type countingEngine struct {
	*fakeEngine
	now, peak *atomic.Int32
}

func (c countingEngine) enter() func() {
	n := c.now.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(200 * time.Microsecond) // long enough for the other model to overlap if it may
	return func() { c.now.Add(-1) }
}

func (c countingEngine) Step(toks []stepToken) error {
	defer c.enter()()
	return c.fakeEngine.Step(toks)
}

func (c countingEngine) Eval(ch chunks, i int, emb embedding, pos, seq int, logitsLast bool) (int, error) {
	defer c.enter()()
	return c.fakeEngine.Eval(ch, i, emb, pos, seq, logitsLast)
}

func (c countingEngine) Encode(ch chunks, i int) (embedding, error) {
	defer c.enter()()
	return c.fakeEngine.Encode(ch, i)
}

// Two models on the CPU whose threads together are more than the CPUs take
// turns: no two engine calls of theirs ever run at once, and every request
// is answered. Whose threads fit run side by side.
func TestCPUTurns(t *testing.T) {
	for _, tt := range []struct {
		name    string
		threads int
		turns   bool
	}{
		{"threads over the CPUs", runtime.NumCPU(), true},
		{"threads within the CPUs", 0, false}, // 1 each, encoder behind the decoder
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.turns && runtime.NumCPU() < 2 {
				t.Skip("one CPU: two models of one thread each are over it")
			}
			var now, peak atomic.Int32
			var ps []*Predictor
			for range 2 {
				cfg := fakeConfig(t, 3)
				cfg.EncodeAhead = "off"
				if tt.threads > 0 {
					cfg.Threads, cfg.EncoderThreads = tt.threads, tt.threads
				}
				e := newFake(3, cfg.ContextSize)
				p, err := newPredictor(cfg, []engine{countingEngine{e, &now, &peak}}, []engineSetup{{parallel: 3}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { p.Close(); e.check(t) })
				ps = append(ps, p)
			}
			reqs := requests(t, 12)
			chs := []<-chan llm.Result{ps[0].PredictBatch(t.Context(), reqs), ps[1].PredictBatch(t.Context(), reqs)}
			for _, ch := range chs {
				for res := range ch {
					if res.Err != nil {
						t.Errorf("%s: %v", res.Request.ID, res.Err)
					}
				}
			}
			wait := ps[0].Stats().TurnWait + ps[1].Stats().TurnWait
			if tt.turns && (peak.Load() != 1 || wait == 0) {
				t.Errorf("%d engine calls at once at most, waited %v for turns; want 1 and some wait", peak.Load(), wait)
			}
			if !tt.turns && wait != 0 {
				t.Errorf("waited %v for turns with threads that fit the CPUs", wait)
			}
		})
	}
}
