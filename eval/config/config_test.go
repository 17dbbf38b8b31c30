package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/usage"
)

func TestParse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vlmcmp.yaml")
	cfg, err := Parse(path, []byte(`
data: gt.json
prompt: Rate it.
models:
  - name: gpt4
    backend: openai
    model: gpt-4o
    detail: low
  - name: ft
    backend: openai
    model: {from: ft.json}
  - name: qwen
    backend: local
    model_file: m.gguf
    mmproj: /abs/mm.gguf
    lora: [a.gguf, "b.gguf:0.5", {path: c.gguf, scale: 2}]
    gpu_layers: 0
    prompt: Own prompt.
  - name: mean
    backend: baseline
`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Names(), "gpt4,ft,qwen,mean"; strings.Join(got, ",") != want {
		t.Errorf("names = %v, want %s", got, want)
	}
	if cfg.DataPath() != filepath.Join(dir, "gt.json") {
		t.Errorf("data = %q, want it relative to the file", cfg.DataPath())
	}
	ft, _ := cfg.Lookup("ft")
	if ft.Spec.(*backend.OpenAISpec).Model.From != filepath.Join(dir, "ft.json") || ft.Line != 9 {
		t.Errorf("ft = %+v", ft)
	}
	qm, _ := cfg.Lookup("qwen")
	q := qm.Spec.(*backend.LocalSpec)
	if q.Mmproj != "/abs/mm.gguf" || q.ModelFile != filepath.Join(dir, "m.gguf") {
		t.Errorf("qwen paths = %q %q", q.ModelFile, q.Mmproj)
	}
	if len(q.LoRA) != 3 || q.LoRA[0].ScaleOr1() != 1 || q.LoRA[1].ScaleOr1() != 0.5 ||
		q.LoRA[1].Path != filepath.Join(dir, "b.gguf") || q.LoRA[2].ScaleOr1() != 2 {
		t.Errorf("lora = %+v", q.LoRA)
	}
	if q.GPULayers == nil || *q.GPULayers != 0 {
		t.Errorf("gpu_layers = %v, want 0", q.GPULayers)
	}
	if p, _ := cfg.PromptFor(qm); p != "Own prompt." {
		t.Errorf("qwen prompt = %q", p)
	}
	g, _ := cfg.Lookup("gpt4")
	if p, _ := cfg.PromptFor(g); p != "Rate it." {
		t.Errorf("gpt4 prompt = %q", p)
	}
	m, _ := cfg.Lookup("mean")
	if st := m.Spec.(*backend.BaselineSpec).Stat; st != "mean" {
		t.Errorf("baseline statistic = %q, want mean from the name", st)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top key", "modles: []\n", `c.yaml:1: unknown key "modles"`},
		{"unknown model key", "models:\n  - name: a\n    backend: baseline\n    modle: mean\n", `c.yaml:4: unknown key "modle" for backend baseline`},
		{"unknown from key", "models:\n  - name: a\n    backend: openai\n    model: {form: x}\n", `c.yaml:4: unknown key "form" in model`},
		{"bad backend", "models:\n  - name: a\n    backend: vllm\n", `c.yaml:2: model "a": backend "vllm" is not one of ` + strings.Join(backend.Names(), ", ")},
		{"no backend", "models:\n  - name: a\n", `c.yaml:2: model "a" has no backend`},
		{"duplicate", "models:\n  - {name: a, backend: baseline, model: mean}\n  - {name: a, backend: baseline, model: median}\n", `c.yaml:3: model name "a" is used twice`},
		{"bad baseline", "models:\n  - {name: a, backend: baseline}\n", `baseline model "a" is not mean or median`},
		{"local without files", "models:\n  - {name: q, backend: local}\n", `local models need model_file and mmproj`},
		{"openai without model", "models:\n  - {name: g, backend: openai}\n", `openai models need model`},
		{"bad detail", "models:\n  - {name: g, backend: openai, model: x, detail: max}\n", `detail "max" is not one of low, high, auto`},
		{"empty", "", `c.yaml: empty config`},
		{"no models", "data: x.json\n", `c.yaml: no models`},
		{"syntax", "models: [\n", `c.yaml:`},
		{"name with slash", "models:\n  - {name: a/b, backend: baseline, model: mean}\n", `model name "a/b"`},
		{"wrong type", "models:\n  - {name: a, backend: baseline, max_tokens: many}\n", `c.yaml:2: cannot unmarshal`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %v, want it to contain %q", tt.yaml, err, tt.want)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(p)
	if err == nil || err.Error() != "config "+p+": file not found" {
		t.Errorf("Load(missing) = %v", err)
	}
	if _, err := Find(p); err == nil {
		t.Error("Find with a missing explicit path must fail")
	}
}

func TestDefaults(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := Find("")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	for _, n := range []string{"gpt4", "gpt4o-mini-ft", "qwen2vl-ft", "mean", "median"} {
		if _, err := cfg.Lookup(n); err != nil {
			t.Error(err)
		}
	}
	if err := cfg.SetGPT4Model("gpt-4-turbo"); err != nil {
		t.Fatal(err)
	}
	g, _ := cfg.Lookup("gpt4")
	if n := g.Spec.(*backend.OpenAISpec).Model.Name; n != "gpt-4-turbo" {
		t.Errorf("gpt4 model = %q after SetGPT4Model", n)
	}
	_, err = cfg.Select([]string{"gpt4", "gpt5"})
	if !errors.Is(err, ErrUnknownModel) || !strings.Contains(err.Error(), `"gpt5"`) || !strings.Contains(err.Error(), "qwen2vl-ft") {
		t.Errorf("Select(unknown) = %v", err)
	}
	// A vlmcmp.yaml in the working directory wins over the defaults.
	if err := os.WriteFile(DefaultFile, []byte("models:\n  - {name: m, backend: baseline, model: median}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err = Find("")
	if err != nil || strings.Join(cfg.Names(), ",") != "m" {
		t.Errorf("Find with vlmcmp.yaml = %v, %v", cfg, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("models:\n  - {name: a, backend: baseline}\n"))
	f.Add([]byte("models:\n  - name: q\n    backend: local\n    model_file: m\n    mmproj: p\n    lora: [x:0.5]\n"))
	f.Add([]byte("models: [{name: g, backend: openai, model: {from: f.json}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.yaml", data)
		if err == nil && len(cfg.Models) == 0 {
			t.Error("a config without models parsed")
		}
	})
}

// TestReplicas checks a local model's replicas and devices: the count they
// give, and one error naming the file and the model for each mistake.
func TestReplicas(t *testing.T) {
	const local = "models:\n  - name: q\n    backend: local\n    model_file: m.gguf\n    mmproj: p.gguf\n"
	tests := []struct {
		name, yaml string
		count      int    // ReplicaCount when it parses
		err        string // part of the error; "" when it parses
	}{
		{"unset", local, 1, ""},
		{"replicas", local + "    replicas: 3\n", 3, ""},
		{"devices", local + "    devices: [0, 1]\n", 2, ""},
		{"both", local + "    replicas: 2\n    devices: [1, 0]\n", 2, ""},
		{"zero", local + "    replicas: 0\n", 0, `c.yaml:2: model "q": replicas is 0, want 1 or more`},
		{"negative", local + "    replicas: -2\n", 0, "replicas is -2, want 1 or more"},
		{"mismatch", local + "    replicas: 3\n    devices: [0, 1]\n", 0, `c.yaml:2: model "q": replicas is 3 but devices lists 2 GPUs`},
		{"twice", local + "    devices: [1, 1]\n", 0, "device 1 is listed twice"},
		{"negative device", local + "    devices: [-1]\n", 0, "device -1 is negative"},
		{"empty devices", local + "    devices: []\n", 0, "devices is empty"},
		{"not local", "models:\n  - {name: g, backend: openai, model: x, replicas: 2}\n", 0, `c.yaml:2: unknown key "replicas" for backend openai`},
		{"device name", local + "    devices: [CUDA0]\n", 0, "c.yaml:6: cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("c.yaml", []byte(tt.yaml))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Models[0].Spec.(*backend.LocalSpec).ReplicaCount(); got != tt.count {
				t.Errorf("ReplicaCount() = %d, want %d", got, tt.count)
			}
		})
	}
}

func TestModelDescribe(t *testing.T) {
	for _, tc := range []struct{ entry, want string }{
		{"{name: q, backend: local, model_file: m.gguf, mmproj: p.gguf}", "m.gguf"},
		{"{name: q, backend: local, model_file: m.gguf, mmproj: p.gguf, lora: [a, b]}", "m.gguf + 2 lora"},
		{"{name: g, backend: openai, model: gpt-4o}", "gpt-4o"},
		{"{name: g, backend: openai, model: {from: info.json}}", "from info.json"},
		{"{name: mean, backend: baseline}", "mean"},
	} {
		cfg, err := Parse("vlmcmp.yaml", []byte("models:\n  - "+tc.entry+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Models[0].Spec.Describe(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.entry, got, tc.want)
		}
	}
}

// TestUnknownKeysPerBackend: each backend refuses the keys of the others,
// naming the file, the line of the key, and the keys it takes; every
// mistake of a model's entry is a usage error naming its key.
func TestUnknownKeysPerBackend(t *testing.T) {
	for _, tt := range []struct{ entry, want, key string }{
		{"  - name: q\n    backend: local\n    model_file: m\n    mmproj: p\n    detail: low\n", `c.yaml:6: unknown key "detail" for backend local`, "detail"},
		{"  - name: g\n    backend: openai\n    model: x\n    mmproj: p\n", `c.yaml:5: unknown key "mmproj" for backend openai`, "mmproj"},
		{"  - name: mean\n    backend: baseline\n    structured: true\n", `c.yaml:4: unknown key "structured" for backend baseline`, "structured"},
		{"  - {name: g, backend: openai, model: x, detail: max}\n", `c.yaml:2: model "g": detail "max"`, "detail"},
	} {
		_, err := Parse("c.yaml", []byte("models:\n"+tt.entry))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %q", err, tt.want)
			continue
		}
		if key, ok := usage.Is(err); !ok || key != tt.key {
			t.Errorf("%v: usage error %v with key %q, want key %q", err, ok, key, tt.key)
		}
	}
}

// TestAnchorsAndMergeKeys: shared settings through an anchor and a merge
// key reach the backend, the entry's own keys win, and a merged key the
// backend does not take is refused like a written one.
func TestAnchorsAndMergeKeys(t *testing.T) {
	_, err := Parse("c.yaml", []byte(`models:
  - &a {name: a, backend: local, mmproj: p.gguf, model_file: a.gguf, threads: 2, max_tokens: 16}
  - <<: *a
    name: b
    threads: 4
  - <<: *a
    name: c
    detail: low
`))
	if err == nil || !strings.Contains(err.Error(), `unknown key "detail" for backend local`) {
		t.Fatalf("merged entry with a foreign key: %v", err)
	}
	cfg, err := Parse("c.yaml", []byte(`models:
  - &a {name: a, backend: local, mmproj: p.gguf, model_file: a.gguf, threads: 2, max_tokens: 16}
  - <<: *a
    name: b
    threads: 4
`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cfg.Lookup("b")
	if s := b.Spec.(*backend.LocalSpec); s.Threads != 4 || s.Mmproj != "p.gguf" || b.MaxTokens != 16 || b.Backend != "local" {
		t.Errorf("b = %+v, spec %+v", b, s)
	}
}
