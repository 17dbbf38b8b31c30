//go:build llamacpp

package native

// #include <stdlib.h>
// #include "llama.h"
import "C"

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// Model is a loaded llama.cpp model; see the stub's documentation.
//
// mu guards c: the methods that call into C hold it for reading, Close for
// writing, so Close waits for calls in flight and later calls see nil.
// users counts the open objects made from the model, which keep it from
// closing; they use c and vocab without mu, since c cannot change while
// they are counted.
type Model struct {
	mu    sync.RWMutex
	c     *C.struct_llama_model // nil once closed
	vocab *C.struct_llama_vocab // owned by c
	path  string                // the file loaded
	info  ModelInfo             // read at load
	users [nUserKinds]int       // open objects made from the model, by kind
}

// userKind is a kind of object that keeps its model open.
type userKind int

const (
	userContext userKind = iota
	userProjector
	userSampler
	userLoRA
	nUserKinds
)

var userKindNames = [nUserKinds]string{"context", "projector", "sampler", "lora adapter"}

// LoadModel loads the GGUF model file at path.
func LoadModel(path string, p ModelParams) (*Model, error) {
	ensureInit()
	if err := checkGGUFFile(path); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	params := C.llama_model_default_params()
	params.n_gpu_layers = C.int32_t(p.GPULayers)
	if p.GPULayers < 0 {
		params.n_gpu_layers = 9999
	}
	params.main_gpu = C.int32_t(p.MainGPU)
	if p.Device != "" {
		// One device, no split: a NULL-terminated list of it.
		dev, err := deviceByName(p.Device)
		if err != nil {
			return nil, fmt.Errorf("load model %s: %w", path, err)
		}
		list := (*[2]C.ggml_backend_dev_t)(C.malloc(C.size_t(2 * unsafe.Sizeof(dev))))
		defer C.free(unsafe.Pointer(list))
		list[0], list[1] = dev, nil
		params.devices = &list[0]
		params.split_mode = C.LLAMA_SPLIT_MODE_NONE
		params.main_gpu = 0
	}
	params.use_mmap = C.bool(!p.NoMmap)
	params.vocab_only = C.bool(p.VocabOnly)
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	lc := captureLog()
	cm := C.llama_model_load_from_file(cpath, params)
	log := lc.end()
	if cm == nil {
		return nil, newError("load model "+path, 0, log, errors.New("llama.cpp could not load it"))
	}
	m := &Model{c: cm, vocab: C.llama_model_get_vocab(cm), path: path}
	m.info = m.readInfo()
	runtime.SetFinalizer(m, func(m *Model) {
		slog.Debug("native: model not closed", "path", m.path)
		m.Close()
	})
	return m, nil
}

// checkGGUFFile checks that path is a readable regular file starting with
// the GGUF magic, so that the common mistakes get a clear error before
// llama.cpp sees the file. The full validation is llm/gguf's.
func checkGGUFFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s: is a directory", path)
	}
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || string(magic[:]) != "GGUF" {
		return fmt.Errorf("%s: not a gguf file", path)
	}
	return nil
}

// readInfo reads the model's facts; called before m is shared.
func (m *Model) readInfo() ModelInfo {
	arch, _ := m.meta("general.architecture")
	name, _ := m.meta("general.name")
	var desc [256]C.char
	C.llama_model_desc(m.c, &desc[0], C.size_t(len(desc)))
	return ModelInfo{
		Architecture: arch,
		Name:         name,
		Description:  C.GoString(&desc[0]),
		NEmbd:        int(C.llama_model_n_embd(m.c)),
		NEmbdInput:   int(C.llama_model_n_embd_inp(m.c)),
		NCtxTrain:    int(C.llama_model_n_ctx_train(m.c)),
		NLayer:       int(C.llama_model_n_layer(m.c)),
		NHead:        int(C.llama_model_n_head(m.c)),
		NHeadKV:      int(C.llama_model_n_head_kv(m.c)),
		NVocab:       int(C.llama_vocab_n_tokens(m.vocab)),
		Size:         uint64(C.llama_model_size(m.c)),
		NParams:      uint64(C.llama_model_n_params(m.c)),
	}
}

// Close frees the model; ErrInUse while objects made from it are open.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c == nil {
		return nil
	}
	var inUse []string
	for k, n := range m.users {
		if n > 0 {
			inUse = append(inUse, fmt.Sprintf("%d %s", n, userKindNames[k]))
		}
	}
	if len(inUse) > 0 {
		return fmt.Errorf("close model %s: %w by %s: close them first", m.path, ErrInUse, strings.Join(inUse, ", "))
	}
	C.llama_model_free(m.c)
	m.c, m.vocab = nil, nil
	runtime.SetFinalizer(m, nil)
	return nil
}

