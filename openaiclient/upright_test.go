package openaiclient

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// withEXIF returns a PNG of img carrying an eXIf chunk with orientation o.
func withEXIF(t testing.TB, img image.Image, o uint16) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	tiff := []byte("MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00")
	binary.BigEndian.PutUint16(tiff[18:], o)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(tiff)))
	chunk = append(chunk, "eXIf"...)
	chunk = append(chunk, tiff...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	b := buf.Bytes()
	return append(append(append([]byte(nil), b[:33]...), chunk...), b[33:]...) // after IHDR
}

// TestEncodeImageUpright: a PNG whose EXIF orientation turns it is sent as
// an upright PNG, with the pixels where Pillow's exif_transpose puts them
// (the layouts below are Pillow 9.4's for a 3×2 picture of pixels 0..5);
// orientation 1 sends the file as it is.
func TestEncodeImageUpright(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 3, 2))
	for i := range 6 {
		src.Pix[i] = uint8(40 * i)
	}
	for _, c := range []struct {
		o    uint16
		w, h int
		want []int
	}{
		{2, 3, 2, []int{2, 1, 0, 5, 4, 3}},
		{3, 3, 2, []int{5, 4, 3, 2, 1, 0}},
		{4, 3, 2, []int{3, 4, 5, 0, 1, 2}},
		{5, 2, 3, []int{0, 3, 1, 4, 2, 5}},
		{6, 2, 3, []int{3, 0, 4, 1, 5, 2}},
		{7, 2, 3, []int{5, 2, 4, 1, 3, 0}},
		{8, 2, 3, []int{2, 5, 1, 4, 0, 3}},
	} {
		data := withEXIF(t, src, c.o)
		enc, err := EncodeImage(data, DetailHigh)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := dataURLBytes(enc.DataURL)
		if err != nil {
			t.Fatal(err)
		}
		got, format, err := image.Decode(bytes.NewReader(raw))
		if err != nil || format != "png" {
			t.Fatalf("orientation %d: sent %s, %v; want a PNG", c.o, format, err)
		}
		if b := got.Bounds(); b.Dx() != c.w || b.Dy() != c.h || enc.Width != c.w || enc.Height != c.h || !enc.Upright {
			t.Fatalf("orientation %d: sent %dx%d (said %dx%d, upright %t), want %dx%d upright", c.o, b.Dx(), b.Dy(), enc.Width, enc.Height, enc.Upright, c.w, c.h)
		}
		for i, v := range c.want {
			if g := color.GrayModel.Convert(got.At(i%c.w, i/c.w)).(color.Gray).Y; g != uint8(40*v) {
				t.Errorf("orientation %d: pixel %d is %d, want source pixel %d (%d)", c.o, i, g, v, 40*v)
			}
		}
	}
	data := withEXIF(t, src, 1)
	enc, err := EncodeImage(data, DetailHigh)
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := dataURLBytes(enc.DataURL); !bytes.Equal(raw, data) || enc.Upright {
		t.Errorf("orientation 1: the file was re-encoded, want it sent as it is")
	}
}

// TestEncodeImageUprightJPEG: a rotated JPEG is sent as an upright JPEG,
// its sides swapped for orientation 6.
func TestEncodeImageUprightJPEG(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	tiff := []byte("Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00")
	app1 := append([]byte{0xFF, 0xE1}, binary.BigEndian.AppendUint16(nil, uint16(len(tiff)+2))...)
	data := append(append(append([]byte(nil), buf.Bytes()[:2]...), append(app1, tiff...)...), buf.Bytes()[2:]...)
	enc, err := EncodeImage(data, DetailHigh)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := dataURLBytes(enc.DataURL)
	cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil || format != "jpeg" || cfg.Width != 20 || cfg.Height != 40 || !enc.Upright {
		t.Errorf("sent %s %dx%d (%v, upright %t), want an upright 20x40 jpeg", format, cfg.Width, cfg.Height, err, enc.Upright)
	}
}
