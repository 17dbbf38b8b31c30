package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

type modelsOptions struct {
	Config    string
	GPT4Model string
	OpenAI    openaiFlags
}

func newModelsCommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:        "models",
		Usage:       "list the configured models and whether each is ready",
		UsageText:   "vlmcmp models [--config <file>] [--gpt4-model <model>]",
		Description: help("models"),
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "models `FILE` (default ./vlmcmp.yaml, else the built-in models)"},
			&cli.StringFlag{Name: "gpt4-model", Usage: "OpenAI `MODEL` of the model named gpt4"},
		}, openaiCLIFlags()...),
		Action: noArgs(func(c *cli.Context) error {
			return runModels(c.Context, s, modelsOptions{Config: c.String("config"), GPT4Model: c.String("gpt4-model"), OpenAI: readOpenAIFlags(c)})
		}),
	}
}

func runModels(ctx context.Context, s *streams, opts modelsOptions) error {
	cfg, err := loadConfig(opts.Config, opts.GPT4Model)
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
		r := backend.Ready(cfg, m, backend.Env{OpenAI: opts.OpenAI.overrides()})
		ready := "no"
		if r.Ready {
			ready = "yes"
		}
		fam := "-"
		if m.Backend == config.BackendLocal {
			fam = gguf.DescribeFamily(m.ModelFile, m.Mmproj)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Backend, m.Describe(), fam, ready, r.Reason)
	}
	return tw.Flush()
}
