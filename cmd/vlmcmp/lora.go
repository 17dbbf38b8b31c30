package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/progress"
	"github.com/vlmcmp/vlmcmp/llm/lora"
	"github.com/vlmcmp/vlmcmp/usage"
)

func newLoRACommand(s *streams) *cli.Command {
	return &cli.Command{
		Name:        "lora",
		Usage:       "convert PEFT LoRA adapters to GGUF or merge them into the model, without Python",
		Description: help("lora"),
		Subcommands: []*cli.Command{newLoRAConvertCommand(s), newLoRAMergeCommand(s)},
	}
}

func newLoRAConvertCommand(s *streams) *cli.Command {
	var opts lora.ConvertOptions
	return &cli.Command{
		Name:        "convert",
		Usage:       "convert a PEFT adapter into a llama.cpp LoRA adapter GGUF",
		UsageText:   "vlmcmp lora convert --adapter <dir> --base <model.gguf> --out <adapter.gguf> [--mmproj <mmproj.gguf> --out-mmproj <file>]",
		Description: help("lora-convert"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "adapter", Destination: &opts.Adapter, Usage: "PEFT adapter `DIR` (adapter_config.json, adapter_model.safetensors)"},
			&cli.StringFlag{Name: "base", Destination: &opts.Base, Usage: "language model `GGUF` the adapter is for"},
			&cli.StringFlag{Name: "out", Destination: &opts.Out, Usage: "adapter `GGUF` to write"},
			&cli.StringFlag{Name: "mmproj", Destination: &opts.Mmproj, Usage: "vision projector `GGUF`; with --out-mmproj, vision modules are merged into a copy"},
			&cli.StringFlag{Name: "out-mmproj", Destination: &opts.OutMmproj, Usage: "projector `GGUF` to write with the vision modules merged"},
		},
		Action: noArgs(func(c *cli.Context) error {
			return runLoRAConvert(c.Context, s, opts)
		}),
	}
}

func runLoRAConvert(ctx context.Context, s *streams, opts lora.ConvertOptions) error {
	if err := requireFlags("--adapter", opts.Adapter, "--base", opts.Base, "--out", opts.Out); err != nil {
		return err
	}
	if (opts.Mmproj == "") != (opts.OutMmproj == "") {
		return usage.Errorf("--mmproj", "--mmproj and --out-mmproj go together")
	}
	res, err := lora.Convert(ctx, opts)
	if err != nil {
		return err
	}
	s.report(res.Report(opts))
	return nil
}

func newLoRAMergeCommand(s *streams) *cli.Command {
	var opts lora.MergeOptions
	return &cli.Command{
		Name:        "merge",
		Usage:       "merge LoRA adapters into copies of the model and mmproj GGUF",
		UsageText:   "vlmcmp lora merge --base <model.gguf> [--mmproj <mmproj.gguf> --out-mmproj <file>] {--adapter <dir> | --lora <adapter.gguf>[:<scale>]...} --out <merged.gguf> [--type {same | f16 | bf16 | f32 | q8_0}]",
		Description: help("lora-merge"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "base", Destination: &opts.Base, Usage: "language model `GGUF` to merge into"},
			&cli.StringFlag{Name: "mmproj", Destination: &opts.Mmproj, Usage: "vision projector `GGUF` to merge the adapter's vision modules into"},
			&cli.StringFlag{Name: "adapter", Destination: &opts.Adapter, Usage: "PEFT adapter `DIR`"},
			&cli.Float64Flag{Name: "adapter-scale", Destination: &opts.AdapterScale, Value: 1, Usage: "`SCALE` multiplying the PEFT adapter's alpha/r"},
			&cli.StringSliceFlag{Name: "lora", Usage: "llama.cpp adapter `GGUF[:SCALE]` (scale 1 if omitted); repeatable"},
			&cli.StringFlag{Name: "out", Destination: &opts.Out, Usage: "merged model `GGUF` to write"},
			&cli.StringFlag{Name: "out-mmproj", Destination: &opts.OutMmproj, Usage: "merged projector `GGUF` to write (with --mmproj)"},
			&cli.StringFlag{Name: "type", Destination: &opts.Type, Value: "same", Usage: "`TYPE` of merged tensors: same, f16, bf16, f32 or q8_0"},
		},
		Action: noArgs(func(c *cli.Context) error {
			return runLoRAMerge(c.Context, s, opts, c.StringSlice("lora"))
		}),
	}
}

// runLoRAMerge merges the adapters of opts and loras (FILE[:SCALE] each).
func runLoRAMerge(ctx context.Context, s *streams, opts lora.MergeOptions, loras []string) error {
	if err := requireFlags("--base", opts.Base, "--out", opts.Out); err != nil {
		return err
	}
	if opts.Adapter == "" && len(loras) == 0 {
		return usage.Errorf("", "give a PEFT adapter with --adapter or adapter GGUFs with --lora")
	}
	if (opts.Mmproj == "") != (opts.OutMmproj == "") {
		return usage.Errorf("--mmproj", "--mmproj and --out-mmproj go together")
	}
	switch strings.ToLower(opts.Type) {
	case "same", "f16", "bf16", "f32", "q8_0":
	default:
		return usage.Errorf("--type", "--type %q is not one of same, f16, bf16, f32, q8_0", opts.Type)
	}
	for _, l := range loras {
		lf, err := lora.ParseLoRAFile(l)
		if err != nil {
			return usage.Errorf("--lora", "--lora: %v", err)
		}
		opts.LoRAs = append(opts.LoRAs, lf)
	}
	pv := progress.NewBytes(s.Err, "merging", 10, 0)
	opts.Progress = pv.Update
	res, err := lora.Merge(ctx, opts)
	pv.Finish()
	if err != nil {
		return err
	}
	s.report(res.Report(opts))
	return nil
}

// requireFlags returns a usage error naming the first of the (name, value)
// pairs whose value is empty.
func requireFlags(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return usage.Errorf("", "%s is required", pairs[i])
		}
	}
	return nil
}

// report prints the files a lora command wrote on stdout and what it
// says about them on stderr.
func (s *streams) report(written, notes []string) {
	for _, n := range notes {
		fmt.Fprintln(s.Err, n)
	}
	for _, w := range written {
		fmt.Fprintln(s.Out, w)
	}
}
