//go:build !llamacpp

package local

import (
	"context"
	"fmt"

	"github.com/vlmcmp/vlmcmp/native"
)

// openEngine fails in a build without llama.cpp; see engine_llamacpp.go.
func openEngine(context.Context, *Config, string) (engine, engineSetup, error) {
	return nil, engineSetup{}, fmt.Errorf("local: %w", native.ErrNotBuilt)
}

// openPromptEngine fails in a build without llama.cpp.
func openPromptEngine(context.Context, *Config) (promptEngine, error) {
	return nil, fmt.Errorf("local: %w", native.ErrNotBuilt)
}
