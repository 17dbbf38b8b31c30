package predict

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/llm/local"
	"github.com/vlmcmp/vlmcmp/native"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
	"github.com/vlmcmp/vlmcmp/usage"
)

func writeImage(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "street.png")
	var b bytes.Buffer
	png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 32, 24)))
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigured(t *testing.T) {
	srv := openaitest.New(t)
	srv.Key = "sk-test-predict"
	t.Setenv("OPENAI_API_KEY", srv.Key)
	env := backend.Env{OpenAI: backend.OpenAIOverrides{BaseURL: srv.URL()}}
	cfg, err := config.Parse("vlmcmp.yaml", []byte(`models:
  - {name: gpt4, backend: openai, model: gpt-4o}
  - {name: mean, backend: baseline}
`))
	if err != nil {
		t.Fatal(err)
	}
	img := writeImage(t)
	pred, err := Configured(t.Context(), cfg, "gpt4", env, Request{Image: img})
	if err != nil {
		t.Fatal(err)
	}
	if pred.Text == "" || pred.Score == nil {
		t.Errorf("prediction %+v: want text and a score", pred)
	}
	// The default prompt went out: the model has none and there is no
	// ground-truth record to take one from.
	found := false
	for _, r := range srv.Requests() {
		found = found || bytes.Contains(r.Body, []byte(strings.Split(llm.DefaultPrompt, "\n")[0][:20]))
	}
	if !found {
		t.Error("no request carried the default prompt")
	}
	tests := []struct {
		name, model string
		req         Request
		option      bool
		want        string
	}{
		{"unknown model", "gpt9", Request{Image: img}, true, `"gpt9"`},
		{"grammar for openai", "gpt4", Request{Image: img, GrammarFile: "g.gbnf"}, true, "local models only"},
		{"baseline", "mean", Request{Image: img}, false, "is a baseline"},
		{"missing image", "gpt4", Request{Image: filepath.Join(t.TempDir(), "nope.png")}, false, "nope.png"},
		{"grammar and schema", "gpt4", Request{Image: img, SchemaFile: "s", GrammarFile: "g"}, true, "local models only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Configured(t.Context(), cfg, tt.model, env, tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) || isUsage(err) != tt.option {
				t.Errorf("error %v: want %q, option error %v", err, tt.want, tt.option)
			}
		})
	}
}

func TestLocal(t *testing.T) {
	img := writeImage(t)
	// Options and the image are checked before any model file is opened.
	if _, err := Local(t.Context(), local.Config{ModelFile: "none.gguf", MmprojFile: "none.gguf"}, Request{Image: img, Prompt: "p", GrammarFile: "g", SchemaFile: "s"}); !isUsage(err) {
		t.Errorf("grammar and schema: %v", err)
	}
	if _, err := Local(t.Context(), local.Config{ModelFile: "none.gguf", MmprojFile: "none.gguf"}, Request{Image: "nope.png", Prompt: "p"}); err == nil || !strings.Contains(err.Error(), "nope.png") {
		t.Errorf("missing image: %v", err)
	}
	files, err := synth.Write(t.TempDir(), synth.Options{Shape: synth.Tiny, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := local.Config{ModelFile: files.Model, MmprojFile: files.Mmproj, ContextSize: 512, RawPrompt: true}
	pred, err := Local(t.Context(), cfg, Request{Image: img, Prompt: `<|im_start|>user\n<__media__>How safe?<|im_end|>\n<|im_start|>assistant\n`, MaxTokens: 4})
	if errors.Is(err, native.ErrNotBuilt) {
		t.Skip("built without llama.cpp: the local model is not run")
	}
	if err != nil {
		t.Fatal(err)
	}
	if pred.Usage.CompletionTokens == 0 || pred.Usage.CompletionTokens > 4 {
		t.Errorf("usage %+v: want 1..4 answer tokens", pred.Usage)
	}
}

func isUsage(err error) bool {
	_, ok := usage.Is(err)
	return ok
}
