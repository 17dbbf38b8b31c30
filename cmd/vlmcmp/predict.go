package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/eval/predict"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/local"
	"github.com/vlmcmp/vlmcmp/usage"
)

// engineOptions are the flags that load a local model, shared by predict
// and bench: the local.Config they set, and the --lora values (parsed by
// config).
type engineOptions struct {
	local.Config
	LoRAFlags []string // PATH[:SCALE]
}

// engineFlags are the command-line flags of engineOptions.
func engineFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "model-file", Usage: "Qwen2-VL model `GGUF`"},
		&cli.StringFlag{Name: "mmproj", Usage: "vision projector `GGUF` made for the model"},
		&cli.StringSliceFlag{Name: "lora", Usage: "LoRA adapter `GGUF[:SCALE]` applied at load (scale 1 by default); repeatable"},
		&cli.IntFlag{Name: "gpu-layers", Usage: "`N` layers offloaded to the GPU; -1: all (needs make cuda)"},
		&cli.IntFlag{Name: "threads", Usage: "CPU `N` threads of the decoder, and of the vision encoder unless --encoder-threads is set", DefaultText: "the CPUs, at most 16; on 4 or more they are split between the decoder and the encoder, which encodes ahead, and the decoder borrows the encoder's threads while it has no image; on fewer the two take turns on every CPU"},
		&cli.IntFlag{Name: "encoder-threads", Usage: "CPU `N` threads of the vision encoder", DefaultText: "--threads when set, else the CPUs the decoder does not take, or all of them on fewer than 4"},
		&cli.IntFlag{Name: "ctx-size", Usage: "tokens `N` one sequence holds: image, prompt and answer", DefaultText: "image max tokens + 512"},
		&cli.IntFlag{Name: "image-min-tokens", Usage: "smallest number of tokens `N` an image becomes; smaller images are scaled up", DefaultText: "the model family's, 4 for Qwen2-VL and Qwen2.5-VL, 64 for Qwen3-VL"},
		&cli.IntFlag{Name: "image-max-tokens", Usage: "largest number of tokens `N` an image becomes; larger images are scaled down", DefaultText: "the model family's, 1024 for Qwen2-VL and Qwen2.5-VL, 784 for Qwen3-VL"},
		&cli.StringFlag{Name: "flash-attn", Value: "auto", Usage: "flash attention `MODE`: auto, on or off"},
		&cli.StringFlag{Name: "encode-ahead", Value: "auto", Usage: "encode queued images while others decode, `MODE`: auto (on with a GPU, or when the decoder's and encoder's threads fit in the CPUs together), on or off"},
		&cli.BoolFlag{Name: "text-first", Usage: "put the prompt before the image in the user's turn, as the OpenAI backend (and so bench --server) sends it: the text before the image is then decoded once and shared by every request"},
	}
}

// engineOptionsFrom reads the engine flags.
func engineOptionsFrom(c *cli.Context) engineOptions {
	return engineOptions{LoRAFlags: c.StringSlice("lora"), Config: local.Config{
		ModelFile:      c.String("model-file"),
		MmprojFile:     c.String("mmproj"),
		GPULayers:      c.Int("gpu-layers"),
		Threads:        c.Int("threads"),
		EncoderThreads: c.Int("encoder-threads"),
		ContextSize:    c.Int("ctx-size"),
		ImageMinTokens: c.Int("image-min-tokens"),
		ImageMaxTokens: c.Int("image-max-tokens"),
		FlashAttention: c.String("flash-attn"),
		EncodeAhead:    c.String("encode-ahead"),
		TextFirst:      c.Bool("text-first"),
	}}
}

// config is the local.Config of the flags; command-line mistakes are
// usage errors.
func (o engineOptions) config() (local.Config, error) {
	if err := requireFlags("--model-file", o.ModelFile, "--mmproj", o.MmprojFile); err != nil {
		return local.Config{}, err
	}
	cfg := o.Config
	for _, s := range o.LoRAFlags {
		l, err := local.ParseLoRA(s)
		if err != nil {
			return local.Config{}, usage.Errorf("--lora", "--lora: %v", err)
		}
		cfg.LoRA = append(cfg.LoRA, l)
	}
	if err := cfg.Check(); err != nil {
		return local.Config{}, usage.Wrap("", err)
	}
	return cfg, nil
}

// predictOptions are the options of vlmcmp predict. Fields are filled from
// flags; another source (a configured model) may fill Engine instead.
type predictOptions struct {
	Engine      engineOptions
	Image       string
	Prompt      string
	System      string
	MaxTokens   int
	GrammarFile string
	SchemaFile  string
	RawPrompt   bool
	Timings     bool
	// Model names a configured model (--model) instead of the engine
	// flags; Config is the config file and OpenAI the API flags it uses.
	Model  string
	Config string
	OpenAI openaiFlags
}