// use counts a new user of kind k: from then on the model stays open, and
// the user may read c and vocab without mu, until release.
func (m *Model) use(k userKind) error {
	if m == nil {
		return fmt.Errorf("%w model", ErrClosed)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c == nil {
		return fmt.Errorf("%w model", ErrClosed)
	}
	m.users[k]++
	return nil
}

// release ends a use of kind k.
func (m *Model) release(k userKind) {
	m.mu.Lock()
	m.users[k]--
	m.mu.Unlock()
}

// Info returns facts about the model.
func (m *Model) Info() ModelInfo { return m.info }

// Meta returns a metadata value of the model file as text (for example
// "tokenizer.chat_template") and whether the key exists; "" and false once
// the model is closed.
func (m *Model) Meta(key string) (string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return "", false
	}
	return m.meta(key)
}

// meta returns a metadata value as text and whether key exists; the
// caller holds the model's lock or has it to itself.
func (m *Model) meta(key string) (string, bool) {
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	buf := make([]C.char, 256)
	n := C.llama_model_meta_val_str(m.c, ckey, &buf[0], C.size_t(len(buf)))
	if n < 0 {
		return "", false
	}
	if int(n) >= len(buf) {
		buf = make([]C.char, int(n)+1)
		C.llama_model_meta_val_str(m.c, ckey, &buf[0], C.size_t(len(buf)))
	}
	return C.GoString(&buf[0]), true
}

// Tokenize turns text into tokens.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]Token, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return nil, fmt.Errorf("tokenize: %w", ErrClosed)
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	toks := make([]Token, len(text)+8)
	for {
		n := C.llama_tokenize(m.vocab, ctext, C.int32_t(len(text)),
			(*C.llama_token)(unsafe.Pointer(&toks[0])), C.int32_t(len(toks)),
			C.bool(addSpecial), C.bool(parseSpecial))
		if n >= 0 {
			return toks[:n], nil
		}
		if -int(n) <= len(toks) {
			return nil, fmt.Errorf("tokenize: llama.cpp failed (%d)", int(n))
		}
		toks = make([]Token, -int(n))
	}
}

// checkTokens returns an error when a token is outside the vocabulary
// (llama.cpp indexes its tables with them unchecked).
func (m *Model) checkTokens(toks ...Token) error {
	for _, t := range toks {
		if t < 0 || int(t) >= m.info.NVocab {
			return fmt.Errorf("token %d outside the vocabulary of %d", t, m.info.NVocab)
		}
	}
	return nil
}

// Detokenize turns tokens back into text.
func (m *Model) Detokenize(tokens []Token, removeSpecial, unparseSpecial bool) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return "", fmt.Errorf("detokenize: %w", ErrClosed)
	}
	if len(tokens) == 0 {
		return "", nil
	}
	if err := m.checkTokens(tokens...); err != nil {
		return "", fmt.Errorf("detokenize: %w", err)
	}
	buf := make([]byte, len(tokens)*8+16)
	for {
		n := C.llama_detokenize(m.vocab, (*C.llama_token)(unsafe.Pointer(&tokens[0])), C.int32_t(len(tokens)),
			(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), C.bool(removeSpecial), C.bool(unparseSpecial))
		if n >= 0 {
			return string(buf[:n]), nil
		}
		if -int(n) <= len(buf) {
			return "", fmt.Errorf("detokenize: llama.cpp failed (%d)", int(n))
		}
		buf = make([]byte, -int(n))
	}
}

// IsEOG reports whether t ends generation.
func (m *Model) IsEOG(t Token) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil || m.checkTokens(t) != nil {
		return false
	}
	return bool(C.llama_vocab_is_eog(m.vocab, C.llama_token(t)))
}

// ApplyChatTemplate formats msgs with tmpl (empty: the model's template).
func (m *Model) ApplyChatTemplate(tmpl string, msgs []ChatMessage, addAssistant bool) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.c == nil {
		return "", fmt.Errorf("apply chat template: %w", ErrClosed)
	}
	if tmpl == "" {
		tmpl = goStr(C.llama_model_chat_template(m.c, nil))
		if tmpl == "" {
			return "", fmt.Errorf("apply chat template: model %s has no chat template", m.path)
		}
	}
	if len(msgs) == 0 {
		return "", errors.New("apply chat template: no messages")
	}
	ctmpl := C.CString(tmpl)
	defer C.free(unsafe.Pointer(ctmpl))
	cmsgs := make([]C.struct_llama_chat_message, len(msgs))
	size := 64
	for i, msg := range msgs {
		role := C.CString(msg.Role)
		defer C.free(unsafe.Pointer(role))
		content := C.CString(msg.Content)
		defer C.free(unsafe.Pointer(content))
		cmsgs[i] = C.struct_llama_chat_message{role: role, content: content}
		size += 2 * (len(msg.Role) + len(msg.Content) + 32)
	}
	buf := make([]byte, size)
	for {
		n := C.llama_chat_apply_template(ctmpl, &cmsgs[0], C.size_t(len(cmsgs)), C.bool(addAssistant),
			(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)))
		if n < 0 {
			return "", errors.New("apply chat template: llama.cpp does not recognize the template")
		}
		if int(n) <= len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, int(n))
	}
}
