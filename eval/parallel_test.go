package eval

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
)

// meetPredictor answers after every model of the run has a request in
// flight at once (or fails after a while): it fails unless the models run
// at the same time. It records the shared image each request carried.
type meetPredictor struct {
	fakePredictor
	meet   *sync.WaitGroup
	once   sync.Once
	shared sync.Map // ID -> *llm.SharedImage
}

func (m *meetPredictor) Predict(ctx context.Context, req *llm.Request) (*llm.Prediction, error) {
	m.once.Do(func() {
		m.meet.Done()
	})
	done := make(chan struct{})
	go func() { m.meet.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return nil, errors.New("the other models never started: they run one after the other")
	}
	if req.Shared == nil {
		return nil, errors.New("request without the run's shared image")
	}
	if _, err := req.Shared.Data(); err != nil {
		return nil, err
	}
	m.shared.Store(req.ID, req.Shared)
	return m.fakePredictor.Predict(ctx, req)
}

// The models of a run work at once, each with its own requests in flight,
// over one shared copy of each image, within the window; each model's
// answers land once per image in its own file, and the timing has every
// model.
func TestRunModelsAtOnce(t *testing.T) {
	items := testItems(t, 30)
	var meet sync.WaitGroup
	meet.Add(3)
	ps := []*meetPredictor{{meet: &meet}, {meet: &meet}, {meet: &meet}}
	models := []Model{
		{Name: "a", Predictor: ps[0], Concurrency: 1},
		{Name: "b", Predictor: ps[1], Concurrency: 3},
		{Name: "c", Predictor: &batchMeet{ps[2]}, Concurrency: 2},
	}
	dir := t.TempDir()
	r := &Runner{Dir: dir, Window: 5}
	res, err := r.Run(t.Context(), models, items)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res {
		if m.Answered != len(items) || m.Err != nil || m.Wall <= 0 {
			t.Errorf("%s: %+v; want %d answers and a wall time", m.Model, m, len(items))
		}
		onePerItem(t, PredictionsPath(dir, m.Model), items)
	}
	if r.WindowPeak > 5 {
		t.Errorf("window held %d images at once, want at most 5", r.WindowPeak)
	}
	for _, it := range items {
		a, _ := ps[0].shared.Load(it.ID)
		for _, p := range ps[1:] {
			if b, _ := p.shared.Load(it.ID); a == nil || b != a {
				t.Errorf("%s: models got different copies of the image (%p, %p)", it.ID, a, b)
			}
		}
	}
	if tm := r.Timing; tm == nil || len(tm.Models) != 3 || tm.Images != len(items) || tm.Answers != 3*len(items) || tm.WallS <= 0 {
		t.Errorf("timing %+v; want 3 models, %d images, %d answers", tm, len(items), 3*len(items))
	}
}

// batchMeet is a meetPredictor behind llm.BatchPredictor.
type batchMeet struct{ *meetPredictor }

func (b *batchMeet) PredictBatch(ctx context.Context, reqs []*llm.Request) <-chan llm.Result {
	return llm.PredictPool(ctx, reqs, len(reqs), b.Predict)
}

// A model whose first answers all fail stops without holding the others
// back: they finish every image although the window is small.
func TestRunStoppedModelFreesWindow(t *testing.T) {
	items := testItems(t, 20)
	bad := &failing{}
	models := []Model{{Name: "bad", Predictor: bad, Concurrency: 1}, {Name: "good", Predictor: &fakePredictor{}, Concurrency: 1}}
	r := &Runner{Dir: t.TempDir(), Window: 2}
	res, err := r.Run(t.Context(), models, items)
	if err == nil || res[0].Err == nil {
		t.Fatalf("err %v, bad %+v: want bad stopped", err, res[0])
	}
	if res[1].Answered != len(items) {
		t.Errorf("good answered %d of %d after bad stopped", res[1].Answered, len(items))
	}
}

type failing struct{}

func (failing) Predict(ctx context.Context, req *llm.Request) (*llm.Prediction, error) {
	return nil, errors.New("401 wrong key")
}
