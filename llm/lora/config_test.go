package lora

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModuleScale(t *testing.T) {
	cfg := `{"peft_type":"LORA","r":8,"lora_alpha":16,"use_rslora":%s,
		"rank_pattern":{"model.layers.1.self_attn.q_proj":4,"down_proj":2,"layers\\.\\d+\\.mlp\\.down_proj":32},
		"alpha_pattern":{"visual.blocks.0.attn.qkv":3},
		"target_modules":["q_proj","v_proj","down_proj","qkv"],
		"base_model_name_or_path":"Qwen/Qwen2-VL-2B-Instruct"}`
	tests := []struct {
		rslora    string
		module    string
		wantRank  int
		wantAlpha float64
		wantScale float64
	}{
		{"false", "model.layers.0.self_attn.q_proj", 8, 16, 2},
		{"false", "model.layers.1.self_attn.q_proj", 4, 16, 4},
		{"false", "model.layers.11.self_attn.q_proj", 8, 16, 2},
		// first matching key wins, in file order
		{"false", "model.layers.3.mlp.down_proj", 2, 16, 8},
		{"false", "model.language_model.layers.3.mlp.down_proj", 2, 16, 8},
		{"false", "visual.blocks.0.attn.qkv", 8, 3, 3.0 / 8},
		{"false", "model.visual.blocks.0.attn.qkv", 8, 3, 3.0 / 8},
		{"false", "visual.blocks.10.attn.qkv", 8, 16, 2},
		{"true", "model.layers.0.self_attn.q_proj", 8, 16, 16 / math.Sqrt(8)},
		{"true", "model.layers.1.self_attn.q_proj", 4, 16, 8},
	}
	for _, tt := range tests {
		c, err := ParseConfig([]byte(strings.Replace(cfg, "%s", tt.rslora, 1)))
		if err != nil {
			t.Fatal(err)
		}
		r, a, s := c.ModuleScale(tt.module)
		if r != tt.wantRank || a != tt.wantAlpha || s != tt.wantScale {
			t.Errorf("rslora=%s ModuleScale(%q) = %d, %g, %g; want %d, %g, %g", tt.rslora, tt.module, r, a, s, tt.wantRank, tt.wantAlpha, tt.wantScale)
		}
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"r":4,"target_modules":"model.*proj"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.LoraAlpha != 8 || c.R != 4 || len(c.TargetModules) != 1 {
		t.Errorf("config = %+v, want PEFT's default alpha 8, r 4, one target regex", c)
	}
	bad := []struct{ json, want string }{
		{`{`, "not valid JSON"},
		{`{"lora_alpha":16}`, "r (the LoRA rank) is missing"},
		{`{"r":0}`, "want a positive integer"},
		{`{"r":2.5}`, "want a positive integer"},
		{`{"r":8,"peft_type":"IA3"}`, "only LORA"},
		{`{"r":8,"rank_pattern":[1]}`, "rank_pattern is not an object"},
		{`{"r":8,"rank_pattern":{"q_proj":"x"}}`, "not a number"},
		{`{"r":8,"rank_pattern":{"q_proj":0}}`, "positive integer"},
		{`{"r":8,"target_modules":5}`, "target_modules"},
	}
	for _, tt := range bad {
		_, err := ParseConfig([]byte(tt.json))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseConfig(%s) error = %v, want %q", tt.json, err, tt.want)
		}
	}
}

func TestReadConfigMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadConfig(dir)
	if !errors.Is(err, ErrNoConfig) || !strings.Contains(err.Error(), dir) {
		t.Errorf("error = %v, want ErrNoConfig naming %s", err, dir)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"r":"8"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadConfig(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, ConfigFile)) {
		t.Errorf("error = %v, want it to name the file", err)
	}
}

