package synth

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

// Shape names a model size.
type Shape string

// The shapes Write knows.
const (
	Tiny  Shape = "tiny"  // for tests: a few MB, loads in milliseconds
	Small Shape = "small" // for batching benchmarks on a few CPU cores
	TwoB  Shape = "2b"    // Qwen2-VL-2B-Instruct's real dimensions, F16, several GB
)

// Shapes lists the shapes in size order.
var Shapes = []Shape{Tiny, Small, TwoB}

// Options say what Write generates.
type Options struct {
	Shape Shape
	Seed  int64
	LoRA  bool // also write a LoRA adapter for the language model
}

// Files are the paths Write wrote; LoRA is empty unless asked for.
type Files struct {
	Model, Mmproj, LoRA string
}

// Dims are the dimensions of a shape.
type Dims struct {
	// Language model.
	Embd, Layers, Heads, KVHeads, FF int
	RopeSections                     [4]int32 // sum to half the head size
	Merges                           int      // BPE merges learnt (at most what the corpus gives)
	Regular                          int      // regular tokens (bytes, merges, fillers) before the special ones; 0 for no fillers
	Vocab                            int      // total vocabulary, padded with [PADn]; 0 for no padding
	Tied                             bool     // output projection shares token_embd
	Context                          int
	// Vision encoder.
	VEmbd, VLayers, VHeads, VFF, Patch, ImageSize int
	// LoRA rank.
	Rank int
	// Type of the weight matrices (norms and biases are F32).
	WeightType gguf.TensorType
}

// DimsOf returns the dimensions of a shape.
//
// Tiny: a 64-wide, 2-layer LLM (4 heads of 16, 2 KV heads) and a 32-wide,
// 2-layer vision encoder (2 heads of 16): the smallest widths the
// constraints allow with more than one head, a few MB in all.
// Small: a 512-wide, 4-layer LLM (8 heads of 64) and a 256-wide, 4-layer
// vision encoder (4 heads of 64): enough work per image and token for
// batching to show, still seconds per image on two CPU cores.
func DimsOf(s Shape) (Dims, error) {
	switch s {
	case Tiny:
		return Dims{Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 192, RopeSections: [4]int32{2, 3, 3, 0},
			Merges: 200, Context: 4096, VEmbd: 32, VLayers: 2, VHeads: 2, VFF: 64, Patch: 14, ImageSize: 560,
			Rank: 4, WeightType: gguf.F16}, nil
	case Small:
		return Dims{Embd: 512, Layers: 4, Heads: 8, KVHeads: 2, FF: 1408, RopeSections: [4]int32{8, 12, 12, 0},
			Merges: 1000, Context: 8192, VEmbd: 256, VLayers: 4, VHeads: 4, VFF: 1024, Patch: 14, ImageSize: 560,
			Rank: 8, WeightType: gguf.F16}, nil
	case TwoB:
		return Dims{Embd: 1536, Layers: 28, Heads: 12, KVHeads: 2, FF: 8960, RopeSections: [4]int32{16, 24, 24, 0},
			Merges: 1000, Regular: 151643, Vocab: 151936, Tied: true, Context: 32768,
			VEmbd: 1280, VLayers: 32, VHeads: 16, VFF: 5120, Patch: 14, ImageSize: 560,
			Rank: 16, WeightType: gguf.F16}, nil
	}
	return Dims{}, fmt.Errorf("unknown shape %q (want tiny, small or 2b)", s)
}

// tensor is a tensor to generate.
type tensor struct {
	info gguf.TensorInfo
	dist dist
}

