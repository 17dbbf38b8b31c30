package imageprep

import (
	"fmt"
	"math"
	"strings"
)

// Resample is how an image is scaled to the size the encoder takes.
type Resample int

const (
	// Bicubic is Pillow's Image.BICUBIC, what the Qwen2-VL-family
	// processors of transformers use: a Keys cubic (a = -0.5), widened by
	// the scale when shrinking (antialiased), in Pillow's fixed point.
	Bicubic Resample = iota
	// Bilinear is Pillow's Image.BILINEAR (a triangle filter, antialiased).
	Bilinear
	// Nearest is Pillow's Image.NEAREST.
	Nearest
	// LlamaCpp leaves the image at its size and lets llama.cpp's mtmd
	// resize it, as llama-server does (at the pinned commit: bilinear,
	// corner-aligned, without antialiasing, to a size rounded half away
	// from zero).
	LlamaCpp
)

var resampleNames = [...]string{Bicubic: "bicubic", Bilinear: "bilinear", Nearest: "nearest", LlamaCpp: "llama.cpp"}

func (r Resample) String() string {
	if r >= 0 && int(r) < len(resampleNames) {
		return resampleNames[r]
	}
	return fmt.Sprintf("Resample(%d)", int(r))
}

// ParseResample reads a resample name: bicubic (also ""), bilinear,
// nearest or llama.cpp.
func ParseResample(s string) (Resample, error) {
	if s == "" {
		return Bicubic, nil
	}
	for i, n := range resampleNames {
		if strings.EqualFold(s, n) {
			return Resample(i), nil
		}
	}
	return 0, fmt.Errorf("resample %q is not one of %s", s, strings.Join(resampleNames[:], ", "))
}

// pillowBits is Pillow's PRECISION_BITS for 8-bit resampling
// (libImaging/Resample.c): coefficients are fixed point with 22 fraction
// bits, so a sum of 255 × 2^22 still fits an int32.
const pillowBits = 32 - 8 - 2

// filter is one of Pillow's resampling filters and its support (radius at
// scale 1).
type filter struct {
	f       func(float64) float64
	support float64
}

var (
	bicubicFilter = filter{func(x float64) float64 {
		const a = -0.5
		x = math.Abs(x)
		switch {
		case x < 1:
			return ((a+2)*x-(a+3))*x*x + 1
		case x < 2:
			return (((x-5)*x+8)*x - 4) * a
		}
		return 0
	}, 2}
	bilinearFilter = filter{func(x float64) float64 {
		x = math.Abs(x)
		if x < 1 {
			return 1 - x
		}
		return 0
	}, 1}
)

// coeffs is Pillow's precompute_coeffs followed by normalize_coeffs_8bpc
// for a whole axis (box 0..in): for each output position its first input
// index, its number of taps, and ksize fixed-point weights.
func coeffs(in, out int, f filter) (bounds []int32, kk []int32, ksize int) {
	scale := float64(float32(in)) / float64(out)
	filterscale := max(scale, 1)
	support := f.support * filterscale
	ksize = int(math.Ceil(support))*2 + 1
	bounds = make([]int32, out*2)
	kk = make([]int32, out*ksize)
	w := make([]float64, ksize)
	ss := 1 / filterscale
	for xx := range out {
		center := (float64(xx) + 0.5) * scale
		xmin := int(center - support + 0.5)
		xmin = max(xmin, 0)
		xmax := min(int(center+support+0.5), in) - xmin
		ww := 0.0
		for x := range xmax {
			w[x] = f.f((float64(x+xmin) - center + 0.5) * ss)
			ww += w[x]
		}
		k := kk[xx*ksize:]
		for x := range xmax {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + v*(1<<pillowBits))
			} else {
				k[x] = int32(0.5 + v*(1<<pillowBits))
			}
		}
		bounds[xx*2], bounds[xx*2+1] = int32(xmin), int32(xmax)
	}
	return bounds, kk, ksize
}

