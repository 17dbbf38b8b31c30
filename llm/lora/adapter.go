package lora

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/vlmcmp/vlmcmp/llm/lora/safetensors"
)

// Adapter is a PEFT LoRA adapter for Qwen2-VL, read from a folder holding
// adapter_config.json and adapter_model.safetensors. Its tensors are read on
// demand; Close it when done. An Adapter is safe for concurrent reads.
type Adapter struct {
	// Dir is the adapter folder.
	Dir    string
	Config Config
	// Modules are the LoRA pairs with a place in llama.cpp's files, sorted by
	// their first GGUF name.
	Modules []Module
	// Unplaced are the tensors no GGUF tensor corresponds to, by name, with
	// the reason. Convert and merge report them; they are never dropped
	// silently.
	Unplaced []Unplaced
	// Naming is the naming scheme the tensors use (0 when only lm_head is
	// targeted, which both schemes name alike).
	Naming Naming
	file   *safetensors.File
}

// Module is one LoRA pair of an adapter: ΔW = Scale · B·A.
type Module struct {
	Target Target
	// Rank, Alpha and Scale as PEFT applies them to this module (rank_pattern,
	// alpha_pattern and use_rslora included).
	Rank  int
	Alpha float64
	Scale float64
	// A and B as stored by PEFT, in PyTorch order: a linear layer's A is
	// [rank, in] and B [out, rank]; an embedding's A is [rank, vocab] and B
	// [dim, rank].
	A, B safetensors.Tensor
}

// In and Out are the base weight's input and output widths this module
// expects (for embeddings: vocabulary size and embedding width). For a fused
// qkv, Out is the width of all three parts together.
func (m Module) In() int64  { return m.A.Shape[1] }
func (m Module) Out() int64 { return m.B.Shape[0] }

// Unplaced is an adapter tensor vlmcmp cannot put anywhere.
type Unplaced struct {
	Name   string
	Reason string
}

// loraKey splits a PEFT tensor name into its module and LoRA part.
var loraKey = regexp.MustCompile(`^(?:base_model\.model\.)?(.+)\.(lora_A|lora_B|lora_embedding_A|lora_embedding_B)(?:\.default)?(?:\.weight)?$`)

// otherFamilies are model families whose adapters base_model_name_or_path
// may name; an adapter naming one of them and not Qwen is refused.
var otherFamilies = []string{"llama", "mistral", "mixtral", "gemma", "phi-", "phi3", "gpt", "falcon", "bloom", "t5", "bert", "llava", "idefics", "pixtral", "internvl", "minicpm", "deepseek", "glm"}

// ErrArchitecture marks an adapter or file of another model than the
// families vlmcmp knows (Qwen2-VL, Qwen2.5-VL, Qwen3-VL).
var ErrArchitecture = errors.New("not an adapter for Qwen2-VL, Qwen2.5-VL or Qwen3-VL")

// Open reads and checks the PEFT adapter in dir: the config, the tensor
// table, that every lora_A has its lora_B with the same rank, and that the
// rank agrees with adapter_config.json. It does not read tensor data.
func Open(dir string) (*Adapter, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	if cfg.FanInFanOut {
		return nil, fmt.Errorf("%s: fan_in_fan_out is set: adapters for Conv1D layers (GPT-2 style) are not supported", filepath.Join(dir, ConfigFile))
	}
	if cfg.UseDoRA {
		return nil, fmt.Errorf("%s: use_dora is set: DoRA adapters cannot be converted to llama.cpp's LoRA format or merged by vlmcmp", filepath.Join(dir, ConfigFile))
	}
	if b := strings.ToLower(cfg.BaseModel); b != "" && !strings.Contains(b, "qwen") {
		for _, fam := range otherFamilies {
			if strings.Contains(b, fam) {
				return nil, fmt.Errorf("%s: base_model_name_or_path is %q: %w", filepath.Join(dir, ConfigFile), cfg.BaseModel, ErrArchitecture)
			}
		}
	}
	path := filepath.Join(dir, WeightsFile)
	f, err := safetensors.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, e := os.Stat(filepath.Join(dir, "adapter_model.bin")); e == nil {
			return nil, fmt.Errorf("%s: only adapter_model.bin (a PyTorch pickle) is there: save the adapter with safe_serialization=True or convert it to safetensors", dir)
		}
		return nil, fmt.Errorf("%s: no %s", dir, WeightsFile)
	}
	if err != nil {
		return nil, err
	}
	a := &Adapter{Dir: dir, Config: cfg, file: f}
	if err := a.index(); err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

// Close closes the weights file. It is safe to call more than once.
func (a *Adapter) Close() error { return a.file.Close() }

