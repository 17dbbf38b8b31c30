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

// clip8 is Pillow's clip8: the fixed-point sum back to a byte. min and max
// compile to conditional moves: no branch to mispredict on noisy pictures,
// where overshoot past 0 or 255 is common.
func clip8(v int32) byte {
	return byte(min(max(v>>pillowBits, 0), 255))
}

// padTaps pads every window of a coeffs table to the same number of taps,
// a multiple of four, with zero weights (that add exactly nothing), so the
// passes run the same unrolled loop for every output position. It returns
// the weights as int64 (m to a position) and m.
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

// Resize scales src to w×h as Pillow's Image.resize does for an RGB image
// (no reducing_gap), with r Bicubic, Bilinear or Nearest: same size is a
// copy; otherwise ImagingResample's two passes, horizontal first (only over
// the rows the vertical pass reads), each rounded to bytes.
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
	needH, needV := w != src.Width, h != src.Height
	hb, hk, hks := coeffs(src.Width, w, f)
	vb, vk, vks := coeffs(src.Height, h, f)
	cur := src
	if needH {
		first := int(vb[0])
		last := int(vb[2*h-2] + vb[2*h-1])
		if !needV {
			first, last = 0, src.Height
		}
		tmp := RGB{Width: w, Height: last - first, Pix: make([]byte, w*(last-first)*3)}
		horizontal(tmp, src, first, hb, hk, hks)
		if needV {
			for i := range h {
				vb[2*i] -= int32(first)
			}
		}
		cur = tmp
	}
	if !needV {
		return cur
	}
	out := RGB{Width: cur.Width, Height: h, Pix: make([]byte, cur.Width*h*3)}
	vertical(out, cur, vb, vk, vks)
	return out
}

