package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/native"
)

// ErrClosed is the error of requests made after, or cut short by, Close.
var ErrClosed = errors.New("local: predictor closed")

var _ llm.BatchPredictor = (*Predictor)(nil)

// Predictor is the local Qwen2-VL backend. It owns the model, projector,
// adapters and llama context (its engine) until Close. Predict and
// PredictBatch are safe for concurrent use; all requests share one queue and
// one set of P sequences.
type Predictor struct {
	cfg       Config
	eng       engine // its owner-side methods are the run goroutine's once New returns
	parallel  int
	encodeGPU bool // the vision encoder runs on a GPU
	ahead     bool // the preparer encodes images (see doc.go)
	// lend: the decoder takes the encoder's threads while it is idle. cores
	// is held by the preparer while it encodes and by the owner while it
	// decodes on the encoder's threads too, so the two never run more
	// threads than the CPUs together.
	lend    bool
	cores   sync.Mutex
	name    string // Prediction.Model
	grammar string // the default grammar (Config.Grammar or the converted schema)

	mu      sync.Mutex
	queue   []*job        // submitted, not yet taken by the preparer
	wake    chan struct{} // signals the preparer that queue grew (cap 1)
	closed  bool
	stats   Stats
	trace   atomic.Pointer[func(TraceEvent)]
	quit    context.Context // done once Close begins
	stop    context.CancelFunc
	ready   chan *job // preparer -> owner
	wg      sync.WaitGroup
	closeMu sync.Mutex
}

// Stats are running totals over every request since New or ResetStats, for
// benchmarks. Times are wall times of the engine calls.
type Stats struct {
	Images        int           // images encoded
	ImageEncode   time.Duration // vision encoder time
	PrefillTokens int           // prompt tokens decoded (image and text), shared prefix once
	Prefill       time.Duration // time in prompt decodes
	DecodeTokens  int           // tokens decoded in steps (one per live sequence per step)
	Decode        time.Duration // time in step decodes
	Steps         int           // decoding steps (llama_decode calls carrying sequences' next tokens)
	PrefixReuses  int           // requests whose shared prefix was copied instead of decoded

	// The phases of Prefill and the rest of a request's way, for the phase
	// breakdown of docs/benchmarks.md (wall times; see also SetTrace).
	ImageDecode   time.Duration // Go: image file to RGB pixels (preparer)
	Tokenize      time.Duration // mtmd: chat prompt to chunks, image preprocessing (preparer)
	PrefixPrefill time.Duration // the shared prefix: decoded once, then copied to each sequence
	ImagePrefill  time.Duration // image embeddings decoded into the sequences
	TextPrefill   time.Duration // the text after the image, with the first logits
	Sample        time.Duration // sampling (first tokens and every step's)
	OwnerWait     time.Duration // the owner goroutine waiting for a prepared request with nothing live
}

// TraceEvent is one step of the scheduler, given to the function set with
// [Predictor.SetTrace]: an engine call on the owner goroutine (or the
// preparer's encode) and how long it took.
type TraceEvent struct {
	Op     string        // "imagedecode", "tokenize", "encode", "prefix", "image", "text", "step", "sample", "wait"
	Start  time.Time     // when it began
	Dur    time.Duration // how long it took
	Seqs   int           // sequences it covered (a step's live sequences)
	Tokens int           // tokens it decoded (0 for encode, sample, wait)
}

// job is one request on its way through the predictor. Exactly one stage owns
// it at a time (queue, preparer, ready channel, owner); the owner of the
// moment answers it.
type job struct {
	req   *llm.Request
	ctx   context.Context
	batch *batch
	// submitted is when the request was handed in; started when its
	// preparation began (queueing ends).
	submitted, started time.Time

	// set by the preparer
	chunks  chunks
	imageAt int       // index of the image chunk
	emb     embedding // set when encoded ahead
	grammar string
	timings llm.Timings
}

// batch is one PredictBatch call: its results channel and how many of its
// requests are unanswered.
type batch struct {
	out       chan llm.Result
	mu        sync.Mutex
	remaining int
	done      chan struct{} // closed after the last result
}

// answer sends j's result and closes the channel after the last one.
func (j *job) answer(p *llm.Prediction, err error) {
	j.release()
	b := j.batch
	b.out <- llm.Result{Request: j.req, Prediction: p, Err: err}
	b.mu.Lock()
	b.remaining--
	last := b.remaining == 0
	b.mu.Unlock()
	if last {
		close(b.out)
		close(b.done)
	}
}

// release frees the job's tokenized prompt and image embedding.
func (j *job) release() {
	if j.chunks != nil {
		j.chunks.Close()
		j.chunks = nil
	}
	j.emb = nil
}

// name is how errors name j's request: its image file, or its ID.
func (j *job) name() string {
	if j.req.ImagePath != "" {
		return j.req.ImagePath
	}
	return j.req.ID
}

