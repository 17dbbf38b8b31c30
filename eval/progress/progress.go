// Package progress shows the progress of long work on a writer, as a
// command-line front end wants it: a bar per model of a comparison run
// (eval.Progress) and byte counts of transfers, as bars on a terminal and
// as throttled plain lines elsewhere (a log file, a CI job).
//
// It may import eval (for eval.Progress) and terminal libraries; only
// front ends import it.
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/vlmcmp/vlmcmp/eval"
)

// IsTerminal reports whether w is a terminal, where bars are shown; plain
// lines are written elsewhere.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Run shows a comparison run's progress on w: a bar per model on a
// terminal, plain lines otherwise (every tenth of the work but at most once a
// second, at least every 10 s, and at the end).
type Run struct {
	w    io.Writer
	tty  bool
	bar  *progressbar.ProgressBar // current model's bar (tty)
	name string                   // current model
	last time.Time                // last plain line
	step int                      // items between plain lines
	next int                      // Done at which the next plain line is due
}

// NewRun shows a run's progress on w.
func NewRun(w io.Writer) *Run {
	return &Run{w: w, tty: IsTerminal(w)}
}

// Update is the runner's Progress callback (eval.CompareOptions.Progress).
func (v *Run) Update(p eval.Progress) {
	if p.Model != v.name {
		v.start(p)
	}
	if v.tty {
		v.bar.Describe(v.describe(p))
		v.bar.Set(p.Done)
		if p.Finished {
			v.bar.Finish()
			fmt.Fprintln(v.w)
		}
		return
	}
	if p.Finished || (p.Done >= v.next && time.Since(v.last) >= time.Second) || time.Since(v.last) >= 10*time.Second {
		fmt.Fprintln(v.w, p)
		v.last = time.Now()
		v.next = p.Done + v.step
	}
}

func (v *Run) start(p eval.Progress) {
	v.name = p.Model
	v.step = max(1, p.Total/10)
	v.next = p.Done + v.step
	v.last = time.Now()
	if v.tty {
		v.bar = progressbar.NewOptions(p.Total,
			progressbar.OptionSetWriter(v.w),
			progressbar.OptionSetDescription(v.describe(p)),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("img"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
		)
	} else if p.Resumed > 0 {
		fmt.Fprintf(v.w, "%s: %d of %d already answered\n", p.Model, p.Resumed, p.Total)
	}
}

func (v *Run) describe(p eval.Progress) string {
	d := p.Model
	if p.Errors > 0 {
		d += fmt.Sprintf(" (%d errors)", p.Errors)
	}
	return d
}

// Bytes shows a transfer's progress in bytes on w: a bar on a
// terminal, otherwise a line "DESC: N% (X MiB of Y MiB)" at each 1/parts
// of the work for work of minBytes or more. done == 0 starts over (a
// retried upload).
type Bytes struct {
	w        io.Writer
	desc     string
	parts    int64
	minBytes int64
	bar      *progressbar.ProgressBar
	next     int64 // bytes at which the next line is due
	ended    bool  // the 100% line is out
}

// NewBytes shows a transfer described as desc on w.
func NewBytes(w io.Writer, desc string, parts, minBytes int64) *Bytes {
	return &Bytes{w: w, desc: desc, parts: parts, minBytes: minBytes}
}

// Update is told done of total bytes (an openaiclient.Progress).
func (p *Bytes) Update(done, total int64) {
	if IsTerminal(p.w) {
		if p.bar == nil || done == 0 {
			p.bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(p.desc),
				progressbar.OptionShowBytes(true), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond))
		}
		p.bar.Set64(done)
		return
	}
	if done == 0 {
		p.next, p.ended = 0, false
	}
	if total >= p.minBytes && (done < total && done >= p.next || done >= total && !p.ended) {
		fmt.Fprintf(p.w, "%s: %d%% (%.1f MiB of %.1f MiB)\n", p.desc, done*100/max(total, 1), float64(done)/(1<<20), float64(total)/(1<<20))
		p.next, p.ended = done+max(total/p.parts, 1), done >= total
	}
}

// Finish ends the bar, if any.
func (p *Bytes) Finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
