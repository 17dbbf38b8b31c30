package local

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// Two local models on one CPU
//
// Each predictor's llama context runs its decoding steps on all the
// threads it was given (Config.Threads: every core by default), and
// ggml's threads spin while they wait for each other. Two such models
// computing at once (a base model and its fine-tune in one comparison)
// would run twice the threads on the same cores and each slow the other
// down more than half. So while the open predictors that compute on the
// CPU have more threads together than the machine has CPUs, each of their
// engine calls (a decoding step or a prompt's prefill on Threads threads,
// an image's encoding on EncoderThreads) first takes its threads from one
// budget of the machine's CPUs, in the order the calls asked
// (golang.org/x/sync/semaphore: weighted, first come first served), and
// gives them back after. Models of every core each then take turns, a
// call at a time, each with all its cores; models of one thread each on
// two cores (decoder and encoder ahead) run two calls at once, whichever
// model they belong to. The cores never run more threads than there are,
// so the models together take no longer than one after the other, and the
// Go-side work of one (reading and decoding images, tokenizing, sampling)
// runs while the other computes. Each model keeps its own batch
// (Config.Parallel): a step is one call over all its live sequences.
// Predictors on a GPU take no part.

// cpuBudget holds a thread of the machine's CPUs for each thread of an
// engine call in progress while turns are taken.
var cpuBudget = semaphore.NewWeighted(int64(runtime.NumCPU()))

// cpuModels counts the open predictors that compute on the CPU, cpuThreads
// the threads they may run at once (each replica's larger of Threads and
// EncoderThreads, or their sum when the encoder runs ahead).
var cpuModels, cpuThreads atomic.Int32

// threadsAtOnce is the most threads p's replicas run at once on the CPU.
func (p *Predictor) threadsAtOnce() int32 {
	n := 0
	for _, r := range p.replicas {
		if r.ahead && !r.lend {
			n += p.cfg.Threads + p.cfg.EncoderThreads
		} else {
			n += max(p.cfg.Threads, p.cfg.EncoderThreads)
		}
	}
	return int32(n)
}

// openCPU and closeCPU count p in and out of the CPU's models.
func (p *Predictor) openCPU() {
	if p.onCPU() {
		cpuModels.Add(1)
		cpuThreads.Add(p.threadsAtOnce())
	}
}

func (p *Predictor) closeCPU() {
	if p.onCPU() {
		cpuModels.Add(-1)
		cpuThreads.Add(-p.threadsAtOnce())
	}
}

// turn waits for n of the CPU's threads (capped at the CPUs) when r
// computes on the CPU and the CPU models' threads together are over the
// CPUs, and returns the function that gives them back. Call it right
// around one engine call on n threads.
func (r *replica) turn(n int) (end func()) {
	if r.encodeGPU || cpuModels.Load() < 2 || int(cpuThreads.Load()) <= runtime.NumCPU() {
		return func() {}
	}
	w := int64(min(max(n, 1), runtime.NumCPU()))
	t0 := time.Now()
	cpuBudget.Acquire(context.Background(), w) // never fails without a deadline
	if d := time.Since(t0); d > 0 {
		r.p.addStats(func(s *Stats) { s.TurnWait += d })
	}
	return func() { cpuBudget.Release(w) }
}

// onCPU reports whether p computes on the CPU (its first replica's encoder
// runs there: the model and projector are placed together).
func (p *Predictor) onCPU() bool { return !p.replicas[0].encodeGPU }

// threadsNow is the threads the owner's next decode runs on: its own, and
// the encoder's too when it may borrow them (a decode that borrows takes
// the whole replica's share).
func (r *runner) threadsNow() int {
	if r.rep.lend {
		return r.p.cfg.Threads + r.p.cfg.EncoderThreads
	}
	return r.p.cfg.Threads
}