// Two channel sums share one int64 in both passes, in its low and high
// 32 bits, so that one multiplication weighs two bytes. Each lane starts at
// Pillow's rounding half plus 2^31: every channel sum fits an int32, so a
// lane ends in [0, 2^32), the two never mix, and each comes back with a
// shift and a mask. The 2^31 moves the byte value, sum>>22, up by 512,
// which clipTab takes back off (Pillow's clip8 is a table too).
const (
	half = 1 << (pillowBits - 1)
	// laneStart is (half + 2^31) in each lane, 0x8020000080200000 as an int64.
	laneStart int64 = -0x7FDFFFFF7FE00000
)

// clipTab is Pillow's clip8 of a lane's sum>>22 + 512.
var clipTab = func() (t [1024]byte) {
	for i := range t {
		t[i] = byte(min(max(i-512, 0), 255))
	}
	return t
}()

// unpack gives the two bytes of a packed sum.
func unpack(v int64) (lo, hi byte) {
	u := uint64(v)
	return clipTab[u>>pillowBits&1023], clipTab[u>>(32+pillowBits)]
}

// repack gives the two bytes of a packed sum, packed for the next pass.
func repack(v int64) int64 {
	lo, hi := unpack(v)
	return int64(lo) | int64(hi)<<32
}

// padTaps copies a coeffs table to int64 weights, m to an output position
// with m a multiple of four, zero past each window's taps. The passes sum
// four taps a turn, then two (Go does not unroll loops itself), over each
// window's taps rounded up to even (taps(n)): a zero weight adds exactly
// nothing, and m zero pixels past the end of a row keep every padded tap
// in range.
func padTaps(bounds, kk []int32, ksize int) ([]int64, int) {
	n := 0
	for i := 1; i < len(bounds); i += 2 {
		n = max(n, int(bounds[i]))
	}
	m := (n + 3) &^ 3
	out := len(bounds) / 2
	w := make([]int64, out*m)
	for o := range out {
		for i := range int(bounds[2*o+1]) {
			w[o*m+i] = int64(kk[o*ksize+i])
		}
	}
	return w, m
}

// taps is the number of taps the passes sum for a window of n: n rounded
// up to even (4 or 2 a turn).
func taps(n int32) int { return int(n+1) &^ 1 }

// Resize scales src to w×h as Pillow's Image.resize does for an RGB image
// (no reducing_gap), with r Bicubic, Bilinear or Nearest: same size is a
// copy; otherwise ImagingResample's two passes, horizontal first (only over
// the rows the vertical pass reads), each rounded to bytes. A pass whose
// size does not change is skipped, as Pillow skips it.
func Resize(src RGB, w, h int, r Resample) RGB {
	if src.Width == w && src.Height == h {
		return RGB{Width: w, Height: h, Pix: append([]byte(nil), src.Pix...)}
	}
	var f filter
	switch r {
	case Bicubic:
		f = bicubicFilter
	case Bilinear:
		f = bilinearFilter
	case Nearest:
		return nearest(src, w, h)
	default:
		panic(fmt.Sprintf("imageprep: Resize with %v", r))
	}
	out := RGB{Width: w, Height: h, Pix: make([]byte, w*h*3)}
	var vb, vk []int32
	var vks int
	if h != src.Height {
		vb, vk, vks = coeffs(src.Height, h, f)
	} else {
		// No vertical pass: the rows go through the vertical loop with
		// one tap of weight 1.0, which gives each byte back unchanged
		// ((b<<22 + half) >> 22 == b).
		vb, vk, vks = make([]int32, 2*h), make([]int32, h), 1
		for y := range h {
			vb[2*y], vb[2*y+1], vk[y] = int32(y), 1, 1<<pillowBits
		}
	}
	// The intermediate rows the vertical pass reads: first to last.
	first, last := int(vb[0]), int(vb[2*h-2]+vb[2*h-1])
	for y := range h {
		vb[2*y] -= int32(first)
	}
	var fill rowFiller
	if w != src.Width {
		hb, hk, hks := coeffs(src.Width, w, f)
		fill = newHorizontal(src, first, last, w, hb, hk, hks)
	} else {
		fill = packRows(src, first, last)
	}
	vertical(out, fill, vb, vk, vks)
	return out
}

