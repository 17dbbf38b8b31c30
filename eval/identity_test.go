package eval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm"
)

func TestCheckIdentity(t *testing.T) {
	t.Setenv(FileHashCacheEnv, filepath.Join(t.TempDir(), "h.json"))
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
	half := 0.5
	local := func(file string, scale *float64) *config.Model {
		return &config.Model{Name: "qwen", Backend: "local", ModelFile: file, Mmproj: b, LoRA: []config.LoRA{{Path: lora, Scale: scale}}}
	}
	openai := func(name, detail string) *config.Model {
		return &config.Model{Name: "gpt4", Backend: "openai", Model: config.ModelRef{Name: name}, Detail: detail}
	}
	opts := llm.Options{MaxTokens: 64}
	tests := []struct {
		name       string
		old, new   *config.Model
		oldP, newP string
		oldO, newO llm.Options
		want       string // "" for no error
	}{
		{"same", openai("gpt-4o", "low"), openai("gpt-4o", "low"), "p", "p", opts, opts, ""},
		{"model name", openai("gpt-4o", "low"), openai("gpt-4-turbo", "low"), "p", "p", opts, opts, `model was "gpt-4o", now "gpt-4-turbo"`},
		{"detail", openai("gpt-4o", "low"), openai("gpt-4o", "high"), "p", "p", opts, opts, `detail was "low", now "high"`},
		{"prompt", openai("gpt-4o", ""), openai("gpt-4o", ""), "rate it", "score it", opts, opts, `prompt was "rate it", now "score it"`},
		{"max tokens", openai("gpt-4o", ""), openai("gpt-4o", ""), "p", "p", opts, llm.Options{MaxTokens: 8}, "max_tokens was 64, now 8"},
		{"gguf content", local(a, nil), local(b, nil), "", "", opts, opts, "model_file was sha256 "},
		{"gguf moved, same content", local(a, nil), local(copyA, nil), "", "", opts, opts, ""},
		{"lora scale", local(a, nil), local(a, &half), "", "", opts, opts, "LoRA 1 scale was 1, now 0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, err := ConfigIdentity(tt.old, tt.oldP, "", tt.oldO)
			if err != nil {
				t.Fatal(err)
			}
			now, err := ConfigIdentity(tt.new, tt.newP, "", tt.newO)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckIdentity(tt.new.Name, old, now)
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
		})
	}
}

func TestCheckIdentitiesRecordsNewModels(t *testing.T) {
	info := &RunInfo{ID: "r"} // a run.json from before identities
	gpt := ModelIdentity{Backend: "openai", Model: "gpt-4o"}
	if err := info.CheckIdentities(map[string]ModelIdentity{"gpt4": gpt}); err != nil {
		t.Fatal(err)
	}
	if info.Identities["gpt4"].Model != "gpt-4o" {
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
	turbo := ModelIdentity{Backend: "openai", Model: "gpt-4-turbo"}
	err = back.CheckIdentities(map[string]ModelIdentity{"gpt4": turbo, "mean": {Backend: "baseline"}})
	if err == nil || !strings.Contains(err.Error(), "run r: model gpt4") {
		t.Fatalf("changed model after a round trip through run.json: %v", err)
	}
}

func TestFileSHA256Cached(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "h.json")
	t.Setenv(FileHashCacheEnv, cache)
	p := filepath.Join(t.TempDir(), "m.gguf")
	os.WriteFile(p, []byte("abc"), 0o644)
	h1, err := FileSHA256(p)
	if err != nil {
		t.Fatal(err)
	}
	if h1 != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("sha256(abc) = %s", h1)
	}
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("no cache written: %v", err)
	}
	// The cache answers while size and mtime match ...
	mt := time.Now().Add(-time.Hour)
	os.Chtimes(p, mt, mt)
	FileSHA256(p)
	os.WriteFile(p, []byte("xyz"), 0o644) // same size
	os.Chtimes(p, mt, mt)
	if h, _ := FileSHA256(p); h != h1 {
		t.Fatalf("cached digest not used: %s", h)
	}
	// ... and a changed mtime makes it hash again.
	os.Chtimes(p, time.Now(), time.Now())
	if h, _ := FileSHA256(p); h == h1 {
		t.Fatal("rewritten file kept its old digest")
	}
}
