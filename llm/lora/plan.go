package lora

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

// pair is one low-rank update to apply to one GGUF tensor, from either a
// PEFT adapter or a llama.cpp LoRA GGUF, before its data is read.
type pair struct {
	// label names the update's origin in errors: the Hugging Face module or
	// the adapter GGUF tensor.
	label  string
	target string // GGUF tensor name
	// row0 and rows select B's rows for this target (a third of a fused qkv).
	row0, rows int
	rank       int
	in         int // A's row length: in (linear) or vocab (embedding)
	embedding  bool
	scale      float64
	// key identifies the A/B data, shared by the three parts of a qkv.
	key  string
	load func() (a, b []float64, err error)
}

// ErrShape marks an adapter whose shapes do not fit the base model.
var ErrShape = errors.New("does not fit the base model")

// check verifies p against the base tensor t of file path: a linear
// weight's ne is [in, rows], an embedding's [dim, vocab] with dim = rows.
func (p pair) check(path string, t gguf.TensorInfo) error {
	if len(t.Shape) != 2 {
		return fmt.Errorf("%s → %s: base tensor in %s has shape %s, not a matrix: %w", p.label, p.target, path, t.ShapeString(), ErrShape)
	}
	wantIn, wantOut := int64(p.in), int64(p.rows)
	got := fmt.Sprintf("[%d, %d]", t.Shape[0], t.Shape[1])
	if p.embedding {
		if t.Shape[0] != wantOut || t.Shape[1] != wantIn {
			return fmt.Errorf("%s → %s: adapter is for a %d × %d embedding but %s holds %s (ne): %w", p.label, p.target, wantIn, wantOut, path, got, ErrShape)
		}
		return nil
	}
	if t.Shape[0] != wantIn || t.Shape[1] != wantOut {
		return fmt.Errorf("%s → %s: adapter is for %d inputs × %d outputs but %s holds ne %s: %w", p.label, p.target, wantIn, wantOut, path, got, ErrShape)
	}
	return nil
}

// peftPairs turns an adapter's modules for one file (vision or not) into
// pairs against base, resolving a fused qkv to the split or fused tensors
// the base holds. userScale multiplies every module's scale. Modules whose
// target the base lacks are returned in missing.
func peftPairs(a *Adapter, vision bool, base *gguf.File, userScale float64) (pairs []pair, missing []Unplaced) {
	for _, m := range a.Modules {
		if m.Target.Vision != vision {
			continue
		}
		load := func() ([]float64, []float64, error) { return a.Read(m) }
		names := m.Target.Names
		if strings.HasPrefix(names[0], deepstackPlaceholder) {
			n, ok := resolveDeepstack(names[0], m.Target.Deepstack, tensorNames(base))
			if !ok {
				missing = append(missing, Unplaced{m.Target.Module, fmt.Sprintf("%s has fewer than %d deepstack mergers", base.Path, m.Target.Deepstack+1)})
				continue
			}
			names = []string{n}
		}
		if len(names) > 1 {
			if _, ok := base.Tensor(names[0]); !ok && m.Target.Fused != "" {
				if _, ok := base.Tensor(m.Target.Fused); ok {
					names = []string{m.Target.Fused}
				}
			}
		}
		rows := int(m.Out()) / len(names)
		for i, n := range names {
			if _, ok := base.Tensor(n); !ok {
				reason := fmt.Sprintf("%s has no tensor %s", base.Path, n)
				if n == "output.weight" {
					reason += " (its output is tied to token_embd)"
				}
				missing = append(missing, Unplaced{m.Target.Module, reason})
				break
			}
			pairs = append(pairs, pair{
				label: m.Target.Module, target: n, row0: i * rows, rows: rows,
				rank: m.Rank, in: int(m.In()), embedding: m.Target.Embedding,
				scale: userScale * m.Scale, key: m.Target.Module, load: load,
			})
		}
	}
	return pairs, missing
}