// Write writes model.gguf, mmproj.gguf and, with opts.LoRA, lora.gguf into
// dir (created if missing), replacing files of those names. It uses all
// CPUs for the weights; the output depends only on opts.
func Write(dir string, opts Options) (Files, error) {
	d, err := DimsOf(opts.Shape)
	if err != nil {
		return Files{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, err
	}
	files := Files{Model: filepath.Join(dir, "model.gguf"), Mmproj: filepath.Join(dir, "mmproj.gguf")}
	name := fmt.Sprintf("vlmcmp synthetic qwen2-vl %s seed %d", opts.Shape, opts.Seed)
	md, ts := modelFile(d, name)
	if err := writeFile(files.Model, md, ts, uint64(opts.Seed), 1); err != nil {
		return Files{}, err
	}
	md, ts = projectorFile(d, name)
	if err := writeFile(files.Mmproj, md, ts, uint64(opts.Seed), 2); err != nil {
		return Files{}, err
	}
	if opts.LoRA {
		files.LoRA = filepath.Join(dir, "lora.gguf")
		md, ts = loraFile(d, name)
		if err := writeFile(files.LoRA, md, ts, uint64(opts.Seed), 3); err != nil {
			return Files{}, err
		}
	}
	return files, nil
}

func mat(name string, t gguf.TensorType, in, out int, std float64) tensor {
	return tensor{gguf.TensorInfo{Name: name, Type: t, Shape: []int64{int64(in), int64(out)}}, dist{std: std}}
}

func vec(name string, n int, mean, std float64) tensor {
	return tensor{gguf.TensorInfo{Name: name, Type: gguf.F32, Shape: []int64{int64(n)}}, dist{mean: mean, std: std}}
}

func invSqrt(n int) float64 { return 1 / sqrtf(float64(n)) }

func modelFile(d Dims, name string) (gguf.Metadata, []tensor) {
	v := buildVocab(d.Merges, d.Regular, d.Vocab)
	const arch = gguf.ArchQwen2VL
	md := gguf.Metadata{
		gguf.KV("general.architecture", arch),
		gguf.KV("general.type", "model"),
		gguf.KV("general.name", name),
		gguf.KV("general.file_type", uint32(1)), // mostly F16
		gguf.KV(arch+".context_length", uint32(d.Context)),
		gguf.KV(arch+".embedding_length", uint32(d.Embd)),
		gguf.KV(arch+".block_count", uint32(d.Layers)),
		gguf.KV(arch+".feed_forward_length", uint32(d.FF)),
		gguf.KV(arch+".attention.head_count", uint32(d.Heads)),
		gguf.KV(arch+".attention.head_count_kv", uint32(d.KVHeads)),
		gguf.KV(arch+".attention.layer_norm_rms_epsilon", float32(1e-6)),
		gguf.KV(arch+".rope.freq_base", float32(1e6)),
		gguf.KV(arch+".rope.dimension_sections", d.RopeSections[:]),
		gguf.KV("tokenizer.ggml.model", "gpt2"),
		gguf.KV("tokenizer.ggml.pre", "qwen2"),
		gguf.KV("tokenizer.ggml.tokens", v.tokens),
		gguf.KV("tokenizer.ggml.token_type", v.types),
		gguf.KV("tokenizer.ggml.merges", v.merges),
		gguf.KV("tokenizer.ggml.bos_token_id", uint32(v.ids["<|endoftext|>"])),
		gguf.KV("tokenizer.ggml.eos_token_id", uint32(v.ids["<|im_end|>"])),
		gguf.KV("tokenizer.ggml.eot_token_id", uint32(v.ids["<|im_end|>"])),
		gguf.KV("tokenizer.ggml.padding_token_id", uint32(v.ids["<|endoftext|>"])),
		gguf.KV("tokenizer.ggml.add_bos_token", false),
		gguf.KV("tokenizer.chat_template", chatTemplate),
	}
	nv := len(v.tokens)
	wt := d.WeightType
	headDim := d.Embd / d.Heads
	kv := headDim * d.KVHeads
	embStd := 1.0
	if d.Tied {
		embStd = 3 * invSqrt(d.Embd) // logits come from the embeddings too
	}
	ts := []tensor{mat("token_embd.weight", wt, d.Embd, nv, embStd)}
	for i := range d.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		ts = append(ts,
			vec(p+"attn_norm.weight", d.Embd, 1, 0),
			mat(p+"attn_q.weight", wt, d.Embd, d.Embd, invSqrt(d.Embd)),
			vec(p+"attn_q.bias", d.Embd, 0, 0.02),
			mat(p+"attn_k.weight", wt, d.Embd, kv, invSqrt(d.Embd)),
			vec(p+"attn_k.bias", kv, 0, 0.02),
			mat(p+"attn_v.weight", wt, d.Embd, kv, invSqrt(d.Embd)),
			vec(p+"attn_v.bias", kv, 0, 0.02),
			mat(p+"attn_output.weight", wt, d.Embd, d.Embd, invSqrt(d.Embd)),
			vec(p+"ffn_norm.weight", d.Embd, 1, 0),
			mat(p+"ffn_gate.weight", wt, d.Embd, d.FF, invSqrt(d.Embd)),
			mat(p+"ffn_up.weight", wt, d.Embd, d.FF, invSqrt(d.Embd)),
			mat(p+"ffn_down.weight", wt, d.FF, d.Embd, invSqrt(d.FF)),
		)
	}
	ts = append(ts, vec("output_norm.weight", d.Embd, 1, 0))
	if !d.Tied {
		// Logits with a standard deviation of about 3: enough for the
		// greedy choice to depend on the input.
		ts = append(ts, mat("output.weight", wt, d.Embd, nv, 3*invSqrt(d.Embd)))
	}
	return md, ts
}

