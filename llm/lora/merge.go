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
	"strconv"
	"strings"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

// MergeKey is the metadata key of a merged file that records what was
// merged into it, as JSON (see [MergeRecord]).
const MergeKey = "vlmcmp.lora.merged"

// LoRAFile is a llama.cpp LoRA adapter GGUF and the scale to merge it with.
type LoRAFile struct {
	Path  string
	Scale float64
}

// ParseLoRAFile parses "PATH[:SCALE]" (scale 1 when absent), the form the
// command line uses (as llm/local.ParseLoRA does for adapters applied at
// load). A path containing ':' takes a scale only when the last ':' is
// followed by a number.
func ParseLoRAFile(v string) (LoRAFile, error) {
	if i := strings.LastIndex(v, ":"); i > 0 {
		if sc, err := strconv.ParseFloat(v[i+1:], 64); err == nil {
			return LoRAFile{Path: v[:i], Scale: sc}, nil
		}
	}
	if v == "" {
		return LoRAFile{}, fmt.Errorf("lora: empty adapter path")
	}
	return LoRAFile{Path: v, Scale: 1}, nil
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

var outTypes = map[string]gguf.TensorType{"f32": gguf.F32, "f16": gguf.F16, "bf16": gguf.BF16, "q8_0": gguf.Q8_0}

// keepType is the output type that keeps each base tensor's own type.
const keepType gguf.TensorType = 1 << 31

// Merge writes copies of the base model (and projector) with the adapters
// merged in: W' = W + s·(α/r)·B·A computed in float64 per row and rounded
// once to the stored type. It streams: one row of a base tensor, and one
// adapter module, in memory at a time.
func Merge(ctx context.Context, opts MergeOptions) (*MergeResult, error) {
	if opts.Adapter == "" && len(opts.LoRAs) == 0 {
		return nil, errors.New("merge: no adapter given")
	}
	outType := keepType
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
	base, err := gguf.Open(opts.Base)
	if err != nil {
		return nil, err
	}
	defer base.Close()
	if err := checkArch(opts.Base, base.Architecture()); err != nil {
		return nil, err
	}
	var mmproj *gguf.File
	if opts.Mmproj != "" {
		if mmproj, err = openMmproj(opts.Mmproj); err != nil {
			return nil, err
		}
		defer mmproj.Close()
		pt, _ := mmproj.Metadata.String("clip.projector_type")
		if f, ok := family.ByProjector(pt); ok {
			if err := f.Pairs(base.Architecture(), opts.Base, opts.Mmproj); err != nil {
				return nil, fmt.Errorf("%w: %w", err, ErrArchitecture)
			}
		}
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
		ad, err := gguf.Open(lf.Path)
		if err != nil {
			return nil, err
		}
		defer ad.Close()
		p, err := ggufPairs(ad, base, lf.Scale)
		if err != nil {
			return nil, err
		}
		for _, q := range p {
			if _, ok := base.Tensor(q.target); !ok {
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
		base    *gguf.File
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
			t, _ := j.base.Tensor(p.target)
			if err := p.check(j.base.Path, t); err != nil {
				return nil, err
			}
			if _, err := rowBytes(t.Type, int(t.Shape[0])); err != nil {
				return nil, fmt.Errorf("%s: tensor %s: %w", j.base.Path, t.Name, err)
			}
			if outType != keepType {
				if _, err := rowBytes(outType, int(t.Shape[0])); err != nil && !slices.Contains(res.KeptType, t.Name) {
					res.KeptType = append(res.KeptType, t.Name)
				}
			}
		}
		for _, t := range j.base.Tensors {
			total += t.Size()
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
func openMmproj(path string) (*gguf.File, error) {
	mm, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	if arch := mm.Architecture(); arch != "clip" {
		mm.Close()
		return nil, fmt.Errorf("%s: architecture %q, not a vision projector (clip)", path, arch)
	}
	pt, _ := mm.Metadata.String("clip.projector_type")
	if pt == "" {
		pt, _ = mm.Metadata.String("clip.vision.projector_type")
	}
	if _, ok := family.ByProjector(pt); !ok {
		mm.Close()
		return nil, fmt.Errorf("%s: projector type %q: %w (want %s)", path, pt, ErrArchitecture, strings.Join(family.Projectors(), ", "))
	}
	return mm, nil
}

// mergeFile writes base with pairs merged to out and returns the names of
// the tensors it changed. progress gets the bytes of each base tensor done.
// On error no file is left at out.
func mergeFile(ctx context.Context, base *gguf.File, pairs []pair, out string, outType gguf.TensorType, rec MergeRecord, progress func(int64)) ([]string, error) {
	byTarget := map[string][]pair{}
	for _, p := range pairs {
		byTarget[p.target] = append(byTarget[p.target], p)
	}
	var merged []string
	tensors := slices.Clone(base.Tensors)
	for i, t := range tensors {
		if _, ok := byTarget[t.Name]; !ok {
			continue
		}
		merged = append(merged, t.Name)
		if outType != keepType && outType != t.Type {
			if _, err := rowBytes(outType, int(t.Shape[0])); err == nil {
				tensors[i].Type = outType
			}
		}
	}
	rec.Tensors = merged
	recJSON, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	md := slices.DeleteFunc(slices.Clone(base.Metadata), func(kv gguf.KeyValue) bool { return kv.Key == MergeKey })
	md = append(md, gguf.KV(MergeKey, string(recJSON)))

	// The adapter data of the last module read, shared by a qkv's parts.
	var cacheKey string
	var cacheA, cacheB []float64
	err = gguf.Create(out, md, tensors, func(i int, dst io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		bt, ot := base.Tensors[i], tensors[i]
		ps := byTarget[bt.Name]
		if len(ps) == 0 {
			if _, err := io.Copy(dst, base.TensorReader(bt)); err != nil {
				return fmt.Errorf("copy from %s: %w", base.Path, err)
			}
			progress(bt.Size())
			return nil
		}
		ups := make([]*update, len(ps))
		for k, p := range ps {
			if p.key != cacheKey {
				a, b, err := p.load()
				if err != nil {
					return err
				}
				if !finite(a) || !finite(b) {
					return fmt.Errorf("%s: lora weights hold NaN or infinity", p.label)
				}
				cacheKey, cacheA, cacheB = p.key, a, b
			}
			ups[k] = &update{a: cacheA, b: cacheB, rank: p.rank, in: p.in, row0: p.row0, embedding: p.embedding, scale: p.scale}
		}
		if err := mergeTensor(base, bt, ot, ups, dst); err != nil {
			return err
		}
		slog.Debug("lora: merged", "tensor", bt.Name, "updates", len(ps), "type", ot.Type)
		progress(bt.Size())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return merged, nil
}

// mergeTensor streams tensor bt of base row by row: decode, add every
// update, encode as ot's type, write.
func mergeTensor(base *gguf.File, bt, ot gguf.TensorInfo, ups []*update, dst io.Writer) error {
	n := int(bt.Shape[0])
	inRB, _ := rowBytes(bt.Type, n)
	outRB, _ := rowBytes(ot.Type, n)
	src := base.TensorReader(bt)
	inBuf := make([]byte, inRB)
	outBuf := make([]byte, outRB)
	row := make([]float64, n)
	for r := range int(bt.Rows()) {
		if _, err := io.ReadFull(src, inBuf); err != nil {
			return fmt.Errorf("read from %s: %w", base.Path, err)
		}
		if err := decodeRow(bt.Type, inBuf, row); err != nil {
			return fmt.Errorf("%s: tensor %s: %w", base.Path, bt.Name, err)
		}
		for _, u := range ups {
			u.addRow(r, row)
		}
		if err := encodeRow(ot.Type, row, outBuf); err != nil {
			return fmt.Errorf("%s: tensor %s: %w", base.Path, bt.Name, err)
		}
		if _, err := dst.Write(outBuf); err != nil {
			return err
		}
	}
	return nil
}
