package backend_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/native"
)

// TestLocalReplicas: a local model's identity does not depend on its
// replica count (answers do not, so a run resumes with another), and a GPU
// that is not there is refused in one sentence naming the config entry.
func TestLocalReplicas(t *testing.T) {
	if err := native.Built(); err != nil {
		t.Skip(err)
	}
	files, err := synth.Write(t.TempDir(), synth.Options{Shape: synth.Tiny, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("models:\n  - name: q\n    backend: local\n    model_file: %s\n    mmproj: %s\n    threads: 1\n    parallel: 1\n", files.Model, files.Mmproj)
	build := func(extra string) (*backend.Built, error) {
		t.Helper()
		cfg, err := config.Parse("/cfg/vlmcmp.yaml", []byte(yaml+extra))
		if err != nil {
			t.Fatal(err)
		}
		m := &cfg.Models[0]
		id, err := backend.ModelIdentity(m.Spec, "", "", backend.Env{})
		if err != nil {
			t.Fatal(err)
		}
		return backend.Build(t.Context(), m.Name, m.Spec, id, backend.Env{})
	}
	var ids []backend.Identity
	for _, extra := range []string{"", "    replicas: 2\n"} {
		b, err := build(extra)
		if err != nil {
			t.Fatalf("build with %q: %v", extra, err)
		}
		ids = append(ids, b.Identity)
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	}
	if d := backend.Diff(ids[0], ids[1]); len(d) > 0 {
		t.Errorf("identity with one replica %q, with two %q: want the same", ids[0], ids[1])
	}
	_, err = build("    devices: [0, 99]\n")
	if err == nil || !strings.Contains(err.Error(), `/cfg/vlmcmp.yaml:2: model "q": device`) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("build on GPU 99: %v, want an error naming the config entry and the device", err)
	}
}
