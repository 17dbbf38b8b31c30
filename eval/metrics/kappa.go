package metrics

import "math"

// Rating rounds a score half away from zero and clamps it to lo..hi, the
// categories [QWK] compares: Rating(7.5, 1, 10) is 8, Rating(0.2, 1, 10) is 1.
func Rating(score float64, lo, hi int) int {
	r := math.Round(score)
	if r < float64(lo) {
		return lo
	}
	if r > float64(hi) {
		return hi
	}
	return int(r)
}

// QWK is Cohen's quadratic weighted kappa between two raters over the
// integer categories lo..hi (K = hi − lo + 1):
//
//	κ = 1 − Σ_ij w_ij O_ij / Σ_ij w_ij E_ij,   w_ij = (i − j)² / (K − 1)²
//
// where O is the K×K matrix of observed counts (a_k, b_k) and E the counts
// expected by chance, the outer product of the two marginal histograms
// divided by n (Cohen 1968, "Weighted kappa", Psychological Bulletin 70(4);
// the same as scikit-learn's cohen_kappa_score(weights="quadratic")). Values
// outside lo..hi are clamped. It is NaN for no data and when the expected
// disagreement is zero (both raters put everything in one category), where
// κ is 0/0. It panics when a and b differ in length or hi < lo.
func QWK(a, b []int, lo, hi int) float64 {
	if len(a) != len(b) {
		panic("metrics: QWK: slice length mismatch")
	}
	if hi < lo {
		panic("metrics: QWK: empty category range")
	}
	n := len(a)
	k := hi - lo + 1
	if n == 0 || k < 2 {
		return math.NaN()
	}
	clamp := func(v int) int { return min(max(v, lo), hi) - lo }
	obs := make([]float64, k*k)
	ha := make([]float64, k)
	hb := make([]float64, k)
	for i := range a {
		x, y := clamp(a[i]), clamp(b[i])
		obs[x*k+y]++
		ha[x]++
		hb[y]++
	}
	var num, den float64
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			w := float64((i-j)*(i-j)) / float64((k-1)*(k-1))
			num += w * obs[i*k+j]
			den += w * ha[i] * hb[j] / float64(n)
		}
	}
	if den == 0 {
		return math.NaN()
	}
	return 1 - num/den
}

// Confusion counts (expected, predicted) pairs after [Rating] to lo..hi:
// m[i][j] is the number of images whose expected rating is lo+i and
// predicted rating lo+j. The confusion-matrix plot and the workbook use it.
func Confusion(exp, pred []float64, lo, hi int) [][]int {
	checkLen("Confusion", exp, pred)
	k := hi - lo + 1
	m := make([][]int, k)
	for i := range m {
		m[i] = make([]int, k)
	}
	for i := range exp {
		m[Rating(exp[i], lo, hi)-lo][Rating(pred[i], lo, hi)-lo]++
	}
	return m
}
