package main

import (
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/config"
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

// configFlags are the flags of the commands that run configured models:
// the config file, the model of gpt4 and the OpenAI flags.
type configFlags struct {
	Config    string
	GPT4Model string
	OpenAI    openaiFlags
}

func configCLIFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "models `FILE` (default ./vlmcmp.yaml, else the built-in models)"},
		&cli.StringFlag{Name: "gpt4-model", Usage: "OpenAI `MODEL` of the model named gpt4 (default " + config.DefaultGPT4Model + ")"},
	}, openaiCLIFlags()...)
}

func readConfigFlags(c *cli.Context) configFlags {
	return configFlags{Config: c.String("config"), GPT4Model: c.String("gpt4-model"), OpenAI: readOpenAIFlags(c)}
}

// load finds the config and applies --gpt4-model.
func (f configFlags) load() (*config.Config, error) {
	cfg, err := config.Find(f.Config)
	if err == nil && f.GPT4Model != "" {
		err = cfg.SetGPT4Model(f.GPT4Model)
	}
	if err != nil {
		return nil, err
	}
	return cfg, nil
}
