package report

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// everyDataOf reads the Every image table's data back out of report.html.
func everyDataOf(t *testing.T, html string) everyData {
	t.Helper()
	const open = `<script type="application/json" id="every-data">`
	i := strings.Index(html, open)
	if i < 0 {
		t.Fatal("report.html has no Every image data")
	}
	rest := html[i+len(open):]
	j := strings.Index(rest, "</script>")
	if j < 0 {
		t.Fatal("the Every image data does not end")
	}
	var d everyData
	if err := json.Unmarshal([]byte(rest[:j]), &d); err != nil {
		t.Fatalf("the Every image data is not JSON: %v", err)
	}
	return d
}

// TestEveryImageData checks what the table is made of, without a browser:
// one row per image with every model's score (null where none), names that
// cannot break out of the page, thumbnails embedded for the worst and most
// disputed images and linked, relative to the report, for the rest.
func TestEveryImageData(t *testing.T) {
	root := t.TempDir()
	in := manyImages(t, root, 300, 300)
	// A name that would end the script element if it were not escaped.
	in.Models[1].Predictions[0].ID = `images/</script><b>"x"&.png`
	for i := range in.Models {
		in.Models[i].Predictions[0].ID = in.Models[1].Predictions[0].ID
	}
	html := writeHTMLOnly(t, in)
	var b bytes.Buffer
	if err := readFileInto(&b, html); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	if strings.Contains(s, "</script><b>") {
		t.Fatal("an image name ends the script element")
	}
	d := everyDataOf(t, s)
	if len(d.Rows) != 300 || strings.Join(d.Models, ",") != "mean,gpt4o-mini-ft,qwen2vl-ft" {
		t.Fatalf("%d rows of models %q, want 300 of mean, gpt4o-mini-ft, qwen2vl-ft", len(d.Rows), d.Models)
	}
	if d.Rows[0][0] != `images/</script><b>"x"&.png` {
		t.Errorf("the first name reads %q after the round trip", d.Rows[0][0])
	}
	embedded, linked, nulls := 0, 0, 0
	for i, r := range d.Rows {
		scores := r[2].([]any)
		if len(scores) != 3 {
			t.Fatalf("row %d has %d scores", i, len(scores))
		}
		q := in.Models[2].Predictions[i]
		if (scores[2] == nil) != (q.Score == nil) {
			t.Errorf("row %d: qwen2vl-ft score %v, want %v", i, scores[2], q.Score)
		}
		for _, v := range scores {
			if v == nil {
				nulls++
			}
		}
		switch th := r[3].(type) {
		case float64:
			embedded++
			if !strings.HasPrefix(d.Thumbs[int(th)], "data:image/jpeg;base64,") {
				t.Errorf("row %d: embedded thumbnail %.40q", i, d.Thumbs[int(th)])
			}
		case string:
			linked++
			if !strings.HasPrefix(th, "../../data/images/") {
				t.Errorf("row %d: thumbnail link %q, want relative to the run folder", i, th)
			}
		default:
			t.Errorf("row %d: thumbnail %v, want an index or a link", i, th)
		}
	}
	if embedded < EmbeddedThumbnails || embedded > 2*EmbeddedThumbnails || embedded != len(d.Thumbs) {
		t.Errorf("%d thumbnails embedded (%d in the list), want %d to %d", embedded, len(d.Thumbs), EmbeddedThumbnails, 2*EmbeddedThumbnails)
	}
	if nulls == 0 {
		t.Error("no row has a missing score; the fixture has some")
	}
	// The image with the largest error of any model is embedded.
	worst, at := -1.0, 0
	for i := range d.Rows {
		for _, m := range in.Models {
			if p := m.Predictions[i]; p.Score != nil {
				if e, _ := p.AbsError(); e > worst {
					worst, at = e, i
				}
			}
		}
	}
	if _, ok := d.Rows[at][3].(float64); !ok {
		t.Errorf("the worst-predicted image (row %d, error %.1f) is not embedded: %v", at, worst, d.Rows[at][3])
	}

	// Without thumbnails, no images at all.
	in.NoThumbnails = true
	b.Reset()
	if err := readFileInto(&b, writeHTMLOnly(t, in)); err != nil {
		t.Fatal(err)
	}
	d = everyDataOf(t, b.String())
	for i, r := range d.Rows {
		if r[3] != nil {
			t.Fatalf("NoThumbnails: row %d has thumbnail %v", i, r[3])
		}
	}
}

func readFileInto(b *bytes.Buffer, path string) error {
	data, err := os.ReadFile(path)
	b.Write(data)
	return err
}
