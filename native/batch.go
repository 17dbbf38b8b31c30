//go:build llamacpp

package native

// #include <stdlib.h>
// #include "llama.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Batch is a token batch for Context.Decode; see the stub's documentation.
// Its arrays live in C memory (llama_batch_init) and are filled through
// slice views, so a step crosses into C once, in Decode. mu guards it all
// against Close (Decode holds it too).
type Batch struct {
	mu      sync.Mutex
	c       C.struct_llama_batch // owns the arrays; zero once closed
	cap     int                  // tokens the arrays hold
	maxSeqs int                  // sequence ids per token
	n       int                  // tokens added
	closed  bool

	// Views of c's arrays, cap entries each.
	token  []C.llama_token
	pos    []C.llama_pos
	nSeq   []C.int32_t
	seqIDs []*C.llama_seq_id // each points at maxSeqs ids
	logits []C.int8_t
}

// NewBatch allocates a batch of up to capacity tokens in at most maxSeqs
// sequences each.
func NewBatch(capacity, maxSeqs int) (*Batch, error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("new batch: capacity %d, want > 0", capacity)
	}
	if maxSeqs <= 0 {
		maxSeqs = 1
	}
	cb := C.llama_batch_init(C.int32_t(capacity), 0, C.int32_t(maxSeqs))
	if cb.token == nil {
		return nil, errors.New("new batch: out of memory")
	}
	b := &Batch{
		c: cb, cap: capacity, maxSeqs: maxSeqs,
		token:  unsafe.Slice(cb.token, capacity),
		pos:    unsafe.Slice(cb.pos, capacity),
		nSeq:   unsafe.Slice(cb.n_seq_id, capacity),
		seqIDs: unsafe.Slice(cb.seq_id, capacity),
		logits: unsafe.Slice(cb.logits, capacity),
	}
	runtime.SetFinalizer(b, (*Batch).Close)
	return b, nil
}

// Add appends token t at position pos to sequences seqs.
func (b *Batch) Add(t Token, pos int, logits bool, seqs ...int) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, fmt.Errorf("batch add: %w", ErrClosed)
	}
	if b.n >= b.cap {
		return 0, ErrBatchFull
	}
	if len(seqs) == 0 || len(seqs) > b.maxSeqs {
		return 0, fmt.Errorf("batch add: %d sequence ids, want 1 to %d", len(seqs), b.maxSeqs)
	}
	for _, s := range seqs {
		if s < 0 {
			return 0, fmt.Errorf("batch add: negative sequence id %d", s)
		}
	}
	i := b.n
	b.token[i] = C.llama_token(t)
	b.pos[i] = C.llama_pos(pos)
	b.nSeq[i] = C.int32_t(len(seqs))
	ids := unsafe.Slice(b.seqIDs[i], b.maxSeqs)
	for j, s := range seqs {
		ids[j] = C.llama_seq_id(s)
	}
	b.logits[i] = 0
	if logits {
		b.logits[i] = 1
	}
	b.n++
	return i, nil
}

// Len returns the number of tokens in the batch.
func (b *Batch) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// Clear empties the batch for reuse.
func (b *Batch) Clear() {
	b.mu.Lock()
	b.n = 0
	b.mu.Unlock()
}

// Close frees the batch.
func (b *Batch) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.c.n_tokens = C.int32_t(b.cap)
	C.llama_batch_free(b.c)
	b.closed = true
	b.n = 0
	b.c = C.struct_llama_batch{}
	b.token, b.pos, b.nSeq, b.seqIDs, b.logits = nil, nil, nil, nil, nil
	runtime.SetFinalizer(b, nil)
	return nil
}
