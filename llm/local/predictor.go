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
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/native"
)

// ErrClosed is the error of requests made after, or cut short by, Close.
var ErrClosed = errors.New("local: predictor closed")

var _ llm.BatchPredictor = (*Predictor)(nil)

// Predictor is the local Qwen2-VL backend. It owns the model, projector,
// adapters and llama context until Close. Predict and PredictBatch are safe
// for concurrent use; all requests share one queue and one set of P
// sequences.
type Predictor struct {
	cfg       Config
	model     *native.Model
	proj      *native.Projector
	loras     []*native.LoRA
	lctx      *native.Context // owned by the run goroutine once New returns
	parallel  int
	encodeGPU bool   // the vision encoder runs on a GPU
	ahead     bool   // the preparer encodes images (see doc.go)
	name      string // Prediction.Model
	grammar   string // the default grammar (Config.Grammar or the converted schema)

	mu      sync.Mutex
	queue   []*job        // submitted, not yet taken by the preparer
	wake    chan struct{} // signals the preparer that queue grew (cap 1)
	closed  bool
	stats   Stats
	quit    chan struct{} // closed by Close
	ready   chan *job     // preparer -> owner
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
	chunks  *native.Chunks
	bitmap  *native.Bitmap
	imageAt int                    // index of the image chunk
	emb     *native.ImageEmbedding // set when encoded ahead
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

// release frees the job's native objects.
func (j *job) release() {
	if j.chunks != nil {
		j.chunks.Close()
		j.chunks = nil
	}
	if j.bitmap != nil {
		j.bitmap.Close()
		j.bitmap = nil
	}
	j.emb = nil
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
	if _, err := native.Init(native.InitOptions{}); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	p := &Predictor{
		cfg:  cfg,
		wake: make(chan struct{}, 1),
		quit: make(chan struct{}),
		name: filepath.Base(cfg.ModelFile),
	}
	ok := false
	defer func() {
		if !ok {
			p.free()
		}
	}()
	if err := p.load(ctx); err != nil {
		return nil, err
	}
	p.ready = make(chan *job, p.parallel)
	ok = true
	p.wg.Add(2)
	go p.prepare()
	go p.run()
	return p, nil
}

// load loads the native objects and sizes the context.
func (p *Predictor) load(ctx context.Context) error {
	cfg := &p.cfg
	gpu := cfg.GPULayers != 0 && native.SupportsGPUOffload()
	p.encodeGPU = gpu
	switch strings.ToLower(cfg.EncodeAhead) {
	case "on":
		p.ahead = true
	case "off":
		p.ahead = false
	default:
		// On a GPU the encoder and the decoder use different hardware; on
		// the CPU only when both sets of threads fit on the cores together.
		p.ahead = gpu || 2*cfg.Threads <= runtime.NumCPU()
	}
	var err error
	start := time.Now()
	p.model, err = native.LoadModel(cfg.ModelFile, native.ModelParams{GPULayers: cfg.GPULayers})
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	info := p.model.Info()
	if len(family.ByArch(info.Architecture)) == 0 {
		return fmt.Errorf("local: model %s is a %q model, want one of %s", cfg.ModelFile, info.Architecture, strings.Join(family.Architectures(), ", "))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.proj, err = native.LoadProjector(cfg.MmprojFile, p.model, native.ProjectorParams{
		UseGPU:         gpu,
		Threads:        cfg.Threads,
		FlashAttention: flash(cfg.FlashAttention),
		ImageMinTokens: cfg.ImageMinTokens,
		ImageMaxTokens: cfg.ImageMaxTokens,
		Warmup:         true,
	})
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	scales := make([]native.LoRAScale, 0, len(cfg.LoRA))
	for _, l := range cfg.LoRA {
		a, err := native.LoadLoRA(p.model, l.Path)
		if err != nil {
			return fmt.Errorf("local: %w", err)
		}
		p.loras = append(p.loras, a)
		scales = append(scales, native.LoRAScale{Adapter: a, Scale: l.Scale})
	}
	p.parallel = cfg.Parallel
	if p.parallel == 0 {
		p.parallel = defaultParallel(info, cfg.ContextSize, gpu)
	}
	if m := native.MaxParallelSequences(); m > 1 && p.parallel+1 > m {
		return fmt.Errorf("local: parallel %d is more than llama.cpp's %d sequences (one is kept for the shared prefix)", p.parallel, m-1)
	}
	// Each sequence, the shared prefix's included, gets its own KV stream of
	// ContextSize cells (llama.cpp's kv_unified=false): a sequence's
	// attention then spans its own cells only, where in one unified buffer
	// every prefill and step would attend over (masked) cells of all P
	// sequences and slow down as P grows. Copying the prefix copies its
	// whole stream, which is all it holds.
	nCtx := (p.parallel + 1) * cfg.ContextSize
	p.lctx, err = native.NewContext(p.model, native.ContextParams{
		NCtx:           nCtx,
		NBatch:         cfg.BatchSize,
		NUBatch:        cfg.BatchSize,
		NSeqMax:        p.parallel + 1,
		Threads:        cfg.Threads,
		ThreadsBatch:   cfg.Threads,
		FlashAttention: flash(cfg.FlashAttention),
		KVSplit:        true,
	})
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if len(scales) > 0 {
		if err := p.lctx.SetLoRA(scales); err != nil {
			return fmt.Errorf("local: %w", err)
		}
	}
	if cfg.JSONSchema != "" {
		if p.grammar, err = SchemaToGrammar(cfg.JSONSchema); err != nil {
			return fmt.Errorf("local: %w", err)
		}
	} else {
		p.grammar = cfg.Grammar
	}
	if p.grammar != "" {
		// Refuse a bad default grammar now rather than on every request.
		s, err := native.NewSampler(p.model, native.SamplerParams{Grammar: p.grammar})
		if err != nil {
			return fmt.Errorf("local: grammar: %w", err)
		}
		s.Close()
	}
	slog.Debug("local: loaded", "model", cfg.ModelFile, "mmproj", cfg.MmprojFile, "loras", len(p.loras),
		"parallel", p.parallel, "parallel_default", cfg.Parallel == 0, "ctx_per_seq", cfg.ContextSize,
		"n_ctx", nCtx, "batch", cfg.BatchSize, "gpu", gpu, "encode_ahead", p.ahead,
		"image_max_tokens", cfg.ImageMaxTokens, "took", time.Since(start))
	return nil
}

// defaultParallel picks P: up to 4 sequences on the CPU and 16 on a GPU,
// fewer when their KV cache (f16 keys and values: 2 × 2 bytes × layers ×
// KV width per cell) would take more than a quarter of the device's free
// memory.
func defaultParallel(info native.ModelInfo, ctxPerSeq int, gpu bool) int {
	p := maxDefaultParallelCPU
	if gpu {
		p = maxDefaultParallelGPU
	}
	headDim := 0
	if info.NHead > 0 {
		headDim = info.NEmbd / info.NHead
	}
	perCell := uint64(4 * info.NLayer * info.NHeadKV * headDim)
	devs, err := native.Devices()
	if err != nil || perCell == 0 {
		return p
	}
	var free uint64
	for _, d := range devs {
		if (gpu && d.Type == native.DeviceGPU) || (!gpu && d.Type == native.DeviceCPU) {
			free = max(free, d.MemoryFree)
		}
	}
	if free == 0 {
		return p
	}
	for p > 1 && perCell*uint64(p*ctxPerSeq) > free/4 {
		p /= 2
	}
	return p
}

func flash(s string) native.FlashAttention {
	switch strings.ToLower(s) {
	case "on":
		return native.FlashAttentionOn
	case "off":
		return native.FlashAttentionOff
	}
	return native.FlashAttentionAuto
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
// ErrClosed, and frees the context, projector, adapters and model. It waits
// for the current decoding step to end. Calling it again does nothing.
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
	close(p.quit)
	p.wg.Wait()
	// The preparer may have handed over requests the owner never took.
	for len(p.ready) > 0 {
		(<-p.ready).answer(nil, ErrClosed)
	}
	for _, j := range queued {
		j.answer(nil, ErrClosed)
	}
	return p.free()
}

// free closes the native objects, newest first.
func (p *Predictor) free() error {
	var errs []error
	if p.lctx != nil {
		errs = append(errs, p.lctx.Close())
		p.lctx = nil
	}
	if p.proj != nil {
		errs = append(errs, p.proj.Close())
		p.proj = nil
	}
	for _, a := range p.loras {
		errs = append(errs, a.Close())
	}
	p.loras = nil
	if p.model != nil {
		errs = append(errs, p.model.Close())
		p.model = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("local: close: %w", err)
	}
	return nil
}