// index pairs the tensors of the weights file into modules.
func (a *Adapter) index() error {
	path := a.file.Path()
	type ab struct{ a, b *safetensors.Tensor }
	pairs := map[string]*ab{}
	var order []string
	for i := range a.file.Tensors {
		t := &a.file.Tensors[i]
		m := loraKey.FindStringSubmatch(t.Name)
		if m == nil {
			reason := "not a LoRA tensor (a module saved in full, modules_to_save, is not merged)"
			switch {
			case strings.Contains(t.Name, "lora_magnitude_vector"):
				reason = "DoRA magnitude vector: DoRA is not supported"
			case strings.HasSuffix(t.Name, ".lora_B.bias"):
				reason = "LoRA bias (lora_bias=True) is not supported"
			}
			a.Unplaced = append(a.Unplaced, Unplaced{t.Name, reason})
			continue
		}
		switch t.DType {
		case safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64:
		default:
			return fmt.Errorf("%s: tensor %q has dtype %s: want F32, F16 or BF16", path, t.Name, t.DType)
		}
		p := pairs[m[1]]
		if p == nil {
			p = &ab{}
			pairs[m[1]] = p
			order = append(order, m[1])
		}
		isA := strings.HasSuffix(m[2], "A")
		if strings.HasPrefix(m[2], "lora_embedding") != (m[1] == "model.embed_tokens" || m[1] == "model.language_model.embed_tokens") {
			a.Unplaced = append(a.Unplaced, Unplaced{t.Name, "LoRA kind does not fit the module (lora_embedding on a linear layer or lora_A/B on an embedding)"})
			delete(pairs, m[1])
			continue
		}
		if isA {
			p.a = t
		} else {
			p.b = t
		}
	}
	slices.Sort(order)
	for _, key := range order {
		p := pairs[key]
		if p == nil {
			continue
		}
		if p.a == nil || p.b == nil {
			have, miss := "lora_A", "lora_B"
			if p.a == nil {
				have, miss = miss, have
			}
			return fmt.Errorf("%s: module %s has %s but no %s", path, key, have, miss)
		}
		if len(p.a.Shape) != 2 || len(p.b.Shape) != 2 {
			return fmt.Errorf("%s: module %s: lora_A shape %v and lora_B shape %v are not both 2-D", path, key, p.a.Shape, p.b.Shape)
		}
		if p.a.Shape[0] != p.b.Shape[1] {
			return fmt.Errorf("%s: module %s: rank mismatch: %s is %v (rank %d) but %s is %v (rank %d)",
				path, key, p.a.Name, p.a.Shape, p.a.Shape[0], p.b.Name, p.b.Shape, p.b.Shape[1])
		}
		if p.a.Shape[0] < 1 || p.a.Shape[1] < 1 || p.b.Shape[0] < 1 {
			return fmt.Errorf("%s: module %s: empty lora_A %v or lora_B %v", path, key, p.a.Shape, p.b.Shape)
		}
		target, naming, ok := MapModule(key)
		if !ok {
			a.Unplaced = append(a.Unplaced, Unplaced{key, "no tensor in llama.cpp's Qwen2-VL files corresponds to this module"})
			continue
		}
		if naming != 0 {
			if a.Naming != 0 && a.Naming != naming {
				return fmt.Errorf("%s: module %s uses %s naming but others use %s", path, key, naming, a.Naming)
			}
			a.Naming = naming
		}
		rank, alpha, scale := a.Config.ModuleScale(key)
		if int64(rank) != p.a.Shape[0] {
			return fmt.Errorf("%s: module %s: lora_A has rank %d but %s gives r = %d for it", path, key, p.a.Shape[0], ConfigFile, rank)
		}
		if len(target.Names) > 1 && p.b.Shape[0]%int64(len(target.Names)) != 0 {
			return fmt.Errorf("%s: module %s: fused qkv lora_B has %d rows, not divisible by 3", path, key, p.b.Shape[0])
		}
		a.Modules = append(a.Modules, Module{Target: target, Rank: rank, Alpha: alpha, Scale: scale, A: *p.a, B: *p.b})
	}
	if len(a.Modules) == 0 {
		first := "none"
		if len(a.Unplaced) > 0 {
			first = a.Unplaced[0].Name
		}
		return fmt.Errorf("%s: no tensor names a Qwen2-VL module (first: %s; base_model_name_or_path %q): %w", path, first, a.Config.BaseModel, ErrArchitecture)
	}
	slices.SortFunc(a.Modules, func(x, y Module) int { return strings.Compare(x.Target.Names[0], y.Target.Names[0]) })
	return nil
}

// Read returns a module's A and B as float64 in PyTorch row-major order
// (see [Module]).
func (a *Adapter) Read(m Module) (A, B []float64, err error) {
	if A, err = a.file.Float64s(m.A); err != nil {
		return nil, nil, err
	}
	if B, err = a.file.Float64s(m.B); err != nil {
		return nil, nil, err
	}
	return A, B, nil
}
