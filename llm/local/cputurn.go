package local

import (
	"runtime"
	"sync/atomic"
	"time"
)

// Two local models on one CPU
//
// Each predictor's llama context runs its decoding steps on all the
// threads it was given (Config.Threads: every core by default), and
// ggml's threads spin while they wait for each other. Two such models
// computing at once (a base model and its fine-tune in one comparison)
// would run twice the threads on the same cores and each slow the other
// down more than half. So while the open predictors that compute on the
// CPU have more threads together than the machine has CPUs, their engine
// calls (a decoding step, a prompt's prefill, an image's encoding) take
// turns, one at a time, in the order they asked (a Go channel queues its
// waiters in order): each model has its cores for its own calls and the
// cores never run more threads than there are, so the models together
// take no longer than one after the other, and the Go-side work of one
// (reading and decoding images, tokenizing, sampling) runs while the other
// computes. Models whose threads fit the CPUs together (one thread each on
// two cores) need no turns: each computes on its own cores. Each model
// keeps its own batch (Config.Parallel): a turn is one of its steps over
// all its live sequences. Predictors on a GPU do not take turns.

// cpuTurn is held during one CPU engine call while turns are taken.
var cpuTurn = make(chan struct{}, 1)

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

// turn waits for the CPU's turn when r computes on the CPU and another
// predictor does too, and returns the function that ends it. Call it right
// around one engine call.
func (r *replica) turn() (end func()) {
	if r.encodeGPU || cpuModels.Load() < 2 || int(cpuThreads.Load()) <= runtime.NumCPU() {
		return func() {}
	}
	t0 := time.Now()
	cpuTurn <- struct{}{}
	if d := time.Since(t0); d > 0 {
		r.p.addStats(func(s *Stats) { s.TurnWait += d })
	}
	return func() { <-cpuTurn }
}

// onCPU reports whether p computes on the CPU (its first replica's encoder
// runs there: the model and projector are placed together).
func (p *Predictor) onCPU() bool { return !p.replicas[0].encodeGPU }
