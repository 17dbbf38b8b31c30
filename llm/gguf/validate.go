package gguf

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vlmcmp/vlmcmp/llm/family"
)

// ErrUnsupported marks a well-formed file that vlmcmp cannot run: another
// architecture, another projector type, an adapter for another base.
var ErrUnsupported = errors.New("unsupported model")

// SupportedArchitectures returns the language model architectures
// ValidateModel accepts (those of llm/family): a new slice each call, so
// callers cannot change what is accepted.
func SupportedArchitectures() []string { return family.Architectures() }

// Model is what ValidateModel learnt of a language model, for checking a
// projector or adapter against it.
type Model struct {
	Path         string
	Architecture string
	Embd         int64 // embedding width
	Vocab        int64
	Deepstack    int64 // qwen3vl: layers that take vision features; the projector's output is Embd*(1+Deepstack) wide
	Tensors      map[string]TensorInfo
}

// checker collects the first problem found in a file.
type checker struct {
	f   *File
	err error
}

func (c *checker) failf(where, format string, args ...any) {
	if c.err == nil {
		c.err = &FormatError{Path: c.f.Path, Offset: -1, Where: where, Msg: fmt.Sprintf(format, args...)}
	}
}

// u32 returns a required key that must be a u32 (llama.cpp asserts or
// refuses other integer types) greater than zero.
func (c *checker) u32(key string) int64 {
	kv, ok := c.f.Metadata.Lookup(key)
	if !ok {
		c.failf("", "key %q is missing", key)
		return 0
	}
	v, ok := kv.Value.(uint32)
	if !ok {
		c.failf(fmt.Sprintf("key %q", key), "is %s, want u32", typeName(kv))
		return 0
	}
	if v == 0 {
		c.failf(fmt.Sprintf("key %q", key), "is 0")
	}
	return int64(v)
}

func (c *checker) f32(key string, required bool) {
	kv, ok := c.f.Metadata.Lookup(key)
	if !ok {
		if required {
			c.failf("", "key %q is missing", key)
		}
		return
	}
	if _, ok := kv.Value.(float32); !ok {
		c.failf(fmt.Sprintf("key %q", key), "is %s, want f32", typeName(kv))
	}
}

// str returns a string key; a missing optional key gives "".
func (c *checker) str(key string, required bool) string {
	kv, ok := c.f.Metadata.Lookup(key)
	if !ok {
		if required {
			c.failf("", "key %q is missing", key)
		}
		return ""
	}
	s, ok := kv.Value.(string)
	if !ok {
		c.failf(fmt.Sprintf("key %q", key), "is %s, want string", typeName(kv))
	}
	return s
}

// tensor checks that name exists with the given shape (a dimension of -1
// matches anything) and returns it.
func (c *checker) tensor(name string, shape ...int64) (TensorInfo, bool) {
	t, ok := c.f.Tensor(name)
	if !ok {
		c.failf("", "tensor %q is missing", name)
		return t, false
	}
	want := append([]int64(nil), shape...)
	for i := range want {
		if want[i] < 0 && i < len(t.Shape) {
			want[i] = t.Shape[i]
		}
	}
	if !sameShape(t.Shape, want) {
		c.failf(fmt.Sprintf("tensor %q", name), "has shape %s, want %s", shapeString(t.Shape), shapeString(want))
		return t, false
	}
	return t, true
}

// noOthers reports a tensor not in known.
func (c *checker) noOthers(known map[string]bool, what string) {
	for _, t := range c.f.Tensors {
		if !known[t.Name] {
			c.failf(fmt.Sprintf("tensor %q", t.Name), "is not one %s has", what)
			return
		}
	}
}

