package eval

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
	"github.com/vlmcmp/vlmcmp/eval/report"
	"github.com/vlmcmp/vlmcmp/llm"
)

// How Run runs models at once
//
// Every model of a run has its own goroutine, its own predictions file and
// its own requests in flight: its concurrency for a backend that does not
// batch (through llm.PredictPool), or for a BatchPredictor its requests
// handed in a few at a time (twice its Parallel sequences when it says how
// many it decodes together, else twice its concurrency). Each model asks
// about its unanswered images in the order of the run's items.
//
// The models share one window of images (imageWindow): an image is one
// llm.SharedImage, read once, its pixels made once per share key that needs them,
// and released when every model that has it to answer has answered it. A
// model may take image i only while i is within Window images of the oldest
// image some model still has to answer; the leading model waits there. So
// the images (and the embeddings local models share through them) held at
// once are bounded by the window, whatever the number of images, and the
// models move through the images together. A model that stops (its first
// answers all failed, its file could not be written, the run was
// interrupted) gives up its claim on the images it did not answer, so the
// others never wait on it.

// DefaultWindow is the images in flight of a run at least (Runner.Window 0):
// the run's window is the larger of this and twice the most requests one of
// its models has in flight, so that the models in step each keep theirs
// full while the leader runs ahead by as many.
const DefaultWindow = 32

// modelRun is one model's part of a run: what openModel found, for
// recordModel.
type modelRun struct {
	m     Model
	res   ModelResult
	w     *PredictionsWriter
	reqs  []*llm.Request
	idx   []int // reqs[k] is the image at window position idx[k]
	byID  map[string]*dataset.Item
	pos   map[*llm.Request]int // request -> k
	freed []bool               // reqs[k]'s claim on the window was given up
	share string               // llm.Sharer key; "" none
	limit int                  // requests in flight
}

// runAll runs every model at once (see above) and returns their results in
// the order of models.
func (r *Runner) runAll(ctx context.Context, models []Model, items []dataset.Item) ([]ModelResult, error) {
	// Item i's position in the window is the index of the first item with
	// its ID: the same image twice in the set is asked once.
	first := make(map[string]int, len(items))
	for i := range items {
		if _, ok := first[items[i].ID]; !ok {
			first[items[i].ID] = i
		}
	}
	runs := make([]*modelRun, len(models))
	widest := 0
	for i, m := range models {
		mr := r.openModel(m, items, first)
		runs[i] = mr
		widest = max(widest, mr.limit)
	}
	size := r.Window
	if size <= 0 {
		size = max(DefaultWindow, 2*widest)
	}
	win := newImageWindow(items, size)
	for _, mr := range runs {
		for k := range mr.reqs {
			win.need(mr.idx[k], mr.share)
		}
	}
	asked := 0
	for _, s := range win.slots {
		if s.pending > 0 {
			asked++
		}
	}

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	progress := make(chan Progress)
	var wg sync.WaitGroup
	var (
		diskOnce sync.Once
		disk     *modelRun // the first model whose file could not be written
	)
	for _, mr := range runs {
		if mr.res.Err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.recordModel(ctx, mr, win, progress)
			if _, ok := errors.AsType[*WriteError](mr.res.Err); ok {
				// The disk, not the model: the others would fail alike.
				diskOnce.Do(func() { disk = mr; cancel() })
			}
		}()
	}
	go func() {
		wg.Wait()
		close(progress)
	}()
	// Progress is reported on the caller's goroutine, every model's as it
	// comes.
	for p := range progress {
		r.report(p)
	}
	r.WindowPeak = win.Peak()
	r.Timing = runTiming(runs, asked)
	for _, mr := range runs {
		if note := imageBudgetNote(mr.m.Predictor); note != "" {
			fmt.Fprintf(r.status(), "%s: %s\n", mr.m.Name, note)
		}
	}
	results := make([]ModelResult, len(runs))
	var errs []error
	for i, mr := range runs {
		results[i] = mr.res
		if mr.res.Err == nil {
			continue
		}
		if _, ok := errors.AsType[*WriteError](mr.res.Err); ok && disk != nil && mr != disk {
			continue // the full disk is told once, by the first file it stopped
		}
		errs = append(errs, fmt.Errorf("model %s: %w", mr.m.Name, mr.res.Err))
	}
	if err := parent.Err(); err != nil {
		return results, err
	}
	return results, errors.Join(errs...)
}

func (r *Runner) report(p Progress) {
	if r.Progress != nil {
		r.Progress(p)
	}
}

