package local

import (
	"io"
	"log/slog"
)

// log is cfg's Logger, or one that discards: llm/local logs at Debug only,
// through the logger it is given.
func (c *Config) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// status is where the lines a person must see go (Config.Status).
func (c *Config) status() io.Writer {
	if c.Status == nil {
		return io.Discard
	}
	return c.Status
}
