package local

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/native"
)

// seq is one live sequence (a slot of the llama context) and the request it
// answers. The owner goroutine alone reads and writes it.
type seq struct {
	id      int            // llama sequence id, 0..P-1
	job     *job           // the request; nil when the slot is free
	sampler sampler        // the request's sampler (grammar state)
	nPast   int            // next position (M-RoPE: an image advances it by its grid, not its tokens)
	max     int            // answer tokens allowed
	out     []native.Token // answer tokens so far, end token excluded
	next    native.Token   // token to feed at the next step
	prefill time.Duration  // time in this request's prompt decodes
	decode  time.Duration  // time in the steps this sequence took part in
	first   time.Time      // when the first answer token was sampled
}

// runner is the owner goroutine's state: the engine's context is used from
// nowhere else while it runs.
type runner struct {
	p       *Predictor
	rep     *replica
	eng     engine
	slots   []*seq
	step    []stepToken // the tokens of the current step, reused
	live    []*seq      // the sequences of the current step, in step order
	threads int         // the engine's decoding threads now (0: as configured)
	prefix  struct {
		seq  int            // the spare sequence holding the shared prefix (P+1; P is the engine's step padding)
		toks []native.Token // its tokens; nil when empty
		pos  int            // the position after it
	}
}

// run is a replica's owner goroutine: it admits prepared requests into free
// slots, prefills them, then decodes every live sequence one token per step
// (one llama_decode), until Close.
func (rep *replica) run() {
	p := rep.p
	defer p.wg.Done()
	r := &runner{p: p, rep: rep, eng: rep.eng, slots: make([]*seq, rep.parallel)}
	for i := range r.slots {
		r.slots[i] = &seq{id: i}
	}
	r.prefix.seq = rep.parallel + 1
	defer r.failAll(ErrClosed)
	for {
		if !r.admit() {
			return
		}
		r.cancelled()
		if r.liveCount() == 0 {
			continue
		}
		r.decodeStep()
	}
}

// admit fills free slots with prepared requests. With nothing live it
// blocks for the next request; otherwise it takes only what is ready now.
// It returns false when the predictor is closing.
func (r *runner) admit() bool {
	quit := r.p.quit.Done()
	for _, s := range r.slots {
		if s.job != nil {
			continue
		}
		var j *job
		if r.liveCount() == 0 {
			t0 := time.Now()
			select {
			case j = <-r.rep.ready:
			case <-quit:
				return false
			}
			d := time.Since(t0)
			r.p.addStats(func(st *Stats) { st.OwnerWait += d })
			r.p.traced("wait", t0, d, 0, 0)
		} else {
			select {
			case j = <-r.rep.ready:
			case <-quit:
				return false
			default:
				return true
			}
		}
		if err := j.ctx.Err(); err != nil {
			j.answer(nil, err)
			continue
		}
		r.start(s, j)
	}
	select {
	case <-quit:
		return false
	default:
		return true
	}
}

// borrow gives the next decodes the encoder's threads too when the
// encoder is idle (Predictor.lend), its own share otherwise. Call the
// function it returns after those decodes: it lets the encoder run again.
func (r *runner) borrow() (release func()) {
	if !r.rep.lend {
		return func() {}
	}
	n, got := r.p.cfg.Threads, r.rep.cores.TryLock()
	if got {
		n += r.p.cfg.EncoderThreads
	}
	if n != r.threads {
		r.eng.(threadSetter).SetThreads(n)
		r.threads = n
	}
	if got {
		return r.rep.cores.Unlock
	}
	return func() {}
}

func (r *runner) liveCount() int {
	n := 0
	for _, s := range r.slots {
		if s.job != nil {
			n++
		}
	}
	return n
}

// cancelled ends the sequences whose request context is done.
func (r *runner) cancelled() {
	for _, s := range r.slots {
		if s.job != nil && s.job.ctx.Err() != nil {
			r.finish(s, s.job.ctx.Err())
		}
	}
}

