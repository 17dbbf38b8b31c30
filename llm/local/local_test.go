//go:build llamacpp

package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/native"
)

// The tests run the real engine on the tiny synthetic Qwen2-VL of
// llm/gguf/synth (random weights: the text is gibberish, but deterministic
// and dependent on the image).

var tiny struct {
	files synth.Files
	err   error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "local-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tiny.files, tiny.err = synth.Write(dir, synth.Options{Shape: synth.Tiny, Seed: 1, LoRA: true})
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tinyConfig is a Config for the tiny model with p sequences.
func tinyConfig(t testing.TB, p int) Config {
	t.Helper()
	if tiny.err != nil {
		t.Fatalf("write tiny synthetic model: %v", tiny.err)
	}
	// EmbeddingCacheMiB -1: every test encodes its images (the cache is the
	// process's, and would otherwise serve one test from another's).
	return Config{ModelFile: tiny.files.Model, MmprojFile: tiny.files.Mmproj, Parallel: p, Threads: 1,
		ImageMaxTokens: 256, MaxTokens: 12, EmbeddingCacheMiB: -1}
}

func newTiny(t testing.TB, cfg Config) *Predictor {
	t.Helper()
	p, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// TestParallelMatchesSequential scores 8 images with 1, 3 and 8 sequences:
// every request gets one result, and the answers match parallel 1's and a
// plain one-at-a-time loop through native.
func TestParallelMatchesSequential(t *testing.T) {
	reqs := requests(t, 8)
	var base map[string]string
	for _, par := range []int{1, 3, 8} {
		t.Run(fmt.Sprintf("parallel=%d", par), func(t *testing.T) {
			p := newTiny(t, tinyConfig(t, par))
			got := texts(t, collect(t, reqs, p.PredictBatch(t.Context(), reqs)))
			if par == 1 {
				base = got
				plain := plainLoop(t, tinyConfig(t, 1), reqs)
				for id, want := range plain {
					if got[id] != want {
						t.Errorf("%s: batched path says %q, plain loop %q", id, got[id], want)
					}
				}
				distinct := map[string]bool{}
				for _, s := range got {
					distinct[s] = true
				}
				if len(distinct) < 2 {
					t.Errorf("8 different images gave %d distinct answers: %q", len(distinct), got)
				}
				if st := p.Stats(); st.PrefixReuses != len(reqs)-1 {
					t.Errorf("shared prefix reused %d times, want %d", st.PrefixReuses, len(reqs)-1)
				}
				return
			}
			if base == nil {
				t.Skip("parallel=1 failed")
			}
			same := 0
			for id, s := range got {
				if base[id] == s {
					same++
				} else {
					t.Logf("%s: parallel %d says %q, parallel 1 %q", id, par, s, base[id])
				}
			}
			if same != len(reqs) {
				t.Errorf("%d of %d answers at parallel %d match parallel 1", same, len(reqs), par)
			}
		})
	}
}

// TestDeterministic: the same request twice gives the same text, with
// timings and usage filled in.
func TestDeterministic(t *testing.T) {
	p := newTiny(t, tinyConfig(t, 2))
	req := requests(t, 1)[0]
	a, err := p.Predict(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Predict(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Text != b.Text {
		t.Errorf("same request, different answers: %q then %q", a.Text, b.Text)
	}
	if a.Usage.PromptTokens == 0 || a.Usage.CompletionTokens == 0 || a.Usage.CompletionTokens > 12 {
		t.Errorf("usage %+v: want prompt tokens and 1..12 answer tokens", a.Usage)
	}
	if tm := a.Timings; tm == nil || tm.ImageEncodeMS <= 0 || tm.PrefillMS <= 0 || tm.FirstTokenMS <= 0 {
		t.Errorf("timings %+v: want image encode, prefill and first token times", a.Timings)
	}
	if a.Backend != "local" || a.Model != filepath.Base(tiny.files.Model) {
		t.Errorf("backend %q model %q", a.Backend, a.Model)
	}
}

// TestFailuresFailAlone puts bad images and an oversized prompt in the
// middle of a batch: those fail with errors naming the image, the rest
// answer as they do alone.
func TestFailuresFailAlone(t *testing.T) {
	dir := t.TempDir()
	good := requests(t, 6)
	png0 := streetPNG(t, 0, 112, 84)
	writeFile := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	bad := []struct {
		req  *llm.Request
		want string
	}{
		{&llm.Request{ID: "truncated", ImagePath: writeFile("truncated.png", png0[:len(png0)/2])}, "truncated.png"},
		{&llm.Request{ID: "empty", ImagePath: writeFile("empty.jpg", nil)}, "empty"},
		{&llm.Request{ID: "text", ImagePath: writeFile("notes.png", []byte("just some notes\n"))}, "text"},
		{&llm.Request{ID: "audio", ImagePath: writeFile("sound.wav", append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 64)...))}, "audio"},
		{&llm.Request{ID: "missing", ImagePath: filepath.Join(dir, "nope.jpg")}, "nope.jpg"},
		{&llm.Request{ID: "too-long", Image: streetPNG(t, 1, 448, 336)}, "more than the"},
	}
	reqs := []*llm.Request{good[0], good[1], good[2]}
	for _, b := range bad {
		b.req.Prompt = good[0].Prompt
		reqs = append(reqs, b.req)
	}
	reqs = append(reqs, good[3:]...)
	cfg := tinyConfig(t, 3)
	cfg.ContextSize = 128 // the 448x336 image (192 tokens) does not fit
	p := newTiny(t, cfg)
	alone := texts(t, collect(t, good, p.PredictBatch(t.Context(), good)))
	got := collect(t, reqs, p.PredictBatch(t.Context(), reqs))
	for _, b := range bad {
		r := got[b.req.ID]
		if r.Err == nil {
			t.Errorf("%s: no error, answer %q", b.req.ID, r.Prediction.Text)
		} else if !strings.Contains(r.Err.Error(), b.want) {
			t.Errorf("%s: error %q does not mention %q", b.req.ID, r.Err, b.want)
		}
	}
	for _, g := range good {
		r := got[g.ID]
		if r.Err != nil {
			t.Errorf("%s: %v", g.ID, r.Err)
		} else if r.Prediction.Text != alone[g.ID] {
			t.Errorf("%s: %q beside bad requests, %q without them", g.ID, r.Prediction.Text, alone[g.ID])
		}
	}
}

// TestCancelMidBatch cancels a long batch after its first answer: the rest
// are answered with the context's error promptly, and Close leaves no
// goroutine behind.
func TestCancelMidBatch(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := tinyConfig(t, 2)
	cfg.MaxTokens = 64
	p, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	reqs := requests(t, 16)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch := p.PredictBatch(ctx, reqs)
	first := <-ch
	if first.Err != nil {
		t.Fatalf("first result: %v", first.Err)
	}
	cancel()
	start := time.Now()
	n, cancelled := 1, 0
	for r := range ch {
		n++
		if errors.Is(r.Err, context.Canceled) {
			cancelled++
		} else if r.Err != nil {
			t.Errorf("%s: %v, want context.Canceled or an answer", r.Request.ID, r.Err)
		}
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("batch took %v to end after cancel", took)
	}
	if n != len(reqs) || cancelled == 0 {
		t.Errorf("%d results (%d cancelled) for %d requests", n, cancelled, len(reqs))
	}
	// The predictor still works for a new batch after a cancelled one.
	if _, err := p.Predict(t.Context(), reqs[0]); err != nil {
		t.Errorf("predict after cancel: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// TestClose answers requests in flight and later ones with ErrClosed.
func TestClose(t *testing.T) {
	cfg := tinyConfig(t, 2)
	cfg.MaxTokens = 64
	p, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	reqs := requests(t, 8)
	ch := p.PredictBatch(t.Context(), reqs)
	<-ch
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for r := range ch {
		if r.Err != nil && !errors.Is(r.Err, ErrClosed) {
			t.Errorf("%s: %v, want ErrClosed", r.Request.ID, r.Err)
		}
	}
	if _, err := p.Predict(t.Context(), reqs[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("predict after close: %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// TestConstrained: a grammar and a JSON schema hold every answer to a score.
func TestConstrained(t *testing.T) {
	schema := `{"type":"object","properties":{"score":{"type":"integer","minimum":1,"maximum":10},"reason":{"type":"string","maxLength":20}},"required":["score","reason"]}`
	tests := []struct {
		name string
		opts llm.Options
		ok   func(string) error
	}{
		{"grammar", llm.Options{MaxTokens: 40, Grammar: `root ::= "Safety score: " ([1-9] | "10") "/10"`}, func(s string) error {
			if !regexp.MustCompile(`^Safety score: ([1-9]|10)/10$`).MatchString(s) {
				return fmt.Errorf("does not match the grammar")
			}
			return nil
		}},
		{"json schema", llm.Options{MaxTokens: 200, JSONSchema: schema}, func(s string) error {
			var v struct {
				Score  *int    `json:"score"`
				Reason *string `json:"reason"`
			}
			if err := json.Unmarshal([]byte(s), &v); err != nil {
				return err
			}
			if v.Score == nil || *v.Score < 1 || *v.Score > 10 || v.Reason == nil {
				return fmt.Errorf("score or reason missing or out of range")
			}
			return nil
		}},
	}
	p := newTiny(t, tinyConfig(t, 4))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs := requests(t, 4)
			for _, r := range reqs {
				r.Options = tt.opts
			}
			for id, text := range texts(t, collect(t, reqs, p.PredictBatch(t.Context(), reqs))) {
				if err := tt.ok(text); err != nil {
					t.Errorf("%s: %q: %v", id, text, err)
				}
			}
		})
	}
}

// TestBadConfig: bad files and settings are refused before llama.cpp sees
// them, with errors naming the file.
func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.gguf")
	os.WriteFile(text, []byte("not a model\n"), 0o644)
	data, err := os.ReadFile(tinyConfig(t, 1).ModelFile)
	if err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(dir, "trunc.gguf")
	os.WriteFile(trunc, data[:len(data)/3], 0o644)
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"missing model", func(c *Config) { c.ModelFile = filepath.Join(dir, "none.gguf") }, "none.gguf"},
		{"text model", func(c *Config) { c.ModelFile = text }, "notes.gguf"},
		{"truncated model", func(c *Config) { c.ModelFile = trunc }, "trunc.gguf"},
		{"model as mmproj", func(c *Config) { c.MmprojFile = c.ModelFile }, "mmproj"},
		{"truncated lora", func(c *Config) { c.LoRA = []LoRA{{Path: trunc, Scale: 1}} }, "trunc.gguf"},
		{"negative parallel", func(c *Config) { c.Parallel = -1 }, "parallel"},
		{"bad grammar", func(c *Config) { c.Grammar = "root ::= (" }, "grammar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tinyConfig(t, 1)
			tt.edit(&cfg)
			p, err := New(t.Context(), cfg)
			if err == nil {
				p.Close()
				t.Fatalf("New succeeded, want an error mentioning %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// interruptingEngine is the real engine, except that an image's prefill is
// cancelled and interrupted just as it starts.
type interruptingEngine struct {
	engine
	cancel  context.CancelFunc
	once    bool
	imgErrs []error // what the real image decodes returned
}

func (e *interruptingEngine) Eval(ch chunks, i int, emb embedding, pos, seq int, logitsLast bool) (int, error) {
	if emb == nil {
		return e.engine.Eval(ch, i, emb, pos, seq, logitsLast)
	}
	if !e.once {
		e.once = true
		e.cancel()
		e.engine.Interrupt()
	}
	n, err := e.engine.Eval(ch, i, emb, pos, seq, logitsLast)
	e.imgErrs = append(e.imgErrs, err)
	return n, err
}

// TestInterruptRealPrefill: llama.cpp stops an image decode when the
// context is interrupted, the request answers with its context's error, and
// the scheduler resets the interrupt so the next request answers as usual.
func TestInterruptRealPrefill(t *testing.T) {
	cfg := tinyConfig(t, 1)
	want, err := newTiny(t, cfg).Predict(t.Context(), requests(t, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	eng, setup, err := openEngine(t.Context(), &cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e := &interruptingEngine{engine: eng, cancel: cancel}
	p, err := newPredictor(cfg, []engine{e}, []engineSetup{setup})
	if err != nil {
		eng.Close()
		t.Fatal(err)
	}
	defer p.Close()
	req := requests(t, 1)[0]
	if _, err := p.Predict(ctx, req); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted request: %v, want context.Canceled", err)
	}
	got, err := p.Predict(t.Context(), req)
	if err != nil {
		t.Fatalf("request after the interrupt: %v", err)
	}
	if got.Text != want.Text {
		t.Errorf("after an interrupt: %q, without: %q", got.Text, want.Text)
	}
	if len(e.imgErrs) != 2 || !errors.Is(e.imgErrs[0], native.ErrAborted) || e.imgErrs[1] != nil {
		t.Errorf("image decodes returned %v, want [decode aborted, nil]", e.imgErrs)
	}
}
