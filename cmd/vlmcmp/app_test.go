package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBadFlagIsUsageError checks that a bad flag on any command reads as one
// line with the usage hint and exits 2, instead of urfave/cli's whole help.
func TestBadFlagIsUsageError(t *testing.T) {
	tests := [][]string{
		{"--bogus"},
		{"compare", "--bogus"},
		{"predict", "--bogus"},
		{"finetune", "start", "--bogus"},
		{"lora", "merge", "--bogus"},
		{"demo", "--bogus"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(t.Context(), append([]string{"vlmcmp"}, args...), strings.NewReader(""), &out, &errb)
			if code != 2 {
				t.Errorf("exit code = %d, want 2; stderr:\n%s", code, errb.String())
			}
			stderr := errb.String()
			if !strings.Contains(stderr, "flag provided but not defined: -bogus") || !strings.Contains(stderr, "--help' for usage") {
				t.Errorf("stderr does not name the flag and the usage hint:\n%s", stderr)
			}
			if lines := strings.Count(stderr, "\n"); lines > 2 {
				t.Errorf("stderr has %d lines, want the error and the hint only:\n%s", lines, stderr)
			}
			if out.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", out.String())
			}
		})
	}
}

// TestArgumentIsUsageError: a command that takes no arguments names itself
// (with its parent, for a subcommand) in the usage error, exit 2.
func TestArgumentIsUsageError(t *testing.T) {
	for _, args := range [][]string{{"compare", "x"}, {"models", "x"}, {"lora", "merge", "x"}, {"predict", "x"}, {"pipeline", "x"}} {
		var out, errb bytes.Buffer
		code := run(t.Context(), append([]string{"vlmcmp"}, args...), strings.NewReader(""), &out, &errb)
		want := "vlmcmp: " + strings.Join(args[:len(args)-1], " ") + ` takes no arguments, got "x"`
		if code != 2 || !strings.HasPrefix(errb.String(), want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", args, code, errb.String(), want)
		}
	}
}
