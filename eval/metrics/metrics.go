package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/vlmcmp/vlmcmp/llm"
)

// Sample is one model's result for one image.
type Sample struct {
	// ID names the image; the paired comparison matches images by ID.
	ID string
	// Expected is the ground-truth score.
	Expected float64
	// Predicted is the score read from the answer; nil when the answer held
	// no score or there was no answer (Failed).
	Predicted *float64
	// Failed is set when the model gave no answer at all (an unreadable
	// image, a refused request). Such a sample counts as having no score and
	// is left out of the latency and cost figures.
	Failed bool
	// Missing is set when the answer is missing for a reason that is not
	// the request's (no connection, a 5xx after retries, a server without
	// the model): the sample is left out of every figure, N included, and
	// counted in NMissing. It is never a "no score".
	Missing bool
	// LatencyMS is the request's wall time in milliseconds.
	LatencyMS float64
	// CostUSD is what the request cost, in US dollars (0 for local models).
	CostUSD float64
}

// Model is one model's samples. Samples are in any order; IDs must be unique.
type Model struct {
	Name    string
	Samples []Sample
}

// Options control the statistics. The zero value uses the defaults.
type Options struct {
	// Resamples is the number of bootstrap resamples B (default 2000).
	Resamples int
	// Permutations is the number of random sign patterns of the paired
	// test when it cannot enumerate them all (default 10000).
	Permutations int
	// Confidence is the level of the intervals (default 0.95).
	Confidence float64
	// Seed seeds every resampling; the same seed and data give the same
	// intervals and p-values.
	Seed uint64
	// ScaleMin and ScaleMax bound the rating scale, for kappa and the
	// confusion matrix (default the project's scale, llm.ScoreMin and
	// llm.ScoreMax).
	ScaleMin, ScaleMax int
}

// Default values of [Options].
const (
	DefaultResamples    = 2000
	DefaultPermutations = 10000
	DefaultConfidence   = 0.95
)

func (o Options) withDefaults() Options {
	if o.Resamples <= 0 {
		o.Resamples = DefaultResamples
	}
	if o.Permutations <= 0 {
		o.Permutations = DefaultPermutations
	}
	if !(o.Confidence > 0 && o.Confidence < 1) {
		o.Confidence = DefaultConfidence
	}
	if o.ScaleMin == 0 && o.ScaleMax == 0 {
		o.ScaleMin, o.ScaleMax = llm.ScoreMin, llm.ScoreMax
	}
	return o
}

// Summary is one model's metrics. Error metrics are over the NScored images
// with a score; NaN marks a value undefined on the data (see the package
// comment).
type Summary struct {
	Model string
	// N is the number of images the model answered or failed on its own
	// (missing answers excluded); NScored those with a score; NFailed those
	// with no answer at all (part of N − NScored); NMissing the samples
	// whose answer is missing (not part of N).
	N, NScored, NFailed, NMissing int
	// MAE, RMSE and Bias are in score points; Acc1 and Acc2 are fractions
	// of the scored images within 1 and 2 points.
	MAE, RMSE, Acc1, Acc2, Bias float64
	// Pearson and Spearman correlate predicted with expected scores; QWK is
	// the quadratic weighted kappa of the rounded scores.
	Pearson, Spearman, QWK float64
	// NoScoreRate is (N − NScored) / N.
	NoScoreRate float64
	// LatencyP50MS and LatencyP95MS are latency percentiles in milliseconds
	// over the answered images.
	LatencyP50MS, LatencyP95MS float64
	// CostTotalUSD is the sum of the costs; CostPerImageUSD that divided by
	// the number of answered images.
	CostTotalUSD, CostPerImageUSD float64
	// MAECI and Acc1CI are bootstrap intervals ([BootstrapMean]).
	MAECI, Acc1CI Interval
	// Paired compares the model with the baseline; nil for the baseline.
	Paired *Paired
}

