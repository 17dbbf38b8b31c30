// Package native is vlmcmp's bridge to llama.cpp: backends and devices,
// models, contexts, token batches, the vision projector (mtmd), samplers and
// LoRA adapters, called through cgo from the C API of the llama.cpp, mtmd
// and ggml sources that the pinned github.com/ollama/ollama module vendors
// (link_llamacpp.go compiles them in).
//
// # Builds
//
// The cgo files carry the build tag llamacpp (`make` sets it, together with
// the header paths and -O3 -march=native in the CGO_* variables: run
// `eval "$(make -s env)"` before go commands with -tags llamacpp). Without
// the tag, stub.go provides the same API and every call fails with
// ErrNotBuilt, "built without llama.cpp: run make". api_test.go keeps the
// two in step.
//
// # Ownership
//
// Every C object has one Go owner (Model, Context, Batch, Projector, Bitmap,
// Chunks, Sampler, LoRA) with an idempotent Close; a finalizer is only a
// safety net that frees what was leaked. C types never leave the package:
// the API uses Go ints, strings, slices and the structs in types.go, and
// data is copied out of C memory before it is returned.
//
// Lifetimes are enforced, not only documented:
//
//   - Contexts, projectors, samplers (whose grammar reads the vocabulary)
//     and LoRA adapters made from a Model count as its users: Model.Close
//     fails with ErrInUse, freeing nothing, until they are closed.
//   - A LoRA applied by a context counts that context as a user: LoRA.Close
//     fails with ErrInUse until the context drops it (SetLoRA) or closes.
//     The check and the free, and SetLoRA's check and count, happen under
//     the adapter's one lock.
//   - Every object guards its C pointer with a lock its methods hold while
//     they use it: a Close from another goroutine waits for the call in
//     flight, and every later call fails with ErrClosed (or, for accessors
//     without an error, returns a zero value).
//
// Locks are taken in one order: sampler or projector, bitmaps or chunks,
// context, batch or adapter, model.
//
// # Concurrency
//
// A Model is safe for concurrent use. A Context, with the batches and
// samplers used on it, belongs to one goroutine (continuous batching runs
// every sequence through one Decode per step from that goroutine); calls
// from other goroutines are safe but wait for it, except Interrupt. A
// Projector serializes its encodes, and an Encode may run on another
// goroutine while the Context's owner decodes.
//
// # Errors and logs
//
// llama.cpp explains failures in its log rather than its return values. The
// package installs its own log callbacks for ggml, llama.cpp and mtmd (in
// place of the one ollama's ggml package sets): lines go to slog below
// Info, so they show only with debug logging (SetLogger), and the warnings
// and errors a failed call logged are quoted in the *Error it returns: only
// that call's, captured by the OS thread the call ran on (log.go), so
// concurrent failures do not quote each other.
// Status codes callers act on become sentinels: ErrKVCacheFull, ErrAborted,
// ErrClosed, ErrInUse, ErrBatchFull.
//
// # Backends
//
// The CPU backend is linked in. GPU backends are ggml backend libraries
// (libggml-cuda.so from `make cuda`) loaded at Init from the executable's
// folder, from VLMCMP_BACKEND_PATH and from InitOptions.BackendPaths, so a
// CPU build and a CUDA build are the same Go code.
package native
