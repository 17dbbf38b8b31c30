package eval

import (
	"fmt"
	"regexp"

	"github.com/vlmcmp/vlmcmp/usage"
)

var leadingFlag = regexp.MustCompile(`^(--[a-z][a-z-]*)`)

// optionErrorf is a mistake in the options (an unknown model, a bad run id,
// a baseline that is not one of the run's models), as opposed to a failure
// while running: a [usage.Error] whose key is the flag the message starts
// with, if any.
func optionErrorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &usage.Error{Key: leadingFlag.FindString(err.Error()), Err: err}
}
