package eval

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
)

// TestCheckIdentity: the resume check is a diff of the models' identities
// that names what changed, whatever the backend.
func TestCheckIdentity(t *testing.T) {
	t.Setenv(backend.FileHashCacheEnv, filepath.Join(t.TempDir(), "h.json"))
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, lora := write("a.gguf", "model A"), write("b.gguf", "model B"), write("l.gguf", "adapter")
	copyA := write("copy-of-a.gguf", "model A")
	// Identities here need no GGUF: a local model's is taken apart from
	// its resolved settings with identityOf's fake files.
	local := func(file, scale string) string {
		return fmt.Sprintf("{name: qwen, backend: local, model_file: %s, mmproj: %s, lora: [{path: %s%s}]}", file, b, lora, scale)
	}
	openai := func(name, extra string) string {
		return "{name: gpt4, backend: openai, model: " + name + extra + "}"
	}
	tests := []struct {
		name     string
		old, new string // model entries
		want     string // "" for no error
	}{
		{"same", openai("gpt-4o", ", detail: low"), openai("gpt-4o", ", detail: low"), ""},
		{"model name", openai("gpt-4o", ""), openai("gpt-4-turbo", ""), `model was "gpt-4o", now "gpt-4-turbo"`},
		{"detail", openai("gpt-4o", ", detail: low"), openai("gpt-4o", ", detail: high"), `detail was "low", now "high"`},
		{"default detail made explicit", openai("gpt-4o", ""), openai("gpt-4o", ", detail: low"), ""},
		{"prompt", openai("gpt-4o", ", prompt: rate it"), openai("gpt-4o", ", prompt: score it"), `prompt was "rate it", now "score it"`},
		{"max tokens", openai("gpt-4o", ", max_tokens: 64"), openai("gpt-4o", ", max_tokens: 8"), `max_tokens was "64", now "8"`},
		{"base url", openai("gpt-4o", ", base_url: 'http://u:secret@a/v1'"), openai("gpt-4o", ", base_url: 'http://b/v1'"), `base_url was "http://u:xxxxx@a/v1", now "http://b/v1"`},
		{"gguf content", local(a, ""), local(b, ""), "model_file.sha256 was sha256 "},
		{"gguf moved, same content", local(a, ""), local(copyA, ""), ""},
		{"lora scale", local(a, ""), local(a, ", scale: 0.5"), `lora.1.scale was "1", now "0.5"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, now := identityOf(t, tt.old), identityOf(t, tt.new)
			err := CheckIdentity("m", old, now)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want a refusal saying %q", tt.want)
			}
			msg := err.Error()
			for _, w := range []string{tt.want, "another --run-id", "new name"} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "secret") {
				t.Errorf("error %q shows a URL's password", msg)
			}
		})
	}
}

// identityOf is the identity of the one model of a config entry. A local
// model's files here are not GGUF, so its identity is taken without the
// settings llm/local resolves from them.
func identityOf(t *testing.T, entry string) ModelIdentity {
	t.Helper()
	t.Setenv("OPENAI_API_KEY", "sk-test")
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "vlmcmp.yaml"), []byte("models:\n  - "+entry+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := &cfg.Models[0]
	if ls, ok := m.Spec.(*backend.LocalSpec); ok {
		id, err := ls.FileIdentity()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	id, err := ConfigIdentity(cfg, m, backend.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCheckIdentitiesRecordsNewModels(t *testing.T) {
	info := &RunInfo{ID: "r"} // a run.json from before identities
	gpt := ModelIdentity{"backend": "openai", "model": "gpt-4o"}
	if err := info.CheckIdentities(map[string]ModelIdentity{"gpt4": gpt}); err != nil {
		t.Fatal(err)
	}
	if info.Identities["gpt4"]["model"] != "gpt-4o" {
		t.Fatalf("identity not recorded: %+v", info.Identities)
	}
	dir := t.TempDir()
	if err := WriteRunInfo(dir, info); err != nil {
		t.Fatal(err)
	}
	back, err := ReadRunInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	turbo := ModelIdentity{"backend": "openai", "model": "gpt-4-turbo"}
	err = back.CheckIdentities(map[string]ModelIdentity{"gpt4": turbo, "mean": {"backend": "baseline"}})
	if err == nil || !strings.Contains(err.Error(), "run r: model gpt4") {
		t.Fatalf("changed model after a round trip through run.json: %v", err)
	}
}

// TestLegacyIdentityRefused: a run.json written before identities were
// flat still reads, and a resume against it is refused in one sentence
// rather than compared field by field.
func TestLegacyIdentityRefused(t *testing.T) {
	dir := t.TempDir()
	old := `{"id": "r", "created": "2026-01-01T00:00:00Z", "models": ["q"], "items": [],
  "identities": {"q": {"backend": "local", "model": "", "model_sha256": "aa", "mmproj_sha256": "bb",
    "lora": [{"sha256": "cc", "scale": 1}], "options": {"max_tokens": 64}, "structured": true}}}`
	if err := os.WriteFile(filepath.Join(dir, RunInfoFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := ReadRunInfo(dir)
	if err != nil {
		t.Fatalf("an older run.json does not read: %v", err)
	}
	if got := info.Identities["q"]["lora.1.sha256"]; got != "cc" {
		t.Errorf("legacy identity flattened to %v", info.Identities["q"])
	}
	err = info.CheckIdentities(map[string]ModelIdentity{"q": {"backend": "local", "model_file.sha256": "aa"}})
	if err == nil || !strings.Contains(err.Error(), "recorded by an older vlmcmp") {
		t.Errorf("resume of a legacy run: %v, want a refusal naming the older vlmcmp", err)
	}
}
