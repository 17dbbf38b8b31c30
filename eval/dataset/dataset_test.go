package dataset

import (
	"errors"
	"github.com/vlmcmp/vlmcmp/llm"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writePNG writes a small PNG at dir/name and returns its path.
func writePNG(t testing.TB, dir, name string, shade uint8) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for i := range img.Pix {
		img.Pix[i] = shade
	}
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadShapes(t *testing.T) {
	tests := []struct {
		name, file, content string
		format              Format
		want                []Item // ImagePath is filled in relative to the data file
	}{
		{
			name: "records", file: "gt.json", format: FormatRecords,
			content: `[{"image": "img/a.png", "score": 7}, {"image_path": "img/b.png", "safety_score": 3.5, "prompt": "Rate it", "system": "You rate"}]`,
			want:    []Item{{ID: "img/a.png", Score: 7}, {ID: "img/b.png", Score: 3.5, Prompt: "Rate it", System: "You rate"}},
		},
		{
			name: "records other names and string scores", file: "gt.json", format: FormatRecords,
			content: `{"data": [{"img": "img/a.png", "rating": "8"}, {"path": "./img/b.png", "label": "Safety score: 2/10"}, {"file": "img/c.png", "score": 10}]}`,
			want:    []Item{{ID: "img/a.png", Score: 8}, {ID: "img/b.png", Score: 2}, {ID: "img/c.png", Score: 10}},
		},
		{
			name: "json lines records", file: "gt.jsonl", format: FormatRecords,
			content: "{\"image\": \"img/a.png\", \"score\": 1}\n\n{\"image\": \"img/b.png\", \"score\": 9}\n",
			want:    []Item{{ID: "img/a.png", Score: 1}, {ID: "img/b.png", Score: 9}},
		},
		{
			name: "llava conversations", file: "llava.json", format: FormatConversations,
			content: `[{"id": "x", "image": "img/a.png", "conversations": [
				{"from": "human", "value": "<image>\nHow safe does this street look?"},
				{"from": "gpt", "value": "Safety score: 6/10"}]}]`,
			want: []Item{{ID: "img/a.png", Score: 6, Prompt: "How safe does this street look?", Answer: "Safety score: 6/10"}},
		},
		{
			name: "qwen conversations with roles", file: "qwen.json", format: FormatConversations,
			content: `[{"images": ["img/b.png"], "conversations": [
				{"role": "system", "content": "You judge streets."},
				{"role": "user", "content": "<image>Score it"},
				{"role": "assistant", "content": "4"}]}]`,
			want: []Item{{ID: "img/b.png", Score: 4, Prompt: "Score it", System: "You judge streets.", Answer: "4"}},
		},
		{
			name: "llama-factory messages", file: "lf.json", format: FormatLlamaFactory,
			content: `[{"messages": [{"role": "user", "content": "<image>Rate"}, {"role": "assistant", "content": "Safety score: 5/10"}], "images": ["img/c.png"]}]`,
			want:    []Item{{ID: "img/c.png", Score: 5, Prompt: "Rate", Answer: "Safety score: 5/10"}},
		},
		{
			name: "openai chat jsonl", file: "chat.jsonl", format: FormatOpenAIChat,
			content: `{"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": [{"type": "text", "text": "Rate"}, {"type": "image_url", "image_url": {"url": "img/a.png", "detail": "low"}}]}, {"role": "assistant", "content": "Safety score: 3/10"}]}` + "\n",
			want:    []Item{{ID: "img/a.png", Score: 3, Prompt: "Rate", System: "S", Answer: "Safety score: 3/10"}},
		},
		{
			name: "csv", file: "gt.csv", format: FormatCSV,
			content: "Image_Path,Safety_Score,prompt\nimg/a.png,7,\"Rate, please\"\nimg/b.png,2,\n",
			want:    []Item{{ID: "img/a.png", Score: 7, Prompt: "Rate, please"}, {ID: "img/b.png", Score: 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, n := range []string{"img/a.png", "img/b.png", "img/c.png"} {
				writePNG(t, dir, n, uint8(40*i))
			}
			path := writeFile(t, dir, tt.file, tt.content)
			ds, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if ds.Format != tt.format {
				t.Errorf("format = %s, want %s", ds.Format, tt.format)
			}
			if len(ds.Skipped) > 0 {
				t.Errorf("skipped: %v", ds.Skipped)
			}
			for i := range tt.want {
				tt.want[i].ImagePath = filepath.Join(dir, filepath.FromSlash(tt.want[i].ID))
			}
			got := ds.Items
			for i := range got {
				if len(got[i].Content) != 64 {
					t.Errorf("item %s: content hash %q", got[i].ID, got[i].Content)
				}
				got[i].rec, got[i].Content = 0, ""
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("items:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLoadBadRecords(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, dir, "a.png", 10)
	writePNG(t, dir, "b.png", 20)
	writeFile(t, dir, "broken.png", "this is text, not an image")
	content := `[
		{"image": "a.png", "score": 7},
		{"score": 5},
		{"image": "b.png"},
		{"image": "b.png", "score": 11},
		{"image": "b.png", "score": 0},
		{"image": "missing.png", "score": 5},
		{"image": "broken.png", "score": 5},
		{"image": "a.png", "score": 2},
		"not an object",
		{"image": "b.png", "score": 4}
	]`
	ds, err := Load(writeFile(t, dir, "gt.json", content))
	if err != nil {
		t.Fatal(err)
	}
	if ds.Records != 10 || len(ds.Items) != 2 || len(ds.Skipped) != 8 {
		t.Fatalf("records %d items %d skipped %d, want 10, 2, 8: %v", ds.Records, len(ds.Items), len(ds.Skipped), ds.Skipped)
	}
	want := []struct {
		rec    int
		reason string
	}{
		{2, "no image"},
		{3, "no score"},
		{4, "score 11 is outside 1..10"},
		{5, "score 0 is outside 1..10"},
		{6, "image not found"},
		{7, "image unreadable"},
		{8, "duplicate image: record 1 uses it already"},
		{9, "record is a JSON string, not an object"},
	}
	for i, w := range want {
		p := ds.Skipped[i]
		if p.Record != w.rec || !strings.Contains(p.Reason, w.reason) {
			t.Errorf("skipped[%d] = %v, want record %d with %q", i, p, w.rec, w.reason)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name, file, content, want string
	}{
		{"not json", "gt.json", "{\"image\": \"a.png\", \"score\": ", "gt.json: not JSON: line 1"},
		{"garbage", "gt.json", "hello world", "gt.json: not JSON, JSON lines or CSV"},
		{"empty file", "gt.json", "  \n", "gt.json: empty file"},
		{"empty list", "gt.json", "[]", "gt.json: no records"},
		{"syntax later", "gt.json", "[\n{\"image\": \"a.png\",\n \"score\" 4}]", "line 3 column"},
		{"nothing usable", "gt.json", `[{"image": "a.png"}]`, "no usable records (1 records, 1 skipped)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Load(writeFile(t, dir, tt.file, tt.content))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "nope.json")); err == nil || !strings.Contains(err.Error(), "nope.json: file not found") {
		t.Errorf("missing file: err = %v", err)
	}
	_, err := Parse("x.json", []byte(`[{"image": "a.png"}]`))
	if !errors.Is(err, ErrNoItems) {
		t.Errorf("Parse with no items: err = %v, want ErrNoItems", err)
	}
}

func TestSubset(t *testing.T) {
	ds := &Dataset{Path: "gt.json", Items: []Item{{ID: "a", Score: 1}, {ID: "b", Score: 2}, {ID: "c", Score: 3}}}
	got, err := ds.Subset([]string{"c", "a"})
	if err != nil || len(got) != 2 || got[0].ID != "c" || got[1].ID != "a" {
		t.Fatalf("Subset = %v, %v", got, err)
	}
	_, err = ds.Subset([]string{"a", "x", "y", "z", "w"})
	if err == nil || !strings.Contains(err.Error(), "lacks 4 image(s) of the split: x, y, z and 1 more") {
		t.Errorf("err = %v", err)
	}
}

// FuzzParse checks that no input makes Parse panic, that every item it
// returns has an image and a score on the scale, and that items and skipped
// records account for every record.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`[{"image": "a.png", "score": 7}]`,
		`{"records": [{"img": "a.png", "rating": "3"}]}`,
		"{\"image\": \"a.png\", \"score\": 1}\n{\"image\": \"b.png\", \"score\": 2}",
		`[{"image": "a.png", "conversations": [{"from": "human", "value": "<image>x"}, {"from": "gpt", "value": "Safety score: 4/10"}]}]`,
		`[{"messages": [{"role": "user", "content": "<image>x"}, {"role": "assistant", "content": "9"}], "images": ["a.png"]}]`,
		`{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}, {"role": "assistant", "content": "2"}]}`,
		"image,score\na.png,5\nb.png,11\n",
		`[1, null, {"image": ["a", "b"], "score": NaN}]`,
		`[{"image": "a.png", "score": 1e400}]`,
		`[{"image": "a.png", "score": "seven"}, {"image": "../b.png", "score": "Safety score: 2/10"}]`,
		`{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}, {"role": "assistant", "content": "7"}]}`,
		"image,notes\na.png,x\n",
	}
	for _, s := range seeds {
		f.Add("gt.json", []byte(s))
	}
	f.Add("gt.csv", []byte("img;label\nx.png;7\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		if name == "" {
			name = "gt.json"
		}
		ds, err := Parse(name, data)
		if ds == nil {
			if err == nil {
				t.Fatal("nil dataset without error")
			}
			return
		}
		if got := len(ds.Items) + len(ds.Skipped); got != ds.Records {
			t.Fatalf("%d items + %d skipped != %d records", len(ds.Items), len(ds.Skipped), ds.Records)
		}
		seen := map[string]bool{}
		for _, it := range ds.Items {
			if it.ID == "" || it.ImagePath == "" {
				t.Fatalf("item without image: %+v", it)
			}
			if !llm.InScale(it.Score) {
				t.Fatalf("item score %v off the scale", it.Score)
			}
			if seen[it.ImagePath] {
				t.Fatalf("duplicate image %s kept", it.ImagePath)
			}
			seen[it.ImagePath] = true
		}
		for _, p := range ds.Skipped {
			if p.Reason == "" || p.Record < 1 {
				t.Fatalf("bad problem %+v", p)
			}
		}
	})
}
