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
// Chunks, Sampler, LoRA) with an idempotent Close; a finalizer only reports
// and frees what was leaked. C types never leave the package: the API uses
// Go ints, strings, slices and the structs in types.go, and data is copied
// out of C memory before it is returned. Objects made from a Model keep it
// from closing (ErrInUse) until they are closed.
//
// # Concurrency
//
// A Model is safe for concurrent use. A Context, with the batches and
// samplers used on it, belongs to one goroutine (continuous batching runs
// every sequence through one Decode per step from that goroutine). A
// Projector serializes its encodes, and an Encode may run on another
// goroutine while the Context's owner decodes.
//
// # Errors and logs
//
// llama.cpp explains failures in its log rather than its return values. The
// package installs its own log callbacks for ggml, llama.cpp and mtmd (in
// place of the one ollama's ggml package sets): lines go to slog below
// Info, so they show only with debug logging (SetLogger), and the latest
// warnings and errors are quoted in the *Error values the package returns.
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
