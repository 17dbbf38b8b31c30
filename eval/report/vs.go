package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// NoPairReason says why s has no paired comparison with the baseline of res
// (the baseline scored nothing, the model scored nothing, or no image was
// scored by both); "" when it has one, or s is the baseline.
func NoPairReason(res *metrics.Result, s *metrics.Summary) string {
	p := s.Paired
	if p == nil || (p.N > 0 && !math.IsNaN(p.DiffMAE)) {
		return ""
	}
	for i := range res.Models {
		if b := &res.Models[i]; b.Model == res.Baseline && b.NScored == 0 {
			return fmt.Sprintf("baseline %s has no scores", res.Baseline)
		}
	}
	if s.NScored == 0 {
		return "no scores"
	}
	return "no image scored by both"
}

// VsBaseline is the short table's cell comparing s with the baseline: the
// difference in MAE and its p-value, "baseline" for the baseline itself, and
// "n/a: " with the reason when there is nothing to compare (never "+NaN").
func VsBaseline(res *metrics.Result, s *metrics.Summary) string {
	p := s.Paired
	if p == nil {
		return "baseline"
	}
	if why := NoPairReason(res, s); why != "" {
		return "n/a: " + why
	}
	return fmt.Sprintf("%+.2f (p=%s)", p.DiffMAE, pvalShort(p.PValue))
}

func pvalShort(p float64) string {
	if math.IsNaN(p) {
		return "-"
	}
	return fmt.Sprintf("%.3f", p)
}

// MeanStat is the model of the baseline every model should beat: it always
// answers the mean of the training scores, so a model that does not beat it
// has learnt no more than how often each score occurs.
const MeanStat = "mean"

// Outcomes of a [MeanCheck].
const (
	// Beats: lower MAE than mean on the images both scored, and the paired
	// test holds.
	Beats = "beats"
	// Worse: higher MAE than mean, and the paired test holds.
	Worse = "worse"
	// Tie: the same MAE as mean on the images both scored.
	Tie = "tie"
	// NotShown: the MAEs differ but the paired test does not hold.
	NotShown = "not shown"
	// Untested: no image scored by both (or no scores at all).
	Untested = "untested"
	// NoMean: the run has no mean baseline, so nothing was tested.
	NoMean = "no mean baseline"
)

// MeanRule says when a model beats the mean baseline, at confidence conf.
func MeanRule(conf float64) string {
	return fmt.Sprintf("a model beats %s when its MAE on the images both scored is lower and the %s gives p < %s",
		MeanStat, metrics.TestName, alpha(conf))
}

// alpha formats the test level 1 − conf: 0.95 gives "0.05".
func alpha(conf float64) string {
	return strconv.FormatFloat(math.Round((1-conf)*1e9)/1e9, 'f', -1, 64)
}

// MeanCheck says whether one model beats the mean baseline.
type MeanCheck struct {
	// Model is the configured name; APIModel the backend's identifier
	// ("ft:gpt-4o-mini:…"), when known.
	Model, APIModel string
	// FineTuned is set for OpenAI fine-tuned models (identifier "ft:…").
	FineTuned bool
	// Mean names the mean baseline model; "" when the run has none.
	Mean string
	// Outcome is one of Beats, Worse, Tie, NotShown, Untested, NoMean.
	Outcome string
	// Paired is the paired comparison with mean; nil when Outcome is NoMean.
	Paired *metrics.Paired
	// Why says why Outcome is Untested.
	Why string
}

// isMean reports whether m is the mean baseline: a baseline whose model is
// mean, or a model named mean whose backend is not known.
func isMean(m *ModelResult) bool {
	if m.Backend == "baseline" {
		return m.Model == MeanStat || (m.Model == "" && m.Name == MeanStat)
	}
	return m.Backend == "" && m.Name == MeanStat
}

// isFineTuned reports whether an API model identifier names an OpenAI
// fine-tuned model.
func isFineTuned(apiModel string) bool { return strings.HasPrefix(apiModel, "ft:") }

