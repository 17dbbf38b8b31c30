package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/llm/chat"
	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf"
	"github.com/vlmcmp/vlmcmp/llm/imagefile"
	"github.com/vlmcmp/vlmcmp/native"
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
		Name:      "prompt",
		Usage:     "show the prompt and tokens a local model sees for one request",
		UsageText: "vlmcmp prompt --model-file <gguf> --mmproj <gguf> --prompt <text> [--system <text>] [--image <file>] [--json]",
		Description: "Renders the request as predict does (the system prompt if any, then a user turn of\n" +
			"the image and the text) with the model's own chat template (its\n" +
			"tokenizer.chat_template as Hugging Face renders it; the family's built-in one when\n" +
			"the file has none; llama.cpp's built-in formats when neither compiles), and\n" +
			"tokenizes it as the model evaluates it: text chunks, and the image as one chunk of\n" +
			"its tokens (mtmd adds the vision start and end tokens around it). Prints where the\n" +
			"template came from, the prompt (the image as " + native.MediaMarker + ") and each token;\n" +
			"--json prints the same as one object. Without --image a 64×48 grey picture\n" +
			"stands in: the image's size only changes how many tokens its chunk takes.\n" +
			"scripts/template-check.sh compares these tokens with upstream llama-server's.\n\n" +
			"Examples:\n" +
			"  vlmcmp prompt --model-file model.gguf --mmproj mmproj.gguf --prompt 'How safe is this street?'\n" +
			"  vlmcmp prompt --model-file model.gguf --mmproj mmproj.gguf --system 'Be brief.' --prompt Rate. --json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model-file", Destination: &opts.ModelFile, Usage: "model `GGUF`"},
			&cli.StringFlag{Name: "mmproj", Destination: &opts.Mmproj, Usage: "vision projector `GGUF` made for the model"},
			&cli.StringFlag{Name: "prompt", Destination: &opts.Prompt, Usage: "the user's `TEXT`"},
			&cli.StringFlag{Name: "system", Destination: &opts.System, Usage: "system prompt `TEXT` (default: none)"},
			&cli.StringFlag{Name: "image", Destination: &opts.Image, Usage: "image `FILE` (default: a 64×48 grey picture)"},
			&cli.BoolFlag{Name: "json", Destination: &opts.JSON, Usage: "print one JSON object"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("prompt takes no arguments, got %q", c.Args().First())
			}
			for _, f := range []struct{ name, v string }{{"model-file", opts.ModelFile}, {"mmproj", opts.Mmproj}, {"prompt", opts.Prompt}} {
				if f.v == "" {
					return usagef("--%s is required", f.name)
				}
			}
			return runPrompt(c.Context, s, opts)
		},
	}
}

// promptJSON is what `vlmcmp prompt --json` prints.
type promptJSON struct {
	Model    string        `json:"model"`
	Family   string        `json:"family"`
	Template string        `json:"template"` // gguf, builtin or llama.cpp
	Prompt   string        `json:"prompt"`   // the image as native.MediaMarker
	Chunks   []promptChunk `json:"chunks"`
}

// promptChunk is a text chunk (its tokens and their pieces) or the image
// (the number of tokens it takes).
type promptChunk struct {
	Type        string         `json:"type"` // text or image
	Tokens      []native.Token `json:"tokens,omitempty"`
	Pieces      []string       `json:"pieces,omitempty"`
	ImageTokens int            `json:"image_tokens,omitempty"`
}

func runPrompt(ctx context.Context, s *streams, opts promptOptions) error {
	// The files are checked in Go first, as predict does: llama.cpp aborts
	// the process on some malformed files.
	info, err := gguf.ValidateModel(opts.ModelFile)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	fam, err := gguf.ValidateProjectorFamily(opts.Mmproj, info)
	if err != nil {
		return fmt.Errorf("mmproj: %w", err)
	}
	if _, err := native.Init(native.InitOptions{}); err != nil {
		return err
	}
	m, err := native.LoadModel(opts.ModelFile, native.ModelParams{})
	if err != nil {
		return err
	}
	defer m.Close()
	if err := ctx.Err(); err != nil {
		return err
	}
	out := promptJSON{Model: opts.ModelFile, Family: fam.Name}
	out.Prompt, out.Template, err = renderPrompt(m, fam, opts.System, opts.Prompt)
	if err != nil {
		return err
	}
	minTok, maxTok := fam.DefaultImageTokens()
	proj, err := native.LoadProjector(opts.Mmproj, m, native.ProjectorParams{ImageMinTokens: minTok, ImageMaxTokens: maxTok})
	if err != nil {
		return err
	}
	defer proj.Close()
	w, h, rgb := 64, 48, make([]byte, 64*48*3)
	if opts.Image != "" {
		img, _, err := imagefile.Read(opts.Image)
		if err != nil {
			return err
		}
		w, h, rgb = imagefile.RGB(img)
	} else {
		for i := range rgb {
			rgb[i] = 128
		}
	}
	bm, err := native.NewBitmap(w, h, rgb)
	if err != nil {
		return err
	}
	defer bm.Close()
	ch, err := proj.Tokenize(out.Prompt, []*native.Bitmap{bm}, true)
	if err != nil {
		return err
	}
	defer ch.Close()
	for i := range ch.Len() {
		if ch.Kind(i) != native.ChunkText {
			out.Chunks = append(out.Chunks, promptChunk{Type: "image", ImageTokens: ch.NTokens(i)})
			continue
		}
		c := promptChunk{Type: "text", Tokens: ch.Tokens(i)}
		for _, t := range c.Tokens {
			p, err := m.Detokenize([]native.Token{t}, false, true)
			if err != nil {
				return err
			}
			c.Pieces = append(c.Pieces, p)
		}
		out.Chunks = append(out.Chunks, c)
	}
	if opts.JSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printPrompt(s, out)
	return nil
}

// renderPrompt renders one request as the local predictor does (package
// local's engine): the model's template through package chat, else
// llama.cpp's built-in formats. It returns the prompt with the image as
// native.MediaMarker and where the template came from.
func renderPrompt(m *native.Model, fam *family.Family, system, user string) (prompt, source string, err error) {
	src, _ := m.Meta("tokenizer.chat_template")
	tpl, terr := chat.ForModel(src, fam)
	if terr == nil {
		prompt, err = tpl.Prompt(system, user, native.MediaMarker)
		return prompt, string(tpl.Source), err
	}
	var msgs []native.ChatMessage
	if system != "" {
		msgs = append(msgs, native.ChatMessage{Role: "system", Content: system})
	}
	msgs = append(msgs, native.ChatMessage{Role: "user", Content: native.MediaMarker + user})
	prompt, err = m.ApplyChatTemplate("", msgs, true)
	return prompt, "llama.cpp", err
}

func printPrompt(s *streams, p promptJSON) {
	from := map[string]string{
		string(chat.FromFile):   "the model file's tokenizer.chat_template",
		string(chat.FromFamily): "the " + p.Family + " family's built-in template (the file has none)",
		"llama.cpp":             "llama.cpp's built-in format (no template compiles)",
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
