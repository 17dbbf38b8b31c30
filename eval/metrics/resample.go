package metrics

import (
	"hash/fnv"
	"math"
	"math/bits"
	"math/rand/v2"
	"sort"
)

// Interval is a confidence interval [Lo, Hi]; both are NaN when it is
// undefined (fewer than two values).
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// NaNInterval is the undefined interval.
func NaNInterval() Interval { return Interval{math.NaN(), math.NaN()} }

// Defined reports whether both ends are numbers.
func (iv Interval) Defined() bool { return !math.IsNaN(iv.Lo) && !math.IsNaN(iv.Hi) }

// newRand returns the generator for one named quantity: seeded by seed and
// the name, so that an interval does not change when models are added to a
// run or reordered.
func newRand(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// BootstrapMean is the percentile bootstrap confidence interval of the mean
// of x (Efron and Tibshirani 1993, An Introduction to the Bootstrap, §13.3):
// draw b resamples of len(x) values with replacement, take each resample's
// mean, and return the (1−conf)/2 and (1+conf)/2 quantiles of those b means
// ([Quantile], type 7). MAE is the mean of the absolute errors and Acc@1 the
// mean of the 0/1 indicators |e| ≤ 1, so both intervals come from here, as
// does the paired ΔMAE interval (mean of the per-image differences).
//
// rng supplies the draws; the result is a deterministic function of x, b,
// conf and rng's state. It is NaN when len(x) < 2 or b < 1.
func BootstrapMean(x []float64, b int, conf float64, rng *rand.Rand) Interval {
	n := len(x)
	if n < 2 || b < 1 {
		return NaNInterval()
	}
	means := make([]float64, b)
	for r := range means {
		var s float64
		for range n {
			s += x[rng.IntN(n)]
		}
		means[r] = s / float64(n)
	}
	sort.Float64s(means)
	alpha := (1 - conf) / 2
	return Interval{quantileSorted(alpha, means), quantileSorted(1-alpha, means)}
}

// ExactPermutationLimit is the largest number of non-zero paired differences
// for which [SignFlipTest] enumerates every sign pattern (2^20 ≈ 10⁶ sums);
// above it the test samples patterns.
const ExactPermutationLimit = 20

// SignFlipTest is the two-sided paired permutation test (Fisher–Pitman
// sign-flip test) of H0: the per-image differences d_i are symmetric about
// zero, i.e. which of the two models made which error is exchangeable.
// The statistic is T = |Σ d_i|, equivalent to the mean difference and thus to
// the difference in MAE when d_i = |e_model,i| − |e_baseline,i|. Under H0
// every sign pattern s ∈ {−1, +1}^n is equally likely, so
//
//	p = #{ s : |Σ s_i d_i| ≥ T } / 2^m
//
// over the m non-zero differences (zeros contribute nothing whatever their
// sign, so ties between the models need no special rule, and tied values are
// handled exactly). With m ≤ [ExactPermutationLimit] every pattern is
// enumerated (exact = true); otherwise b random patterns are drawn from rng
// and p = (1 + #{|Σ s_i d_i| ≥ T}) / (b + 1), which never reports 0
// (Phipson and Smyth 2010, "Permutation p-values should never be zero",
// Stat. Appl. Genet. Mol. Biol. 9(1)). Sums are compared with a relative
// slack of 1e-9 so that patterns equal to T up to rounding count.
//
// We use it rather than the Wilcoxon signed-rank test because it tests the
// quantity we report (the mean difference of absolute errors, i.e. ΔMAE)
// where Wilcoxon tests a shift in ranks and can disagree in sign with ΔMAE;
// because errors on an integer 1..10 scale are heavily tied and often zero,
// which Wilcoxon's normal approximation handles only approximately; and
// because test sets here are small (tens of images), where the exact test
// needs no approximation at all. p is 1 when every difference is zero.
func SignFlipTest(d []float64, b int, rng *rand.Rand) (p float64, exact bool) {
	var nz []float64
	var total, scale float64
	for _, v := range d {
		if v != 0 {
			nz = append(nz, v)
			total += v
			scale += math.Abs(v)
		}
	}
	m := len(nz)
	if m == 0 {
		return 1, true
	}
	t := math.Abs(total) - 1e-9*scale
	if m <= ExactPermutationLimit {
		// Walk all 2^m patterns in Gray-code order: consecutive patterns
		// differ in one sign, so each sum is the previous one ± 2d_k.
		// Start from all signs +1 (the observed sum).
		s := total
		count := 0
		if math.Abs(s) >= t {
			count++
		}
		signs := make([]bool, m) // true: flipped to −1
		for g := uint64(1); g < 1<<m; g++ {
			k := bits.TrailingZeros64(g)
			if signs[k] {
				s += 2 * nz[k]
			} else {
				s -= 2 * nz[k]
			}
			signs[k] = !signs[k]
			if math.Abs(s) >= t {
				count++
			}
		}
		return float64(count) / float64(uint64(1)<<m), true
	}
	if b < 1 {
		return math.NaN(), false
	}
	hits := 0
	for range b {
		var s float64
		for i := 0; i < m; i += 64 {
			w := rng.Uint64()
			for j := i; j < min(i+64, m); j++ {
				if w&1 == 1 {
					s -= nz[j]
				} else {
					s += nz[j]
				}
				w >>= 1
			}
		}
		if math.Abs(s) >= t {
			hits++
		}
	}
	return float64(1+hits) / float64(b+1), false
}