// interruptOn interrupts the engine as soon as the context of one of jobs
// ends or Close begins, until the function it returns is called. Call that
// right after the engine calls it covers: it waits for an interrupt under
// way and resets the engine, so that no interrupt reaches a later call.
func (r *runner) interruptOn(jobs ...*job) (done func()) {
	var (
		wg    sync.WaitGroup
		fired atomic.Bool
		stops []func() bool
		seen  []<-chan struct{}
	)
	interrupt := func() {
		fired.Store(true)
		r.eng.Interrupt()
		wg.Done()
	}
	watch := func(ctx context.Context) {
		d := ctx.Done()
		if d == nil || slices.Contains(seen, d) {
			return
		}
		seen = append(seen, d)
		wg.Add(1)
		stops = append(stops, context.AfterFunc(ctx, interrupt))
	}
	watch(r.p.quit)
	for _, j := range jobs {
		watch(j.ctx)
	}
	return func() {
		for _, stop := range stops {
			if stop() {
				wg.Done()
			}
		}
		wg.Wait()
		if fired.Load() {
			r.eng.ResetInterrupt()
		}
	}
}

// cause is the error a request answers with when an engine call for it
// failed with err: its context's error or ErrClosed when one of those
// interrupted the call, err otherwise.
func (r *runner) cause(j *job, err error) error {
	if e := j.ctx.Err(); e != nil {
		return e
	}
	if r.p.quit.Err() != nil {
		return ErrClosed
	}
	return err
}

// start admits j into slot s: it readies the sequence, encodes the image
// unless the preparer did, prefills the prompt (the shared prefix, the
// image, the text after it) and samples the first answer token. A failure
// fails j alone. The prefill is interrupted when j's context ends or Close
// begins.
func (r *runner) start(s *seq, j *job) {
	*s = seq{id: s.id, job: j}
	err := r.open(s)
	if err == nil && j.emb == nil && !r.rep.cached(j) {
		err = r.rep.encode(j)
	}
	if err == nil {
		err = j.ctx.Err()
	}
	if err == nil {
		end := r.rep.turn(r.threadsNow()) // cputurn.go
		done := r.interruptOn(j)
		err = r.prefill(s)
		done()
		end()
		if err != nil && len(r.p.replicas) > 1 && r.cause(j, err) == err {
			// The image and prompt were fine (they were prepared): a
			// failed decode is the engine's, and another replica may run it.
			r.free(s)
			r.p.requeue(r.rep, j, fmt.Errorf("image %s: %w", j.name(), err))
			return
		}
	}
	if err == nil {
		err = r.firstToken(s)
	}
	if err != nil {
		r.finish(s, r.cause(j, fmt.Errorf("image %s: %w", j.name(), err)))
	}
}

// open checks the shape of s's prompt and makes its sampler and token
// limit.
func (r *runner) open(s *seq) error {
	p := r.p
	j := s.job
	ch := j.chunks
	if ch.Len() <= j.imageAt+1 || ch.Kind(ch.Len()-1) != native.ChunkText {
		return errors.New("the prompt has no text after the image")
	}
	o := j.req.Options
	var err error
	s.sampler, err = r.eng.NewSampler(native.SamplerParams{
		Temperature: float32(o.Temperature),
		TopK:        o.TopK,
		TopP:        float32(o.TopP),
		Seed:        uint32(o.Seed),
		Grammar:     j.grammar,
	})
	if err != nil {
		return fmt.Errorf("sampler: %w", err)
	}
	s.max = o.MaxTokens
	if s.max <= 0 {
		s.max = p.cfg.MaxTokens
	}
	// The prompt and every answer token but the last (which is sampled,
	// never decoded) fit in the sequence's ContextSize cells: ready1
	// refused prompts of ContextSize tokens or more.
	s.max = min(s.max, p.cfg.ContextSize-ch.TotalTokens())
	return nil
}

