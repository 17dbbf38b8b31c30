package lora

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

// ConvertOptions says what to convert.
type ConvertOptions struct {
	// Adapter is the PEFT adapter folder.
	Adapter string
	// Base is the language model GGUF the adapter will be applied to; its
	// architecture, tensor names and shapes are checked.
	Base string
	// Out is the adapter GGUF to write.
	Out string
	// Mmproj and OutMmproj, when both given, merge the adapter's vision
	// modules into a copy of the projector, since llama.cpp cannot apply
	// LoRA to the projector at run time.
	Mmproj, OutMmproj string
}

// ConvertResult says what a conversion did.
type ConvertResult struct {
	// Alpha is the adapter.lora.alpha written.
	Alpha float64
	// Tensors are the GGUF tensors the adapter modifies.
	Tensors []string
	// Folded are the modules whose scale differs from alpha/rank and was
	// folded into lora_b, with the factor.
	Folded map[string]float64
	// Vision are the vision modules: merged into OutMmproj when given,
	// otherwise not applied (see [Merge]).
	Vision []string
	// VisionMerged is true when they were merged into OutMmproj.
	VisionMerged bool
	// NotConverted are tensors and modules that could not be placed, with
	// the reason.
	NotConverted []Unplaced
}

// Convert writes the language-model part of a PEFT adapter as a llama.cpp
// LoRA adapter GGUF: lora_a and lora_b per target (F32), general.type
// "adapter", adapter.type "lora", the base architecture and
// adapter.lora.alpha. llama.cpp scales every pair by alpha/rank with rank
// taken from lora_b; Convert picks the alpha that makes this exact for the
// most common module scale and multiplies any other module's lora_b by
// (its scale × its rank / alpha), so rank_pattern, alpha_pattern and
// use_rslora all come out as PEFT applies them.
func Convert(ctx context.Context, opts ConvertOptions) (*ConvertResult, error) {
	if (opts.Mmproj == "") != (opts.OutMmproj == "") {
		return nil, errors.New("convert: give both the mmproj and the file to write the merged projector to, or neither")
	}
	a, err := Open(opts.Adapter)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	base, err := gguf.Open(opts.Base)
	if err != nil {
		return nil, err
	}
	defer base.Close()
	arch := base.Architecture()
	if err := checkArch(opts.Base, arch); err != nil {
		return nil, err
	}
	res := &ConvertResult{Folded: map[string]float64{}}
	pairs, missing := peftPairs(a, false, base, 1)
	res.NotConverted = append(res.NotConverted, missing...)
	res.NotConverted = append(res.NotConverted, a.Unplaced...)
	for _, m := range a.Modules {
		if m.Target.Vision {
			res.Vision = append(res.Vision, m.Target.Module)
		}
	}
	for _, p := range pairs {
		t, _ := base.Tensor(p.target)
		if err := p.check(opts.Base, t); err != nil {
			return nil, err
		}
	}
	if len(pairs) == 0 && len(res.Vision) == 0 {
		return nil, fmt.Errorf("convert: nothing to convert: %s", describeUnplaced(res.NotConverted))
	}

	// The alpha: llama.cpp's scale for a pair is alpha/rank, so alpha =
	// scale·rank makes a module exact; take the most common such value.
	count := map[float64]int{}
	for _, p := range pairs {
		count[p.scale*float64(p.rank)]++
	}
	best, bestN := 0.0, -1
	for v, n := range count {
		if n > bestN || n == bestN && v < best {
			best, bestN = v, n
		}
	}
	if best == 0 || math.IsNaN(best) {
		// alpha 0 means "no scaling" to llama.cpp; use r and fold instead.
		best = float64(a.Config.R)
	}
	alpha32 := float32(best)
	res.Alpha = float64(alpha32)

	src, _ := json.Marshal(MergeSource{Kind: "peft", Path: opts.Adapter, Scale: 1, BaseModel: a.Config.BaseModel,
		R: a.Config.R, Alpha: a.Config.LoraAlpha, RSLoRA: a.Config.UseRSLoRA})
	md := gguf.Metadata{
		gguf.KV("general.architecture", arch),
		gguf.KV("general.type", "adapter"),
		gguf.KV("general.name", "LoRA adapter converted by vlmcmp"),
		gguf.KV("adapter.type", "lora"),
		gguf.KV("adapter.lora.alpha", alpha32),
		gguf.KV("vlmcmp.lora.source", string(src)),
	}

	// One lora_a and lora_b per target, F32, in the base's tensor order.
	type entry struct {
		p    pair
		fold float64
	}
	var entries []entry
	for _, p := range pairs {
		fold := p.scale * float64(p.rank) / res.Alpha
		if fold != 1 {
			res.Folded[p.label] = fold
		}
		entries = append(entries, entry{p, fold})
	}
	order := make(map[string]int, len(base.Tensors))
	for i, t := range base.Tensors {
		order[t.Name] = i
	}
	slices.SortStableFunc(entries, func(x, y entry) int { return order[x.p.target] - order[y.p.target] })
	var infos []gguf.TensorInfo
	for _, e := range entries {
		p := e.p
		aShape := []int64{int64(p.in), int64(p.rank)}
		if p.embedding { // llama.cpp wants token_embd's A as [vocab][rank]
			aShape = []int64{int64(p.rank), int64(p.in)}
		}
		infos = append(infos,
			gguf.TensorInfo{Name: p.target + ".lora_a", Type: gguf.F32, Shape: aShape},
			gguf.TensorInfo{Name: p.target + ".lora_b", Type: gguf.F32, Shape: []int64{int64(p.rank), int64(p.rows)}},
		)
		res.Tensors = append(res.Tensors, p.target)
	}
	if len(entries) > 0 {
		// Tensor 2k is entry k's lora_a, 2k+1 its lora_b (folded): one
		// module's A and B are in memory at a time.
		var A, B []float64
		cur := -1
		err := gguf.Create(opts.Out, md, infos, func(i int, w io.Writer) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			e := entries[i/2]
			if i/2 != cur {
				var err error
				A, B, err = e.p.load()
				if err == nil && (!finite(A) || !finite(B)) {
					err = fmt.Errorf("%s: lora weights hold NaN or infinity", e.p.label)
				}
				if err != nil {
					return err
				}
				cur = i / 2
			}
			if i%2 == 0 {
				if e.p.embedding {
					A = transpose(A, e.p.rank, e.p.in)
				}
				return writeF32(w, A, 1)
			}
			return writeF32(w, B[e.p.row0*e.p.rank:(e.p.row0+e.p.rows)*e.p.rank], e.fold)
		})
		if err != nil {
			return nil, err
		}
	}
	if opts.OutMmproj != "" && len(res.Vision) > 0 {
		_, err := Merge(ctx, MergeOptions{Base: opts.Base, Mmproj: opts.Mmproj, Adapter: opts.Adapter, AdapterScale: 1,
			OutMmproj: opts.OutMmproj, Out: "", Type: "same", visionOnly: true})
		if err != nil {
			return nil, err
		}
		res.VisionMerged = true
	}
	return res, nil
}

// writeF32 writes f·v as little-endian float32, rounding once.
func writeF32(w io.Writer, v []float64, f float64) error {
	buf := make([]byte, 0, 4*len(v))
	for _, x := range v {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(f*x)))
	}
	_, err := w.Write(buf)
	return err
}

// String lists what a conversion did, for people.
func (r *ConvertResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d tensors, alpha %g", len(r.Tensors), r.Alpha)
	return b.String()
}

// checkArch refuses a base model of no known family.
func checkArch(path, arch string) error {
	if len(family.ByArch(arch)) == 0 {
		return fmt.Errorf("%s: architecture %q: %w (want %s)", path, arch, ErrArchitecture, strings.Join(family.Architectures(), " or "))
	}
	return nil
}
