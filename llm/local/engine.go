package local

import (
	"fmt"
	"time"

	"github.com/vlmcmp/vlmcmp/native"
)

// engine is what the scheduler needs of the model and its llama context.
// In a Predictor made by New it is llama.cpp through package native
// (engine_llamacpp.go); the tests without llama.cpp use a deterministic fake
// (fake_test.go), so admission, cancellation and failures are tested under
// -race without cgo.
//
// Template, Tokenize and Encode may be called from any goroutine (the
// preparer calls them while the owner decodes); Interrupt and
// ResetInterrupt too. Every other method is called by the owner goroutine
// alone, and Close after every goroutine has stopped.
type engine interface {
	// Template applies the model's chat template to msgs and opens the
	// assistant's turn.
	Template(msgs []native.ChatMessage) (string, error)
	// Tokenize splits prompt, which holds one native.MediaMarker, into text
	// chunks and the chunk of the image (w×h, packed RGB).
	Tokenize(prompt string, w, h int, rgb []byte) (chunks, error)
	// Encode runs the vision encoder on image chunk i of ch.
	Encode(ch chunks, i int) (embedding, error)

	// Eval decodes chunk i of ch into sequence seq at position pos and
	// returns the position after it: a text chunk from its tokens, an image
	// chunk from emb, its encoding (nil for text). With logitsLast the
	// logits of the chunk's last token are kept for sampler.Sample(-1).
	Eval(ch chunks, i int, emb embedding, pos, seq int, logitsLast bool) (int, error)
	// Step decodes one token for each entry of toks (one llama_decode),
	// keeping the logits of each: entry i's for sampler.Sample(i). The
	// entries are in increasing sequence order, and sequence P (the
	// parallel count) is the engine's: see stepLayout.
	Step(toks []stepToken) error
	// ClearSeq empties sequence seq; CopySeq makes dst hold what src holds.
	ClearSeq(seq int) error
	CopySeq(src, dst int) error
	// NewSampler makes a sampler (and grammar state) for one answer.
	NewSampler(p native.SamplerParams) (sampler, error)
	// Detokenize turns answer tokens into text.
	Detokenize(toks []native.Token) (string, error)

	// Interrupt makes the running Eval or Step, and every later one until
	// ResetInterrupt, end early with an error.
	Interrupt()
	ResetInterrupt()

	// Close frees the engine.
	Close() error
}

// threadSetter is an engine whose decoding threads can change between
// calls (the owner's, like Step): the scheduler gives the decoder the
// encoder's threads while the encoder is idle (Config.Threads 0).
type threadSetter interface {
	SetThreads(n int)
}

// stepToken is one sequence's token in a decoding step.
type stepToken struct {
	tok native.Token
	pos int
	seq int
}

// stepEntry is one token of the batch a step decodes: a sequence's token,
// or a padding token (pad) in an empty sequence, removed after the step.
type stepEntry struct {
	stepToken
	logits, pad bool
}

// stepLayout lays out the tokens of a decoding step (in increasing
// sequence order) as the batch to decode, appended to dst, and returns
// with it each token's index in that batch, appended to out.
//
// The layout keeps every step in one ubatch of two tokens or more, so that
// a sequence's arithmetic does not depend on what else is in the step:
//   - llama.cpp splits a batch over separate KV streams (kv_unified=false)
//     into ubatches of consecutive sequence ids (split_equal, sequential),
//     so sequences 0 and 2 would be decoded as two ubatches of one token;
//     each gap between the step's sequences is therefore filled with a
//     padding token in the missing (empty) sequence, without logits.
//   - ggml's CPU matrix products take another kernel for one token than
//     for two or more, and the two round differently (docs/benchmarks.md,
//     "Answers at every batch size"); a step of one token therefore gets a
//     second, padding token in the next sequence, with logits, so that the
//     output projection has two columns too. That sequence is empty: only
//     one sequence is live, and the last slot's next is sequence P, kept
//     free for this.
func stepLayout(toks []stepToken, dst []stepEntry, out []int) ([]stepEntry, []int, error) {
	for i, t := range toks {
		if i > 0 {
			prev := toks[i-1].seq
			if t.seq <= prev {
				return dst, out, fmt.Errorf("step: sequence %d after %d, want increasing", t.seq, prev)
			}
			for s := prev + 1; s < t.seq; s++ {
				dst = append(dst, stepEntry{stepToken: stepToken{tok: t.tok, seq: s}, pad: true})
			}
		}
		out = append(out, len(dst))
		dst = append(dst, stepEntry{stepToken: t, logits: true})
	}
	if len(toks) == 1 {
		dst = append(dst, stepEntry{stepToken: stepToken{tok: toks[0].tok, seq: toks[0].seq + 1}, logits: true, pad: true})
	}
	return dst, out, nil
}

// chunks is a tokenized prompt: text and image chunks in order. Close frees
// it (and the image it was made from).
type chunks interface {
	Len() int
	Kind(i int) native.ChunkKind
	NTokens(i int) int           // KV cells chunk i takes
	Tokens(i int) []native.Token // a copy of the tokens of text chunk i
	TotalTokens() int            // KV cells all chunks take
	Close() error
}

// embedding is an encoded image, made by engine.Encode for one image chunk.
type embedding interface {
	EncodeTime() time.Duration
	Bytes() int // memory it holds
}

// sampler picks a sequence's tokens from the logits of the engine's last
// Eval or Step.
type sampler interface {
	// Sample picks the token at output i of the last decode (-1: the last
	// output) and reports whether it ends the answer (end of generation).
	Sample(i int) (tok native.Token, end bool, err error)
	Close() error
}

// engineSetup is what opening an engine decided beside the engine itself.
type engineSetup struct {
	parallel  int  // sequences decoded together
	encodeGPU bool // the vision encoder runs on a GPU
	// embeds is the projector's key in the process's embedding cache
	// (projectorKey); "" when the cache is not used.
	embeds string
}