// ValidateModel checks that the GGUF file at path is a language model
// llama.cpp can load and vlmcmp can run: the architecture of a known
// family (package family; see SupportedArchitectures), its hyperparameters
// with the types llama.cpp reads them as and consistent with each other, a
// usable vocabulary, and exactly the tensors the family lists, with
// consistent shapes.
func ValidateModel(path string) (*Model, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := &checker{f: f}
	arch := c.str("general.architecture", true)
	if c.err != nil {
		return nil, c.err
	}
	if typ, _ := f.Metadata.String("general.type"); typ == "adapter" {
		return nil, fmt.Errorf("%s: is a lora adapter, not a language model", path)
	}
	if arch == "clip" {
		return nil, fmt.Errorf("%s: is a vision projector, not a language model", path)
	}
	fams := family.ByArch(arch)
	if len(fams) == 0 {
		return nil, fmt.Errorf("%s: architecture %q is not supported (supported: %s): %w", path, arch, strings.Join(SupportedArchitectures(), ", "), ErrUnsupported)
	}
	fam := fams[0] // families sharing an architecture share its tensors
	if t := c.str("general.type", false); t != "" && t != "model" {
		c.failf(`key "general.type"`, "is %q, not a model", t)
	}
	p := arch + "."
	for _, k := range fam.LLMKeys {
		if _, ok := f.Metadata.Lookup(p + k); !ok && k != "n_deepstack_layers" {
			c.failf("", "key %q is missing", p+k)
		}
	}
	embd := c.u32(p + "embedding_length")
	layers := c.u32(p + "block_count")
	ff := c.u32(p + "feed_forward_length")
	heads := c.u32(p + "attention.head_count")
	kvHeads := c.u32(p + "attention.head_count_kv")
	c.u32(p + "context_length")
	c.f32(p+"attention.layer_norm_rms_epsilon", true)
	c.f32(p+"rope.freq_base", false)
	if c.err != nil {
		return nil, c.err
	}
	headDim := embd / heads
	if _, ok := f.Metadata.Lookup(p + "attention.key_length"); ok {
		headDim = c.u32(p + "attention.key_length")
		if v := c.u32(p + "attention.value_length"); c.err == nil && v != headDim {
			c.failf(fmt.Sprintf("key %q", p+"attention.value_length"), "is %d, want the key length %d", v, headDim)
		}
	} else if embd%heads != 0 {
		c.failf("", "embedding width %d is not a multiple of the %d heads", embd, heads)
	}
	var deepstack int64
	if _, ok := f.Metadata.Lookup(p + "n_deepstack_layers"); ok {
		deepstack = c.u32(p + "n_deepstack_layers")
	}
	if heads%kvHeads != 0 {
		c.failf("", "%d attention heads are not a multiple of the %d key/value heads", heads, kvHeads)
	}
	if kv, ok := f.Metadata.Lookup(p + "rope.dimension_sections"); !ok {
		c.failf("", "key %q is missing", p+"rope.dimension_sections")
	} else if secs, ok := kv.Ints(); !ok || kv.Len() != 4 || !isInt32Array(kv.Value) {
		c.failf(fmt.Sprintf("key %q", kv.Key), "is %s of %d values, want an array of 4 i32", typeName(kv), kv.Len())
	} else if sum := secs[0] + secs[1] + secs[2] + secs[3]; sum != headDim/2 {
		c.failf(fmt.Sprintf("key %q", kv.Key), "sums to %d, want half the head size %d", sum, headDim/2)
	}
	vocab := c.vocabulary()
	if c.err != nil {
		return nil, c.err
	}
	c.tensors(fam.LLMTensors(family.LLM{Embd: embd, Layers: layers, FF: ff, Heads: heads, KVHeads: kvHeads,
		HeadDim: headDim, Vocab: vocab, Tied: true, Deepstack: deepstack}), "a "+arch+" model")
	if c.err != nil {
		return nil, c.err
	}
	m := &Model{Path: path, Architecture: arch, Embd: embd, Vocab: vocab, Deepstack: deepstack, Tensors: make(map[string]TensorInfo, len(f.Tensors))}
	for _, t := range f.Tensors {
		m.Tensors[t.Name] = t
	}
	return m, nil
}

// tensors checks that the file holds exactly the listed tensors: each
// required one, optional ones only with their shape, and nothing else.
func (c *checker) tensors(want []family.Tensor, what string) {
	known := make(map[string]bool, len(want))
	for _, t := range want {
		known[t.Name] = true
		if _, ok := c.f.Tensor(t.Name); ok || !t.Optional {
			c.tensor(t.Name, t.Shape...)
		}
	}
	c.noOthers(known, what)
}

