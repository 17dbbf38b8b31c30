package usage

import (
	"errors"
	"fmt"
	"testing"
)

func TestExclusive(t *testing.T) {
	for _, tc := range []struct {
		opts []Opt
		want string // "" for no error
		key  string
	}{
		{[]Opt{{"--a", false}, {"--b", false}}, "", ""},
		{[]Opt{{"--a", true}, {"--b", false}}, "", ""},
		{[]Opt{{"--a", true}, {"--b", true}}, "give --a or --b, not both", "--a"},
		{[]Opt{{"x", false}, {"y", true}, {"z", true}}, "give one of x, y, z, not y and z", "y"},
	} {
		err := Exclusive(tc.opts...)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.opts, err)
			}
			continue
		}
		key, ok := Is(fmt.Errorf("wrapped: %w", err))
		if err == nil || err.Error() != tc.want || !ok || key != tc.key {
			t.Errorf("%v: %v (key %q, usage %v), want %q with key %q", tc.opts, err, key, ok, tc.want, tc.key)
		}
	}
}

func TestWrapKeepsTheFirstKey(t *testing.T) {
	if Wrap("x", nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
	inner := Errorf("detail", "detail %q is not one of low, high, auto", "max")
	err := Wrap("--config", fmt.Errorf("c.yaml:3: %w", inner))
	if key, ok := Is(err); !ok || key != "detail" {
		t.Errorf("key %q, usage %v; want the inner key", key, ok)
	}
	if key, ok := Is(Wrap("--model", errors.New("unknown model"))); !ok || key != "--model" {
		t.Errorf("key %q, usage %v", key, ok)
	}
	if _, ok := Is(errors.New("disk full")); ok {
		t.Error("a plain error is a usage error")
	}
}
