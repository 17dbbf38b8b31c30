//go:build llamacpp

package synth_test

import (
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/native"
)

// TestTinyRunsInLlamaCpp loads the tiny model, projector and LoRA through
// the real engine and generates: the answer depends on the image, repeats
// for the same input, and the LoRA at scale 1 changes it.
func TestTinyRunsInLlamaCpp(t *testing.T) {
	for _, fam := range family.Names() {
		t.Run(fam, func(t *testing.T) { testTinyRuns(t, fam) })
	}
}

func testTinyRuns(t *testing.T, fam string) {
	files, err := synth.Write(t.TempDir(), synth.Options{Family: fam, Shape: synth.Tiny, Seed: 1, LoRA: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m, err := native.LoadModel(files.Model, native.ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p, err := native.LoadProjector(files.Mmproj, m, native.ProjectorParams{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	t.Logf("tiny model and projector loaded in %s", time.Since(start))
	lora, err := native.LoadLoRA(m, files.LoRA)
	if err != nil {
		t.Fatalf("load lora: %v", err)
	}
	defer lora.Close()

	gen := func(kind int, scale float32) string {
		t.Helper()
		c, err := native.NewContext(m, native.ContextParams{NCtx: 1024, Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if scale != 0 {
			if err := c.SetLoRA([]native.LoRAScale{{Adapter: lora, Scale: scale}}); err != nil {
				t.Fatal(err)
			}
		}
		prompt, err := m.ApplyChatTemplate("", []native.ChatMessage{
			{Role: "user", Content: native.MediaMarker + "How safe is this street?"},
		}, true)
		if err != nil {
			t.Fatal(err)
		}
		rgb := make([]byte, 64*48*3)
		for i := range rgb {
			rgb[i] = byte(i * (kind + 1) % 251)
		}
		bm, err := native.NewBitmap(64, 48, rgb)
		if err != nil {
			t.Fatal(err)
		}
		defer bm.Close()
		ch, err := p.Tokenize(prompt, []*native.Bitmap{bm}, false)
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		nPast, err := p.EvalChunks(c, ch, 0, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		s, err := native.NewSampler(m, native.SamplerParams{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		b, err := native.NewBatch(1, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		var toks []native.Token
		idx := -1
		for len(toks) < 12 {
			tok, err := s.Sample(c, idx)
			if err != nil {
				t.Fatal(err)
			}
			if m.IsEOG(tok) {
				break
			}
			toks = append(toks, tok)
			b.Clear()
			if idx, err = b.Add(tok, nPast, true, 0); err != nil {
				t.Fatal(err)
			}
			nPast++
			if err := c.Decode(b); err != nil {
				t.Fatal(err)
			}
		}
		text, err := m.Detokenize(toks, false, false)
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	a, a2, b := gen(0, 0), gen(0, 0), gen(1, 0)
	withLoRA := gen(0, 1)
	t.Logf("image A: %q\nimage B: %q\nimage A with lora: %q", a, b, withLoRA)
	if a == "" {
		t.Error("no text generated")
	}
	if a != a2 {
		t.Errorf("same input gave %q then %q", a, a2)
	}
	if a == b {
		t.Errorf("two different images gave the same text %q", a)
	}
	if withLoRA == a {
		t.Errorf("lora at scale 1 did not change the text %q", a)
	}
}
