package local

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/native"
)

// fakeEngine is a deterministic engine in pure Go for the scheduler's
// tests. Each sequence is a running hash of what was decoded into it, so a
// sampled token depends on the sequence's whole content (prompt, image
// pixels, answer so far) and on nothing else: the answers are the same
// whatever the scheduling, and wrong bookkeeping (a position, a sequence
// not cleared, a prefix copied wrongly) changes them or is refused.
//
// It is strict where llama.cpp would silently misbehave: positions must
// follow on, a copy must go to an empty sequence, a sequence holds at most
// ContextSize cells (ErrKVCacheFull beyond), an image is decoded only from
// its own embedding, a sample needs logits of the last decode. Owner-side
// state is unlocked on purpose: under -race, a call from another goroutine
// than the owner's is reported.
//
// Prompts steer it: "fail:encode", "fail:eval" (the image) and "fail:step"
// make that call fail; "slow:image" and "slow:step" make it block until
// Interrupt (at most fakeBlock). A grammar holding "refuse" is refused, and
// one holding "fail:sample" fails at the second sample.
type fakeEngine struct {
	parallel  int           // P: steps carry at most P tokens; sequences 0..P
	ctxSize   int           // cells per sequence
	eogEvery  uint64        // a sampled token ends the answer when hash%eogEvery == 0; 0: never
	stepDelay time.Duration // every step takes this long (interruptible)
	hold      chan struct{} // when set, the first step sends "hold" on blocked and waits for it
	heldN     int           // tokens in the held step (read after "hold")
	broken    string        // "step" or "eval": every such call fails, as on a device that is lost

	// owner state, deliberately unlocked
	seqs    []fakeSeq
	outputs []uint64 // logits of the last Eval or Step, one per output
	maxLive int      // most tokens in one step
	steps   int      // steps decoded

	intrMu   sync.Mutex
	intrOn   bool
	intrCh   chan struct{} // closed by Interrupt
	blocked  chan string   // "image" or "step" when a slow call starts blocking
	aborted  atomic.Int32  // calls ended by an interrupt
	abortedN atomic.Int32  // tokens in the last interrupted step

	closed     atomic.Int32 // Close calls
	chunksOpen atomic.Int32
	samplers   atomic.Int32
	badMu      sync.Mutex
	bad        []string // misuse seen
}

// fakeBlock bounds a slow call that is never interrupted: the test then
// fails instead of hanging.
const fakeBlock = 20 * time.Second

type fakeSeq struct {
	h          uint64 // hash of the content
	pos, cells int
	slow, fail bool // steps carrying this sequence block / fail
}

var _ engine = (*fakeEngine)(nil)

func newFake(parallel, ctxSize int) *fakeEngine {
	return &fakeEngine{parallel: parallel, ctxSize: ctxSize, eogEvery: 16,
		seqs: make([]fakeSeq, parallel+2), intrCh: make(chan struct{}), blocked: make(chan string, 16)}
}

// misuse records a call the engine's contract forbids and returns it as an
// error.
func (e *fakeEngine) misuse(format string, args ...any) error {
	err := fmt.Errorf("fake: "+format, args...)
	e.badMu.Lock()
	e.bad = append(e.bad, err.Error())
	e.badMu.Unlock()
	return err
}

// check fails t on misuse or leaks seen once the predictor is closed.
func (e *fakeEngine) check(t testing.TB) {
	t.Helper()
	e.badMu.Lock()
	defer e.badMu.Unlock()
	for _, b := range e.bad {
		t.Errorf("engine misused: %s", b)
	}
	if n := e.closed.Load(); n != 1 {
		t.Errorf("engine closed %d times, want 1", n)
	}
	if n := e.chunksOpen.Load(); n != 0 {
		t.Errorf("%d tokenized prompts never closed", n)
	}
	if n := e.samplers.Load(); n != 0 {
		t.Errorf("%d samplers never closed", n)
	}
}

func (e *fakeEngine) live() error {
	if e.closed.Load() != 0 {
		return e.misuse("call after Close")
	}
	return nil
}

