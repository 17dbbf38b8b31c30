//go:build !llamacpp

package native

// This file is the build without llama.cpp: the same exported API as the cgo
// files (backend.go, model.go, context.go, batch.go, mtmd.go, sampler.go,
// lora.go, log.go), every call failing with ErrNotBuilt. api_test.go checks
// that both builds export the same signatures.

import "log/slog"

// Init loads llama.cpp's backends: the CPU backend linked into the binary,
// then every ggml backend library (libggml-<name>.so, such as the
// libggml-cuda.so `make cuda` puts beside the binary) found in the
// executable's folder, the folders in VLMCMP_BACKEND_PATH and
// opts.BackendPaths. It returns what it tried to load, failures included (a
// CUDA library whose driver is missing is reported there, and the CPU still
// works). It is safe to call more than once and from several goroutines: a
// folder is searched once per process. Every other function of the package
// calls Init with zero options if it was not called.
func Init(opts InitOptions) ([]BackendLoad, error) { return nil, ErrNotBuilt }

// Devices lists the compute devices of the loaded backends, the CPU first.
func Devices() ([]Device, error) { return nil, ErrNotBuilt }

// SystemInfo returns llama.cpp's one-line summary of the CPU features it was
// built with (AVX, AVX2, ...).
func SystemInfo() (string, error) { return "", ErrNotBuilt }

// SupportsGPUOffload reports whether a GPU backend is loaded.
func SupportsGPUOffload() bool { return false }

// MaxParallelSequences returns the most sequences one context may hold.
func MaxParallelSequences() int { return 0 }

// SetLogger routes llama.cpp's, ggml's and mtmd's log lines to l (nil:
// slog.Default()). Their levels map below slog's Info so that they stay quiet
// unless debug logging is on: ggml debug at slog.LevelDebug-4, info at
// LevelDebug, warnings at LevelDebug+1, errors at LevelDebug+2; each record
// carries "src"="llama.cpp" and "level" with ggml's own level name.
// Independently, the latest warning and error lines are kept and quoted in
// this package's errors: a call that fails quotes the warning and error
// lines llama.cpp logged during that call, on the thread it ran on, and no
// other call's (Error.Log; log.go says how). Safe for concurrent use.
func SetLogger(l *slog.Logger) {}

// Model is a loaded llama.cpp model (llama_model). It owns its C memory
// until Close. Its methods are safe for concurrent use, Close included:
// Close waits for calls in flight, and afterwards they fail with ErrClosed.
// Contexts, projectors, samplers and LoRA adapters made from the model keep
// it open until they are closed.
type Model struct{}

// LoadModel loads the GGUF model file at path. A missing or unreadable file
// is an error, not a crash; the contents should have been validated with
// package llm/gguf first, since llama.cpp aborts the process on some
// malformed files.
func LoadModel(path string, p ModelParams) (*Model, error) { return nil, ErrNotBuilt }

// Close frees the model. It fails with ErrInUse, freeing nothing, while
// contexts, projectors, samplers or LoRA adapters made from the model are
// open (the error counts them by kind): close those first. Closing a closed
// model does nothing.
func (m *Model) Close() error { return nil }

// Info returns facts about the model.
func (m *Model) Info() ModelInfo { return ModelInfo{} }

// Meta returns a metadata value of the model file as text (for example
// "tokenizer.chat_template") and whether the key exists.
func (m *Model) Meta(key string) (string, bool) { return "", false }

// Tokenize turns text into tokens. addSpecial adds the BOS/EOS tokens the
// model asks for; parseSpecial turns special-token text such as
// "<|im_start|>" into their tokens instead of plain text.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]Token, error) {
	return nil, ErrNotBuilt
}

// Detokenize turns tokens back into text. removeSpecial drops BOS/EOS the
// model adds; unparseSpecial renders special tokens as their text.
func (m *Model) Detokenize(tokens []Token, removeSpecial, unparseSpecial bool) (string, error) {
	return "", ErrNotBuilt
}

// IsEOG reports whether t ends generation (EOS, EOT, <|im_end|>, ...).
func (m *Model) IsEOG(t Token) bool { return false }

// ApplyChatTemplate formats msgs with tmpl (empty: the model's own
// template) using llama.cpp's built-in template engine, which recognizes
// well-known templates (ChatML for Qwen2-VL) rather than running Jinja.
// addAssistant appends the opening of the assistant's turn.
func (m *Model) ApplyChatTemplate(tmpl string, msgs []ChatMessage, addAssistant bool) (string, error) {
	return "", ErrNotBuilt
}

// Context is a llama.cpp inference context (llama_context): the KV cache of
// up to ContextParams.NSeqMax sequences and the compute buffers. One
// goroutine owns it (and the batches and samplers used with it): calls from
// several goroutines are serialized, each waiting for the other's decode,
// which is rarely what is wanted. Interrupt is the exception, made to be
// called from elsewhere. The context keeps its model open until Close.
type Context struct{}

// NewContext creates a context for m.
func NewContext(m *Model, p ContextParams) (*Context, error) { return nil, ErrNotBuilt }

