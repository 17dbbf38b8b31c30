//go:build llamacpp

package native

// #include <stdlib.h>
// #include "llama.h"
// #include "mtmd.h"
// #include "mtmd-helper.h"
import "C"

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Projector is a vision projector loaded for a model; see the stub's
// documentation.
//
// What overlaps: encodes take encodeMu, so one runs at a time per projector,
// on the projector's own ggml backend (its own CPU threads, or the GPU).
// DecodeImage and text evaluations only read the projector's settings and
// run on the caller's Context, so an Encode on one goroutine can overlap a
// Context's decode on another; on a CPU both compete for the same cores.
//
// Lifetime: every method holds mu for reading while it uses c, Close holds
// it for writing, so Close waits for the calls in flight. Locks are taken in
// the order projector (mu, then encodeMu), bitmaps or chunks, context.
type Projector struct {
	mu       sync.RWMutex
	encodeMu sync.Mutex      // serializes encodes (mtmd keeps one output buffer)
	c        *C.mtmd_context // nil once closed
	model    *Model          // kept open while the projector is
	path     string
	nEmbd    int  // width of the embeddings, the model's input width
	mrope    bool // M-RoPE positions (Qwen2-VL)
}

// LoadProjector loads the mmproj GGUF at path for model m.
func LoadProjector(path string, m *Model, p ProjectorParams) (*Projector, error) {
	ensureInit()
	if err := checkGGUFFile(path); err != nil {
		return nil, fmt.Errorf("load projector: %w", err)
	}
	if p.Threads < 0 || p.ImageMinTokens < 0 || p.ImageMaxTokens < 0 {
		return nil, fmt.Errorf("load projector %s: negative setting in %+v", path, p)
	}
	if p.ImageMinTokens > 0 && p.ImageMaxTokens > 0 && p.ImageMinTokens > p.ImageMaxTokens {
		return nil, fmt.Errorf("load projector %s: image min tokens %d above max %d", path, p.ImageMinTokens, p.ImageMaxTokens)
	}
	if got := C.GoString(C.mtmd_default_marker()); got != MediaMarker {
		return nil, fmt.Errorf("load projector: mtmd's media marker is %q, this package expects %q", got, MediaMarker)
	}
	if err := m.use(userProjector); err != nil {
		return nil, fmt.Errorf("load projector %s: %w", path, err)
	}
	params := C.mtmd_context_params_default()
	params.use_gpu = C.bool(p.UseGPU)
	params.print_timings = false
	if p.Threads > 0 {
		params.n_threads = C.int(p.Threads)
	}
	params.flash_attn_type = flashAttn(p.FlashAttention)
	params.warmup = C.bool(p.Warmup)
	if p.ImageMinTokens > 0 {
		params.image_min_tokens = C.int(p.ImageMinTokens)
	}
	if p.ImageMaxTokens > 0 {
		params.image_max_tokens = C.int(p.ImageMaxTokens)
	}
	if p.Device != "" {
		if _, err := deviceByName(p.Device); err != nil {
			m.release(userProjector)
			return nil, fmt.Errorf("load projector %s: %w", path, err)
		}
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	restore := projectorDevice(p)
	lc := captureLog()
	cm := C.mtmd_init_from_file(cpath, m.c, params)
	log := lc.end()
	restore()
	if cm == nil {
		m.release(userProjector)
		return nil, newError("load projector "+path, 0, log, errors.New("mtmd could not load it"))
	}
	pr := &Projector{
		c: cm, model: m, path: path,
		nEmbd: m.info.NEmbdInput,
		mrope: bool(C.mtmd_decode_use_mrope(cm)),
	}
	if !bool(C.mtmd_support_vision(cm)) {
		pr.Close()
		return nil, fmt.Errorf("load projector %s: it has no vision encoder", path)
	}
	runtime.SetFinalizer(pr, func(p *Projector) {
		slog.Debug("native: projector not closed", "path", p.path)
		p.Close()
	})
	return pr, nil
}

// projectorEnvMu serializes projector loads that pick their device: mtmd
// reads the encoder's device from the environment (MTMD_BACKEND_DEVICE)
// when it loads, so each such load sets it, loads, and puts it back.
var projectorEnvMu sync.Mutex

// projectorDevice sets MTMD_BACKEND_DEVICE to p.Device for the load to
// come, holding projectorEnvMu; the function it returns restores it. Without
// a device (or the GPU) it does nothing.
func projectorDevice(p ProjectorParams) (restore func()) {
	if p.Device == "" || !p.UseGPU {
		return func() {}
	}
	const key = "MTMD_BACKEND_DEVICE"
	projectorEnvMu.Lock()
	old, had := os.LookupEnv(key)
	os.Setenv(key, p.Device)
	return func() {
		if had {
			os.Setenv(key, old)
		} else {
			os.Unsetenv(key)
		}
		projectorEnvMu.Unlock()
	}
}

// Close frees the projector and ends its use of the model.
func (p *Projector) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c == nil {
		return nil
	}
	C.mtmd_free(p.c)
	p.c = nil
	p.model.release(userProjector)
	runtime.SetFinalizer(p, nil)
	return nil
}

