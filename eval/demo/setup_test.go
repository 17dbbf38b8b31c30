package demo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/config"
)

func TestPrepare(t *testing.T) {
	for _, key := range []string{"", "sk-test-demo"} {
		t.Run("key "+key, func(t *testing.T) {
			t.Chdir(t.TempDir()) // no ./API_KEY_Enoch
			t.Setenv("OPENAI_API_KEY", key)
			t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
			s, err := Prepare("d", 12, 3)
			if err != nil {
				t.Fatal(err)
			}
			if s.ModelErr != nil {
				t.Fatalf("model: %v", s.ModelErr)
			}
			cfg, err := config.Load(s.Config)
			if err != nil {
				t.Fatalf("the demo's config does not load: %v", err)
			}
			want := "qwen2vl-tiny,mean,median"
			if key != "" {
				want = "qwen2vl-tiny,gpt4o-mini,mean,median"
			}
			if got := strings.Join(cfg.Names(), ","); got != want {
				t.Errorf("models %s, want %s", got, want)
			}
			if (s.KeySource != "") != (key != "") || key != "" && s.BaseURL != "http://127.0.0.1:1/v1" {
				t.Errorf("key source %q, base URL %q", s.KeySource, s.BaseURL)
			}
			for _, f := range []string{s.Data, s.Model, cfg.DataPath()} {
				if _, err := os.Stat(f); err != nil {
					t.Error(err)
				}
			}
			if len(s.Steps) != 2 || s.Steps[0][0] != "prepare" || s.Steps[1][0] != "compare" || s.Results() != filepath.Join("d", "results", "model_comparison") {
				t.Errorf("steps %v, results %s", s.Steps, s.Results())
			}
		})
	}
	if _, err := Prepare(t.TempDir(), 9, 1); err == nil {
		t.Error("9 images accepted")
	}
}
