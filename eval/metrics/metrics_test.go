package metrics

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// Reference data: the values below were computed with Python 3.11's
// standard library (statistics.correlation for Pearson's r, applied to
// average ranks for Spearman; statistics.quantiles(method="inclusive"),
// which is Hyndman–Fan type 7, for the latency percentiles), and a direct
// transcription of Cohen's weighted-kappa formula for QWK, in
// /tmp/ref.py of the session that wrote this test (listed in the report).
var (
	refExp  = []float64{3, 5, 7, 8, 2, 6, 9, 4, 5, 7}
	refPred = []float64{4, 5, 6, 8, 3, 7, 7, 4, 6, 7.5}
	refLat  = []float64{120, 80, 300, 95, 110, 2000, 130, 90, 105, 100}
)

const tol = 1e-12

func approx(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

func TestMetricsReference(t *testing.T) {
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"MAE", MAE(refPred, refExp), 0.75},
		{"RMSE", RMSE(refPred, refExp), 0.9617692030835673},
		{"Acc@1", AccuracyWithin(refPred, refExp, 1), 0.9},
		{"Acc@2", AccuracyWithin(refPred, refExp, 2), 1.0},
		{"Bias", Bias(refPred, refExp), 0.15},
		{"Pearson", Pearson(refPred, refExp), 0.9042248064222359},
		{"Spearman", Spearman(refPred, refExp), 0.8923119162794237},
		{"QWK", qwkScores(refPred, refExp, Options{}.withDefaults()), 0.861878453038674},
		{"p50", Quantile(0.5, refLat), 107.5},
		{"p95", Quantile(0.95, refLat), 1235},
		{"p0", Quantile(0, refLat), 80},
		{"p100", Quantile(1, refLat), 2000},
	}
	for _, tt := range tests {
		if !approx(tt.got, tt.want) {
			t.Errorf("%s = %.17g, want %.17g", tt.name, tt.got, tt.want)
		}
	}
}

func TestRanks(t *testing.T) {
	tests := []struct {
		in, want []float64
	}{
		{[]float64{10, 20, 20, 30}, []float64{1, 2.5, 2.5, 4}},
		{[]float64{4, 5, 6, 8, 3, 7, 7, 4, 6, 7.5}, []float64{2.5, 4, 5.5, 10, 1, 7.5, 7.5, 2.5, 5.5, 9}},
		{[]float64{5, 5, 5}, []float64{2, 2, 2}},
		{[]float64{}, []float64{}},
	}
	for _, tt := range tests {
		got := Ranks(tt.in)
		for i := range tt.want {
			if got[i] != tt.want[i] {
				t.Errorf("Ranks(%v) = %v, want %v", tt.in, got, tt.want)
				break
			}
		}
	}
}

func TestQWKByHand(t *testing.T) {
	tests := []struct {
		name   string
		a, b   []int
		lo, hi int
		want   float64
	}{
		// Perfect agreement.
		{"identical", []int{1, 2, 3}, []int{1, 2, 3}, 1, 3, 1},
		// Reversed on 1..3: observed weighted disagreement 2·1 = 2; the
		// chance matrix is 1/3 in every cell, Σw = 3, so expected is 1: κ = −1.
		{"reversed", []int{1, 2, 3}, []int{3, 2, 1}, 1, 3, -1},
		// A constant rater: O equals E cell for cell, so κ = 0.
		{"constant rater", []int{2, 5, 7, 9}, []int{5, 5, 5, 5}, 1, 10, 0},
		// Both constant and equal: expected disagreement 0, κ = 0/0.
		{"both constant", []int{5, 5}, []int{5, 5}, 1, 10, math.NaN()},
		{"empty", nil, nil, 1, 10, math.NaN()},
		// Out of range values are clamped: 0 → 1, 12 → 10.
		{"clamped", []int{0, 12}, []int{1, 10}, 1, 10, 1},
	}
	for _, tt := range tests {
		if got := QWK(tt.a, tt.b, tt.lo, tt.hi); !approx(got, tt.want) {
			t.Errorf("%s: QWK(%v, %v) = %v, want %v", tt.name, tt.a, tt.b, got, tt.want)
		}
	}
}

