package local

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/native"
)

// seq is one live sequence (a slot of the llama context) and the request it
// answers. The owner goroutine alone reads and writes it.
type seq struct {
	id      int             // llama sequence id, 0..P-1
	job     *job            // the request; nil when the slot is free
	sampler *native.Sampler // the request's sampler (grammar state)
	nPast   int             // next position (M-RoPE: an image advances it by its grid, not its tokens)
	max     int             // answer tokens allowed
	out     []native.Token  // answer tokens so far, end token excluded
	next    native.Token    // token to feed at the next step
	idx     int             // index of next in the step batch
	prefill time.Duration   // time in this request's prompt decodes
	decode  time.Duration   // time in the steps this sequence took part in
	first   time.Time       // when the first answer token was sampled
}

// runner is the owner goroutine's state: the llama context is used from
// nowhere else while it runs.
type runner struct {
	p      *Predictor
	slots  []*seq
	step   *native.Batch
	prefix struct {
		seq  int            // the spare sequence holding the shared prefix (P)
		toks []native.Token // its tokens; nil when empty
		pos  int            // the position after it
	}
}

// run is the owner goroutine: it admits prepared requests into free slots,
// prefills them, then decodes every live sequence one token per step (one
// llama_decode), until Close.
func (p *Predictor) run() {
	defer p.wg.Done()
	r := &runner{p: p, slots: make([]*seq, p.parallel)}
	for i := range r.slots {
		r.slots[i] = &seq{id: i}
	}
	r.prefix.seq = p.parallel
	var err error
	if r.step, err = native.NewBatch(p.parallel, 1); err != nil {
		r.failAll(fmt.Errorf("local: %w", err))
		return
	}
	defer r.step.Close()
	defer r.failAll(ErrClosed)
	for {
		if !r.admit() {
			return
		}
		r.cancelled()
		if r.live() == 0 {
			continue
		}
		r.decodeStep()
	}
}