// New validates the files, loads the model, projector and adapters, creates
// the context and starts the scheduler. Close frees everything.
func New(ctx context.Context, cfg Config) (*Predictor, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := validateFiles(&cfg); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	eng, setup, err := openEngine(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	p, err := newPredictor(eng, cfg, setup)
	if err != nil {
		eng.Close()
		return nil, err
	}
	return p, nil
}

// newPredictor starts the scheduler on eng, for cfg (validated) and what
// opening the engine decided. On error the caller closes eng.
func newPredictor(eng engine, cfg Config, setup engineSetup) (*Predictor, error) {
	p := &Predictor{
		cfg:       cfg,
		eng:       eng,
		parallel:  setup.parallel,
		encodeGPU: setup.encodeGPU,
		wake:      make(chan struct{}, 1),
		name:      filepath.Base(cfg.ModelFile),
	}
	if p.parallel < 1 {
		return nil, fmt.Errorf("local: parallel %d, want 1 or more", p.parallel)
	}
	switch strings.ToLower(cfg.EncodeAhead) {
	case "on":
		p.ahead = true
	case "off":
		p.ahead = false
	default:
		// On a GPU the encoder and the decoder use different hardware; on
		// the CPU only when both sets of threads fit on the cores together.
		p.ahead = setup.encodeGPU || cfg.Threads+cfg.EncoderThreads <= runtime.NumCPU()
	}
	if _, ok := eng.(threadSetter); ok {
		p.lend = p.ahead && !setup.encodeGPU && cfg.threadsAuto
	}
	if cfg.JSONSchema != "" {
		var err error
		if p.grammar, err = SchemaToGrammar(cfg.JSONSchema); err != nil {
			return nil, fmt.Errorf("local: %w", err)
		}
	} else {
		p.grammar = cfg.Grammar
	}
	if p.grammar != "" {
		// Refuse a bad default grammar now rather than on every request.
		s, err := eng.NewSampler(native.SamplerParams{Grammar: p.grammar})
		if err != nil {
			return nil, fmt.Errorf("local: grammar: %w", err)
		}
		s.Close()
	}
	slog.Debug("local: scheduler", "model", cfg.ModelFile, "parallel", p.parallel, "encode_ahead", p.ahead,
		"threads", cfg.Threads, "encoder_threads", cfg.EncoderThreads, "lend_threads", p.lend)
	p.quit, p.stop = context.WithCancel(context.Background())
	p.ready = make(chan *job, p.parallel)
	p.wg.Add(2)
	go p.prepare()
	go p.run()
	return p, nil
}

// Parallel returns the number of sequences decoded together.
func (p *Predictor) Parallel() int { return p.parallel }

// EncodesAhead reports whether queued images are encoded while other
// sequences decode.
func (p *Predictor) EncodesAhead() bool { return p.ahead }

// Config returns the configuration with its defaults filled in.
func (p *Predictor) Config() Config { return p.cfg }

// Stats returns the running totals.
func (p *Predictor) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// ResetStats sets the running totals to zero.
func (p *Predictor) ResetStats() {
	p.mu.Lock()
	p.stats = Stats{}
	p.mu.Unlock()
}

func (p *Predictor) addStats(f func(*Stats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
}

// SetTrace has fn called with every step of the scheduler from now on (nil:
// none), on the scheduler's goroutines: fn must be quick and safe for
// concurrent use. It is for profiling (vlmcmp bench --trace).
func (p *Predictor) SetTrace(fn func(TraceEvent)) {
	if fn == nil {
		p.trace.Store(nil)
		return
	}
	p.trace.Store(&fn)
}

// traced reports an event to the trace function, if any.
func (p *Predictor) traced(op string, start time.Time, d time.Duration, seqs, tokens int) {
	if fn := p.trace.Load(); fn != nil {
		(*fn)(TraceEvent{Op: op, Start: start, Dur: d, Seqs: seqs, Tokens: tokens})
	}
}

// Predict scores one request: PredictBatch with one request.
func (p *Predictor) Predict(ctx context.Context, req *llm.Request) (*llm.Prediction, error) {
	r := <-p.PredictBatch(ctx, []*llm.Request{req})
	return r.Prediction, r.Err
}

// PredictBatch queues reqs behind any earlier requests and returns at once;
// see [llm.BatchPredictor]. The channel is buffered for every result, so a
// slow reader does not hold up the other sequences.
func (p *Predictor) PredictBatch(ctx context.Context, reqs []*llm.Request) <-chan llm.Result {
	b := &batch{out: make(chan llm.Result, len(reqs)), remaining: len(reqs), done: make(chan struct{})}
	if len(reqs) == 0 {
		close(b.out)
		return b.out
	}
	now := time.Now()
	jobs := make([]*job, len(reqs))
	for i, r := range reqs {
		jobs[i] = &job{req: r, ctx: ctx, batch: b, submitted: now}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		for _, j := range jobs {
			j.answer(nil, ErrClosed)
		}
		return b.out
	}
	p.queue = append(p.queue, jobs...)
	p.mu.Unlock()
	p.signal()
	if ctx.Done() != nil {
		go p.watch(ctx, b)
	}
	return b.out
}

// signal wakes the preparer.
func (p *Predictor) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// watch answers b's queued requests with ctx's error when ctx ends first.
// Requests already taken by the preparer or the owner are answered there,
// at their next check.
func (p *Predictor) watch(ctx context.Context, b *batch) {
	select {
	case <-b.done:
		return
	case <-ctx.Done():
	}
	p.mu.Lock()
	var mine []*job
	kept := p.queue[:0]
	for _, j := range p.queue {
		if j.batch == b {
			mine = append(mine, j)
		} else {
			kept = append(kept, j)
		}
	}
	clear(p.queue[len(kept):])
	p.queue = kept
	p.mu.Unlock()
	for _, j := range mine {
		j.answer(nil, ctx.Err())
	}
}

// Close stops the scheduler, answers every unanswered request with
// ErrClosed, and frees the context, projector, adapters and model. It
// interrupts the prefill or decoding step in progress rather than waiting
// for it; an image being encoded is finished first. Calling it again does
// nothing.
func (p *Predictor) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	queued := p.queue
	p.queue = nil
	p.mu.Unlock()
	p.stop()
	p.wg.Wait()
	// The preparer may have handed over requests the owner never took.
	for len(p.ready) > 0 {
		(<-p.ready).answer(nil, ErrClosed)
	}
	for _, j := range queued {
		j.answer(nil, ErrClosed)
	}
	return p.eng.Close()
}
