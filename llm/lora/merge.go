package lora

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
)

// MergeKey is the metadata key of a merged file that records what was
// merged into it, as JSON (see [MergeRecord]).
const MergeKey = "vlmcmp.lora.merged"

// LoRAFile is a llama.cpp LoRA adapter GGUF and the scale to merge it with.
type LoRAFile struct {
	Path  string
	Scale float64
}

// MergeOptions says what to merge into what.
type MergeOptions struct {
	// Base is the language model GGUF; Mmproj the vision projector GGUF
	// (optional: without it a PEFT adapter's vision modules are listed as
	// not merged).
	Base, Mmproj string
	// Adapter is a PEFT adapter folder, merged with AdapterScale (the
	// user's multiplier on PEFT's own alpha/r, normally 1).
	Adapter      string
	AdapterScale float64
	// LoRAs are llama.cpp adapter GGUFs (language model only).
	LoRAs []LoRAFile
	// Out and OutMmproj are the files to write. OutMmproj is needed when
	// Mmproj is given.
	Out, OutMmproj string
	// Type is the type merged tensors are stored in: "same" (or empty) keeps
	// the base tensor's type, "f16", "bf16", "f32" or "q8_0" store them so.
	// Untouched tensors are always copied byte for byte.
	Type string
	// Progress, if set, is called after each tensor with the bytes of
	// base tensors processed so far and in total. It runs on the calling
	// goroutine.
	Progress func(done, total int64)
	// visionOnly writes only the merged projector (lora convert uses it).
	visionOnly bool
}

// MergeRecord is what a merged file records under [MergeKey].
type MergeRecord struct {
	Tool    string         `json:"tool"`
	Sources []MergeSource  `json:"sources"`
	Tensors []string       `json:"tensors"`
	Type    string         `json:"type"`
	Extra   map[string]any `json:"extra,omitempty"`
}

// MergeSource is one adapter merged into a file.
type MergeSource struct {
	Kind      string  `json:"kind"` // "peft" or "gguf"
	Path      string  `json:"path"`
	Scale     float64 `json:"scale"`
	BaseModel string  `json:"base_model,omitempty"`
	R         int     `json:"r,omitempty"`
	Alpha     float64 `json:"lora_alpha,omitempty"`
	RSLoRA    bool    `json:"use_rslora,omitempty"`
}

// MergeResult says what a merge did.
type MergeResult struct {
	// Merged are the GGUF tensors changed, per output file.
	Merged map[string][]string
	// NotMerged are adapter modules left out, by name, with the reason.
	NotMerged []Unplaced
	// KeptType are merged tensors stored in their base type because their
	// rows do not fit the requested type's blocks (q8_0 needs multiples of 32).
	KeptType []string
}

var outTypes = map[string]uint32{"f32": typeF32, "f16": typeF16, "bf16": typeBF16, "q8_0": typeQ8_0}