func hash(h uint64, parts ...any) uint64 {
	f := fnv.New64a()
	binary.Write(f, binary.LittleEndian, h)
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			f.Write([]byte(v))
		case []byte:
			f.Write(v)
		default:
			binary.Write(f, binary.LittleEndian, v)
		}
	}
	return f.Sum64()
}

func (e *fakeEngine) Template(msgs []native.ChatMessage) (string, error) {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "<|%s|> %s ", m.Role, m.Content)
	}
	b.WriteString("<|assistant|>")
	return b.String(), nil
}

type fakeChunks struct {
	e      *fakeEngine
	prompt string
	list   []fakeChunk
	closed atomic.Bool
}

type fakeChunk struct {
	kind native.ChunkKind
	text string         // a text chunk's text
	toks []native.Token // its tokens
	n    int            // cells
	npos int            // positions it advances (an image: its grid's larger side)
	h    uint64         // image: hash of its pixels
}

func words(s string) []native.Token {
	var toks []native.Token
	for _, w := range strings.Fields(s) {
		toks = append(toks, native.Token(1+hash(0, w)%1000))
	}
	return toks
}

func (e *fakeEngine) Tokenize(prompt string, w, h int, rgb []byte) (chunks, error) {
	if err := e.live(); err != nil {
		return nil, err
	}
	before, after, ok := strings.Cut(prompt, native.MediaMarker)
	if !ok || strings.Contains(after, native.MediaMarker) {
		return nil, fmt.Errorf("fake: want one media marker in %q", prompt)
	}
	if len(rgb) != 3*w*h {
		return nil, fmt.Errorf("fake: %d bytes for a %dx%d image", len(rgb), w, h)
	}
	ch := &fakeChunks{e: e, prompt: prompt}
	if t := words(before); len(t) > 0 {
		ch.list = append(ch.list, fakeChunk{kind: native.ChunkText, text: before, toks: t, n: len(t), npos: len(t)})
	}
	nx, ny := max(w/16, 1), max(h/16, 1)
	ch.list = append(ch.list, fakeChunk{kind: native.ChunkImage, n: nx * ny, npos: max(nx, ny), h: hash(0, int64(w), int64(h), rgb)})
	if t := words(after); len(t) > 0 {
		ch.list = append(ch.list, fakeChunk{kind: native.ChunkText, text: after, toks: t, n: len(t), npos: len(t)})
	}
	e.chunksOpen.Add(1)
	return ch, nil
}

func (c *fakeChunks) Len() int                    { return len(c.list) }
func (c *fakeChunks) Kind(i int) native.ChunkKind { return c.list[i].kind }
func (c *fakeChunks) NTokens(i int) int           { return c.list[i].n }
func (c *fakeChunks) Tokens(i int) []native.Token {
	return append([]native.Token(nil), c.list[i].toks...)
}
func (c *fakeChunks) has(marker string) bool { return strings.Contains(c.prompt, marker) }
func (c *fakeChunks) TotalTokens() int {
	n := 0
	for _, k := range c.list {
		n += k.n
	}
	return n
}

func (c *fakeChunks) Close() error {
	if c.closed.Swap(true) {
		return c.e.misuse("prompt closed twice")
	}
	c.e.chunksOpen.Add(-1)
	return nil
}

type fakeEmbedding struct {
	ch *fakeChunks
	i  int
	h  uint64
	d  time.Duration
}

func (m *fakeEmbedding) EncodeTime() time.Duration { return m.d }
func (m *fakeEmbedding) Bytes() int                { return 1 << 10 }

func (e *fakeEngine) Encode(c chunks, i int) (embedding, error) {
	if err := e.live(); err != nil {
		return nil, err
	}
	ch := c.(*fakeChunks)
	if ch.closed.Load() {
		return nil, e.misuse("encode of a closed prompt")
	}
	if ch.list[i].kind != native.ChunkImage {
		return nil, e.misuse("encode of chunk %d, which is not an image", i)
	}
	if ch.has("fail:encode") {
		return nil, errors.New("fake: the vision encoder failed")
	}
	return &fakeEmbedding{ch: ch, i: i, h: hash(ch.list[i].h, "encoded"), d: time.Millisecond}, nil
}

