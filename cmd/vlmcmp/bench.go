package main

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/bench"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/usage"
)

func newBenchCommand(s *streams) *cli.Command {
	flags := append(engineFlags(),
		&cli.StringFlag{Name: "images", Usage: "`DIR` of images to score (JPEG, PNG, WebP, GIF, BMP)"},
		&cli.IntFlag{Name: "synthetic", Usage: "score `N` synthetic street-like images instead of --images"},
		&cli.StringFlag{Name: "synthetic-size", Value: "448x336", Usage: "`WxH` pixels of the synthetic images"},
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "`SEED` of the synthetic images"},
		&cli.StringFlag{Name: "batch", Value: "1,2,4,8,16", Usage: "comma-separated batch `SIZES` (parallel sequences)"},
		&cli.IntFlag{Name: "max-tokens", Value: 16, Usage: "answer length `N` in tokens"},
		&cli.IntFlag{Name: "repeat", Value: 3, Usage: "`R` timed runs per batch size, after one warm-up request"},
		&cli.StringFlag{Name: "prompt", Value: llm.DefaultPrompt, Usage: "the user's `TEXT`"},
		&cli.StringFlag{Name: "json", Usage: "write every figure as JSON to `FILE`"},
		&cli.StringFlag{Name: "plot", Usage: "write a PNG plot of images/s and decode tokens/s against batch size to `FILE`"},
		&cli.StringFlag{Name: "format", Value: "table", Usage: "stdout `FORMAT`: table, or benchstat (one line per run, for golang.org/x/perf/cmd/benchstat)"},
		&cli.StringFlag{Name: "server", Usage: "also time the same images through the OpenAI-compatible API at `URL` (llama-server, vLLM: http://127.0.0.1:8088/v1); VLMCMP_SERVER_API_KEY is sent as its key when set"},
		&cli.StringFlag{Name: "server-model", Value: "local", Usage: "model `NAME` sent to --server"},
		&cli.StringFlag{Name: "trace", Usage: "write every scheduler step of the local timed runs (op, start, duration, sequences, tokens) as JSON lines to `FILE`"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write a Go CPU profile of the bench to `FILE` (go tool pprof)"},
		&cli.StringFlag{Name: "concurrency", Usage: "comma-separated requests in flight `N` to time --server at (default: the --batch sizes)"},
	)
	return &cli.Command{
		Name:  "bench",
		Usage: "measure local inference throughput at several batch sizes",
		UsageText: "vlmcmp bench --model-file <gguf> --mmproj <gguf> [--lora <gguf>[:<scale>]]... {--images <dir> | --synthetic <n>}\n" +
			"  [--batch 1,2,4,8,16] [--max-tokens <n>] [--repeat <r>] [--json <file>] [--plot <file.png>] [--format {table | benchstat}]\n" +
			"  [--server <url> [--server-model <name>] [--concurrency 1,2,4,8]]",
		Description: help("bench"),
		Flags:       flags,
		Action: noArgs(func(c *cli.Context) error {
			spec, err := benchSpec(c)
			if err != nil {
				return err
			}
			spec.Progress = s.Err
			return runBench(c.Context, s, spec, c.String("json"), c.String("plot"))
		}),
	}
}

// benchSpec reads the flags of bench. With --server and no local model
// only the server is timed.
func benchSpec(c *cli.Context) (bench.Spec, error) {
	sizes, err := parseBatchSizes("--batch", c.String("batch"))
	if err != nil {
		return bench.Spec{}, err
	}
	conc := sizes
	if c.IsSet("concurrency") {
		if conc, err = parseBatchSizes("--concurrency", c.String("concurrency")); err != nil {
			return bench.Spec{}, err
		}
	}
	eng := engineOptionsFrom(c)
	spec := bench.Spec{LoRA: eng.LoRAFlags, Batch: sizes, Repeat: c.Int("repeat"), Format: c.String("format"),
		Trace: c.String("trace"), CPUProfile: c.String("cpuprofile"),
		Images: bench.Images{Dir: c.String("images"), Synthetic: c.Int("synthetic"), SyntheticSize: c.String("synthetic-size"),
			Seed: c.Uint64("seed"), Prompt: c.String("prompt"), MaxTokens: c.Int("max-tokens")},
		Server: bench.ServerOptions{URL: c.String("server"), Model: c.String("server-model"),
			Key: os.Getenv("VLMCMP_SERVER_API_KEY"), Concurrency: conc}}
	if spec.Server.URL == "" || eng.ModelFile != "" || eng.MmprojFile != "" {
		cfg, err := eng.config()
		if err != nil {
			return bench.Spec{}, err
		}
		spec.Engine = &cfg
	}
	return spec, nil
}

func parseBatchSizes(flag, s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, usage.Errorf("", "%s: %q is not a positive whole number", flag, f)
		}
		if !slices.Contains(sizes, n) {
			sizes = append(sizes, n)
		}
	}
	return sizes, nil
}

func runBench(ctx context.Context, s *streams, spec bench.Spec, jsonFile, plotFile string) error {
	if spec.Engine != nil {
		spec.Engine.Logger, spec.Engine.Status = s.Log, s.Err
	}
	rep, err := bench.Bench(ctx, spec)
	if key, ok := usage.Is(err); ok && key != "" && !strings.HasPrefix(key, "-") {
		// The library names the setting; the user typed it as a flag.
		return usage.Errorf("--"+key, "--%v", err)
	} else if err != nil {
		return err
	}
	bench.Write(s.Out, rep, spec.Format)
	if jsonFile != "" {
		if err := bench.WriteJSON(jsonFile, rep); err != nil {
			return err
		}
	}
	if plotFile != "" {
		return bench.WritePlot(plotFile, rep)
	}
	return nil
}
