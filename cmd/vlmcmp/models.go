package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm/family"
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
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("models takes no arguments, got %q", c.Args().First())
			}
			return runModels(c.Context, s, modelsOptions{Config: c.String("config"), GPT4Model: c.String("gpt4-model"), OpenAI: readOpenAIFlags(c)})
		},
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
			fam = localFamily(m.ModelFile, m.Mmproj)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Backend, describeModel(m), fam, ready, r.Reason)
	}
	return tw.Flush()
}

func describeModel(m *config.Model) string {
	switch m.Backend {
	case config.BackendLocal:
		d := m.ModelFile
		if len(m.LoRA) > 0 {
			d += fmt.Sprintf(" + %d lora", len(m.LoRA))
		}
		return d
	default:
		return m.Model.String()
	}
}

// localFamily is the FAMILY cell of a local model: the family of its
// projector (the projector type tells Qwen2-VL from Qwen2.5-VL, whose
// language models share one architecture), else the one its model's
// architecture allows. A file that cannot be read, a family vlmcmp does
// not know or a projector made for another architecture give a cell that
// says so; READY and DETAIL say why the model cannot run.
func localFamily(modelFile, mmproj string) string {
	arch, archErr := ggufString(modelFile, "general.architecture")
	pt, ptErr := ggufString(mmproj, "clip.projector_type")
	if ptErr == nil {
		f, ok := family.ByProjector(pt)
		switch {
		case !ok:
			return fmt.Sprintf("unknown (projector %s)", pt)
		case archErr == nil && arch != f.Arch:
			return fmt.Sprintf("mismatch (%s projector, %s model)", f.Title, arch)
		}
		return f.Title
	}
	if archErr != nil {
		return "unknown (unreadable files)"
	}
	var titles []string
	for _, f := range family.ByArch(arch) {
		titles = append(titles, f.Title)
	}
	if len(titles) == 0 {
		return fmt.Sprintf("unknown (architecture %s)", arch)
	}
	return strings.Join(titles, " or ")
}

// ggufString reads one string key of a GGUF file's header.
func ggufString(path, key string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("no file")
	}
	f, err := gguf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return f.Metadata.String(key)
}
