// Package family describes the vision-language model families vlmcmp runs
// through llama.cpp: one value per family says which GGUF architecture and
// projector type it uses, the keys and tensors llama.cpp requires of each
// file, how Hugging Face PEFT module names map to GGUF tensors, the chat
// template its models carry, and its image preprocessing (patch size and
// the min/max pixels of its Hugging Face processor). Adding a family is one
// file calling register.
//
// Qwen2-VL and Qwen2.5-VL share the language model architecture "qwen2vl";
// their projectors differ (qwen2vl_merger, qwen2.5vl_merger). Qwen3-VL has
// its own architecture "qwen3vl" and projector "qwen3vl_merger".
package family

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Kind says what a tensor holds, so a generator can pick its values and a
// validator can say what it is.
type Kind int

const (
	Weight Kind = iota // a matrix or convolution kernel
	Norm               // a norm's scale, around 1
	Bias               // a bias or norm shift, around 0
	Embed              // an embedding table (token or position)
)

// Tensor is one tensor a file of the family holds, in ggml dimension order.
type Tensor struct {
	Name     string
	Shape    []int64
	Kind     Kind
	Optional bool // llama.cpp loads the file without it
}

// LLM are the language model dimensions the tensor shapes follow from.
type LLM struct {
	Embd, Layers, FF, Heads, KVHeads int64
	HeadDim                          int64 // per-head width; Embd/Heads unless the family stores it
	Vocab                            int64
	Tied                             bool  // no output.weight: the output shares token_embd
	Deepstack                        int64 // qwen3vl: vision features added to the first layers
}

// Vision are the projector dimensions the tensor shapes follow from.
type Vision struct {
	Embd, FF, Layers, Heads, Patch int64
	Out                            int64   // the language model's embedding width
	Positions                      int64   // learnt position embeddings (qwen3vl), a square number
	Deepstack                      []int64 // vision layers whose output feeds the LLM (qwen3vl)
}

// Family is one model family.
type Family struct {
	// Name is the family's short name, as --arch takes it: "qwen2vl".
	Name string
	// Title is the human name: "Qwen2-VL".
	Title string
	// Arch is the language model's general.architecture.
	Arch string
	// Projector is the mmproj file's clip.projector_type.
	Projector string
	// Patch is the vision patch size in pixels; Merge the side of the
	// square of patches one image token stands for.
	Patch, Merge int
	// MinPixels and MaxPixels are the Hugging Face processor's defaults
	// (preprocessor_config.json); see ImageTokens.
	MinPixels, MaxPixels int
	// ImageMean and ImageStd normalise the pixels.
	ImageMean, ImageStd [3]float32
	// ChatTemplate is the Jinja template the published models carry
	// (tokenizer_config.json / chat_template.json).
	ChatTemplate string
	// LLMKeys are the architecture-prefixed keys llama.cpp requires
	// beyond the common ones (without the "<arch>." prefix).
	LLMKeys []string
	// VisionKeys are the keys the projector must carry beyond the common
	// ones, with their required type: "u32", "f32", "bool".
	VisionKeys map[string]string
	// LLMTensors lists the language model's tensors.
	LLMTensors func(LLM) []Tensor
	// VisionTensors lists the projector's tensors.
	VisionTensors func(Vision) []Tensor
	// PEFT maps Hugging Face module names (without the naming scheme's
	// prefix, see PEFTModule) to GGUF tensors.
	PEFT PEFTMap
}

var (
	byName      = map[string]*Family{}
	byProjector = map[string]*Family{}
	order       []*Family
)

func register(f *Family) *Family {
	if byName[f.Name] != nil || byProjector[f.Projector] != nil {
		panic("family: registered twice: " + f.Name)
	}
	byName[f.Name] = f
	byProjector[f.Projector] = f
	order = append(order, f)
	sort.Slice(order, func(i, j int) bool { return order[i].Name < order[j].Name })
	return f
}

// All returns the families, sorted by name.
func All() []*Family { return append([]*Family(nil), order...) }

