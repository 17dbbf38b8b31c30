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

// loraHandle holds the C adapter. The model keeps the handles of its
// adapters (not the LoRA values, so that no cycle keeps finalizers from
// running) and frees them when it closes, as llama.cpp would.
type loraHandle struct {
	mu    sync.Mutex
	c     *C.struct_llama_adapter_lora // nil once freed
	users int                          // contexts applying the adapter
}

func (h *loraHandle) free() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.c != nil {
		C.llama_adapter_lora_free(h.c)
		h.c = nil
	}
}

// LoRA is a LoRA adapter loaded for a model; see the stub's documentation.
type LoRA struct {
	h     *loraHandle
	model *Model
	path  string
}

// LoadLoRA loads the adapter GGUF at path for m.
func LoadLoRA(m *Model, path string) (*LoRA, error) {
	if m == nil || m.c == nil {
		return nil, fmt.Errorf("load lora %s: %w", path, ErrClosed)
	}
	if err := checkGGUFFile(path); err != nil {
		return nil, fmt.Errorf("load lora: %w", err)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	mark := logMark()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c == nil {
		return nil, fmt.Errorf("load lora %s: %w", path, ErrClosed)
	}
	ca := C.llama_adapter_lora_init(m.c, cpath)
	if ca == nil {
		return nil, newError("load lora "+path, 0, mark, errors.New("llama.cpp could not load it"))
	}
	h := &loraHandle{c: ca}
	m.adapters[h] = struct{}{}
	a := &LoRA{h: h, model: m, path: path}
	runtime.SetFinalizer(a, func(a *LoRA) {
		slog.Debug("native: lora not closed", "path", a.path)
		a.Close()
	})
	return a, nil
}

// Path returns the file the adapter was loaded from.
func (a *LoRA) Path() string { return a.path }

// Meta returns an adapter metadata value as text and whether key exists.
func (a *LoRA) Meta(key string) (string, bool) {
	a.h.mu.Lock()
	defer a.h.mu.Unlock()
	if a.h.c == nil {
		return "", false
	}
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	buf := make([]C.char, 256)
	n := C.llama_adapter_meta_val_str(a.h.c, ckey, &buf[0], C.size_t(len(buf)))
	if n < 0 {
		return "", false
	}
	if int(n) >= len(buf) {
		buf = make([]C.char, int(n)+1)
		C.llama_adapter_meta_val_str(a.h.c, ckey, &buf[0], C.size_t(len(buf)))
	}
	return C.GoString(&buf[0]), true
}

// Close frees the adapter; ErrInUse while a context applies it.
func (a *LoRA) Close() error {
	a.h.mu.Lock()
	users := a.h.users
	a.h.mu.Unlock()
	if users > 0 {
		return fmt.Errorf("close lora %s: %w by %d contexts", a.path, ErrInUse, users)
	}
	m := a.model
	m.mu.Lock()
	if m.adapters != nil {
		delete(m.adapters, a.h)
	}
	m.mu.Unlock()
	a.h.free()
	runtime.SetFinalizer(a, nil)
	return nil
}
