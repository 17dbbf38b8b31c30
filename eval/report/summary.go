package report

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// MissingScores is the statement summary.json and the reports make about
// answers without a score.
const MissingScores = "answers with no score (unreadable, refused, or no answer at all) are excluded " +
	"from mae, rmse, acc1, acc2, bias, pearson, spearman, qwk and their intervals, and counted in " +
	"no_score_rate = (n - n_scored) / n; the paired comparison uses only the images both models scored"

// SummaryFile is the content of summary.json. Undefined numbers (NaN) are
// null.
type SummaryFile struct {
	RunID    string     `json:"run_id"`
	Created  *time.Time `json:"created,omitempty"`
	Baseline string     `json:"baseline"`
	// MissingScores says how answers without a score count.
	MissingScores string `json:"missing_scores"`
	// Confidence is the level of every interval; Resamples the bootstrap
	// size; Seed the resampling seed; Test the paired test.
	Confidence float64 `json:"confidence"`
	Resamples  int     `json:"bootstrap_resamples"`
	Seed       uint64  `json:"seed"`
	Test       string  `json:"paired_test"`
	// Incomplete is present when some image × model lacks an answer: the
	// figures are over the answers there are.
	Incomplete *Incomplete `json:"incomplete,omitempty"`
	// Verdict says first whether each model beats the mean baseline.
	Verdict VerdictSummary `json:"verdict"`
	Models  []ModelSummary `json:"models"`
	// Timing is the wall time and rate of each model and of the run, in
	// the sitting that wrote this file; absent when outputs were rewritten
	// later (vlmcmp analyze).
	Timing *RunTiming `json:"timing,omitempty"`
}

// VerdictSummary is the verdict in summary.json: whether each model beats
// the mean baseline by the paired test, and the winner.
type VerdictSummary struct {
	// MeanBaseline names the mean baseline; null when it was not run (then
	// no model is said to beat it).
	MeanBaseline *string `json:"mean_baseline"`
	// BeatsMeanRule says when a model beats mean.
	BeatsMeanRule string `json:"beats_mean_rule"`
	// VsMean has one entry per model that is not a baseline, fine-tuned
	// models first.
	VsMean []VsMeanSummary `json:"vs_mean"`
	// Winner is the model with the lowest MAE; "" when nothing was scored.
	Winner string `json:"winner"`
	// Sentences are the verdict of the reports, in words.
	Sentences []string `json:"sentences"`
}

// VsMeanSummary says whether one model beats the mean baseline.
type VsMeanSummary struct {
	Name  string `json:"name"`
	Model string `json:"model,omitempty"`
	// FineTuned marks OpenAI fine-tuned models (model "ft:…").
	FineTuned bool `json:"fine_tuned,omitempty"`
	// BeatsMean is true when Outcome is "beats", false when the paired test
	// says otherwise (worse, tie, not shown), null when nothing was tested
	// (untested, no mean baseline).
	BeatsMean *bool `json:"beats_mean"`
	// Outcome is one of beats, worse, tie, not shown, untested, no mean
	// baseline.
	Outcome string `json:"outcome"`
	// Why says why the outcome is untested.
	Why string `json:"why,omitempty"`
	// The paired comparison with mean: images both scored, the two MAEs on
	// them, their difference and the p-value; absent with no mean baseline.
	N       *int     `json:"n_common,omitempty"`
	MAE     *float64 `json:"mae,omitempty"`
	MeanMAE *float64 `json:"mean_mae,omitempty"`
	DiffMAE *float64 `json:"diff_mae,omitempty"`
	PValue  *float64 `json:"p_value,omitempty"`
}

func verdictSummary(v *Verdict, conf float64) VerdictSummary {
	vs := VerdictSummary{BeatsMeanRule: MeanRule(conf), Winner: v.Winner, Sentences: v.Sentences, VsMean: []VsMeanSummary{}}
	if v.Mean != "" {
		vs.MeanBaseline = &v.Mean
	}
	for _, c := range v.VsMean {
		m := VsMeanSummary{Name: c.Model, Model: c.APIModel, FineTuned: c.FineTuned, Outcome: c.Outcome, Why: c.Why}
		if c.Outcome != NoMean && c.Outcome != Untested {
			beats := c.Outcome == Beats
			m.BeatsMean = &beats
		}
		if p := c.Paired; p != nil {
			n := p.N
			m.N, m.MAE, m.MeanMAE, m.DiffMAE, m.PValue = &n, num(p.MAE), num(p.BaselineMAE), num(p.DiffMAE), num(p.PValue)
		}
		vs.VsMean = append(vs.VsMean, m)
	}
	return vs
}

