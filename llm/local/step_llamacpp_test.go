//go:build llamacpp

package local

import (
	"slices"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/native"
)

// TestStepLogitsIndependentOfBatch decodes the same token for sequence 0
// in steps of different company (alone, beside sequence 2 with 1 empty,
// then with 1 filled too: beside 1, beside 1 and 2) on the tiny model, from
// the same prompt in each sequence, and wants bit-identical logits for
// sequence 0 every time.
// Without stepLayout's padding, llama.cpp decodes a lone token, or tokens
// of non-consecutive sequences, one token per ubatch, where ggml takes
// another matrix kernel than for two tokens and rounds differently.
func TestStepLogitsIndependentOfBatch(t *testing.T) {
	files, err := synth.Write(t.TempDir(), synth.Options{Shape: synth.Small, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{ModelFile: files.Model, MmprojFile: files.Mmproj, Parallel: 4, Threads: 2, ImageMaxTokens: 256, MaxTokens: 12}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	eg, _, err := openEngine(t.Context(), &cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	defer eg.Close()
	e := eg.(*nativeEngine)
	ch := tokenized(t, &cfg, e, requests(t, 1)[0])
	pos := 0
	fill := func(seq int) {
		pos = 0
		for i := range ch.Len() {
			var emb embedding
			if ch.Kind(i) == native.ChunkImage {
				if emb, err = e.Encode(ch, i); err != nil {
					t.Fatal(err)
				}
			}
			if pos, err = e.Eval(ch, i, emb, pos, seq, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill(0)
	fill(2)
	var want []float32
	for _, seqs := range [][]int{{0}, {0, 2}, nil, {0, 1}, {0, 1, 2}} {
		if seqs == nil {
			fill(1)
			continue
		}
		var toks []stepToken
		for _, s := range seqs {
			toks = append(toks, stepToken{tok: 1, pos: pos, seq: s})
		}
		if err := e.Step(toks); err != nil {
			t.Fatalf("step %v: %v", seqs, err)
		}
		got, err := e.lctx.Logits(e.out[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range seqs {
			if err := e.lctx.SeqRemove(s, pos, -1); err != nil {
				t.Fatal(err)
			}
		}
		if want == nil {
			want = got
			continue
		}
		if !slices.Equal(got, want) {
			n := 0
			for i := range got {
				if got[i] != want[i] {
					n++
				}
			}
			t.Errorf("sequence 0 stepped beside %v: %d of %d logits differ from stepping alone", seqs[1:], n, len(got))
		}
	}
}
