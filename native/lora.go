//go:build llamacpp

package native

// #include <stdlib.h>
// #include "llama.h"
import "C"

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"unsafe"
)

// LoRA is a LoRA adapter loaded for a model; see the stub's documentation.
//
// mu makes "is it open and unused?" and what follows one step: Close checks
// users and frees under it, and a context counts itself as a user under it
// (acquire) before llama.cpp sees the adapter, so an adapter cannot be freed
// between a context's check and its use, nor used once freed.
type LoRA struct {
	mu    sync.Mutex
	c     *C.struct_llama_adapter_lora // nil once closed
	users int                          // contexts applying the adapter
	model *Model                       // kept open while the adapter is
	path  string
}

// LoadLoRA loads the adapter GGUF at path for m.
func LoadLoRA(m *Model, path string) (*LoRA, error) {
	if err := checkGGUFFile(path); err != nil {
		return nil, fmt.Errorf("load lora: %w", err)
	}
	if err := m.use(userLoRA); err != nil {
		return nil, fmt.Errorf("load lora %s: %w", path, err)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	lc := captureLog()
	ca := C.llama_adapter_lora_init(m.c, cpath)
	log := lc.end()
	if ca == nil {
		m.release(userLoRA)
		return nil, newError("load lora "+path, 0, log, errors.New("llama.cpp could not load it"))
	}
	a := &LoRA{c: ca, model: m, path: path}
	runtime.SetFinalizer(a, func(a *LoRA) {
		slog.Debug("native: lora not closed", "path", a.path)
		a.Close()
	})
	return a, nil
}

// acquire counts a context applying the adapter, which must be open and
// loaded for m.
func (a *LoRA) acquire(m *Model) error {
	if a == nil {
		return fmt.Errorf("set lora: %w adapter", ErrClosed)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.c == nil {
		return fmt.Errorf("set lora %s: %w adapter", a.path, ErrClosed)
	}
	if a.model != m {
		return fmt.Errorf("set lora %s: loaded for another model", a.path)
	}
	a.users++
	return nil
}

// unacquire ends what acquire counted.
func (a *LoRA) unacquire() {
	a.mu.Lock()
	a.users--
	a.mu.Unlock()
}

// Close frees the adapter; ErrInUse while a context applies it.
func (a *LoRA) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.c == nil {
		return nil
	}
	if a.users > 0 {
		return fmt.Errorf("close lora %s: %w by %d contexts", a.path, ErrInUse, a.users)
	}
	C.llama_adapter_lora_free(a.c)
	a.c = nil
	a.model.release(userLoRA)
	runtime.SetFinalizer(a, nil)
	return nil
}