// The intermediate image (the horizontal pass's output, or the source when
// that pass is skipped) is never stored whole: the vertical pass asks for
// its rows four at a time, as its windows move down, and keeps them in a
// small ring, packed as it sums them. A packed row of a w-pixel image is
// w + ⌈w/2⌉ int64: red|green<<32 of every pixel, then blue of pixels
// 2j|2j+1<<32. Two channels share one int64 because each channel's sum
// fits an int32, so the two never mix and each comes back exactly: half
// the multiplications.

// rowFiller packs intermediate rows y0 to y0+3 into dst (rows past the
// end repeat the last one).
type rowFiller func(y0 int, dst *[4][]int64)

func packedLen(w int) int { return w + (w+1)/2 }

// packRows is the rowFiller of the source rows first to last themselves.
func packRows(src RGB, first, last int) rowFiller {
	w := src.Width
	return func(y0 int, dst *[4][]int64) {
		for j, d := range dst {
			y := first + min(y0+j, last-first-1)
			s := src.Pix[y*w*3 : (y+1)*w*3]
			rg, bl := d[:w], d[w:packedLen(w)]
			for x := range rg {
				p := s[3*x : 3*x+3 : 3*x+3]
				rg[x] = int64(p[0]) | int64(p[1])<<32
			}
			for x := range bl {
				b := int64(s[6*x+2])
				if 6*x+5 < len(s) {
					b |= int64(s[6*x+5]) << 32
				}
				bl[x] = b
			}
		}
	}
}

