package local

import (
	"context"
	"fmt"
	"os"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/imageprep"
	"github.com/vlmcmp/vlmcmp/native"
)

// TemplateLlamaCpp is RenderedPrompt.Template when neither the model
// file's chat template nor its family's compiles and llama.cpp's built-in
// formats render the chat (the other values are chat.FromFile and
// chat.FromFamily).
const TemplateLlamaCpp = "llama.cpp"

// RenderedPrompt is what the model sees for one request: the rendered
// prompt and its chunks as the predictor evaluates them. Its JSON is what
// `vlmcmp prompt --json` prints.
type RenderedPrompt struct {
	Model    string        `json:"model"`
	Family   string        `json:"family"`
	Template string        `json:"template"` // chat.FromFile, chat.FromFamily or TemplateLlamaCpp
	Prompt   string        `json:"prompt"`   // the image as native.MediaMarker
	Chunks   []PromptChunk `json:"chunks"`
	// Image is the picture the encoder gets; nil for the stand-in.
	Image *EncoderImage `json:"image,omitempty"`
}

// EncoderImage is an image as the vision encoder gets it (imageprep).
type EncoderImage struct {
	Width        int    `json:"width"` // what the encoder gets (with resample llama.cpp, before mtmd resizes it)
	Height       int    `json:"height"`
	SourceWidth  int    `json:"source_width"` // upright, before resizing
	SourceHeight int    `json:"source_height"`
	Orientation  int    `json:"exif_orientation"` // applied; 1: none
	Format       string `json:"format"`
	Decoder      string `json:"decoder"`
	Resample     string `json:"resample"`
	// Pixels are the packed RGB pixels (vlmcmp prompt --save-image).
	Pixels imageprep.RGB `json:"-"`
}

// PromptChunk is a text chunk (its tokens and their pieces, special tokens
// written out) or the image (the number of tokens it takes).
type PromptChunk struct {
	Type        string         `json:"type"` // text or image
	Tokens      []native.Token `json:"tokens,omitempty"`
	Pieces      []string       `json:"pieces,omitempty"`
	ImageTokens int            `json:"image_tokens,omitempty"`
}

// promptEngine is what RenderPrompt needs of a loaded model and projector:
// the engine's own Template and Tokenize, the template's source and each
// token's text.
type promptEngine interface {
	templater
	Tokenize(prompt string, w, h int, rgb []byte) (chunks, error)
	TemplateSource() string
	Piece(tok native.Token) (string, error)
	Close() error
}

// RenderPrompt renders req (System, Prompt, and the image in Image or at
// ImagePath; without one a 64×48 grey picture stands in, since the image's
// size only changes how many tokens its chunk takes) as a Predictor made by
// New from cfg would, and tokenizes it as that Predictor evaluates it: the
// same chat messages, template (cfg.TextFirst and cfg.RawPrompt included)
// and mtmd tokenization, with the family's image-token budget unless cfg
// sets one. The files are checked in Go first, as New does. It loads the
// model and projector on the CPU, without a context.
func RenderPrompt(ctx context.Context, cfg Config, req *llm.Request) (*RenderedPrompt, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	fam, err := validateFiles(&cfg)
	if err != nil {
		return nil, err
	}
	if err := cfg.fill(fam); err != nil {
		return nil, err
	}
	w, h, rgb := 64, 48, make([]byte, 64*48*3)
	var encImage *EncoderImage
	if req.Image == nil && req.ImagePath == "" {
		for i := range rgb {
			rgb[i] = 128
		}
	} else {
		data := req.Image
		if data == nil {
			if data, err = os.ReadFile(req.ImagePath); err != nil {
				return nil, fmt.Errorf("read image: %w", err)
			}
		}
		img, err := cfg.plan.prepareImage(data)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", req.ImagePath, err)
		}
		w, h, rgb = img.Width, img.Height, img.Pix
		encImage = &EncoderImage{Width: img.Width, Height: img.Height, SourceWidth: img.SourceWidth, SourceHeight: img.SourceHeight,
			Orientation: img.Orientation, Format: img.Format, Decoder: img.Decoder, Resample: cfg.plan.opts.Resample.String(), Pixels: img.RGB}
	}
	eng, err := openPromptEngine(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	out := &RenderedPrompt{Model: cfg.ModelFile, Family: fam.Name, Template: eng.TemplateSource(), Image: encImage}
	if out.Prompt, err = chatPrompt(&cfg, eng, req); err != nil {
		return nil, err
	}
	ch, err := eng.Tokenize(out.Prompt, w, h, rgb)
	if err != nil {
		return nil, err
	}
	defer ch.Close()
	for i := range ch.Len() {
		if ch.Kind(i) != native.ChunkText {
			out.Chunks = append(out.Chunks, PromptChunk{Type: "image", ImageTokens: ch.NTokens(i)})
			continue
		}
		c := PromptChunk{Type: "text", Tokens: ch.Tokens(i)}
		for _, t := range c.Tokens {
			p, err := eng.Piece(t)
			if err != nil {
				return nil, err
			}
			c.Pieces = append(c.Pieces, p)
		}
		out.Chunks = append(out.Chunks, c)
	}
	return out, nil
}
