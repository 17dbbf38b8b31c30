package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
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

// Predictor is the local Qwen2-VL backend. It owns its replicas (each a
// model, projector, adapters and llama context: an engine) until Close.
// Predict and PredictBatch are safe for concurrent use; all requests share
// one queue, which every replica takes from.
type Predictor struct {
	cfg      Config
	replicas []*replica
	name     string // Prediction.Model
	grammar  string // the default grammar (Config.Grammar or the converted schema)

	mu      sync.Mutex
	queue   []*job // submitted, not yet taken by a preparer
	closed  bool
	stats   Stats
	trace   atomic.Pointer[func(TraceEvent)]
	quit    context.Context // done once Close begins
	stop    context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Mutex
}

// replica is one model instance: its engine, the preparer that readies
// requests for it and the owner that decodes them (see doc.go).
type replica struct {
	p         *Predictor
	id        int    // 0..Replicas-1
	eng       engine // its owner-side methods are the run goroutine's once New returns
	parallel  int
	encodeGPU bool          // the vision encoder runs on a GPU
	ahead     bool          // the preparer encodes images (see doc.go)
	embeds    string        // projector key of its embeddings in processEmbeddings; "" when not used
	wake      chan struct{} // signals the preparer that it may take a request (cap 1)
	ready     chan *job     // preparer -> owner
	load      int           // requests taken and not answered or handed back; under p.mu
	taken     int           // requests ever taken (a rerun counts again); under p.mu
	failures  int           // requests its engine failed since its last answer (see brokenAfter); under p.mu
	// lend: the decoder takes the encoder's threads while it is idle. cores
	// is held by the preparer while it encodes and by the owner while it
	// decodes on the encoder's threads too, so the two never run more
	// threads than this replica's share of the CPUs.
	lend  bool
	cores sync.Mutex
}

