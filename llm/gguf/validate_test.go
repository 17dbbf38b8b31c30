package gguf_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
)

func writeSynth(t *testing.T, shape synth.Shape) synth.Files {
	t.Helper()
	f, err := synth.Write(t.TempDir(), synth.Options{Shape: shape, Seed: 1, LoRA: true})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// rewrite copies src to a new file after edit changes its metadata and
// tensor list; tensors keep their bytes from src (by name), new ones are
// zero.
func rewrite(t *testing.T, src string, edit func(gguf.Metadata, []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo)) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	md, ts := edit(slices.Clone(f.Metadata), slices.Clone(f.Tensors))
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err = gguf.Create(dst, md, ts, func(i int, w io.Writer) error {
		if old, ok := f.Tensor(ts[i].Name); ok && old.Size() == ts[i].Size() {
			_, err := io.Copy(w, f.TensorReader(old))
			return err
		}
		_, err := w.Write(make([]byte, ts[i].Size()))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func setKV(md gguf.Metadata, key string, v any) gguf.Metadata {
	for i := range md {
		if md[i].Key == key {
			md[i].Value = v
			return md
		}
	}
	return append(md, gguf.KV(key, v))
}

func dropTensor(ts []gguf.TensorInfo, name string) []gguf.TensorInfo {
	return slices.DeleteFunc(ts, func(t gguf.TensorInfo) bool { return t.Name == name })
}

func TestValidateSynth(t *testing.T) {
	for _, shape := range []synth.Shape{synth.Tiny, synth.Small} {
		files := writeSynth(t, shape)
		m, err := gguf.ValidateModel(files.Model)
		if err != nil {
			t.Fatalf("%s: %v", shape, err)
		}
		if err := gguf.ValidateProjector(files.Mmproj, m); err != nil {
			t.Errorf("%s: %v", shape, err)
		}
		if err := gguf.ValidateLoRA(files.LoRA, m); err != nil {
			t.Errorf("%s: %v", shape, err)
		}
	}
}

func TestValidateBadFiles(t *testing.T) {
	tiny, small := writeSynth(t, synth.Tiny), writeSynth(t, synth.Small)
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rnd := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range rnd {
		rnd[i] = byte(r.Uint32())
	}
	editModel := func(edit func(gguf.Metadata, []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo)) string {
		return rewrite(t, tiny.Model, edit)
	}
	models := []struct {
		name, path, want string
		unsupported      bool
	}{
		{"missing", filepath.Join(dir, "nope.gguf"), "no such file", false},
		{"zero size", file("empty.gguf", nil), "too short", false},
		{"text", file("text.gguf", []byte("this is not a model, just some text\n")), "not a gguf file", false},
		{"random bytes", file("random.gguf", rnd), "not a gguf file", false},
		{"projector", tiny.Mmproj, "vision projector", false},
		{"lora", tiny.LoRA, "lora adapter", false},
		{"other architecture", editModel(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return setKV(md, "general.architecture", "llama"), ts
		}), `architecture "llama" is not supported`, true},
		{"missing q bias", editModel(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return md, dropTensor(ts, "blk.1.attn_q.bias")
		}), `tensor "blk.1.attn_q.bias" is missing`, false},
		{"extra output bias", editModel(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return md, append(ts, gguf.TensorInfo{Name: "blk.0.attn_output.bias", Type: gguf.F32, Shape: []int64{64}})
		}), `"blk.0.attn_output.bias" is not one a qwen2vl model has`, false},
		{"rope sections", editModel(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return setKV(md, "qwen2vl.rope.dimension_sections", []int32{4, 4, 4, 0}), ts
		}), "sums to 12, want half the head size 8", false},
		{"rope sections as floats", editModel(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return setKV(md, "qwen2vl.rope.dimension_sections", []float32{2, 3, 3, 0}), ts
		}), "want an array of 4 i32", false},
		{"width as i32", editModel(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return setKV(md, "qwen2vl.embedding_length", int32(64)), ts
		}), `"qwen2vl.embedding_length" is i32, want u32`, false},
		{"duplicate token", editModel(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			kv, _ := md.Lookup("tokenizer.ggml.tokens")
			toks := slices.Clone(kv.Value.([]string))
			toks[300] = toks[299]
			return setKV(md, "tokenizer.ggml.tokens", toks), ts
		}), "every token must be unique", false},
		{"wrong shape", editModel(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			for i := range ts {
				if ts[i].Name == "blk.0.ffn_down.weight" {
					ts[i].Shape = []int64{64, 192}
				}
			}
			return md, ts
		}), `"blk.0.ffn_down.weight" has shape [64 192], want [192 64]`, false},
	}
	for _, tt := range models {
		t.Run("model/"+tt.name, func(t *testing.T) {
			_, err := gguf.ValidateModel(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("got %v, want an error naming %s and containing %q", err, tt.path, tt.want)
			}
			if errors.Is(err, gguf.ErrUnsupported) != tt.unsupported {
				t.Errorf("errors.Is(%v, ErrUnsupported) = %v", err, !tt.unsupported)
			}
		})
	}

	m, err := gguf.ValidateModel(tiny.Model)
	if err != nil {
		t.Fatal(err)
	}
	editProj := func(edit func(gguf.Metadata, []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo)) string {
		return rewrite(t, tiny.Mmproj, edit)
	}
	projectors := []struct{ name, path, want string }{
		{"other width", small.Mmproj, "output width 512 does not match the embedding width 64"},
		{"model as projector", tiny.Model, `not a vision projector`},
		{"no vision encoder", editProj(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return slices.DeleteFunc(md, func(kv gguf.KeyValue) bool { return kv.Key == "clip.has_vision_encoder" }), ts
		}), "no vision encoder"},
		{"other projector", editProj(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return setKV(md, "clip.projector_type", "mlp"), ts
		}), `projector type "mlp" is not supported`},
		{"patch bias", editProj(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return md, append(ts, gguf.TensorInfo{Name: "v.patch_embd.bias", Type: gguf.F32, Shape: []int64{32}})
		}), `"v.patch_embd.bias" is not allowed`},
		{"no image mean", editProj(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return slices.DeleteFunc(md, func(kv gguf.KeyValue) bool { return kv.Key == "clip.vision.image_mean" }), ts
		}), `"clip.vision.image_mean" is missing`},
		{"short image std", editProj(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return setKV(md, "clip.vision.image_std", []float32{0.5}), ts
		}), `want 3 f32`},
		{"head size", editProj(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return setKV(md, "clip.vision.attention.head_count", uint32(16)), ts
		}), "head size divisible by 4"},
		{"missing second patch half", editProj(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return md, dropTensor(ts, "v.patch_embd.weight.1")
		}), `"v.patch_embd.weight.1" is missing`},
	}
	for _, tt := range projectors {
		t.Run("projector/"+tt.name, func(t *testing.T) {
			err := gguf.ValidateProjector(tt.path, m)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("got %v, want an error naming %s and containing %q", err, tt.path, tt.want)
			}
		})
	}

	editLoRA := func(edit func(gguf.Metadata, []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo)) string {
		return rewrite(t, tiny.LoRA, edit)
	}
	loras := []struct{ name, path, want string }{
		{"other base", small.LoRA, "do not fit the base tensor"},
		{"model as lora", tiny.Model, `not a lora adapter`},
		{"other architecture", editLoRA(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return setKV(md, "general.architecture", "llama"), ts
		}), `adapter is for architecture "llama"`},
		{"half a pair", editLoRA(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return md, dropTensor(ts, "blk.0.attn_q.weight.lora_b")
		}), "has only one of lora_a and lora_b"},
		{"unknown base tensor", editLoRA(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			for i := range ts {
				ts[i].Name = strings.Replace(ts[i].Name, "blk.0.", "blk.9.", 1)
			}
			return md, ts
		}), `"blk.9.attn_q.weight" does not exist in the base model`},
		{"alpha as string", editLoRA(func(md gguf.Metadata, ts []gguf.TensorInfo) (gguf.Metadata, []gguf.TensorInfo) {
			return setKV(md, "adapter.lora.alpha", "8"), ts
		}), `"adapter.lora.alpha" is string, want f32`},
	}
	for _, tt := range loras {
		t.Run("lora/"+tt.name, func(t *testing.T) {
			err := gguf.ValidateLoRA(tt.path, m)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("got %v, want an error naming %s and containing %q", err, tt.path, tt.want)
			}
		})
	}
}

