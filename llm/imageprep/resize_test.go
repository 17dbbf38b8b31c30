package imageprep

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// naiveResize is Pillow's ImagingResampleInner written plainly, one
// channel sum at a time, horizontal pass over every row: the reference for
// Resize's packed, row-grouped loops at sizes the goldens do not reach
// (odd widths, heights that are not a multiple of four, one-pixel sides).
func naiveResize(src RGB, w, h int, f filter) RGB {
	const half = 1 << (pillowBits - 1)
	tmp := src
	if w != src.Width {
		b, k, ks := coeffs(src.Width, w, f)
		tmp = RGB{Width: w, Height: src.Height, Pix: make([]byte, w*src.Height*3)}
		for y := range src.Height {
			for x := range w {
				for c := range 3 {
					s := int32(half)
					for i := range int(b[2*x+1]) {
						s += int32(src.Pix[(y*src.Width+int(b[2*x])+i)*3+c]) * k[x*ks+i]
					}
					tmp.Pix[(y*w+x)*3+c] = clip8(s)
				}
			}
		}
	}
	if h == src.Height {
		return tmp
	}
	b, k, ks := coeffs(src.Height, h, f)
	out := RGB{Width: w, Height: h, Pix: make([]byte, w*h*3)}
	for y := range h {
		for x := range w {
			for c := range 3 {
				s := int32(half)
				for i := range int(b[2*y+1]) {
					s += int32(tmp.Pix[((int(b[2*y])+i)*w+x)*3+c]) * k[y*ks+i]
				}
				out.Pix[(y*w+x)*3+c] = clip8(s)
			}
		}
	}
	return out
}

// clip8 is Pillow's clip8: a fixed-point sum back to a byte.
func clip8(v int32) byte {
	v >>= pillowBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return byte(v)
}

func TestResizeMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range [][4]int{{37, 23, 11, 7}, {1, 9, 1, 4}, {9, 1, 5, 1}, {50, 50, 77, 33}, {13, 97, 5, 101}, {200, 7, 31, 7}, {7, 200, 7, 31},
		// Windows of many groups of four taps (a 30× shrink), and the benchmark's size.
		{300, 240, 10, 8}, {1920, 1080, 1176, 644}} {
		src := RGB{Width: s[0], Height: s[1], Pix: make([]byte, s[0]*s[1]*3)}
		for i := range src.Pix {
			src.Pix[i] = byte(r.Uint32())
		}
		for _, f := range []struct {
			r Resample
			f filter
		}{{Bicubic, bicubicFilter}, {Bilinear, bilinearFilter}} {
			t.Run(fmt.Sprintf("%dx%d-%dx%d-%v", s[0], s[1], s[2], s[3], f.r), func(t *testing.T) {
				got := Resize(src, s[2], s[3], f.r)
				want := naiveResize(src, s[2], s[3], f.f)
				if d, at := maxDiff(got, want); d != 0 {
					t.Errorf("max difference %d at %s", d, at)
				}
			})
		}
	}
}

// TestLaneStart: the literal laneStart is Pillow's rounding half plus 2^31
// in each 32-bit lane, as its comment says.
func TestLaneStart(t *testing.T) {
	lane := uint64(half + 1<<31)
	got := laneStart // a variable: the constant is negative as an int64
	if want := lane<<32 | lane; uint64(got) != want {
		t.Errorf("laneStart = %#x, want %#x", uint64(got), want)
	}
}
