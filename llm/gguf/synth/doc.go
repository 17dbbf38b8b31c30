// Package synth writes random-weight Qwen2-VL, Qwen2.5-VL and Qwen3-VL
// models (see package family) as GGUF files that llama.cpp (the commit
// vendored by github.com/ollama/ollama v0.17.4) loads and runs: the
// language model (architecture qwen2vl or qwen3vl, with a byte-level BPE
// vocabulary, the Qwen special tokens and the family's chat template), its
// vision projector (clip, projector qwen2vl_merger, qwen2.5vl_merger or
// qwen3vl_merger) and, optionally, a LoRA adapter for the language model.
// The tensors written are exactly the family's lists, which the GGUF
// validator checks against.
//
// Shapes: Tiny for tests (a few MB), Small for batching benchmarks on a
// few CPU cores, and the real dimensions in F16 for throughput benchmarks
// (from the published config.json files, see DimsFor): qwen2vl 2b
// (Qwen2-VL-2B-Instruct), qwen2.5vl 3b (Qwen2.5-VL-3B-Instruct), qwen3vl
// 2b and 4b (Qwen3-VL-2B-Instruct, Qwen3-VL-4B-Instruct). Weights come from a seeded generator,
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
//
// Qwen2.5-VL's projector (qwen2.5vl_merger) in addition:
//   - clip.vision.n_wa_pattern is required for this type only (full
//     attention every n-th block, windows of 112 pixels otherwise);
//   - RMSNorm: ln1, ln2 and v.post_ln have a weight and no bias; the MLP
//     is gated (ffn_gate, ffn_up, ffn_down, each with a bias) and its
//     activation SiLU, which clip only uses with clip.use_silu true
//     (otherwise quick-GELU);
//   - q, k and v are separate tensors with biases, as for Qwen2-VL.
//
// Qwen3-VL (language model qwen3vl, projector qwen3vl_merger):
//   - the language model has no q/k/v biases but per-head RMS norms
//     blk.N.attn_q_norm and attn_k_norm ([head size]); the head size is
//     qwen3vl.attention.key_length (and value_length), which need not be
//     the width over the heads (the 4B has 32 heads of 128 on a 2560
//     width), and the rope sections sum to half of it;
//   - qwen3vl.n_deepstack_layers (optional to the loader) makes the model
//     take embeddings (1+n) times its width: the first n layers each add
//     one slice; mtmd refuses the pair unless the projector's output is as
//     wide, which it is when the projector has n deepstack mergers
//     (v.deepstack.L.{norm,fc1,fc2}.{weight,bias}, L the vision layer whose
//     output feeds it: norm and fc1 are 4·vision width, fc2 goes to the LLM
//     width);
//   - the vision graph asserts v.patch_embd.bias and v.position_embd.weight
//     ([width, n], n a square, interpolated to the image's patch grid) are
//     present; q, k and v are one fused v.blk.N.attn_qkv ([width, 3·width])
//     with bias; LayerNorms with biases; a GELU MLP ffn_up/ffn_down
//     (clip.use_gelu true; gelu_pytorch_tanh in Hugging Face); v.post_ln is
//     the merger's norm;
//   - patches are 16 pixels (the image side must be a multiple of 32,
//     which mtmd's resize ensures) and pixels are normalised with mean and
//     std 0.5.
//
// Tested with -tags llamacpp (engine_test.go) on the tiny shape of each
// family: loads, encodes an image, generates; same input gives the same
// text, two images different texts, and the LoRA changes it; and in
// llm/local (TestFamilyDefaultsSeeTheImage) 8 distinct street images give
// at least 4 distinct answers with each family's default token bounds
// (5 to 8 of 8 for the tiny shapes, 12 to 14 of 16 in bench for tiny and
// small). Qwen3-VL's weights are scaled as Qwen2-VL's: when its answers
// were once the same for every image, the cause was not the weights but
// mtmd skipping the image at Qwen3-VL's 784-token batch (see native's
// imageBatch); the image embeddings did differ. The real
// shapes qwen2.5vl 3b, qwen3vl 2b and qwen3vl 4b were loaded once by hand
// (projector without warm-up, a 64x64 image, one sampled token: 3 to 5 s
// on two CPU cores); they pass the GGUF validator.
package synth