// Image normalisation of Qwen2-VL (OpenAI CLIP's).
var (
	imageMean = []float32{0.48145466, 0.4578275, 0.40821073}
	imageStd  = []float32{0.26862954, 0.26130258, 0.27577711}
)

func projectorFile(d Dims, name string) (gguf.Metadata, []tensor) {
	md := gguf.Metadata{
		gguf.KV("general.architecture", "clip"),
		gguf.KV("general.type", "mmproj"),
		gguf.KV("general.name", name+" projector"),
		gguf.KV("general.file_type", uint32(1)),
		gguf.KV("clip.has_vision_encoder", true),
		gguf.KV("clip.projector_type", "qwen2vl_merger"),
		gguf.KV("clip.vision.embedding_length", uint32(d.VEmbd)),
		gguf.KV("clip.vision.feed_forward_length", uint32(d.VFF)),
		gguf.KV("clip.vision.block_count", uint32(d.VLayers)),
		gguf.KV("clip.vision.projection_dim", uint32(d.Embd)),
		gguf.KV("clip.vision.attention.head_count", uint32(d.VHeads)),
		gguf.KV("clip.vision.attention.layer_norm_epsilon", float32(1e-6)),
		gguf.KV("clip.vision.image_size", uint32(d.ImageSize)),
		gguf.KV("clip.vision.patch_size", uint32(d.Patch)),
		gguf.KV("clip.vision.spatial_merge_size", uint32(2)),
		gguf.KV("clip.vision.image_mean", imageMean),
		gguf.KV("clip.vision.image_std", imageStd),
	}
	wt := d.WeightType
	e := d.VEmbd
	patchIn := 3 * d.Patch * d.Patch
	conv := func(n string) tensor {
		return tensor{gguf.TensorInfo{Name: n, Type: gguf.F16, Shape: []int64{int64(d.Patch), int64(d.Patch), 3, int64(e)}},
			dist{std: invSqrt(2 * patchIn)}}
	}
	ts := []tensor{conv("v.patch_embd.weight"), conv("v.patch_embd.weight.1")}
	for i := range d.VLayers {
		p := fmt.Sprintf("v.blk.%d.", i)
		ts = append(ts,
			vec(p+"ln1.weight", e, 1, 0), vec(p+"ln1.bias", e, 0, 0),
			mat(p+"attn_q.weight", wt, e, e, invSqrt(e)), vec(p+"attn_q.bias", e, 0, 0.02),
			mat(p+"attn_k.weight", wt, e, e, invSqrt(e)), vec(p+"attn_k.bias", e, 0, 0.02),
			mat(p+"attn_v.weight", wt, e, e, invSqrt(e)), vec(p+"attn_v.bias", e, 0, 0.02),
			mat(p+"attn_out.weight", wt, e, e, invSqrt(e)), vec(p+"attn_out.bias", e, 0, 0.02),
			vec(p+"ln2.weight", e, 1, 0), vec(p+"ln2.bias", e, 0, 0),
			mat(p+"ffn_up.weight", wt, e, d.VFF, invSqrt(e)), vec(p+"ffn_up.bias", d.VFF, 0, 0.02),
			mat(p+"ffn_down.weight", wt, d.VFF, e, invSqrt(d.VFF)), vec(p+"ffn_down.bias", e, 0, 0.02),
		)
	}
	ts = append(ts,
		vec("v.post_ln.weight", e, 1, 0), vec("v.post_ln.bias", e, 0, 0),
		mat("mm.0.weight", wt, 4*e, 4*e, invSqrt(4*e)), vec("mm.0.bias", 4*e, 0, 0.02),
		mat("mm.2.weight", wt, 4*e, d.Embd, invSqrt(4*e)), vec("mm.2.bias", d.Embd, 0, 0.02),
	)
	return md, ts
}

