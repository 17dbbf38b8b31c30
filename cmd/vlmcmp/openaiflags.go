package main

import (
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/backend"
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
func (f openaiFlags) config(log *slog.Logger) openaiclient.Config {
	return openaiclient.Config{APIKeyFile: f.APIKeyFile, BaseURL: f.BaseURL, Logger: log}
}

// overrides are the flags as the backends take them.
func (f openaiFlags) overrides() backend.OpenAIOverrides {
	return backend.OpenAIOverrides{APIKeyFile: f.APIKeyFile, BaseURL: f.BaseURL}
}
