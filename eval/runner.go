package eval

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
	"github.com/vlmcmp/vlmcmp/eval/report"
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
	// Window bounds the images in flight over every model at once (see
	// parallel.go); 0 means the larger of DefaultWindow and twice the most
	// requests one model has in flight.
	Window int
	// WindowPeak is, after Run, the most images it held at once; Timing
	// each model's wall time and rate, and the run's.
	WindowPeak int
	Timing     *report.RunTiming
}

// ModelResult is what Run did for one model.
type ModelResult struct {
	Model string
	// Answered in this run, Resumed before it, Errors recorded in this run.
	Answered, Resumed, Errors int
	// Err is set when the model was stopped (MaxLeadingErrors) or its file
	// could not be written.
	Err error
	// Started is when the model began in this run; Wall how long it ran
	// until its last answer (every model of a run runs at once).
	Started time.Time
	Wall    time.Duration
}

// Rate is the images per second the model answered in this run (errors
// included); 0 when it answered none.
func (m ModelResult) Rate() float64 {
	if m.Wall <= 0 {
		return 0
	}
	return float64(m.Answered+m.Errors) / m.Wall.Seconds()
}

// Run asks every model about every item not yet answered in the run folder,
// which it owns for the time ([LockRun]) unless its caller does already.
// Every model runs at once, each at its own concurrency or batch, over one
// window of shared images (see parallel.go). It returns one result per
// model; the error is ctx's when the run was interrupted, and otherwise
// joins the errors of the models that stopped.
func (r *Runner) Run(ctx context.Context, models []Model, items []dataset.Item) ([]ModelResult, error) {
	if !HeldHere(r.Dir) { // the caller did not take the folder: the runner does
		l, err := LockRun(r.Dir)
		if err != nil {
			return nil, err
		}
		defer l.Unlock()
	}
	return r.runAll(ctx, models, items)
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
