//go:build llamacpp

package native

import (
	"slices"
	"testing"
)

// TestSetThreads changes a context's threads between decodes: the answer is
// the same token for token (the thread count splits work between threads,
// not the order of any sum), and a closed context ignores the call.
func TestSetThreads(t *testing.T) {
	e := loadTiny(t)
	_, two := e.generate(t, e.newContext(t, ContextParams{Threads: 2}), 0, SamplerParams{}, 10)
	c := e.newContext(t, ContextParams{Threads: 2})
	c.SetThreads(1, 1)
	_, one := e.generate(t, c, 0, SamplerParams{}, 10)
	if !slices.Equal(one, two) {
		t.Errorf("1 thread gave %v, 2 threads %v", one, two)
	}
	c.SetThreads(0, -3) // taken as 1
	c.Close()
	c.SetThreads(2, 2)
}
