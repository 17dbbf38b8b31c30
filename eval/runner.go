package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
	"github.com/vlmcmp/vlmcmp/llm"
)

// Model is one model of a run.
type Model struct {
	// Name is the configured name: the predictions file's name.
	Name string
	// Predictor answers; it may also implement llm.BatchPredictor.
	Predictor llm.Predictor
	// Prompt and System override the items' own when set.
	Prompt string
	System string
	// Options are the decoding options of every request.
	Options llm.Options
	// Concurrency is how many Predict calls run at once when the predictor
	// does not batch; 0 means the runner's.
	Concurrency int
}

// MaxLeadingErrors is how many failures in a row, before any success, stop a
// model: a wrong key or a missing model file fails every image the same way.
const MaxLeadingErrors = 5

// DefaultConcurrency is the number of Predict calls in flight when neither the
// model nor the runner says.
const DefaultConcurrency = 4

// Progress is one model's state, reported after every answer.
type Progress struct {
	Model string
	// Total images; Done of them answered (errors included), Resumed of
	// those before this run started; Errors recorded; Cached answers taken
	// from the response cache in this run.
	Total, Done, Resumed, Errors, Cached int
	// Elapsed since the model started in this run.
	Elapsed time.Duration
	// Finished is set on the model's last report.
	Finished bool
}

// Rate is the answers per second of this run (resumed ones excluded).
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done-p.Resumed) / p.Elapsed.Seconds()
}

// ETA is the estimated time to finish at the current rate; 0 when unknown.
func (p Progress) ETA() time.Duration {
	r := p.Rate()
	if r <= 0 {
		return 0
	}
	return time.Duration(float64(p.Total-p.Done) / r * float64(time.Second))
}

// String is one line of progress, for logs and terminals that show no
// bar: "gpt4: 12/30 40% 1.5 img/s eta 12s errors 0 cached 3", with "done"
// at the end of a model, or "stopped" when it ended with images left.
func (p Progress) String() string {
	pct := 100
	if p.Total > 0 {
		pct = 100 * p.Done / p.Total
	}
	s := fmt.Sprintf("%s: %d/%d %d%%", p.Model, p.Done, p.Total, pct)
	if r := p.Rate(); r > 0 {
		s += fmt.Sprintf(" %.1f img/s", r)
		if !p.Finished {
			s += " eta " + p.ETA().Round(time.Second).String()
		}
	}
	s += fmt.Sprintf(" errors %d", p.Errors)
	if p.Cached > 0 {
		s += fmt.Sprintf(" cached %d", p.Cached)
	}
	switch {
	case p.Finished && p.Done < p.Total:
		s += " stopped" // a model that stopped early is never "done"
	case p.Finished:
		s += " done"
	}
	return s
}

// Runner runs models over items into a run folder. Set the fields before
// Run; a Runner runs one Run at a time.
type Runner struct {
	// Dir is the run folder.
	Dir string
	// Concurrency is the default number of Predict calls in flight per
	// model (see the package doc); 0 means DefaultConcurrency.
	Concurrency int
	// Progress, when set, is called after every answer and once when a
	// model finishes, always from the goroutine that called Run.
	Progress func(Progress)
	// Status receives the lines a person running it wants to see (a torn
	// line dropped, errors redone); nil: discarded. Log receives debug
	// lines; nil: discarded.
	Status io.Writer
	Log    *slog.Logger
}

// ModelResult is what Run did for one model.
type ModelResult struct {
	Model string
	// Answered in this run, Resumed before it, Errors recorded in this run.
	Answered, Resumed, Errors int
	// Err is set when the model was stopped (MaxLeadingErrors) or its file
	// could not be written.
	Err error
}

// Run asks every model about every item not yet answered in the run folder,
// which it owns for the time ([LockRun]) unless its caller does already.
// It returns one result per model; the error is ctx's when the run was
// interrupted, and otherwise joins the errors of the models that stopped.
func (r *Runner) Run(ctx context.Context, models []Model, items []dataset.Item) ([]ModelResult, error) {
	if !HeldHere(r.Dir) { // the caller did not take the folder: the runner does
		l, err := LockRun(r.Dir)
		if err != nil {
			return nil, err
		}
		defer l.Unlock()
	}
	var results []ModelResult
	var errs []error
	for _, m := range models {
		res := r.runModel(ctx, m, items)
		results = append(results, res)
		if err := ctx.Err(); err != nil {
			return results, err
		}
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("model %s: %w", m.Name, res.Err))
			if _, ok := errors.AsType[*WriteError](res.Err); ok {
				break // the disk, not the model: the next would fail alike
			}
		}
	}
	return results, errors.Join(errs...)
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Runner) status() io.Writer {
	if r.Status != nil {
		return r.Status
	}
	return io.Discard
}

