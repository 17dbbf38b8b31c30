package imageprep

import (
	"fmt"
	"math"
)

// MaxAspect is the largest ratio of an image's long side to its short side
// that smart_resize takes (transformers raises ValueError above it).
const MaxAspect = 200

// SmartResize is transformers' smart_resize (Qwen2-VL's image processor,
// which Qwen2.5-VL and Qwen3-VL share), computed as Python computes it: in
// float64, with round() rounding halves to even. It returns the height and
// width, multiples of factor, closest to h×w with the aspect ratio about
// kept and the area within [minPixels, maxPixels]:
//
//	h_bar = round(h / factor) * factor, likewise w_bar
//	if h_bar*w_bar > max_pixels: beta = sqrt(h*w / max_pixels)
//	    h_bar = max(factor, floor(h / beta / factor) * factor), likewise w_bar
//	elif h_bar*w_bar < min_pixels: beta = sqrt(min_pixels / (h*w))
//	    h_bar = ceil(h * beta / factor) * factor, likewise w_bar
//
// An aspect ratio above MaxAspect is an error, as in transformers.
func SmartResize(h, w, factor, minPixels, maxPixels int) (int, int, error) {
	if h <= 0 || w <= 0 || factor <= 0 {
		return 0, 0, fmt.Errorf("smart resize of %dx%d by %d: sizes must be positive", w, h, factor)
	}
	if r := float64(max(h, w)) / float64(min(h, w)); r > MaxAspect {
		return 0, 0, fmt.Errorf("its aspect ratio %.4g is above %d, which transformers' Qwen-VL processors refuse", r, MaxAspect)
	}
	fh, fw, ff := float64(h), float64(w), float64(factor)
	hBar := int(math.RoundToEven(fh/ff)) * factor
	wBar := int(math.RoundToEven(fw/ff)) * factor
	switch {
	case hBar*wBar > maxPixels:
		beta := math.Sqrt(fh * fw / float64(maxPixels))
		hBar = max(factor, int(math.Floor(fh/beta/ff))*factor)
		wBar = max(factor, int(math.Floor(fw/beta/ff))*factor)
	case hBar*wBar < minPixels:
		beta := math.Sqrt(float64(minPixels) / (fh * fw))
		hBar = int(math.Ceil(fh*beta/ff)) * factor
		wBar = int(math.Ceil(fw*beta/ff)) * factor
	}
	return hBar, wBar, nil
}
