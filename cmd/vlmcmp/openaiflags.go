package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// openaiFlags are the flags every command that talks to the OpenAI API
// shares. The key itself is never a flag value: it comes from
// OPENAI_API_KEY, --api-key-file or ./API_KEY_Enoch.
type openaiFlags struct {
	APIKeyFile string
	BaseURL    string
}

func openaiCLIFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "api-key-file", Usage: "read the OpenAI API key from `FILE` (default: $OPENAI_API_KEY, else ./" + openaiclient.KeyFileName + ")"},
		&cli.StringFlag{Name: "base-url", Usage: "OpenAI-compatible API at `URL` (default: $OPENAI_BASE_URL, else " + openaiclient.DefaultBaseURL + ")"},
	}
}

func readOpenAIFlags(c *cli.Context) openaiFlags {
	return openaiFlags{APIKeyFile: c.String("api-key-file"), BaseURL: c.String("base-url")}
}

// config is the client configuration the flags give.
func (f openaiFlags) config() openaiclient.Config {
	return openaiclient.Config{APIKeyFile: f.APIKeyFile, BaseURL: f.BaseURL}
}

func init() {
	hintRules = append(hintRules, func(err error) string {
		switch {
		case errors.Is(err, openaiclient.ErrNoKey):
			return "Set OPENAI_API_KEY, or give --api-key-file FILE (a file named " + openaiclient.KeyFileName + " in the working directory is read too)."
		case errors.Is(err, openaiclient.ErrUnauthorized):
			return "The API refused the key: check OPENAI_API_KEY or the key file, and --base-url / OPENAI_BASE_URL."
		case errors.Is(err, openaiclient.ErrFineTuningUnavailable):
			return "This account cannot create fine-tuning jobs; compare the other models with vlmcmp compare --models gpt4,qwen2vl-ft."
		}
		return ""
	})
}
