package eval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
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

// A predictions file that answers an image twice with different scores
// is an error naming both lines, not a silent win of the last line; the
// same answer twice, or an answer beside an error line, is read as one
// answer.
func TestDuplicatePredictionWithAnotherScoreIsAnError(t *testing.T) {
	line := func(score int) string {
		return fmt.Sprintf(`{"id":"a","image":"a.png","expected":3,"model":"m","prediction":{"text":"%d","score":%d}}`, score, score)
	}
	errLine := `{"id":"a","image":"a.png","expected":3,"model":"m","error":"boom","missing":"unreachable"}`
	other := `{"id":"b","image":"b.png","expected":4,"model":"m","prediction":{"text":"4","score":4}}`
	_, err := parsePredictions("p.jsonl", []byte(line(7)+"\n"+other+"\n"+line(5)+"\n"))
	if err == nil || !strings.Contains(err.Error(), `p.jsonl:3: image "a" is answered twice with different scores (7 and 5) (line 1 and this one)`) {
		t.Errorf("two scores for one image: %v", err)
	}
	for name, data := range map[string]string{
		"same score":        line(7) + "\n" + line(7) + "\n",
		"error then answer": errLine + "\n" + line(7) + "\n",
		"answer then error": line(7) + "\n" + errLine + "\n",
	} {
		res, err := parsePredictions("p.jsonl", []byte(data))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(res.Records) != 1 || res.Records[0].Score() == nil || *res.Records[0].Score() != 7 || res.Duplicates != 1 {
			t.Errorf("%s: records %+v, want the answer 7 once", name, res.Records)
		}
	}
}

// A line's own expected score does not override run.json's: the figures
// use the label the run was started with.
func TestRunExpectedWinsOverLine(t *testing.T) {
	score := 5.0
	info := &RunInfo{ID: "r", Models: []string{"m"}, Items: []dataset.Item{{ID: "a", ImagePath: "a.png", Score: 3}}}
	recs := map[string][]Record{"m": {{ID: "a", Image: "a.png", Expected: 9, Model: "m", Prediction: &llm.Prediction{Score: &score}}}}
	in := reportInput(t.TempDir(), info, recs)
	if got := in.Models[0].Predictions[0].Expected; got != 3 {
		t.Errorf("expected %v, want run.json's 3 (the line says 9)", got)
	}
}
