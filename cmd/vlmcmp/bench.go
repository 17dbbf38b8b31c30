package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/bench"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/local"
)

// benchOptions are the options of vlmcmp bench.
type benchOptions struct {
	Engine        engineOptions
	Images        string // folder of images
	Synthetic     int    // number of synthetic images, when Images is empty
	SyntheticSize string // WxH of synthetic images
	Seed          uint64
	Batch         []int
	MaxTokens     int
	Repeat        int
	Prompt        string
	JSON          string
	Plot          string
	Format        string // table or benchstat
	// Server is an OpenAI-compatible API's base URL to time beside the
	// local path (empty: none); ServerModel the model name sent to it;
	// Concurrency its requests in flight (default: the batch sizes).
	Server      string
	ServerModel string
	Concurrency []int
	// Trace writes every scheduler step as a JSON line; CPUProfile a Go
	// CPU profile of the whole bench (pprof).
	Trace      string
	CPUProfile string
	// TextFirst puts the prompt before the image (local.Config.TextFirst).
	TextFirst bool
}

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
		&cli.BoolFlag{Name: "text-first", Usage: "put the prompt before the image in the local model's chat, as the OpenAI backend (and so --server) sends it: the prompt is then decoded once and shared"},
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
		Description: `bench scores the same images with the local Qwen2-VL at each batch size (the
number of sequences decoded together by continuous batching). For each size it
loads the model, answers one warm-up request, then scores every image --repeat
times and reports the medians (with min and max) of: wall time, images per
second, vision encoder milliseconds per image, prefill and decode tokens per
second (engine time), time to first token (queueing included), peak process
memory, GPU memory in use where a GPU is used, and the share of answers
identical to batch size 1's (floating-point sums can round differently with
other batch shapes). Answers are greedy and --max-tokens long unless the model
ends them first.

With --server the same images, prompt and answer length also go to an
OpenAI-compatible server (llama-server, vLLM) through the OpenAI backend, at
each --concurrency (requests in flight), and the table and plot show both paths
side by side with the ratio of their best images/s: what running in-process
buys on this machine. For the server only wall time, images/s, latency and the
answers are known. Without --model-file only the server is timed.
scripts/peer-server.sh builds and starts upstream llama-server for this.

Examples:
  vlmcmp bench --model-file m.gguf --mmproj p.gguf --synthetic 32 --batch 1,2,4,8
  vlmcmp bench --model-file m.gguf --mmproj p.gguf --gpu-layers -1 --images photos \
    --batch 1,8,16,32 --json bench.json --plot bench.png
  vlmcmp bench --model-file m.gguf --mmproj p.gguf --synthetic 16 --format benchstat > new.txt
  vlmcmp bench --model-file m.gguf --mmproj p.gguf --synthetic 32 --batch 4,8 \
    --server http://127.0.0.1:8088/v1 --concurrency 4,8 --plot both.png`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("bench takes no arguments, got %q", c.Args().First())
			}
			sizes, err := parseBatchSizes("--batch", c.String("batch"))
			if err != nil {
				return err
			}
			conc := sizes
			if c.IsSet("concurrency") {
				if conc, err = parseBatchSizes("--concurrency", c.String("concurrency")); err != nil {
					return err
				}
			}
			return runBench(c.Context, s, benchOptions{
				Engine:        engineOptionsFrom(c),
				Images:        c.String("images"),
				Synthetic:     c.Int("synthetic"),
				SyntheticSize: c.String("synthetic-size"),
				Seed:          c.Uint64("seed"),
				Batch:         sizes,
				MaxTokens:     c.Int("max-tokens"),
				Repeat:        c.Int("repeat"),
				Prompt:        c.String("prompt"),
				JSON:          c.String("json"),
				Plot:          c.String("plot"),
				Format:        c.String("format"),
				Server:        c.String("server"),
				ServerModel:   c.String("server-model"),
				Concurrency:   conc,
				Trace:         c.String("trace"),
				CPUProfile:    c.String("cpuprofile"),
				TextFirst:     c.Bool("text-first"),
			})
		},
	}
}

func parseBatchSizes(flag, s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, usagef("%s: %q is not a positive whole number", flag, f)
		}
		if !slices.Contains(sizes, n) {
			sizes = append(sizes, n)
		}
	}
	return sizes, nil
}