func TestRating(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want int
	}{{7.5, 8}, {7.49, 7}, {6.5, 7}, {0.2, 1}, {10.6, 10}, {1, 1}} {
		if got := Rating(tt.in, 1, 10); got != tt.want {
			t.Errorf("Rating(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestAccuracySlack(t *testing.T) {
	// 7.3 − 6.3 is 1.0000000000000004 in float64: still within one point.
	if got := AccuracyWithin([]float64{7.3}, []float64{6.3}, 1); got != 1 {
		t.Errorf("AccuracyWithin(7.3, 6.3, 1) = %v, want 1", got)
	}
	if got := AccuracyWithin([]float64{7.31}, []float64{6.3}, 1); got != 0 {
		t.Errorf("AccuracyWithin(7.31, 6.3, 1) = %v, want 0", got)
	}
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestPearsonUndefined(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
	}{
		{"constant prediction", []float64{5, 5, 5}, []float64{1, 4, 9}},
		{"constant truth", []float64{1, 4, 9}, []float64{3, 3, 3}},
		// 31/6 is not exact in binary: the mean of 24 copies is off by an
		// ulp, which once gave a tiny non-zero variance and r = -0.000.
		{"constant inexact", repeat(31.0/6, 24), []float64{2, 3, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7}},
		{"n=1", []float64{4}, []float64{7}},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		if got := Pearson(tt.x, tt.y); !math.IsNaN(got) {
			t.Errorf("%s: Pearson = %v, want NaN", tt.name, got)
		}
		if got := Spearman(tt.x, tt.y); !math.IsNaN(got) {
			t.Errorf("%s: Spearman = %v, want NaN", tt.name, got)
		}
	}
}

func TestSignFlipTestExact(t *testing.T) {
	tests := []struct {
		name string
		d    []float64
		want float64
	}{
		// The reference data against a constant 5: d = |e_pred| − |e_5|.
		// Its 8 non-zero values (Σ = −10.5) have 2^8 = 256 sign patterns;
		// enumerating them with Python's itertools.product finds 10 with
		// |Σ| ≥ 10.5: p = 10/256.
		{"reference", []float64{-1, 0, -1, -3, -2, 0, -2, -1, 1, -1.5}, 0.0390625},
		// By hand: d = (1, 1): patterns ++ and −− reach |Σ| = 2: p = 2/4.
		{"two ones", []float64{1, 1}, 0.5},
		// One non-zero value: both patterns reach it: p = 1.
		{"one", []float64{0, 3, 0}, 1},
		{"all zero", []float64{0, 0, 0}, 1},
		// Eight equal negatives: only ±Σ reach 8: 2/256.
		{"all one sign", []float64{-1, -1, -1, -1, -1, -1, -1, -1}, 2.0 / 256},
	}
	for _, tt := range tests {
		p, exact := SignFlipTest(tt.d, 100, rand.New(rand.NewPCG(1, 2)))
		if !exact || !approx(p, tt.want) {
			t.Errorf("%s: SignFlipTest(%v) = %v (exact %v), want %v exact", tt.name, tt.d, p, exact, tt.want)
		}
	}
}

func TestSignFlipTestMonteCarlo(t *testing.T) {
	// 25 non-zero integer differences: too many to enumerate. The exact
	// p-value, 1843506/2^25 = 0.054940760135650635, comes from the
	// distribution of Σ s_i d_i built by convolution in Python (a
	// dictionary of sums, one difference at a time).
	d := []float64{1, -2, -1, -3, 1, -1, -2, -1, 2, -1, -1, 1, -2, -1, -1, 3, -1, -2, 1, -1, -1, -2, 1, -1, -2}
	const want, b = 0.054940760135650635, 20000
	p, exact := SignFlipTest(d, b, rand.New(rand.NewPCG(7, 7)))
	if exact {
		t.Fatalf("SignFlipTest enumerated %d differences, limit is %d", len(d), ExactPermutationLimit)
	}
	se := math.Sqrt(want * (1 - want) / b)
	if math.Abs(p-want) > 4*se {
		t.Errorf("SignFlipTest = %v, want %v ± %v (4 standard errors)", p, want, 4*se)
	}
}

func TestBootstrapMean(t *testing.T) {
	x := []float64{0, 1, 1, 2, 0, 0, 3, 1, 1, 0.5}
	a := BootstrapMean(x, 2000, 0.95, rand.New(rand.NewPCG(1, 1)))
	b := BootstrapMean(x, 2000, 0.95, rand.New(rand.NewPCG(1, 1)))
	if a != b {
		t.Errorf("same seed gave %v and %v", a, b)
	}
	m := mean(x)
	if !(a.Lo < m && m < a.Hi) {
		t.Errorf("interval %v does not contain the mean %v", a, m)
	}
	if a.Lo < 0 || a.Hi > 3 {
		t.Errorf("interval %v outside the data's range [0, 3]", a)
	}
	// A percentile interval of the mean is near x̄ ± 1.96 s/√n for such
	// data (s/√n = 0.2867 here); allow for the skew and the resampling.
	if w := a.Hi - a.Lo; w < 0.8 || w > 1.4 {
		t.Errorf("interval %v has width %v, want about 2·1.96·0.287 = 1.12", a, w)
	}
	if c := BootstrapMean([]float64{2, 2, 2}, 100, 0.95, rand.New(rand.NewPCG(1, 1))); c.Lo != 2 || c.Hi != 2 {
		t.Errorf("constant data gave %v, want [2, 2]", c)
	}
	if c := BootstrapMean([]float64{2}, 100, 0.95, rand.New(rand.NewPCG(1, 1))); c.Defined() {
		t.Errorf("n=1 gave %v, want undefined", c)
	}
}

func ptr(v float64) *float64 { return &v }

func model(name string, exp []float64, pred []*float64) Model {
	m := Model{Name: name}
	for i := range exp {
		m.Samples = append(m.Samples, Sample{ID: string(rune('a' + i)), Expected: exp[i], Predicted: pred[i], LatencyMS: 10, CostUSD: 0.01})
	}
	return m
}

func TestEvaluateMissingScores(t *testing.T) {
	exp := []float64{3, 5, 7, 8}
	all := model("all", exp, []*float64{ptr(4), ptr(5), ptr(6), ptr(8)})
	some := model("some", exp, []*float64{ptr(3), nil, ptr(9), nil})
	some.Samples[3].Failed = true
	none := model("none", exp, []*float64{nil, nil, nil, nil})
	res, err := Evaluate([]Model{all, some, none}, "", Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Baseline != "all" {
		t.Errorf("baseline = %q, want the first model", res.Baseline)
	}
	s := res.Find("some")
	// Scored: (3, 3) and (9, 7): MAE (0 + 2)/2 = 1; the missing two are out.
	if s.N != 4 || s.NScored != 2 || s.NFailed != 1 || s.MAE != 1 || s.NoScoreRate != 0.5 || s.Acc1 != 0.5 {
		t.Errorf("some: n %d scored %d failed %d mae %v no-score %v acc1 %v; want 4 2 1 1 0.5 0.5",
			s.N, s.NScored, s.NFailed, s.MAE, s.NoScoreRate, s.Acc1)
	}
	// Cost and latency: three answered images at $0.01.
	if !approx(s.CostTotalUSD, 0.03) || !approx(s.CostPerImageUSD, 0.01) {
		t.Errorf("some: cost %v, per image %v; want 0.03, 0.01", s.CostTotalUSD, s.CostPerImageUSD)
	}
	// Paired on the two common images a, c: |0|−|1| and |2|−|1|: ΔMAE 0.
	if p := s.Paired; p == nil || p.N != 2 || p.DiffMAE != 0 || p.MAE != 1 || p.BaselineMAE != 1 {
		t.Errorf("some: paired %+v, want n 2, mae 1 vs 1, diff 0", p)
	}
	n := res.Find("none")
	if n.NScored != 0 || n.NoScoreRate != 1 || !math.IsNaN(n.MAE) || !math.IsNaN(n.QWK) || n.MAECI.Defined() {
		t.Errorf("none: %+v, want nothing scored, no-score rate 1, NaN metrics", n)
	}
	if p := n.Paired; p.N != 0 || !math.IsNaN(p.PValue) || !math.IsNaN(p.DiffMAE) {
		t.Errorf("none: paired %+v, want n 0 and NaN", p)
	}
	if res.Find("all").Paired != nil {
		t.Error("the baseline has a paired comparison")
	}
}

func TestEvaluateConstantAndSingle(t *testing.T) {
	c := model("const", []float64{2, 5, 9}, []*float64{ptr(5), ptr(5), ptr(5)})
	one := model("one", []float64{4}, []*float64{ptr(6)})
	res, err := Evaluate([]Model{c}, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Models[0]
	if !math.IsNaN(s.Pearson) || s.QWK != 0 || !approx(s.MAE, 7.0/3) {
		t.Errorf("constant: pearson %v qwk %v mae %v; want NaN, 0, 7/3", s.Pearson, s.QWK, s.MAE)
	}
	res, err = Evaluate([]Model{one}, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s = res.Models[0]
	if s.MAE != 2 || s.RMSE != 2 || s.Bias != 2 || s.Acc1 != 0 || s.Acc2 != 1 || s.MAECI.Defined() || !math.IsNaN(s.Pearson) {
		t.Errorf("n=1: %+v; want mae rmse bias 2, acc1 0, acc2 1, undefined interval and r", s)
	}
}

func TestEvaluateErrors(t *testing.T) {
	good := model("m", []float64{1}, []*float64{ptr(1)})
	dup := Model{Name: "d", Samples: []Sample{{ID: "x", Expected: 1}, {ID: "x", Expected: 2}}}
	nan := Model{Name: "n", Samples: []Sample{{ID: "x", Expected: 1, Predicted: ptr(math.NaN())}}}
	tests := []struct {
		name     string
		models   []Model
		baseline string
		want     string
	}{
		{"none", nil, "", "no models"},
		{"twice", []Model{good, good}, "", `model "m" given twice`},
		{"unknown baseline", []Model{good}, "gpt4", `baseline "gpt4" is not one of the models`},
		{"duplicate image", []Model{dup}, "", `image "x" given twice`},
		{"nan score", []Model{nan}, "", "predicted score is NaN"},
	}
	for _, tt := range tests {
		_, err := Evaluate(tt.models, tt.baseline, Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Evaluate error %v, want one saying %q", tt.name, err, tt.want)
		}
	}
}

func TestEvaluateStableUnderReordering(t *testing.T) {
	a := model("a", refExp, ptrs(refPred))
	b := model("b", refExp, ptrs([]float64{5, 5, 5, 5, 5, 5, 5, 5, 5, 5}))
	r1, _ := Evaluate([]Model{b, a}, "b", Options{Seed: 3})
	r2, _ := Evaluate([]Model{a, b}, "b", Options{Seed: 3})
	if r1.Find("a").MAECI != r2.Find("a").MAECI || r1.Find("a").Paired.DiffCI != r2.Find("a").Paired.DiffCI {
		t.Error("intervals changed when the models were reordered")
	}
	// Reference: ΔMAE −1.05 and exact p = 10/256 (see TestSignFlipTestExact).
	p := r1.Find("a").Paired
	if !approx(p.DiffMAE, -1.05) || !approx(p.PValue, 0.0390625) || !p.Exact || !p.Significant(0.95) {
		t.Errorf("paired %+v, want ΔMAE −1.05, p 0.0390625 exact, significant", p)
	}
	if !(p.DiffCI.Lo < p.DiffMAE && p.DiffMAE < p.DiffCI.Hi && p.DiffCI.Hi < 0) {
		t.Errorf("ΔMAE interval %v should hold −1.05 and lie below 0", p.DiffCI)
	}
}

func ptrs(x []float64) []*float64 {
	out := make([]*float64, len(x))
	for i := range x {
		out[i] = ptr(x[i])
	}
	return out
}

func TestConfusion(t *testing.T) {
	m := Confusion([]float64{1, 2, 2, 3}, []float64{1, 3, 2.4, 0}, 1, 3)
	want := [][]int{{1, 0, 0}, {0, 1, 1}, {1, 0, 0}}
	for i := range want {
		for j := range want[i] {
			if m[i][j] != want[i][j] {
				t.Fatalf("Confusion = %v, want %v", m, want)
			}
		}
	}
}

// BenchmarkEvaluate times a run of 3 models on 500 images with the default
// 2000 bootstrap resamples (three intervals per model) and the paired tests.
func BenchmarkEvaluate(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	var models []Model
	for m := range 3 {
		mod := Model{Name: string(rune('a' + m))}
		for i := range 500 {
			exp := float64(1 + r.IntN(10))
			pred := math.Max(1, math.Min(10, exp+float64(r.IntN(5)-2)))
			mod.Samples = append(mod.Samples, Sample{ID: strconv.Itoa(i), Expected: exp, Predicted: ptr(pred), LatencyMS: 100})
		}
		models = append(models, mod)
	}
	for b.Loop() {
		if _, err := Evaluate(models, "", Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
