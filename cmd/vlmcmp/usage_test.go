package main

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestUsageErrorsExitTwo: a usage error of any layer exits 2: a flag of the
// command line (with the usage hint), a key of the config file (naming the
// file and line, without the hint: the file is at fault), and an option the
// library refuses (eval's --baseline).
func TestUsageErrorsExitTwo(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("bad.yaml", []byte("models:\n  - name: g\n    backend: openai\n    model: gpt-4o\n    mmproj: x.gguf\n"), 0o644)
	os.WriteFile("both.yaml", []byte("models:\n  - {name: g, backend: openai, model: gpt-4o, base_url: 'http://a/v1', base_urls: ['http://b/v1']}\n"), 0o644)
	for _, tc := range []struct {
		args     []string
		want     string
		withHint bool
	}{
		{[]string{"predict", "--model", "g", "--model-file", "m.gguf", "--image", "i.png"}, "give --model NAME or --model-file/--mmproj/--lora, not both", true},
		{[]string{"models", "--config", "bad.yaml"}, `bad.yaml:5: unknown key "mmproj" for backend openai`, false},
		{[]string{"models", "--config", "both.yaml"}, `both.yaml:2: model "g": give base_url or base_urls, not both`, false},
		{[]string{"compare", "--shard", "0/3"}, "--shard 0/3: K must be from 1 to N", true},
	} {
		code, _, stderr := vlmcmp(t, context.Background(), tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "--help' for usage") != tc.withHint {
			t.Errorf("%v: exit %d, stderr %q; want 2, %q, usage hint %v", tc.args, code, stderr, tc.want, tc.withHint)
		}
	}
}
