package lora

import (
	"strings"
	"testing"
)

func TestReports(t *testing.T) {
	cr := &ConvertResult{Alpha: 16, Tensors: []string{"a", "b"}, Folded: map[string]float64{"z": 2, "y": 0.5},
		Vision: []string{"v1", "v2"}, NotConverted: []Unplaced{{"x", "why"}}}
	written, notes := cr.Report(ConvertOptions{Out: "o.gguf"})
	want := []string{"wrote o.gguf: 2 LoRA pairs for the language model, adapter.lora.alpha 16",
		"  y: its own scale folded into lora_b (× 0.5)", "  z: its own scale folded into lora_b (× 2)",
		"warning: 2 LoRA modules on the vision tower are NOT in o.gguf", "  use 'vlmcmp lora merge'",
		"warning: 1 adapter tensors or modules not converted:", "  x: why"}
	if strings.Join(written, ",") != "o.gguf" || len(notes) != len(want) {
		t.Fatalf("convert: written %q, notes %q", written, notes)
	}
	for i, w := range want {
		if !strings.HasPrefix(notes[i], w) {
			t.Errorf("convert note %d %q, want it to start with %q", i, notes[i], w)
		}
	}
	cr.VisionMerged, cr.Tensors, cr.NotConverted, cr.Folded = true, nil, nil, nil
	written, notes = cr.Report(ConvertOptions{Out: "o.gguf", OutMmproj: "p.gguf"})
	if strings.Join(written, ",") != "p.gguf" || len(notes) != 2 || !strings.Contains(notes[0], "o.gguf not written") || !strings.HasPrefix(notes[1], "merged 2 vision modules into p.gguf") {
		t.Errorf("convert, vision merged: written %q, notes %q", written, notes)
	}
	mr := &MergeResult{Merged: map[string][]string{"m.gguf": {"a", "b"}, "p.gguf": {"c"}}, KeptType: []string{"k"}}
	written, notes = mr.Report(MergeOptions{Out: "m.gguf", OutMmproj: "p.gguf", Type: "q8_0"})
	if strings.Join(written, ",") != "m.gguf,p.gguf" || strings.Join(notes, "|") !=
		"wrote m.gguf: 2 tensors merged|wrote p.gguf: 1 tensors merged|note: kept the base type for 1 merged tensors whose rows do not fit --type q8_0: k" {
		t.Errorf("merge: written %q, notes %q", written, notes)
	}
}
