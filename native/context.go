//go:build llamacpp

package native

// #include <stdlib.h>
// #include "llama.h"
// #include "ggml-cpu.h"
//
// // A thread pool kept for the context's life (see NewContext). Its workers
// // sleep between decodes (poll 0) rather than spin, so they leave the CPUs
// // to Go's work (sampling, preparing the next image) in between.
// static struct ggml_threadpool *vlmcmp_attach_pool(struct llama_context *ctx, int n) {
//     struct ggml_threadpool_params tp = ggml_threadpool_params_default(n);
//     tp.poll = 0;
//     struct ggml_threadpool *pool = ggml_threadpool_new(&tp);
//     if (pool) llama_attach_threadpool(ctx, pool, pool);
//     return pool;
// }
//
// // The abort flag lives in C memory: ggml reads it between graph nodes,
// // any goroutine may set it, and no Go code runs inside a decode.
// static bool vlmcmp_abort_cb(void *flag) { return __atomic_load_n((int *) flag, __ATOMIC_RELAXED) != 0; }
// static void vlmcmp_flag_store(int *flag, int v) { __atomic_store_n(flag, v, __ATOMIC_RELAXED); }
// static int *vlmcmp_set_abort(struct llama_context *ctx) {
//     int *flag = (int *) calloc(1, sizeof(int));
//     if (flag) llama_set_abort_callback(ctx, vlmcmp_abort_cb, flag);
//     return flag;
// }
import "C"

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"unsafe"
)

// Context is a llama.cpp inference context; see the stub's documentation.
//
// mu guards c and the state of the last decode: every method holds it for
// its call, so a Close from another goroutine waits for the call in flight
// and later calls answer ErrClosed. Interrupt takes only abortMu, so that it
// reaches a decode in flight.
type Context struct {
	mu      sync.Mutex
	c       *C.struct_llama_context // nil once closed
	mem     C.llama_memory_t        // the KV cache, owned by c
	model   *Model                  // kept open while the context is
	nSeqMax int
	nBatch  int
	nVocab  int
	kvSplit bool
	lora    []*LoRA // adapters applied, each acquired once per entry

	abortMu   sync.Mutex // guards abortFlag against Close
	abortFlag *C.int     // non-zero: decodes abort; freed by Close

	// pool is the CPU thread pool of every decode (nil: ggml makes and
	// joins one per decode), freed by Close after the context.
	pool *C.struct_ggml_threadpool

	// outputs[i] says whether batch token i of the last decode has logits;
	// lastOut whether the last decode or eval produced any (index -1).
	outputs []bool
	lastOut bool
}

// NewContext creates a context for m.
func NewContext(m *Model, p ContextParams) (*Context, error) {
	if p.NSeqMax < 0 || p.NSeqMax > MaxParallelSequences() {
		return nil, fmt.Errorf("new context: %d sequences, want 1 to %d", p.NSeqMax, MaxParallelSequences())
	}
	if p.NCtx < 0 || p.NBatch < 0 || p.NUBatch < 0 || p.Threads < 0 || p.ThreadsBatch < 0 {
		return nil, fmt.Errorf("new context: negative size in %+v", p)
	}
	if err := m.use(userContext); err != nil {
		return nil, fmt.Errorf("new context: %w", err)
	}
	params := C.llama_context_default_params()
	if p.NCtx > 0 {
		params.n_ctx = C.uint32_t(p.NCtx)
	}
	if p.NBatch > 0 {
		params.n_batch = C.uint32_t(p.NBatch)
	}
	if p.NUBatch > 0 {
		params.n_ubatch = C.uint32_t(p.NUBatch)
	}
	if params.n_ubatch > params.n_batch {
		params.n_ubatch = params.n_batch
	}
	if p.NSeqMax > 0 {
		params.n_seq_max = C.uint32_t(p.NSeqMax)
	}
	if p.Threads > 0 {
		params.n_threads = C.int32_t(p.Threads)
		params.n_threads_batch = C.int32_t(p.Threads)
	}
	if p.ThreadsBatch > 0 {
		params.n_threads_batch = C.int32_t(p.ThreadsBatch)
	}
	params.flash_attn_type = flashAttn(p.FlashAttention)
	params.kv_unified = C.bool(!p.KVSplit)
	params.no_perf = true
	lc := captureLog()
	cc := C.llama_init_from_model(m.c, params)
	log := lc.end()
	if cc == nil {
		m.release(userContext)
		return nil, newError("new context", 0, log, errors.New("llama.cpp could not create it"))
	}
	c := &Context{
		c: cc, mem: C.llama_get_memory(cc), model: m,
		nSeqMax: int(C.llama_n_seq_max(cc)),
		nBatch:  int(C.llama_n_batch(cc)),
		nVocab:  m.info.NVocab,
		kvSplit: p.KVSplit,
	}
	c.abortFlag = C.vlmcmp_set_abort(cc)
	// Without a pool of its own ggml starts and joins its worker threads
	// for every graph: a decoding step of the small model cost 2.6 ms
	// against llama-server's 0.7 (docs/benchmarks.md, "Single-model
	// parity"). The pool has a thread per CPU, at most 16 (the most
	// local.Config gives the decoder and encoder together), and at least
	// the context's threads, so that SetThreads may raise the count up to
	// that; its threads sleep while the context is idle.
	c.pool = C.vlmcmp_attach_pool(cc, C.int(max(int(params.n_threads), int(params.n_threads_batch), min(runtime.NumCPU(), 16))))
	runtime.SetFinalizer(c, func(c *Context) {
		slog.Debug("native: context not closed")
		c.Close()
	})
	return c, nil
}