// wait lasts d, or until Interrupt: then it returns ErrAborted.
func (e *fakeEngine) wait(d time.Duration, what string) error {
	e.intrMu.Lock()
	on, ch := e.intrOn, e.intrCh
	e.intrMu.Unlock()
	if on {
		e.aborted.Add(1)
		return native.ErrAborted
	}
	if d == 0 {
		return nil
	}
	if what != "" {
		select {
		case e.blocked <- what:
		default:
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		e.aborted.Add(1)
		return native.ErrAborted
	case <-t.C:
		if what != "" {
			return e.misuse("slow %s never interrupted", what)
		}
		return nil
	}
}

func (e *fakeEngine) seq(s int) (*fakeSeq, error) {
	if s < 0 || s >= len(e.seqs) {
		return nil, e.misuse("sequence %d, the engine has %d", s, len(e.seqs))
	}
	return &e.seqs[s], nil
}

func (e *fakeEngine) Eval(c chunks, i int, emb embedding, pos, s int, logitsLast bool) (int, error) {
	if err := e.live(); err != nil {
		return pos, err
	}
	ch := c.(*fakeChunks)
	st, err := e.seq(s)
	if err != nil {
		return pos, err
	}
	e.outputs = e.outputs[:0]
	k := ch.list[i]
	if pos != st.pos {
		return pos, e.misuse("eval at position %d, sequence %d is at %d", pos, s, st.pos)
	}
	var h uint64
	delay, what := time.Duration(0), ""
	switch k.kind {
	case native.ChunkImage:
		m, ok := emb.(*fakeEmbedding)
		if !ok || m.ch != ch || m.i != i {
			return pos, e.misuse("image chunk %d decoded without its embedding", i)
		}
		if ch.has("fail:eval") {
			return pos, errors.New("fake: image decode failed")
		}
		if e.broken == "eval" {
			return pos, errors.New("fake: the device is lost")
		}
		if ch.has("slow:image") {
			delay, what = fakeBlock, "image"
		}
		h = hash(st.h, m.h, int64(pos))
	default:
		if emb != nil {
			return pos, e.misuse("text chunk %d decoded with an embedding", i)
		}
		h = hash(st.h, k.toks, int64(pos))
	}
	if st.cells+k.n > e.ctxSize {
		return pos, fmt.Errorf("fake: %w: sequence %d holds %d of %d cells, chunk %d needs %d", native.ErrKVCacheFull, s, st.cells, e.ctxSize, i, k.n)
	}
	if err := e.wait(delay, what); err != nil {
		return pos, err
	}
	st.h, st.pos, st.cells = h, pos+k.npos, st.cells+k.n
	// Only the chunk with the marker marks the sequence, so that a shared
	// prefix copied from a marked request's spare sequence is not marked.
	st.slow = st.slow || strings.Contains(k.text, "slow:step")
	st.fail = st.fail || strings.Contains(k.text, "fail:step")
	if logitsLast {
		e.outputs = append(e.outputs, h)
	}
	return st.pos, nil
}

func (e *fakeEngine) Step(toks []stepToken) error {
	if err := e.live(); err != nil {
		return err
	}
	e.outputs = e.outputs[:0]
	if len(toks) == 0 || len(toks) > e.parallel {
		return e.misuse("step of %d tokens, want 1 to %d", len(toks), e.parallel)
	}
	slow, fail := false, false
	for i, t := range toks {
		st, err := e.seq(t.seq)
		if err != nil {
			return err
		}
		if i > 0 && t.seq <= toks[i-1].seq {
			return e.misuse("step sequence %d after %d, want increasing", t.seq, toks[i-1].seq)
		}
		if t.seq == e.parallel {
			return e.misuse("step on sequence %d, the engine's padding", t.seq)
		}
		if t.pos != st.pos {
			return e.misuse("step at position %d, sequence %d is at %d", t.pos, t.seq, st.pos)
		}
		if st.cells+1 > e.ctxSize {
			return fmt.Errorf("fake: %w: sequence %d holds %d cells", native.ErrKVCacheFull, t.seq, st.cells)
		}
		slow, fail = slow || st.slow, fail || st.fail
	}
	if e.hold != nil {
		e.heldN = len(toks)
		e.blocked <- "hold"
		<-e.hold
		e.hold = nil
	}
	delay, what := e.stepDelay, ""
	if slow {
		delay, what = fakeBlock, "step"
	}
	if err := e.wait(delay, what); err != nil {
		e.abortedN.Store(int32(len(toks)))
		return err
	}
	if fail {
		return errors.New("fake: decode failed")
	}
	if e.broken == "step" {
		return errors.New("fake: the device is lost")
	}
	e.steps++
	e.maxLive = max(e.maxLive, len(toks))
	for _, t := range toks {
		st := &e.seqs[t.seq]
		st.h = hash(st.h, int32(t.tok), int64(t.pos))
		st.pos++
		st.cells++
		e.outputs = append(e.outputs, st.h)
	}
	return nil
}

func (e *fakeEngine) ClearSeq(s int) error {
	if err := e.live(); err != nil {
		return err
	}
	st, err := e.seq(s)
	if err != nil {
		return err
	}
	*st = fakeSeq{}
	return nil
}

func (e *fakeEngine) CopySeq(src, dst int) error {
	if err := e.live(); err != nil {
		return err
	}
	from, err := e.seq(src)
	if err != nil {
		return err
	}
	to, err := e.seq(dst)
	if err != nil {
		return err
	}
	if to.cells != 0 {
		return e.misuse("copy into sequence %d, which holds %d cells", dst, to.cells)
	}
	*to = *from
	return nil
}

type fakeSampler struct {
	e      *fakeEngine
	seed   uint32
	failAt int // the sample that fails; 0: none
	n      int
	closed bool
}

func (e *fakeEngine) NewSampler(p native.SamplerParams) (sampler, error) {
	if err := e.live(); err != nil {
		return nil, err
	}
	if strings.Contains(p.Grammar, "refuse") {
		return nil, errors.New("fake: grammar refused")
	}
	s := &fakeSampler{e: e, seed: p.Seed}
	if strings.Contains(p.Grammar, "fail:sample") {
		s.failAt = 2
	}
	e.samplers.Add(1)
	return s, nil
}

func (s *fakeSampler) Sample(i int) (native.Token, bool, error) {
	e := s.e
	if err := e.live(); err != nil {
		return 0, false, err
	}
	if s.closed {
		return 0, false, e.misuse("sample with a closed sampler")
	}
	if i == -1 {
		i = len(e.outputs) - 1
	}
	if i < 0 || i >= len(e.outputs) {
		return 0, false, e.misuse("sample of output %d, the last decode has %d", i, len(e.outputs))
	}
	s.n++
	if s.n == s.failAt {
		return 0, false, errors.New("fake: the grammar allows no token")
	}
	h := hash(e.outputs[i], s.seed)
	end := e.eogEvery > 0 && h%e.eogEvery == 0
	return native.Token(h % 26), end, nil
}

func (s *fakeSampler) Close() error {
	if s.closed {
		return s.e.misuse("sampler closed twice")
	}
	s.closed = true
	s.e.samplers.Add(-1)
	return nil
}

func (e *fakeEngine) Detokenize(toks []native.Token) (string, error) {
	if err := e.live(); err != nil {
		return "", err
	}
	b := make([]byte, len(toks))
	for i, t := range toks {
		b[i] = 'a' + byte(t)
	}
	return string(b), nil
}

func (e *fakeEngine) Interrupt() {
	e.intrMu.Lock()
	defer e.intrMu.Unlock()
	if !e.intrOn {
		e.intrOn = true
		close(e.intrCh)
	}
}

func (e *fakeEngine) ResetInterrupt() {
	e.intrMu.Lock()
	defer e.intrMu.Unlock()
	if e.intrOn {
		e.intrOn = false
		e.intrCh = make(chan struct{})
	}
}

func (e *fakeEngine) Close() error {
	e.closed.Add(1)
	return nil
}
