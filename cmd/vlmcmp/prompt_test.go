package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// runPromptCLI runs `vlmcmp prompt` with args.
func runPromptCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), append([]string{"vlmcmp", "prompt"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestPromptUsage: a bad command line is a usage error, and a model file
// that is not there is named before llama.cpp is asked (in either build).
func TestPromptUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.gguf")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--model-file", "m.gguf", "--mmproj", "p.gguf"}, 2, `--prompt is required`},
		{[]string{"--model-file", "m.gguf", "--prompt", "Rate."}, 2, `--mmproj is required`},
		{[]string{"--model-file", "m.gguf", "--mmproj", "p.gguf", "--prompt", "Rate.", "extra"}, 2, `takes no arguments`},
		{[]string{"--model-file", missing, "--mmproj", missing, "--prompt", "Rate."}, 1, missing},
	} {
		code, _, stderr := runPromptCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("prompt %q: exit %d, want %d with %s\n%s", tc.args, code, tc.code, tc.want, stderr)
		}
	}
}
