package native

import (
	"errors"
	"strings"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrNotBuilt is returned by every call of a binary built without
	// llama.cpp (no llamacpp build tag).
	ErrNotBuilt = errors.New("built without llama.cpp: run make")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("native: use of closed object")
	// ErrKVCacheFull is returned by Decode (and the projector's eval calls)
	// when the KV cache has no room for the batch: free sequences with
	// SeqRemove, decode fewer tokens, or make a bigger context.
	ErrKVCacheFull = errors.New("kv cache full")
	// ErrAborted is returned when a decode was aborted.
	ErrAborted = errors.New("decode aborted")
	// ErrBatchFull is returned by Batch.Add when the batch is at capacity.
	ErrBatchFull = errors.New("batch full")
	// ErrInUse is returned by a Close that would free what another object
	// still uses: Model.Close while contexts, projectors, samplers or LoRA
	// adapters made from the model are open, LoRA.Close while a context
	// applies the adapter. Nothing is freed; close the users first.
	ErrInUse = errors.New("still in use")
)

// Built is nil when this binary has llama.cpp linked in (the llamacpp build
// tag), and ErrNotBuilt when it does not.
func Built() error {
	if _, err := SystemInfo(); errors.Is(err, ErrNotBuilt) {
		return err
	}
	return nil
}

// Error is a failure reported by llama.cpp, mtmd or ggml.
type Error struct {
	Op   string   // the operation, e.g. "decode", "load model /path/m.gguf"
	Code int      // the C function's status, when it returned one; 0 otherwise
	Log  []string // the latest error and warning lines llama.cpp logged during this call (not others), oldest first
	Err  error    // a sentinel (ErrKVCacheFull, ...) or a plain description
}

// Error returns "op: err (llama.cpp: last log lines)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if len(e.Log) > 0 {
		b.WriteString(" (llama.cpp: ")
		b.WriteString(strings.Join(e.Log, "; "))
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the sentinel or description.
func (e *Error) Unwrap() error { return e.Err }
