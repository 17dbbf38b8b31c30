//go:build llamacpp

package native

import "testing"

// TestImageBatch checks the batch given to mtmd's image decode helper: a
// power of two, whole images in one decode when the context's batch holds
// them, and never a count of zero decodes as GGML_PAD gave for 784.
func TestImageBatch(t *testing.T) {
	for _, tc := range []struct{ n, nBatch, want int }{
		{192, 784, 256},
		{192, 1024, 256},
		{784, 784, 1024},
		{1, 512, 1},
		{513, 2048, 1024},
		{900, 784, 512},
		{5000, 2048, 2048},
	} {
		got := imageBatch(tc.n, tc.nBatch)
		if got != tc.want {
			t.Errorf("imageBatch(%d, %d) = %d, want %d", tc.n, tc.nBatch, got, tc.want)
		}
		// The helper's count, GGML_PAD(n, b)/b, must cover the image,
		// and no decode may exceed the context's batch.
		pad := (tc.n + got - 1) &^ (got - 1)
		if decodes := pad / got; decodes*got < tc.n || min(got, tc.n) > tc.nBatch {
			t.Errorf("imageBatch(%d, %d) = %d: %d decodes of at most %d tokens", tc.n, tc.nBatch, got, decodes, min(got, tc.n))
		}
	}
}
