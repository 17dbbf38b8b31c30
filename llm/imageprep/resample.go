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
// y+offset of src.
func horizontal(dst, src RGB, offset int, bounds, kk []int32, ksize int) {
	const half = 1 << (pillowBits - 1)
	sstride, dstride := src.Width*3, dst.Width*3
	for y := range dst.Height {
		srow := src.Pix[(y+offset)*sstride : (y+offset+1)*sstride]
		drow := dst.Pix[y*dstride : (y+1)*dstride]
		for xx := range dst.Width {
			xmin, n := int(bounds[2*xx]), int(bounds[2*xx+1])
			k := kk[xx*ksize : xx*ksize+n]
			s := srow[xmin*3 : (xmin+n)*3]
			var s0, s1, s2 int32 = half, half, half
			for i, c := range k {
				p := s[i*3 : i*3+3 : i*3+3]
				s0 += int32(p[0]) * c
				s1 += int32(p[1]) * c
				s2 += int32(p[2]) * c
			}
			d := drow[xx*3 : xx*3+3 : xx*3+3]
			d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
}

// vertical is ImagingResampleVertical_8bpc, summed tap by tap over whole
// rows (the same integer sums in another order, which is exact).
func vertical(dst, src RGB, bounds, kk []int32, ksize int) {
	const half = 1 << (pillowBits - 1)
	stride := src.Width * 3
	acc := make([]int32, stride)
	for yy := range dst.Height {
		ymin, n := int(bounds[2*yy]), int(bounds[2*yy+1])
		for i := range acc {
			acc[i] = half
		}
		for i, c := range kk[yy*ksize : yy*ksize+n] {
			row := src.Pix[(ymin+i)*stride : (ymin+i+1)*stride]
			row = row[:len(acc)]
			for x, v := range row {
				acc[x] += int32(v) * c
			}
		}
		drow := dst.Pix[yy*stride : (yy+1)*stride]
		drow = drow[:len(acc)]
		for x, v := range acc {
			drow[x] = clip8(v)
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