// prefill decodes s's prompt into its sequence: the text before the image
// (see prefixInto), the image's embedding, then the text after it, keeping
// the last token's logits.
func (r *runner) prefill(s *seq) error {
	j := s.job
	ch := j.chunks
	release := r.borrow()
	defer release()
	t0 := time.Now()
	pos, n, err := r.prefixInto(s)
	if err != nil {
		return err
	}
	t1 := time.Now()
	r.p.traced("prefix", t0, t1.Sub(t0), 1, n)
	if pos, err = r.eng.Eval(ch, j.imageAt, j.emb, pos, s.id, false); err != nil {
		return fmt.Errorf("prefill: %w", err)
	}
	n += ch.NTokens(j.imageAt)
	t2 := time.Now()
	r.p.traced("image", t1, t2.Sub(t1), 1, ch.NTokens(j.imageAt))
	text := 0
	for i := j.imageAt + 1; i < ch.Len(); i++ {
		if pos, err = r.eng.Eval(ch, i, nil, pos, s.id, i == ch.Len()-1); err != nil {
			return fmt.Errorf("prefill: %w", err)
		}
		text += ch.NTokens(i)
	}
	n += text
	t3 := time.Now()
	r.p.traced("text", t2, t3.Sub(t2), 1, text)
	s.prefill = t3.Sub(t0)
	s.nPast = pos
	r.p.addStats(func(st *Stats) {
		st.PrefillTokens += n
		st.Prefill += s.prefill
		st.PrefixPrefill += t1.Sub(t0)
		st.ImagePrefill += t2.Sub(t1)
		st.TextPrefill += t3.Sub(t2)
	})
	j.emb = nil // the embedding is in the KV cache now
	return nil
}

// prefixInto puts the text before s's image into its sequence and returns
// the position after it and the tokens it decoded. That text (the system
// prompt and the opening of the user turn) is the same for every request
// with the same system prompt: it is decoded once into the spare sequence
// and copied from there. A prompt without it (a raw prompt opening with the
// image) has nothing before the image to decode.
func (r *runner) prefixInto(s *seq) (pos, decoded int, err error) {
	j := s.job
	ch := j.chunks
	if j.imageAt != 1 || ch.Kind(0) != native.ChunkText {
		for i := range j.imageAt {
			if pos, err = r.eng.Eval(ch, i, nil, pos, s.id, false); err != nil {
				return pos, decoded, fmt.Errorf("prefill: %w", err)
			}
			decoded += ch.NTokens(i)
		}
		return pos, decoded, nil
	}
	toks := ch.Tokens(0)
	if slices.Equal(toks, r.prefix.toks) {
		r.p.addStats(func(st *Stats) { st.PrefixReuses++ })
	} else {
		// A new prefix (another system prompt): decode it into the spare
		// sequence. Sequences copied from the old one keep their cells.
		if err := r.eng.ClearSeq(r.prefix.seq); err != nil {
			return 0, 0, err
		}
		r.prefix.toks = nil
		end, err := r.eng.Eval(ch, 0, nil, 0, r.prefix.seq, false)
		if err != nil {
			return 0, 0, fmt.Errorf("prefill: %w", err)
		}
		r.prefix.toks, r.prefix.pos = toks, end
		decoded = len(toks)
	}
	if err := r.eng.CopySeq(r.prefix.seq, s.id); err != nil {
		return 0, 0, err
	}
	return r.prefix.pos, decoded, nil
}

// firstToken samples s's first answer token from the prefill's logits.
func (r *runner) firstToken(s *seq) error {
	t0 := time.Now()
	tok, end, err := s.sampler.Sample(-1)
	if err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	s.first = time.Now()
	d := s.first.Sub(t0)
	r.p.addStats(func(st *Stats) { st.Sample += d })
	r.p.traced("sample", t0, d, 1, 0)
	r.accept(s, tok, end)
	return nil
}

// accept takes a sampled token: it ends the sequence on an end token or at
// its token limit, or queues the token for the next step.
func (r *runner) accept(s *seq, tok native.Token, end bool) {
	if end {
		r.finish(s, nil)
		return
	}
	s.out = append(s.out, tok)
	if len(s.out) >= s.max {
		r.finish(s, nil)
		return
	}
	s.next = tok
}

