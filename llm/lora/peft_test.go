package lora

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/lora/safetensors"
)

// peftModule is one module of a synthetic PEFT adapter: its Hugging Face
// module name and the base weight's widths (for embeddings: vocab, dim).
type peftModule struct {
	module  string
	in, out int
	rank    int // 0: the config's r
	dtype   safetensors.DType
}

// writePEFT writes a PEFT adapter folder (adapter_config.json and
// adapter_model.safetensors) with random A and B for mods, and returns the
// folder. cfg is the config as JSON-able map.
func writePEFT(t testing.TB, cfg map[string]any, mods []peftModule, seed uint64) string {
	t.Helper()
	dir := t.TempDir()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 99))
	var ts []safetensors.Data
	for _, m := range mods {
		rank := m.rank
		if rank == 0 {
			rank = int(cfg["r"].(int))
		}
		dt := m.dtype
		if dt == "" {
			dt = safetensors.F32
		}
		rnd := func(n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = r.NormFloat64() * 0.2
			}
			return v
		}
		an, bn := "lora_A.weight", "lora_B.weight"
		if _, _, ok := MapModule(m.module); ok && (m.module == "model.embed_tokens" || m.module == "model.language_model.embed_tokens") {
			an, bn = "lora_embedding_A", "lora_embedding_B"
		}
		pre := "base_model.model." + m.module + "."
		ts = append(ts,
			safetensors.Data{Name: pre + an, DType: dt, Shape: []int64{int64(rank), int64(m.in)}, Values: rnd(rank * m.in)},
			safetensors.Data{Name: pre + bn, DType: dt, Shape: []int64{int64(m.out), int64(rank)}, Values: rnd(m.out * rank)},
		)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return dir
}
