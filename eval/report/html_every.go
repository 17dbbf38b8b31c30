package report

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"image/jpeg"
	"log/slog"
	"sort"

	"github.com/vlmcmp/vlmcmp/llm/imagefile"
)

// The "Every image" table of report.html.
//
// Every image of the run is one row: its thumbnail, name, expected score,
// each model's score and absolute error, and the disagreement (the largest
// score minus the smallest). The rows travel as JSON inside the page and a
// small script draws only those in view, so the page opens and sorts in
// well under a second at 20,000 images; a person sorts by any column, keeps
// the images whose name holds some text, and those where the models
// disagree by at least some amount.
//
// Thumbnails: the EmbeddedThumbnails images with the largest error of any
// model, and as many with the largest disagreement, are embedded (small
// JPEGs), so the images that matter most show wherever the file is opened;
// the rest are linked by their path relative to the run folder, so the file
// stays small at any size and shows them when the images are beside it.

//go:embed assets/every.js
var everyJS string

// EmbeddedThumbnails is how many of the worst-predicted images, and how
// many of the most disputed, have their thumbnails embedded in the table.
const EmbeddedThumbnails = 50

// tableThumbnailSize bounds the table's thumbnails, in pixels.
const tableThumbnailSize = 96

type everyData struct {
	Models []string `json:"models"`
	// Thumbs are the embedded thumbnails, as data URLs.
	Thumbs []string `json:"thumbs"`
	// Rows are [name, expected, [score or null per model], thumbnail], the
	// thumbnail an index into Thumbs, a relative URL, or null.
	Rows [][4]any `json:"rows"`
}

type everyView struct {
	N, Embedded int
	Models      []string
	JSON, JS    template.JS
}

var everyTemplate = template.Must(template.New("every").Parse(`<h2 id="every-image">Every image</h2>
<style>
.every-tools { display: flex; gap: 1.5em; align-items: center; flex-wrap: wrap; margin: 0.5em 0; }
#every-scroll { max-height: 75vh; overflow: auto; border: 1px solid #ccc; }
#every { margin: 0; border-collapse: separate; border-spacing: 0; }
#every th { position: sticky; top: 0; background: #f3f3f3; cursor: pointer; user-select: none; z-index: 1; vertical-align: bottom; }
#every th span { font-weight: normal; color: #555; }
#every th.name { text-align: left; }
#every th.asc::after { content: " ▲"; }
#every th.desc::after { content: " ▼"; }
#every td { height: 44px; box-sizing: border-box; padding: 2px 0.5em; border: 0; border-bottom: 1px solid #eee; white-space: nowrap; }
#every tr.pad td { height: auto; padding: 0; border: 0; }
#every td.thumb { width: 60px; text-align: center; }
#every td.thumb img { max-width: 56px; max-height: 40px; vertical-align: middle; }
#every td.id { text-align: left; max-width: 28em; overflow: hidden; text-overflow: ellipsis; }
#every td.na { color: #999; }
</style>
<p class="note">{{.N}} images, the most disputed first. Click a column to sort by it (again to reverse).
Disagreement is the largest score minus the smallest among the models that scored the image.
Thumbnails of the {{.Embedded}} worst-predicted and most disputed images are in this file; the others
are linked relative to it and show where the images are at hand.</p>
<div class="every-tools">
<label>Image name contains <input id="every-filter" type="search" placeholder="text"></label>
<label>Only where models disagree by at least <input id="every-min" type="number" min="0" step="0.5" style="width: 5em"></label>
<span id="every-count" aria-live="polite"></span>
</div>
<div id="every-scroll"><table id="every">
<thead><tr><th></th><th data-key="id" class="name">image</th><th data-key="exp">expected</th>{{range $i, $m := .Models}}<th data-key="s{{$i}}">{{$m}}<br><span>score</span></th><th data-key="e{{$i}}">{{$m}}<br><span>error</span></th>{{end}}<th data-key="d">disagreement</th></tr></thead>
<tbody></tbody>
</table></div>
<script type="application/json" id="every-data">{{.JSON}}</script>
<script>{{.JS}}</script>
`))

// everyImageHTML renders the "Every image" section of in.
func everyImageHTML(in *Input, thumbs *thumbCache) (template.HTML, error) {
	ims := everyImage(in)
	d := everyData{Thumbs: []string{}, Rows: make([][4]any, len(ims))}
	for _, m := range in.Models {
		d.Models = append(d.Models, m.Name)
	}
	embed := map[int]bool{}
	if !in.NoThumbnails {
		for _, i := range topImages(ims, (*imageRow).worstError) {
			embed[i] = true
		}
		for _, i := range topImages(ims, (*imageRow).disagreement) {
			embed[i] = true
		}
	}
	for i := range ims {
		im := &ims[i]
		var th any
		if !in.NoThumbnails && im.ImagePath != "" {
			if embed[i] {
				if u := thumbs.get(im.ImagePath, tableThumbnailSize); u != "" {
					th = len(d.Thumbs)
					d.Thumbs = append(d.Thumbs, u)
				}
			}
			if th == nil {
				th = relLink(in.RunDir, im.ImagePath)
			}
		}
		d.Rows[i] = [4]any{im.ID, im.Expected, im.Scores, th}
	}
	// json.Marshal escapes <, > and &, so the data cannot end the script
	// element it sits in.
	js, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = everyTemplate.Execute(&b, everyView{N: len(ims), Embedded: len(d.Thumbs), Models: d.Models,
		JSON: template.JS(js), JS: template.JS(everyJS)})
	return template.HTML(b.String()), err
}

// topImages are the indices of the EmbeddedThumbnails images with the
// largest positive value of by, largest first.
func topImages(ims []imageRow, by func(*imageRow) (float64, bool)) []int {
	type kv struct {
		i int
		v float64
	}
	var all []kv
	for i := range ims {
		if v, ok := by(&ims[i]); ok && v > 0 && ims[i].ImagePath != "" {
			all = append(all, kv{i, v})
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].v > all[b].v })
	out := make([]int, 0, EmbeddedThumbnails)
	for _, x := range all[:min(len(all), EmbeddedThumbnails)] {
		out = append(out, x.i)
	}
	return out
}

// thumbCache makes each image's thumbnail once per size; a failure is
// remembered as "" (logged at debug level).
type thumbCache struct {
	log  *slog.Logger
	urls map[thumbKey]string
}

type thumbKey struct {
	path string
	size int
}

func newThumbCache(log *slog.Logger) *thumbCache {
	if log == nil {
		log = slog.Default()
	}
	return &thumbCache{log: log, urls: map[thumbKey]string{}}
}

func (c *thumbCache) get(path string, size int) string {
	k := thumbKey{path, size}
	if u, ok := c.urls[k]; ok {
		return u
	}
	u, err := thumbnail(path, size, 75)
	if err != nil {
		c.log.Debug("no thumbnail", "image", path, "err", err)
	}
	c.urls[k] = u
	return u
}

// thumbnail reads the image at path and returns it scaled to fit size ×
// size as a JPEG data URL of the quality given.
func thumbnail(path string, size, quality int) (string, error) {
	img, _, err := imagefile.Read(path)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, imagefile.Fit(img, size, size), &jpeg.Options{Quality: quality}); err != nil {
		return "", err
	}
	return "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(b.Bytes()), nil
}
