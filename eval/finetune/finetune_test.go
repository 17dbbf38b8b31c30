package finetune

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// writeData writes n grey PNG images and a ground-truth file whose records
// carry extra holds for record i (nil for none), and loads it.
func writeData(t *testing.T, n int, name string, extra func(i int) map[string]string) *dataset.Dataset {
	t.Helper()
	dir := t.TempDir()
	var recs []map[string]any
	var csv strings.Builder
	csv.WriteString("image,score")
	keys := []string{}
	if extra != nil {
		for k := range extra(0) {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			csv.WriteString("," + k)
		}
	}
	csv.WriteString("\n")
	for i := range n {
		img := image.NewGray(image.Rect(0, 0, 16, 12)) // not RGB: must be converted
		for p := range img.Pix {
			img.Pix[p] = uint8(20 * i)
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("img%02d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, img)
		f.Close()
		rec := map[string]any{"image": fmt.Sprintf("img%02d.png", i), "score": 1 + i%10}
		fmt.Fprintf(&csv, "img%02d.png,%d", i, 1+i%10)
		if extra != nil {
			for _, k := range keys {
				v := extra(i)[k]
				rec[k] = v
				fmt.Fprintf(&csv, ",%q", v)
			}
		}
		csv.WriteString("\n")
		recs = append(recs, rec)
	}
	path := filepath.Join(dir, name)
	var b []byte
	if strings.HasSuffix(name, ".csv") {
		b = []byte(csv.String())
	} else {
		b, _ = json.Marshal(recs)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// userTexts reads the user message of every example of a text-only file.
func userTexts(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var ex struct {
			Messages []struct {
				Role    string `json:"role"`
				Content any    `json:"content"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
			t.Fatal(err)
		}
		for _, m := range ex.Messages {
			if m.Role == "user" {
				out = append(out, m.Content.(string))
			}
		}
	}
	return out
}

func TestTextOnlyExamplesCarryText(t *testing.T) {
	withText := func(i int) map[string]string {
		return map[string]string{"caption": fmt.Sprintf("a street, view %d", i), "Location": fmt.Sprintf("block %d", i), "id_code": "x"}
	}
	tests := []struct {
		name       string
		file       string
		extra      func(int) map[string]string
		fields     []string
		wantFields []string
		wantText   string // in the first text-only example's prompt
		scoresOnly bool
	}{
		{"json caption and location detected", "gt.json", withText, nil, []string{"caption", "Location"}, "caption: a street, view 0\nLocation: block 0", false},
		{"csv detected", "gt.csv", withText, nil, []string{"caption", "location"}, "caption: a street, view 0\nlocation: block 0", false},
		{"chosen field", "gt.json", withText, []string{"location"}, []string{"Location"}, "Location: block 0", false},
		{"chosen field missing", "gt.json", withText, []string{"notes"}, []string{}, "", true},
		{"no text at all", "gt.json", nil, nil, []string{}, "", true},
		{"only fields that say nothing", "gt.json", func(int) map[string]string { return map[string]string{"id_code": "x"} }, nil, []string{}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := writeData(t, 20, tt.file, tt.extra)
			out := t.TempDir()
			sum, err := Prepare(Options{Train: ds.Items[:16], Val: ds.Items[16:], OutDir: out, TextFields: tt.fields})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sum.TextFields, tt.wantFields) || sum.TextOnlyLearnsScoresOnly != tt.scoresOnly {
				t.Errorf("text fields %q scores only %v, want %q %v", sum.TextFields, sum.TextOnlyLearnsScoresOnly, tt.wantFields, tt.scoresOnly)
			}
			warned := strings.Contains(strings.Join(sum.Warnings, "\n"), "can only learn how often each score occurs")
			if warned != tt.scoresOnly {
				t.Errorf("warnings %q: scores-only warning %v, want %v", sum.Warnings, warned, tt.scoresOnly)
			}
			texts := userTexts(t, filepath.Join(out, TrainTextFile))
			if len(texts) != 16 {
				t.Fatalf("%d text-only examples, want 16", len(texts))
			}
			if tt.wantText != "" && !strings.HasSuffix(texts[0], tt.wantText) {
				t.Errorf("text-only prompt %q, want it to end with %q", texts[0], tt.wantText)
			}
			if tt.scoresOnly {
				for _, s := range texts {
					if s != texts[0] {
						t.Errorf("prompts differ without text fields: %q", s)
					}
				}
			} else if texts[0] == texts[1] {
				t.Errorf("two images' text-only prompts are the same: %q", texts[0])
			}
			if len(sum.Problems) > 0 {
				t.Errorf("problems: %v", sum.Problems)
			}
		})
	}
}

func TestDetectTextFields(t *testing.T) {
	items := []dataset.Item{{Text: map[string]string{"Description": "d"}}, {Text: map[string]string{"city": "c", "url": "u"}}}
	if got := DetectTextFields(items, nil); !slices.Equal(got, []string{"Description", "city"}) {
		t.Errorf("detected %q", got)
	}
	if got := DetectTextFields(items, []string{"URL", "description"}); !slices.Equal(got, []string{"url", "Description"}) {
		t.Errorf("chosen %q", got)
	}
}

// Grey images are re-encoded in RGB, so that every image example passes
// the client's checks; image-model warnings follow the model table.
func TestPrepareImages(t *testing.T) {
	ds := writeData(t, 12, "gt.json", nil)
	for _, tt := range []struct {
		model string
		warn  bool
	}{{"gpt-4o-mini-2024-07-18", true}, {"gpt-4o-2024-08-06", false}} {
		out := t.TempDir()
		sum, err := Prepare(Options{Train: ds.Items, OutDir: out, Model: tt.model})
		if err != nil {
			t.Fatal(err)
		}
		if len(sum.Problems) > 0 || sum.Train.Examples != 12 {
			t.Errorf("%s: %d examples, problems %v", tt.model, sum.Train.Examples, sum.Problems)
		}
		warned := strings.Contains(strings.Join(sum.Warnings, "\n"), "not known to accept images")
		if warned != tt.warn {
			t.Errorf("%s: image warning %v, want %v (%q)", tt.model, warned, tt.warn, sum.Warnings)
		}
		b, _ := os.ReadFile(filepath.Join(out, TrainImagesFile))
		line, _, _ := strings.Cut(string(b), "\n")
		var ex openaiclient.Example
		var raw struct {
			Messages []struct {
				Role    string          `json:"role"`
				Content json.RawMessage `json:"content"`
			} `json:"messages"`
		}
		json.Unmarshal([]byte(line), &raw)
		for _, m := range raw.Messages {
			var parts []openaiclient.ExamplePart
			if json.Unmarshal(m.Content, &parts) == nil {
				ex.Messages = append(ex.Messages, openaiclient.ExampleMessage{Role: m.Role, Content: parts})
			} else {
				var s string
				json.Unmarshal(m.Content, &s)
				ex.Messages = append(ex.Messages, openaiclient.ExampleMessage{Role: m.Role, Content: s})
			}
		}
		if p := openaiclient.CheckExample(ex); len(p) > 0 {
			t.Errorf("written example: %v", p)
		}
	}
}
