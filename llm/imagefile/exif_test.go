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