// Names returns the families' names, sorted.
func Names() []string {
	out := make([]string, len(order))
	for i, f := range order {
		out[i] = f.Name
	}
	return out
}

// ByName returns the family called name ("qwen2.5vl").
func ByName(name string) (*Family, error) {
	if f := byName[strings.ToLower(name)]; f != nil {
		return f, nil
	}
	return nil, fmt.Errorf("unknown model family %q (known: %s)", name, strings.Join(Names(), ", "))
}

// ByProjector returns the family whose projector type is pt.
func ByProjector(pt string) (*Family, bool) {
	f := byProjector[pt]
	return f, f != nil
}

// Architectures returns the language model architectures of all families,
// sorted, without repeats.
func Architectures() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range order {
		if !seen[f.Arch] {
			seen[f.Arch] = true
			out = append(out, f.Arch)
		}
	}
	sort.Strings(out)
	return out
}

// ByArch returns the families whose language model architecture is arch
// (qwen2vl is both Qwen2-VL's and Qwen2.5-VL's).
func ByArch(arch string) []*Family {
	var out []*Family
	for _, f := range order {
		if f.Arch == arch {
			out = append(out, f)
		}
	}
	return out
}

// Projectors returns the projector types of all families, sorted.
func Projectors() []string {
	out := make([]string, len(order))
	for i, f := range order {
		out[i] = f.Projector
	}
	sort.Strings(out)
	return out
}

// TokenPixels is the pixel area one image token stands for.
func (f *Family) TokenPixels() int { return f.Patch * f.Patch * f.Merge * f.Merge }

// ImageTokens returns the Hugging Face processor's own bounds in tokens:
// min_pixels rounded up, max_pixels rounded down to whole tokens. Both
// Qwen2 processors allow 4..16384 tokens, Qwen3-VL's 64..16384.
func (f *Family) ImageTokens() (minTokens, maxTokens int) {
	p := f.TokenPixels()
	return (f.MinPixels + p - 1) / p, f.MaxPixels / p
}

// BudgetMaxPixels caps the default image area below the processors' own
// max_pixels (12.8 and 16.8 megapixels, 16384 tokens). At that size one
// image would take a 16k-token context per sequence, a 16k-token physical
// batch and, in the vision tower, attention over 65536 patches, which is
// more memory than most machines have (llama.cpp itself caps these
// projectors at 4096 tokens). 1024 Qwen2-VL tokens of 28×28 pixels, about
// 0.8 megapixels, keep a street photo legible; every family gets the same
// area, so the same photo is seen at the same resolution by all of them.
const BudgetMaxPixels = 1024 * 28 * 28

// DefaultImageTokens is the image-token budget vlmcmp uses when the user
// sets none: the processor's min_pixels in tokens (what the model saw for
// small images when it was trained) and the smaller of its max_pixels and
// BudgetMaxPixels in tokens. Qwen2-VL and Qwen2.5-VL: 4..1024; Qwen3-VL,
// whose tokens cover 32×32 pixels: 64..784.
func (f *Family) DefaultImageTokens() (minTokens, maxTokens int) {
	lo, _ := f.ImageTokens()
	return lo, min(f.MaxPixels, BudgetMaxPixels) / f.TokenPixels()
}

// ResizedTokens is the number of tokens a w×h image becomes when bounded by
// minTokens..maxTokens: the processor's smart_resize (as llama.cpp's mtmd
// does it) rounds each side to a multiple of Patch×Merge, keeping the
// aspect ratio, then scales the image down to fit max or up to reach min.
func (f *Family) ResizedTokens(w, h, minTokens, maxTokens int) int {
	align := f.Patch * f.Merge
	minPx, maxPx := minTokens*f.TokenPixels(), maxTokens*f.TokenPixels()
	round := func(x float64) int { return int(math.Round(x/float64(align))) * align }
	hb, wb := max(align, round(float64(h))), max(align, round(float64(w)))
	switch {
	case maxPx > 0 && hb*wb > maxPx:
		beta := math.Sqrt(float64(w*h) / float64(maxPx))
		hb = max(align, int(math.Floor(float64(h)/beta/float64(align)))*align)
		wb = max(align, int(math.Floor(float64(w)/beta/float64(align)))*align)
	case hb*wb < minPx:
		beta := math.Sqrt(float64(minPx) / float64(w*h))
		hb = int(math.Ceil(float64(h)*beta/float64(align))) * align
		wb = int(math.Ceil(float64(w)*beta/float64(align))) * align
	}
	return (hb / align) * (wb / align)
}

