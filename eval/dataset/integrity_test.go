package dataset

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func pngBytes(t testing.TB, shade uint8) []byte {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(writePNG(t, dir, "x.png", shade))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chatLine is one line of the OpenAI chat JSONL vlmcmp prepare writes: the
// image as a data URL.
func chatLine(img []byte, score int) string {
	return fmt.Sprintf(`{"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": [{"type": "text", "text": "Rate"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,%s", "detail": "low"}}]}, {"role": "assistant", "content": "Safety score: %d/10"}]}`,
		base64.StdEncoding.EncodeToString(img), score)
}

func TestLoadOpenAIChatDataURLs(t *testing.T) {
	dir, cache := t.TempDir(), filepath.Join(t.TempDir(), "images")
	a, b := pngBytes(t, 10), pngBytes(t, 200)
	content := chatLine(a, 3) + "\n" + chatLine(b, 8) + "\n" +
		`{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:text/plain;base64,aGk="}}]}, {"role": "assistant", "content": "5"}]}` + "\n"
	path := writeFile(t, dir, "val.jsonl", content)
	ds, err := LoadWith(path, Options{ImageCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Format != FormatOpenAIChat || len(ds.Items) != 2 || len(ds.Skipped) != 1 {
		t.Fatalf("format %s, %d items, skipped %v", ds.Format, len(ds.Items), ds.Skipped)
	}
	if !strings.Contains(ds.Skipped[0].Reason, "not an image") {
		t.Errorf("text data URL: %v", ds.Skipped[0])
	}
	for i, want := range [][]byte{a, b} {
		it := ds.Items[i]
		got, err := os.ReadFile(it.ImagePath)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("item %d: image file %s: %v (equal %t)", i, it.ImagePath, err, bytes.Equal(got, want))
		}
		if filepath.Dir(it.ImagePath) != cache || !strings.HasPrefix(it.ID, "embedded/") || it.Prompt != "Rate" || it.System != "S" {
			t.Errorf("item %d: %+v", i, it)
		}
	}
	if ds.Items[0].Score != 3 || ds.Items[1].Score != 8 {
		t.Errorf("scores %v %v", ds.Items[0].Score, ds.Items[1].Score)
	}
	// Decoded once: a second load finds the files and leaves them as they are.
	st, _ := os.Stat(ds.Items[0].ImagePath)
	ds2, err := LoadWith(path, Options{ImageCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(ds2.Items[0].ImagePath)
	if ds2.Items[0].ID != ds.Items[0].ID || !st2.ModTime().Equal(st.ModTime()) {
		t.Errorf("second load rewrote or renamed the cached image")
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 2 {
		t.Errorf("cache holds %d files, want 2", len(entries))
	}
}

func TestScoreMustBeANumber(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.png", "b.png", "c.png", "d.png", "e.png"} {
		writePNG(t, dir, n, n[0])
	}
	content := `[
		{"image": "a.png", "score": "seven"},
		{"image": "b.png", "score": " 7 "},
		{"image": "c.png", "score": "7/10"},
		{"image": "d.png", "score": "about seven/10"},
		{"image": "e.png", "score": 6.5}
	]`
	ds, err := Load(writeFile(t, dir, "gt.json", content))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range ds.Items {
		ids = append(ids, it.ID)
	}
	if !slices.Equal(ids, []string{"b.png", "c.png", "e.png"}) {
		t.Errorf("kept %v", ids)
	}
	if len(ds.Skipped) != 2 || !strings.Contains(ds.Skipped[0].Reason, `score "seven" is not a number`) {
		t.Errorf("skipped %v", ds.Skipped)
	}
}

func TestImagePathOutsideRefused(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	writePNG(t, dir, "in.png", 1)
	writePNG(t, dir, "sub/in2.png", 2)
	writePNG(t, root, "secret.png", 3)
	secret := writePNG(t, root, "other/secret2.png", 4)
	inside := filepath.Join(dir, "sub", "in2.png")
	content := fmt.Sprintf(`[{"image": "in.png", "score": 5}, {"image": "../secret.png", "score": 5}, {"image": %q, "score": 5}, {"image": %q, "score": 6}]`, secret, inside)
	path := writeFile(t, dir, "gt.json", content)

	ds, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Items) != 2 || len(ds.Skipped) != 2 {
		t.Fatalf("items %v skipped %v; want in.png and the absolute path inside kept", ds.Items, ds.Skipped)
	}
	for _, p := range ds.Skipped {
		if !strings.Contains(p.Reason, "leaves the data file's folder") || !strings.Contains(p.Reason, "--allow-outside") {
			t.Errorf("skipped %v", p)
		}
	}
	ds, err = LoadWith(path, Options{AllowOutside: true})
	if err != nil || len(ds.Items) != 4 {
		t.Fatalf("AllowOutside: %v, %d items, skipped %v", err, len(ds.Items), ds.Skipped)
	}
}

func TestUnusableImagesSkipped(t *testing.T) {
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 256, 192))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var jb bytes.Buffer
	jpeg.Encode(&jb, img, nil)
	writeFile(t, dir, "good.jpg", jb.String())
	writeFile(t, dir, "truncated_jpeg.jpg", jb.String()[:jb.Len()*2/3])
	// A PNG whose header claims 20000×20000 pixels.
	var pb bytes.Buffer
	png.Encode(&pb, image.NewGray(image.Rect(0, 0, 2, 2)))
	b := pb.Bytes()
	binary.BigEndian.PutUint32(b[16:], 20000)
	binary.BigEndian.PutUint32(b[20:], 20000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	writeFile(t, dir, "decompression_bomb.png", string(b))
	ds, err := Load(writeFile(t, dir, "gt.json", `[{"image": "good.jpg", "score": 5}, {"image": "truncated_jpeg.jpg", "score": 5}, {"image": "decompression_bomb.png", "score": 5}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Items) != 1 || ds.Items[0].ID != "good.jpg" || len(ds.Skipped) != 2 {
		t.Fatalf("items %v skipped %v", ds.Items, ds.Skipped)
	}
	for i, want := range []string{"truncated", "pixels"} {
		if r := ds.Skipped[i].Reason; !strings.HasPrefix(r, "image unreadable") || !strings.Contains(r, want) {
			t.Errorf("skipped %d: %q, want %q", i, r, want)
		}
	}
}

func TestSameImageTwoNames(t *testing.T) {
	dir := t.TempDir()
	var recs []string
	for i := range 40 {
		writePNG(t, dir, fmt.Sprintf("img/%02d.png", i), uint8(i*5))
		recs = append(recs, fmt.Sprintf(`{"image": "img/%02d.png", "score": %d}`, i, i%10+1))
	}
	// Copies of 00 and 01 under other names.
	for _, c := range []struct{ src, dst string }{{"00", "copy_a"}, {"01", "copy_b"}, {"01", "copy_c"}} {
		b, _ := os.ReadFile(filepath.Join(dir, "img", c.src+".png"))
		writeFile(t, dir, c.dst+".png", string(b))
		recs = append(recs, fmt.Sprintf(`{"image": "%s.png", "score": 4}`, c.dst))
	}
	ds, err := Load(writeFile(t, dir, "gt.json", "["+strings.Join(recs, ",")+"]"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Items) != 43 || len(ds.Warnings) != 2 {
		t.Fatalf("%d items, warnings %q", len(ds.Items), ds.Warnings)
	}
	if w := ds.Warnings[1]; !strings.Contains(w, "img/01.png") || !strings.Contains(w, "copy_b.png") || !strings.Contains(w, "copy_c.png") || !strings.Contains(w, "byte-identical") {
		t.Errorf("warning %q", w)
	}
	groups := [][]string{{"img/00.png", "copy_a.png"}, {"img/01.png", "copy_b.png", "copy_c.png"}}
	for seed := range int64(30) {
		sp, err := Stratify(ds.Items, 0.3, seed)
		if err != nil {
			t.Fatal(err)
		}
		if len(sp.Train)+len(sp.Val) != 43 || len(sp.Val) == 0 {
			t.Fatalf("seed %d: %d train, %d val", seed, len(sp.Train), len(sp.Val))
		}
		for _, g := range groups {
			n := 0
			for _, id := range g {
				if slices.Contains(sp.Val, id) {
					n++
				}
			}
			if n != 0 && n != len(g) {
				t.Errorf("seed %d: %v split across train and val", seed, g)
			}
		}
	}
}

func TestFileLevelErrors(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                []string
	}{
		{"csv without score column", "gt.csv", "image,notes\na.png,x\nb.png,y\nc.png,z\n",
			[]string{"no score column", "columns image, notes", "score, safety_score"}},
		{"csv without image column", "gt.csv", "name,score\na.png,3\n", []string{"no image column", "columns name, score"}},
		{"json that is csv", "gt.json", "image,score\na.png,3\n", []string{"gt.json: not JSON", "a .json file", "image,score"}},
		{"json that is html", "gt.json", "<html><body>404</body></html>", []string{"not JSON", "<html>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Load(writeFile(t, dir, tt.file, tt.content))
			if err == nil {
				t.Fatal("loaded")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has several lines: %q", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
