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
	"strings"
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

// Run shows a comparison run's progress on w. Every model of a run works at
// once, so each has its own line: on a terminal a block of lines, one per
// model, redrawn in place (at most every 100 ms, and at each model's end);
// elsewhere plain lines, per model every tenth of its work but at most once
// a second, at least every 10 s, and at its end.
type Run struct {
	w      io.Writer
	tty    bool
	models []*runModel // in the order they first reported
	drawn  int         // lines of the block drawn last (tty)
	last   time.Time   // last redraw (tty)
}

// runModel is one model's state in a Run.
type runModel struct {
	p    eval.Progress
	last time.Time // last plain line
	step int       // items between plain lines
	next int       // Done at which the next plain line is due
}

// NewRun shows a run's progress on w.
func NewRun(w io.Writer) *Run {
	return &Run{w: w, tty: IsTerminal(w)}
}

// Update is the runner's Progress callback (eval.CompareOptions.Progress).
func (v *Run) Update(p eval.Progress) {
	m := v.model(p)
	m.p = p
	if v.tty {
		if p.Finished || time.Since(v.last) >= 100*time.Millisecond {
			v.draw()
		}
		return
	}
	if p.Finished || (p.Done >= m.next && time.Since(m.last) >= time.Second) || time.Since(m.last) >= 10*time.Second {
		fmt.Fprintln(v.w, p)
		m.last = time.Now()
		m.next = p.Done + m.step
	}
}

// model finds p's model, adding it on its first report.
func (v *Run) model(p eval.Progress) *runModel {
	for _, m := range v.models {
		if m.p.Model == p.Model {
			return m
		}
	}
	m := &runModel{p: p, step: max(1, p.Total/10), next: p.Done + max(1, p.Total/10), last: time.Now()}
	v.models = append(v.models, m)
	if !v.tty && p.Resumed > 0 {
		fmt.Fprintf(v.w, "%s: %d of %d already answered\n", p.Model, p.Resumed, p.Total)
	}
	return m
}

// draw redraws the block of model lines in place.
func (v *Run) draw() {
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn) // back to the block's first line
	}
	width := 0
	for _, m := range v.models {
		width = max(width, len(m.p.Model))
	}
	for _, m := range v.models {
		b.WriteString("\r\x1b[2K")
		b.WriteString(bar(m.p, width))
		b.WriteByte('\n')
	}
	v.drawn = len(v.models)
	v.last = time.Now()
	io.WriteString(v.w, b.String())
}

// bar is one model's line on a terminal: its name, a bar and its figures.
func bar(p eval.Progress, width int) string {
	const cells = 30
	fill := cells
	if p.Total > 0 {
		fill = cells * p.Done / p.Total
	}
	line := fmt.Sprintf("%-*s [%s%s]", width, p.Model, strings.Repeat("=", fill), strings.Repeat(" ", cells-fill))
	rest := p.String()[len(p.Model)+1:] // " 12/30 40% 1.5 img/s eta 12s errors 0 ..."
	return line + rest
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