// horizontal is ImagingResampleHorizontal_8bpc: row y of dst from row
// y+offset of src, four rows at a time so that each weight is loaded once
// for the four. Two channel sums share one int64 (each sum fits an int32,
// so they never mix and each comes back exactly): per source pixel six
// lanes, red|green<<32 of rows 0 to 3, then blue of rows 0|1<<32 and
// 2|3<<32, side by side so that a window is one contiguous slice.
func horizontal(dst, src RGB, offset int, bounds, kk []int32, ksize int) {
	const half = 1 << (pillowBits - 1)
	const halves = int64(half) | int64(half)<<32
	w, m := padTaps(bounds, kk, ksize)
	sstride, dstride := src.Width*3, dst.Width*3
	// m pixels of zeros past the end, where the padded taps of the last
	// windows read.
	buf := make([]int64, 6*(src.Width+m))
	pix := buf[:6*src.Width]
	// Where the rows past dst's end go when its height is not a multiple
	// of four (their source is the last row again).
	scratch := make([]byte, dstride)
	var d [4][]byte
	for y0 := 0; y0 < dst.Height; y0 += 4 {
		var s [4][]byte
		for j := range 4 {
			y := min(y0+j, dst.Height-1)
			s[j] = src.Pix[(y+offset)*sstride : (y+offset+1)*sstride]
			d[j] = scratch
			if y0+j < dst.Height {
				d[j] = dst.Pix[(y0+j)*dstride : (y0+j+1)*dstride]
			}
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
		d0, d1, d2, d3 := d[0][:dstride], d[1][:dstride], d[2][:dstride], d[3][:dstride]
		for xx := range dst.Width {
			xmin := int(bounds[2*xx])
			k := w[xx*m : xx*m+m]
			p := buf[6*xmin : 6*(xmin+m)]
			a0, a1, a2, a3, c01, c23 := halves, halves, halves, halves, halves, halves
			// Four taps a turn (m is a multiple of four): Go does not
			// unroll loops itself.
			for len(k) >= 4 && len(p) >= 24 {
				w0, w1, w2, w3 := k[0], k[1], k[2], k[3]
				q := p[:24:24]
				a0 += q[0]*w0 + q[6]*w1 + q[12]*w2 + q[18]*w3
				a1 += q[1]*w0 + q[7]*w1 + q[13]*w2 + q[19]*w3
				a2 += q[2]*w0 + q[8]*w1 + q[14]*w2 + q[20]*w3
				a3 += q[3]*w0 + q[9]*w1 + q[15]*w2 + q[21]*w3
				c01 += q[4]*w0 + q[10]*w1 + q[16]*w2 + q[22]*w3
				c23 += q[5]*w0 + q[11]*w1 + q[17]*w2 + q[23]*w3
				k, p = k[4:], p[24:]
			}
			b0, b1 := split(c01)
			b2, b3 := split(c23)
			o := d0[3*xx : 3*xx+3 : 3*xx+3]
			putPixel(o, a0, b0)
			putPixel(d1[3*xx:3*xx+3:3*xx+3], a1, b1)
			putPixel(d2[3*xx:3*xx+3:3*xx+3], a2, b2)
			putPixel(d3[3*xx:3*xx+3:3*xx+3], a3, b3)
		}
	}
}

// split takes apart two int32 sums packed in one int64 (low, high).
func split(v int64) (lo, hi int32) {
	lo = int32(v)
	return lo, int32((v - int64(lo)) >> 32)
}

// putPixel writes the sums of one pixel: red and green packed in rg, blue
// in b.
func putPixel(d []byte, rg int64, b int32) {
	r, g := split(rg)
	d = d[:3]
	d[0], d[1], d[2] = clip8(r), clip8(g), clip8(b)
}

// vertical is ImagingResampleVertical_8bpc, summed over whole rows four
// taps at a time (the same integer sums in another order, which is exact).
// Each source row is packed once, two bytes to an int64 as in horizontal,
// into a ring that holds the rows the output rows in flight read (their
// windows only move down). Windows of more than four taps keep their
// partial sums in acc between groups of four; the last group writes bytes.
func vertical(dst, src RGB, bounds, kk []int32, ksize int) {
	const half = 1 << (pillowBits - 1)
	const halves = int64(half) | int64(half)<<32
	w, m := padTaps(bounds, kk, ksize)
	stride := src.Width * 3
	pairs := stride / 2
	odd := stride%2 == 1
	acc := make([]int64, pairs)
	ringN := ksize + 1
	ring := make([][]int64, ringN)
	ringOdd := make([]int32, ringN)
	ringRow := make([]int, ringN) // which source row each slot holds
	for i := range ring {
		ring[i] = make([]int64, pairs)
		ringRow[i] = -1
	}
	row := func(y int) ([]int64, int32) {
		slot := y % ringN
		if ringRow[slot] != y {
			sp := src.Pix[y*stride : (y+1)*stride]
			r := ring[slot]
			sp2 := sp[:2*len(r)]
			for x := range r {
				q := sp2[2*x : 2*x+2 : 2*x+2]
				r[x] = int64(q[0]) | int64(q[1])<<32
			}
			if odd {
				ringOdd[slot] = int32(sp[stride-1])
			}
			ringRow[slot] = y
		}
		return ring[slot], ringOdd[slot]
	}
	rows := make([][]int64, m)
	odds := make([]int32, m)
	for yy := range dst.Height {
		ymin, n := int(bounds[2*yy]), int(bounds[2*yy+1])
		for j := range m {
			// Padded taps (weight 0) read the window's last row again.
			rows[j], odds[j] = row(ymin + max(min(j, n-1), 0))
		}
		k := w[yy*m : yy*m+m]
		drow := dst.Pix[yy*stride : (yy+1)*stride]
		if odd {
			last := int32(half)
			for j, o := range odds {
				last += o * int32(k[j])
			}
			drow[stride-1] = clip8(last)
		}
		dp := drow[:2*pairs]
		for g := 0; g < m; g += 4 {
			r0, r1, r2, r3 := rows[g][:pairs], rows[g+1][:pairs], rows[g+2][:pairs], rows[g+3][:pairs]
			c0, c1, c2, c3 := k[g], k[g+1], k[g+2], k[g+3]
			first, final := g == 0, g+4 == m
			switch {
			case first && final: // one group: straight to bytes
				for x := range r0 {
					lo, hi := split(halves + r0[x]*c0 + r1[x]*c1 + r2[x]*c2 + r3[x]*c3)
					q := dp[2*x : 2*x+2 : 2*x+2]
					q[0], q[1] = clip8(lo), clip8(hi)
				}
			case first:
				a := acc[:len(r0)]
				for x := range r0 {
					a[x] = halves + r0[x]*c0 + r1[x]*c1 + r2[x]*c2 + r3[x]*c3
				}
			case !final:
				a := acc[:len(r0)]
				for x := range r0 {
					a[x] += r0[x]*c0 + r1[x]*c1 + r2[x]*c2 + r3[x]*c3
				}
			default:
				a := acc[:len(r0)]
				for x := range r0 {
					lo, hi := split(a[x] + r0[x]*c0 + r1[x]*c1 + r2[x]*c2 + r3[x]*c3)
					q := dp[2*x : 2*x+2 : 2*x+2]
					q[0], q[1] = clip8(lo), clip8(hi)
				}
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