func newPredictCommand(s *streams) *cli.Command {
	var opts predictOptions
	flags := append(engineFlags(),
		&cli.StringFlag{Name: "image", Destination: &opts.Image, Usage: "image `FILE` to score (JPEG, PNG, WebP, GIF or BMP)"},
		&cli.StringFlag{Name: "prompt", Destination: &opts.Prompt, Usage: "the user's `TEXT`"},
		&cli.StringFlag{Name: "system", Destination: &opts.System, Usage: "system prompt `TEXT` (default: none)"},
		&cli.IntFlag{Name: "max-tokens", Destination: &opts.MaxTokens, Usage: "longest answer in tokens `N`", DefaultText: strconv.Itoa(local.DefaultMaxTokens)},
		&cli.StringFlag{Name: "grammar", Destination: &opts.GrammarFile, Usage: "GBNF grammar `FILE` the answer must follow"},
		&cli.StringFlag{Name: "json-schema", Destination: &opts.SchemaFile, Usage: "JSON schema `FILE` the answer must follow (converted to a grammar)"},
		&cli.BoolFlag{Name: "raw-prompt", Destination: &opts.RawPrompt, Usage: "use --prompt as the whole prompt, without the chat template; put " + "<__media__>" + " where the image goes"},
		&cli.BoolFlag{Name: "timings", Destination: &opts.Timings, Usage: "print the timings to stderr"},
		&cli.StringFlag{Name: "model", Destination: &opts.Model, Usage: "configured model `NAME` (see vlmcmp models), local or OpenAI, instead of --model-file and --mmproj"},
		&cli.StringFlag{Name: "config", Destination: &opts.Config, Usage: "models `FILE` for --model (default ./vlmcmp.yaml, else the built-in models)"},
	)
	flags = append(flags, openaiCLIFlags()...)
	return &cli.Command{
		Name:  "predict",
		Usage: "answer a prompt about one image with a local Qwen2-VL",
		UsageText: "vlmcmp predict --model <name> --image <file> [--prompt <text>] [--config <file>]\n" +
			"vlmcmp predict --model-file <gguf> --mmproj <gguf> [--lora <gguf>[:<scale>]]... --image <file> --prompt <text>\n" +
			"  [--system <text>] [--max-tokens <n>] [--gpu-layers <n>] [--threads <n>] [{--grammar <file> | --json-schema <file>}]\n" +
			"  [--raw-prompt] [--image-max-tokens <n>] [--image-min-tokens <n>]",
		Description: help("predict"),
		Flags:       flags,
		Action: noArgs(func(c *cli.Context) error {
			opts.Engine, opts.OpenAI = engineOptionsFrom(c), readOpenAIFlags(c)
			return runPredict(c.Context, s, opts)
		}),
	}
}

func runPredict(ctx context.Context, s *streams, opts predictOptions) error {
	e := opts.Engine
	local := opts.Model == ""
	switch {
	case !local && (e.ModelFile != "" || e.MmprojFile != "" || len(e.LoRAFlags) > 0):
		return usage.Exclusive(usage.Opt{Name: "--model NAME", Set: true}, usage.Opt{Name: "--model-file/--mmproj/--lora", Set: true})
	case !local && opts.RawPrompt:
		return usage.Errorf("--raw-prompt", "--raw-prompt needs --model-file: a configured model uses its chat template")
	case local && e.ModelFile == "":
		return usage.Errorf("--model-file", "--model-file is required")
	case local && e.MmprojFile == "":
		return usage.Errorf("--mmproj", "--mmproj is required")
	case opts.Image == "":
		return usage.Errorf("--image", "--image is required")
	case local && opts.Prompt == "":
		return usage.Errorf("--prompt", "--prompt is required")
	case opts.MaxTokens < 0:
		return usage.Errorf("--max-tokens", "--max-tokens is %d, want 0 or more", opts.MaxTokens)
	case opts.GrammarFile != "" && opts.SchemaFile != "":
		return usage.Exclusive(usage.Opt{Name: "--grammar", Set: true}, usage.Opt{Name: "--json-schema", Set: true})
	case opts.RawPrompt && opts.System != "":
		return usage.Errorf("--system", "--system has no effect with --raw-prompt: put the system turn in --prompt")
	}
	req := predict.Request{Image: opts.Image, Prompt: opts.Prompt, System: opts.System, MaxTokens: opts.MaxTokens,
		GrammarFile: opts.GrammarFile, SchemaFile: opts.SchemaFile}
	var pred *llm.Prediction
	if local {
		cfg, err := e.config()
		if err != nil {
			return err
		}
		cfg.RawPrompt = opts.RawPrompt
		cfg.Logger, cfg.Status = s.Log, s.Err
		if pred, err = predict.Local(ctx, cfg, req); err != nil {
			return err
		}
	} else {
		cfg, err := config.Find(opts.Config)
		if err != nil {
			return err
		}
		pred, err = predict.Configured(ctx, cfg, opts.Model, backend.Env{OpenAI: opts.OpenAI.overrides(), Log: s.Log, Status: s.Err}, req)
		if err != nil {
			return err
		}
	}
	fmt.Fprintln(s.Out, pred.Text)
	if !local {
		fmt.Fprintf(s.Err, "%s: %s\n", opts.Model, pred.Summary())
	}
	if line := pred.TimingsLine(); opts.Timings && line != "" {
		fmt.Fprintln(s.Err, line)
	}
	return nil
}
