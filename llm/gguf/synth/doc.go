// Package synth writes random-weight Qwen2-VL models as GGUF files that
// llama.cpp (the commit vendored by github.com/ollama/ollama v0.17.4)
// loads and runs: the language model (architecture qwen2vl, with a
// byte-level BPE vocabulary, the Qwen special tokens and a ChatML chat
// template), its vision projector (clip, projector qwen2vl_merger) and,
// optionally, a LoRA adapter for the language model.
//
// Shapes: Tiny for tests (a few MB), Small for batching benchmarks on a
// few CPU cores, and TwoB with Qwen2-VL-2B-Instruct's real dimensions in
// F16 for throughput benchmarks. Weights come from a seeded generator,
// tensor by tensor and chunk by chunk, so the same Options give the same
// bytes (on one platform) and a multi-gigabyte file needs no buffer of its
// size.
//
// What llama.cpp needs of such files, learnt by reading and trying it:
//   - the qwen2vl graph uses the q/k/v biases unconditionally (the loader
//     calls them optional; without them the process crashes), and any
//     tensor the loader does not know, such as an attention-output bias,
//     makes it refuse the file;
//   - qwen2vl.rope.dimension_sections (4 values) must sum to half the head
//     size, and the head size times the head count must equal the width;
//   - every vocabulary string must be unique;
//   - the projector needs clip.has_vision_encoder, clip.projector_type
//     qwen2vl_merger, image mean and std (3 f32 each), two patch-embedding
//     halves (v.patch_embd.weight and v.patch_embd.weight.1, no bias), a
//     vision head size divisible by 4, an FFN width unlike the vision width
//     (else the loader swaps up and down), and an output width (mm.2) equal
//     to the language model's;
//   - clip reads its keys with exact types (u32, f32, bool) and aborts on
//     any other;
//   - with tied input and output embeddings a small random model only
//     repeats the last prompt token, so Tiny and Small have a separate
//     output.weight (the real 2B ties them, and so does TwoB).
package synth
