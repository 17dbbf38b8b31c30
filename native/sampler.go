//go:build llamacpp

package native

// #include <stdlib.h>
// #include "llama.h"
// #include "sampler_guard.h"
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// Sampler picks the next token; see the stub's documentation. A grammar
// stage reads its model's vocabulary at every step, so a sampler counts as a
// user of its model from NewSampler to Close.
type Sampler struct {
	mu     sync.Mutex              // guards c and cur against Close
	c      *C.struct_llama_sampler // the chain; nil once closed
	cur    *C.llama_token_data     // nVocab candidates, reused every step
	nVocab int
	model  *Model // kept open while the sampler is
}

// NewSampler builds a sampler chain for model m.
func NewSampler(m *Model, p SamplerParams) (*Sampler, error) {
	if p.TopK < 0 || p.TopP < 0 || p.TopP > 1 || p.MinP < 0 || p.MinP > 1 ||
		math.IsNaN(float64(p.Temperature)) || math.IsInf(float64(p.Temperature), 0) {
		return nil, fmt.Errorf("new sampler: invalid settings %+v", p)
	}
	if err := m.use(userSampler); err != nil {
		return nil, fmt.Errorf("new sampler: %w", err)
	}
	s, err := newChain(m, p)
	if err != nil {
		m.release(userSampler)
		return nil, err
	}
	runtime.SetFinalizer(s, (*Sampler).Close)
	return s, nil
}

// newChain builds the C chain for NewSampler, which holds a use of m.
func newChain(m *Model, p SamplerParams) (*Sampler, error) {
	cp := C.llama_sampler_chain_default_params()
	cp.no_perf = true
	chain := C.llama_sampler_chain_init(cp)
	s := &Sampler{c: chain, nVocab: m.info.NVocab, model: m}
	if p.Grammar != "" {
		root := p.GrammarRoot
		if root == "" {
			root = "root"
		}
		cg := C.CString(p.Grammar)
		defer C.free(unsafe.Pointer(cg))
		cr := C.CString(root)
		defer C.free(unsafe.Pointer(cr))
		lc := captureLog()
		g := C.llama_sampler_init_grammar(m.vocab, cg, cr)
		log := lc.end()
		if g == nil {
			C.llama_sampler_free(chain)
			return nil, newError("new sampler", 0, log, errors.New("invalid grammar"))
		}
		C.llama_sampler_chain_add(chain, g)
	}
	if p.Temperature <= 0 {
		C.llama_sampler_chain_add(chain, C.llama_sampler_init_greedy())
	} else {
		if p.TopK > 0 {
			C.llama_sampler_chain_add(chain, C.llama_sampler_init_top_k(C.int32_t(p.TopK)))
		}
		if p.TopP > 0 && p.TopP < 1 {
			C.llama_sampler_chain_add(chain, C.llama_sampler_init_top_p(C.float(p.TopP), 1))
		}
		if p.MinP > 0 {
			C.llama_sampler_chain_add(chain, C.llama_sampler_init_min_p(C.float(p.MinP), 1))
		}
		C.llama_sampler_chain_add(chain, C.llama_sampler_init_temp(C.float(p.Temperature)))
		C.llama_sampler_chain_add(chain, C.llama_sampler_init_dist(C.uint32_t(p.Seed)))
	}
	s.cur = (*C.llama_token_data)(C.malloc(C.size_t(s.nVocab) * C.size_t(unsafe.Sizeof(C.llama_token_data{}))))
	if s.cur == nil {
		C.llama_sampler_free(chain)
		return nil, errors.New("new sampler: out of memory")
	}
	return s, nil
}

// Sample picks and accepts a token from output idx of c's last decode.
func (s *Sampler) Sample(c *Context, idx int) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return 0, fmt.Errorf("sample: %w", ErrClosed)
	}
	if c == nil {
		return 0, fmt.Errorf("sample: %w context", ErrClosed)
	}
	if c.model != s.model {
		return 0, errors.New("sample: the sampler was made for another model")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkOutput(idx); err != nil {
		return 0, fmt.Errorf("sample: %w", err)
	}
	var tok C.llama_token
	lc := captureLog()
	rc := C.vlmcmp_sample(s.c, c.c, C.int32_t(idx), s.cur, C.int32_t(s.nVocab), &tok)
	log := lc.end()
	switch rc {
	case C.VLMCMP_SAMPLE_OK:
		return Token(tok), nil
	case C.VLMCMP_SAMPLE_NO_LOGITS:
		return 0, newError("sample", int(rc), log, fmt.Errorf("no logits for index %d", idx))
	case C.VLMCMP_SAMPLE_NONE:
		return 0, newError("sample", int(rc), log, errors.New("no token allowed (grammar dead end)"))
	}
	return 0, newError("sample", int(rc), log, errors.New("llama.cpp threw an exception"))
}

// Close frees the sampler and ends its use of the model.
func (s *Sampler) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return nil
	}
	C.llama_sampler_free(s.c)
	C.free(unsafe.Pointer(s.cur))
	s.c, s.cur = nil, nil
	s.model.release(userSampler)
	runtime.SetFinalizer(s, nil)
	return nil
}
