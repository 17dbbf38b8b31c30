package lora

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/lora/safetensors"
)

func baseCfg() map[string]any {
	return map[string]any{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "base_model_name_or_path": "Qwen/Qwen2-VL-2B-Instruct"}
}

func TestOpenBothNamings(t *testing.T) {
	for _, tt := range []struct {
		naming Naming
		lang   string
		vis    string
	}{
		{NamingLegacy, "model.", "visual."},
		{NamingNested, "model.language_model.", "model.visual."},
	} {
		t.Run(tt.naming.String(), func(t *testing.T) {
			dir := writePEFT(t, baseCfg(), []peftModule{
				{module: tt.lang + "layers.0.self_attn.q_proj", in: 16, out: 16},
				{module: tt.lang + "embed_tokens", in: 300, out: 16},
				{module: tt.vis + "blocks.0.attn.qkv", in: 32, out: 96},
				{module: tt.vis + "patch_embed.proj", in: 8, out: 32},
				{module: "lm_head", in: 16, out: 300},
			}, 1)
			a, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if a.Naming != tt.naming {
				t.Errorf("naming = %v, want %v", a.Naming, tt.naming)
			}
			var names []string
			for _, m := range a.Modules {
				names = append(names, m.Target.Names[0])
			}
			want := "blk.0.attn_q.weight output.weight token_embd.weight v.blk.0.attn_q.weight"
			if got := strings.Join(names, " "); got != want {
				t.Errorf("modules = %s, want %s", got, want)
			}
			if len(a.Unplaced) != 1 || a.Unplaced[0].Name != tt.vis+"patch_embed.proj" {
				t.Errorf("unplaced = %+v, want the patch embedding listed", a.Unplaced)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	qproj := []peftModule{{module: "model.layers.0.self_attn.q_proj", in: 16, out: 16}}
	tests := []struct {
		name  string
		setup func(t *testing.T) string
		want  string
		is    error
	}{
		{"missing config", func(t *testing.T) string {
			dir := writePEFT(t, baseCfg(), qproj, 1)
			os.Remove(filepath.Join(dir, ConfigFile))
			return dir
		}, "no adapter_config.json", ErrNoConfig},
		{"missing weights", func(t *testing.T) string {
			dir := writePEFT(t, baseCfg(), qproj, 1)
			os.Remove(filepath.Join(dir, WeightsFile))
			return dir
		}, "no adapter_model.safetensors", nil},
		{"pickle only", func(t *testing.T) string {
			dir := writePEFT(t, baseCfg(), qproj, 1)
			os.Rename(filepath.Join(dir, WeightsFile), filepath.Join(dir, "adapter_model.bin"))
			return dir
		}, "safe_serialization=True", nil},
		{"bad header", func(t *testing.T) string {
			dir := writePEFT(t, baseCfg(), qproj, 1)
			p := filepath.Join(dir, WeightsFile)
			b, _ := os.ReadFile(p)
			binary.LittleEndian.PutUint64(b, uint64(len(b)))
			os.WriteFile(p, b, 0o644)
			return dir
		}, "header length", nil},
		{"rank mismatch", func(t *testing.T) string {
			dir := writePEFT(t, baseCfg(), nil, 1)
			writeTensors(t, dir, []safetensors.Data{
				{Name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", DType: "F32", Shape: []int64{4, 2}, Values: make([]float64, 8)},
				{Name: "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", DType: "F32", Shape: []int64{2, 3}, Values: make([]float64, 6)},
			})
			return dir
		}, "module model.layers.0.self_attn.q_proj: rank mismatch", nil},
		{"rank against config", func(t *testing.T) string {
			cfg := baseCfg()
			cfg["r"] = 8
			return writePEFT(t, cfg, []peftModule{{module: "model.layers.0.self_attn.q_proj", in: 16, out: 16, rank: 4}}, 1)
		}, "lora_A has rank 4 but adapter_config.json gives r = 8", nil},
		{"A without B", func(t *testing.T) string {
			dir := writePEFT(t, baseCfg(), nil, 1)
			writeTensors(t, dir, []safetensors.Data{
				{Name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", DType: "F32", Shape: []int64{4, 2}, Values: make([]float64, 8)},
			})
			return dir
		}, "has lora_A but no lora_B", nil},
		{"another architecture by names", func(t *testing.T) string {
			return writePEFT(t, map[string]any{"r": 4, "lora_alpha": 8, "base_model_name_or_path": "/data/ckpt"},
				[]peftModule{{module: "transformer.h.0.attn.c_attn", in: 16, out: 48}}, 1)
		}, "no tensor names a Qwen2-VL module (first: transformer.h.0.attn.c_attn", ErrArchitecture},
		{"another architecture by config", func(t *testing.T) string {
			cfg := baseCfg()
			cfg["base_model_name_or_path"] = "meta-llama/Llama-3.2-11B-Vision-Instruct"
			return writePEFT(t, cfg, qproj, 1)
		}, `base_model_name_or_path is "meta-llama/Llama-3.2-11B-Vision-Instruct"`, ErrArchitecture},
		{"dora", func(t *testing.T) string {
			cfg := baseCfg()
			cfg["use_dora"] = true
			return writePEFT(t, cfg, qproj, 1)
		}, "DoRA", nil},
		{"mixed naming", func(t *testing.T) string {
			return writePEFT(t, baseCfg(), []peftModule{
				{module: "model.layers.0.self_attn.q_proj", in: 16, out: 16},
				{module: "model.language_model.layers.1.self_attn.q_proj", in: 16, out: 16},
			}, 1)
		}, "naming but others use", nil},
		{"qkv not in thirds", func(t *testing.T) string {
			return writePEFT(t, baseCfg(), []peftModule{{module: "visual.blocks.0.attn.qkv", in: 16, out: 47}}, 1)
		}, "not divisible by 3", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t)
			a, err := Open(dir)
			if err == nil {
				a.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q, want it to name %s and contain %q", err, dir, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

// writeTensors replaces dir's weights file with tensors.
func writeTensors(t *testing.T, dir string, ts []safetensors.Data) {
	t.Helper()
	if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), ts, nil); err != nil {
		t.Fatal(err)
	}
}
