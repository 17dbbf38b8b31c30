package imagefile

import (
	"os"
	"testing"
)

func TestOrientationFiles(t *testing.T) {
	for _, c := range []struct {
		file string
		want int
	}{{"orient6.png", 6}, {"orient3.jpg", 3}, {"orient8.jpg", 8}, {"p420.jpg", 1}, {"rgba.png", 1}} {
		data, err := os.ReadFile("../imageprep/testdata/goldens/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		if got := Orientation(data); got != c.want {
			t.Errorf("Orientation(%s) = %d, want %d", c.file, got, c.want)
		}
	}
}

// FuzzOrientation: any bytes give an orientation in 1..8 and no panic,
// from seeds that are JPEG, PNG and WebP files with and without EXIF.
func FuzzOrientation(f *testing.F) {
	for _, n := range []string{"orient6.png", "orient3.jpg", "orient8.jpg", "p420.jpg", "rgba.png"} {
		b, err := os.ReadFile("../imageprep/testdata/goldens/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/3])
	}
	f.Add([]byte("RIFF\x20\x00\x00\x00WEBPEXIF\x0e\x00\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := Orientation(data); o < 1 || o > 8 {
			t.Fatalf("Orientation = %d, want 1..8", o)
		}
	})
}