// openModel opens m's predictions file and lists the images it has to
// answer.
func (r *Runner) openModel(m Model, items []dataset.Item, first map[string]int) *modelRun {
	mr := &modelRun{m: m, res: ModelResult{Model: m.Name}}
	path := PredictionsPath(r.Dir, m.Name)
	w, kept, read, err := OpenPredictions(path, func(rec *Record) bool { return rec.Error == "" })
	if err != nil {
		mr.res.Err = err
		return mr
	}
	mr.w = w
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
	mr.byID = make(map[string]*dataset.Item, len(items))
	mr.pos = map[*llm.Request]int{}
	for i := range items {
		it := &items[i]
		if done[it.ID] {
			mr.res.Resumed++
			continue
		}
		if mr.byID[it.ID] != nil {
			continue // the same image twice in the set: ask once
		}
		mr.byID[it.ID] = it
		req := r.request(m, it)
		mr.pos[req] = len(mr.reqs)
		mr.reqs = append(mr.reqs, req)
		mr.idx = append(mr.idx, first[it.ID])
	}
	mr.freed = make([]bool, len(mr.reqs))
	if s, ok := underlying[llm.Sharer](m.Predictor); ok {
		mr.share = s.ShareKey()
	}
	mr.limit = r.inFlight(m)
	return mr
}

// inFlight is how many of m's requests are handed to its backend at once.
func (r *Runner) inFlight(m Model) int {
	n := m.Concurrency
	if n <= 0 {
		n = r.Concurrency
	}
	if n <= 0 {
		n = DefaultConcurrency
	}
	if p, ok := underlying[interface{ Parallel() int }](m.Predictor); ok {
		// A batching backend decodes Parallel sequences together and
		// prepares as many ahead.
		return 2 * max(p.Parallel(), 1)
	}
	if c, ok := underlying[interface{ Concurrency() int }](m.Predictor); ok {
		// A backend that bounds its own requests in flight (the OpenAI
		// one) gets twice its bound.
		return 2 * max(c.Concurrency(), 1)
	}
	if _, ok := m.Predictor.(llm.BatchPredictor); ok {
		return 2 * n
	}
	return n
}

// runTiming is the timing of a run's sitting: each model's and the run's
// (from the first start to the last answer), over the images asked.
func runTiming(runs []*modelRun, asked int) *report.RunTiming {
	t := &report.RunTiming{Images: asked}
	var first, last time.Time
	for _, mr := range runs {
		res := mr.res
		n := res.Answered + res.Errors
		t.Models = append(t.Models, report.ModelTiming{Model: res.Model, WallS: res.Wall.Seconds(), Images: n, ImagesPerS: res.Rate()})
		t.Answers += n
		if res.Started.IsZero() {
			continue
		}
		if first.IsZero() || res.Started.Before(first) {
			first = res.Started
		}
		if end := res.Started.Add(res.Wall); end.After(last) {
			last = end
		}
	}
	if last.After(first) {
		t.WallS = last.Sub(first).Seconds()
		t.ImagesPerS = float64(t.Images) / t.WallS
		t.AnswersPerS = float64(t.Answers) / t.WallS
	}
	return t
}

// underlying finds an optional interface of p, or of the predictor it wraps
// (a response cache's Unwrap).
func underlying[T any](p llm.Predictor) (T, bool) {
	for {
		if t, ok := p.(T); ok {
			return t, true
		}
		u, ok := p.(interface{ Unwrap() llm.Predictor })
		if !ok {
			var zero T
			return zero, false
		}
		p = u.Unwrap()
	}
}

