//go:build llamacpp

package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vlmcmp/vlmcmp/llm/chat"
	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/native"
)

// nativeEngine is the engine on llama.cpp: the model, its projector and
// adapters, one llama context with a KV stream per sequence, and the batch
// of the decoding steps.
type nativeEngine struct {
	model *native.Model
	proj  *native.Projector
	loras []*native.LoRA
	lctx  *native.Context
	step  *native.Batch
	// layout and out are the last step's batch and each step token's
	// index in it (see stepLayout), reused.
	layout []stepEntry
	out    []int
	// tpl renders the chat as Hugging Face renders it for the model: the
	// file's tokenizer.chat_template, or its family's built-in one; nil
	// when neither compiles, and llama.cpp's built-in formats are used.
	tpl *chat.Template
}

var _ engine = (*nativeEngine)(nil)

// openEngine loads the model, projector and adapters of cfg (checked
// already), sizes the sequences and creates the context: on the GPU named
// device (see DeviceNames), or placed by llama.cpp when device is "".
func openEngine(ctx context.Context, cfg *Config, device string) (_ engine, _ engineSetup, err error) {
	var setup engineSetup
	loads, err := native.Init(native.InitOptions{})
	if err != nil {
		return nil, setup, fmt.Errorf("local: %w", err)
	}
	if cfg.GPULayers != 0 {
		warnNoGPU(loads, cfg.status())
	}
	e := &nativeEngine{}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	gpu := cfg.GPULayers != 0 && native.SupportsGPUOffload()
	setup.encodeGPU = gpu
	start := time.Now()
	if err := e.load(ctx, cfg, device, gpu, true); err != nil {
		return nil, setup, err
	}
	info := e.model.Info()
	scales := make([]native.LoRAScale, 0, len(cfg.LoRA))
	for _, l := range cfg.LoRA {
		a, err := native.LoadLoRA(e.model, l.Path)
		if err != nil {
			return nil, setup, fmt.Errorf("local: %w", err)
		}
		e.loras = append(e.loras, a)
		scales = append(scales, native.LoRAScale{Adapter: a, Scale: l.Scale})
	}
	setup.parallel = cfg.Parallel
	if setup.parallel == 0 {
		setup.parallel = defaultParallel(info, cfg.ContextSize, gpu)
	}
	if m := native.MaxParallelSequences(); m > 2 && setup.parallel+2 > m {
		return nil, setup, fmt.Errorf("local: parallel %d is more than llama.cpp's %d sequences (two are kept: the step padding, the shared prefix)", setup.parallel, m-2)
	}
	// Each sequence, the shared prefix's included, gets its own KV stream of
	// ContextSize cells (llama.cpp's kv_unified=false): a sequence's
	// attention then spans its own cells only, where in one unified buffer
	// every prefill and step would attend over (masked) cells of all P
	// sequences and slow down as P grows. Copying the prefix copies its
	// whole stream, which is all it holds.
	// Sequences 0..P-1 are the slots; P is kept empty for the padding
	// token after a lone step token in slot P-1 (see stepLayout), and P+1
	// holds the shared prefix (the runner's). The padding holds one cell
	// at most, but a stream has ContextSize.
	nCtx := (setup.parallel + 2) * cfg.ContextSize
	e.lctx, err = native.NewContext(e.model, native.ContextParams{
		NCtx:           nCtx,
		NBatch:         cfg.BatchSize,
		NUBatch:        cfg.BatchSize,
		NSeqMax:        setup.parallel + 2,
		Threads:        cfg.Threads,
		ThreadsBatch:   cfg.Threads,
		FlashAttention: flash(cfg.FlashAttention),
		KVSplit:        true,
	})
	if err != nil {
		return nil, setup, fmt.Errorf("local: %w", err)
	}
	if len(scales) > 0 {
		if err := e.lctx.SetLoRA(scales); err != nil {
			return nil, setup, fmt.Errorf("local: %w", err)
		}
	}
	if e.step, err = native.NewBatch(setup.parallel+1, 1); err != nil {
		return nil, setup, fmt.Errorf("local: %w", err)
	}
	cfg.log().Debug("local: loaded", "model", cfg.ModelFile, "mmproj", cfg.MmprojFile, "loras", len(e.loras),
		"parallel", setup.parallel, "parallel_default", cfg.Parallel == 0, "ctx_per_seq", cfg.ContextSize,
		"n_ctx", nCtx, "batch", cfg.BatchSize, "gpu", gpu, "device", device,
		"image_max_tokens", cfg.ImageMaxTokens, "took", time.Since(start))
	return e, setup, nil
}

