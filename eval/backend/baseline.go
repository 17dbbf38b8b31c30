package backend

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/llm"
)

// baselineBackend builds the models with backend: baseline, whose model is
// the statistic (mean or median) of the training split's scores.
var baselineBackend = Backend{
	Build: func(_ context.Context, _ *config.Config, m *config.Model, env Env) (*Built, error) {
		bl, err := NewBaseline(m.Model.Name, env.TrainScores)
		if err != nil {
			return nil, fmt.Errorf("%w (the baselines need the training split)", err)
		}
		return &Built{Predictor: bl, Identity: "baseline/" + m.Model.Name}, nil
	},
	Ready: func(cfg *config.Config, m *config.Model, _ Env) Readiness {
		split := cfg.SplitPath()
		if _, err := os.Stat(split); err != nil {
			return Readiness{true, "needs the training split (" + split + ", from vlmcmp prepare) or --split all"}
		}
		return Readiness{true, m.Model.Name + " of the training scores in " + split}
	},
	Cached: false,
}

// Baseline predicts the same score for every image: the mean or the median
// of the training split's scores. It never reads the image. It is the floor a
// model must beat to have learned anything from the pictures.
type Baseline struct {
	stat  string  // "mean" or "median"
	value float64 // the score predicted
	n     int     // training scores it was computed from
}

var _ llm.Predictor = (*Baseline)(nil)

// NewBaseline computes stat ("mean" or "median") over train, the scores of
// the training split.
func NewBaseline(stat string, train []float64) (*Baseline, error) {
	if len(train) == 0 {
		return nil, fmt.Errorf("baseline %s: no training scores", stat)
	}
	var v float64
	switch stat {
	case "mean":
		for _, s := range train {
			v += s
		}
		v /= float64(len(train))
	case "median":
		s := slices.Clone(train)
		slices.Sort(s)
		if n := len(s); n%2 == 1 {
			v = s[n/2]
		} else {
			v = (s[n/2-1] + s[n/2]) / 2
		}
	default:
		return nil, fmt.Errorf("baseline %q: want mean or median", stat)
	}
	return &Baseline{stat: stat, value: v, n: len(train)}, nil
}

// Value is the score the baseline predicts.
func (b *Baseline) Value() float64 { return b.value }

// Predict answers b's value. It is safe for concurrent use.
func (b *Baseline) Predict(ctx context.Context, req *llm.Request) (*llm.Prediction, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v := b.value
	return &llm.Prediction{
		Text:    fmt.Sprintf("%s of %d training scores: %.4g", b.stat, b.n, v),
		Score:   &v,
		Backend: "baseline",
		Model:   b.stat,
	}, nil
}