// newHorizontal is ImagingResampleHorizontal_8bpc as a rowFiller: rows
// first to last of src scaled to w pixels, four rows at a time so that
// each weight is loaded once for the four.
func newHorizontal(src RGB, first, last, w int, bounds, kk []int32, ksize int) rowFiller {
	wt, m := padTaps(bounds, kk, ksize)
	sstride := src.Width * 3
	// Six int64 lanes per source pixel, side by side so that a window is
	// one contiguous slice: red|green<<32 of rows 0 to 3, then blue of rows
	// 0|1<<32 and 2|3<<32. Then m pixels of zeros, where the padded taps of
	// the last windows read.
	buf := make([]int64, 6*(src.Width+m))
	pix := buf[:6*src.Width]
	return func(y0 int, dst *[4][]int64) {
		var s [4][]byte
		for j := range s {
			y := first + min(y0+j, last-first-1)
			s[j] = src.Pix[y*sstride : (y+1)*sstride]
		}
		s0, s1, s2, s3 := s[0], s[1][:len(s[0])], s[2][:len(s[0])], s[3][:len(s[0])]
		for x := 0; x+6 <= len(pix); x += 6 {
			i := x / 2 // 3 bytes a pixel, 6 lanes
			p := pix[x : x+6 : x+6]
			q0, q1, q2, q3 := s0[i:i+3:i+3], s1[i:i+3:i+3], s2[i:i+3:i+3], s3[i:i+3:i+3]
			p[0] = int64(q0[0]) | int64(q0[1])<<32
			p[1] = int64(q1[0]) | int64(q1[1])<<32
			p[2] = int64(q2[0]) | int64(q2[1])<<32
			p[3] = int64(q3[0]) | int64(q3[1])<<32
			p[4] = int64(q0[2]) | int64(q1[2])<<32
			p[5] = int64(q2[2]) | int64(q3[2])<<32
		}
		rg0, rg1, rg2, rg3 := dst[0][:w], dst[1][:w], dst[2][:w], dst[3][:w]
		bl0, bl1, bl2, bl3 := dst[0][w:], dst[1][w:], dst[2][w:], dst[3][w:]
		var even [4]int64 // blue of the last even pixel, until its odd neighbour comes
		for xx := range rg0 {
			xmin := int(bounds[2*xx])
			k := wt[xx*m : xx*m+taps(bounds[2*xx+1])]
			p := buf[6*xmin : 6*(xmin+len(k))]
			a0, a1, a2, a3, c01, c23 := laneStart, laneStart, laneStart, laneStart, laneStart, laneStart
			// Four taps a turn, then two (taps rounds windows up to even),
			// by index: re-slicing k and p each turn costs more.
			i := 0
			for ; i+4 <= len(k); i += 4 {
				kw, q := k[i:i+4:i+4], p[6*i:6*i+24:6*i+24]
				w0, w1, w2, w3 := kw[0], kw[1], kw[2], kw[3]
				a0 += q[0]*w0 + q[6]*w1 + q[12]*w2 + q[18]*w3
				a1 += q[1]*w0 + q[7]*w1 + q[13]*w2 + q[19]*w3
				a2 += q[2]*w0 + q[8]*w1 + q[14]*w2 + q[20]*w3
				a3 += q[3]*w0 + q[9]*w1 + q[15]*w2 + q[21]*w3
				c01 += q[4]*w0 + q[10]*w1 + q[16]*w2 + q[22]*w3
				c23 += q[5]*w0 + q[11]*w1 + q[17]*w2 + q[23]*w3
			}
			if i+2 <= len(k) {
				kw, q := k[i:i+2:i+2], p[6*i:6*i+12:6*i+12]
				w0, w1 := kw[0], kw[1]
				a0 += q[0]*w0 + q[6]*w1
				a1 += q[1]*w0 + q[7]*w1
				a2 += q[2]*w0 + q[8]*w1
				a3 += q[3]*w0 + q[9]*w1
				c01 += q[4]*w0 + q[10]*w1
				c23 += q[5]*w0 + q[11]*w1
			}
			rg0[xx], rg1[xx], rg2[xx], rg3[xx] = repack(a0), repack(a1), repack(a2), repack(a3)
			b0, b1 := unpack(c01)
			b2, b3 := unpack(c23)
			v0, v1, v2, v3 := int64(b0), int64(b1), int64(b2), int64(b3)
			if xx&1 == 0 {
				even = [4]int64{v0, v1, v2, v3}
				continue
			}
			j := xx / 2
			bl0[j], bl1[j], bl2[j], bl3[j] = even[0]|v0<<32, even[1]|v1<<32, even[2]|v2<<32, even[3]|v3<<32
		}
		if w&1 == 1 {
			j := w / 2
			bl0[j], bl1[j], bl2[j], bl3[j] = even[0], even[1], even[2], even[3]
		}
	}
}

