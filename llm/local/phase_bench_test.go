//go:build llamacpp

package local

import (
	"fmt"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/imagefile"
	"github.com/vlmcmp/vlmcmp/native"
)

// BenchmarkPhase times each phase of an image's way through the engine on
// the tiny synthetic model, one sub-benchmark per phase, so that a
// regression in one shows in `go test -bench`:
//
//	eval "$(make -s env)"
//	go test -tags llamacpp -run '^$' -bench BenchmarkPhase -benchtime 20x ./llm/local
//
// imagedecode is Go (PNG to RGB pixels); tokenize is mtmd (chat prompt to
// chunks, image preprocessing); encode the vision encoder; prefix, image
// and text the three decodes of a prompt (the shared prefix, the image
// embedding, the text after it); step-pN one decoding step of N sequences;
// sample one greedy token. docs/benchmarks.md has the phase table of a
// whole bench on the small model.
func BenchmarkPhase(b *testing.B) {
	cfg := tinyConfig(b, 4)
	cfg.EncodeAhead = "off"
	if err := cfg.validate(); err != nil {
		b.Fatal(err)
	}
	eg, setup, err := openEngine(b.Context(), &cfg, "")
	if err != nil {
		b.Fatal(err)
	}
	defer eg.Close()
	e := eg.(*nativeEngine)
	req := requests(b, 1)[0]
	ch := tokenized(b, &cfg, e, req)
	prompt, err := chatPrompt(&cfg, e, req)
	if err != nil {
		b.Fatal(err)
	}
	img, _, err := imagefile.Decode(req.Image)
	if err != nil {
		b.Fatal(err)
	}
	w, h, rgb := imagefile.RGB(img)
	imageAt := 1
	if ch.Kind(imageAt) != native.ChunkImage {
		b.Fatalf("chunk 1 is %s, want the image", ch.Kind(imageAt))
	}
	emb, err := e.Encode(ch, imageAt)
	if err != nil {
		b.Fatal(err)
	}
	// prefill decodes the prompt into seq up to chunk upto (exclusive) and
	// returns the position after it.
	prefill := func(seq, upto int) int {
		b.Helper()
		if err := e.ClearSeq(seq); err != nil {
			b.Fatal(err)
		}
		pos := 0
		for i := range upto {
			var m embedding
			if i == imageAt {
				m = emb
			}
			if pos, err = e.Eval(ch, i, m, pos, seq, i == ch.Len()-1); err != nil {
				b.Fatal(err)
			}
		}
		return pos
	}

	b.Run("imagedecode", func(b *testing.B) {
		for b.Loop() {
			im, _, err := imagefile.Decode(req.Image)
			if err != nil {
				b.Fatal(err)
			}
			imagefile.RGB(im)
		}
	})
	b.Run("tokenize", func(b *testing.B) {
		for b.Loop() {
			c, err := e.Tokenize(prompt, w, h, rgb)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Encode(ch, imageAt); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, phase := range []struct {
		name     string
		from, to int // chunks timed
	}{{"prefix", 0, 1}, {"image", imageAt, imageAt + 1}, {"text", imageAt + 1, ch.Len()}} {
		b.Run(phase.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				pos := prefill(0, phase.from)
				b.StartTimer()
				for i := phase.from; i < phase.to; i++ {
					var m embedding
					if i == imageAt {
						m = emb
					}
					if pos, err = e.Eval(ch, i, m, pos, 0, i == ch.Len()-1); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
	for _, n := range []int{1, setup.parallel} {
		b.Run(fmt.Sprintf("step-p%d", n), func(b *testing.B) {
			toks := make([]stepToken, n)
			for s := range n {
				toks[s] = stepToken{tok: 1, pos: prefill(s, ch.Len()), seq: s}
			}
			for b.Loop() {
				if err := e.Step(toks); err != nil {
					b.Fatal(err)
				}
				// Drop the step's cells again, so every step attends over
				// the same context.
				b.StopTimer()
				for _, t := range toks {
					if err := e.lctx.SeqRemove(t.seq, t.pos, -1); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
	b.Run("sample", func(b *testing.B) {
		prefill(0, ch.Len())
		s, err := e.NewSampler(native.SamplerParams{})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		for b.Loop() {
			if _, _, err := s.Sample(-1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
