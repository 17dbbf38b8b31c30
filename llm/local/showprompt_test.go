package local

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/usage"
)

// TestRenderPromptChecksFirst: in either build, a config mistake is
// a usage error and a missing file is named before llama.cpp is asked.
func TestRenderPromptChecksFirst(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.gguf")
	for _, tc := range []struct {
		cfg       Config
		want      string
		errConfig bool
	}{
		{Config{ModelFile: "m.gguf", MmprojFile: "p.gguf", Threads: -1}, "threads is -1", true},
		{Config{ModelFile: "m.gguf"}, "no projector", true},
		{Config{ModelFile: missing, MmprojFile: missing}, missing, false},
	} {
		_, err := RenderPrompt(t.Context(), tc.cfg, &llm.Request{Prompt: "Rate."})
		if err == nil || !strings.Contains(err.Error(), tc.want) || isUsage(err) != tc.errConfig {
			t.Errorf("%+v: %v, want an error saying %q (usage error %v)", tc.cfg, err, tc.want, tc.errConfig)
		}
	}
}

func isUsage(err error) bool {
	_, ok := usage.Is(err)
	return ok
}
