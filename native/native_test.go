//go:build llamacpp

package native

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
)

// The tests run the real engine on the tiny synthetic Qwen2-VL that
// llm/gguf/synth writes (random weights, so the text is gibberish, but it is
// deterministic, depends on the image, and follows a grammar).

var tiny struct {
	once  sync.Once
	files synth.Files
	err   error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "native-test-")
	if err != nil {
		panic(err)
	}
	tiny.files, tiny.err = synth.Write(dir, synth.Options{Shape: synth.Tiny, Seed: 1, LoRA: true})
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// engine is a loaded tiny model with its projector.
type engine struct {
	model *Model
	proj  *Projector
	files synth.Files
}

func loadTiny(t testing.TB) *engine {
	t.Helper()
	if tiny.err != nil {
		t.Fatalf("write tiny synthetic model: %v", tiny.err)
	}
	m, err := LoadModel(tiny.files.Model, ModelParams{})
	if err != nil {
		t.Fatalf("load model: %v", err)
	}
	p, err := LoadProjector(tiny.files.Mmproj, m, ProjectorParams{Threads: 2})
	if err != nil {
		m.Close()
		t.Fatalf("load projector: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close projector: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("close model: %v", err)
		}
	})
	return &engine{model: m, proj: p, files: tiny.files}
}

func (e *engine) newContext(t testing.TB, p ContextParams) *Context {
	t.Helper()
	if p.NCtx == 0 {
		p.NCtx = 1024
	}
	if p.Threads == 0 {
		p.Threads = 2
	}
	c, err := NewContext(e.model, p)
	if err != nil {
		t.Fatalf("new context: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testImage returns a deterministic RGB image; kind picks the pattern.
func testImage(kind, w, h int) []byte {
	rgb := make([]byte, w*h*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			switch kind {
			case 0: // horizontal gradient
				rgb[i], rgb[i+1], rgb[i+2] = byte(x*255/w), byte(y*255/h), 128
			case 1: // checkerboard
				v := byte(0)
				if (x/8+y/8)%2 == 0 {
					v = 255
				}
				rgb[i], rgb[i+1], rgb[i+2] = v, 255-v, v/2
			default: // noise from a small LCG
				s := uint32(x*7919+y*104729) * 2654435761
				rgb[i], rgb[i+1], rgb[i+2] = byte(s>>24), byte(s>>16), byte(s>>8)
			}
		}
	}
	return rgb
}

// prompt is the chat-formatted prompt with one image.
func (e *engine) prompt(t testing.TB, question string) string {
	t.Helper()
	text, err := e.model.ApplyChatTemplate("", []ChatMessage{
		{Role: "system", Content: "You rate street photos."},
		{Role: "user", Content: MediaMarker + question},
	}, true)
	if err != nil {
		t.Fatalf("apply chat template: %v", err)
	}
	return text
}

// prefill tokenizes prompt with image kind and evaluates it into seq,
// returning the position after it.
func (e *engine) prefill(t testing.TB, c *Context, seq, kind int, prompt string) int {
	t.Helper()
	bm, err := NewBitmap(64, 48, testImage(kind, 64, 48))
	if err != nil {
		t.Fatalf("new bitmap: %v", err)
	}
	defer bm.Close()
	ch, err := e.proj.Tokenize(prompt, []*Bitmap{bm}, false)
	if err != nil {
		t.Fatalf("tokenize: %v", err)
	}
	defer ch.Close()
	nPast, err := e.proj.EvalChunks(c, ch, 0, seq, true)
	if err != nil {
		t.Fatalf("eval chunks: %v", err)
	}
	return nPast
}

// generate decodes up to n tokens for one sequence after prefill, the way a
// single-image command does.
func (e *engine) generate(t testing.TB, c *Context, kind int, sp SamplerParams, n int) (string, []Token) {
	t.Helper()
	nPast := e.prefill(t, c, 0, kind, e.prompt(t, "How safe is this street?"))
	s, err := NewSampler(e.model, sp)
	if err != nil {
		t.Fatalf("new sampler: %v", err)
	}
	defer s.Close()
	b, err := NewBatch(1, 1)
	if err != nil {
		t.Fatalf("new batch: %v", err)
	}
	defer b.Close()
	var toks []Token
	idx := -1
	for len(toks) < n {
		tok, err := s.Sample(c, idx)
		if err != nil {
			t.Fatalf("sample after %d tokens: %v", len(toks), err)
		}
		if e.model.IsEOG(tok) {
			break
		}
		toks = append(toks, tok)
		b.Clear()
		if idx, err = b.Add(tok, nPast, true, 0); err != nil {
			t.Fatal(err)
		}
		nPast++
		if err := c.Decode(b); err != nil {
			t.Fatalf("decode: %v", err)
		}
	}
	text, err := e.model.Detokenize(toks, false, false)
	if err != nil {
		t.Fatalf("detokenize: %v", err)
	}
	return text, toks
}

func TestDevices(t *testing.T) {
	devs, err := Devices()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 || devs[0].Type != DeviceCPU {
		t.Fatalf("devices = %+v, want the CPU first", devs)
	}
	if devs[0].MemoryTotal == 0 {
		t.Errorf("CPU memory total is 0")
	}
	if len(devs[0].Features) == 0 {
		t.Errorf("CPU reports no features")
	}
	info, err := SystemInfo()
	if err != nil || !strings.Contains(info, "CPU") {
		t.Errorf("SystemInfo = %q, %v", info, err)
	}
}

func TestInitReportsBadBackendLibrary(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "libggml-cuda.so")
	if err := os.WriteFile(bad, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	loads, err := Init(InitOptions{BackendPaths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	var got error
	for _, l := range loads {
		if l.Path == bad {
			got = l.Err
		}
	}
	if got == nil || !strings.Contains(got.Error(), bad) {
		t.Fatalf("load of %s: err = %v, want an error naming the file", bad, got)
	}
	devs, _ := Devices()
	if len(devs) == 0 || devs[0].Type != DeviceCPU {
		t.Errorf("after a failed backend load devices = %+v, want the CPU", devs)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.gguf")
	os.WriteFile(text, []byte("this is a text file\n"), 0o644)
	empty := filepath.Join(dir, "empty.gguf")
	os.WriteFile(empty, nil, 0o644)
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "missing.gguf"), "no such file"},
		{"directory", dir, "is a directory"},
		{"text", text, "not a gguf file"},
		{"empty", empty, "not a gguf file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadModel(tt.path, ModelParams{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("LoadModel(%s) = %v, want an error naming the file with %q", tt.path, err, tt.want)
			}
			e := loadTiny(t)
			if _, err := LoadProjector(tt.path, e.model, ProjectorParams{}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadProjector(%s) = %v, want %q", tt.path, err, tt.want)
			}
			if _, err := LoadLoRA(e.model, tt.path); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadLoRA(%s) = %v, want %q", tt.path, err, tt.want)
			}
		})
	}
}

