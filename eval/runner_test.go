package eval

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/eval/dataset"
	"github.com/vlmcmp/vlmcmp/llm"
)

// fakePredictor answers from the request's ID, reads the image file to fail
// like a real backend on a missing one, and can cancel the run after a number
// of answers to simulate Ctrl-C.
type fakePredictor struct {
	mu       sync.Mutex
	answered map[string]int // ID -> answers given
	calls    int
	stopAt   int                // cancel after this many answers (0: never)
	stop     context.CancelFunc // what to cancel
	delay    time.Duration
}

func (f *fakePredictor) Predict(ctx context.Context, req *llm.Request) (*llm.Prediction, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if _, err := os.Stat(req.ImagePath); err != nil {
		return nil, fmt.Errorf("read image: %w", err)
	}
	h := fnv.New32a()
	h.Write([]byte(req.ID))
	p := &llm.Prediction{Backend: "fake", Model: "fake-1"}
	p.SetText(fmt.Sprintf("Safety score: %d/10", h.Sum32()%10+1))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.answered == nil {
		f.answered = map[string]int{}
	}
	f.answered[req.ID]++
	if total := sum(f.answered); f.stopAt > 0 && total == f.stopAt {
		f.stop()
	}
	return p, nil
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// batchFake is fakePredictor with PredictBatch, to test the batch path.
type batchFake struct {
	fakePredictor
	batches int
}

func (b *batchFake) PredictBatch(ctx context.Context, reqs []*llm.Request) <-chan llm.Result {
	b.batches++
	out := make(chan llm.Result, len(reqs))
	go func() {
		defer close(out)
		for i := len(reqs) - 1; i >= 0; i-- { // out of order on purpose
			p, err := b.Predict(ctx, reqs[i])
			out <- llm.Result{Request: reqs[i], Prediction: p, Err: err}
		}
	}()
	return out
}

func testItems(t testing.TB, n int) []dataset.Item {
	t.Helper()
	dir := t.TempDir()
	items := make([]dataset.Item, n)
	for i := range items {
		id := fmt.Sprintf("img/%03d.png", i)
		path := filepath.Join(dir, fmt.Sprintf("%03d.png", i))
		if err := os.WriteFile(path, []byte("not read"), 0o644); err != nil {
			t.Fatal(err)
		}
		items[i] = dataset.Item{ID: id, ImagePath: path, Score: float64(i%10 + 1), Prompt: "Rate it."}
	}
	return items
}

func readAll(t testing.TB, path string) []Record {
	t.Helper()
	res, err := ReadPredictions(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Torn {
		t.Fatalf("%s has a torn last line", path)
	}
	return res.Records
}

// onePerItem checks that the file holds exactly one record per item.
func onePerItem(t testing.TB, path string, items []dataset.Item) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != len(items) {
		t.Errorf("%s: %d lines, want %d (one per image)", filepath.Base(path), len(lines), len(items))
	}
	seen := map[string]int{}
	for _, r := range readAll(t, path) {
		seen[r.ID]++
	}
	for _, it := range items {
		if seen[it.ID] != 1 {
			t.Errorf("%s: %s recorded %d times, want 1", filepath.Base(path), it.ID, seen[it.ID])
		}
	}
}

func TestRunnerResumeAfterInterrupt(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			items := testItems(t, 40)
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			mk := func(stopAt int, stop context.CancelFunc) (llm.Predictor, *fakePredictor) {
				if batch {
					b := &batchFake{fakePredictor: fakePredictor{stopAt: stopAt, stop: stop, delay: time.Millisecond}}
					return b, &b.fakePredictor
				}
				f := &fakePredictor{stopAt: stopAt, stop: stop, delay: time.Millisecond}
				return f, f
			}
			p1, f1 := mk(15, cancel)
			base, _ := backend.NewBaseline("mean", []float64{2, 4, 9})
			models := []Model{{Name: "m", Predictor: p1, Concurrency: 3}, {Name: "mean", Predictor: base}}
			r := &Runner{Dir: dir}
			_, err := r.Run(ctx, models, items)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
			}
			first := readAll(t, PredictionsPath(dir, "m"))
			if len(first) < 15 || len(first) >= len(items) {
				t.Fatalf("after the interrupt %d records, want between 15 and %d", len(first), len(items)-1)
			}
			// The models run at once: the second may have answered some
			// images too, never more than there are.
			if _, err := os.Stat(PredictionsPath(dir, "mean")); err == nil {
				if n := len(readAll(t, PredictionsPath(dir, "mean"))); n > len(items) {
					t.Errorf("the second model recorded %d answers for %d images", n, len(items))
				}
			}

			p2, f2 := mk(0, nil)
			models[0].Predictor = p2
			var last Progress
			r.Progress = func(p Progress) { last = p }
			res, err := r.Run(t.Context(), models, items)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []string{"m", "mean"} {
				onePerItem(t, PredictionsPath(dir, m), items)
			}
			for id := range f1.answered {
				if f2.answered[id] > 0 {
					t.Errorf("%s answered in the first run was asked again on resume", id)
				}
			}
			if got := len(first) + sum(f2.answered); got != len(items) {
				t.Errorf("answers over both runs = %d, want %d", got, len(items))
			}
			if res[0].Resumed != len(first) || res[0].Answered != len(items)-len(first) {
				t.Errorf("result = %+v, want %d resumed", res[0], len(first))
			}
			if !last.Finished || last.Done != len(items) || last.Total != len(items) {
				t.Errorf("last progress = %+v", last)
			}
			// A third run has nothing to do.
			p3, f3 := mk(0, nil)
			models[0].Predictor = p3
			if _, err := r.Run(t.Context(), models, items); err != nil {
				t.Fatal(err)
			}
			if f3.calls != 0 {
				t.Errorf("a complete run asked %d more questions", f3.calls)
			}
		})
	}
}