// Pairs reports whether a projector of this family fits a language model of
// architecture arch; if not, the error is one sentence naming both files.
func (f *Family) Pairs(arch, modelPath, mmprojPath string) error {
	if arch == f.Arch {
		return nil
	}
	want := ByArch(arch)
	var titles []string
	for _, w := range want {
		titles = append(titles, w.Title)
	}
	is := fmt.Sprintf("a %q model", arch)
	if len(titles) > 0 {
		is = fmt.Sprintf("a %s model (architecture %s)", strings.Join(titles, " or "), arch)
	}
	return fmt.Errorf("%s is a %s projector (%s) for %s models, but %s is %s", mmprojPath, f.Title, f.Projector, f.Arch, modelPath, is)
}

func mat(name string, in, out int64) Tensor {
	return Tensor{Name: name, Shape: []int64{in, out}, Kind: Weight}
}

func norm(name string, n int64) Tensor { return Tensor{Name: name, Shape: []int64{n}, Kind: Norm} }

func bias(name string, n int64) Tensor { return Tensor{Name: name, Shape: []int64{n}, Kind: Bias} }

func conv(name string, patch, out int64) Tensor {
	return Tensor{Name: name, Shape: []int64{patch, patch, 3, out}, Kind: Weight}
}

// llmCommon lists the tensors every Qwen language model has: embeddings,
// output, and per layer the attention and gated-MLP matrices and norms,
// with q/k/v biases (Qwen2) or q/k norms (Qwen3).
func llmCommon(d LLM, biases, qkNorms bool) []Tensor {
	ts := []Tensor{{Name: "token_embd.weight", Shape: []int64{d.Embd, d.Vocab}, Kind: Embed}}
	q := d.HeadDim * d.Heads
	kv := d.HeadDim * d.KVHeads
	for i := range d.Layers {
		b := fmt.Sprintf("blk.%d.", i)
		ts = append(ts, norm(b+"attn_norm.weight", d.Embd))
		for _, x := range []struct {
			n   string
			out int64
		}{{"attn_q", q}, {"attn_k", kv}, {"attn_v", kv}} {
			ts = append(ts, mat(b+x.n+".weight", d.Embd, x.out))
			if biases {
				ts = append(ts, bias(b+x.n+".bias", x.out))
			}
		}
		ts = append(ts, mat(b+"attn_output.weight", q, d.Embd))
		if qkNorms {
			ts = append(ts, norm(b+"attn_q_norm.weight", d.HeadDim), norm(b+"attn_k_norm.weight", d.HeadDim))
		}
		ts = append(ts,
			norm(b+"ffn_norm.weight", d.Embd),
			mat(b+"ffn_gate.weight", d.Embd, d.FF),
			mat(b+"ffn_up.weight", d.Embd, d.FF),
			mat(b+"ffn_down.weight", d.FF, d.Embd),
		)
	}
	ts = append(ts, norm("output_norm.weight", d.Embd))
	out := mat("output.weight", d.Embd, d.Vocab)
	out.Optional = d.Tied // a tied model may still carry its own
	return append(ts, out)
}

// Present drops the optional tensors: what a generator writes.
func Present(ts []Tensor) []Tensor {
	out := ts[:0:0]
	for _, t := range ts {
		if !t.Optional {
			out = append(out, t)
		}
	}
	return out
}
