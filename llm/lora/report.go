package lora

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Report is what a conversion with opts did, for people: the files
// written (opts.Out when the adapter changes the language model,
// opts.OutMmproj when its vision modules were merged into it), and the
// lines that say so, with the scales folded, the vision modules left out
// and what could not be converted.
func (r *ConvertResult) Report(opts ConvertOptions) (written, notes []string) {
	if len(r.Tensors) > 0 {
		notes = append(notes, fmt.Sprintf("wrote %s: %d LoRA pairs for the language model, adapter.lora.alpha %g", opts.Out, len(r.Tensors), r.Alpha))
		written = append(written, opts.Out)
	} else {
		notes = append(notes, fmt.Sprintf("the adapter changes nothing in the language model: %s not written", opts.Out))
	}
	for _, m := range slices.Sorted(maps.Keys(r.Folded)) {
		notes = append(notes, fmt.Sprintf("  %s: its own scale folded into lora_b (× %.6g)", m, r.Folded[m]))
	}
	switch {
	case len(r.Vision) > 0 && r.VisionMerged:
		notes = append(notes, fmt.Sprintf("merged %d vision modules into %s (llama.cpp cannot apply LoRA to the projector at run time)", len(r.Vision), opts.OutMmproj))
		written = append(written, opts.OutMmproj)
	case len(r.Vision) > 0:
		notes = append(notes, fmt.Sprintf("warning: %d LoRA modules on the vision tower are NOT in %s: llama.cpp cannot apply LoRA to the vision projector at run time.", len(r.Vision), opts.Out),
			fmt.Sprintf("  use 'vlmcmp lora merge' (or convert with --mmproj and --out-mmproj) to merge them: %s", strings.Join(r.Vision, ", ")))
	}
	return written, append(notes, unplacedNotes("not converted", r.NotConverted)...)
}

// Report is what a merge with opts did, for people: the files written
// (opts.Out, and opts.OutMmproj when given), and the lines that say how
// many tensors each got, which kept their base type and which adapter
// modules were left out.
func (r *MergeResult) Report(opts MergeOptions) (written, notes []string) {
	for _, out := range []string{opts.Out, opts.OutMmproj} {
		if out != "" {
			notes = append(notes, fmt.Sprintf("wrote %s: %d tensors merged", out, len(r.Merged[out])))
			written = append(written, out)
		}
	}
	if len(r.KeptType) > 0 {
		notes = append(notes, fmt.Sprintf("note: kept the base type for %d merged tensors whose rows do not fit --type %s: %s", len(r.KeptType), opts.Type, strings.Join(r.KeptType, ", ")))
	}
	return written, append(notes, unplacedNotes("not merged", r.NotMerged)...)
}

// unplacedNotes are the lines of a warning about what could not be placed.
func unplacedNotes(what string, u []Unplaced) []string {
	if len(u) == 0 {
		return nil
	}
	notes := []string{fmt.Sprintf("warning: %d adapter tensors or modules %s:", len(u), what)}
	for _, x := range u {
		notes = append(notes, fmt.Sprintf("  %s: %s", x.Name, x.Reason))
	}
	return notes
}
