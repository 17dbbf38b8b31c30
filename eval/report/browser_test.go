package report

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

// The browser tests open report.html in Debian's chromium, driven through
// the DevTools protocol by chromedp, and work its "Every image" table as a
// person would: click a header, type into the filters, read the rows.

// chromium finds Debian's chromium. Without it the test skips, saying why,
// except in CI (CI=true), where it fails: there `make test` installs it.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err == nil {
		return path
	}
	why := "the browser test needs Debian's chromium, and there is none on PATH (" + err.Error() +
		"); `make test` installs it as root with apt-get install chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
	return ""
}

// browser starts a headless chromium with a fresh profile, offline, and
// returns a context for chromedp; it stops with the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Containers (CI) often give /dev/shm 64 MiB, which chromium outgrows.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil { // start it now: a failure is about chromium, not the page
		t.Fatalf("chromium did not start: %v", err)
	}
	return ctx
}

// areas name the folders of the synthetic images, so that a text filter
// keeps a tenth of them; one has a space, which the links must escape.
var areas = []string{"north", "south", "east", "west", "harbour", "market", "park", "station", "bridge", "old town"}

// manyImages is a run of n images and three models, seeded: a constant
// baseline, a close fine-tune, and a model with large misses and 4% of
// answers with no score. The image files are small PNGs in root/data/images
// (the run folder is root/results/run): one per image when files is n, and
// files distinct ones shared in turn when fewer, to spare the disk.
func manyImages(t testing.TB, root string, n, files int) *Input {
	t.Helper()
	r := rand.New(rand.NewPCG(26, uint64(n)))
	in := &Input{RunDir: filepath.Join(root, "results", "run"), RunID: fmt.Sprintf("browser-%d", n), Baseline: "mean",
		Options: metrics.Options{Seed: 1, Resamples: 200}}
	base := ModelResult{Name: "mean", Backend: "baseline", Model: "mean"}
	fine := ModelResult{Name: "gpt4o-mini-ft", Backend: "openai", Model: "ft:gpt-4o-mini:acme::abc"}
	qwen := ModelResult{Name: "qwen2vl-ft", Backend: "local", Model: "qwen2vl-2b-q8_0.gguf"}
	clamp := func(v float64) float64 { return min(10, max(1, v)) }
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("images/%s/img_%05d.png", areas[i%len(areas)], i)
		path := filepath.Join(root, "data", filepath.FromSlash(id))
		if files < n {
			path = filepath.Join(root, "data", "images", fmt.Sprintf("shared_%03d.png", i%files))
		}
		if i < files {
			writeTestPNG(t, path, i)
		}
		exp := float64(1 + r.IntN(10))
		ft := clamp(math.Round(2*(exp+r.NormFloat64()*0.8)) / 2)
		base.Predictions = append(base.Predictions, Prediction{ID: id, ImagePath: path, Expected: exp, Score: sp(5.5), Text: "5.5"})
		fine.Predictions = append(fine.Predictions, Prediction{ID: id, ImagePath: path, Expected: exp, Score: sp(ft), Text: fmt.Sprint(ft)})
		q := Prediction{ID: id, ImagePath: path, Expected: exp}
		if r.IntN(25) == 0 {
			q.Text, q.ScoreError = "I cannot rate this.", "no score: the answer declines to rate the image"
		} else {
			s := clamp(math.Round(exp + r.NormFloat64()*2))
			q.Score, q.Text = sp(s), fmt.Sprint(s)
		}
		qwen.Predictions = append(qwen.Predictions, q)
	}
	in.Models = []ModelResult{base, fine, qwen}
	return in
}