// Tokenize splits text with MediaMarkers into text and image chunks.
func (p *Projector) Tokenize(text string, images []*Bitmap, addSpecial bool) (*Chunks, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.c == nil {
		return nil, fmt.Errorf("tokenize: %w", ErrClosed)
	}
	if n := strings.Count(text, MediaMarker); n != len(images) {
		return nil, fmt.Errorf("tokenize: the prompt has %d image markers %s for %d images", n, MediaMarker, len(images))
	}
	cbm := make([]*C.mtmd_bitmap, len(images))
	for i, b := range images {
		if b == nil {
			return nil, fmt.Errorf("tokenize: image %d: %w", i, ErrClosed)
		}
		if !slices.Contains(images[:i], b) { // a second read lock could deadlock with a Close waiting
			b.mu.RLock()
			defer b.mu.RUnlock()
		}
		if b.c == nil {
			return nil, fmt.Errorf("tokenize: image %d: %w", i, ErrClosed)
		}
		cbm[i] = b.c
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	in := C.mtmd_input_text{text: ctext, add_special: C.bool(addSpecial), parse_special: true}
	out := C.mtmd_input_chunks_init()
	var bp **C.mtmd_bitmap
	if len(cbm) > 0 {
		bp = &cbm[0]
	}
	lc := captureLog()
	rc := C.mtmd_tokenize(p.c, out, &in, bp, C.size_t(len(cbm)))
	log := lc.end()
	if rc != 0 {
		C.mtmd_input_chunks_free(out)
		why := fmt.Errorf("mtmd failed with status %d", int(rc))
		switch rc {
		case 1:
			why = errors.New("the number of images does not match the markers")
		case 2:
			why = errors.New("image preprocessing failed")
		}
		return nil, newError("tokenize", int(rc), log, why)
	}
	ch := &Chunks{c: out}
	runtime.SetFinalizer(ch, (*Chunks).Close)
	return ch, nil
}

// Encode runs the vision encoder on image chunk i of ch.
func (p *Projector) Encode(ch *Chunks, i int) (*ImageEmbedding, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if ch == nil {
		return nil, fmt.Errorf("encode: %w chunks", ErrClosed)
	}
	ch.mu.RLock()
	defer ch.mu.RUnlock()
	return p.encode(ch, i)
}

// encode is Encode; p.mu and ch.mu are held.
func (p *Projector) encode(ch *Chunks, i int) (*ImageEmbedding, error) {
	if p.c == nil {
		return nil, fmt.Errorf("encode: %w", ErrClosed)
	}
	chunk, err := ch.get(i)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if k := ch.kind(i); k != ChunkImage {
		return nil, fmt.Errorf("encode: chunk %d is %s, not an image", i, k)
	}
	p.encodeMu.Lock()
	defer p.encodeMu.Unlock()
	start := time.Now()
	lc := captureLog()
	rc := C.mtmd_encode_chunk(p.c, chunk)
	log := lc.end()
	if rc != 0 {
		return nil, newError("encode image", int(rc), log, errors.New("the vision encoder failed"))
	}
	nTok := int(C.mtmd_input_chunk_get_n_tokens(chunk))
	out := C.mtmd_get_output_embd(p.c)
	if out == nil || nTok <= 0 {
		return nil, newError("encode image", 0, log, errors.New("no embedding"))
	}
	e := &ImageEmbedding{nTokens: nTok, nEmbd: p.nEmbd, data: make([]float32, nTok*p.nEmbd)}
	copy(e.data, unsafe.Slice((*float32)(unsafe.Pointer(out)), len(e.data)))
	e.encode = time.Since(start)
	return e, nil
}

// lockEval takes the locks of an evaluation of ch into c, in order, and
// returns their release, or an error when one of them is closed.
func (p *Projector) lockEval(op string, c *Context, ch *Chunks) (func(), error) {
	if c == nil || ch == nil {
		return nil, fmt.Errorf("%s: %w", op, ErrClosed)
	}
	p.mu.RLock()
	ch.mu.RLock()
	c.mu.Lock()
	unlock := func() {
		c.mu.Unlock()
		ch.mu.RUnlock()
		p.mu.RUnlock()
	}
	if p.c == nil || ch.c == nil || c.c == nil {
		unlock()
		return nil, fmt.Errorf("%s: %w", op, ErrClosed)
	}
	return unlock, nil
}

// DecodeImage decodes emb, encoded from image chunk i of ch, into sequence
// seq of c at nPast, and returns the new nPast.
func (p *Projector) DecodeImage(c *Context, ch *Chunks, i int, emb *ImageEmbedding, nPast, seq int) (int, error) {
	unlock, err := p.lockEval("decode image", c, ch)
	if err != nil {
		return nPast, err
	}
	defer unlock()
	return p.decodeImage(c, ch, i, emb, nPast, seq)
}

// decodeImage is DecodeImage; the locks of lockEval are held.
func (p *Projector) decodeImage(c *Context, ch *Chunks, i int, emb *ImageEmbedding, nPast, seq int) (int, error) {
	if err := c.checkSeq("decode image", seq); err != nil {
		return nPast, err
	}
	chunk, err := ch.get(i)
	if err != nil {
		return nPast, fmt.Errorf("decode image: %w", err)
	}
	if k := ch.kind(i); k != ChunkImage {
		return nPast, fmt.Errorf("decode image: chunk %d is %s, not an image", i, k)
	}
	if emb == nil || emb.nTokens != ch.nTokens(i) || emb.nEmbd != p.nEmbd || len(emb.data) == 0 {
		return nPast, fmt.Errorf("decode image: the embedding does not belong to chunk %d", i)
	}
	if nPast < 0 {
		return nPast, fmt.Errorf("decode image: negative position %d", nPast)
	}
	c.outputs, c.lastOut = c.outputs[:0], false
	var newPast C.llama_pos
	lc := captureLog()
	rc := C.mtmd_helper_decode_image_chunk(p.c, c.c, chunk, (*C.float)(unsafe.Pointer(&emb.data[0])),
		C.llama_pos(nPast), C.llama_seq_id(seq), C.int32_t(imageBatch(emb.nTokens, c.nBatch)), &newPast)
	log := lc.end()
	runtime.KeepAlive(emb)
	if err := decodeError("decode image", int(rc), log); err != nil {
		return nPast, err
	}
	return int(newPast), nil
}

// imageBatch is the batch size to give mtmd_helper_decode_image_chunk for
// an image of n tokens in a context of batch nBatch. The pinned helper
// counts its decodes as GGML_PAD(n, batch)/batch, which is only right for
// a power of two: with batch 784 (Qwen3-VL's default token bound) and a
// 192-token image it counts none, decodes nothing and reports success, so
// the answer ignores the image. The result is a power of two: one that
// holds the whole image when nBatch does (one decode, as intended; the
// helper never passes llama_decode more than n tokens), else the largest
// that fits in nBatch.
func imageBatch(n, nBatch int) int {
	b := 1
	if n <= nBatch {
		for b < n {
			b *= 2
		}
		return b
	}
	for b*2 <= nBatch {
		b *= 2
	}
	return b
}

// EvalChunk evaluates chunk i of ch into sequence seq of c at nPast.
func (p *Projector) EvalChunk(c *Context, ch *Chunks, i, nPast, seq int, logitsLast bool) (int, error) {
	unlock, err := p.lockEval("eval chunk", c, ch)
	if err != nil {
		return nPast, err
	}
	defer unlock()
	return p.evalChunk(c, ch, i, nPast, seq, logitsLast)
}

// evalChunk is EvalChunk; the locks of lockEval are held.
func (p *Projector) evalChunk(c *Context, ch *Chunks, i, nPast, seq int, logitsLast bool) (int, error) {
	if err := c.checkSeq("eval chunk", seq); err != nil {
		return nPast, err
	}
	chunk, err := ch.get(i)
	if err != nil {
		return nPast, fmt.Errorf("eval chunk: %w", err)
	}
	if nPast < 0 {
		return nPast, fmt.Errorf("eval chunk: negative position %d", nPast)
	}
	switch k := ch.kind(i); k {
	case ChunkImage:
		emb, err := p.encode(ch, i)
		if err != nil {
			return nPast, err
		}
		return p.decodeImage(c, ch, i, emb, nPast, seq)
	case ChunkText:
		if ch.nTokens(i) == 0 {
			return nPast, nil
		}
		c.outputs, c.lastOut = c.outputs[:0], false
		// The helper adds the text's length to *new_n_past for text chunks
		// (and sets it for images), so it starts at nPast.
		newPast := C.llama_pos(nPast)
		lc := captureLog()
		rc := C.mtmd_helper_eval_chunk_single(p.c, c.c, chunk, C.llama_pos(nPast), C.llama_seq_id(seq),
			C.int32_t(c.nBatch), C.bool(logitsLast), &newPast)
		log := lc.end()
		if err := decodeError("eval text", int(rc), log); err != nil {
			return nPast, err
		}
		c.lastOut = logitsLast
		return int(newPast), nil
	default:
		return nPast, fmt.Errorf("eval chunk: %s input is not supported", k)
	}
}

// EvalChunks evaluates every chunk of ch into sequence seq.
func (p *Projector) EvalChunks(c *Context, ch *Chunks, nPast, seq int, logitsLast bool) (int, error) {
	unlock, err := p.lockEval("eval chunks", c, ch)
	if err != nil {
		return nPast, err
	}
	defer unlock()
	n := ch.len()
	for i := 0; i < n; i++ {
		var err error
		nPast, err = p.evalChunk(c, ch, i, nPast, seq, logitsLast && i == n-1)
		if err != nil {
			return nPast, fmt.Errorf("chunk %d of %d: %w", i+1, n, err)
		}
	}
	return nPast, nil
}

// Bitmap is an RGB image for the projector; mu guards c against Close
// while Tokenize reads it.
type Bitmap struct {
	mu sync.RWMutex
	c  *C.mtmd_bitmap // nil once closed
}

// NewBitmap copies width*height*3 bytes of packed RGB into a new bitmap.
func NewBitmap(width, height int, rgb []byte) (*Bitmap, error) {
	if width <= 0 || height <= 0 {
		return nil, fmt.Errorf("new bitmap: size %dx%d", width, height)
	}
	if len(rgb) != width*height*3 {
		return nil, fmt.Errorf("new bitmap: %d bytes for %dx%d RGB, want %d", len(rgb), width, height, width*height*3)
	}
	cb := C.mtmd_bitmap_init(C.uint32_t(width), C.uint32_t(height), (*C.uchar)(unsafe.Pointer(&rgb[0])))
	if cb == nil {
		return nil, errors.New("new bitmap: out of memory")
	}
	b := &Bitmap{c: cb}
	runtime.SetFinalizer(b, (*Bitmap).Close)
	return b, nil
}

// Close frees the bitmap.
func (b *Bitmap) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c != nil {
		C.mtmd_bitmap_free(b.c)
		b.c = nil
		runtime.SetFinalizer(b, nil)
	}
	return nil
}

