package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

type modelsOptions struct{ configFlags }

func newModelsCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:        "models",
		Usage:       "list the configured models and whether each is ready",
		UsageText:   "vlmcmp models [--config <file>] [--gpt4-model <model>]",
		Description: help("models"),
		Flags:       configCLIFlags(),
		Action: noArgs(func(c *cli.Context) error {
			return runModels(c.Context, s, modelsOptions{readConfigFlags(c)})
		}),
	}
}

func runModels(ctx context.Context, s *streams, opts modelsOptions) error {
	cfg, err := opts.load()
	if err != nil {
		return err
	}
	src := "built-in defaults (no vlmcmp.yaml)"
	if cfg.Path != "" {
		src = cfg.Path
	}
	fmt.Fprintf(s.Err, "models from %s\n", src)
	tw := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tBACKEND\tMODEL\tFAMILY\tREADY\tDETAIL")
	for i := range cfg.Models {
		m := &cfg.Models[i]
		r := m.Spec.Ready(backend.Env{OpenAI: opts.OpenAI.overrides()})
		ready := "no"
		if r.Ready {
			ready = "yes"
		}
		fam := "-"
		if ls, ok := m.Spec.(*backend.LocalSpec); ok {
			fam = gguf.DescribeFamily(ls.ModelFile, ls.Mmproj)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Backend, m.Spec.Describe(), fam, ready, r.Reason)
	}
	return tw.Flush()
}
