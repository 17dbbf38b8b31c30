package backend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/usage"
)

func init() {
	register(Kind{Name: "baseline", New: func(c Common) Spec { return &BaselineSpec{common: c} }})
}

// BaselineSpec is a model that predicts one statistic (mean or median) of
// the training split's scores for every image: the floor a model must beat.
type BaselineSpec struct {
	// Stat is mean or median; empty: the model's name.
	Stat string `yaml:"model"`

	common Common
}

// Validate fills the statistic from the name and checks it.
func (s *BaselineSpec) Validate() error {
	if s.Stat == "" {
		s.Stat = s.common.Name
	}
	if s.Stat != "mean" && s.Stat != "median" {
		return usage.Errorf("model", "baseline model %q is not mean or median", s.Stat)
	}
	return nil
}

// Identity names the statistic and the training scores it is computed from
// (their number and a digest): shards or resumes with another training
// split are other models, and their values never mix.
func (s *BaselineSpec) Identity(env Env) (Identity, error) {
	h := sha256.New()
	for _, v := range env.TrainScores {
		fmt.Fprintf(h, "%s\n", strconv.FormatFloat(v, 'g', -1, 64))
	}
	return Identity{
		"backend": "baseline", "model": s.Stat,
		"train_scores.n":      strconv.Itoa(len(env.TrainScores)),
		"train_scores.sha256": hex.EncodeToString(h.Sum(nil)),
	}, nil
}

// Build computes the statistic over env.TrainScores.
func (s *BaselineSpec) Build(_ context.Context, env Env) (*Built, error) {
	bl, err := NewBaseline(s.Stat, env.TrainScores)
	if err != nil {
		return nil, fmt.Errorf("%w (the baselines need the training split)", err)
	}
	return &Built{Predictor: bl}, nil
}

// Ready is always true: the training scores come with the run's images;
// the reason says where from.
func (s *BaselineSpec) Ready(Env) Readiness {
	split := s.common.Shared.SplitPath
	if _, err := os.Stat(split); err != nil {
		return Readiness{true, "needs the training split (" + split + ", from vlmcmp prepare) or --split all"}
	}
	return Readiness{true, s.Stat + " of the training scores in " + split}
}

// Describe is the statistic.
func (s *BaselineSpec) Describe() string { return s.Stat }

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