func (r *Runner) runModel(ctx context.Context, m Model, items []dataset.Item) (res ModelResult) {
	res.Model = m.Name
	path := PredictionsPath(r.Dir, m.Name)
	w, kept, read, err := OpenPredictions(path, func(rec *Record) bool { return rec.Error == "" })
	if err != nil {
		res.Err = err
		return res
	}
	defer func() {
		if err := w.Close(); err != nil && res.Err == nil {
			res.Err = err
		}
	}()
	if read.Torn {
		fmt.Fprintf(r.status(), "%s had a torn last line (an interrupted write); dropped it, the image is redone\n", path)
	}
	if n := len(read.Records) - len(kept); n > 0 {
		fmt.Fprintf(r.status(), "%s: redoing %d items that recorded an error\n", m.Name, n)
	}
	done := make(map[string]bool, len(kept))
	for _, rec := range kept {
		done[rec.ID] = true
	}
	var reqs []*llm.Request
	byID := make(map[string]*dataset.Item, len(items))
	for i := range items {
		it := &items[i]
		if done[it.ID] {
			res.Resumed++
			continue
		}
		if byID[it.ID] != nil {
			continue // the same image twice in the set: ask once
		}
		byID[it.ID] = it
		reqs = append(reqs, r.request(m, it))
	}
	total := res.Resumed + len(reqs)
	p := Progress{Model: m.Name, Total: total, Done: res.Resumed, Resumed: res.Resumed}
	start := time.Now()
	report := func(finished bool) {
		if r.Progress != nil {
			p.Elapsed, p.Finished = time.Since(start), finished
			r.Progress(p)
		}
	}
	report(len(reqs) == 0)
	if len(reqs) == 0 {
		return res
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	leadingErrs := 0
	var firstErr error
	for out := range r.predict(ctx, m, reqs) {
		it := byID[out.Request.ID]
		if out.Err != nil && ctx.Err() != nil {
			continue // interrupted, not answered: redone on resume
		}
		rec := Record{ID: it.ID, Image: it.ImagePath, Expected: it.Score, Model: m.Name, Time: time.Now().UTC()}
		if out.Err != nil {
			rec.Error, rec.Missing = out.Err.Error(), llm.MissingReason(out.Err)
			res.Errors++
			p.Errors++
			if res.Answered == 0 {
				leadingErrs++
				if firstErr == nil {
					firstErr = out.Err
				}
			}
			r.log().Debug("item failed", "model", m.Name, "id", it.ID, "err", out.Err)
		} else {
			rec.Prediction = out.Prediction
			res.Answered++
			if out.Prediction.Cached {
				p.Cached++
			}
		}
		if err := w.Append(&rec); err != nil {
			res.Err = err
			cancel()
			continue
		}
		p.Done++
		report(false)
		if res.Answered == 0 && leadingErrs >= MaxLeadingErrors && res.Err == nil {
			res.Err = fmt.Errorf("stopped after its first %d images all failed: %w", leadingErrs, firstErr)
			cancel()
		}
	}
	report(true)
	return res
}

// request builds the request for one item: the model's prompts when set,
// else the item's.
func (r *Runner) request(m Model, it *dataset.Item) *llm.Request {
	req := &llm.Request{ID: it.ID, ImagePath: it.ImagePath, Prompt: it.Prompt, System: it.System, Options: m.Options}
	if m.Prompt != "" {
		req.Prompt = m.Prompt
	}
	if m.System != "" {
		req.System = m.System
	}
	return req
}

// predict answers reqs through PredictBatch when the predictor has it, else
// through llm.PredictPool calling Predict. The channel is closed after the
// last result.
func (r *Runner) predict(ctx context.Context, m Model, reqs []*llm.Request) <-chan llm.Result {
	if bp, ok := m.Predictor.(llm.BatchPredictor); ok {
		return bp.PredictBatch(ctx, reqs)
	}
	n := m.Concurrency
	if n <= 0 {
		n = r.Concurrency
	}
	if n <= 0 {
		n = DefaultConcurrency
	}
	return llm.PredictPool(ctx, reqs, n, m.Predictor.Predict)
}