// Close frees the context, and ends its use of the model and of the LoRA
// adapters it applies. A Close from another goroutine waits for the call in
// flight (Interrupt first to cut a long decode short); later calls fail with
// ErrClosed. Closing a closed context does nothing.
func (c *Context) Close() error { return nil }

// NCtx returns the context size in tokens (all sequences together).
func (c *Context) NCtx() int { return 0 }

// SetLoRA replaces the adapters applied by the context with adapters (nil
// or empty: none). Each must be open and loaded for the context's model. They
// count as in use (LoRA.Close fails with ErrInUse) until replaced or the
// context is closed; the check that an adapter is open and its counting are
// one step, so a concurrent LoRA.Close either frees it first (and SetLoRA
// fails with ErrClosed) or is refused. On failure the context applies no
// adapter.
func (c *Context) SetLoRA(adapters []LoRAScale) error { return ErrNotBuilt }

// Decode runs the model on the batch (one llama_decode; at most
// ContextParams.NBatch tokens). It returns ErrKVCacheFull when no KV cells are left for it, in
// which case the batch did not change the cache. The logits of the tokens
// added with logits=true are then available by their batch index to Logits
// and Sampler.Sample until the next Decode or eval.
func (c *Context) Decode(b *Batch) error { return ErrNotBuilt }

// Interrupt makes the running decode, and every later one until
// ResetInterrupt, stop early with ErrAborted: for cancelling a long prefill
// (context.AfterFunc(ctx, c.Interrupt)). ggml checks between graph nodes on
// the CPU backend; work on a GPU finishes its step. Image encodes are not
// interrupted. Safe from any goroutine, also during Decode.
func (c *Context) Interrupt() {}

// ResetInterrupt lets decodes run again after Interrupt. Safe from any
// goroutine.
func (c *Context) ResetInterrupt() {}

// SetThreads sets the CPU threads of later decodes: n for single-token
// decodes (generation), nBatch for prompt batches.
func (c *Context) SetThreads(n, nBatch int) {}

// Logits copies the logits of output i of the last decode into dst (grown
// when too small) and returns it; i is the token's index in the batch, or -1
// for the last output. It has NVocab floats.
func (c *Context) Logits(i int, dst []float32) ([]float32, error) { return nil, ErrNotBuilt }

// SeqRemove removes the positions [p0, p1) of sequence seq from the KV cache
// (p0 < 0: from 0; p1 < 0: to the end; seq < 0: every sequence). Removing a
// whole sequence always succeeds and frees its cells for reuse.
func (c *Context) SeqRemove(seq, p0, p1 int) error { return ErrNotBuilt }

// SeqCopy makes the positions [p0, p1) of sequence src part of sequence dst
// too (p0 < 0: from 0, p1 < 0: to the end). In a unified KV cache (the
// default) this costs no memory; with ContextParams.KVSplit only whole
// sequences can be copied.
func (c *Context) SeqCopy(src, dst, p0, p1 int) error { return ErrNotBuilt }

// Batch is a batch of tokens for Context.Decode (llama_batch): for each
// token its id, position, sequence ids and whether its logits are wanted.
// Reuse one batch across steps with Clear. It belongs to the goroutine that
// owns the context; a Close from elsewhere waits for a Decode using it.
type Batch struct{}

// NewBatch allocates a batch of up to capacity tokens, each in at most
// maxSeqs sequences (0: 1).
func NewBatch(capacity, maxSeqs int) (*Batch, error) { return nil, ErrNotBuilt }

// Add appends token t at position pos to the sequences seqs (at least one)
// and returns its index in the batch, which is the index of its logits when
// logits is true. It fails with ErrBatchFull at capacity.
func (b *Batch) Add(t Token, pos int, logits bool, seqs ...int) (int, error) {
	return 0, ErrNotBuilt
}

// Len returns the number of tokens in the batch.
func (b *Batch) Len() int { return 0 }

// Clear empties the batch for reuse.
func (b *Batch) Clear() {}

// Close frees the batch; Add then fails with ErrClosed. Closing a closed
// batch does nothing.
func (b *Batch) Close() error { return nil }

// Projector is a vision projector (mtmd_context) loaded for a model: it
// splits a prompt with images into chunks, encodes images into embeddings,
// and evaluates chunks into a context's sequences with the model's positions
// (M-RoPE for Qwen2-VL). Encode and the chunk evaluations may be called from
// different goroutines: encodes are serialized by the projector, and an
// Encode may run while the owner of a Context decodes. The projector keeps
// its model open until Close.
type Projector struct{}

// LoadProjector loads the mmproj GGUF at path for model m.
func LoadProjector(path string, m *Model, p ProjectorParams) (*Projector, error) {
	return nil, ErrNotBuilt
}

// Close frees the projector and ends its use of the model. It waits for
// calls in flight; later calls fail with ErrClosed. Closing a closed
// projector does nothing.
func (p *Projector) Close() error { return nil }