// admit fills free slots with prepared requests. With nothing live it
// blocks for the next request; otherwise it takes only what is ready now.
// It returns false when the predictor is closing.
func (r *runner) admit() bool {
	for _, s := range r.slots {
		if s.job != nil {
			continue
		}
		var j *job
		if r.live() == 0 {
			select {
			case j = <-r.p.ready:
			case <-r.p.quit:
				return false
			}
		} else {
			select {
			case j = <-r.p.ready:
			case <-r.p.quit:
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
	case <-r.p.quit:
		return false
	default:
		return true
	}
}

func (r *runner) live() int {
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

// start prefills j into slot s: the shared prefix (copied, or decoded once),
// the image (encoded here unless encoded ahead), then the text after it;
// then it samples the first answer token. On error the request fails alone.
func (r *runner) start(s *seq, j *job) {
	p := r.p
	*s = seq{id: s.id, job: j}
	name := j.req.ImagePath
	if name == "" {
		name = j.req.ID
	}
	fail := func(err error) { r.finish(s, fmt.Errorf("image %s: %w", name, err)) }
	if j.emb == nil {
		var err error
		if j.emb, err = p.proj.Encode(j.chunks, j.imageAt); err != nil {
			fail(err)
			return
		}
		p.noteEncode(j)
	}
	ch := j.chunks
	if ch.Len() <= j.imageAt+1 || ch.Kind(ch.Len()-1) != native.ChunkText {
		fail(errors.New("the prompt has no text after the image"))
		return
	}
	o := j.req.Options
	var err error
	s.sampler, err = native.NewSampler(p.model, native.SamplerParams{
		Temperature: float32(o.Temperature),
		TopK:        o.TopK,
		TopP:        float32(o.TopP),
		Seed:        uint32(o.Seed),
		Grammar:     j.grammar,
	})
	if err != nil {
		fail(fmt.Errorf("sampler: %w", err))
		return
	}
	s.max = o.MaxTokens
	if s.max <= 0 {
		s.max = p.cfg.MaxTokens
	}
	s.max = min(s.max, p.cfg.ContextSize-ch.TotalTokens())

	t0 := time.Now()
	prefillTokens := 0
	nPast := 0
	if j.imageAt == 1 && ch.Kind(0) == native.ChunkText {
		toks := ch.Tokens(0)
		if !slices.Equal(toks, r.prefix.toks) {
			// A new prefix (another system prompt): decode it into the
			// spare sequence. Sequences copied from the old one keep their
			// cells.
			if err := p.lctx.SeqRemove(r.prefix.seq, -1, -1); err != nil {
				fail(err)
				return
			}
			r.prefix.toks = nil
			pos, err := evalText(p.proj, p.lctx, ch, 0, 0, r.prefix.seq, false)
			if err != nil {
				fail(fmt.Errorf("prefill: %w", err))
				return
			}
			r.prefix.toks, r.prefix.pos = toks, pos
			prefillTokens += len(toks)
		} else {
			p.addStats(func(st *Stats) { st.PrefixReuses++ })
		}
		if err := p.lctx.SeqCopy(r.prefix.seq, s.id, -1, -1); err != nil {
			fail(err)
			return
		}
		nPast = r.prefix.pos
	} else {
		for i := range j.imageAt {
			if nPast, err = evalText(p.proj, p.lctx, ch, i, nPast, s.id, false); err != nil {
				fail(fmt.Errorf("prefill: %w", err))
				return
			}
			prefillTokens += ch.NTokens(i)
		}
	}
	if nPast, err = p.proj.DecodeImage(p.lctx, ch, j.imageAt, j.emb, nPast, s.id); err != nil {
		fail(fmt.Errorf("prefill: %w", err))
		return
	}
	prefillTokens += ch.NTokens(j.imageAt)
	for i := j.imageAt + 1; i < ch.Len(); i++ {
		if nPast, err = evalText(p.proj, p.lctx, ch, i, nPast, s.id, i == ch.Len()-1); err != nil {
			fail(fmt.Errorf("prefill: %w", err))
			return
		}
		prefillTokens += ch.NTokens(i)
	}
	s.prefill = time.Since(t0)
	s.nPast = nPast
	p.addStats(func(st *Stats) { st.PrefillTokens += prefillTokens; st.Prefill += s.prefill })
	j.emb = nil // the embedding is in the KV cache now
	tok, err := s.sampler.Sample(p.lctx, -1)
	if err != nil {
		fail(fmt.Errorf("sample: %w", err))
		return
	}
	s.first = time.Now()
	r.accept(s, tok)
}

// accept takes a sampled token: it ends the sequence on an end token or at
// its token limit, or queues the token for the next step.
func (r *runner) accept(s *seq, tok native.Token) {
	if r.p.model.IsEOG(tok) {
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

// decodeStep runs one llama_decode with the next token of every live
// sequence and samples each sequence's following token.
func (r *runner) decodeStep() {
	p := r.p
	r.step.Clear()
	var live []*seq
	for _, s := range r.slots {
		if s.job == nil {
			continue
		}
		idx, err := r.step.Add(s.next, s.nPast, true, s.id)
		if err != nil {
			r.finish(s, fmt.Errorf("local: %w", err))
			continue
		}
		s.idx = idx
		live = append(live, s)
	}
	if len(live) == 0 {
		return
	}
	t0 := time.Now()
	err := p.lctx.Decode(r.step)
	d := time.Since(t0)
	if err != nil {
		if errors.Is(err, native.ErrKVCacheFull) {
			// The cache cannot hold every live sequence: give up the
			// newest one and carry on with the others.
			newest := live[0]
			for _, s := range live {
				if s.job.started.After(newest.job.started) {
					newest = s
				}
			}
			r.finish(newest, fmt.Errorf("local: %w: the context holds %d tokens for %d sequences", err, p.lctx.NCtx(), p.parallel))
			return
		}
		for _, s := range live {
			r.finish(s, fmt.Errorf("local: %w", err))
		}
		return
	}
	p.addStats(func(st *Stats) { st.Steps++; st.DecodeTokens += len(live); st.Decode += d })
	for _, s := range live {
		s.nPast++
		s.decode += d
		tok, err := s.sampler.Sample(p.lctx, s.idx)
		if err != nil {
			r.finish(s, fmt.Errorf("sample: %w", err))
			continue
		}
		r.accept(s, tok)
	}
}

// finish frees slot s (KV cells, sampler) and answers its request: with err,
// or with the answer so far when err is nil.
func (r *runner) finish(s *seq, err error) {
	p := r.p
	j := s.job
	if rmErr := p.lctx.SeqRemove(s.id, -1, -1); rmErr != nil && err == nil {
		err = fmt.Errorf("local: free sequence %d: %w", s.id, rmErr)
	}
	if s.sampler != nil {
		s.sampler.Close()
	}
	var pred *llm.Prediction
	if err == nil {
		pred, err = r.prediction(s)
	}
	*s = seq{id: s.id}
	j.answer(pred, err)
}

// prediction builds the answer of a finished sequence.
func (r *runner) prediction(s *seq) (*llm.Prediction, error) {
	p := r.p
	j := s.job
	text, err := p.model.Detokenize(s.out, false, false)
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

// evalText decodes text chunk i of ch into sequence seq at nPast and returns
// the position after it. It refuses a chunk that is not text, so an image is
// never decoded without its precomputed embedding.
func evalText(proj *native.Projector, c *native.Context, ch *native.Chunks, i, nPast, seq int, logitsLast bool) (int, error) {
	if k := ch.Kind(i); k != native.ChunkText {
		return nPast, fmt.Errorf("chunk %d is %s where text was expected", i, k)
	}
	return proj.EvalChunk(c, ch, i, nPast, seq, logitsLast)
}
