package eval

import (
	"strings"

	"github.com/vlmcmp/vlmcmp/llm"
)

// FinishCommand is the complete vlmcmp command line that finishes this
// comparison (an interrupted run, answers missing, a shard): flags are the
// flag and value pairs that chose the config, which the library does not
// see ("--config", path, "--gpt4-model", model; a pair with an empty value
// is left out), followed by the comparison's OpenAI overrides, output
// folder, run id and shard. Values are quoted for a POSIX shell.
func (c *Comparison) FinishCommand(flags ...string) string {
	args := []string{"vlmcmp", "compare"}
	add := func(flag, v string) {
		if v != "" {
			args = append(args, flag, ShellQuote(v))
		}
	}
	for i := 0; i+1 < len(flags); i += 2 {
		add(flags[i], flags[i+1])
	}
	add("--api-key-file", c.opts.OpenAI.APIKeyFile)
	// A password in the URL is not printed: the user gives it again.
	add("--base-url", llm.RedactURL(c.opts.OpenAI.BaseURL))
	add("--output-dir", c.OutputDir)
	if c.Info != nil {
		add("--run-id", c.Info.ID)
	}
	add("--shard", c.Shard.String())
	return strings.Join(args, " ")
}

// MergeCommand is the vlmcmp command line that merges the shards of the
// comparison's run and writes its outputs, once every shard is done.
func (c *Comparison) MergeCommand() string {
	return "vlmcmp analyze --run " + ShellQuote(c.RunDir)
}

// ShellQuote quotes s for a POSIX shell when it needs it: words of letters,
// digits and -_./:=@%+, stay as they are, anything else (also "") is put in
// single quotes.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