// Tokenize splits text into chunks: text tokens, and one image chunk for
// each MediaMarker, which takes the next of images in order (the number of
// markers must equal len(images)). Special-token text is parsed; addSpecial
// adds the model's BOS/EOS.
func (p *Projector) Tokenize(text string, images []*Bitmap, addSpecial bool) (*Chunks, error) {
	return nil, ErrNotBuilt
}

// Encode runs the vision encoder on image chunk i of ch and returns the
// embedding, copied out. Encodes on one projector are serialized.
func (p *Projector) Encode(ch *Chunks, i int) (*ImageEmbedding, error) { return nil, ErrNotBuilt }

// DecodeImage decodes an embedding Encode made from image chunk i of ch into
// sequence seq of c at position nPast, with the chunk's M-RoPE positions,
// and returns the new nPast. No logits are produced.
func (p *Projector) DecodeImage(c *Context, ch *Chunks, i int, emb *ImageEmbedding, nPast, seq int) (int, error) {
	return 0, ErrNotBuilt
}

// EvalChunk evaluates chunk i of ch into sequence seq of c at position
// nPast (text chunks decoded in batches of ContextParams.NBatch; image
// chunks encoded, then decoded) and returns the new nPast. With logitsLast the last text
// token's logits are output: sample them with index -1.
func (p *Projector) EvalChunk(c *Context, ch *Chunks, i, nPast, seq int, logitsLast bool) (int, error) {
	return 0, ErrNotBuilt
}

// EvalChunks evaluates every chunk of ch into sequence seq, as EvalChunk.
func (p *Projector) EvalChunks(c *Context, ch *Chunks, nPast, seq int, logitsLast bool) (int, error) {
	return 0, ErrNotBuilt
}

// Bitmap is an RGB image for the projector (mtmd_bitmap).
type Bitmap struct{}

// NewBitmap copies width*height*3 bytes of packed RGB (rows top to bottom)
// into a new bitmap; imagefile.RGB gives that layout.
func NewBitmap(width, height int, rgb []byte) (*Bitmap, error) { return nil, ErrNotBuilt }

// Close frees the bitmap (it waits for a Tokenize reading it); chunks made
// from it keep their own copy. Closing a closed bitmap does nothing.
func (b *Bitmap) Close() error { return nil }

// Chunks is a tokenized multimodal prompt (mtmd_input_chunks): text chunks
// and image chunks in prompt order. Read-only after Tokenize, so safe to
// share between goroutines until Close.
type Chunks struct{}

// Len returns the number of chunks.
func (c *Chunks) Len() int { return 0 }

// Kind returns the kind of chunk i.
func (c *Chunks) Kind(i int) ChunkKind { return ChunkText }

// NTokens returns the number of tokens (KV cells) chunk i takes.
func (c *Chunks) NTokens(i int) int { return 0 }

// Tokens returns a copy of the tokens of text chunk i (nil for images).
func (c *Chunks) Tokens(i int) []Token { return nil }

// ImageGrid returns the width and height in tokens of image chunk i.
func (c *Chunks) ImageGrid(i int) (nx, ny int) { return 0, 0 }

// TotalTokens returns the KV cells all chunks take.
func (c *Chunks) TotalTokens() int { return 0 }

// Close frees the chunks. It waits for calls reading them in flight;
// afterwards the chunks read as empty and the projector's calls fail with
// ErrClosed. Closing closed chunks does nothing.
func (c *Chunks) Close() error { return nil }

// Sampler picks the next token from a context's logits (a llama_sampler
// chain: grammar, then top-k, top-p, min-p, temperature and a seeded draw,
// or greedy). It carries state (grammar position, random generator): use one
// per sequence, from the goroutine that owns the context. Its grammar reads
// the model's vocabulary, so the sampler keeps its model open until Close.
type Sampler struct{}

// NewSampler builds a sampler chain for model m. An invalid grammar is an
// error quoting llama.cpp's parse message.
func NewSampler(m *Model, p SamplerParams) (*Sampler, error) { return nil, ErrNotBuilt }

// Sample picks a token from output idx of c's last decode (the token's batch
// index, or -1 for the last output) and accepts it into the sampler's
// state: do not Accept it again.
func (s *Sampler) Sample(c *Context, idx int) (Token, error) { return 0, ErrNotBuilt }

// Close frees the sampler and ends its use of the model; Sample then fails
// with ErrClosed. Closing a closed sampler does nothing.
func (s *Sampler) Close() error { return nil }

// LoRA is a LoRA adapter loaded from GGUF for a model (llama_adapter_lora).
// It is applied to contexts with Context.SetLoRA, and keeps its model open
// until Close.
type LoRA struct{}

// LoadLoRA loads the adapter GGUF at path for m. The adapter's tensors must
// match the model's (check with llm/gguf first).
func LoadLoRA(m *Model, path string) (*LoRA, error) { return nil, ErrNotBuilt }

// Close frees the adapter and ends its use of the model. It fails with
// ErrInUse, freeing nothing, while a context applies it; the check and the
// free are one step under the adapter's lock, which SetLoRA takes too.
// Closing a closed adapter does nothing.
func (a *LoRA) Close() error { return nil }
