package main

import (
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// defaultWord finds the word "default" however a flag's help line puts it:
// "(default: 4)", "default from the config", "by default".
var defaultWord = regexp.MustCompile(`(?i)\bdefault\b`)

// TestFlagDefaultsOnce walks every command's flags (and the app's) and fails
// on a help line that states a default twice: urfave/cli appends
// "(default: x)" itself whenever a flag's DefaultText or Value is non-empty,
// so a Usage that already names the default must carry it in DefaultText
// instead.
func TestFlagDefaultsOnce(t *testing.T) {
	app := newApp(&streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	n := 0
	check := func(path string, flags []cli.Flag) {
		for _, f := range flags {
			line := f.String() // the line --help prints
			n++
			if c := len(defaultWord.FindAllString(line, -1)); c > 1 {
				t.Errorf("%s --%s states its default %d times:\n\t%s", path, f.Names()[0], c, line)
			}
		}
	}
	var walk func(path string, cmds []*cli.Command)
	walk = func(path string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := path + " " + c.Name
			check(p, c.Flags)
			walk(p, c.Subcommands)
		}
	}
	check("vlmcmp", app.Flags)
	walk("vlmcmp", app.Commands)
	if n < 20 {
		t.Fatalf("walked only %d flags: the walk misses commands", n)
	}
}
