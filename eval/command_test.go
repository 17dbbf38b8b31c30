package eval

import (
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/backend"
)

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "''",
		"plain-path/x.yaml": "plain-path/x.yaml",
		"out dir":           "'out dir'",
		"it's":              `'it'\''s'`,
		"a$b":               "'a$b'",
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestFinishAndMergeCommand(t *testing.T) {
	c := &Comparison{OutputDir: "out dir", RunDir: "out dir/r", Info: &RunInfo{ID: "r"}, Shard: Shard{Index: 2, Count: 3},
		opts: CompareOptions{OpenAI: backend.OpenAIOverrides{BaseURL: "http://x:1/v1"}}}
	got := c.FinishCommand("--config", "conf/m.yaml", "--gpt4-model", "")
	want := "vlmcmp compare --config conf/m.yaml --base-url http://x:1/v1 --output-dir 'out dir' --run-id r --shard 2/3"
	if got != want {
		t.Errorf("FinishCommand:\n got %s\nwant %s", got, want)
	}
	if got, want := c.MergeCommand(), "vlmcmp analyze --run 'out dir/r'"; got != want {
		t.Errorf("MergeCommand: %s, want %s", got, want)
	}
}