func flashAttn(f FlashAttention) C.enum_llama_flash_attn_type {
	switch f {
	case FlashAttentionOff:
		return C.LLAMA_FLASH_ATTN_TYPE_DISABLED
	case FlashAttentionOn:
		return C.LLAMA_FLASH_ATTN_TYPE_ENABLED
	}
	return C.LLAMA_FLASH_ATTN_TYPE_AUTO
}

// Close frees the context, ends its use of its adapters and model.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return nil
	}
	c.abortMu.Lock()
	C.llama_free(c.c)
	C.free(unsafe.Pointer(c.abortFlag))
	if c.pool != nil {
		C.ggml_threadpool_free(c.pool)
	}
	c.c, c.mem, c.abortFlag, c.pool = nil, nil, nil, nil
	c.abortMu.Unlock()
	c.releaseLoRA()
	c.model.release(userContext)
	runtime.SetFinalizer(c, nil)
	return nil
}

// releaseLoRA ends the context's use of its adapters; c.mu is held and
// llama.cpp no longer applies them.
func (c *Context) releaseLoRA() {
	for _, a := range c.lora {
		a.unacquire()
	}
	c.lora = nil
}

// NCtx returns the context size in tokens.
func (c *Context) NCtx() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return 0
	}
	return int(C.llama_n_ctx(c.c))
}

// SetLoRA replaces the adapters the context applies.
func (c *Context) SetLoRA(adapters []LoRAScale) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return fmt.Errorf("set lora: %w", ErrClosed)
	}
	// Count the context as a user of every new adapter first, each under
	// the adapter's lock: from then on none can be freed under us.
	acquired := make([]*LoRA, 0, len(adapters))
	unwind := func() {
		for _, a := range acquired {
			a.unacquire()
		}
	}
	for _, l := range adapters {
		if err := l.Adapter.acquire(c.model); err != nil {
			unwind()
			return err
		}
		acquired = append(acquired, l.Adapter)
	}
	C.llama_clear_adapter_lora(c.c)
	c.releaseLoRA()
	for _, l := range adapters {
		lc := captureLog()
		rc := C.llama_set_adapter_lora(c.c, l.Adapter.c, C.float(l.Scale))
		log := lc.end()
		if rc != 0 {
			C.llama_clear_adapter_lora(c.c)
			unwind()
			return newError("set lora "+l.Adapter.path, int(rc), log, errors.New("llama.cpp refused it"))
		}
	}
	c.lora = acquired
	return nil
}

// Interrupt makes the running decode, and every later one until
// ResetInterrupt, stop early with ErrAborted. Safe from any goroutine.
func (c *Context) Interrupt() {
	c.abortMu.Lock()
	defer c.abortMu.Unlock()
	if c.abortFlag != nil {
		C.vlmcmp_flag_store(c.abortFlag, 1)
	}
}

// ResetInterrupt lets decodes run again after Interrupt. Safe from any
// goroutine.
func (c *Context) ResetInterrupt() {
	c.abortMu.Lock()
	defer c.abortMu.Unlock()
	if c.abortFlag != nil {
		C.vlmcmp_flag_store(c.abortFlag, 0)
	}
}

// SetThreads sets the CPU threads of later decodes: n for single-token
// decodes (generation), nBatch for prompt batches (llama_set_n_threads).
// Values below 1 are taken as 1. Call it between decodes, not during one.
func (c *Context) SetThreads(n, nBatch int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return
	}
	C.llama_set_n_threads(c.c, C.int32_t(max(n, 1)), C.int32_t(max(nBatch, 1)))
}

