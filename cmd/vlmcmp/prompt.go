package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/vlmcmp/vlmcmp/usage"
	"image"
	"image/png"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/chat"
	"github.com/vlmcmp/vlmcmp/llm/imageprep"
	"github.com/vlmcmp/vlmcmp/llm/local"
)

// promptOptions are the flags of `vlmcmp prompt`.
type promptOptions struct {
	ModelFile, Mmproj string
	System, Prompt    string
	Image             string // "": a generated grey picture
	JSON              bool
	// The image options of engineFlags, and SaveImage: a PNG file to write
	// the encoder's pixels to.
	ImageMinTokens, ImageMaxTokens      int
	Resample, Orientation, Preprocessor string
	SaveImage                           string
}

func newPromptCommand(s *streams) *cli.Command {
	var opts promptOptions
	return &cli.Command{
		Name:  "prompt",
		Usage: "show the prompt and tokens a local model sees for one request",
		UsageText: "vlmcmp prompt --model-file <gguf> --mmproj <gguf> --prompt <text> [--system <text>] [--image <file>] [--json]\n" +
			"  [--image-min-tokens <n>] [--image-max-tokens <n>] [--resample {bicubic | bilinear | nearest | llama.cpp}]\n" +
			"  [--orientation {exif | ignore}] [--preprocessor <json>] [--save-image <png>]",
		Description: help("prompt"),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model-file", Destination: &opts.ModelFile, Usage: "model `GGUF`"},
			&cli.StringFlag{Name: "mmproj", Destination: &opts.Mmproj, Usage: "vision projector `GGUF` made for the model"},
			&cli.StringFlag{Name: "prompt", Destination: &opts.Prompt, Usage: "the user's `TEXT`"},
			&cli.StringFlag{Name: "system", Destination: &opts.System, Usage: "system prompt `TEXT` (default: none)"},
			&cli.StringFlag{Name: "image", Destination: &opts.Image, Usage: "image `FILE` (default: a 64×48 grey picture)"},
			&cli.BoolFlag{Name: "json", Destination: &opts.JSON, Usage: "print one JSON object"},
			&cli.IntFlag{Name: "image-min-tokens", Destination: &opts.ImageMinTokens, Usage: "smallest number of tokens `N` an image becomes", DefaultText: "the model family's"},
			&cli.IntFlag{Name: "image-max-tokens", Destination: &opts.ImageMaxTokens, Usage: "largest number of tokens `N` an image becomes", DefaultText: "the model family's"},
			&cli.StringFlag{Name: "resample", Value: "bicubic", Destination: &opts.Resample, Usage: "`MODE` bicubic, bilinear, nearest or llama.cpp, as for predict"},
			&cli.StringFlag{Name: "orientation", Value: "exif", Destination: &opts.Orientation, Usage: "`MODE` exif or ignore, as for predict"},
			&cli.StringFlag{Name: "preprocessor", Destination: &opts.Preprocessor, Usage: "the model's preprocessor_config.json `FILE`, as for predict"},
			&cli.StringFlag{Name: "save-image", Destination: &opts.SaveImage, Usage: "write the RGB pixels the vision encoder gets for --image to `FILE`, as PNG (with --resample llama.cpp: before mtmd resizes them)"},
		},
		Action: noArgs(func(c *cli.Context) error {
			if err := requireFlags("--model-file", opts.ModelFile, "--mmproj", opts.Mmproj, "--prompt", opts.Prompt); err != nil {
				return err
			}
			if opts.SaveImage != "" && opts.Image == "" {
				return usage.Errorf("--save-image", "--save-image needs --image")
			}
			return runPrompt(c.Context, s, opts)
		}),
	}
}

func runPrompt(ctx context.Context, s *streams, opts promptOptions) error {
	img, err := local.ParseImageOptions(opts.Resample, opts.Orientation, opts.Preprocessor)
	if err != nil {
		return usage.Wrap("", err)
	}
	cfg := local.Config{ModelFile: opts.ModelFile, MmprojFile: opts.Mmproj, Image: img,
		ImageMinTokens: opts.ImageMinTokens, ImageMaxTokens: opts.ImageMaxTokens}
	if err := cfg.Check(); err != nil {
		return usage.Wrap("", err)
	}
	out, err := local.RenderPrompt(ctx, cfg, &llm.Request{ImagePath: opts.Image, System: opts.System, Prompt: opts.Prompt})
	if err != nil {
		return err
	}
	if opts.SaveImage != "" {
		if err := savePNG(opts.SaveImage, out.Image.Pixels); err != nil {
			return err
		}
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
	fmt.Fprintf(s.Out, "template: %s\n", from)
	if im := p.Image; im != nil {
		turned := ""
		if im.Orientation != 1 {
			turned = fmt.Sprintf(", turned upright by EXIF orientation %d", im.Orientation)
		}
		resized := fmt.Sprintf("%s to %dx%d", im.Resample, im.Width, im.Height)
		if im.Resample == "llama.cpp" {
			resized = "resized by llama.cpp's mtmd (--save-image writes it before that)"
		}
		fmt.Fprintf(s.Out, "image: %s %dx%d (decoded by %s%s), %s\n", im.Format, im.SourceWidth, im.SourceHeight, im.Decoder, turned, resized)
	}
	fmt.Fprintf(s.Out, "prompt:\n%s", p.Prompt)
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

// savePNG writes packed RGB pixels to path as an 8-bit RGB PNG.
func savePNG(path string, px imageprep.RGB) error {
	img := image.NewRGBA(image.Rect(0, 0, px.Width, px.Height))
	for i := range px.Width * px.Height {
		copy(img.Pix[4*i:4*i+3], px.Pix[3*i:3*i+3])
		img.Pix[4*i+3] = 255
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return fmt.Errorf("save image %s: %w", path, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("save image: %w", err)
	}
	return nil
}
