package main

import (
	"context"
	"errors"

	"github.com/vlmcmp/vlmcmp/eval/config"
)

// TODO(integration): replaced by openaiclient and llm/local when they land.
var errBackendPending = errors.New("backend not built into this binary yet")

func buildOpenAI(ctx context.Context, cfg *config.Config, m *config.Model) (*builtModel, error) {
	return nil, errBackendPending
}

func buildLocal(ctx context.Context, cfg *config.Config, m *config.Model) (*builtModel, error) {
	return nil, errBackendPending
}

func localAvailable() error { return nil }