func TestRunnerItemErrors(t *testing.T) {
	items := testItems(t, 12)
	os.Remove(items[3].ImagePath)
	os.Remove(items[7].ImagePath)
	dir := t.TempDir()
	r := &Runner{Dir: dir}
	f := &fakePredictor{}
	res, err := r.Run(t.Context(), []Model{{Name: "m", Predictor: f}}, items)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Errors != 2 || res[0].Answered != 10 {
		t.Errorf("result = %+v, want 2 errors, 10 answered", res[0])
	}
	recs := readAll(t, PredictionsPath(dir, "m"))
	errs := 0
	for _, rec := range recs {
		if rec.Error != "" {
			errs++
			if !strings.Contains(rec.Error, "read image") || rec.Prediction != nil {
				t.Errorf("error record = %+v", rec)
			}
		} else if rec.Score() == nil || rec.Prediction.Text == "" {
			t.Errorf("answer record without score: %+v", rec)
		}
	}
	if errs != 2 {
		t.Errorf("%d error records, want 2", errs)
	}
	// Restore one image: a resume redoes the errors only, and the file
	// still holds one line per image.
	os.WriteFile(items[3].ImagePath, []byte("x"), 0o644)
	f2 := &fakePredictor{}
	res, err = r.Run(t.Context(), []Model{{Name: "m", Predictor: f2}}, items)
	if err != nil {
		t.Fatal(err)
	}
	if f2.calls != 2 || res[0].Errors != 1 {
		t.Errorf("resume asked %d questions with %d errors, want 2 and 1", f2.calls, res[0].Errors)
	}
	onePerItem(t, PredictionsPath(dir, "m"), items)
}

func TestRunnerStopsOnLeadingErrors(t *testing.T) {
	items := testItems(t, 30)
	for _, it := range items {
		os.Remove(it.ImagePath)
	}
	dir := t.TempDir()
	f := &fakePredictor{}
	base, _ := backend.NewBaseline("median", []float64{1, 3})
	res, err := (&Runner{Dir: dir, Concurrency: 1}).Run(t.Context(),
		[]Model{{Name: "broken", Predictor: f}, {Name: "median", Predictor: base}}, items)
	if err == nil || !strings.Contains(err.Error(), "model broken: stopped after its first 5 images all failed") {
		t.Fatalf("err = %v", err)
	}
	if f.calls > MaxLeadingErrors+1 {
		t.Errorf("broken model asked %d times, want it stopped after %d", f.calls, MaxLeadingErrors)
	}
	if res[1].Answered != len(items) {
		t.Errorf("the next model did not run after a broken one: %+v", res[1])
	}
}

