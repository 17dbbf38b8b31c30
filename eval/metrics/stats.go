package metrics

import (
	"math"
	"sort"
)

// AccuracySlack is added to the tolerance of [AccuracyWithin], so that a
// difference of exactly k points that floating point makes a hair larger
// (7.3 − 6.3 = 1.0000000000000004) still counts as within k.
const AccuracySlack = 1e-9

func checkLen(fn string, a, b []float64) {
	if len(a) != len(b) {
		panic("metrics: " + fn + ": slice length mismatch")
	}
}

// MAE is the mean absolute error (1/n) Σ |pred_i − exp_i|. It is NaN for no
// data. It panics when the slices differ in length.
func MAE(pred, exp []float64) float64 {
	checkLen("MAE", pred, exp)
	if len(pred) == 0 {
		return math.NaN()
	}
	var s float64
	for i := range pred {
		s += math.Abs(pred[i] - exp[i])
	}
	return s / float64(len(pred))
}

// RMSE is the root mean squared error sqrt((1/n) Σ (pred_i − exp_i)²). It is
// NaN for no data.
func RMSE(pred, exp []float64) float64 {
	checkLen("RMSE", pred, exp)
	if len(pred) == 0 {
		return math.NaN()
	}
	var s float64
	for i := range pred {
		d := pred[i] - exp[i]
		s += d * d
	}
	return math.Sqrt(s / float64(len(pred)))
}

// AccuracyWithin is the fraction of predictions within k points of the
// expected score: (1/n) #{i : |pred_i − exp_i| ≤ k + [AccuracySlack]}. It is
// NaN for no data.
func AccuracyWithin(pred, exp []float64, k float64) float64 {
	checkLen("AccuracyWithin", pred, exp)
	if len(pred) == 0 {
		return math.NaN()
	}
	n := 0
	for i := range pred {
		if math.Abs(pred[i]-exp[i]) <= k+AccuracySlack {
			n++
		}
	}
	return float64(n) / float64(len(pred))
}

// Bias is the mean signed error (1/n) Σ (pred_i − exp_i): positive when the
// model scores too high. It is NaN for no data.
func Bias(pred, exp []float64) float64 {
	checkLen("Bias", pred, exp)
	if len(pred) == 0 {
		return math.NaN()
	}
	var s float64
	for i := range pred {
		s += pred[i] - exp[i]
	}
	return s / float64(len(pred))
}

// Pearson is the sample correlation coefficient
//
//	r = Σ (x_i − x̄)(y_i − ȳ) / sqrt(Σ (x_i − x̄)² Σ (y_i − ȳ)²)
//
// computed with two passes (means first) for accuracy. It is NaN when n < 2
// or either variable is constant, where r is undefined (SciPy's pearsonr
// also returns nan there).
func Pearson(x, y []float64) float64 {
	checkLen("Pearson", x, y)
	n := len(x)
	if n < 2 {
		return math.NaN()
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	// A constant side has no correlation; test it directly, since the mean
	// of n copies of a value that is not exact in binary (the mean
	// baseline's 31/6) can differ from it by an ulp, leaving sxx tiny but
	// not 0.
	if sxx == 0 || syy == 0 || constant(x) || constant(y) {
		return math.NaN()
	}
	r := sxy / math.Sqrt(sxx*syy)
	// Rounding can push |r| a hair past 1.
	return math.Max(-1, math.Min(1, r))
}

// constant reports whether every value of x is the same.
func constant(x []float64) bool {
	for _, v := range x[1:] {
		if v != x[0] {
			return false
		}
	}
	return true
}

// Spearman is Spearman's rank correlation ρ: [Pearson] of the average ranks
// ([Ranks]) of x and y, the definition that stays correct with ties (SciPy's
// spearmanr, R's cor(method = "spearman")). NaN when n < 2 or either
// variable is constant.
func Spearman(x, y []float64) float64 {
	checkLen("Spearman", x, y)
	return Pearson(Ranks(x), Ranks(y))
}

// Ranks returns the 1-based ranks of x in increasing order, tied values
// getting the average of the ranks they span ("average" ties method, as
// SciPy's rankdata and R's rank default): Ranks([10 20 20 30]) is
// [1 2.5 2.5 4]. NaN values are not expected.
func Ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && x[idx[j]] == x[idx[i]] {
			j++
		}
		// Positions i..j-1 (0-based) hold one value: ranks i+1..j, mean (i+1+j)/2.
		avg := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			r[idx[k]] = avg
		}
		i = j
	}
	return r
}

// Quantile is the p-quantile of x (0 ≤ p ≤ 1) by linear interpolation
// between order statistics: with the sorted values x_(1) ≤ … ≤ x_(n) and
// h = (n − 1)p + 1, Q(p) = x_(⌊h⌋) + (h − ⌊h⌋)(x_(⌊h⌋+1) − x_(⌊h⌋)).
// This is Hyndman and Fan's (1996) definition 7, R's quantile default and
// NumPy's percentile default. It is NaN for no data. x is not modified.
func Quantile(p float64, x []float64) float64 {
	if len(x) == 0 || math.IsNaN(p) {
		return math.NaN()
	}
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return quantileSorted(p, s)
}

func quantileSorted(p float64, s []float64) float64 {
	p = math.Max(0, math.Min(1, p))
	h := float64(len(s)-1) * p
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}
