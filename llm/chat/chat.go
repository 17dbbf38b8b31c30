// Package chat renders a conversation into the prompt a local model sees,
// with the model's own Jinja chat template (the GGUF key
// tokenizer.chat_template) as Hugging Face's apply_chat_template renders
// it: trim_blocks and lstrip_blocks on, messages whose content is a list
// of typed parts ({"type": "image"}, {"type": "text", "text": ...}), and
// add_generation_prompt. Files without a template fall back to their
// family's built-in template (package family).
//
// The Qwen templates write an image as
// <|vision_start|><|image_pad|><|vision_end|>; Hugging Face's processor
// then repeats <|image_pad|> once per image token, while llama.cpp's mtmd
// takes a media marker where the image goes and adds <|vision_start|> and
// <|vision_end|> itself. ForMtmd turns one into the other, so the tokens
// llama.cpp evaluates are Hugging Face's with the image's embeddings in
// place of the pad tokens.
package chat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nikolalohinski/gonja/v2"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"

	"github.com/vlmcmp/vlmcmp/llm/family"
)

// Part is one piece of a message: text, or an image (Type "image").
type Part struct {
	Type string // "text" or "image"
	Text string
}

// Message is one turn of a conversation. A message with one text part is
// passed to the template as a plain string when Plain is set, as OpenAI
// style clients send system prompts; otherwise as a list of parts.
type Message struct {
	Role  string
	Parts []Part
	Plain bool
}

// Text is a message whose content is a plain string.
func Text(role, s string) Message {
	return Message{Role: role, Parts: []Part{{Type: "text", Text: s}}, Plain: true}
}

// Source says where a Template came from.
type Source string

const (
	FromFile   Source = "gguf"    // the model file's tokenizer.chat_template
	FromFamily Source = "builtin" // the family's built-in template: the file has none
)

// Template is a compiled chat template.
type Template struct {
	tpl    *exec.Template
	Source Source
	Name   string // the family whose built-in template it is, or ""
}

// ImageText is what the Qwen templates write for one image.
const ImageText = "<|vision_start|><|image_pad|><|vision_end|>"

// noFiles refuses {% include %} and friends: a template is only the string
// it came in.
type noFiles struct{}

func (noFiles) Read(p string) (io.Reader, error) {
	return nil, fmt.Errorf("chat template may not read %q", p)
}
func (noFiles) Resolve(p string) (string, error) {
	return "", fmt.Errorf("chat template may not read %q", p)
}
func (n noFiles) Inherit(string) (loaders.Loader, error) { return n, nil }

// Compile compiles a Jinja chat template with Hugging Face's settings.
// A template is data from a model file: the Jinja engine panics on some
// inputs (a modulo by zero), which Compile and Render return as errors.
func Compile(source string) (t *Template, err error) {
	defer recoverTo(&err)
	if strings.TrimSpace(source) == "" {
		return nil, errors.New("chat template is empty")
	}
	cfg := config.New()
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = true
	l, err := loaders.NewShiftedLoader("chat_template", bytes.NewReader([]byte(source)), noFiles{})
	if err != nil {
		return nil, err
	}
	x, err := exec.NewTemplate("chat_template", cfg, l, gonja.DefaultEnvironment)
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	return &Template{tpl: x, Source: FromFile}, nil
}

func recoverTo(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("chat template: %v", r)
	}
}

// ForModel returns the template a model file carries (fileTemplate, the
// value of tokenizer.chat_template, "" when absent) or, without one, its
// family's built-in template. fam may be nil when the file has a template.
func ForModel(fileTemplate string, fam *family.Family) (*Template, error) {
	if strings.TrimSpace(fileTemplate) != "" {
		return Compile(fileTemplate)
	}
	if fam == nil {
		return nil, errors.New("model has no chat template and no known family")
	}
	t, err := Compile(fam.ChatTemplate)
	if err != nil {
		return nil, fmt.Errorf("%s built-in %w", fam.Title, err)
	}
	t.Source, t.Name = FromFamily, fam.Name
	return t, nil
}

// Render renders msgs as Hugging Face does, with add_generation_prompt.
func (t *Template) Render(msgs []Message, addGenerationPrompt bool) (out string, err error) {
	defer recoverTo(&err)
	list := make([]any, len(msgs))
	for i, m := range msgs {
		var content any
		if m.Plain && len(m.Parts) == 1 && m.Parts[0].Type == "text" {
			content = m.Parts[0].Text
		} else {
			parts := make([]any, len(m.Parts))
			for j, p := range m.Parts {
				switch p.Type {
				case "image":
					parts[j] = map[string]any{"type": "image"}
				case "text":
					parts[j] = map[string]any{"type": "text", "text": p.Text}
				default:
					return "", fmt.Errorf("message %d part %d: type %q, want text or image", i, j, p.Type)
				}
			}
			content = parts
		}
		list[i] = map[string]any{"role": m.Role, "content": content}
	}
	ctx := exec.NewContext(map[string]any{
		"messages":              list,
		"add_generation_prompt": addGenerationPrompt,
		"add_vision_id":         false,
		"bos_token":             "",
		"eos_token":             "<|im_end|>",
	})
	s, err := t.tpl.ExecuteToString(ctx)
	if err != nil {
		return "", fmt.Errorf("render chat template: %w", err)
	}
	return s, nil
}

// ForMtmd turns a rendered prompt into mtmd's input: each image's
// ImageText becomes marker, since mtmd adds the vision start and end
// tokens around the image itself. It fails unless there are exactly
// images of them.
func ForMtmd(prompt, marker string, images int) (string, error) {
	if n := strings.Count(prompt, ImageText); n != images {
		return "", fmt.Errorf("rendered prompt has %d images (%s), want %d", n, ImageText, images)
	}
	return strings.ReplaceAll(prompt, ImageText, marker), nil
}

// Prompt is what a local predictor needs for one request: the system
// prompt (none when empty) and a user turn of the image then the text,
// rendered with the generation prompt and the image replaced by marker
// for mtmd.
func (t *Template) Prompt(system, user, marker string) (string, error) {
	var msgs []Message
	if system != "" {
		msgs = append(msgs, Text("system", system))
	}
	msgs = append(msgs, Message{Role: "user", Parts: []Part{{Type: "image"}, {Type: "text", Text: user}}})
	s, err := t.Render(msgs, true)
	if err != nil {
		return "", err
	}
	return ForMtmd(s, marker, 1)
}
