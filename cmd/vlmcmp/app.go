package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/vlmcmp/vlmcmp/usage"
)

// streams are the process's standard streams, injected so that tests run
// commands in-process.
type streams struct {
	In  io.Reader
	Out io.Writer // data: answers, tables, JSON
	Err io.Writer // progress, status, logs
	// Log is the commands' logger, on Err at --log-level; commands pass it
	// down to the packages they call (nothing sets slog's default).
	Log *slog.Logger
	// processLog, when set, is told the logger once --log-level is read:
	// main routes llama.cpp's own log (process-wide) through it. Tests
	// leave it nil, so that nothing leaks between in-process runs.
	processLog func(*slog.Logger)
}

// run runs vlmcmp with args (args[0] is the program name) and returns the exit
// code: 0 on success, 1 on failure, 2 on a usage error (a bad command line or
// config key: any layer's usage.Error), 130 when interrupted.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runStreams(ctx, args, &streams{In: stdin, Out: stdout, Err: stderr})
}

// runStreams is run with the streams (and process hooks) given.
func runStreams(ctx context.Context, args []string, s *streams) int {
	stderr := s.Err
	s.Log = newLogger(stderr, slog.LevelWarn)
	app := newApp(s)
	err := app.RunContext(ctx, args)
	if err == nil {
		return 0
	}
	key, isUsage := usage.Is(err)
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		fmt.Fprintln(stderr, "vlmcmp: interrupted")
		return 130
	case isUsage:
		// A mistake in what was asked, on the command line or in a config
		// file's key: exit 2, with the usage hint unless a file is at fault.
		fmt.Fprintf(stderr, "vlmcmp: %v\n", err)
		if key == "" || strings.HasPrefix(key, "-") {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", strings.Join(commandPath(args), " "))
		}
		return 2
	default:
		fmt.Fprintf(stderr, "vlmcmp: %v\n", err)
		if hint := hintFor(err); hint != "" {
			fmt.Fprintln(stderr, hint)
		}
		return 1
	}
}

// commandPath is the program name and the subcommand words of args, for the
// usage hint.
func commandPath(args []string) []string {
	path := []string{"vlmcmp"}
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") {
			break
		}
		path = append(path, a)
	}
	return path
}

func newApp(s *streams) *cli.App {
	app := &cli.App{
		Name:  "vlmcmp",
		Usage: "compare vision-language models that score images",
		Description: "vlmcmp prepares fine-tuning data, runs fine-tuning jobs (OpenAI, Azure OpenAI),\n" +
			"predicts with OpenAI, Azure OpenAI and Claude models and a local Qwen2-VL\n" +
			"(llama.cpp, in-process), and compares them on the same held-out images, all at\n" +
			"once, with metrics, sheets, plots and reports.",
		Reader:    s.In,
		Writer:    s.Out,
		ErrWriter: s.Err,
		// Errors are printed by run, once; urfave/cli must not exit the process.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usage.Wrap("", err)
		},
		Flags: []cli.Flag{
			&cli.StringFlag{
				Name:  "log-level",
				Value: "warn",
				Usage: "log `LEVEL`: debug, info, warn or error (debug shows llama.cpp's own log)",
			},
		},
		Before: func(c *cli.Context) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return usage.Errorf("--log-level", "--log-level: %q is not one of debug, info, warn, error", c.String("log-level"))
			}
			s.Log = newLogger(s.Err, level)
			if s.processLog != nil {
				s.processLog(s.Log)
			}
			return nil
		},
		Commands:        commands(s),
		HideHelpCommand: false,
	}
	setUsageErrors(app.Commands)
	return app
}

// setUsageErrors makes a bad flag of any command a usageError, as it is for
// the global flags: one line, the usage hint and exit 2, not urfave/cli's
// whole help text and exit 1.
func setUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		if c.OnUsageError == nil {
			c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
				return usage.Wrap("", err)
			}
		}
		setUsageErrors(c.Subcommands)
	}
}

// commands is the command tree, one file per command.
func commands(s *streams) []*cli.Command {
	return []*cli.Command{
		newCompareCommand(s),
		newAnalyzeCommand(s),
		newModelsCommand(s),
		newPipelineCommand(s),
		newDemoCommand(s),
		newLoRACommand(s),
		newDevicesCommand(s),
		newPredictCommand(s),
		newBenchCommand(s),
		newPrepareCommand(s),
		newFinetuneCommand(s),
		newSynthModelCommand(s),
		newPromptCommand(s),
	}
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// noArgs is action for a command that takes no arguments: an argument is a
// usage error naming the command.
func noArgs(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.NArg() > 0 {
			var path []string // the command's words, "lora merge"
			for _, x := range c.Lineage() {
				if x.Command != nil && x.Command.Name != "" && x.Command.Name != c.App.Name {
					path = append([]string{x.Command.Name}, path...)
				}
			}
			return usage.Errorf("", "%s takes no arguments, got %q", strings.Join(path, " "), c.Args().First())
		}
		return action(c)
	}
}