func writeTestPNG(t testing.TB, path string, i int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for y := 0; y < 24; y++ {
		for x := 0; x < 32; x++ {
			img.Set(x, y, color.RGBA{uint8(i * 7), uint8(8 * x), uint8(10 * y), 255})
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// wantRow is an image as the test itself works it out from the input.
type wantRow struct {
	id     string
	errs   []float64 // NaN: no score
	spread float64   // NaN: fewer than two scores
}

func wantRows(in *Input) []wantRow {
	var out []wantRow
	for j := range in.Models[0].Predictions {
		w := wantRow{id: in.Models[0].Predictions[j].ID}
		var scores []float64
		for _, m := range in.Models {
			p := m.Predictions[j]
			if p.Score == nil {
				w.errs = append(w.errs, math.NaN())
				continue
			}
			w.errs = append(w.errs, math.Abs(*p.Score-p.Expected))
			scores = append(scores, *p.Score)
		}
		w.spread = math.NaN()
		if len(scores) >= 2 {
			w.spread = slices.Max(scores) - slices.Min(scores)
		}
		out = append(out, w)
	}
	return out
}

// order sorts rows by key (descending when desc), images without a value
// last, ties in the run's order, and returns their names.
func order(rows []wantRow, key func(wantRow) float64, desc bool) []string {
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		x, y := key(rows[a]), key(rows[b])
		switch {
		case math.IsNaN(x) && math.IsNaN(y):
			return 0
		case math.IsNaN(x):
			return 1
		case math.IsNaN(y):
			return -1
		case x == y:
			return 0
		case (x < y) != desc:
			return -1
		}
		return 1
	})
	out := make([]string, len(idx))
	for i, k := range idx {
		out[i] = rows[k].id
	}
	return out
}

func fileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

// shownIDs are the names of the rows the table has drawn, top to bottom.
const shownIDs = `Array.from(document.querySelectorAll('#every tbody tr[data-id]')).map(tr => tr.getAttribute('data-id'))`

func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// pageTimes opens report.html and returns how long after navigation the
// table was ready to use, and how long one click on a column header took
// to sort every row and draw the next frame, both as the page measured them.
func pageTimes(t *testing.T, ctx context.Context, html string, key string) (ready, sorted float64) {
	t.Helper()
	run(t, ctx, "open report.html", chromedp.Navigate(fileURL(html)))
	run(t, ctx, "wait for the table", chromedp.WaitReady(chromedp.CSS("#every[data-ready]")))
	ready = run(t, ctx, "read the load time", chromedp.Evaluate[float64](`+document.getElementById('every').getAttribute('data-ready')`))
	sorted = run(t, ctx, "time a sort", chromedp.Evaluate[float64](`new Promise(done => {
		const t0 = performance.now();
		document.querySelector('#every th[data-key="`+key+`"]').click();
		requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
	})`, chromedp.EvalAwaitPromise))
	return ready, sorted
}

func TestHTMLEveryImageInBrowser(t *testing.T) {
	if raceEnabled {
		t.Skip("the browser tests run without -race (make test-stub and test-native): they test the page, not our goroutines")
	}
	ctx := browser(t)
	root := t.TempDir()
	if *keep != "" {
		root = filepath.Join(*keep, "browser")
	}
	const n = 2000
	in := manyImages(t, root, n, n)
	if _, err := Write(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	html := filepath.Join(in.RunDir, "report.html")
	st, err := os.Stat(html)
	if err != nil {
		t.Fatal(err)
	}
	rows := wantRows(in)

	ready, sorted := pageTimes(t, ctx, html, "e1")
	t.Logf("report.html of %d images: %.0f KiB; table ready %.0f ms after navigation; a sort and the next frame %.0f ms", n, float64(st.Size())/1024, ready, sorted)
	if ready > 2000 || sorted > 2000 {
		t.Errorf("report.html of %d images took %.0f ms to open and %.0f ms to sort, want under 2 s each", n, ready, sorted)
	}
	// Back to the page as it opens.
	run(t, ctx, "reload", chromedp.Reload())
	run(t, ctx, "wait for the table", chromedp.WaitReady(chromedp.CSS("#every[data-ready]")))

	count := func() string {
		t.Helper()
		return run(t, ctx, "read the count", chromedp.Text(chromedp.CSS("#every-count")))
	}
	shown := func() []string {
		t.Helper()
		return run(t, ctx, "read the rows", chromedp.Evaluate[[]string](shownIDs))
	}
	if got, want := count(), fmt.Sprintf("%d of %d images", n, n); got != want {
		t.Fatalf("count reads %q, want %q", got, want)
	}
	// Only the rows in view are drawn, most disputed first.
	first := shown()
	if len(first) < 10 || len(first) > 100 {
		t.Fatalf("the table drew %d rows of %d, want those in view (10 to 100)", len(first), n)
	}
	if want := order(rows, func(w wantRow) float64 { return w.spread }, true); !slices.Equal(first, want[:len(first)]) {
		t.Errorf("as it opens the table shows %q, want the most disputed first: %q", first[:5], want[:5])
	}

	// Sort by qwen2vl-ft's error: largest first, then smallest first.
	qerr := func(w wantRow) float64 { return w.errs[2] }
	for _, desc := range []bool{true, false} {
		run(t, ctx, "click qwen2vl-ft error", chromedp.Click(chromedp.CSS(`#every th[data-key="e2"]`)))
		got := shown()
		want := order(rows, qerr, desc)
		if len(got) < 10 || !slices.Equal(got, want[:len(got)]) {
			t.Errorf("sorted by qwen2vl-ft error (descending %v) the table shows %q…, want %q…", desc, got[:min(5, len(got))], want[:5])
		}
		class := run(t, ctx, "read the header", chromedp.Evaluate[string](`Array.from(document.querySelector('#every th[data-key="e2"]').classList).join(' ')`))
		if wantClass := map[bool]string{true: "desc", false: "asc"}[desc]; class != wantClass {
			t.Errorf("the sorted header's class is %q, want %q", class, wantClass)
		}
	}
	// Largest first again: the worst images carry embedded thumbnails.
	run(t, ctx, "click qwen2vl-ft error", chromedp.Click(chromedp.CSS(`#every th[data-key="e2"]`)))
	src := run(t, ctx, "read the first thumbnail", chromedp.Evaluate[string](`document.querySelector('#every tbody tr[data-id] img').getAttribute('src')`))
	if !strings.HasPrefix(src, "data:image/jpeg;base64,") {
		t.Errorf("the worst image's thumbnail is %.60q, want it embedded", src)
	}

	// The two filters: a part of the name, and a least disagreement. The
	// threshold is the largest that keeps a few rows, so that every row
	// left is drawn and checked.
	const area = "harbour"
	var least int
	var want []string
	for least = 9; least > 1; least-- {
		if want = filterWant(rows, order(rows, qerr, true), area, float64(least)); len(want) >= 3 {
			break
		}
	}
	if len(want) < 3 || len(want) > 30 {
		t.Fatalf("the fixture leaves %d rows with %q and a disagreement of at least %d, want 3 to 30", len(want), area, least)
	}
	run(t, ctx, "type the text filter", chromedp.SendKeys(chromedp.CSS("#every-filter"), area))
	inArea := filterWant(rows, order(rows, qerr, true), area, math.Inf(-1))
	if got, wantCount := count(), fmt.Sprintf("%d of %d images", len(inArea), n); got != wantCount {
		t.Errorf("with the text filter %q the count reads %q, want %q", area, got, wantCount)
	}
	if got := shown(); len(got) < 10 || !slices.Equal(got, inArea[:len(got)]) {
		t.Errorf("with the text filter %q the table shows %q…, want %q…", area, got[:min(5, len(got))], inArea[:5])
	}
	run(t, ctx, "type the least disagreement", chromedp.SendKeys(chromedp.CSS("#every-min"), fmt.Sprint(least)))
	if got, wantCount := count(), fmt.Sprintf("%d of %d images", len(want), n); got != wantCount {
		t.Errorf("with both filters the count reads %q, want %q", got, wantCount)
	}
	if got := shown(); !slices.Equal(got, want) {
		t.Errorf("with %q and a disagreement of at least %d the table shows\n%q\nwant\n%q", area, least, got, want)
	}
	if *keep != "" { // a picture of it, to look at
		run(t, ctx, "scroll to the table", chromedp.ScrollIntoView(chromedp.CSS("#every-image")))
		shot := run(t, ctx, "screenshot", chromedp.CaptureScreenshot())
		if err := os.WriteFile(filepath.Join(root, "filtered.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Clear the filters: the thumbnails of images further down are linked,
	// relative to report.html, and load when their rows come into view.
	run(t, ctx, "clear the text filter", chromedp.SendKeys(chromedp.CSS("#every-filter"), strings.Repeat(kb.Backspace, len(area))))
	run(t, ctx, "clear the least disagreement", chromedp.SendKeys(chromedp.CSS("#every-min"), strings.Repeat(kb.Backspace, len(fmt.Sprint(least)))))
	if got, want := count(), fmt.Sprintf("%d of %d images", n, n); got != want {
		t.Fatalf("with the filters cleared the count reads %q, want %q", got, want)
	}
	run(t, ctx, "scroll down", chromedp.Evaluate[chromedp.Void](`document.getElementById('every-scroll').scrollTop = 40000`))
	linked := run(t, ctx, "wait for a linked thumbnail", chromedp.Poll[string](`(() => {
		const img = Array.from(document.querySelectorAll('#every tbody img')).find(i => !i.getAttribute('src').startsWith('data:'));
		return img && img.complete && img.naturalWidth > 0 ? img.getAttribute('src') : false;
	})()`, chromedp.WithPollingTimeout(10*time.Second)))
	if !strings.HasPrefix(linked, "../../data/images/") {
		t.Errorf("a linked thumbnail points at %q, want a path relative to the run folder", linked)
	}
}

// filterWant keeps the names of ordered (in that order) whose image's name
// holds text and whose disagreement is at least least.
func filterWant(rows []wantRow, ordered []string, text string, least float64) []string {
	byID := map[string]wantRow{}
	for _, w := range rows {
		byID[w.id] = w
	}
	var out []string
	for _, id := range ordered {
		w := byID[id]
		if !strings.Contains(strings.ToLower(id), text) {
			continue
		}
		if !math.IsInf(least, -1) && !(w.spread >= least) {
			continue
		}
		out = append(out, id)
	}
	return out
}

var htmlBench = flag.Int("html-bench", 1, "TestHTMLEveryImageAtScale: loads and sorts per size, to report medians")

// writeHTMLOnly writes in's report.html alone (its metrics, plots and
// thumbnails as Write makes them) and returns its path.
func writeHTMLOnly(t *testing.T, in *Input) string {
	t.Helper()
	res, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	figs, err := Figures(in, res)
	if err != nil {
		t.Fatal(err)
	}
	var pngs []NamedPNG
	for _, fig := range figs {
		png, _, err := fig.render()
		if err != nil {
			t.Fatal(err)
		}
		pngs = append(pngs, NamedPNG{fig.Name, png})
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, in, res, pngs); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(in.RunDir, "report.html")
	if err := writeFile(path, b.Bytes()); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHTMLEveryImageAtScale opens the report.html of 20,000 images (and
// 2,000 with -html-bench) in chromium: it must open (the table ready to
// use) and sort by a model's error in under 2 s. It logs the file's size
// and the times the page measured (medians over -html-bench loads).
func TestHTMLEveryImageAtScale(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("the 20,000-image browser test runs without -short and -race")
	}
	ctx := browser(t)
	sizes := []int{20000}
	if *htmlBench > 1 {
		sizes = []int{2000, 20000}
	}
	for _, n := range sizes {
		root := t.TempDir()
		start := time.Now()
		files := 200 // enough for the embedded thumbnails
		if *htmlBench > 1 {
			files = n // every link its own file, as in a real run
		}
		in := manyImages(t, root, n, files)
		html := writeHTMLOnly(t, in)
		wrote := time.Since(start)
		st, err := os.Stat(html)
		if err != nil {
			t.Fatal(err)
		}
		var ready, sorted, loaded []float64
		for range max(1, *htmlBench) {
			r, s := pageTimes(t, ctx, html, "e2")
			l := run(t, ctx, "read the load event", chromedp.Evaluate[float64](`performance.getEntriesByType('navigation')[0].loadEventEnd`))
			ready, sorted, loaded = append(ready, r), append(sorted, s), append(loaded, l)
		}
		med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
		t.Logf("%6d images: report.html %.2f MiB (images and report written in %v); table ready %.0f ms, load event %.0f ms, sort by an error %.0f ms (median of %d)",
			n, float64(st.Size())/(1<<20), wrote.Round(10*time.Millisecond), med(ready), med(loaded), med(sorted), len(ready))
		if med(ready) > 2000 || med(sorted) > 2000 {
			t.Errorf("%d images: report.html took %.0f ms to open and %.0f ms to sort, want under 2 s each", n, med(ready), med(sorted))
		}
	}
}
