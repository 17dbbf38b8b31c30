// Package local is vlmcmp's in-process Qwen2-VL backend: a [Predictor] that
// runs a GGUF model and its vision projector (mmproj), with optional LoRA
// adapters, through llama.cpp (package native), on the CPU or a GPU.
//
// # Continuous batching
//
// One llama context holds P sequences (Config.Parallel). Requests queue in
// the order they arrive. Each request's prompt (chat template, image
// embedding with Qwen2-VL's M-RoPE positions, text) is prefilled into a free
// sequence; then every decoding step is a single llama_decode carrying the
// next token of every live sequence. A sequence that ends (end-of-generation
// token, the end of its grammar, or its token limit) has its KV cells
// cleared, and the next waiting request takes its slot in the same step
// loop. Each sequence, and a spare one, has a KV stream of its own of
// Config.ContextSize cells (llama.cpp's kv_unified=false), and a request's
// answer is capped so that its prompt and answer fit there: no step can run
// out of cells. The text before the image (the system prompt and the
// opening of the user turn) is the same for every request with the same
// system prompt: it is decoded once into the spare sequence and copied
// (llama_memory_seq_cp, a copy of that sequence's stream) into each new
// sequence.
//
// # Replicas
//
// Config.Replicas loads the model that many times, each instance (a
// replica: its own model, projector and context of P sequences) on one GPU
// of Config.Devices, or all placed as a single model would be. Every replica
// has its own preparer and owner, and all take from the one queue: a
// replica with a free sequence takes the next request, and one whose
// sequences are all taken prepares a request ahead only when no other
// replica has more room. Answers do not depend on which replica runs them.
// A decoding step that fails on one replica (a failure of its engine, not
// of a request) hands its requests back to the head of the queue for
// another replica; a request every replica has failed is answered with the
// error. A replica that failed three requests in a row takes no more while
// another replica has not (brokenAfter); its next answer makes it whole.
//
// The scheduler reaches llama.cpp through a small engine interface
// (engine.go; engine_llamacpp.go in builds with the llamacpp tag), so its
// tests run on a deterministic fake without cgo.
//
// # Goroutines and what overlaps
//
// Three kinds of goroutine take part, and only one touches a replica's
// llama context:
//
//   - the preparer reads each queued image file, decodes it in Go
//     (package imagefile), packs it to RGB, makes the mtmd bitmap and
//     tokenizes the prompt (mtmd resizes the image to its token budget
//     there). This runs while the owner decodes. When the vision encoder
//     runs on a GPU, or when the encoder's and the decoder's threads fit on
//     the CPUs together (Config.EncodeAhead), the preparer also encodes the
//     image (mtmd's encoder is serialized by package native and may run
//     while the context decodes), so image encoding overlaps decoding too.
//     When they would fight over the same cores, the owner encodes an image
//     itself, between two decoding steps, just before the image is
//     prefilled: Go-side decoding overlaps, the vision encoder does not.
//   - the owner (the Server.run shape of ollama's runner) owns the llama
//     context, the step batch and every sampler: it admits prepared requests
//     into free sequences, prefills them (image embedding, then the text
//     after it), runs the decoding steps and finishes sequences. Prefill of a
//     new sequence is its own llama_decode between two steps; it is not
//     merged into a step.
//   - one watcher per PredictBatch call answers that batch's still-queued
//     requests with the context's error when it is cancelled.
//
// Cancellation does not wait for the engine: while the owner prefills a
// request or runs a step, the end of any of their requests' contexts, or
// Close, interrupts the llama context (native.Context.Interrupt). An
// interrupted prefill answers its request with the context's error (or
// ErrClosed); an interrupted step, whose tokens llama.cpp drops, answers the
// cancelled requests and runs again for the others. The vision encoder
// cannot be interrupted: an image being encoded is finished first.
//
// Each request has exactly one owner at a time (queue, preparer, hand-over
// channel, owner), so it is answered exactly once. Per-request failures (an
// image that will not decode, a prompt longer than a sequence's context, a
// grammar llama.cpp refuses) fail that request only.
//
// # Sharing with other models
//
// Predictors of one projector file and image settings share each image's
// embedding through the comparison runner's shared images
// (llm.SharedImage; shared.go); predictors on the CPU take turns at it,
// one engine call at a time (cputurn.go).
//
// Files are checked with package llm/gguf before llama.cpp sees them, since
// llama.cpp aborts the process on some malformed files.
package local