// vertical is ImagingResampleVertical_8bpc over the packed intermediate
// rows fill gives, summed over whole rows four taps at a time (the same
// integer sums in another order, which is exact). Windows of more than
// four taps keep their partial sums in acc between groups of four; the
// last group writes bytes.
func vertical(dst RGB, fill rowFiller, bounds, kk []int32, ksize int) {
	wt, m := padTaps(bounds, kk, ksize)
	w := dst.Width
	plen := packedLen(w)
	acc := make([]int64, plen)
	// The ring holds the rows of the window being summed and the up to
	// three rows filled past it: windows only move down.
	ringN := ksize + 4
	ring := make([][]int64, ringN)
	for i := range ring {
		ring[i] = make([]int64, plen)
	}
	filled := 0         // rows 0 to filled-1 have been filled
	var four [4][]int64 // the slots fill packs into (one allocation, not one a call)
	rows := make([][]int64, m)
	for yy := range dst.Height {
		ymin, n := int(bounds[2*yy]), int(bounds[2*yy+1])
		for filled < ymin+n {
			for j := range four {
				four[j] = ring[(filled+j)%ringN]
			}
			fill(filled, &four)
			filled += 4
		}
		// The taps go four at a time, the last four straight to bytes;
		// a window of 4q+2 starts with two. The weights past a window's
		// taps are zero, m at least four.
		nt := max(taps(bounds[2*yy+1]), 4)
		for j := range nt {
			// Padded taps (weight 0) read the window's last row again.
			rows[j] = ring[(ymin+max(min(j, n-1), 0))%ringN][:plen]
		}
		k := wt[yy*m : yy*m+nt]
		a := acc[:plen]
		g := 0
		switch {
		case nt%4 == 2:
			r0, r1 := rows[0], rows[1][:plen]
			c0, c1 := k[0], k[1]
			for x := range r0 {
				a[x] = laneStart + r0[x]*c0 + r1[x]*c1
			}
			g = 2
		case nt == 4:
			for x := range a {
				a[x] = laneStart
			}
		default:
			r0, r1, r2, r3 := rows[0], rows[1][:plen], rows[2][:plen], rows[3][:plen]
			c0, c1, c2, c3 := k[0], k[1], k[2], k[3]
			for x := range r0 {
				a[x] = laneStart + r0[x]*c0 + r1[x]*c1 + r2[x]*c2 + r3[x]*c3
			}
			g = 4
		}
		for ; g+4 < nt; g += 4 {
			r0, r1, r2, r3 := rows[g], rows[g+1][:plen], rows[g+2][:plen], rows[g+3][:plen]
			c0, c1, c2, c3 := k[g], k[g+1], k[g+2], k[g+3]
			for x := range r0 {
				a[x] += r0[x]*c0 + r1[x]*c1 + r2[x]*c2 + r3[x]*c3
			}
		}
		r0, r1, r2, r3 := rows[g], rows[g+1][:plen], rows[g+2][:plen], rows[g+3][:plen]
		c0, c1, c2, c3 := k[g], k[g+1], k[g+2], k[g+3]
		drow := dst.Pix[yy*w*3 : (yy+1)*w*3]
		for x := range w { // red|green of each pixel
			v := a[x] + r0[x]*c0 + r1[x]*c1 + r2[x]*c2 + r3[x]*c3
			d := drow[3*x : 3*x+2 : 3*x+2]
			d[0], d[1] = unpack(v)
		}
		for x := w; x < plen; x++ { // blue of two pixels
			v := a[x] + r0[x]*c0 + r1[x]*c1 + r2[x]*c2 + r3[x]*c3
			b0, b1 := unpack(v)
			j := 6*(x-w) + 2
			drow[j] = b0
			if j+3 < len(drow) {
				drow[j+3] = b1
			}
		}
	}
}

// nearest is Pillow's NEAREST resize: ImagingScaleAffine with a[0] =
// in/out, starting at half a step and adding the step (in float64, as
// Pillow accumulates it).
func nearest(src RGB, w, h int) RGB {
	out := RGB{Width: w, Height: h, Pix: make([]byte, w*h*3)}
	coord := func(v float64) int {
		if v < 0 {
			return -1
		}
		return int(v)
	}
	ax := float64(float32(src.Width)) / float64(w)
	ay := float64(float32(src.Height)) / float64(h)
	xin := make([]int, w)
	xo := ax * 0.5
	for x := range w {
		xin[x] = min(coord(xo), src.Width-1)
		xo += ax
	}
	yo := ay * 0.5
	for y := range h {
		yi := min(coord(yo), src.Height-1)
		yo += ay
		srow := src.Pix[yi*src.Width*3:]
		drow := out.Pix[y*w*3:]
		for x, xi := range xin {
			copy(drow[x*3:x*3+3], srow[xi*3:xi*3+3])
		}
	}
	return out
}