// ModelSummary is one model in summary.json. Accuracies and rates are
// fractions in [0, 1]; errors in score points; latency in milliseconds; cost
// in US dollars.
type ModelSummary struct {
	Name        string    `json:"name"`
	Backend     string    `json:"backend,omitempty"`
	Model       string    `json:"model,omitempty"`
	N           int       `json:"n"`
	NScored     int       `json:"n_scored"`
	NFailed     int       `json:"n_failed"`
	NMissing    int       `json:"n_missing"`
	MAE         *float64  `json:"mae"`
	RMSE        *float64  `json:"rmse"`
	Acc1        *float64  `json:"acc1"`
	Acc2        *float64  `json:"acc2"`
	Bias        *float64  `json:"bias"`
	Pearson     *float64  `json:"pearson"`
	Spearman    *float64  `json:"spearman"`
	QWK         *float64  `json:"qwk"`
	NoScoreRate *float64  `json:"no_score_rate"`
	Latency     Latency   `json:"latency"`
	Cost        Cost      `json:"cost"`
	Intervals   Intervals `json:"intervals"`
	// Paired is the comparison with the baseline; absent for the baseline.
	Paired *PairedSummary `json:"paired,omitempty"`
	// Servers are the servers that answered (OpenAI-compatible backends);
	// absent for models that ask none.
	Servers []ServerSummary `json:"servers,omitempty"`
}

// Latency holds latency percentiles in milliseconds.
type Latency struct {
	P50MS *float64 `json:"p50_ms"`
	P95MS *float64 `json:"p95_ms"`
}

// Cost holds costs in US dollars.
type Cost struct {
	TotalUSD    float64  `json:"total_usd"`
	PerImageUSD *float64 `json:"per_image_usd"`
}

// Intervals holds the bootstrap confidence intervals.
type Intervals struct {
	MAE  *IntervalJSON `json:"mae"`
	Acc1 *IntervalJSON `json:"acc1"`
}

// IntervalJSON is an interval; null in JSON when undefined.
type IntervalJSON struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// PairedSummary is the paired comparison with the baseline.
type PairedSummary struct {
	Baseline    string        `json:"baseline"`
	N           int           `json:"n_common"`
	MAE         *float64      `json:"mae"`
	BaselineMAE *float64      `json:"baseline_mae"`
	DiffMAE     *float64      `json:"diff_mae"`
	DiffCI      *IntervalJSON `json:"diff_mae_ci"`
	PValue      *float64      `json:"p_value"`
	Exact       bool          `json:"exact"`
	// Significant is p_value < 1 − confidence.
	Significant bool `json:"significant"`
}

func num(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

func interval(iv metrics.Interval) *IntervalJSON {
	if !iv.Defined() {
		return nil
	}
	return &IntervalJSON{iv.Lo, iv.Hi}
}

// Summary builds summary.json's content from in and its metrics res.
func Summary(in *Input, res *metrics.Result) *SummaryFile {
	f := &SummaryFile{
		RunID:         in.runID(),
		Baseline:      res.Baseline,
		MissingScores: MissingScores,
		Confidence:    res.Options.Confidence,
		Resamples:     res.Options.Resamples,
		Seed:          res.Options.Seed,
		Test:          metrics.TestName,
		Incomplete:    in.Incomplete,
		Timing:        in.Timing,
	}
	v := Decide(in, res)
	f.Verdict = verdictSummary(&v, res.Options.Confidence)
	if !in.Created.IsZero() {
		t := in.Created.UTC()
		f.Created = &t
	}
	for i := range res.Models {
		s := &res.Models[i]
		ms := ModelSummary{
			Name: s.Model, N: s.N, NScored: s.NScored, NFailed: s.NFailed, NMissing: s.NMissing,
			MAE: num(s.MAE), RMSE: num(s.RMSE), Acc1: num(s.Acc1), Acc2: num(s.Acc2),
			Bias: num(s.Bias), Pearson: num(s.Pearson), Spearman: num(s.Spearman), QWK: num(s.QWK),
			NoScoreRate: num(s.NoScoreRate),
			Latency:     Latency{num(s.LatencyP50MS), num(s.LatencyP95MS)},
			Cost:        Cost{s.CostTotalUSD, num(s.CostPerImageUSD)},
			Intervals:   Intervals{interval(s.MAECI), interval(s.Acc1CI)},
		}
		if m := in.model(s.Model); m != nil {
			ms.Backend, ms.Model = m.Backend, m.Model
			ms.Servers = Servers(m)
		}
		if p := s.Paired; p != nil {
			ms.Paired = &PairedSummary{
				Baseline: p.Baseline, N: p.N,
				MAE: num(p.MAE), BaselineMAE: num(p.BaselineMAE), DiffMAE: num(p.DiffMAE),
				DiffCI: interval(p.DiffCI), PValue: num(p.PValue), Exact: p.Exact,
				Significant: p.Significant(res.Options.Confidence),
			}
		}
		f.Models = append(f.Models, ms)
	}
	return f
}

// WriteSummary writes summary.json's content, indented, to w.
func WriteSummary(w io.Writer, f *SummaryFile) error {
	data, err := marshalJSON(f)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	_, err = w.Write(data)
	return err
}