// load loads the model, its chat template and the projector of cfg: the
// first step of openEngine, and all that openPromptEngine needs.
func (e *nativeEngine) load(ctx context.Context, cfg *Config, device string, gpu, warmup bool) (err error) {
	e.model, err = native.LoadModel(cfg.ModelFile, native.ModelParams{GPULayers: cfg.GPULayers, Device: device})
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	info := e.model.Info()
	if len(family.ByArch(info.Architecture)) == 0 {
		return fmt.Errorf("local: model %s is a %q model, want one of %s", cfg.ModelFile, info.Architecture, strings.Join(family.Architectures(), ", "))
	}
	e.tpl = chatTemplate(e.model, family.ByArch(info.Architecture)[0], cfg)
	if err := ctx.Err(); err != nil {
		return err
	}
	e.proj, err = native.LoadProjector(cfg.MmprojFile, e.model, native.ProjectorParams{
		UseGPU:         gpu,
		Device:         device,
		Threads:        cfg.EncoderThreads,
		FlashAttention: flash(cfg.FlashAttention),
		ImageMinTokens: cfg.ImageMinTokens,
		ImageMaxTokens: cfg.ImageMaxTokens,
		Warmup:         warmup,
	})
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

// openPromptEngine loads what RenderPrompt needs (cfg checked already):
// the model on the CPU, its template and the projector, with no context.
func openPromptEngine(ctx context.Context, cfg *Config) (_ promptEngine, err error) {
	if _, err := native.Init(native.InitOptions{}); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	cpu := *cfg
	cpu.GPULayers = 0
	e := &nativeEngine{}
	if err := e.load(ctx, &cpu, "", false, false); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// TemplateSource says where the chat template came from (RenderedPrompt.Template).
func (e *nativeEngine) TemplateSource() string {
	if e.tpl == nil {
		return TemplateLlamaCpp
	}
	return string(e.tpl.Source)
}

// Piece is tok's text, a special token written out.
func (e *nativeEngine) Piece(tok native.Token) (string, error) {
	return e.model.Detokenize([]native.Token{tok}, false, true)
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

// noGPUWarned makes warnNoGPU look once a process.
var noGPUWarned sync.Once

// warnNoGPU warns, once a process, when GPU backend libraries were found
// (make cuda put libggml-cuda.so beside the binary) but offer no device,
// so that a model meant for the GPU does not run on the CPU without a
// word: the line `vlmcmp devices` prints (native.GPUAbsence). The backends
// are loaded once a process, so the first look is the answer.
func warnNoGPU(loads []native.BackendLoad, status io.Writer) {
	noGPUWarned.Do(func() {
		devs, err := native.Devices()
		if err != nil {
			return
		}
		if line := native.GPUAbsence(loads, devs); line != "" {
			fmt.Fprintln(status, "local: "+line)
		}
	})
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

// chatTemplate compiles the model's own chat template (see nativeEngine.tpl).
func chatTemplate(m *native.Model, fam *family.Family, cfg *Config) *chat.Template {
	src, _ := m.Meta("tokenizer.chat_template")
	tpl, err := chat.ForModel(src, fam)
	if err != nil {
		fmt.Fprintf(cfg.status(), "local: %s: chat template not usable (%v); llama.cpp's built-in format is used\n", cfg.ModelFile, err)
		return nil
	}
	cfg.log().Debug("local: chat template", "model", cfg.ModelFile, "source", tpl.Source)
	return tpl
}

// Template renders msgs with the model's template; a message whose content
// starts with native.MediaMarker is an image followed by its text, one that
// ends with it text followed by the image.
func (e *nativeEngine) Template(msgs []native.ChatMessage) (string, error) {
	if e.tpl == nil {
		return e.model.ApplyChatTemplate("", msgs, true)
	}
	var cm []chat.Message
	images := 0
	for _, m := range msgs {
		if rest, ok := strings.CutPrefix(m.Content, native.MediaMarker); ok {
			images++
			cm = append(cm, chat.Message{Role: m.Role, Parts: []chat.Part{{Type: "image"}, {Type: "text", Text: rest}}})
			continue
		}
		if rest, ok := strings.CutSuffix(m.Content, native.MediaMarker); ok {
			images++
			cm = append(cm, chat.Message{Role: m.Role, Parts: []chat.Part{{Type: "text", Text: rest}, {Type: "image"}}})
			continue
		}
		cm = append(cm, chat.Text(m.Role, m.Content))
	}
	s, err := e.tpl.Render(cm, true)
	if err != nil {
		return "", err
	}
	return chat.ForMtmd(s, native.MediaMarker, images)
}

// nativeChunks are mtmd chunks and the bitmap they were made from.
type nativeChunks struct {
	*native.Chunks
	bitmap *native.Bitmap
}

func (c *nativeChunks) Close() error {
	return errors.Join(c.Chunks.Close(), c.bitmap.Close())
}

func (e *nativeEngine) Tokenize(prompt string, w, h int, rgb []byte) (chunks, error) {
	bm, err := native.NewBitmap(w, h, rgb)
	if err != nil {
		return nil, err
	}
	ch, err := e.proj.Tokenize(prompt, []*native.Bitmap{bm}, true)
	if err != nil {
		bm.Close()
		return nil, err
	}
	return &nativeChunks{Chunks: ch, bitmap: bm}, nil
}

func (e *nativeEngine) Encode(ch chunks, i int) (embedding, error) {
	emb, err := e.proj.Encode(ch.(*nativeChunks).Chunks, i)
	if err != nil {
		return nil, err
	}
	return emb, nil
}

func (e *nativeEngine) Eval(ch chunks, i int, emb embedding, pos, seq int, logitsLast bool) (int, error) {
	nc := ch.(*nativeChunks).Chunks
	if emb == nil {
		return evalText(e.proj, e.lctx, nc, i, pos, seq, logitsLast)
	}
	return e.proj.DecodeImage(e.lctx, nc, i, emb.(*native.ImageEmbedding), pos, seq)
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

// Step decodes one token per sequence in one llama_decode, laid out by
// stepLayout (padding tokens in the gaps, and after a lone token), and
// empties the padding sequences after it. Sample(i) reads the logits of
// toks[i] at its index in that layout.
func (e *nativeEngine) Step(toks []stepToken) error {
	var err error
	if e.layout, e.out, err = stepLayout(toks, e.layout[:0], e.out[:0]); err != nil {
		e.out = e.out[:0]
		return err
	}
	e.step.Clear()
	for _, t := range e.layout {
		if _, err := e.step.Add(t.tok, t.pos, t.logits, t.seq); err != nil {
			e.out = e.out[:0]
			return err
		}
	}
	err = e.lctx.Decode(e.step)
	for _, t := range e.layout {
		if t.pad {
			err = errors.Join(err, e.lctx.SeqRemove(t.seq, -1, -1))
		}
	}
	return err
}

// SetThreads sets the threads of the following decodes (see threadSetter).
func (e *nativeEngine) SetThreads(n int) { e.lctx.SetThreads(n, n) }

func (e *nativeEngine) ClearSeq(seq int) error { return e.lctx.SeqRemove(seq, -1, -1) }

func (e *nativeEngine) CopySeq(src, dst int) error { return e.lctx.SeqCopy(src, dst, -1, -1) }

// nativeSampler samples from the engine's context.
type nativeSampler struct {
	s *native.Sampler
	e *nativeEngine
}

func (e *nativeEngine) NewSampler(p native.SamplerParams) (sampler, error) {
	s, err := native.NewSampler(e.model, p)
	if err != nil {
		return nil, err
	}
	return &nativeSampler{s: s, e: e}, nil
}

func (s *nativeSampler) Sample(i int) (native.Token, bool, error) {
	if i >= 0 {
		// Step's token i: its index in the step's layout.
		if i >= len(s.e.out) {
			return 0, false, fmt.Errorf("sample: the last step has no token %d", i)
		}
		i = s.e.out[i]
	}
	tok, err := s.s.Sample(s.e.lctx, i)
	if err != nil {
		return 0, false, err
	}
	return tok, s.e.model.IsEOG(tok), nil
}

func (s *nativeSampler) Close() error { return s.s.Close() }

func (e *nativeEngine) Detokenize(toks []native.Token) (string, error) {
	return e.model.Detokenize(toks, false, false)
}

func (e *nativeEngine) Interrupt() { e.lctx.Interrupt() }

func (e *nativeEngine) ResetInterrupt() { e.lctx.ResetInterrupt() }

// Close frees the native objects, newest first.
func (e *nativeEngine) Close() error {
	var errs []error
	if e.step != nil {
		errs = append(errs, e.step.Close())
		e.step = nil
	}
	if e.lctx != nil {
		errs = append(errs, e.lctx.Close())
		e.lctx = nil
	}
	if e.proj != nil {
		errs = append(errs, e.proj.Close())
		e.proj = nil
	}
	for _, a := range e.loras {
		errs = append(errs, a.Close())
	}
	e.loras = nil
	if e.model != nil {
		errs = append(errs, e.model.Close())
		e.model = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("local: close: %w", err)
	}
	return nil
}