// Chunks is a tokenized multimodal prompt. Its methods hold mu for reading,
// Close for writing; the unexported ones expect it held.
type Chunks struct {
	mu sync.RWMutex
	c  *C.mtmd_input_chunks // nil once closed
}

// get returns chunk i, or an error for a bad index or closed chunks.
func (ch *Chunks) get(i int) (*C.mtmd_input_chunk, error) {
	if ch.c == nil {
		return nil, ErrClosed
	}
	n := int(C.mtmd_input_chunks_size(ch.c))
	if i < 0 || i >= n {
		return nil, fmt.Errorf("chunk %d of %d", i, n)
	}
	return C.mtmd_input_chunks_get(ch.c, C.size_t(i)), nil
}

// rlock locks ch for reading and reports whether it is open.
func (ch *Chunks) rlock() bool {
	if ch == nil {
		return false
	}
	ch.mu.RLock()
	if ch.c == nil {
		ch.mu.RUnlock()
		return false
	}
	return true
}

// Len returns the number of chunks.
func (ch *Chunks) Len() int {
	if !ch.rlock() {
		return 0
	}
	defer ch.mu.RUnlock()
	return ch.len()
}

func (ch *Chunks) len() int { return int(C.mtmd_input_chunks_size(ch.c)) }

// Kind returns the kind of chunk i.
func (ch *Chunks) Kind(i int) ChunkKind {
	if !ch.rlock() {
		return ChunkText
	}
	defer ch.mu.RUnlock()
	return ch.kind(i)
}