func isInt32Array(v any) bool {
	switch v.(type) {
	case []int32, []uint32:
		return true
	}
	return false
}

// vocabulary checks the tokenizer keys and returns the vocabulary size.
func (c *checker) vocabulary() int64 {
	model := c.str("tokenizer.ggml.model", true)
	tokens, err := c.f.Metadata.Strings("tokenizer.ggml.tokens")
	if err != nil {
		c.failf("", "%v", err)
		return 0
	}
	if len(tokens) == 0 {
		c.failf(`key "tokenizer.ggml.tokens"`, "is empty")
		return 0
	}
	seen := make(map[string]int, len(tokens))
	for i, s := range tokens {
		if j, dup := seen[s]; dup {
			c.failf(`key "tokenizer.ggml.tokens"`, "has tokens %d and %d both %q; every token must be unique", j, i, s)
			return 0
		}
		seen[s] = i
	}
	if kv, ok := c.f.Metadata.Lookup("tokenizer.ggml.token_type"); ok {
		if _, isI32 := kv.Value.([]int32); !isI32 || kv.Len() != len(tokens) {
			c.failf(`key "tokenizer.ggml.token_type"`, "is %s of %d values, want %d i32", typeName(kv), kv.Len(), len(tokens))
		}
	}
	if kv, ok := c.f.Metadata.Lookup("tokenizer.ggml.scores"); ok {
		if _, isF32 := kv.Value.([]float32); !isF32 || kv.Len() != len(tokens) {
			c.failf(`key "tokenizer.ggml.scores"`, "is %s of %d values, want %d f32", typeName(kv), kv.Len(), len(tokens))
		}
	}
	if model == "gpt2" {
		merges, err := c.f.Metadata.Strings("tokenizer.ggml.merges")
		if err != nil {
			c.failf("", "%v", err)
			return 0
		}
		for i, m := range merges {
			if a, b, ok := strings.Cut(m, " "); !ok || a == "" || b == "" {
				c.failf(`key "tokenizer.ggml.merges"`, "merge %d %q is not two tokens separated by a space", i, m)
				return 0
			}
		}
	}
	for _, k := range []string{"bos", "eos", "eot", "eom", "unknown", "seperator", "padding"} {
		key := "tokenizer.ggml." + k + "_token_id"
		kv, ok := c.f.Metadata.Lookup(key)
		if !ok {
			continue
		}
		id, ok := kv.Value.(uint32)
		if !ok {
			c.failf(fmt.Sprintf("key %q", key), "is %s, want u32", typeName(kv))
		} else if int64(id) >= int64(len(tokens)) {
			c.failf(fmt.Sprintf("key %q", key), "token %d is outside the vocabulary of %d", id, len(tokens))
		}
	}
	if kv, ok := c.f.Metadata.Lookup("tokenizer.chat_template"); ok {
		if _, ok := kv.Value.(string); !ok {
			c.failf(`key "tokenizer.chat_template"`, "is %s, want string", typeName(kv))
		}
	}
	return int64(len(tokens))
}

// ValidateProjector checks that the GGUF file at path is a vision projector
// of a known family (see package family) that llama.cpp's mtmd can load,
// made for model's architecture, with an output width that matches model.
func ValidateProjector(path string, model *Model) error {
	_, err := ValidateProjectorFamily(path, model)
	return err
}