func runBench(ctx context.Context, s *streams, opts benchOptions) error {
	// With a server and no local model, only the server is timed.
	localPath := opts.Server == "" || opts.Engine.ModelFile != "" || opts.Engine.Mmproj != ""
	var cfg local.Config
	if localPath {
		var err error
		if cfg, err = opts.Engine.config(); err != nil {
			return err
		}
		cfg.TextFirst = opts.TextFirst
	}
	switch {
	case opts.Images == "" && opts.Synthetic <= 0:
		return usagef("give --images DIR or --synthetic N")
	case opts.Images != "" && opts.Synthetic > 0:
		return usagef("give --images or --synthetic, not both")
	case opts.Repeat < 1:
		return usagef("--repeat is %d, want 1 or more", opts.Repeat)
	case opts.MaxTokens < 1:
		return usagef("--max-tokens is %d, want 1 or more", opts.MaxTokens)
	case opts.Format != "table" && opts.Format != "benchstat":
		return usagef("--format %q is not one of table, benchstat", opts.Format)
	case len(opts.Batch) == 0:
		return usagef("--batch names no batch size")
	case opts.Server != "" && len(opts.Concurrency) == 0:
		return usagef("--concurrency names no concurrency")
	}
	if opts.Server != "" {
		u, err := url.Parse(opts.Server)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("--server %q is not an http(s) URL such as http://127.0.0.1:8088/v1", opts.Server)
		}
	}
	if _, _, err := bench.ParseSize(opts.SyntheticSize); opts.Synthetic > 0 && err != nil {
		return usagef("--synthetic-size %q is not WxH between 28x28 and 8192x8192", opts.SyntheticSize)
	}
	reqs, err := bench.Requests(bench.Images{Dir: opts.Images, Synthetic: opts.Synthetic, SyntheticSize: opts.SyntheticSize,
		Seed: opts.Seed, Prompt: opts.Prompt, MaxTokens: opts.MaxTokens})
	if err != nil {
		return err
	}
	bo := bench.Options{Engine: cfg, LoRA: opts.Engine.LoRA, Batch: opts.Batch, Repeat: opts.Repeat,
		MaxTokens: opts.MaxTokens, Progress: s.Err}
	if opts.Synthetic > 0 {
		bo.ImageSize = opts.SyntheticSize
	}
	if opts.CPUProfile != "" {
		f, err := os.Create(opts.CPUProfile)
		if err != nil {
			return fmt.Errorf("bench cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench cpuprofile %s: %w", opts.CPUProfile, err)
		}
		defer pprof.StopCPUProfile()
	}
	if opts.Trace != "" {
		f, err := os.Create(opts.Trace)
		if err != nil {
			return fmt.Errorf("bench trace: %w", err)
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		enc := json.NewEncoder(bw)
		var mu sync.Mutex
		bo.Trace = func(batch int, ev local.TraceEvent) {
			mu.Lock()
			defer mu.Unlock()
			_ = enc.Encode(struct {
				Batch  int     `json:"batch"`
				Op     string  `json:"op"`
				Start  int64   `json:"start_us"`
				Dur    float64 `json:"dur_ms"`
				Seqs   int     `json:"seqs"`
				Tokens int     `json:"tokens"`
			}{batch, ev.Op, ev.Start.UnixMicro(), float64(ev.Dur) / float64(time.Millisecond), ev.Seqs, ev.Tokens})
		}
	}
	rep := &bench.Report{Images: len(reqs), ImageSize: bo.ImageSize, MaxTokens: opts.MaxTokens, Repeat: opts.Repeat}
	if localPath {
		if rep, err = bench.Run(ctx, reqs, bo); err != nil {
			return err
		}
	}
	if opts.Server != "" {
		if rep.Model == "" {
			rep.Model = opts.ServerModel
		}
		rep.Server, err = bench.RunServer(ctx, reqs, bench.ServerOptions{
			URL: opts.Server, Model: opts.ServerModel, Key: os.Getenv("VLMCMP_SERVER_API_KEY"),
			Concurrency: opts.Concurrency, Repeat: opts.Repeat, MaxTokens: opts.MaxTokens,
			Progress: func(format string, args ...any) { fmt.Fprintf(s.Err, format, args...) },
		})
		if err != nil {
			return err
		}
	}
	if opts.Format == "benchstat" {
		bench.WriteBenchstat(s.Out, rep)
	} else {
		bench.WriteTable(s.Out, rep)
		if len(rep.Sizes) > 0 {
			fmt.Fprintln(s.Out)
			bench.WritePhases(s.Out, rep)
		}
	}
	if opts.JSON != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("bench json: %w", err)
		}
		if err := os.WriteFile(opts.JSON, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("bench json: %w", err)
		}
	}
	if opts.Plot != "" {
		return bench.WritePlot(opts.Plot, rep)
	}
	return nil
}