func (ch *Chunks) kind(i int) ChunkKind {
	c, err := ch.get(i)
	if err != nil {
		return ChunkText
	}
	switch C.mtmd_input_chunk_get_type(c) {
	case C.MTMD_INPUT_CHUNK_TYPE_IMAGE:
		return ChunkImage
	case C.MTMD_INPUT_CHUNK_TYPE_AUDIO:
		return ChunkAudio
	}
	return ChunkText
}

// NTokens returns the number of tokens chunk i takes.
func (ch *Chunks) NTokens(i int) int {
	if !ch.rlock() {
		return 0
	}
	defer ch.mu.RUnlock()
	return ch.nTokens(i)
}

func (ch *Chunks) nTokens(i int) int {
	c, err := ch.get(i)
	if err != nil {
		return 0
	}
	return int(C.mtmd_input_chunk_get_n_tokens(c))
}

// nPos returns how far chunk i advances a sequence's position (for tests).
func (ch *Chunks) nPos(i int) int {
	if !ch.rlock() {
		return 0
	}
	defer ch.mu.RUnlock()
	c, err := ch.get(i)
	if err != nil {
		return 0
	}
	return int(C.mtmd_input_chunk_get_n_pos(c))
}

// Tokens returns a copy of the tokens of text chunk i.
func (ch *Chunks) Tokens(i int) []Token {
	if !ch.rlock() {
		return nil
	}
	defer ch.mu.RUnlock()
	c, err := ch.get(i)
	if err != nil || C.mtmd_input_chunk_get_type(c) != C.MTMD_INPUT_CHUNK_TYPE_TEXT {
		return nil
	}
	var n C.size_t
	p := C.mtmd_input_chunk_get_tokens_text(c, &n)
	if p == nil || n == 0 {
		return []Token{}
	}
	out := make([]Token, int(n))
	copy(out, unsafe.Slice((*Token)(unsafe.Pointer(p)), int(n)))
	return out
}