// VsMean checks every model of in that is not a baseline against the mean
// baseline by the paired test, fine-tuned models first (otherwise in the
// order of in). It returns the mean baseline's name ("" when the run has
// none: then every check's Outcome is NoMean, nothing is made up). When mean
// is the run's baseline the comparisons are res's own; otherwise they are
// computed with res's options, so the same seed gives the same p-values.
func VsMean(in *Input, res *metrics.Result) (mean string, checks []MeanCheck) {
	var meanModel *ModelResult
	for i := range in.Models {
		if isMean(&in.Models[i]) {
			meanModel = &in.Models[i]
			break
		}
	}
	var meanSamples metrics.Model
	if meanModel != nil {
		mean = meanModel.Name
		meanSamples = metrics.Model{Name: mean, Samples: meanModel.Samples()}
	}
	for i := range in.Models {
		m := &in.Models[i]
		if m == meanModel || m.Backend == "baseline" {
			continue
		}
		c := MeanCheck{Model: m.Name, APIModel: m.Model, FineTuned: isFineTuned(m.Model), Mean: mean}
		switch {
		case meanModel == nil:
			c.Outcome = NoMean
			checks = append(checks, c)
			continue
		case res.Baseline == mean:
			if s := res.Find(m.Name); s != nil {
				c.Paired = s.Paired
			}
		}
		if c.Paired == nil {
			c.Paired = metrics.Compare(&metrics.Model{Name: m.Name, Samples: m.Samples()}, &meanSamples, res.Options)
		}
		c.Outcome, c.Why = meanOutcome(c.Paired, res.Options.Confidence, meanModel, m)
		checks = append(checks, c)
	}
	sort.SliceStable(checks, func(i, j int) bool { return checks[i].FineTuned && !checks[j].FineTuned })
	return mean, checks
}

func meanOutcome(p *metrics.Paired, conf float64, mean, m *ModelResult) (outcome, why string) {
	if p.N == 0 || math.IsNaN(p.DiffMAE) {
		switch {
		case !hasScore(mean):
			return Untested, fmt.Sprintf("%s has no scores", mean.Name)
		case !hasScore(m):
			return Untested, "it has no scores"
		default:
			return Untested, "no image scored by both"
		}
	}
	switch {
	case math.Abs(p.DiffMAE) < 1e-12:
		return Tie, ""
	case !p.Significant(conf):
		return NotShown, ""
	case p.DiffMAE < 0:
		return Beats, ""
	default:
		return Worse, ""
	}
}

func hasScore(m *ModelResult) bool {
	for _, p := range m.Predictions {
		if p.Score != nil {
			return true
		}
	}
	return false
}

// Sentence says c in one line, at confidence conf: the model, whether it
// beats mean, the two MAEs on the images both scored and the paired
// p-value.
func (c *MeanCheck) Sentence(conf float64) string {
	who := c.Model
	if c.FineTuned && c.APIModel != c.Model {
		who += " (fine-tuned " + c.APIModel + ")"
	}
	if c.Outcome == NoMean {
		return fmt.Sprintf("%s: not tested against %s, which was not run (%s).", who, MeanStat, MeanRule(conf))
	}
	p := c.Paired
	figures := func(cmp string) string {
		return fmt.Sprintf("MAE %s vs %s on %d images both scored, paired p = %s %s %s",
			f(p.MAE, 3), f(p.BaselineMAE, 3), p.N, pval(p.PValue), cmp, alpha(conf))
	}
	switch c.Outcome {
	case Beats:
		return fmt.Sprintf("%s: beats %s (%s).", who, c.Mean, figures("<"))
	case Worse:
		return fmt.Sprintf("%s: does not beat %s, it is worse (%s).", who, c.Mean, figures("<"))
	case Tie:
		return fmt.Sprintf("%s: does not beat %s, it ties (%s).", who, c.Mean, figures("≥"))
	case NotShown:
		return fmt.Sprintf("%s: does not beat %s: the difference may be chance (%s).", who, c.Mean, figures("≥"))
	default:
		return fmt.Sprintf("%s: cannot be tested against %s (%s).", who, c.Mean, c.Why)
	}
}
