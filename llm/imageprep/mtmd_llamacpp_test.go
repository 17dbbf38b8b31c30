//go:build llamacpp

package imageprep

import (
	"fmt"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/family"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
	"github.com/vlmcmp/vlmcmp/native"
)

// TestMtmdKeepsSize: every size the pipeline hands mtmd (smart_resize's,
// within the token bounds the projector is loaded with) comes out of
// mtmd's own preprocessing as that size, so mtmd only copies the pixels.
// It checks, with the real mtmd of the pinned llama.cpp on each family's
// tiny model, that the image chunk's token grid is the size divided by the
// factor, over sizes that hit every branch of smart_resize (round half to
// even, the max and min bounds, extreme aspect ratios), for the family's
// default bounds and for tight ones.
func TestMtmdKeepsSize(t *testing.T) {
	sides := []int{1, 2, 13, 14, 27, 28, 29, 41, 42, 43, 56, 70, 80, 98, 112, 126, 144, 200, 333, 480, 640, 644, 1080, 1176, 1920, 3000, 4032}
	for _, fam := range family.All() {
		lo, hi := fam.DefaultImageTokens()
		for _, b := range [][2]int{{lo, hi}, {1, 16}, {48, 80}, {lo, 2048}} {
			t.Run(fmt.Sprintf("%s/%d..%d", fam.Name, b[0], b[1]), func(t *testing.T) {
				files, err := synth.Write(t.TempDir(), synth.Options{Family: fam.Name, Shape: synth.Tiny, Seed: 1})
				if err != nil {
					t.Fatal(err)
				}
				m, err := native.LoadModel(files.Model, native.ModelParams{})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				pr, err := native.LoadProjector(files.Mmproj, m, native.ProjectorParams{Threads: 1, ImageMinTokens: b[0], ImageMaxTokens: b[1]})
				if err != nil {
					t.Fatal(err)
				}
				defer pr.Close()
				f := fam.Patch * fam.Merge
				opts := Options{Factor: f, MinPixels: b[0] * f * f, MaxPixels: b[1] * f * f}
				seen := map[[2]int]bool{}
				for _, h := range sides {
					for _, w := range sides {
						th, tw, err := SmartResize(h, w, f, opts.MinPixels, opts.MaxPixels)
						if err != nil || tw*th < opts.MinPixels || tw*th > opts.MaxPixels {
							continue // Prepare refuses these
						}
						if seen[[2]int{tw, th}] {
							continue
						}
						seen[[2]int{tw, th}] = true
						bm, err := native.NewBitmap(tw, th, make([]byte, tw*th*3))
						if err != nil {
							t.Fatal(err)
						}
						ch, err := pr.Tokenize(native.MediaMarker, []*native.Bitmap{bm}, false)
						bm.Close()
						if err != nil {
							t.Fatalf("%dx%d (from %dx%d): %v", tw, th, w, h, err)
						}
						nx, ny := 0, 0
						for i := range ch.Len() {
							if ch.Kind(i) == native.ChunkImage {
								nx, ny = ch.ImageGrid(i)
							}
						}
						ch.Close()
						if nx != tw/f || ny != th/f {
							t.Errorf("%dx%d (from %dx%d): mtmd made a %dx%d token grid, want %dx%d: it resized the picture", tw, th, w, h, nx, ny, tw/f, th/f)
						}
					}
				}
				if len(seen) < 10 {
					t.Fatalf("only %d distinct sizes checked", len(seen))
				}
				t.Logf("%d sizes kept", len(seen))
			})
		}
	}
}