// ImageGrid returns the width and height in tokens of image chunk i (0, 0
// for a text chunk): for Qwen-VL, the picture mtmd encodes is
// nx×(patch×merge) by ny×(patch×merge) pixels.
func (ch *Chunks) ImageGrid(i int) (nx, ny int) {
	if !ch.rlock() {
		return 0, 0
	}
	defer ch.mu.RUnlock()
	c, err := ch.get(i)
	if err != nil {
		return 0, 0
	}
	img := C.mtmd_input_chunk_get_tokens_image(c)
	if img == nil {
		return 0, 0
	}
	return int(C.mtmd_image_tokens_get_nx(img)), int(C.mtmd_image_tokens_get_ny(img))
}

// TotalTokens returns the KV cells all chunks take.
func (ch *Chunks) TotalTokens() int {
	if !ch.rlock() {
		return 0
	}
	defer ch.mu.RUnlock()
	return int(C.mtmd_helper_get_n_tokens(ch.c))
}

// totalPos returns how far all chunks advance a sequence's position (for
// tests).
func (ch *Chunks) totalPos() int {
	if !ch.rlock() {
		return 0
	}
	defer ch.mu.RUnlock()
	return int(C.mtmd_helper_get_n_pos(ch.c))
}

// Close frees the chunks.
func (ch *Chunks) Close() error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.c != nil {
		C.mtmd_input_chunks_free(ch.c)
		ch.c = nil
		runtime.SetFinalizer(ch, nil)
	}
	return nil
}
