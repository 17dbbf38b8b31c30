package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/native"
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
	loads, err := native.Init(native.InitOptions{BackendPaths: opts.BackendPaths})
	if err != nil {
		return err
	}
	devs, err := native.Devices()
	if err != nil {
		return err
	}
	if opts.JSON {
		type loadJSON struct {
			Path    string `json:"path"`
			Backend string `json:"backend,omitempty"`
			Error   string `json:"error,omitempty"`
		}
		out := struct {
			Devices  []native.Device `json:"devices"`
			Backends []loadJSON      `json:"backend_libraries"`
			Build    native.CPUBuild `json:"build"`
			NoGPU    string          `json:"no_gpu,omitempty"`
		}{Devices: devs, Backends: []loadJSON{}, Build: native.BuildCPU(), NoGPU: native.GPUAbsence(loads, devs)}
		for _, l := range loads {
			lj := loadJSON{Path: l.Path, Backend: l.Backend}
			if l.Err != nil {
				lj.Error = l.Err.Error()
			}
			out.Backends = append(out.Backends, lj)
		}
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, d := range devs {
		fmt.Fprintf(s.Out, "%s\t%s\t%s", d.Name, d.Type, d.Description)
		if d.MemoryTotal > 0 {
			fmt.Fprintf(s.Out, "\t%s free of %s", gib(d.MemoryFree), gib(d.MemoryTotal))
		}
		fmt.Fprintln(s.Out)
		if len(d.Features) > 0 {
			var fs []string
			for _, f := range d.Features {
				if f.Value == "1" {
					fs = append(fs, f.Name)
				} else {
					fs = append(fs, f.Name+"="+f.Value)
				}
			}
			fmt.Fprintf(s.Out, "  features: %s\n", strings.Join(fs, " "))
		}
	}
	fmt.Fprintf(s.Out, "build\t%s\n", native.BuildCPU())
	if why := native.GPUAbsence(loads, devs); why != "" {
		fmt.Fprintln(s.Out, why)
	}
	for _, l := range loads {
		if l.Err != nil {
			fmt.Fprintf(s.Err, "vlmcmp: backend library not loaded: %v\n", l.Err)
		}
	}
	return nil
}

// gib formats bytes as GiB with one decimal.
func gib(b uint64) string {
	return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
}
