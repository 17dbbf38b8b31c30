// Package usage is the one error type for a mistake in what the user asked
// for — a flag, a YAML key, an option of a library call — as opposed to a
// failure while doing it. Every layer returns it (eval, eval/config,
// eval/backend, eval/bench, eval/predict, llm/local); cmd/vlmcmp maps it to
// exit status 2 and prints the command's usage line.
//
// It imports nothing of the project, so that any package may use it.
package usage

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a usage error: Key names the flag ("--shard") or YAML key
// ("base_urls") at fault, when one is; Err says what is wrong in a sentence
// that already names it.
type Error struct {
	Key string
	Err error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf is a usage error about key ("" for none) with a formatted message.
func Errorf(key, format string, args ...any) error {
	return &Error{Key: key, Err: fmt.Errorf(format, args...)}
}

// Wrap marks err as a usage error about key; nil stays nil, and an error
// that is a usage error already keeps its own key.
func Wrap(key string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*Error](err); ok {
		return err
	}
	return &Error{Key: key, Err: err}
}

// Is reports whether err is a usage error, and its key.
func Is(err error) (key string, ok bool) {
	e, ok := errors.AsType[*Error](err)
	if !ok {
		return "", false
	}
	return e.Key, true
}

// Exclusive is the one check for options that exclude each other: given
// (name, set) pairs, it returns nil when at most one is set, else the usage
// error "give A or B, not both" (or "give one of A, B, C, not two")
// naming the first one set.
func Exclusive(opts ...Opt) error {
	var set []string
	for _, o := range opts {
		if o.Set {
			set = append(set, o.Name)
		}
	}
	if len(set) < 2 {
		return nil
	}
	if len(opts) == 2 {
		return Errorf(set[0], "give %s or %s, not both", opts[0].Name, opts[1].Name)
	}
	names := make([]string, len(opts))
	for i, o := range opts {
		names[i] = o.Name
	}
	return Errorf(set[0], "give one of %s, not %s", strings.Join(names, ", "), strings.Join(set, " and "))
}

// Opt is an option for [Exclusive]: its name as the user writes it, and
// whether it is set.
type Opt struct {
	Name string
	Set  bool
}
