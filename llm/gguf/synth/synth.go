package synth

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

// Shape names a model size.
type Shape string

// The shapes Write knows. Tiny and Small exist for every family; the real
// shapes only for the family that has a model of that size.
const (
	Tiny   Shape = "tiny"  // for tests: a few MB, loads in milliseconds
	Small  Shape = "small" // for batching benchmarks on a few CPU cores
	TwoB   Shape = "2b"    // Qwen2-VL-2B-Instruct or Qwen3-VL-2B-Instruct, F16, several GB
	ThreeB Shape = "3b"    // Qwen2.5-VL-3B-Instruct, F16
	FourB  Shape = "4b"    // Qwen3-VL-4B-Instruct, F16
)

// Shapes lists the shapes in size order.
var Shapes = []Shape{Tiny, Small, TwoB, ThreeB, FourB}

// Options say what Write generates.
type Options struct {
	// Family is the model family's name (family.Names); "" is qwen2vl.
	Family string
	Shape  Shape
	Seed   int64
	LoRA   bool // also write a LoRA adapter for the language model
	// F32 stores the weight matrices in F32 instead of the shape's F16:
	// for tests that compare arithmetic paths exactly (ggml rounds the
	// activations to F16 before multiplying an F16 weight).
	F32 bool
}

// Files are the paths Write wrote; LoRA is empty unless asked for.
type Files struct {
	Model, Mmproj, LoRA string
}

// Dims are the dimensions of a shape.
type Dims struct {
	// Language model.
	Embd, Layers, Heads, KVHeads, FF int
	HeadDim                          int      // 0: Embd/Heads (qwen3vl stores it as attention.key_length)
	RopeSections                     [4]int32 // sum to half the head size
	Merges                           int      // BPE merges learnt (at most what the corpus gives)
	Regular                          int      // regular tokens (bytes, merges, fillers) before the special ones; 0 for no fillers
	Vocab                            int      // total vocabulary, padded with [PADn]; 0 for no padding
	Tied                             bool     // output projection shares token_embd
	Context                          int
	// Vision encoder.
	VEmbd, VLayers, VHeads, VFF, Patch, ImageSize int
	WindowPattern                                 int   // qwen2.5vl: every n-th block attends fully, the others in windows
	Positions                                     int   // qwen3vl: learnt position embeddings, a square
	Deepstack                                     []int // qwen3vl: vision layers feeding the first LLM layers
	// LoRA rank.
	Rank int
	// Type of the weight matrices (norms and biases are F32).
	WeightType gguf.TensorType
}

func (d Dims) headDim() int {
	if d.HeadDim > 0 {
		return d.HeadDim
	}
	return d.Embd / d.Heads
}

// DimsOf returns the dimensions of a Qwen2-VL shape.
func DimsOf(s Shape) (Dims, error) { return DimsFor(family.Qwen2VL.Name, s) }

// ShapesOf returns the shapes a family has.
func ShapesOf(fam string) []Shape {
	switch fam {
	case family.Qwen2VL.Name:
		return []Shape{Tiny, Small, TwoB}
	case family.Qwen25VL.Name:
		return []Shape{Tiny, Small, ThreeB}
	case family.Qwen3VL.Name:
		return []Shape{Tiny, Small, TwoB, FourB}
	}
	return nil
}