// ValidateProjectorFamily is ValidateProjector returning the projector's
// family. model may be nil to check the file alone.
func ValidateProjectorFamily(path string, model *Model) (*family.Family, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := &checker{f: f}
	if arch := c.str("general.architecture", false); arch != "" && arch != "clip" {
		if c.err == nil {
			return nil, fmt.Errorf("%s: is a %q model, not a vision projector (want architecture \"clip\")", path, arch)
		}
	}
	if kv, ok := f.Metadata.Lookup("clip.has_vision_encoder"); !ok {
		c.failf("", `key "clip.has_vision_encoder" is missing: no vision encoder`)
	} else if b, ok := kv.Value.(bool); !ok {
		c.failf(`key "clip.has_vision_encoder"`, "is %s, want bool", typeName(kv))
	} else if !b {
		c.failf(`key "clip.has_vision_encoder"`, "is false: no vision encoder")
	}
	pt := c.str("clip.projector_type", true)
	if c.err != nil {
		return nil, c.err
	}
	fam, ok := family.ByProjector(pt)
	if !ok {
		return nil, fmt.Errorf("%s: projector type %q is not supported (supported: %s): %w", path, pt, strings.Join(family.Projectors(), ", "), ErrUnsupported)
	}
	if model != nil {
		if err := fam.Pairs(model.Architecture, model.Path, path); err != nil {
			return nil, fmt.Errorf("%w: %w", err, ErrUnsupported)
		}
	}
	const v = "clip.vision."
	e := c.u32(v + "embedding_length")
	ff := c.u32(v + "feed_forward_length")
	layers := c.u32(v + "block_count")
	c.u32(v + "projection_dim")
	heads := c.u32(v + "attention.head_count")
	c.u32(v + "image_size")
	patch := c.u32(v + "patch_size")
	c.f32(v+"attention.layer_norm_epsilon", true)
	if c.err == nil && patch != int64(fam.Patch) {
		c.failf(fmt.Sprintf("key %q", v+"patch_size"), "is %d, want %d for a %s projector", patch, fam.Patch, fam.Title)
	}
	if kv, ok := f.Metadata.Lookup(v + "spatial_merge_size"); ok {
		if n, ok := kv.Value.(uint32); !ok || int(n) != fam.Merge {
			c.failf(fmt.Sprintf("key %q", kv.Key), "is %v (%s), want u32 %d: the %s merger joins %dx%d patches", kv.Value, typeName(kv), fam.Merge, fam.Projector, fam.Merge, fam.Merge)
		}
	}
	for _, k := range sortedKeys(fam.VisionKeys) {
		switch fam.VisionKeys[k] {
		case "u32":
			c.u32(k)
		case "f32":
			c.f32(k, true)
		case "bool":
			if kv, ok := f.Metadata.Lookup(k); !ok {
				c.failf("", "key %q is missing", k)
			} else if _, ok := kv.Value.(bool); !ok {
				c.failf(fmt.Sprintf("key %q", k), "is %s, want bool", typeName(kv))
			}
		}
	}
	for _, k := range []string{v + "image_mean", v + "image_std"} {
		kv, ok := f.Metadata.Lookup(k)
		if !ok {
			c.failf("", "key %q is missing", k)
		} else if a, ok := kv.Value.([]float32); !ok || len(a) < 3 {
			c.failf(fmt.Sprintf("key %q", k), "is %s of %d values, want 3 f32", typeName(kv), kv.Len())
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	if e%heads != 0 || (e/heads)%4 != 0 {
		c.failf("", "vision width %d over %d heads does not give a head size divisible by 4", e, heads)
	}
	if ff == e {
		// llama.cpp would take up and down for swapped legacy tensors.
		c.failf("", "vision feed-forward width equals the vision width %d", e)
	}
	if fam != family.Qwen3VL {
		for _, n := range []string{"v.patch_embd.bias", "v.class_embd"} {
			if _, ok := f.Tensor(n); ok {
				c.failf(fmt.Sprintf("tensor %q", n), "is not allowed in a %s projector (llama.cpp asserts it is absent)", fam.Projector)
			}
		}
	}
	w, ok := c.tensor("mm.2.weight", 4*e, -1)
	if !ok {
		return nil, c.err
	}
	d := family.Vision{Embd: e, FF: ff, Layers: layers, Heads: heads, Patch: patch, Out: w.Shape[1]}
	if t, ok := f.Tensor("v.position_embd.weight"); ok && len(t.Shape) == 2 {
		d.Positions = t.Shape[1]
	}
	for i := range layers {
		if _, ok := f.Tensor(fmt.Sprintf("v.deepstack.%d.fc2.weight", i)); ok {
			d.Deepstack = append(d.Deepstack, i)
		}
	}
	c.tensors(fam.VisionTensors(d), "a "+fam.Projector+" projector")
	if c.err != nil {
		return nil, c.err
	}
	if model != nil {
		if d.Out != model.Embd {
			return nil, fmt.Errorf("%s: projector output width %d does not match the embedding width %d of %s: %w", path, d.Out, model.Embd, model.Path, ErrUnsupported)
		}
		if int64(len(d.Deepstack)) != model.Deepstack {
			return nil, fmt.Errorf("%s: projector has %d deepstack layers but %s takes %d: %w", path, len(d.Deepstack), model.Path, model.Deepstack, ErrUnsupported)
		}
	}
	return fam, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ValidateLoRA checks that the GGUF file at path is a LoRA adapter
// llama.cpp can apply to model: general.type adapter, adapter.type lora,
// the model's architecture, and for every base tensor a lora_a/lora_b
// pair whose shapes fit the base tensor and each other (same rank).
func ValidateLoRA(path string, model *Model) error {
	f, err := Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c := &checker{f: f}
	// llama.cpp aborts if these exist with another type.
	typ := c.str("general.type", false)
	arch := c.str("general.architecture", false)
	at := c.str("adapter.type", false)
	c.f32("adapter.lora.alpha", false)
	if c.err != nil {
		return c.err
	}
	if typ != "adapter" {
		return fmt.Errorf("%s: general.type is %q, not a lora adapter (want \"adapter\")", path, typ)
	}
	if at != "lora" {
		return fmt.Errorf("%s: adapter.type is %q, want \"lora\": %w", path, at, ErrUnsupported)
	}
	if model != nil && arch != model.Architecture {
		return fmt.Errorf("%s: adapter is for architecture %q, the model %s is %q: %w", path, arch, model.Path, model.Architecture, ErrUnsupported)
	}
	type pair struct{ a, b *TensorInfo }
	pairs := map[string]*pair{}
	var order []string
	for i := range f.Tensors {
		t := &f.Tensors[i]
		base, isA := strings.CutSuffix(t.Name, ".lora_a")
		if !isA {
			var isB bool
			if base, isB = strings.CutSuffix(t.Name, ".lora_b"); !isB {
				return &FormatError{Path: path, Offset: -1, Where: fmt.Sprintf("tensor %q", t.Name), Msg: "is neither a .lora_a nor a .lora_b tensor"}
			}
		}
		p := pairs[base]
		if p == nil {
			p = &pair{}
			pairs[base] = p
			order = append(order, base)
		}
		if isA {
			p.a = t
		} else {
			p.b = t
		}
	}
	if len(order) == 0 {
		return fmt.Errorf("%s: adapter has no lora tensors", path)
	}
	for _, base := range order {
		p := pairs[base]
		if p.a == nil || p.b == nil {
			return &FormatError{Path: path, Offset: -1, Where: fmt.Sprintf("tensor %q", base), Msg: "has only one of lora_a and lora_b"}
		}
		a, b := p.a.Shape, p.b.Shape
		if len(a) != 2 || len(b) != 2 {
			return &FormatError{Path: path, Offset: -1, Where: fmt.Sprintf("tensor %q", base), Msg: fmt.Sprintf("lora_a %s and lora_b %s are not both matrices", shapeString(a), shapeString(b))}
		}
		if model == nil {
			continue
		}
		bt, ok := model.Tensors[base]
		if !ok {
			return fmt.Errorf("%s: tensor %q does not exist in the base model %s: %w", path, base, model.Path, ErrUnsupported)
		}
		w := bt.Shape
		if len(w) != 2 {
			return fmt.Errorf("%s: base tensor %q of %s has shape %s, not a matrix: %w", path, base, model.Path, shapeString(w), ErrUnsupported)
		}
		ok = a[0] == w[0] && b[1] == w[1] && a[1] == b[0]
		if base == "token_embd.weight" {
			ok = w[0] == b[1] && w[1] == a[1] // llama.cpp expects a and b flipped here
		}
		if !ok {
			return fmt.Errorf("%s: tensor %q: lora_a %s and lora_b %s do not fit the base tensor %s of %s (want a [%d r], b [r %d], same rank r): %w",
				path, base, shapeString(a), shapeString(b), shapeString(w), model.Path, w[0], w[1], ErrUnsupported)
		}
	}
	return nil
}
