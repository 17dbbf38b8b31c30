package synth

import (
	"fmt"
	"sort"
	"strings"
)

// Token types as llama.cpp numbers them (llama_token_type).
const (
	tokNormal  int32 = 1
	tokControl int32 = 3
	tokUnused  int32 = 5
)

// specialTokens are Qwen2-VL's added tokens, in their order there.
var specialTokens = []string{
	"<|endoftext|>", "<|im_start|>", "<|im_end|>",
	"<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
	"<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
	"<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
}

// corpus is the text the merges are learnt from: words a safety-scoring
// prompt and its answers use.
const corpus = `You are a helpful assistant that rates street view photos.
Rate the perceived safety of this street on a scale from 1 to 10, where 1 is very unsafe and 10 is very safe.
Answer with the score only. Safety score: 1/10 2/10 3/10 4/10 5/10 6/10 7/10 8/10 9/10 10/10.
The street is well lit, clean and busy with people walking; there are shops, trees, cars and a sidewalk.
The street is dark, empty and narrow, with graffiti, broken windows, litter and no people around.
This image shows a road, a building, a fence, a park, a bridge and a bus stop in the city at night and in the day.
{"score": 7, "reason": "the street looks safe because it is open and well maintained"}
one two three four five six seven eight nine ten. I think the answer is the score of the image.`

// byteToRune is GPT-2's reversible map from bytes to printable runes used
// by byte-level BPE vocabularies: printable Latin-1 bytes map to
// themselves, the others to U+0100 upwards in byte order.
var byteToRune = func() [256]rune {
	var m [256]rune
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
	}
	n := 0
	for b := range 256 {
		if printable(b) {
			m[b] = rune(b)
		} else {
			m[b] = rune(256 + n)
			n++
		}
	}
	return m
}()

func byteLevel(s string) []string {
	out := make([]string, 0, len(s))
	for i := 0; i < len(s); i++ {
		out = append(out, string(byteToRune[s[i]]))
	}
	return out
}

// vocab is a byte-level BPE vocabulary.
type vocab struct {
	tokens []string
	types  []int32
	merges []string
	ids    map[string]int32
}

// buildVocab makes the 256 byte tokens, up to nMerges merges learnt from
// corpus, fillers up to nRegular tokens (if more), the special tokens,
// then [PADn] tokens up to total (if more).
func buildVocab(nMerges, nRegular, total int) vocab {
	v := vocab{ids: map[string]int32{}}
	add := func(s string, t int32) {
		if _, dup := v.ids[s]; dup {
			panic("synth: duplicate token " + s) // a bug in this file
		}
		v.ids[s] = int32(len(v.tokens))
		v.tokens = append(v.tokens, s)
		v.types = append(v.types, t)
	}
	for b := range 256 {
		add(string(byteToRune[b]), tokNormal)
	}
	for _, m := range learnMerges(corpus, nMerges) {
		a, b, _ := strings.Cut(m, " ")
		if _, ok := v.ids[a+b]; !ok { // two merges may make the same token
			add(a+b, tokNormal)
		}
		v.merges = append(v.merges, m)
	}
	for i := 0; len(v.tokens) < nRegular; i++ {
		add(fmt.Sprintf("<|filler_%d|>", i), tokNormal)
	}
	for _, s := range specialTokens {
		add(s, tokControl)
	}
	for len(v.tokens) < total {
		add(fmt.Sprintf("[PAD%d]", len(v.tokens)), tokUnused)
	}
	return v
}

// learnMerges runs byte-pair-encoding training on text, split into words
// at spaces (a space joins the word that follows it, as GPT-2's
// pre-tokenizer does), for at most n merges. Ties go to the pair that
// sorts first, so the result is deterministic.
func learnMerges(text string, n int) []string {
	var words [][]string
	for i, w := range strings.Fields(text) {
		if i > 0 {
			w = " " + w
		}
		words = append(words, byteLevel(w))
	}
	var merges []string
	for len(merges) < n {
		counts := map[[2]string]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w); i++ {
				counts[[2]string{w[i], w[i+1]}]++
			}
		}
		if len(counts) == 0 {
			break
		}
		pairs := make([][2]string, 0, len(counts))
		for p := range counts {
			pairs = append(pairs, p)
		}
		sort.Slice(pairs, func(i, j int) bool {
			ci, cj := counts[pairs[i]], counts[pairs[j]]
			if ci != cj {
				return ci > cj
			}
			if pairs[i][0] != pairs[j][0] {
				return pairs[i][0] < pairs[j][0]
			}
			return pairs[i][1] < pairs[j][1]
		})
		best := pairs[0]
		merges = append(merges, best[0]+" "+best[1])
		joined := best[0] + best[1]
		for k, w := range words {
			out := w[:0:0]
			for i := 0; i < len(w); i++ {
				if i+1 < len(w) && w[i] == best[0] && w[i+1] == best[1] {
					out = append(out, joined)
					i++
				} else {
					out = append(out, w[i])
				}
			}
			words[k] = out
		}
	}
	return merges
}