// recordModel asks mr's model about its images and records the answers
// (see Run). Progress goes to progress; mr.res gets the outcome.
func (r *Runner) recordModel(ctx context.Context, mr *modelRun, win *imageWindow, progress chan<- Progress) {
	m, res := mr.m, &mr.res
	defer func() {
		for k := range mr.reqs {
			mr.release(win, k) // what it never answered: the others go on
		}
		if err := mr.w.Close(); err != nil && res.Err == nil {
			res.Err = err
		}
	}()
	p := Progress{Model: m.Name, Total: res.Resumed + len(mr.reqs), Done: res.Resumed, Resumed: res.Resumed}
	start := time.Now()
	res.Started = start
	report := func(finished bool) {
		p.Elapsed, p.Finished = time.Since(start), finished
		progress <- p
	}
	report(len(mr.reqs) == 0)
	if len(mr.reqs) == 0 {
		return
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	leadingErrs := 0
	var firstErr error
	for out := range r.feed(ctx, mr, win) {
		k := mr.pos[out.Request]
		it := mr.byID[out.Request.ID]
		if out.Err != nil && ctx.Err() != nil {
			mr.release(win, k)
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
		err := mr.w.Append(&rec)
		mr.release(win, k)
		if err != nil {
			res.Err = err
			cancel()
			continue
		}
		p.Done++
		res.Wall = time.Since(start)
		report(false)
		if res.Answered == 0 && leadingErrs >= MaxLeadingErrors && res.Err == nil {
			res.Err = fmt.Errorf("stopped after its first %d images all failed: %w", leadingErrs, firstErr)
			cancel()
		}
	}
	res.Wall = time.Since(start)
	report(true)
}

// release gives up reqs[k]'s claim on its image, once.
func (mr *modelRun) release(win *imageWindow, k int) {
	if mr.freed[k] {
		return
	}
	mr.freed[k] = true
	win.done(mr.idx[k])
}

// feed hands mr's requests to its backend as the window and its in-flight
// limit allow, each with its shared image, and returns the results in
// completion order; the channel is closed after the last. A request the
// window never let in (ctx ended) has no result.
func (r *Runner) feed(ctx context.Context, mr *modelRun, win *imageWindow) <-chan llm.Result {
	attach := func(ctx context.Context, k int) error {
		sh, err := win.acquire(ctx, mr.idx[k])
		if err != nil {
			return err
		}
		mr.reqs[k].Shared = sh
		return nil
	}
	bp, batches := mr.m.Predictor.(llm.BatchPredictor)
	if !batches {
		return llm.PredictPool(ctx, mr.reqs, mr.limit, func(ctx context.Context, req *llm.Request) (*llm.Prediction, error) {
			if err := attach(ctx, mr.pos[req]); err != nil {
				return nil, err
			}
			return mr.m.Predictor.Predict(ctx, req)
		})
	}
	out := make(chan llm.Result)
	go func() {
		defer close(out)
		var wg sync.WaitGroup
		defer wg.Wait()
		slots := make(chan struct{}, mr.limit)
		for k, req := range mr.reqs {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			if err := attach(ctx, k); err != nil {
				return
			}
			ch := bp.PredictBatch(ctx, []*llm.Request{req})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for res := range ch {
					out <- res
				}
				<-slots
			}()
		}
	}()
	return out
}

// imageWindow is the images of a run in flight (see the comment at the top
// of this file). Position i is the i-th item of the run.
type imageWindow struct {
	mu    sync.Mutex
	cond  *sync.Cond
	size  int
	items []dataset.Item
	slots []winSlot
	lo    int // every position before lo is answered by every model
	held  int // shared images alive
	peak  int // most shared images alive at once
}

type winSlot struct {
	pending int // models that have yet to answer it
	want    map[string]int
	shared  *llm.SharedImage
}

func newImageWindow(items []dataset.Item, size int) *imageWindow {
	w := &imageWindow{size: size, items: items, slots: make([]winSlot, len(items))}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// need counts one model (of share key share) that has position i to answer.
// All needs are counted before the first acquire.
func (w *imageWindow) need(i int, share string) {
	s := &w.slots[i]
	s.pending++
	if share != "" {
		if s.want == nil {
			s.want = map[string]int{}
		}
		s.want[share]++
	}
	w.advance()
}

// advance moves lo past the positions nobody has left to answer. w.mu is
// held, or no other goroutine runs.
func (w *imageWindow) advance() {
	w.lo = 0
	for w.lo < len(w.slots) && w.slots[w.lo].pending == 0 {
		w.lo++
	}
}

// acquire waits until position i is inside the window and returns its
// shared image, made on the first call. It fails with ctx's error when ctx
// ends first.
func (w *imageWindow) acquire(ctx context.Context, i int) (*llm.SharedImage, error) {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i >= w.lo+w.size {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		w.cond.Wait()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &w.slots[i]
	if s.shared == nil {
		s.shared = llm.NewSharedImage(w.items[i].ImagePath)
		for k, n := range s.want {
			s.shared.SetWant(k, n)
		}
		w.held++
		w.peak = max(w.peak, w.held)
	}
	return s.shared, nil
}

// done records that one model has answered position i, or will not; the
// last one releases its shared image.
func (w *imageWindow) done(i int) {
	w.mu.Lock()
	s := &w.slots[i]
	s.pending--
	var rel *llm.SharedImage
	if s.pending == 0 && s.shared != nil {
		rel, s.shared = s.shared, nil
		w.held--
	}
	if i == w.lo {
		for w.lo < len(w.slots) && w.slots[w.lo].pending == 0 {
			w.lo++
		}
		w.cond.Broadcast()
	}
	w.mu.Unlock()
	if rel != nil {
		rel.Release()
	}
}

// Peak is the most images the window held at once.
func (w *imageWindow) Peak() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}

// imageBudgetNoter is a predictor that says how many images it scaled below
// what the training processor keeps by default (llm/local).
type imageBudgetNoter interface {
	ImageBudgetNote() (below, seen int, note string)
}

// imageBudgetNote is p's note, "" when it has none; p may be wrapped in
// the response cache.
func imageBudgetNote(p llm.Predictor) string {
	n, ok := underlying[imageBudgetNoter](p)
	if !ok {
		return ""
	}
	_, _, note := n.ImageBudgetNote()
	return note
}