// DimsFor returns the dimensions of a shape of a family.
//
// Tiny: a 64-wide, 2-layer LLM (4 heads of 16, 2 KV heads) and a 32-wide,
// 2-layer vision encoder (2 heads of 16; 3 layers, two of them deepstack,
// for Qwen3-VL): the smallest widths the constraints allow with more than
// one head, a few MB in all.
// Small: a 512-wide, 4-layer LLM (8 heads of 64) and a 256-wide, 4-layer
// vision encoder (4 heads of 64): enough work per image and token for
// batching to show, still seconds per image on two CPU cores.
// The real shapes take the published config.json of Qwen2-VL-2B-Instruct,
// Qwen2.5-VL-3B-Instruct, Qwen3-VL-2B-Instruct and Qwen3-VL-4B-Instruct.
func DimsFor(fam string, s Shape) (Dims, error) {
	f, err := family.ByName(fam)
	if err != nil {
		return Dims{}, err
	}
	var d Dims
	switch s {
	case Tiny:
		d = Dims{Embd: 64, Layers: 2, Heads: 4, KVHeads: 2, FF: 192, RopeSections: [4]int32{2, 3, 3, 0},
			Merges: 200, Context: 4096, VEmbd: 32, VLayers: 2, VHeads: 2, VFF: 64, Patch: f.Patch, ImageSize: 560,
			Rank: 4, WeightType: gguf.F16}
		switch f {
		case family.Qwen25VL:
			d.WindowPattern = 2
		case family.Qwen3VL:
			d.VLayers, d.Deepstack, d.Positions, d.ImageSize = 3, []int{0, 1}, 16, 512
		}
		return d, nil
	case Small:
		d = Dims{Embd: 512, Layers: 4, Heads: 8, KVHeads: 2, FF: 1408, RopeSections: [4]int32{8, 12, 12, 0},
			Merges: 1000, Context: 8192, VEmbd: 256, VLayers: 4, VHeads: 4, VFF: 1024, Patch: f.Patch, ImageSize: 560,
			Rank: 8, WeightType: gguf.F16}
		switch f {
		case family.Qwen25VL:
			d.WindowPattern = 2
		case family.Qwen3VL:
			d.Deepstack, d.Positions, d.ImageSize = []int{0, 1}, 256, 512
		}
		return d, nil
	}
	real := func(d Dims) Dims {
		d.Merges, d.Regular, d.Vocab, d.Tied, d.WeightType = 1000, 151643, 151936, true, gguf.F16
		d.Patch = f.Patch
		return d
	}
	// Each figure is the published Hugging Face config.json's (Qwen/<model>,
	// checked 2026-12-01; TestRealShapes holds the fields): Embd
	// hidden_size, Layers num_hidden_layers, Heads num_attention_heads,
	// KVHeads num_key_value_heads, HeadDim head_dim (Qwen3 only; Qwen2
	// derives it), FF intermediate_size, RopeSections mrope_section,
	// Context max_position_embeddings, Vocab vocab_size, Tied
	// tie_word_embeddings; vision: VEmbd hidden_size (Qwen2-VL embed_dim),
	// VLayers depth, VHeads num_heads, VFF intermediate_size (Qwen2-VL
	// embed_dim×mlp_ratio), Positions num_position_embeddings, Deepstack
	// deepstack_visual_indexes, WindowPattern the spacing of
	// fullatt_block_indexes; the projector's output width is the text
	// hidden_size (out_hidden_size). ImageSize is what llama.cpp's
	// convert_hf_to_gguf.py writes: 560 (14×40) for Qwen2-VL and
	// Qwen2.5-VL, sqrt(num_position_embeddings)×patch_size = 768 for
	// Qwen3-VL.
	switch {
	case f == family.Qwen2VL && s == TwoB:
		// Qwen2-VL-2B-Instruct; vision embed_dim 1280, mlp_ratio 4.
		return real(Dims{Embd: 1536, Layers: 28, Heads: 12, KVHeads: 2, FF: 8960, RopeSections: [4]int32{16, 24, 24, 0},
			Context: 32768, VEmbd: 1280, VLayers: 32, VHeads: 16, VFF: 5120, ImageSize: 560, Rank: 16}), nil
	case f == family.Qwen25VL && s == ThreeB:
		// Qwen2.5-VL-3B-Instruct; fullatt_block_indexes 7, 15, 23, 31:
		// every 8th block.
		return real(Dims{Embd: 2048, Layers: 36, Heads: 16, KVHeads: 2, FF: 11008, RopeSections: [4]int32{16, 24, 24, 0},
			Context: 128000, VEmbd: 1280, VLayers: 32, VHeads: 16, VFF: 3420, ImageSize: 560, WindowPattern: 8, Rank: 16}), nil
	case f == family.Qwen3VL && s == TwoB:
		// Qwen3-VL-2B-Instruct (text_config, vision_config).
		return real(Dims{Embd: 2048, Layers: 28, Heads: 16, KVHeads: 8, HeadDim: 128, FF: 6144, RopeSections: [4]int32{24, 20, 20, 0},
			Context: 262144, VEmbd: 1024, VLayers: 24, VHeads: 16, VFF: 4096, ImageSize: 768, Positions: 2304,
			Deepstack: []int{5, 11, 17}, Rank: 16}), nil
	case f == family.Qwen3VL && s == FourB:
		// Qwen3-VL-4B-Instruct: the 2B's vision tower, a wider and
		// deeper text model with 32 query heads of 128 (4096 wide, more
		// than the 2560 hidden size).
		return real(Dims{Embd: 2560, Layers: 36, Heads: 32, KVHeads: 8, HeadDim: 128, FF: 9728, RopeSections: [4]int32{24, 20, 20, 0},
			Context: 262144, VEmbd: 1024, VLayers: 24, VHeads: 16, VFF: 4096, ImageSize: 768, Positions: 2304,
			Deepstack: []int{5, 11, 17}, Rank: 16}), nil
	}
	var names []string
	for _, x := range ShapesOf(f.Name) {
		names = append(names, string(x))
	}
	return Dims{}, fmt.Errorf("unknown shape %q for %s (want %s)", s, f.Name, strings.Join(names, ", "))
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
	if opts.Family == "" {
		opts.Family = family.Qwen2VL.Name
	}
	f, err := family.ByName(opts.Family)
	if err != nil {
		return Files{}, err
	}
	d, err := DimsFor(f.Name, opts.Shape)
	if err != nil {
		return Files{}, err
	}
	if opts.F32 {
		d.WeightType = gguf.F32
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, err
	}
	files := Files{Model: filepath.Join(dir, "model.gguf"), Mmproj: filepath.Join(dir, "mmproj.gguf")}
	name := fmt.Sprintf("vlmcmp synthetic %s %s seed %d", strings.ToLower(f.Title), opts.Shape, opts.Seed)
	md, ts := modelFile(f, d, name)
	if err := writeFile(files.Model, md, ts, uint64(opts.Seed), 1); err != nil {
		return Files{}, err
	}
	md, ts = projectorFile(f, d, name)
	if err := writeFile(files.Mmproj, md, ts, uint64(opts.Seed), 2); err != nil {
		return Files{}, err
	}
	if opts.LoRA {
		files.LoRA = filepath.Join(dir, "lora.gguf")
		md, ts = loraFile(f, d, name)
		if err := writeFile(files.LoRA, md, ts, uint64(opts.Seed), 3); err != nil {
			return Files{}, err
		}
	}
	return files, nil
}