// Stats are running totals over every request since New or ResetStats, for
// benchmarks. Times are wall times of the engine calls.
type Stats struct {
	Images        int           // images encoded
	EmbeddingHits int           // images whose embedding came from the process's cache instead
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
	TurnWait      time.Duration // waiting for the CPU while another model computed on it (cputurn.go)
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
	// rep is the replica that took the request, nil while queued;
	// failedOn the replicas whose engine failed it (see requeue).
	rep      *replica
	failedOn []int
	// submitted is when the request was handed in; started when its
	// preparation began (queueing ends).
	submitted, started time.Time

	// set by the preparer
	chunks  chunks
	imageAt int       // index of the image chunk
	emb     embedding // set when encoded ahead
	img     [32]byte  // the image's embedding cache key (imageKey)
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
	j.leave()
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

// leave ends j's charge to the replica that took it, if any, and wakes the
// preparers: that replica, or another, may take a request now.
func (j *job) leave() {
	r := j.rep
	if r == nil {
		return
	}
	j.rep = nil
	r.p.mu.Lock()
	r.load--
	r.p.mu.Unlock()
	r.p.signal()
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

// New validates the files, loads the model, projector and adapters once
// per replica (each on its device), creates their contexts and starts the
// scheduler. Close frees everything.
func New(ctx context.Context, cfg Config) (*Predictor, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	devices, err := DeviceNames(cfg.Devices)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	fam, err := validateFiles(&cfg)
	if err != nil {
		return nil, err
	}
	if err := cfg.fill(fam); err != nil {
		return nil, err
	}
	var (
		engs   []engine
		setups []engineSetup
	)
	closeAll := func() {
		for _, e := range engs {
			e.Close()
		}
	}
	for i := range cfg.Replicas {
		if err := ctx.Err(); err != nil {
			closeAll()
			return nil, err
		}
		dev := ""
		if len(devices) > 0 {
			dev = devices[i]
		}
		eng, setup, err := openEngine(ctx, &cfg, dev)
		if err != nil {
			closeAll()
			if cfg.Replicas > 1 {
				return nil, fmt.Errorf("replica %d of %d: %w", i+1, cfg.Replicas, err)
			}
			return nil, err
		}
		if cfg.EmbeddingCacheMiB >= 0 {
			if setup.embeds, err = projectorKey(&cfg, dev, setup.encodeGPU); err != nil {
				eng.Close()
				closeAll()
				return nil, fmt.Errorf("local: %w", err)
			}
		}
		engs, setups = append(engs, eng), append(setups, setup)
	}
	p, err := newPredictor(cfg, engs, setups)
	if err != nil {
		closeAll()
		return nil, err
	}
	return p, nil
}

// newPredictor starts the scheduler on engs, one replica each, for cfg
// (validated) and what opening each engine decided. On error the caller
// closes engs.
func newPredictor(cfg Config, engs []engine, setups []engineSetup) (*Predictor, error) {
	if len(engs) == 0 || len(engs) != len(setups) {
		return nil, fmt.Errorf("local: %d engines with %d setups, want 1 or more of each", len(engs), len(setups))
	}
	p := &Predictor{
		cfg:  cfg,
		name: filepath.Base(cfg.ModelFile),
	}
	for i, eng := range engs {
		r := &replica{
			p:         p,
			id:        i,
			eng:       eng,
			parallel:  setups[i].parallel,
			encodeGPU: setups[i].encodeGPU,
			wake:      make(chan struct{}, 1),
		}
		if r.parallel < 1 {
			return nil, fmt.Errorf("local: parallel %d, want 1 or more", r.parallel)
		}
		if r.embeds = setups[i].embeds; r.embeds != "" {
			processEmbeddings.grow(cmp.Or(cfg.EmbeddingCacheMiB, DefaultEmbeddingCacheMiB))
		}
		switch strings.ToLower(cfg.EncodeAhead) {
		case "on":
			r.ahead = true
		case "off":
			r.ahead = false
		default:
			// On a GPU the encoder and the decoder use different hardware;
			// on the CPU only when both sets of threads, of every replica,
			// fit on the cores together.
			r.ahead = r.encodeGPU || len(engs)*(cfg.Threads+cfg.EncoderThreads) <= runtime.NumCPU()
		}
		if _, ok := eng.(threadSetter); ok {
			r.lend = r.ahead && !r.encodeGPU && cfg.threadsAuto
		}
		r.ready = make(chan *job, r.parallel)
		p.replicas = append(p.replicas, r)
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
		s, err := engs[0].NewSampler(native.SamplerParams{Grammar: p.grammar})
		if err != nil {
			return nil, fmt.Errorf("local: grammar: %w", err)
		}
		s.Close()
	}
	cfg.log().Debug("local: scheduler", "model", cfg.ModelFile, "replicas", len(p.replicas),
		"parallel", p.replicas[0].parallel, "encode_ahead", p.replicas[0].ahead,
		"threads", cfg.Threads, "encoder_threads", cfg.EncoderThreads, "lend_threads", p.replicas[0].lend)
	p.quit, p.stop = context.WithCancel(context.Background())
	p.openCPU() // cputurn.go; until Close
	for _, r := range p.replicas {
		p.wg.Add(2)
		go r.prepare()
		go r.run()
	}
	return p, nil
}

// Parallel returns the number of sequences decoded together: over every
// replica.
func (p *Predictor) Parallel() int {
	n := 0
	for _, r := range p.replicas {
		n += r.parallel
	}
	return n
}

// Replicas returns the number of model instances.
func (p *Predictor) Replicas() int { return len(p.replicas) }

// EncodesAhead reports whether queued images are encoded while other
// sequences decode.
func (p *Predictor) EncodesAhead() bool { return p.replicas[0].ahead }

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

// signal wakes every replica's preparer.
func (p *Predictor) signal() {
	for _, r := range p.replicas {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// requeue hands j back from replica r, whose engine failed it with err
// (a failed decoding step, shared by the sequences in it), to be run by
// another replica: at the head of the queue, since it was submitted before
// what waits there. When every replica has failed it, it is answered with
// err. The caller is r's owner, which has freed j's sequence.
func (p *Predictor) requeue(r *replica, j *job, err error) {
	j.failedOn = append(j.failedOn, r.id)
	if len(j.failedOn) >= len(p.replicas) {
		j.answer(nil, err)
		return
	}
	fmt.Fprintf(p.cfg.status(), "local: replica %d failed a request (%s: %v); another replica runs it\n", r.id, j.name(), err)
	j.release()
	j.timings = llm.Timings{}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		j.answer(nil, ErrClosed)
		return
	}
	// Uncharged in the same critical section, so that no preparer takes j
	// while it still counts against r.
	r.load--
	r.failures++
	j.rep = nil
	p.queue = slices.Insert(p.queue, 0, j)
	p.mu.Unlock()
	p.signal()
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
	var errs []error
	for _, r := range p.replicas {
		// The preparer may have handed over requests the owner never took.
		for len(r.ready) > 0 {
			(<-r.ready).answer(nil, ErrClosed)
		}
	}
	for _, j := range queued {
		j.answer(nil, ErrClosed)
	}
	for _, r := range p.replicas {
		errs = append(errs, r.eng.Close())
	}
	p.closeCPU()
	return errors.Join(errs...)
}