// TestUnknownDevice: a model or projector placed on a device that is not
// there is refused, naming it, before llama.cpp loads anything.
func TestUnknownDevice(t *testing.T) {
	if _, err := LoadModel(tiny.files.Model, ModelParams{GPULayers: -1, Device: "NOPE7"}); err == nil || !strings.Contains(err.Error(), `"NOPE7"`) {
		t.Errorf("LoadModel on device NOPE7 = %v, want an error naming it", err)
	}
	e := loadTiny(t)
	if _, err := LoadProjector(tiny.files.Mmproj, e.model, ProjectorParams{UseGPU: true, Device: "NOPE7"}); err == nil || !strings.Contains(err.Error(), `"NOPE7"`) {
		t.Errorf("LoadProjector on device NOPE7 = %v, want an error naming it", err)
	}
	// The model is still usable: the failed load released its use.
	p, err := LoadProjector(tiny.files.Mmproj, e.model, ProjectorParams{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
}

func TestModelInfo(t *testing.T) {
	e := loadTiny(t)
	info := e.model.Info()
	if info.Architecture != "qwen2vl" {
		t.Errorf("architecture = %q, want qwen2vl", info.Architecture)
	}
	if info.NEmbd <= 0 || info.NVocab <= 0 || info.NLayer <= 0 || info.NCtxTrain <= 0 {
		t.Errorf("info = %+v, want positive sizes", info)
	}
	if !e.proj.mrope {
		t.Errorf("projector does not use M-RoPE; Qwen2-VL does")
	}
}

func TestTokenizeRoundTrip(t *testing.T) {
	e := loadTiny(t)
	for _, text := range []string{
		"hello world",
		"Safety score: 7/10",
		"  spaces\tand\nnewlines  ",
		"ünïcödé — 街道 🚦",
		"",
	} {
		toks, err := e.model.Tokenize(text, false, false)
		if err != nil {
			t.Fatalf("tokenize %q: %v", text, err)
		}
		got, err := e.model.Detokenize(toks, false, false)
		if err != nil {
			t.Fatalf("detokenize %q: %v", text, err)
		}
		if got != text {
			t.Errorf("round trip of %q = %q (tokens %v)", text, got, toks)
		}
	}
	special, err := e.model.Tokenize("<|im_start|>user", false, true)
	if err != nil || len(special) == 0 {
		t.Fatalf("tokenize special: %v %v", special, err)
	}
	if _, err := e.model.Detokenize([]Token{Token(e.model.Info().NVocab)}, false, false); err == nil {
		t.Errorf("Detokenize of a token outside the vocabulary gave no error")
	}
}

func TestChatTemplate(t *testing.T) {
	e := loadTiny(t)
	got := e.prompt(t, "Rate it.")
	for _, want := range []string{
		"<|im_start|>system\nYou rate street photos.<|im_end|>",
		"<|im_start|>user\n" + MediaMarker + "Rate it.<|im_end|>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("prompt %q lacks %q", got, want)
		}
	}
	if !strings.HasSuffix(got, "<|im_start|>assistant\n") {
		t.Errorf("prompt %q does not open the assistant's turn", got)
	}
	if _, err := e.model.ApplyChatTemplate("", nil, true); err == nil {
		t.Errorf("no messages: no error")
	}
}

func TestImageEndToEnd(t *testing.T) {
	e := loadTiny(t)
	const n = 12
	gen := func(kind int) string {
		c := e.newContext(t, ContextParams{})
		text, toks := e.generate(t, c, kind, SamplerParams{}, n)
		if len(toks) == 0 {
			t.Fatalf("image %d: no tokens generated", kind)
		}
		return text
	}
	a1, a2, b := gen(0), gen(0), gen(1)
	t.Logf("image 0: %q; image 1: %q", a1, b)
	if a1 != a2 {
		t.Errorf("same input twice: %q then %q", a1, a2)
	}
	if a1 == b {
		t.Errorf("two different images gave the same text %q", a1)
	}
}

func TestEncodeThenDecodeMatchesEval(t *testing.T) {
	e := loadTiny(t)
	bm, err := NewBitmap(64, 48, testImage(2, 64, 48))
	if err != nil {
		t.Fatal(err)
	}
	defer bm.Close()
	ch, err := e.proj.Tokenize(e.prompt(t, "Score it."), []*Bitmap{bm}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	img := -1
	for i := 0; i < ch.Len(); i++ {
		if ch.Kind(i) == ChunkImage {
			img = i
		}
	}
	if img < 0 {
		t.Fatalf("no image chunk among %d", ch.Len())
	}
	nx, ny := ch.ImageGrid(img)
	// Qwen2-VL's M-RoPE: an image of nx*ny tokens advances the position by
	// max(nx, ny).
	if nx*ny != ch.NTokens(img) || ch.nPos(img) != max(nx, ny) {
		t.Errorf("image grid %dx%d: %d tokens, %d positions; want %d tokens, %d positions", nx, ny, ch.NTokens(img), ch.nPos(img), nx*ny, max(nx, ny))
	}
	emb, err := e.proj.Encode(ch, img)
	if err != nil {
		t.Fatal(err)
	}
	if emb.nTokens != ch.NTokens(img) || emb.nEmbd != e.model.Info().NEmbdInput || len(emb.Floats()) != emb.nTokens*emb.nEmbd {
		t.Errorf("embedding %dx%d of %d floats, want %dx%d", emb.nTokens, emb.nEmbd, len(emb.Floats()), ch.NTokens(img), e.model.Info().NEmbdInput)
	}
	// Separately: text chunks by EvalChunk, the image by DecodeImage.
	c1 := e.newContext(t, ContextParams{})
	nPast := 0
	for i := 0; i < ch.Len(); i++ {
		if i == img {
			nPast, err = e.proj.DecodeImage(c1, ch, i, emb, nPast, 0)
		} else {
			nPast, err = e.proj.EvalChunk(c1, ch, i, nPast, 0, i == ch.Len()-1)
		}
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	if nPast != ch.totalPos() {
		t.Errorf("nPast = %d, want the chunks' total positions %d", nPast, ch.totalPos())
	}
	l1, err := c1.Logits(-1, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Together: EvalChunks.
	c2 := e.newContext(t, ContextParams{})
	if _, err := e.proj.EvalChunks(c2, ch, 0, 0, true); err != nil {
		t.Fatal(err)
	}
	l2, err := c2.Logits(-1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if argmax(l1) != argmax(l2) {
		t.Errorf("encode+decode picks token %d, eval picks %d", argmax(l1), argmax(l2))
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func TestGrammarSafetyScore(t *testing.T) {
	e := loadTiny(t)
	grammar := `root ::= "Safety score: " ([1-9] | "10") "/10"`
	re := regexp.MustCompile(`^Safety score: (\d+)/10$`)
	for kind := 0; kind < 3; kind++ {
		c := e.newContext(t, ContextParams{})
		text, _ := e.generate(t, c, kind, SamplerParams{Grammar: grammar}, 32)
		m := re.FindStringSubmatch(text)
		if m == nil {
			t.Errorf("image %d: %q does not follow the grammar", kind, text)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n < 1 || n > 10 {
			t.Errorf("image %d: score %d outside 1..10", kind, n)
		}
	}
	if _, err := NewSampler(e.model, SamplerParams{Grammar: `root ::= "unterminated`}); err == nil {
		t.Errorf("invalid grammar: no error")
	}
}

func TestSampledDecodingIsSeeded(t *testing.T) {
	e := loadTiny(t)
	sp := SamplerParams{Temperature: 1.5, TopK: 40, TopP: 0.95, Seed: 42}
	a, _ := e.generate(t, e.newContext(t, ContextParams{}), 0, sp, 12)
	b, _ := e.generate(t, e.newContext(t, ContextParams{}), 0, sp, 12)
	if a != b {
		t.Errorf("same seed: %q then %q", a, b)
	}
}

func TestLoRAScale(t *testing.T) {
	e := loadTiny(t)
	if e.files.LoRA == "" {
		t.Fatal("synth wrote no LoRA adapter")
	}
	a, err := LoadLoRA(e.model, e.files.LoRA)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	gen := func(scale float32, apply bool) string {
		c := e.newContext(t, ContextParams{})
		if apply {
			if err := c.SetLoRA([]LoRAScale{{Adapter: a, Scale: scale}}); err != nil {
				t.Fatal(err)
			}
		}
		text, _ := e.generate(t, c, 0, SamplerParams{}, 12)
		return text
	}
	base, zero, one := gen(0, false), gen(0, true), gen(1, true)
	if zero != base {
		t.Errorf("scale 0: %q, base: %q", zero, base)
	}
	if one == base {
		t.Errorf("scale 1 gave the base text %q", base)
	}
	c := e.newContext(t, ContextParams{})
	if err := c.SetLoRA([]LoRAScale{{Adapter: a, Scale: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); !errors.Is(err, ErrInUse) {
		t.Errorf("close of an applied adapter = %v, want ErrInUse", err)
	}
	c.SetLoRA(nil)
}

// TestBatchedSequences decodes two sequences in one batch per step and
// checks they give the tokens each gives alone.
func TestBatchedSequences(t *testing.T) {
	e := loadTiny(t)
	const n = 10
	alone := make([][]Token, 2)
	for kind := range alone {
		_, alone[kind] = e.generate(t, e.newContext(t, ContextParams{}), kind, SamplerParams{}, n)
	}
	c := e.newContext(t, ContextParams{NCtx: 2048, NSeqMax: 2})
	prompt := e.prompt(t, "How safe is this street?")
	b, err := NewBatch(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	type seq struct {
		s     *Sampler
		nPast int
		idx   int
		toks  []Token
		done  bool
	}
	seqs := make([]*seq, 2)
	for i := range seqs {
		nPast := e.prefill(t, c, i, i, prompt)
		s, err := NewSampler(e.model, SamplerParams{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		// Sample the first token now: the next prefill replaces the logits.
		tok, err := s.Sample(c, -1)
		if err != nil {
			t.Fatal(err)
		}
		seqs[i] = &seq{s: s, nPast: nPast, toks: []Token{tok}}
	}
	for step := 0; ; step++ {
		b.Clear()
		for i, q := range seqs {
			last := q.toks[len(q.toks)-1]
			if q.done || e.model.IsEOG(last) || len(q.toks) > n {
				q.done = true
				continue
			}
			q.idx, _ = b.Add(last, q.nPast, true, i)
			q.nPast++
		}
		if b.Len() == 0 {
			break
		}
		if err := c.Decode(b); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for _, q := range seqs {
			if q.done {
				continue
			}
			tok, err := q.s.Sample(c, q.idx)
			if err != nil {
				t.Fatal(err)
			}
			q.toks = append(q.toks, tok)
		}
	}
	for i, q := range seqs {
		got := q.toks
		for len(got) > 0 && (len(got) > n || e.model.IsEOG(got[len(got)-1])) {
			got = got[:len(got)-1]
		}
		if !equalTokens(got, alone[i]) {
			t.Errorf("sequence %d batched: %v, alone: %v", i, got, alone[i])
		}
	}
}

func equalTokens(a, b []Token) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestKVSequenceOps(t *testing.T) {
	e := loadTiny(t)
	c := e.newContext(t, ContextParams{NCtx: 1024, NSeqMax: 2})
	prompt := e.prompt(t, "Score.")
	nPast := e.prefill(t, c, 0, 0, prompt)
	if got := c.seqPosMax(0); got != nPast-1 {
		t.Errorf("pos max of seq 0 = %d, want %d", got, nPast-1)
	}
	first, err := c.Logits(-1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SeqCopy(0, 1, -1, -1); err != nil {
		t.Fatal(err)
	}
	if got := c.seqPosMax(1); got != nPast-1 {
		t.Errorf("pos max of the copy = %d, want %d", got, nPast-1)
	}
	if err := c.SeqRemove(0, -1, -1); err != nil {
		t.Fatal(err)
	}
	if got := c.seqPosMax(0); got != -1 {
		t.Errorf("pos max after remove = %d, want -1", got)
	}
	if got := c.seqPosMax(1); got != nPast-1 {
		t.Errorf("removing seq 0 changed seq 1: pos max %d", got)
	}
	if err := c.SeqRemove(-1, -1, -1); err != nil {
		t.Fatal(err)
	}
	if got := c.seqPosMax(1); got != -1 {
		t.Errorf("remove all: seq 1 pos max %d, want -1", got)
	}
	// The freed sequence takes the same prompt again with the same result.
	e.prefill(t, c, 0, 0, prompt)
	again, err := c.Logits(-1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if argmax(first) != argmax(again) {
		t.Errorf("reused sequence picks %d, first time %d", argmax(again), argmax(first))
	}
	for _, err := range []error{c.SeqRemove(2, -1, -1), c.SeqCopy(0, 5, -1, -1), c.SeqCopy(-1, 0, -1, -1)} {
		if err == nil {
			t.Errorf("out-of-range sequence id: no error")
		}
	}
	if _, err := c.Logits(3, nil); err == nil {
		t.Errorf("logits of a token with none: no error")
	}
	s, _ := NewSampler(e.model, SamplerParams{})
	defer s.Close()
	if _, err := s.Sample(c, 3); err == nil {
		t.Errorf("sample of a token with no logits: no error")
	}
	if err := c.SeqRemove(-1, -1, -1); err != nil || c.seqPosMax(0) != -1 {
		t.Errorf("remove all: %v, pos max %d", err, c.seqPosMax(0))
	}
}

func TestKVCacheFull(t *testing.T) {
	e := loadTiny(t)
	c := e.newContext(t, ContextParams{NCtx: 256, NBatch: 256})
	b, err := NewBatch(200, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	toks, _ := e.model.Tokenize(strings.Repeat("street ", 200), false, false)
	fill := func(from int) error {
		b.Clear()
		for i := 0; i < 200; i++ {
			b.Add(toks[i%len(toks)], from+i, i == 199, 0)
		}
		return c.Decode(b)
	}
	if err := fill(0); err != nil {
		t.Fatal(err)
	}
	if err := fill(200); !errors.Is(err, ErrKVCacheFull) {
		t.Fatalf("decode past the context = %v, want ErrKVCacheFull", err)
	}
	if err := c.SeqRemove(0, -1, -1); err != nil {
		t.Fatal(err)
	}
	if err := fill(0); err != nil {
		t.Errorf("after freeing the sequence: %v", err)
	}
}

func TestInterrupt(t *testing.T) {
	e := loadTiny(t)
	c := e.newContext(t, ContextParams{NCtx: 256})
	b, err := NewBatch(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := 0; i < 64; i++ {
		b.Add(Token(1+i), i, i == 63, 0)
	}
	c.Interrupt()
	if err := c.Decode(b); !errors.Is(err, ErrAborted) {
		t.Fatalf("decode after Interrupt = %v, want ErrAborted", err)
	}
	c.ResetInterrupt()
	if err := c.SeqRemove(0, -1, -1); err != nil {
		t.Fatal(err)
	}
	if err := c.Decode(b); err != nil {
		t.Fatalf("decode after ResetInterrupt: %v", err)
	}
	c.Close()
	c.Interrupt() // after Close: nothing to do, no crash
}

func TestCloseAndInUse(t *testing.T) {
	e := loadTiny(t)
	c, err := NewContext(e.model, ContextParams{NCtx: 256})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.model.Close(); !errors.Is(err, ErrInUse) {
		t.Errorf("close of a model in use = %v, want ErrInUse", err)
	}
	for i := 0; i < 2; i++ {
		if err := c.Close(); err != nil {
			t.Errorf("close %d: %v", i, err)
		}
	}
	b, _ := NewBatch(4, 1)
	b.Close()
	if _, err := b.Add(1, 0, true, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("add to a closed batch = %v, want ErrClosed", err)
	}
	if err := c.Decode(b); !errors.Is(err, ErrClosed) {
		t.Errorf("decode on a closed context = %v, want ErrClosed", err)
	}
	if _, err := NewBitmap(2, 2, make([]byte, 5)); err == nil {
		t.Errorf("short bitmap: no error")
	}
	if _, err := e.proj.Tokenize("no marker", []*Bitmap{nil}, false); err == nil {
		t.Errorf("marker count mismatch: no error")
	}
}

// recorder is a slog.Handler keeping messages.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	r.mu.Unlock()
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func TestLogRouting(t *testing.T) {
	rec := &recorder{}
	SetLogger(slog.New(rec))
	defer SetLogger(nil)
	e := loadTiny(t)
	_ = e
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.msgs) == 0 {
		t.Fatal("loading a model logged nothing through SetLogger")
	}
	for _, m := range rec.msgs {
		if strings.HasSuffix(m, "\n") {
			t.Errorf("log line keeps its newline: %q", m)
		}
	}
}

func BenchmarkEncodeImage(b *testing.B) {
	e := loadTiny(b)
	bm, err := NewBitmap(64, 48, testImage(0, 64, 48))
	if err != nil {
		b.Fatal(err)
	}
	defer bm.Close()
	ch, err := e.proj.Tokenize(e.prompt(b, "Score."), []*Bitmap{bm}, false)
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	img := 0
	for i := 0; i < ch.Len(); i++ {
		if ch.Kind(i) == ChunkImage {
			img = i
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.proj.Encode(ch, img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeStep measures one decoding step of P sequences in one
// batch, per sequence count.
func BenchmarkDecodeStep(b *testing.B) {
	e := loadTiny(b)
	for _, p := range []int{1, 4, 16} {
		b.Run("seqs="+strconv.Itoa(p), func(b *testing.B) {
			c := e.newContext(b, ContextParams{NCtx: 4096, NSeqMax: p})
			batch, err := NewBatch(p, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer batch.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pos := i % (4096/p - 1)
				if pos == 0 {
					c.SeqRemove(-1, -1, -1)
				}
				batch.Clear()
				for s := 0; s < p; s++ {
					batch.Add(Token(1+s), pos, true, s)
				}
				if err := c.Decode(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