// TestValidateTruncated cuts the tiny model, projector and adapter at many
// offsets; every cut must be refused with an error naming the file.
func TestValidateTruncated(t *testing.T) {
	files := writeSynth(t, synth.Tiny)
	m, err := gguf.ValidateModel(files.Model)
	if err != nil {
		t.Fatal(err)
	}
	check := map[string]func(string) error{
		files.Model:  func(p string) error { _, err := gguf.ValidateModel(p); return err },
		files.Mmproj: func(p string) error { return gguf.ValidateProjector(p, m) },
		files.LoRA:   func(p string) error { return gguf.ValidateLoRA(p, m) },
	}
	for src, validate := range check {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		last := f.Tensors[len(f.Tensors)-1]
		end := int(f.DataOffset + last.Offset + last.Size())
		header := int(f.DataOffset)
		f.Close()
		// Every byte of the first 64, then ever wider steps through the header
		// (where the parsing is), then a spread through the data.
		var cuts []int
		for n := 0; n < header; n += 1 + n/64 {
			cuts = append(cuts, n)
		}
		for n := header; n < end; n += max(1, (end-header)/97) {
			cuts = append(cuts, n)
		}
		cuts = append(cuts, end-1)
		p := filepath.Join(t.TempDir(), "cut.gguf")
		for _, n := range cuts {
			if err := os.WriteFile(p, data[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			if err := validate(p); err == nil || !strings.HasPrefix(err.Error(), p+": ") {
				t.Fatalf("%s cut at %d of %d bytes: got %v, want an error naming the file", filepath.Base(src), n, end, err)
			}
		}
	}
}
