package eval

import (
	"context"
	"errors"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
)

// refusedPredictor fails every request as a killed server does: connection
// refused, a missing answer.
type refusedPredictor struct{}

func (refusedPredictor) Predict(context.Context, *llm.Request) (*llm.Prediction, error) {
	return nil, llm.Missing(llm.MissingUnreachable, errors.New("dial tcp 127.0.0.1:9: connect: connection refused"))
}

// The runner records why an answer is missing, so that every figure counts
// it apart from the model's answers; an error of the request's own (an
// unreadable image) has no reason and counts as no score.
func TestRunnerRecordsMissingAnswerReason(t *testing.T) {
	items := testItems(t, 3)
	dir := t.TempDir()
	r := &Runner{Dir: dir}
	if _, err := r.Run(t.Context(), []Model{{Name: "down", Predictor: refusedPredictor{}}, {Name: "ok", Predictor: &fakePredictor{}}}, items); err != nil {
		t.Fatal(err)
	}
	for _, rec := range readAll(t, PredictionsPath(dir, "down")) {
		if rec.Missing != llm.MissingUnreachable || rec.Error == "" {
			t.Errorf("record %+v: want the error with missing %q", rec, llm.MissingUnreachable)
		}
	}
	for _, rec := range readAll(t, PredictionsPath(dir, "ok")) {
		if rec.Missing != "" {
			t.Errorf("answered record %+v has a missing reason", rec)
		}
	}
}
