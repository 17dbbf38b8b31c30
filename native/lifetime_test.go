//go:build llamacpp

package native

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Tests of enforced lifetimes: what keeps a model open, Close twice and
// calls after Close, Close racing with use, and whose log lines an error
// quotes. Run them with -race too.

// loadModel loads the tiny model alone (no projector), closed at cleanup.
func loadModel(t *testing.T) *Model {
	t.Helper()
	if tiny.err != nil {
		t.Fatalf("write tiny synthetic model: %v", tiny.err)
	}
	m, err := LoadModel(tiny.files.Model, ModelParams{})
	if err != nil {
		t.Fatalf("load model: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// decodeOne decodes one token into a fresh sequence 0 of c with logits.
func decodeOne(c *Context, tok Token) error {
	b, err := NewBatch(1, 1)
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := b.Add(tok, 0, true, 0); err != nil {
		return err
	}
	if err := c.SeqRemove(0, -1, -1); err != nil {
		return err
	}
	return c.Decode(b)
}

func TestModelCloseRefusedWhileInUse(t *testing.T) {
	const grammar = `root ::= "Safety score: " [0-9]`
	tests := []struct {
		name string
		kind string // how Model.Close's error names the user
		open func(*Model) (interface{ Close() error }, error)
		// use exercises the user after the refused Close, to show the model
		// it holds is still intact.
		use func(*testing.T, *Model, interface{ Close() error })
	}{
		{"context", "1 context",
			func(m *Model) (interface{ Close() error }, error) {
				return NewContext(m, ContextParams{NCtx: 256, Threads: 2})
			},
			func(t *testing.T, m *Model, u interface{ Close() error }) {
				if err := decodeOne(u.(*Context), 1); err != nil {
					t.Errorf("decode: %v", err)
				}
			}},
		{"projector", "1 projector",
			func(m *Model) (interface{ Close() error }, error) {
				return LoadProjector(tiny.files.Mmproj, m, ProjectorParams{Threads: 2})
			},
			func(t *testing.T, m *Model, u interface{ Close() error }) {
				ch, err := u.(*Projector).Tokenize("no image here", nil, false)
				if err != nil {
					t.Errorf("tokenize: %v", err)
					return
				}
				ch.Close()
			}},
		{"grammar sampler", "1 sampler",
			func(m *Model) (interface{ Close() error }, error) {
				return NewSampler(m, SamplerParams{Grammar: grammar})
			},
			func(t *testing.T, m *Model, u interface{ Close() error }) {
				// The grammar reads the vocabulary at every step.
				c, err := NewContext(m, ContextParams{NCtx: 256, Threads: 2})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if err := decodeOne(c, 1); err != nil {
					t.Fatal(err)
				}
				tok, err := u.(*Sampler).Sample(c, 0)
				if err != nil {
					t.Fatalf("sample: %v", err)
				}
				if piece, _ := m.Detokenize([]Token{tok}, false, false); !strings.HasPrefix("Safety score: ", piece) || piece == "" {
					t.Errorf("grammar sampler picked %q, not the start of the grammar's text", piece)
				}
			}},
		{"plain sampler", "1 sampler",
			func(m *Model) (interface{ Close() error }, error) { return NewSampler(m, SamplerParams{}) },
			nil},
		{"lora", "1 lora adapter",
			func(m *Model) (interface{ Close() error }, error) { return LoadLoRA(m, tiny.files.LoRA) },
			func(t *testing.T, m *Model, u interface{ Close() error }) {
				c, err := NewContext(m, ContextParams{NCtx: 256, Threads: 2})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if err := c.SetLoRA([]LoRAScale{{Adapter: u.(*LoRA), Scale: 1}}); err != nil {
					t.Errorf("set lora: %v", err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadModel(t)
			u, err := tt.open(m)
			if err != nil {
				t.Fatal(err)
			}
			err = m.Close()
			if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), tt.kind) || !strings.Contains(err.Error(), tiny.files.Model) {
				t.Fatalf("close of a model with a live %s = %v, want ErrInUse naming the model and %q", tt.name, err, tt.kind)
			}
			if _, err := m.Tokenize("still open", false, false); err != nil {
				t.Errorf("tokenize after a refused close: %v", err)
			}
			if tt.use != nil {
				tt.use(t, m, u)
			}
			if err := u.Close(); err != nil {
				t.Fatalf("close %s: %v", tt.name, err)
			}
			if err := m.Close(); err != nil {
				t.Fatalf("close of the model once its %s is closed: %v", tt.name, err)
			}
		})
	}
}

// TestCloseIsIdempotent closes every kind of object twice and checks that
// its calls then answer ErrClosed.
func TestCloseIsIdempotent(t *testing.T) {
	m := loadModel(t)
	p, err := LoadProjector(tiny.files.Mmproj, m, ProjectorParams{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := NewContext(m, ContextParams{NCtx: 512, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prompt := "<|im_start|>user\n" + MediaMarker + "Rate it.<|im_end|>\n<|im_start|>assistant\n"
	newChunks := func(t *testing.T) *Chunks {
		bm, err := NewBitmap(32, 32, testImage(0, 32, 32))
		if err != nil {
			t.Fatal(err)
		}
		defer bm.Close()
		ch, err := p.Tokenize(prompt, []*Bitmap{bm}, false)
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	imageAt := func(ch *Chunks) int {
		for i := 0; i < ch.Len(); i++ {
			if ch.Kind(i) == ChunkImage {
				return i
			}
		}
		t.Fatal("no image chunk")
		return -1
	}
	tests := []struct {
		name  string
		open  func(t *testing.T) interface{ Close() error }
		after map[string]func(u any) error // calls that must answer ErrClosed after Close
	}{
		{"batch", func(t *testing.T) interface{ Close() error } {
			b, err := NewBatch(4, 1)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, map[string]func(any) error{
			"add":    func(u any) error { _, err := u.(*Batch).Add(1, 0, true, 0); return err },
			"decode": func(u any) error { return c.Decode(u.(*Batch)) },
		}},
		{"sampler", func(t *testing.T) interface{ Close() error } {
			s, err := NewSampler(m, SamplerParams{Grammar: `root ::= "a"`})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, map[string]func(any) error{
			"sample": func(u any) error { _, err := u.(*Sampler).Sample(c, -1); return err },
		}},
		{"lora", func(t *testing.T) interface{ Close() error } {
			a, err := LoadLoRA(m, tiny.files.LoRA)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}, map[string]func(any) error{
			"set lora": func(u any) error { return c.SetLoRA([]LoRAScale{{Adapter: u.(*LoRA), Scale: 1}}) },
		}},
		{"bitmap", func(t *testing.T) interface{ Close() error } {
			bm, err := NewBitmap(8, 8, testImage(1, 8, 8))
			if err != nil {
				t.Fatal(err)
			}
			return bm
		}, map[string]func(any) error{
			"tokenize": func(u any) error { _, err := p.Tokenize(MediaMarker, []*Bitmap{u.(*Bitmap)}, false); return err },
		}},
		{"chunks", func(t *testing.T) interface{ Close() error } { return newChunks(t) }, map[string]func(any) error{
			"encode":      func(u any) error { _, err := p.Encode(u.(*Chunks), 1); return err },
			"eval chunk":  func(u any) error { _, err := p.EvalChunk(c, u.(*Chunks), 0, 0, 0, false); return err },
			"eval chunks": func(u any) error { _, err := p.EvalChunks(c, u.(*Chunks), 0, 0, false); return err },
			"len":         func(u any) error { return zeroIsClosed(u.(*Chunks).Len()) },
			"tokens":      func(u any) error { return zeroIsClosed(len(u.(*Chunks).Tokens(0))) },
			"total":       func(u any) error { return zeroIsClosed(u.(*Chunks).TotalTokens()) },
		}},
		{"projector", func(t *testing.T) interface{ Close() error } {
			p2, err := LoadProjector(tiny.files.Mmproj, m, ProjectorParams{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			return p2
		}, map[string]func(any) error{
			"tokenize": func(u any) error { _, err := u.(*Projector).Tokenize("text", nil, false); return err },
			"encode": func(u any) error {
				ch := newChunks(t)
				defer ch.Close()
				_, err := u.(*Projector).Encode(ch, imageAt(ch))
				return err
			},
			"decode image": func(u any) error {
				ch := newChunks(t)
				defer ch.Close()
				i := imageAt(ch)
				emb, err := p.Encode(ch, i)
				if err != nil {
					return err
				}
				_, err = u.(*Projector).DecodeImage(c, ch, i, emb, 0, 0)
				return err
			},
			"eval chunks": func(u any) error {
				ch := newChunks(t)
				defer ch.Close()
				_, err := u.(*Projector).EvalChunks(c, ch, 0, 0, false)
				return err
			},
		}},
		{"context", func(t *testing.T) interface{ Close() error } {
			c2, err := NewContext(m, ContextParams{NCtx: 256, Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			return c2
		}, map[string]func(any) error{
			"decode":     func(u any) error { return decodeOne(u.(*Context), 1) },
			"logits":     func(u any) error { _, err := u.(*Context).Logits(-1, nil); return err },
			"seq remove": func(u any) error { return u.(*Context).SeqRemove(0, -1, -1) },
			"seq copy":   func(u any) error { return u.(*Context).SeqCopy(0, 0, -1, -1) },
			"set lora":   func(u any) error { return u.(*Context).SetLoRA(nil) },
			"nctx":       func(u any) error { return zeroIsClosed(u.(*Context).NCtx()) },
			"eval chunks": func(u any) error {
				ch := newChunks(t)
				defer ch.Close()
				_, err := p.EvalChunks(u.(*Context), ch, 0, 0, false)
				return err
			},
			"sample": func(u any) error {
				s, err := NewSampler(m, SamplerParams{})
				if err != nil {
					return err
				}
				defer s.Close()
				_, err = s.Sample(u.(*Context), -1)
				return err
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.open(t)
			for i := 0; i < 2; i++ {
				if err := u.Close(); err != nil {
					t.Fatalf("close %d: %v", i+1, err)
				}
			}
			for name, call := range tt.after {
				if err := call(u); !errors.Is(err, ErrClosed) {
					t.Errorf("%s after close = %v, want ErrClosed", name, err)
				}
			}
		})
	}

	// The model last, once everything made from it is closed.
	for _, u := range []interface{ Close() error }{c, p} {
		if err := u.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := m.Close(); err != nil {
			t.Fatalf("model close %d: %v", i+1, err)
		}
	}
	for name, call := range map[string]func() error{
		"tokenize":   func() error { _, err := m.Tokenize("x", false, false); return err },
		"detokenize": func() error { _, err := m.Detokenize([]Token{1}, false, false); return err },
		"apply chat template": func() error {
			_, err := m.ApplyChatTemplate("", []ChatMessage{{Role: "user", Content: "x"}}, true)
			return err
		},
		"new context":    func() error { _, err := NewContext(m, ContextParams{}); return err },
		"new sampler":    func() error { _, err := NewSampler(m, SamplerParams{}); return err },
		"load lora":      func() error { _, err := LoadLoRA(m, tiny.files.LoRA); return err },
		"load projector": func() error { _, err := LoadProjector(tiny.files.Mmproj, m, ProjectorParams{}); return err },
	} {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("model %s after close = %v, want ErrClosed", name, err)
		}
	}
	if m.IsEOG(Token(m.Info().NVocab - 1)) {
		t.Errorf("IsEOG on a closed model = true")
	}
}

// zeroIsClosed turns the zero value that accessors without an error return
// after Close into ErrClosed.
func zeroIsClosed(n int) error {
	if n == 0 {
		return ErrClosed
	}
	return fmt.Errorf("got %d after close, want 0", n)
}

// TestConcurrentCloseAndUse closes each kind of object while other
// goroutines use it: every call either works or answers ErrClosed, and the
// race detector (go test -race) sees every access ordered.
func TestConcurrentCloseAndUse(t *testing.T) {
	const users, rounds = 3, 30
	bm, err := NewBitmap(32, 32, testImage(2, 32, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer bm.Close()
	prompt := "<|im_start|>user\n" + MediaMarker + "Rate it.<|im_end|>\n<|im_start|>assistant\n"
	tests := []struct {
		name string
		// setup returns the object to close and one use of it.
		setup func(t *testing.T, m *Model) (interface{ Close() error }, func() error)
	}{
		{"model", func(t *testing.T, m *Model) (interface{ Close() error }, func() error) {
			return m, func() error {
				if _, err := m.Tokenize("a street at night", true, false); err != nil {
					return err
				}
				m.IsEOG(1)
				_, err := m.ApplyChatTemplate("", []ChatMessage{{Role: "user", Content: "hi"}}, true)
				return err
			}
		}},
		{"context", func(t *testing.T, m *Model) (interface{ Close() error }, func() error) {
			c, err := NewContext(m, ContextParams{NCtx: 256, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex // the users share sequence 0
			return c, func() error {
				mu.Lock()
				defer mu.Unlock()
				b, err := NewBatch(1, 1)
				if err != nil {
					return err
				}
				defer b.Close()
				b.Add(1, 0, true, 0)
				if err := c.SeqRemove(0, -1, -1); err != nil {
					return err
				}
				if err := c.Decode(b); err != nil {
					return err
				}
				_, err = c.Logits(0, nil)
				return err
			}
		}},
		{"sampler", func(t *testing.T, m *Model) (interface{ Close() error }, func() error) {
			c, err := NewContext(m, ContextParams{NCtx: 256, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if err := decodeOne(c, 1); err != nil {
				t.Fatal(err)
			}
			s, err := NewSampler(m, SamplerParams{Temperature: 0.8, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			return s, func() error { _, err := s.Sample(c, 0); return err }
		}},
		{"projector", func(t *testing.T, m *Model) (interface{ Close() error }, func() error) {
			p, err := LoadProjector(tiny.files.Mmproj, m, ProjectorParams{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			return p, func() error {
				ch, err := p.Tokenize(prompt, []*Bitmap{bm}, false)
				if err != nil {
					return err
				}
				defer ch.Close()
				_, err = p.Encode(ch, 1)
				return err
			}
		}},
		{"chunks", func(t *testing.T, m *Model) (interface{ Close() error }, func() error) {
			p, err := LoadProjector(tiny.files.Mmproj, m, ProjectorParams{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			ch, err := p.Tokenize(prompt, []*Bitmap{bm}, false)
			if err != nil {
				t.Fatal(err)
			}
			return ch, func() error {
				if ch.Len() == 0 || ch.TotalTokens() == 0 {
					return ErrClosed
				}
				_, err := p.Encode(ch, 1)
				return err
			}
		}},
		{"batch", func(t *testing.T, m *Model) (interface{ Close() error }, func() error) {
			c, err := NewContext(m, ContextParams{NCtx: 256, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			b, err := NewBatch(1, 1)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex // the users share the batch and the context's sequence
			return b, func() error {
				mu.Lock()
				defer mu.Unlock()
				b.Clear()
				if _, err := b.Add(1, 0, true, 0); err != nil {
					return err
				}
				if err := c.SeqRemove(0, -1, -1); err != nil {
					return err
				}
				return c.Decode(b)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadModel(t)
			for r := 0; r < rounds/len(tests)+1; r++ {
				obj, use := tt.setup(t, m)
				var wg, running sync.WaitGroup
				errs := make(chan error, users)
				for i := 0; i < users; i++ {
					wg.Add(1)
					running.Add(1)
					go func() {
						defer wg.Done()
						err := use()
						running.Done()
						if err != nil {
							t.Errorf("use before close: %v", err)
							return
						}
						for err == nil {
							err = use()
						}
						errs <- err
					}()
				}
				running.Wait() // every user is under way
				if err := obj.Close(); err != nil {
					t.Fatalf("close %s while in use: %v", tt.name, err)
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if !errors.Is(err, ErrClosed) {
						t.Errorf("a use racing with close got %v, want ErrClosed", err)
					}
				}
				if err := obj.Close(); err != nil {
					t.Errorf("second close: %v", err)
				}
				if tt.name == "model" {
					break // nothing to make from a closed model
				}
			}
		})
	}
}

// TestLoRACloseRacesSetLoRA applies and drops an adapter on one goroutine
// while another closes it: the close is refused while the adapter is
// applied, and once it succeeds no SetLoRA may use the freed adapter.
func TestLoRACloseRacesSetLoRA(t *testing.T) {
	m := loadModel(t)
	c, err := NewContext(m, ContextParams{NCtx: 256, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for round := 0; round < 20; round++ {
		a, err := LoadLoRA(m, tiny.files.LoRA)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		applied := 0
		go func() { // the context's owner
			defer wg.Done()
			for {
				err := c.SetLoRA([]LoRAScale{{Adapter: a, Scale: 1}})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("set lora: %v", err)
					return
				}
				applied++
				// Decode with the adapter applied: were it freed, this
				// would read freed memory.
				if err := decodeOne(c, 2); err != nil {
					t.Errorf("decode with the adapter: %v", err)
				}
				if err := c.SetLoRA(nil); err != nil {
					t.Errorf("drop lora: %v", err)
					return
				}
			}
		}()
		refused := 0
		go func() {
			defer wg.Done()
			for {
				err := a.Close()
				if err == nil {
					return
				}
				if !errors.Is(err, ErrInUse) {
					t.Errorf("close lora = %v, want nil or ErrInUse", err)
					return
				}
				refused++
			}
		}()
		wg.Wait()
		t.Logf("round %d: applied %d times, close refused %d times", round, applied, refused)
		if err := c.SetLoRA([]LoRAScale{{Adapter: a, Scale: 1}}); !errors.Is(err, ErrClosed) {
			t.Fatalf("set lora of a closed adapter = %v, want ErrClosed", err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("model close after every adapter was closed: %v (a use count leaked)", err)
	}
}

// TestConcurrentFailuresQuoteOwnLines makes two goroutines fail at the same
// time, each with llama.cpp log lines of its own, and checks that each
// error quotes its own lines and never the other's. llama.cpp's grammar
// check logs "unsupported grammar, left recursion detected for nonterminal
// at index N" for the first rule N that recurses on the left, without a
// final newline, so an unfinished line is also attributed correctly.
func TestConcurrentFailuresQuoteOwnLines(t *testing.T) {
	m := loadModel(t)
	grammar := func(n int) string { // rule n is left-recursive
		var b strings.Builder
		b.WriteString("root ::= \"a\"\n")
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, "r%d ::= \"b\"\n", i)
		}
		fmt.Fprintf(&b, "r%d ::= r%d \"c\"\n", n, n)
		return b.String()
	}
	const rounds = 200
	idx := []int{3, 7}
	var wg sync.WaitGroup
	for g, n := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fmt.Sprintf("at index %d", n)
			other := fmt.Sprintf("at index %d", idx[1-g])
			for r := 0; r < rounds; r++ {
				s, err := NewSampler(m, SamplerParams{Grammar: grammar(n)})
				if err == nil {
					s.Close()
					t.Errorf("left-recursive grammar %d: no error", n)
					return
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Errorf("grammar %d: %v is not an *Error", n, err)
					return
				}
				if len(e.Log) == 0 {
					t.Errorf("grammar %d, round %d: the error quotes no log line: %v", n, r, err)
					return
				}
				for _, line := range e.Log {
					if strings.Contains(line, other) || !strings.Contains(line, own) {
						t.Errorf("grammar %d, round %d: quotes %q, want only lines %q", n, r, line, own)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkCaptureLog measures what tying log lines to a call adds to every
// call into C that may fail (Decode and Sample once per step).
func BenchmarkCaptureLog(b *testing.B) {
	for i := 0; i < b.N; i++ {
		captureLog().end()
	}
}
