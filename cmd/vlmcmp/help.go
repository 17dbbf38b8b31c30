package main

import (
	"embed"
	"strings"
)

// helpFiles hold the long help of the commands, one text file a command
// (help/<command>[-<subcommand>].txt), so that the command files keep to
// flags → options → call → print.
//
//go:embed help/*.txt
var helpFiles embed.FS

// help is the long help of a command; a missing file is a programmer
// mistake (TestEveryHelpFile catches it).
func help(name string) string {
	b, err := helpFiles.ReadFile("help/" + name + ".txt")
	if err != nil {
		panic("vlmcmp: no help file for " + name)
	}
	return strings.TrimSuffix(string(b), "\n")
}