// Merge writes copies of the base model (and projector) with the adapters
// merged in: W' = W + s·(α/r)·B·A computed in float64 per row and rounded
// once to the stored type. It streams: one row of a base tensor, and one
// adapter module, in memory at a time.
func Merge(ctx context.Context, opts MergeOptions) (*MergeResult, error) {
	if opts.Adapter == "" && len(opts.LoRAs) == 0 {
		return nil, errors.New("merge: no adapter given")
	}
	outType := uint32(1 << 31)
	switch t := strings.ToLower(opts.Type); t {
	case "", "same":
	default:
		ot, ok := outTypes[t]
		if !ok {
			return nil, fmt.Errorf("merge: type %q is not one of same, f32, f16, bf16, q8_0", opts.Type)
		}
		outType = ot
	}
	if opts.Out == "" && !opts.visionOnly {
		return nil, errors.New("merge: no output file")
	}
	if opts.Mmproj != "" && opts.OutMmproj == "" {
		return nil, errors.New("merge: an mmproj is given but no file to write the merged projector to")
	}
	base, err := openGGUF(opts.Base)
	if err != nil {
		return nil, err
	}
	defer base.Close()
	if arch := base.str("general.architecture"); arch != "qwen2vl" {
		return nil, fmt.Errorf("%s: architecture %q: %w (want qwen2vl)", opts.Base, arch, ErrArchitecture)
	}
	var mmproj *ggufFile
	if opts.Mmproj != "" {
		if mmproj, err = openMmproj(opts.Mmproj); err != nil {
			return nil, err
		}
		defer mmproj.Close()
	}

	res := &MergeResult{Merged: map[string][]string{}}
	var textPairs, visPairs []pair
	var sources []MergeSource
	if opts.Adapter != "" {
		a, err := Open(opts.Adapter)
		if err != nil {
			return nil, err
		}
		defer a.Close()
		scale := opts.AdapterScale
		p, miss := peftPairs(a, false, base, scale)
		textPairs = append(textPairs, p...)
		res.NotMerged = append(res.NotMerged, miss...)
		if mmproj != nil {
			p, miss := peftPairs(a, true, mmproj, scale)
			visPairs = append(visPairs, p...)
			res.NotMerged = append(res.NotMerged, miss...)
		} else {
			for _, m := range a.Modules {
				if m.Target.Vision {
					res.NotMerged = append(res.NotMerged, Unplaced{m.Target.Module, "vision module: give --mmproj and --out-mmproj to merge it"})
				}
			}
		}
		res.NotMerged = append(res.NotMerged, a.Unplaced...)
		sources = append(sources, MergeSource{Kind: "peft", Path: filepath.Base(opts.Adapter), Scale: scale,
			BaseModel: a.Config.BaseModel, R: a.Config.R, Alpha: a.Config.LoraAlpha, RSLoRA: a.Config.UseRSLoRA})
	}
	for _, lf := range opts.LoRAs {
		ad, err := openGGUF(lf.Path)
		if err != nil {
			return nil, err
		}
		defer ad.Close()
		p, err := ggufPairs(ad, base, lf.Scale)
		if err != nil {
			return nil, err
		}
		for _, q := range p {
			if _, ok := base.lookup(q.target); !ok {
				return nil, fmt.Errorf("%s: tensor %s.lora_a: %s has no tensor %s: %w", lf.Path, q.target, opts.Base, q.target, ErrShape)
			}
		}
		textPairs = append(textPairs, p...)
		sources = append(sources, MergeSource{Kind: "gguf", Path: filepath.Base(lf.Path), Scale: lf.Scale})
	}
	if len(textPairs)+len(visPairs) == 0 {
		return nil, fmt.Errorf("merge: nothing to merge: %s", describeUnplaced(res.NotMerged))
	}

	type job struct {
		base    *ggufFile
		pairs   []pair
		out     string
		outName string
	}
	var jobs []job
	if !opts.visionOnly {
		jobs = append(jobs, job{base, textPairs, opts.Out, opts.Out})
	}
	if mmproj != nil {
		jobs = append(jobs, job{mmproj, visPairs, opts.OutMmproj, opts.OutMmproj})
	}
	// Check everything before writing anything.
	var total int64
	for _, j := range jobs {
		for _, p := range j.pairs {
			t, _ := j.base.lookup(p.target)
			if err := p.check(j.base.path, t); err != nil {
				return nil, err
			}
			if _, err := rowBytes(t.typ, int(t.ne[0])); err != nil {
				return nil, fmt.Errorf("%s: tensor %s: %w", j.base.path, t.name, err)
			}
			if outType != 1<<31 {
				if _, err := rowBytes(outType, int(t.ne[0])); err != nil && !slices.Contains(res.KeptType, t.name) {
					res.KeptType = append(res.KeptType, t.name)
				}
			}
		}
		for _, t := range j.base.tensors {
			total += t.size
		}
	}
	var done int64
	for _, j := range jobs {
		rec := MergeRecord{Tool: "vlmcmp lora merge", Sources: sources, Type: strings.ToLower(cmp(opts.Type, "same"))}
		merged, err := mergeFile(ctx, j.base, j.pairs, j.out, outType, rec, func(n int64) {
			done += n
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		})
		if err != nil {
			return nil, err
		}
		res.Merged[j.outName] = merged
	}
	return res, nil
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func describeUnplaced(u []Unplaced) string {
	if len(u) == 0 {
		return "the adapter targets nothing"
	}
	var parts []string
	for _, x := range u {
		parts = append(parts, x.Name+" ("+x.Reason+")")
	}
	return strings.Join(parts, "; ")
}

// openMmproj opens a vision projector GGUF and checks it is a Qwen2-VL one.
func openMmproj(path string) (*ggufFile, error) {
	mm, err := openGGUF(path)
	if err != nil {
		return nil, err
	}
	if arch := mm.str("general.architecture"); arch != "clip" {
		mm.Close()
		return nil, fmt.Errorf("%s: architecture %q, not a vision projector (clip)", path, arch)
	}
	pt := mm.str("clip.projector_type")
	if pt == "" {
		pt = mm.str("clip.vision.projector_type")
	}
	if pt != "qwen2vl_merger" && pt != "qwen2.5vl_merger" {
		mm.Close()
		return nil, fmt.Errorf("%s: projector type %q: %w (want qwen2vl_merger)", path, pt, ErrArchitecture)
	}
	return mm, nil
}

// mergeFile writes base with pairs merged to out and returns the names of
// the tensors it changed. progress gets the bytes of each base tensor done.
func mergeFile(ctx context.Context, base *ggufFile, pairs []pair, out string, outType uint32, rec MergeRecord, progress func(int64)) (merged []string, err error) {
	byTarget := map[string][]pair{}
	for _, p := range pairs {
		byTarget[p.target] = append(byTarget[p.target], p)
	}
	tensors := slices.Clone(base.tensors)
	for i, t := range tensors {
		if _, ok := byTarget[t.name]; ok && outType != 1<<31 && outType != t.typ {
			if rb, err := rowBytes(outType, int(t.ne[0])); err == nil {
				tensors[i].typ = outType
				tensors[i].size = int64(rb) * t.rows()
			}
		}
		if _, ok := byTarget[t.name]; ok {
			merged = append(merged, t.name)
		}
	}
	rec.Tensors = merged
	recJSON, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	kvs := slices.DeleteFunc(slices.Clone(base.kvs), func(e kv) bool { return e.key == MergeKey })
	kvs = append(kvs, kvString(MergeKey, string(recJSON)))

	w, err := createGGUF(out, kvs, tensors, base.align)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	// The adapter data of the last module read, shared by a qkv's parts.
	var cacheKey string
	var cacheA, cacheB []float64
	for _, bt := range base.tensors {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ot, dst := w.tensor()
		ps := byTarget[bt.name]
		if len(ps) == 0 {
			if _, err := io.Copy(dst, base.section(bt)); err != nil {
				return nil, fmt.Errorf("copy %s from %s: %w", bt.name, base.path, err)
			}
		} else {
			ups := make([]*update, len(ps))
			for k, p := range ps {
				if p.key != cacheKey {
					a, b, err := p.load()
					if err != nil {
						return nil, err
					}
					if !finite(a) || !finite(b) {
						return nil, fmt.Errorf("%s: lora weights hold NaN or infinity", p.label)
					}
					cacheKey, cacheA, cacheB = p.key, a, b
				}
				ups[k] = &update{a: cacheA, b: cacheB, rank: p.rank, in: p.in, row0: p.row0, embedding: p.embedding, scale: p.scale}
			}
			if err := mergeTensor(base, bt, ot, ups, dst); err != nil {
				return nil, err
			}
			slog.Debug("lora: merged", "tensor", bt.name, "updates", len(ps), "type", typeName(ot.typ))
		}
		if err := w.done(); err != nil {
			return nil, err
		}
		progress(bt.size)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", out, err)
	}
	return merged, nil
}

// mergeTensor streams tensor bt of base row by row: decode, add every
// update, encode as ot's type, write.
func mergeTensor(base *ggufFile, bt, ot tensorInfo, ups []*update, dst io.Writer) error {
	inRB, _ := rowBytes(bt.typ, int(bt.ne[0]))
	outRB, _ := rowBytes(ot.typ, int(bt.ne[0]))
	src := base.section(bt)
	inBuf := make([]byte, inRB)
	outBuf := make([]byte, outRB)
	row := make([]float64, bt.ne[0])
	for r := 0; r < int(bt.rows()); r++ {
		if _, err := io.ReadFull(src, inBuf); err != nil {
			return fmt.Errorf("read %s from %s: %w", bt.name, base.path, err)
		}
		decodeRow(bt.typ, inBuf, row)
		for _, u := range ups {
			u.addRow(r, row)
		}
		encodeRow(ot.typ, row, outBuf)
		if _, err := dst.Write(outBuf); err != nil {
			return err
		}
	}
	return nil
}