// Paired compares a model with the baseline on the images both scored.
type Paired struct {
	// Baseline names the model compared against.
	Baseline string
	// N is the number of images both models scored.
	N int
	// MAE and BaselineMAE are the two models' MAE on those images.
	MAE, BaselineMAE float64
	// DiffMAE is MAE − BaselineMAE: negative when the model is better.
	DiffMAE float64
	// DiffCI is the bootstrap interval of DiffMAE, resampling images.
	DiffCI Interval
	// Test names the test, PValue is its two-sided p-value, Exact says
	// whether every sign pattern was enumerated ([SignFlipTest]).
	Test   string
	PValue float64
	Exact  bool
}

// TestName is the name [Paired.Test] gives the paired test.
const TestName = "paired sign-flip permutation test on absolute errors"

// Significant reports whether the difference holds at level 1 − conf: the
// p-value is below it. It is false for undefined p-values.
func (p *Paired) Significant(conf float64) bool {
	return p != nil && !math.IsNaN(p.PValue) && p.PValue < 1-conf
}

// Result is the evaluation of every model of a run.
type Result struct {
	// Baseline names the model the others are compared with.
	Baseline string
	// Models are in the order given to [Evaluate].
	Models []Summary
	// Options are the options used, defaults filled in.
	Options Options
}

// Find returns the summary of the named model, or nil.
func (r *Result) Find(name string) *Summary {
	for i := range r.Models {
		if r.Models[i].Model == name {
			return &r.Models[i]
		}
	}
	return nil
}

// Evaluate computes every model's [Summary] and compares each model with
// baseline (the first model when baseline is ""). It fails on no models, a
// repeated model name, an unknown baseline, a repeated image ID within a
// model, or a score that is not a finite number.
func Evaluate(models []Model, baseline string, opts Options) (*Result, error) {
	if len(models) == 0 {
		return nil, errors.New("metrics: no models to evaluate")
	}
	opts = opts.withDefaults()
	if baseline == "" {
		baseline = models[0].Name
	}
	seen := map[string]bool{}
	var base *Model
	for i := range models {
		m := &models[i]
		if seen[m.Name] {
			return nil, fmt.Errorf("metrics: model %q given twice", m.Name)
		}
		seen[m.Name] = true
		if err := check(m); err != nil {
			return nil, err
		}
		if m.Name == baseline {
			base = m
		}
	}
	if base == nil {
		return nil, fmt.Errorf("metrics: baseline %q is not one of the models", baseline)
	}
	res := &Result{Baseline: baseline, Options: opts}
	for i := range models {
		s := Summarize(&models[i], opts)
		if models[i].Name != baseline {
			s.Paired = Compare(&models[i], base, opts)
		}
		res.Models = append(res.Models, s)
	}
	return res, nil
}

func check(m *Model) error {
	ids := make(map[string]bool, len(m.Samples))
	for _, s := range m.Samples {
		if ids[s.ID] {
			return fmt.Errorf("metrics: model %s: image %q given twice", m.Name, s.ID)
		}
		ids[s.ID] = true
		if math.IsNaN(s.Expected) || math.IsInf(s.Expected, 0) {
			return fmt.Errorf("metrics: model %s: image %q: expected score is %v", m.Name, s.ID, s.Expected)
		}
		if s.Predicted != nil && (math.IsNaN(*s.Predicted) || math.IsInf(*s.Predicted, 0)) {
			return fmt.Errorf("metrics: model %s: image %q: predicted score is %v", m.Name, s.ID, *s.Predicted)
		}
	}
	return nil
}

// Scored returns the predicted and expected scores of the samples with a
// score, in sample order.
func Scored(samples []Sample) (pred, exp []float64) {
	for _, s := range samples {
		if s.Predicted != nil {
			pred = append(pred, *s.Predicted)
			exp = append(exp, s.Expected)
		}
	}
	return pred, exp
}

