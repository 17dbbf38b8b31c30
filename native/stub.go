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
// this package's errors (Error.Log). Safe for concurrent use.
func SetLogger(l *slog.Logger) {}

// Model is a loaded llama.cpp model (llama_model). It owns its C memory
// until Close. Its methods are safe for concurrent use, except Close, which
// the owner calls once nothing else uses the model.
type Model struct{}

// LoadModel loads the GGUF model file at path. A missing or unreadable file
// is an error, not a crash; the contents should have been validated with
// package llm/gguf first, since llama.cpp aborts the process on some
// malformed files.
func LoadModel(path string, p ModelParams) (*Model, error) { return nil, ErrNotBuilt }

// Close frees the model and every LoRA adapter loaded for it. It fails with
// ErrInUse while contexts or projectors made from the model are open.
// Closing a closed model does nothing.
func (m *Model) Close() error { return nil }

// Info returns facts about the model.
func (m *Model) Info() ModelInfo { return ModelInfo{} }

// Meta returns the model's GGUF metadata value for key as text (arrays are
// not available) and whether the key exists.
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

// TokenPiece returns the bytes token t stands for (it may be part of a UTF-8
// sequence); special renders control tokens as their text, else they give "".
func (m *Model) TokenPiece(t Token, special bool) (string, error) { return "", ErrNotBuilt }

// IsEOG reports whether t ends generation (EOS, EOT, <|im_end|>, ...).
func (m *Model) IsEOG(t Token) bool { return false }

// BOS returns the beginning-of-sequence token, or -1 when the model has none.
func (m *Model) BOS() Token { return -1 }

// EOS returns the end-of-sequence token, or -1 when the model has none.
func (m *Model) EOS() Token { return -1 }

// ChatTemplate returns the model's default chat template (Jinja text from
// tokenizer.chat_template), or "" when it has none.
func (m *Model) ChatTemplate() string { return "" }

// ApplyChatTemplate formats msgs with tmpl (empty: the model's own
// template) using llama.cpp's built-in template engine, which recognizes
// well-known templates (ChatML for Qwen2-VL) rather than running Jinja.
// addAssistant appends the opening of the assistant's turn.
func (m *Model) ApplyChatTemplate(tmpl string, msgs []ChatMessage, addAssistant bool) (string, error) {
	return "", ErrNotBuilt
}

// Context is a llama.cpp inference context (llama_context): the KV cache of
// up to NSeqMax sequences and the compute buffers. It is not safe for
// concurrent use: one goroutine owns it (and the batches and samplers used
// with it) and calls Close when done. The model must stay open.
type Context struct{}

// NewContext creates a context for m.
func NewContext(m *Model, p ContextParams) (*Context, error) { return nil, ErrNotBuilt }

// Close frees the context. Closing a closed context does nothing.
func (c *Context) Close() error { return nil }

// Model returns the model the context was made from.
func (c *Context) Model() *Model { return nil }

// NCtx returns the context size in tokens (all sequences together).
func (c *Context) NCtx() int { return 0 }

// NBatch returns the most tokens one Decode may carry.
func (c *Context) NBatch() int { return 0 }

// NUBatch returns the physical batch size.
func (c *Context) NUBatch() int { return 0 }

// NSeqMax returns the number of sequences; valid sequence ids are 0 to
// NSeqMax()-1.
func (c *Context) NSeqMax() int { return 0 }

// SetThreads sets the threads for single-token decoding and for batches.
func (c *Context) SetThreads(n, nBatch int) {}

// SetLoRA replaces the adapters applied by the context with adapters (nil
// or empty: none). The adapters must stay open while set; they count as in
// use until replaced or the context is closed.
func (c *Context) SetLoRA(adapters []LoRAScale) error { return ErrNotBuilt }

// Decode runs the model on the batch (one llama_decode; at most NBatch
// tokens). It returns ErrKVCacheFull when no KV cells are left for it, in
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

// SeqKeep removes every sequence but seq.
func (c *Context) SeqKeep(seq int) error { return ErrNotBuilt }

// SeqPosMin returns the smallest position of sequence seq in the KV cache,
// or -1 when the sequence is empty.
func (c *Context) SeqPosMin(seq int) int { return -1 }

// SeqPosMax returns the largest position of sequence seq in the KV cache, or
// -1 when the sequence is empty. With M-RoPE (Qwen2-VL) positions are not
// token counts: an image of N tokens advances the position by less than N.
func (c *Context) SeqPosMax(seq int) int { return -1 }

// ClearMemory empties the KV cache of every sequence.
func (c *Context) ClearMemory() error { return ErrNotBuilt }

// Perf returns the context's timing counters.
func (c *Context) Perf() Perf { return Perf{} }

// ResetPerf sets the timing counters to zero.
func (c *Context) ResetPerf() {}

