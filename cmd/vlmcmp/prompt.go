package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/chat"
	"github.com/vlmcmp/vlmcmp/llm/local"
)

// promptOptions are the flags of `vlmcmp prompt`.
type promptOptions struct {
	ModelFile, Mmproj string
	System, Prompt    string
	Image             string // "": a generated grey picture
	JSON              bool
}

func newPromptCommand(s *streams) *cli.Command {
	var opts promptOptions
	return &cli.Command{
		Name:        "prompt",
		Usage:       "show the prompt and tokens a local model sees for one request",
		UsageText:   "vlmcmp prompt --model-file <gguf> --mmproj <gguf> --prompt <text> [--system <text>] [--image <file>] [--json]",
		Description: help("prompt"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model-file", Destination: &opts.ModelFile, Usage: "model `GGUF`"},
			&cli.StringFlag{Name: "mmproj", Destination: &opts.Mmproj, Usage: "vision projector `GGUF` made for the model"},
			&cli.StringFlag{Name: "prompt", Destination: &opts.Prompt, Usage: "the user's `TEXT`"},
			&cli.StringFlag{Name: "system", Destination: &opts.System, Usage: "system prompt `TEXT` (default: none)"},
			&cli.StringFlag{Name: "image", Destination: &opts.Image, Usage: "image `FILE` (default: a 64×48 grey picture)"},
			&cli.BoolFlag{Name: "json", Destination: &opts.JSON, Usage: "print one JSON object"},
		},
		Action: noArgs(func(c *cli.Context) error {
			if err := requireFlags("--model-file", opts.ModelFile, "--mmproj", opts.Mmproj, "--prompt", opts.Prompt); err != nil {
				return err
			}
			return runPrompt(c.Context, s, opts)
		}),
	}
}

func runPrompt(ctx context.Context, s *streams, opts promptOptions) error {
	out, err := local.RenderPrompt(ctx, local.Config{ModelFile: opts.ModelFile, MmprojFile: opts.Mmproj},
		&llm.Request{ImagePath: opts.Image, System: opts.System, Prompt: opts.Prompt})
	if err != nil {
		return err
	}
	if opts.JSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printPrompt(s, out)
	return nil
}

func printPrompt(s *streams, p *local.RenderedPrompt) {
	from := map[string]string{
		string(chat.FromFile):   "the model file's tokenizer.chat_template",
		string(chat.FromFamily): "the " + p.Family + " family's built-in template (the file has none)",
		local.TemplateLlamaCpp:  "llama.cpp's built-in format (no template compiles)",
	}[p.Template]
	fmt.Fprintf(s.Out, "template: %s\nprompt:\n%s", from, p.Prompt)
	if !strings.HasSuffix(p.Prompt, "\n") {
		fmt.Fprintln(s.Out)
	}
	fmt.Fprintln(s.Out, "tokens:")
	n := 0
	for _, c := range p.Chunks {
		if c.Type == "image" {
			fmt.Fprintf(s.Out, "%5d  [image: %d tokens]\n", n, c.ImageTokens)
			n += c.ImageTokens
			continue
		}
		for i, t := range c.Tokens {
			fmt.Fprintf(s.Out, "%5d  %-7d %q\n", n, t, c.Pieces[i])
			n++
		}
	}
}