func mat(name string, t gguf.TensorType, in, out int, std float64) tensor {
	return tensor{gguf.TensorInfo{Name: name, Type: t, Shape: []int64{int64(in), int64(out)}}, dist{std: std}}
}

func invSqrt(n int) float64 { return 1 / sqrtf(float64(n)) }

// generated turns a family's tensor list into tensors to generate: weight
// matrices of type wt drawn with a standard deviation of one over the
// square root of their input width, norms 1, norm shifts 0, biases small.
func generated(list []family.Tensor, wt gguf.TensorType, embStd float64) []tensor {
	var ts []tensor
	for _, t := range family.Present(list) {
		info := gguf.TensorInfo{Name: t.Name, Type: gguf.F32, Shape: append([]int64(nil), t.Shape...)}
		var dd dist
		switch t.Kind {
		case family.Norm:
			dd = dist{mean: 1}
		case family.Bias:
			if !strings.Contains(t.Name, "ln") && !strings.Contains(t.Name, "norm") {
				dd = dist{std: 0.02}
			}
		case family.Embed:
			info.Type, dd = wt, dist{std: embStd}
			if strings.HasPrefix(t.Name, "v.") {
				info.Type, dd = gguf.F32, dist{std: 0.1}
			}
		case family.Weight:
			info.Type = wt
			in := int(t.Shape[0])
			if len(t.Shape) == 4 { // a patch convolution
				info.Type = gguf.F16
				in = 2 * int(t.Shape[0]*t.Shape[1]*t.Shape[2])
			}
			dd = dist{std: invSqrt(in)}
			if t.Name == "output.weight" {
				// Logits with a standard deviation of about 3: enough for
				// the greedy choice to depend on the input.
				dd.std = 3 * invSqrt(in)
			}
		}
		ts = append(ts, tensor{info, dd})
	}
	return ts
}

