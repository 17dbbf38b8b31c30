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

// clip8 is Pillow's clip8: the fixed-point sum back to a byte.
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
// y+offset of src. Red and green are summed together in one int64, red in
// the low 32 bits and green above (each channel's sum fits an int32, so
// the two never mix and each comes back exactly); blue alone.
func horizontal(dst, src RGB, offset int, bounds, kk []int32, ksize int) {
	const half = 1 << (pillowBits - 1)
	const rgHalf = int64(half) | int64(half)<<32
	sstride, dstride := src.Width*3, dst.Width*3
	// Four rows at a time, so that each output pixel's weights are loaded
	// once for the four.
	var rg, bl [4][]int64 // red | green<<32, and blue, of each source pixel
	for i := range 4 {
		rg[i], bl[i] = make([]int64, src.Width), make([]int64, src.Width)
	}
	bb01, bb23 := make([]int64, src.Width), make([]int64, src.Width)
	for y0 := 0; y0 < dst.Height; y0 += 4 {
		n4 := min(4, dst.Height-y0)
		for j := range n4 {
			srow := src.Pix[(y0+j+offset)*sstride : (y0+j+offset+1)*sstride]
			r, b := rg[j], bl[j]
			for x := range r {
				p := srow[3*x:]
				p = p[:3]
				r[x] = int64(p[0]) | int64(p[1])<<32
				b[x] = int64(p[2])
			}
		}
		if n4 < 4 {
			for j := range n4 {
				for xx := range dst.Width {
					xmin, n := int(bounds[2*xx]), int(bounds[2*xx+1])
					k := kk[xx*ksize : xx*ksize+n]
					s, t := rg[j][xmin:xmin+n], bl[j][xmin:xmin+n]
					a, c := rgHalf, int64(half)
					for i, w := range k {
						a += s[i] * int64(w)
						c += t[i] * int64(w)
					}
					putPixel(dst.Pix[(y0+j)*dstride+3*xx:], a, c)
				}
			}
			continue
		}
		// Blue of rows 0 and 1, and of rows 2 and 3, packed like red and
		// green: six products a tap for the four rows instead of eight.
		for x := range bb01 {
			bb01[x] = bl[0][x] | bl[1][x]<<32
			bb23[x] = bl[2][x] | bl[3][x]<<32
		}
		d0 := dst.Pix[(y0+0)*dstride : (y0+1)*dstride]
		d1 := dst.Pix[(y0+1)*dstride : (y0+2)*dstride]
		d2 := dst.Pix[(y0+2)*dstride : (y0+3)*dstride]
		d3 := dst.Pix[(y0+3)*dstride : (y0+4)*dstride]
		for xx := range dst.Width {
			xmin, n := int(bounds[2*xx]), int(bounds[2*xx+1])
			k := kk[xx*ksize : xx*ksize+n]
			r0, r1, r2, r3 := rg[0][xmin:xmin+n], rg[1][xmin:xmin+n], rg[2][xmin:xmin+n], rg[3][xmin:xmin+n]
			p01, p23 := bb01[xmin:xmin+n], bb23[xmin:xmin+n]
			a0, a1, a2, a3 := rgHalf, rgHalf, rgHalf, rgHalf
			c01, c23 := rgHalf, rgHalf
			for i, w32 := range k {
				w := int64(w32)
				a0 += r0[i] * w
				a1 += r1[i] * w
				a2 += r2[i] * w
				a3 += r3[i] * w
				c01 += p01[i] * w
				c23 += p23[i] * w
			}
			b0 := int32(c01)
			b1 := int32((c01 - int64(b0)) >> 32)
			b2 := int32(c23)
			b3 := int32((c23 - int64(b2)) >> 32)
			putPixel(d0[3*xx:], a0, int64(b0))
			putPixel(d1[3*xx:], a1, int64(b1))
			putPixel(d2[3*xx:], a2, int64(b2))
			putPixel(d3[3*xx:], a3, int64(b3))
		}
	}
}

// putPixel writes the sums of one pixel: red and green packed in rg (red
// in the low 32 bits, each sum an int32), blue in b.
func putPixel(d []byte, rg, b int64) {
	r := int32(rg)
	g := int32((rg - int64(r)) >> 32)
	d = d[:3]
	d[0], d[1], d[2] = clip8(r), clip8(g), clip8(int32(b))
}

// vertical is ImagingResampleVertical_8bpc, summed tap by tap over whole
// rows (the same integer sums in another order, which is exact). Each
// source row is packed once, two bytes to an int64 as in horizontal, into a
// ring that holds the rows the output rows in flight read (their windows
// only move down).
func vertical(dst, src RGB, bounds, kk []int32, ksize int) {
	const half = 1 << (pillowBits - 1)
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
				q := sp2[2*x:]
				q = q[:2]
				r[x] = int64(q[0]) | int64(q[1])<<32
			}
			if odd {
				ringOdd[slot] = int32(sp[stride-1])
			}
			ringRow[slot] = y
		}
		return ring[slot], ringOdd[slot]
	}
	for yy := range dst.Height {
		ymin, n := int(bounds[2*yy]), int(bounds[2*yy+1])
		taps := kk[yy*ksize : yy*ksize+n]
		for i := range acc {
			acc[i] = int64(half) | int64(half)<<32
		}
		last := int32(half)
		i := 0
		for ; i+1 < len(taps); i += 2 { // two rows a turn: half the accumulator traffic
			r0, o0 := row(ymin + i)
			r1, o1 := row(ymin + i + 1)
			c0, c1 := int64(taps[i]), int64(taps[i+1])
			r0, r1 = r0[:len(acc)], r1[:len(acc)]
			for x := range acc {
				acc[x] += r0[x]*c0 + r1[x]*c1
			}
			last += o0*taps[i] + o1*taps[i+1]
		}
		if i < len(taps) {
			r0, o0 := row(ymin + i)
			c0 := int64(taps[i])
			r0 = r0[:len(acc)]
			for x := range acc {
				acc[x] += r0[x] * c0
			}
			last += o0 * taps[i]
		}
		drow := dst.Pix[yy*stride : (yy+1)*stride]
		dp := drow[:2*len(acc)]
		for x, v := range acc {
			lo := int32(v)
			hi := int32((v - int64(lo)) >> 32)
			q := dp[2*x:]
			q = q[:2]
			q[0], q[1] = clip8(lo), clip8(hi)
		}
		if odd {
			drow[stride-1] = clip8(last)
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