// ggufPairs reads the pairs of a llama.cpp LoRA adapter GGUF for base. Its
// scale is userScale·alpha/rank (userScale alone when alpha is 0), as
// llama.cpp applies it.
func ggufPairs(ad *gguf.File, base *gguf.File, userScale float64) ([]pair, error) {
	if t, _ := ad.Metadata.String("general.type"); t != "adapter" {
		return nil, fmt.Errorf("%s: general.type is %q, not a LoRA adapter", ad.Path, t)
	}
	if t, _ := ad.Metadata.String("adapter.type"); t != "lora" {
		return nil, fmt.Errorf("%s: adapter.type is %q, not lora", ad.Path, t)
	}
	if aa, ba := ad.Architecture(), base.Architecture(); aa != ba {
		return nil, fmt.Errorf("%s: adapter for architecture %q, but %s is %q: %w", ad.Path, aa, base.Path, ba, ErrArchitecture)
	}
	var alpha float64
	if kv, ok := ad.Metadata.Lookup("adapter.lora.alpha"); ok {
		a, ok := kv.Value.(float32)
		if !ok {
			return nil, fmt.Errorf("%s: adapter.lora.alpha is %v of go type %T, want an f32", ad.Path, kv.Value, kv.Value)
		}
		alpha = float64(a)
	}
	type ab struct{ a, b *gguf.TensorInfo }
	byTarget := map[string]*ab{}
	var order []string
	for i := range ad.Tensors {
		t := &ad.Tensors[i]
		var target string
		var isA bool
		switch {
		case len(t.Name) > 7 && strings.HasSuffix(t.Name, ".lora_a"):
			target, isA = strings.TrimSuffix(t.Name, ".lora_a"), true
		case len(t.Name) > 7 && strings.HasSuffix(t.Name, ".lora_b"):
			target = strings.TrimSuffix(t.Name, ".lora_b")
		default:
			return nil, fmt.Errorf("%s: tensor %q is neither a lora_a nor a lora_b", ad.Path, t.Name)
		}
		p := byTarget[target]
		if p == nil {
			p = &ab{}
			byTarget[target] = p
			order = append(order, target)
		}
		if isA {
			p.a = t
		} else {
			p.b = t
		}
	}
	var pairs []pair
	for _, target := range order {
		p := byTarget[target]
		if p.a == nil || p.b == nil {
			return nil, fmt.Errorf("%s: %s lacks its lora_a or lora_b", ad.Path, target)
		}
		if len(p.a.Shape) != 2 || len(p.b.Shape) != 2 {
			return nil, fmt.Errorf("%s: %s: lora_a %s and lora_b %s are not matrices", ad.Path, target, p.a.ShapeString(), p.b.ShapeString())
		}
		emb := target == "token_embd.weight"
		rank := p.b.Shape[0]
		aRank := p.a.Shape[1]
		if emb {
			aRank = p.a.Shape[0]
		}
		if aRank != rank {
			return nil, fmt.Errorf("%s: %s: rank mismatch: lora_a ne %s, lora_b ne %s", ad.Path, target, p.a.ShapeString(), p.b.ShapeString())
		}
		scale := userScale
		if alpha != 0 {
			scale = userScale * alpha / float64(rank)
		}
		in := p.a.Shape[0]
		if emb {
			in = p.a.Shape[1]
		}
		ta, tb := *p.a, *p.b
		pairs = append(pairs, pair{
			label: ad.Path + " " + target, target: target, rows: int(p.b.Shape[1]),
			rank: int(rank), in: int(in), embedding: emb, scale: scale, key: ad.Path + "\x00" + target,
			load: func() ([]float64, []float64, error) {
				a, err := readFloat64s(ad, ta)
				if err != nil {
					return nil, nil, err
				}
				b, err := readFloat64s(ad, tb)
				if err != nil {
					return nil, nil, err
				}
				if emb { // stored [vocab][rank]; PEFT layout is [rank][vocab]
					a = transpose(a, int(ta.Shape[1]), int(ta.Shape[0]))
				}
				return a, b, nil
			},
		})
	}
	return pairs, nil
}

// transpose returns the [cols][rows] transpose of m, which is [rows][cols].
func transpose(m []float64, rows, cols int) []float64 {
	out := make([]float64, len(m))
	for r := range rows {
		for c := range cols {
			out[c*rows+r] = m[r*cols+c]
		}
	}
	return out
}

// finite reports whether every value is finite.
func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

func tensorNames(f *gguf.File) []string {
	out := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		out[i] = t.Name
	}
	return out
}