// Batch is a batch of tokens for Context.Decode (llama_batch): for each
// token its id, position, sequence ids and whether its logits are wanted.
// Reuse one batch across steps with Clear. Not safe for concurrent use.
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

// SetLogits turns the logits flag of token i on or off.
func (b *Batch) SetLogits(i int, on bool) {}

// Len returns the number of tokens in the batch.
func (b *Batch) Len() int { return 0 }

// Cap returns the batch's capacity.
func (b *Batch) Cap() int { return 0 }

// Clear empties the batch for reuse.
func (b *Batch) Clear() {}

// Close frees the batch. Closing a closed batch does nothing.
func (b *Batch) Close() error { return nil }

// Projector is a vision projector (mtmd_context) loaded for a model: it
// splits a prompt with images into chunks, encodes images into embeddings,
// and evaluates chunks into a context's sequences with the model's positions
// (M-RoPE for Qwen2-VL). Encode and the chunk evaluations may be called from
// different goroutines: encodes are serialized by the projector, and an
// Encode may run while the owner of a Context decodes. Close once nothing
// uses it; the model must stay open.
type Projector struct{}

// LoadProjector loads the mmproj GGUF at path for model m.
func LoadProjector(path string, m *Model, p ProjectorParams) (*Projector, error) {
	return nil, ErrNotBuilt
}

// Close frees the projector. Closing a closed projector does nothing.
func (p *Projector) Close() error { return nil }

// UsesMRoPE reports whether the model takes M-RoPE positions (Qwen2-VL):
// then an image chunk advances a sequence's position by NPos, not NTokens.
func (p *Projector) UsesMRoPE() bool { return false }

// NonCausal reports whether image chunks are decoded with non-causal
// attention (then an image must fit in one physical batch).
func (p *Projector) NonCausal() bool { return false }

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
// nPast (text chunks decoded in batches of c.NBatch(); image chunks encoded,
// then decoded) and returns the new nPast. With logitsLast the last text
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

// Width returns the width in pixels.
func (b *Bitmap) Width() int { return 0 }

// Height returns the height in pixels.
func (b *Bitmap) Height() int { return 0 }

// Close frees the bitmap; chunks made from it keep their own copy.
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

// NPos returns how far chunk i advances a sequence's position.
func (c *Chunks) NPos(i int) int { return 0 }

// Tokens returns a copy of the tokens of text chunk i (nil for images).
func (c *Chunks) Tokens(i int) []Token { return nil }

// ImageGrid returns the width and height, in tokens, of image chunk i
// (0, 0 for text).
func (c *Chunks) ImageGrid(i int) (nx, ny int) { return 0, 0 }

// TotalTokens returns the KV cells all chunks take.
func (c *Chunks) TotalTokens() int { return 0 }

// TotalPos returns how far all chunks advance a sequence's position.
func (c *Chunks) TotalPos() int { return 0 }

// Close frees the chunks. Closing closed chunks does nothing.
func (c *Chunks) Close() error { return nil }

// Sampler picks the next token from a context's logits (a llama_sampler
// chain: grammar, then top-k, top-p, min-p, temperature and a seeded draw,
// or greedy). It carries state (grammar position, random generator): use one
// per sequence, from the goroutine that owns the context.
type Sampler struct{}

// NewSampler builds a sampler chain for model m. An invalid grammar is an
// error quoting llama.cpp's parse message.
func NewSampler(m *Model, p SamplerParams) (*Sampler, error) { return nil, ErrNotBuilt }

// Sample picks a token from output idx of c's last decode (the token's batch
// index, or -1 for the last output) and accepts it into the sampler's
// state: do not Accept it again.
func (s *Sampler) Sample(c *Context, idx int) (Token, error) { return 0, ErrNotBuilt }

// Accept advances the sampler's state over t, for tokens chosen elsewhere.
func (s *Sampler) Accept(t Token) {}

// Reset returns the sampler to its initial state (grammar at the start).
func (s *Sampler) Reset() {}

// Close frees the sampler. Closing a closed sampler does nothing.
func (s *Sampler) Close() error { return nil }

// LoRA is a LoRA adapter loaded from GGUF for a model (llama_adapter_lora).
// It is applied to contexts with Context.SetLoRA. The model owns it too:
// closing the model closes it.
type LoRA struct{}

// LoadLoRA loads the adapter GGUF at path for m. The adapter's tensors must
// match the model's (check with llm/gguf first).
func LoadLoRA(m *Model, path string) (*LoRA, error) { return nil, ErrNotBuilt }

// Path returns the file the adapter was loaded from.
func (a *LoRA) Path() string { return "" }

// Meta returns the adapter's GGUF metadata value for key as text, and
// whether it exists.
func (a *LoRA) Meta(key string) (string, bool) { return "", false }

// Close frees the adapter. It fails with ErrInUse while a context applies
// it. Closing a closed adapter does nothing.
func (a *LoRA) Close() error { return nil }