// loraTargets are the base tensors of each layer the adapter changes.
var loraTargets = []string{"attn_q", "attn_v", "ffn_down"}

func loraFile(d Dims, name string) (gguf.Metadata, []tensor) {
	md := gguf.Metadata{
		gguf.KV("general.architecture", gguf.ArchQwen2VL),
		gguf.KV("general.type", "adapter"),
		gguf.KV("general.name", name+" lora"),
		gguf.KV("adapter.type", "lora"),
		gguf.KV("adapter.lora.alpha", float32(2*d.Rank)),
	}
	_, base := modelFile(d, name)
	var ts []tensor
	for _, b := range base {
		for _, t := range loraTargets {
			var layer int
			var target string
			if n, _ := fmt.Sscanf(b.info.Name, "blk.%d.%s", &layer, &target); n != 2 || target != t+".weight" {
				continue
			}
			in, out := int(b.info.Shape[0]), int(b.info.Shape[1])
			// lora_a is [in, r] and lora_b [r, out] in ggml order; the
			// update B·A·x·alpha/r is then as large as x: clearly visible.
			ts = append(ts,
				mat(b.info.Name+".lora_a", gguf.F32, in, d.Rank, invSqrt(in)),
				mat(b.info.Name+".lora_b", gguf.F32, d.Rank, out, 0.5*invSqrt(d.Rank)),
			)
		}
	}
	return md, ts
}

// chunkValues is how many values one generator stream fills.
const chunkValues = 1 << 20

// writeFile writes one file, drawing tensor i's chunk c from the stream
// mix(seed, file, i, c), several chunks at a time in parallel.
func writeFile(path string, md gguf.Metadata, ts []tensor, seed, file uint64) error {
	infos := make([]gguf.TensorInfo, len(ts))
	for i, t := range ts {
		infos[i] = t.info
	}
	workers := runtime.GOMAXPROCS(0)
	err := gguf.Create(path, md, infos, func(i int, w io.Writer) error {
		t := ts[i]
		size := int(t.info.Type.RowBytes(1))
		tab := table(t.info.Type, t.dist)
		n := t.info.Elements()
		nChunks := int((n + chunkValues - 1) / chunkValues)
		bufs := make([][]byte, workers)
		for c0 := 0; c0 < nChunks; c0 += workers {
			var wg sync.WaitGroup
			for k := 0; k < workers && c0+k < nChunks; k++ {
				c := c0 + k
				vals := min(int64(chunkValues), n-int64(c)*chunkValues)
				if cap(bufs[k]) < int(vals)*size {
					bufs[k] = make([]byte, int(vals)*size)
				}
				bufs[k] = bufs[k][:int(vals)*size]
				wg.Add(1)
				go func(buf []byte) {
					defer wg.Done()
					fill(buf, tab, size, mix(seed, file, uint64(i), uint64(c)))
				}(bufs[k])
			}
			wg.Wait()
			for k := 0; k < workers && c0+k < nChunks; k++ {
				if _, err := w.Write(bufs[k]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	slog.Debug("synth: wrote file", "path", path, "tensors", len(ts))
	return nil
}