func TestTornLineRecovered(t *testing.T) {
	items := testItems(t, 6)
	dir := t.TempDir()
	r := &Runner{Dir: dir}
	if _, err := r.Run(t.Context(), []Model{{Name: "m", Predictor: &fakePredictor{}}}, items); err != nil {
		t.Fatal(err)
	}
	path := PredictionsPath(dir, "m")
	data, _ := os.ReadFile(path)
	// A crash in the middle of the last write.
	lines := strings.SplitAfter(string(data), "\n")
	torn := strings.Join(lines[:len(lines)-2], "") + lines[len(lines)-2][:20]
	if err := os.WriteFile(path, []byte(torn), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := ReadPredictions(path)
	if err != nil || !res.Torn || len(res.Records) != 5 {
		t.Fatalf("ReadPredictions(torn) = %+v, %v; want 5 records and Torn", res, err)
	}
	var logs strings.Builder
	r.Status = &logs
	f := &fakePredictor{}
	if _, err := r.Run(t.Context(), []Model{{Name: "m", Predictor: f}}, items); err != nil {
		t.Fatal(err)
	}
	if f.calls != 1 {
		t.Errorf("recovery asked %d questions, want 1", f.calls)
	}
	if !strings.Contains(logs.String(), "torn last line") || !strings.Contains(logs.String(), path) {
		t.Errorf("no warning naming the file: %q", logs.String())
	}
	onePerItem(t, path, items)
}

func TestReadPredictions(t *testing.T) {
	good := `{"id":"a","image":"a.png","expected":3,"model":"m","prediction":{"text":"3","score":3}}`
	good2 := `{"id":"b","image":"b.png","expected":4,"model":"m","error":"boom"}`
	tests := []struct {
		name       string
		data       string
		wantIDs    string
		torn, nonl bool
		wantErr    string
	}{
		{name: "empty", data: ""},
		{name: "two", data: good + "\n" + good2 + "\n", wantIDs: "a,b"},
		{name: "blank lines", data: "\n" + good + "\n\n", wantIDs: "a"},
		{name: "torn", data: good + "\n" + good2[:15], wantIDs: "a", torn: true},
		{name: "torn with newline", data: good + "\n{\"id\":\n", wantIDs: "a", torn: true},
		{name: "no final newline", data: good + "\n" + good2, wantIDs: "a,b", nonl: true},
		{name: "duplicate", data: good2 + "\n" + good + "\n" + strings.Replace(good2, "boom", "bang", 1) + "\n", wantIDs: "b,a"},
		{name: "bad middle", data: good + "\nnot json\n" + good2 + "\n", wantErr: "p.jsonl:2: not a prediction record"},
		{name: "no id", data: `{"image":"x"}` + "\n" + good + "\n", wantErr: "p.jsonl:1: not a prediction record: no id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := parsePredictions("p.jsonl", []byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range res.Records {
				ids = append(ids, r.ID)
			}
			if got := strings.Join(ids, ","); got != tt.wantIDs || res.Torn != tt.torn || res.NoFinalNewline != tt.nonl {
				t.Errorf("got ids %q torn %v nonl %v, want %q %v %v", got, res.Torn, res.NoFinalNewline, tt.wantIDs, tt.torn, tt.nonl)
			}
		})
	}
}

func FuzzReadPredictions(f *testing.F) {
	f.Add([]byte(`{"id":"a","expected":3,"prediction":{"score":3}}` + "\n"))
	f.Add([]byte(`{"id":"a"}` + "\n" + `{"id":`))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := parsePredictions("f.jsonl", data)
		if err != nil {
			return
		}
		if res.ValidSize > int64(len(data)) {
			t.Errorf("ValidSize %d beyond %d bytes", res.ValidSize, len(data))
		}
		for _, r := range res.Records {
			if r.ID == "" {
				t.Error("record without id accepted")
			}
		}
	})
}

func TestLatestRun(t *testing.T) {
	out := t.TempDir()
	if _, err := LatestRun(out); err == nil || !strings.Contains(err.Error(), "no runs in") {
		t.Errorf("LatestRun(empty) = %v", err)
	}
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, id := range []string{"b", "a", "c"} {
		if err := WriteRunInfo(filepath.Join(out, id), &RunInfo{ID: id, Created: t0.Add(time.Duration([]int{2, 3, 1}[i]) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(out, "zzz-not-a-run"), 0o755)
	got, err := LatestRun(out)
	if err != nil || filepath.Base(got) != "a" {
		t.Errorf("LatestRun = %q, %v; want a (newest by run.json)", got, err)
	}
	// FindRun: the folder given, else the latest under the output folder
	// given, else under the config's.
	if got, err := FindRun("x/y", out, ""); got != "x/y" || err != nil {
		t.Errorf("FindRun(dir) = %q, %v", got, err)
	}
	if got, err := FindRun("", out, ""); filepath.Base(got) != "a" || err != nil {
		t.Errorf("FindRun(outputDir) = %q, %v", got, err)
	}
	cfg := filepath.Join(t.TempDir(), "vlmcmp.yaml")
	os.WriteFile(cfg, []byte("output_dir: "+out+"\nmodels:\n  - name: mean\n    backend: baseline\n"), 0o644)
	if got, err := FindRun("", "", cfg); filepath.Base(got) != "a" || err != nil {
		t.Errorf("FindRun(config) = %q, %v", got, err)
	}
}

func TestProgressString(t *testing.T) {
	for _, tc := range []struct {
		p    Progress
		want string
	}{
		{Progress{Model: "m", Total: 30, Done: 12, Resumed: 2, Elapsed: 5 * time.Second, Cached: 3}, "m: 12/30 40% 2.0 img/s eta 9s errors 0 cached 3"},
		{Progress{Model: "m", Total: 4, Done: 4, Errors: 1, Elapsed: 2 * time.Second, Finished: true}, "m: 4/4 100% 2.0 img/s errors 1 done"},
		{Progress{Model: "m", Total: 4, Done: 1, Resumed: 1, Finished: true}, "m: 1/4 25% errors 0 stopped"},
		{Progress{Model: "m"}, "m: 0/0 100% errors 0"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.p, got, tc.want)
		}
	}
}