// Summarize computes one model's metrics; Paired is left nil. It does not
// validate the samples (see [Evaluate]).
func Summarize(m *Model, opts Options) Summary {
	opts = opts.withDefaults()
	samples := m.Samples
	if slices.ContainsFunc(samples, func(x Sample) bool { return x.Missing }) {
		samples = slices.DeleteFunc(slices.Clone(samples), func(x Sample) bool { return x.Missing })
	}
	s := Summary{Model: m.Name, N: len(samples), NMissing: len(m.Samples) - len(samples)}
	pred, exp := Scored(samples)
	s.NScored = len(pred)
	var lat []float64
	answered := 0
	for _, x := range samples {
		if x.Failed {
			s.NFailed++
			continue
		}
		answered++
		lat = append(lat, x.LatencyMS)
		s.CostTotalUSD += x.CostUSD
	}
	s.MAE = MAE(pred, exp)
	s.RMSE = RMSE(pred, exp)
	s.Acc1 = AccuracyWithin(pred, exp, 1)
	s.Acc2 = AccuracyWithin(pred, exp, 2)
	s.Bias = Bias(pred, exp)
	s.Pearson = Pearson(pred, exp)
	s.Spearman = Spearman(pred, exp)
	s.QWK = qwkScores(pred, exp, opts)
	s.NoScoreRate = math.NaN()
	if s.N > 0 {
		s.NoScoreRate = float64(s.N-s.NScored) / float64(s.N)
	}
	s.LatencyP50MS = Quantile(0.5, lat)
	s.LatencyP95MS = Quantile(0.95, lat)
	s.CostPerImageUSD = math.NaN()
	if answered > 0 {
		s.CostPerImageUSD = s.CostTotalUSD / float64(answered)
	}
	abs := make([]float64, len(pred))
	hit := make([]float64, len(pred))
	for i := range pred {
		abs[i] = math.Abs(pred[i] - exp[i])
		if abs[i] <= 1+AccuracySlack {
			hit[i] = 1
		}
	}
	s.MAECI = BootstrapMean(abs, opts.Resamples, opts.Confidence, newRand(opts.Seed, m.Name+"\x00mae"))
	s.Acc1CI = BootstrapMean(hit, opts.Resamples, opts.Confidence, newRand(opts.Seed, m.Name+"\x00acc1"))
	return s
}

func qwkScores(pred, exp []float64, opts Options) float64 {
	a := make([]int, len(exp))
	b := make([]int, len(pred))
	for i := range exp {
		a[i] = Rating(exp[i], opts.ScaleMin, opts.ScaleMax)
		b[i] = Rating(pred[i], opts.ScaleMin, opts.ScaleMax)
	}
	return QWK(a, b, opts.ScaleMin, opts.ScaleMax)
}

// Compare compares m with base on the images both scored (matched by ID):
// the per-image differences d_i = |e_m,i| − |e_base,i| give DiffMAE (their
// mean), its bootstrap interval ([BootstrapMean]) and the p-value of
// [SignFlipTest].
func Compare(m, base *Model, opts Options) *Paired {
	opts = opts.withDefaults()
	bs := make(map[string]*Sample, len(base.Samples))
	for i := range base.Samples {
		if base.Samples[i].Predicted != nil {
			bs[base.Samples[i].ID] = &base.Samples[i]
		}
	}
	var d, em, eb []float64
	for _, s := range m.Samples {
		b, ok := bs[s.ID]
		if s.Predicted == nil || !ok {
			continue
		}
		x := math.Abs(*s.Predicted - s.Expected)
		y := math.Abs(*b.Predicted - b.Expected)
		em = append(em, x)
		eb = append(eb, y)
		d = append(d, x-y)
	}
	p := &Paired{Baseline: base.Name, N: len(d), Test: TestName}
	p.MAE, p.BaselineMAE, p.DiffMAE = mean(em), mean(eb), mean(d)
	name := m.Name + "\x00" + base.Name
	p.DiffCI = BootstrapMean(d, opts.Resamples, opts.Confidence, newRand(opts.Seed, name+"\x00diff"))
	if len(d) == 0 {
		p.PValue = math.NaN()
	} else {
		p.PValue, p.Exact = SignFlipTest(d, opts.Permutations, newRand(opts.Seed, name+"\x00perm"))
	}
	return p
}

func mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
