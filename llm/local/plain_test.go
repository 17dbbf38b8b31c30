//go:build llamacpp

package local

import (
	"fmt"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/imagefile"
	"github.com/vlmcmp/vlmcmp/native"
)

// plain is the loop a user would write without the scheduler: one image at
// a time through the same engine (tokenize, evaluate every chunk, sample
// token by token), in one sequence of its own context. It is the reference
// the batched path is checked and benchmarked against.
type plain struct {
	cfg   Config
	model *native.Model
	proj  *native.Projector
	lctx  *native.Context
	batch *native.Batch
}

func newPlain(tb testing.TB, cfg Config) *plain {
	tb.Helper()
	if err := cfg.validate(); err != nil {
		tb.Fatal(err)
	}
	e := &plain{cfg: cfg}
	var err error
	if e.model, err = native.LoadModel(cfg.ModelFile, native.ModelParams{}); err != nil {
		tb.Fatal(err)
	}
	if e.proj, err = native.LoadProjector(cfg.MmprojFile, e.model, native.ProjectorParams{Threads: cfg.Threads,
		ImageMinTokens: cfg.ImageMinTokens, ImageMaxTokens: cfg.ImageMaxTokens, Warmup: true}); err != nil {
		tb.Fatal(err)
	}
	if e.lctx, err = native.NewContext(e.model, native.ContextParams{NCtx: cfg.ContextSize, NBatch: cfg.BatchSize,
		NUBatch: cfg.BatchSize, NSeqMax: 1, Threads: cfg.Threads, ThreadsBatch: cfg.Threads}); err != nil {
		tb.Fatal(err)
	}
	if e.batch, err = native.NewBatch(1, 1); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		e.batch.Close()
		e.lctx.Close()
		e.proj.Close()
		if err := e.model.Close(); err != nil {
			tb.Errorf("close model: %v", err)
		}
	})
	return e
}

func (e *plain) predict(req *llm.Request) (string, error) {
	img, _, err := imagefile.Decode(req.Image)
	if err != nil {
		return "", err
	}
	w, h, rgb := imagefile.RGB(img)
	bm, err := native.NewBitmap(w, h, rgb)
	if err != nil {
		return "", err
	}
	defer bm.Close()
	var msgs []native.ChatMessage
	if req.System != "" {
		msgs = append(msgs, native.ChatMessage{Role: "system", Content: req.System})
	}
	msgs = append(msgs, native.ChatMessage{Role: "user", Content: native.MediaMarker + req.Prompt})
	prompt, err := e.model.ApplyChatTemplate("", msgs, true)
	if err != nil {
		return "", err
	}
	ch, err := e.proj.Tokenize(prompt, []*native.Bitmap{bm}, true)
	if err != nil {
		return "", err
	}
	defer ch.Close()
	defer e.lctx.SeqRemove(0, -1, -1)
	nPast := 0
	for i := range ch.Len() {
		if ch.Kind(i) == native.ChunkImage {
			nPast, err = e.proj.EvalChunk(e.lctx, ch, i, nPast, 0, false)
		} else {
			nPast, err = evalText(e.proj, e.lctx, ch, i, nPast, 0, i == ch.Len()-1)
		}
		if err != nil {
			return "", err
		}
	}
	s, err := native.NewSampler(e.model, native.SamplerParams{})
	if err != nil {
		return "", err
	}
	defer s.Close()
	maxTokens := req.Options.MaxTokens
	if maxTokens == 0 {
		maxTokens = e.cfg.MaxTokens
	}
	var out []native.Token
	tok, err := s.Sample(e.lctx, -1)
	for err == nil && !e.model.IsEOG(tok) {
		out = append(out, tok)
		if len(out) >= maxTokens {
			break
		}
		e.batch.Clear()
		if _, err = e.batch.Add(tok, nPast, true, 0); err != nil {
			break
		}
		if err = e.lctx.Decode(e.batch); err != nil {
			break
		}
		nPast++
		tok, err = s.Sample(e.lctx, 0)
	}
	if err != nil {
		return "", err
	}
	return e.model.Detokenize(out, false, false)
}

// plainLoop answers reqs one at a time with a plain engine.
func plainLoop(tb testing.TB, cfg Config, reqs []*llm.Request) map[string]string {
	tb.Helper()
	e := newPlain(tb, cfg)
	out := map[string]string{}
	for _, r := range reqs {
		text, err := e.predict(r)
		if err != nil {
			tb.Fatalf("plain loop: %s: %v", r.ID, err)
		}
		out[r.ID] = text
	}
	return out
}

// BenchmarkPredict compares, on the tiny model, 8 images through the batched
// path at parallel 1 and 4 with the plain one-at-a-time loop. At parallel 1
// the batched path must not be slower than the loop.
func BenchmarkPredict(b *testing.B) {
	reqs := requests(b, 8)
	b.Run("plain-loop", func(b *testing.B) {
		e := newPlain(b, tinyConfig(b, 1))
		b.ResetTimer()
		for b.Loop() {
			for _, r := range reqs {
				if _, err := e.predict(r); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*len(reqs))/b.Elapsed().Seconds(), "images/s")
	})
	for _, par := range []int{1, 4} {
		b.Run(fmt.Sprintf("batched-p%d", par), func(b *testing.B) {
			p := newTiny(b, tinyConfig(b, par))
			b.ResetTimer()
			for b.Loop() {
				for r := range p.PredictBatch(b.Context(), reqs) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
			b.ReportMetric(float64(b.N*len(reqs))/b.Elapsed().Seconds(), "images/s")
		})
	}
}
