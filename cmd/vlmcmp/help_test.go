package main

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestEveryHelpFile builds the command tree (help panics on a missing
// file), checks that every help file is some command's and that every
// command's help shows it.
func TestEveryHelpFile(t *testing.T) {
	used := map[string]bool{}
	var walk func(path string, cmds []*cli.Command)
	walk = func(path string, cmds []*cli.Command) {
		for _, c := range cmds {
			name := strings.TrimPrefix(path+"-"+c.Name, "-")
			if c.Description != "" {
				if b, err := helpFiles.ReadFile("help/" + name + ".txt"); err == nil && strings.TrimSuffix(string(b), "\n") == c.Description {
					used[name] = true
				}
			}
			walk(name, c.Subcommands)
		}
	}
	walk("", commands(&streams{}))
	files, _ := fs.Glob(helpFiles, "help/*.txt")
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "help/"), ".txt")
		if !used[name] {
			t.Errorf("%s is no command's help", f)
		}
	}
	var out bytes.Buffer
	if code := run(t.Context(), []string{"vlmcmp", "finetune", "start", "--help"}, strings.NewReader(""), &out, &out); code != 0 ||
		!strings.Contains(out.String(), "start uploads the training (and validation) file") {
		t.Errorf("finetune start --help: exit %d\n%s", code, out.String())
	}
}