// decodeStep runs one engine step with the next token of every live
// sequence and samples each sequence's following token. The step is
// interrupted when the context of one of its requests ends or Close begins.
//
// No step runs out of KV cells: each sequence has its own stream of
// ContextSize cells (see openEngine), and open caps its answer so that the
// prompt and the decoded answer tokens fit there. A failed step is a failure
// of the engine, shared by every sequence in it.
func (r *runner) decodeStep() {
	r.step, r.live = r.step[:0], r.live[:0]
	jobs := make([]*job, 0, len(r.slots))
	for _, s := range r.slots {
		if s.job == nil {
			continue
		}
		r.step = append(r.step, stepToken{tok: s.next, pos: s.nPast, seq: s.id})
		r.live = append(r.live, s)
		jobs = append(jobs, s.job)
	}
	end := r.rep.turn(r.threadsNow()) // cputurn.go
	release := r.borrow()
	done := r.interruptOn(jobs...)
	t0 := time.Now()
	err := r.eng.Step(r.step)
	d := time.Since(t0)
	done()
	release()
	end()
	if err != nil {
		r.stepFailed(err)
		return
	}
	r.p.traced("step", t0, d, len(r.live), len(r.live))
	var sampling time.Duration
	t1 := time.Now()
	for i, s := range r.live {
		s.nPast++
		s.decode += d
		ts := time.Now()
		tok, end, err := s.sampler.Sample(i)
		sampling += time.Since(ts)
		if err != nil {
			r.finish(s, fmt.Errorf("image %s: sample: %w", s.job.name(), err))
			continue
		}
		r.accept(s, tok, end)
	}
	r.p.traced("sample", t1, sampling, len(r.live), 0)
	r.p.addStats(func(st *Stats) { st.Steps++; st.DecodeTokens += len(r.live); st.Decode += d; st.Sample += sampling })
}

// stepFailed handles a failed step. When it was interrupted (a request's
// context ended, or Close began), the sequences whose request ended are
// answered and the others stay, to run the step again: the engine keeps
// nothing of a failed step. Otherwise every sequence in it fails with err.
func (r *runner) stepFailed(err error) {
	interrupted := r.p.quit.Err() != nil
	for _, s := range r.live {
		if e := s.job.ctx.Err(); e != nil {
			r.finish(s, e)
			interrupted = true
		}
	}
	if interrupted {
		return
	}
	for _, s := range r.live {
		if len(r.p.replicas) == 1 {
			r.finish(s, fmt.Errorf("local: %w", err))
			continue
		}
		// Another replica may run it: hand it back rather than fail it.
		j := s.job
		r.free(s)
		r.p.requeue(r.rep, j, fmt.Errorf("local: %w", err))
	}
}

// finish frees slot s (KV cells, sampler) and answers its request: with err,
// or with the answer so far when err is nil.
func (r *runner) finish(s *seq, err error) {
	j := s.job
	if rmErr := r.eng.ClearSeq(s.id); rmErr != nil && err == nil {
		err = fmt.Errorf("local: free sequence %d: %w", s.id, rmErr)
	}
	if s.sampler != nil {
		s.sampler.Close()
	}
	var pred *llm.Prediction
	if err == nil {
		pred, err = r.prediction(s)
	}
	if err == nil {
		r.p.mu.Lock()
		r.rep.failures = 0 // the engine answers: not broken
		r.p.mu.Unlock()
	}
	*s = seq{id: s.id}
	j.answer(pred, err)
}

// free empties slot s (KV cells, sampler) without answering its request.
func (r *runner) free(s *seq) {
	r.eng.ClearSeq(s.id)
	if s.sampler != nil {
		s.sampler.Close()
	}
	*s = seq{id: s.id}
}

// prediction builds the answer of a finished sequence.
func (r *runner) prediction(s *seq) (*llm.Prediction, error) {
	p := r.p
	j := s.job
	text, err := r.eng.Detokenize(s.out)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	t := j.timings
	t.PrefillMS = ms(s.prefill)
	t.DecodeMS = ms(s.decode)
	if !s.first.IsZero() {
		t.FirstTokenMS = ms(s.first.Sub(j.submitted))
	}
	pred := &llm.Prediction{
		Latency: time.Since(j.started),
		Usage: llm.Usage{
			PromptTokens:     j.chunks.TotalTokens(),
			CompletionTokens: len(s.out),
		},
		Backend: "local",
		Model:   p.name,
		Timings: &t,
	}
	pred.SetText(text)
	return pred, nil
}

// failAll answers every live request with err (the owner is stopping).
func (r *runner) failAll(err error) {
	for _, s := range r.slots {
		if s.job != nil {
			r.finish(s, err)
		}
	}
}