func modelFile(f *family.Family, d Dims, name string) (gguf.Metadata, []tensor) {
	v := buildVocab(d.Merges, d.Regular, d.Vocab)
	arch := f.Arch
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
	}
	if f == family.Qwen3VL {
		md = append(md,
			gguf.KV(arch+".attention.key_length", uint32(d.headDim())),
			gguf.KV(arch+".attention.value_length", uint32(d.headDim())),
			gguf.KV(arch+".n_deepstack_layers", uint32(len(d.Deepstack))))
	}
	md = append(md,
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
		gguf.KV("tokenizer.chat_template", f.ChatTemplate),
	)
	embStd := 1.0
	if d.Tied {
		embStd = 3 * invSqrt(d.Embd) // logits come from the embeddings too
	}
	list := f.LLMTensors(family.LLM{Embd: int64(d.Embd), Layers: int64(d.Layers), FF: int64(d.FF),
		Heads: int64(d.Heads), KVHeads: int64(d.KVHeads), HeadDim: int64(d.headDim()),
		Vocab: int64(len(v.tokens)), Tied: d.Tied, Deepstack: int64(len(d.Deepstack))})
	return md, generated(list, d.WeightType, embStd)
}

func projectorFile(f *family.Family, d Dims, name string) (gguf.Metadata, []tensor) {
	md := gguf.Metadata{
		gguf.KV("general.architecture", "clip"),
		gguf.KV("general.type", "mmproj"),
		gguf.KV("general.name", name+" projector"),
		gguf.KV("general.file_type", uint32(1)),
		gguf.KV("clip.has_vision_encoder", true),
		gguf.KV("clip.projector_type", f.Projector),
		gguf.KV("clip.vision.embedding_length", uint32(d.VEmbd)),
		gguf.KV("clip.vision.feed_forward_length", uint32(d.VFF)),
		gguf.KV("clip.vision.block_count", uint32(d.VLayers)),
		gguf.KV("clip.vision.projection_dim", uint32(d.Embd)),
		gguf.KV("clip.vision.attention.head_count", uint32(d.VHeads)),
		gguf.KV("clip.vision.attention.layer_norm_epsilon", float32(1e-6)),
		gguf.KV("clip.vision.image_size", uint32(d.ImageSize)),
		gguf.KV("clip.vision.patch_size", uint32(d.Patch)),
		gguf.KV("clip.vision.spatial_merge_size", uint32(f.Merge)),
		gguf.KV("clip.vision.image_mean", f.ImageMean[:]),
		gguf.KV("clip.vision.image_std", f.ImageStd[:]),
	}
	switch f {
	case family.Qwen25VL:
		md = append(md, gguf.KV("clip.vision.n_wa_pattern", uint32(d.WindowPattern)), gguf.KV("clip.use_silu", true))
	case family.Qwen3VL:
		is := make([]bool, d.VLayers)
		for _, l := range d.Deepstack {
			is[l] = true
		}
		md = append(md, gguf.KV("clip.vision.is_deepstack_layers", is), gguf.KV("clip.use_gelu", true))
	}
	ds := make([]int64, len(d.Deepstack))
	for i, l := range d.Deepstack {
		ds[i] = int64(l)
	}
	list := f.VisionTensors(family.Vision{Embd: int64(d.VEmbd), FF: int64(d.VFF), Layers: int64(d.VLayers),
		Heads: int64(d.VHeads), Patch: int64(d.Patch), Out: int64(d.Embd), Positions: int64(d.Positions), Deepstack: ds})
	return md, generated(list, d.WeightType, 0)
}

// loraTargets are the base tensors of each layer the adapter changes.
var loraTargets = []string{"attn_q", "attn_v", "ffn_down"}

func loraFile(f *family.Family, d Dims, name string) (gguf.Metadata, []tensor) {
	md := gguf.Metadata{
		gguf.KV("general.architecture", f.Arch),
		gguf.KV("general.type", "adapter"),
		gguf.KV("general.name", name+" lora"),
		gguf.KV("adapter.type", "lora"),
		gguf.KV("adapter.lora.alpha", float32(2*d.Rank)),
	}
	_, base := modelFile(f, d, name)
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