// Decode runs the model on the batch.
func (c *Context) Decode(b *Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil || b == nil {
		return fmt.Errorf("decode: %w", ErrClosed)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("decode: %w batch", ErrClosed)
	}
	if b.n == 0 {
		return errors.New("decode: empty batch")
	}
	if b.n > c.nBatch {
		return fmt.Errorf("decode: %d tokens, more than the batch size %d", b.n, c.nBatch)
	}
	for i := 0; i < b.n; i++ {
		ids := unsafe.Slice(b.seqIDs[i], int(b.nSeq[i]))
		for _, s := range ids {
			if int(s) >= c.nSeqMax {
				return fmt.Errorf("decode: sequence id %d, the context has %d", s, c.nSeqMax)
			}
		}
	}
	c.outputs, c.lastOut = c.outputs[:0], false
	b.c.n_tokens = C.int32_t(b.n)
	lc := captureLog()
	rc := C.llama_decode(c.c, b.c)
	log := lc.end()
	if err := decodeError("decode", int(rc), log); err != nil {
		return err
	}
	for i := 0; i < b.n; i++ {
		out := b.logits[i] != 0
		c.outputs = append(c.outputs, out)
		c.lastOut = c.lastOut || out
	}
	return nil
}

// decodeError maps llama_decode's status to an error quoting log.
func decodeError(op string, rc int, log []string) error {
	switch rc {
	case 0:
		return nil
	case 1:
		return newError(op, rc, log, ErrKVCacheFull)
	case 2:
		return newError(op, rc, log, ErrAborted)
	}
	return newError(op, rc, log, fmt.Errorf("llama.cpp failed with status %d", rc))
}

// checkOutput returns an error unless output i of the last decode has
// logits. c.mu is held.
func (c *Context) checkOutput(i int) error {
	if c.c == nil {
		return ErrClosed
	}
	if i == -1 {
		if !c.lastOut {
			return errors.New("no logits: the last decode output none")
		}
		return nil
	}
	if i < 0 || i >= len(c.outputs) || !c.outputs[i] {
		return fmt.Errorf("no logits for batch index %d of the last decode", i)
	}
	return nil
}

// Logits copies the logits of output i of the last decode into dst.
func (c *Context) Logits(i int, dst []float32) ([]float32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkOutput(i); err != nil {
		return dst, fmt.Errorf("logits: %w", err)
	}
	p := C.llama_get_logits_ith(c.c, C.int32_t(i))
	if p == nil {
		return dst, fmt.Errorf("logits: none for index %d", i)
	}
	if cap(dst) < c.nVocab {
		dst = make([]float32, c.nVocab)
	}
	dst = dst[:c.nVocab]
	copy(dst, unsafe.Slice((*float32)(unsafe.Pointer(p)), c.nVocab))
	return dst, nil
}

// checkSeq returns an error unless seq is a sequence of the context. c.mu
// is held.
func (c *Context) checkSeq(op string, seq int) error {
	if c.c == nil {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	if seq < 0 || seq >= c.nSeqMax {
		return fmt.Errorf("%s: sequence %d, want 0 to %d", op, seq, c.nSeqMax-1)
	}
	return nil
}

// SeqRemove removes positions [p0, p1) of seq (seq < 0: all sequences).
func (c *Context) SeqRemove(seq, p0, p1 int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq >= 0 {
		if err := c.checkSeq("kv remove", seq); err != nil {
			return err
		}
	} else if c.c == nil {
		return fmt.Errorf("kv remove: %w", ErrClosed)
	}
	if !C.llama_memory_seq_rm(c.mem, C.llama_seq_id(max(seq, -1)), C.llama_pos(max(p0, -1)), C.llama_pos(max(p1, -1))) {
		return fmt.Errorf("kv remove: sequence %d positions [%d, %d) cannot be removed", seq, p0, p1)
	}
	return nil
}

// SeqCopy makes positions [p0, p1) of src part of dst too.
func (c *Context) SeqCopy(src, dst, p0, p1 int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkSeq("kv copy", src); err != nil {
		return err
	}
	if err := c.checkSeq("kv copy", dst); err != nil {
		return err
	}
	if c.kvSplit && src != dst && (p0 > 0 || p1 >= 0) {
		return fmt.Errorf("kv copy: with a split kv cache only whole sequences can be copied, not [%d, %d)", p0, p1)
	}
	C.llama_memory_seq_cp(c.mem, C.llama_seq_id(src), C.llama_seq_id(dst), C.llama_pos(max(p0, -1)), C.llama_pos(max(p1, -1)))
	return nil
}

// seqPosMax returns the largest position of seq, or -1 (for tests).
func (c *Context) seqPosMax(seq int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checkSeq("", seq) != nil {
		return -1
	}
	return int(C.llama_memory_seq_pos_max(c.mem, C.llama_seq_id(seq)))
}
