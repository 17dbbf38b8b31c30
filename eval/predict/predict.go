// Package predict answers a prompt about one image: with a local Qwen2-VL
// loaded from its files ([Local]) or with a model of the config, local or
// OpenAI ([Configured]). It is the library behind vlmcmp predict; a
// comparison over many images is package eval's.
//
// It imports the backends (eval/backend, llm/local) and the config; nothing
// in the project imports it but the command.
package predict

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/local"
	"github.com/vlmcmp/vlmcmp/usage"
)

// Request is one image to answer about.
type Request struct {
	// Image is the image file (JPEG, PNG, WebP, GIF or BMP). It is read
	// before any model loads, so a wrong path costs nothing.
	Image string
	// Prompt and System are the user's text and the system prompt. For
	// Configured, empty means the model's configured prompt (else
	// llm.DefaultPrompt and llm.DefaultSystem).
	Prompt, System string
	// MaxTokens bounds the answer; 0 means the backend's default.
	MaxTokens int
	// GrammarFile (GBNF, local models only) or SchemaFile (JSON schema)
	// constrain the answer; at most one may be set.
	GrammarFile, SchemaFile string
	// ImageNote, when set, is given the local model's one-sentence note
	// when the image was scaled below what Hugging Face's processor for
	// its family keeps by default (local.Predictor.ImageBudgetNote).
	ImageNote func(string)
}

// read turns r into an llm.Request: the image and the constraint files
// read, the prompts as given.
func (r Request) read() (*llm.Request, error) {
	if err := usage.Exclusive(usage.Opt{Name: "a grammar", Set: r.GrammarFile != ""}, usage.Opt{Name: "a json schema", Set: r.SchemaFile != ""}); err != nil {
		return nil, err
	}
	img, err := os.ReadFile(r.Image)
	if err != nil {
		return nil, fmt.Errorf("read image: %w", err)
	}
	req := &llm.Request{ID: r.Image, ImagePath: r.Image, Image: img, Prompt: r.Prompt, System: r.System,
		Options: llm.Options{MaxTokens: r.MaxTokens}}
	if r.GrammarFile != "" {
		b, err := os.ReadFile(r.GrammarFile)
		if err != nil {
			return nil, fmt.Errorf("grammar: %w", err)
		}
		req.Options.Grammar = string(b)
	}
	if r.SchemaFile != "" {
		b, err := os.ReadFile(r.SchemaFile)
		if err != nil {
			return nil, fmt.Errorf("json schema: %w", err)
		}
		req.Options.JSONSchema = string(b)
	}
	return req, nil
}

// Local loads the model cfg describes with one sequence, answers req and
// closes the model. A grammar or schema applies to the whole model (it is
// checked before the model loads). With cfg.RawPrompt, req.Prompt is the
// whole prompt, in which the two characters \n stand for a newline.
func Local(ctx context.Context, cfg local.Config, r Request) (*llm.Prediction, error) {
	req, err := r.read()
	if err != nil {
		return nil, err
	}
	cfg.Parallel = 1
	cfg.Grammar = req.Options.Grammar
	if s := req.Options.JSONSchema; s != "" {
		if _, err := local.SchemaToGrammar(s); err != nil {
			return nil, fmt.Errorf("%s: %w", r.SchemaFile, err)
		}
		cfg.JSONSchema = s
	}
	req.Options.Grammar, req.Options.JSONSchema = "", ""
	if cfg.RawPrompt {
		req.Prompt = strings.ReplaceAll(req.Prompt, `\n`, "\n")
	}
	p, err := local.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	pred, err := p.Predict(ctx, req)
	if _, _, note := p.ImageBudgetNote(); note != "" && r.ImageNote != nil {
		r.ImageNote(note)
	}
	return pred, err
}

// Configured answers req with the model of cfg named name, local or
// OpenAI, as vlmcmp compare would build it, with its configured prompt
// unless req gives one. A baseline, or a model that is not ready (no key,
// missing files), is refused before anything loads. Mistakes in the request
// or the options (a model the config lacks, a grammar for a backend that
// takes none) are [usage.Error]s.
func Configured(ctx context.Context, cfg *config.Config, name string, env backend.Env, r Request) (*llm.Prediction, error) {
	m, err := cfg.Lookup(name)
	if err != nil {
		return nil, usage.Wrap("--model", err)
	}
	_, isLocal := m.Spec.(*backend.LocalSpec)
	switch bl, isBaseline := m.Spec.(*backend.BaselineSpec); {
	case isBaseline:
		return nil, fmt.Errorf("model %s is a baseline: it predicts the training split's %s for every image; vlmcmp compare runs it", m.Name, bl.Stat)
	case r.GrammarFile != "" && !isLocal:
		return nil, usage.Errorf("--grammar", "a grammar works with local models only; %s is %s (use a json schema)", m.Name, m.Backend)
	}
	if rd := m.Spec.Ready(env); !rd.Ready {
		return nil, fmt.Errorf("model %s is not ready: %s", m.Name, rd.Reason)
	}
	req, err := r.read()
	if err != nil {
		return nil, err
	}
	prompt, system := cfg.PromptFor(m)
	req.Prompt, req.System = or(r.Prompt, prompt), or(r.System, system)
	if req.Prompt == "" {
		// No prompt of its own and no ground-truth record to take one from.
		req.Prompt, req.System = llm.DefaultPrompt, or(req.System, llm.DefaultSystem)
	}
	id, err := backend.ModelIdentity(m.Spec, prompt, system, env)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	b, err := backend.Build(ctx, m.Name, m.Spec, id, env)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return b.Predictor.Predict(ctx, req)
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
