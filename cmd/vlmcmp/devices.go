package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/llm/local"
)

// devicesOptions are the flags of `vlmcmp devices`.
type devicesOptions struct {
	BackendPaths []string // extra folders with ggml backend libraries
	JSON         bool     // print JSON instead of text
}

func newDevicesCommand(s *streams) *cli.Command {
	var opts devicesOptions
	return &cli.Command{
		Name:        "devices",
		Usage:       "list the CPU and GPUs llama.cpp can run on",
		UsageText:   "vlmcmp devices [--backend-path <dir>]... [--json]",
		Description: help("devices"),
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "backend-path", Usage: "also load ggml backend libraries from `DIR` (repeatable)"},
			&cli.BoolFlag{Name: "json", Destination: &opts.JSON, Usage: "print the devices as JSON"},
		},
		Action: func(c *cli.Context) error {
			opts.BackendPaths = c.StringSlice("backend-path")
			return runDevices(c.Context, s, opts)
		},
	}
}

func runDevices(_ context.Context, s *streams, opts devicesOptions) error {
	inv, err := local.ListDevices(opts.BackendPaths)
	if err != nil {
		return err
	}
	if opts.JSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(inv)
	}
	err = inv.WriteText(s.Out)
	for _, l := range inv.Loads {
		if l.Err != nil {
			fmt.Fprintf(s.Err, "vlmcmp: backend library not loaded: %v\n", l.Err)
		}
	}
	return err
}
