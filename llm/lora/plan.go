package lora

import (
	"errors"
	"fmt"
	"math"
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
func (p pair) check(path string, t tensorInfo) error {
	if len(t.ne) != 2 {
		return fmt.Errorf("%s → %s: base tensor in %s has shape %v, not a matrix: %w", p.label, p.target, path, t.ne, ErrShape)
	}
	wantIn, wantOut := int64(p.in), int64(p.rows)
	got := fmt.Sprintf("[%d, %d]", t.ne[0], t.ne[1])
	if p.embedding {
		if t.ne[0] != wantOut || t.ne[1] != wantIn {
			return fmt.Errorf("%s → %s: adapter is for a %d × %d embedding but %s holds %s (ne): %w", p.label, p.target, wantIn, wantOut, path, got, ErrShape)
		}
		return nil
	}
	if t.ne[0] != wantIn || t.ne[1] != wantOut {
		return fmt.Errorf("%s → %s: adapter is for %d inputs × %d outputs but %s holds ne %s: %w", p.label, p.target, wantIn, wantOut, path, got, ErrShape)
	}
	return nil
}

// peftPairs turns an adapter's modules for one file (vision or not) into
// pairs against base, resolving a fused qkv to the split or fused tensors
// the base holds. userScale multiplies every module's scale. Modules whose
// target the base lacks are returned in missing.
func peftPairs(a *Adapter, vision bool, base *ggufFile, userScale float64) (pairs []pair, missing []Unplaced) {
	for _, m := range a.Modules {
		if m.Target.Vision != vision {
			continue
		}
		load := func() ([]float64, []float64, error) { return a.Read(m) }
		names := m.Target.Names
		if len(names) > 1 {
			if _, ok := base.lookup(names[0]); !ok && m.Target.Fused != "" {
				if _, ok := base.lookup(m.Target.Fused); ok {
					names = []string{m.Target.Fused}
				}
			}
		}
		rows := int(m.Out()) / len(names)
		for i, n := range names {
			if _, ok := base.lookup(n); !ok {
				reason := fmt.Sprintf("%s has no tensor %s", base.path, n)
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
func ggufPairs(ad *ggufFile, base *ggufFile, userScale float64) ([]pair, error) {
	if t := ad.str("general.type"); t != "adapter" {
		return nil, fmt.Errorf("%s: general.type is %q, not a LoRA adapter", ad.path, t)
	}
	if t := ad.str("adapter.type"); t != "lora" {
		return nil, fmt.Errorf("%s: adapter.type is %q, not lora", ad.path, t)
	}
	if aa, ba := ad.str("general.architecture"), base.str("general.architecture"); aa != ba {
		return nil, fmt.Errorf("%s: adapter for architecture %q, but %s is %q: %w", ad.path, aa, base.path, ba, ErrArchitecture)
	}
	alpha, _ := ad.f32("adapter.lora.alpha")
	type ab struct{ a, b *tensorInfo }
	byTarget := map[string]*ab{}
	var order []string
	for i := range ad.tensors {
		t := &ad.tensors[i]
		var target string
		var isA bool
		switch {
		case len(t.name) > 7 && t.name[len(t.name)-7:] == ".lora_a":
			target, isA = t.name[:len(t.name)-7], true
		case len(t.name) > 7 && t.name[len(t.name)-7:] == ".lora_b":
			target = t.name[:len(t.name)-7]
		default:
			return nil, fmt.Errorf("%s: tensor %q is neither a lora_a nor a lora_b", ad.path, t.name)
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
			return nil, fmt.Errorf("%s: %s lacks its lora_a or lora_b", ad.path, target)
		}
		if len(p.a.ne) != 2 || len(p.b.ne) != 2 {
			return nil, fmt.Errorf("%s: %s: lora_a %v and lora_b %v are not matrices", ad.path, target, p.a.ne, p.b.ne)
		}
		emb := target == "token_embd.weight"
		rank := p.b.ne[0]
		aRank := p.a.ne[1]
		if emb {
			aRank = p.a.ne[0]
		}
		if aRank != rank {
			return nil, fmt.Errorf("%s: %s: rank mismatch: lora_a ne %v, lora_b ne %v", ad.path, target, p.a.ne, p.b.ne)
		}
		scale := userScale
		if alpha != 0 {
			scale = userScale * float64(alpha) / float64(rank)
		}
		in := p.a.ne[0]
		if emb {
			in = p.a.ne[1]
		}
		ta, tb := *p.a, *p.b
		pairs = append(pairs, pair{
			label: ad.path + " " + target, target: target, rows: int(p.b.ne[1]),
			rank: int(rank), in: int(in), embedding: emb, scale: scale, key: ad.path + "\x00" + target,
			load: func() ([]float64, []float64, error) {
				a, err := ad.readFloat64s(ta)
				if err != nil {
					return nil, nil, err
				}
				b, err := ad.readFloat64s(tb)
				if err != nil {
					return nil, nil, err
				}
				if emb { // stored [vocab][rank]; PEFT layout is [rank][vocab]
					a = transpose(a, int(ta.ne[1]), int(ta.ne[0]))
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