func TestMapModule(t *testing.T) {
	tests := []struct {
		module string
		naming Naming
		names  []string
		vision bool
	}{
		{"model.layers.0.self_attn.q_proj", NamingLegacy, []string{"blk.0.attn_q.weight"}, false},
		{"model.language_model.layers.0.self_attn.q_proj", NamingNested, []string{"blk.0.attn_q.weight"}, false},
		{"model.layers.12.self_attn.k_proj", NamingLegacy, []string{"blk.12.attn_k.weight"}, false},
		{"model.layers.1.self_attn.v_proj", NamingLegacy, []string{"blk.1.attn_v.weight"}, false},
		{"model.language_model.layers.1.self_attn.o_proj", NamingNested, []string{"blk.1.attn_output.weight"}, false},
		{"model.layers.1.mlp.gate_proj", NamingLegacy, []string{"blk.1.ffn_gate.weight"}, false},
		{"model.layers.1.mlp.up_proj", NamingLegacy, []string{"blk.1.ffn_up.weight"}, false},
		{"model.language_model.layers.27.mlp.down_proj", NamingNested, []string{"blk.27.ffn_down.weight"}, false},
		{"model.embed_tokens", NamingLegacy, []string{"token_embd.weight"}, false},
		{"model.language_model.embed_tokens", NamingNested, []string{"token_embd.weight"}, false},
		{"lm_head", 0, []string{"output.weight"}, false},
		{"visual.blocks.3.attn.qkv", NamingLegacy, []string{"v.blk.3.attn_q.weight", "v.blk.3.attn_k.weight", "v.blk.3.attn_v.weight"}, true},
		{"model.visual.blocks.3.attn.qkv", NamingNested, []string{"v.blk.3.attn_q.weight", "v.blk.3.attn_k.weight", "v.blk.3.attn_v.weight"}, true},
		{"visual.blocks.0.attn.proj", NamingLegacy, []string{"v.blk.0.attn_out.weight"}, true},
		{"visual.blocks.0.mlp.fc1", NamingLegacy, []string{"v.blk.0.ffn_up.weight"}, true},
		{"model.visual.blocks.0.mlp.fc2", NamingNested, []string{"v.blk.0.ffn_down.weight"}, true},
		{"visual.merger.mlp.0", NamingLegacy, []string{"mm.0.weight"}, true},
		{"model.visual.merger.mlp.2", NamingNested, []string{"mm.2.weight"}, true},
		// Qwen2.5-VL's gated vision MLP.
		{"visual.blocks.5.mlp.gate_proj", NamingLegacy, []string{"v.blk.5.ffn_gate.weight"}, true},
		{"model.visual.blocks.5.mlp.up_proj", NamingNested, []string{"v.blk.5.ffn_up.weight"}, true},
		{"model.visual.blocks.5.mlp.down_proj", NamingNested, []string{"v.blk.5.ffn_down.weight"}, true},
		// Qwen3-VL: vision MLP, merger and deepstack mergers (the vision
		// layer of the deepstack tensor is resolved against the projector).
		{"model.visual.blocks.2.mlp.linear_fc1", NamingNested, []string{"v.blk.2.ffn_up.weight"}, true},
		{"visual.blocks.2.mlp.linear_fc2", NamingLegacy, []string{"v.blk.2.ffn_down.weight"}, true},
		{"model.visual.merger.linear_fc1", NamingNested, []string{"mm.0.weight"}, true},
		{"model.visual.merger.linear_fc2", NamingNested, []string{"mm.2.weight"}, true},
		{"model.visual.deepstack_merger_list.1.linear_fc2", NamingNested, []string{deepstackPlaceholder + "fc2.weight"}, true},
	}
	for _, tt := range tests {
		got, naming, ok := MapModule(tt.module)
		if !ok || naming != tt.naming || got.Vision != tt.vision || strings.Join(got.Names, ",") != strings.Join(tt.names, ",") {
			t.Errorf("MapModule(%q) = %+v, %v, %v; want %v, %v, vision %v", tt.module, got, naming, ok, tt.names, tt.naming, tt.vision)
		}
	}
	for _, m := range []string{"visual.patch_embed.proj", "model.layers.0.input_layernorm", "transformer.h.0.attn.c_attn", "model.norm", "visual.merger.ln_q", "model.visual.merger.norm", "model.visual.deepstack_merger_list.0.norm"} {
		if got, _, ok := MapModule(m); ok {
			t.Errorf("MapModule(%q) = %+v, want no place", m, got)
		}
	}
}

func TestResolveDeepstack(t *testing.T) {
	names := []string{"v.blk.0.attn_qkv.weight", "v.deepstack.5.fc1.weight", "v.deepstack.5.fc2.weight", "v.deepstack.17.fc1.weight", "v.deepstack.11.norm.weight"}
	for _, tc := range []struct {
		k    int
		want string
		ok   bool
	}{{0, "v.deepstack.5.fc2.weight", true}, {1, "v.deepstack.11.fc2.weight", true}, {2, "v.deepstack.17.fc2.weight", true}, {3, "", false}} {
		got, ok := resolveDeepstack(deepstackPlaceholder+"fc2.weight", tc.k, names)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("deepstack %d: %q, %v; want %q, %v", tc.k, got, ok, tc.want, tc.ok)
		}
	}
}
