package imagefile

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/draw"
)

// Orientation returns the EXIF orientation (1..8) of an encoded JPEG, PNG
// (eXIf chunk) or WebP (EXIF chunk), as Pillow's ImageOps.exif_transpose
// reads it: tag 0x0112 of the first image file directory. It returns 1
// (upright) when the file has no EXIF, no orientation tag, a value outside
// 1..8, or an EXIF block that cannot be read (offsets past its end, a loop):
// a broken block never stops an image from being scored.
//
// The parser is ours, about sixty lines: the one tag it reads does not
// justify a dependency (the Go EXIF libraries read every tag and are not
// kept up).
func Orientation(data []byte) int {
	if o := tiffOrientation(exifBlock(data)); o >= 1 && o <= 8 {
		return o
	}
	return 1
}

// exifBlock finds the EXIF payload (a TIFF structure) of data, or nil.
func exifBlock(data []byte) []byte {
	switch {
	case len(data) > 4 && data[0] == 0xFF && data[1] == 0xD8:
		// JPEG: walk the marker segments up to the start of scan.
		for i := 2; i+4 <= len(data); {
			if data[i] != 0xFF {
				return nil
			}
			m := data[i+1]
			if m == 0xFF { // fill byte
				i++
				continue
			}
			if m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
				i += 2
				continue
			}
			if m == 0xDA || m == 0xD9 {
				return nil
			}
			n := int(binary.BigEndian.Uint16(data[i+2:]))
			if n < 2 || i+2+n > len(data) {
				return nil
			}
			seg := data[i+4 : i+2+n]
			if m == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
				return seg[6:]
			}
			i += 2 + n
		}
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		for i := 8; i+12 <= len(data); {
			n := int(binary.BigEndian.Uint32(data[i:]))
			typ := string(data[i+4 : i+8])
			if n < 0 || n > len(data)-i-12 {
				return nil
			}
			if typ == "eXIf" {
				return trimExif(data[i+8 : i+8+n])
			}
			if typ == "IEND" {
				return nil
			}
			i += 12 + n
		}
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		for i := 12; i+8 <= len(data); {
			n := int(binary.LittleEndian.Uint32(data[i+4:]))
			if n < 0 || n > len(data)-i-8 {
				return nil
			}
			if string(data[i:i+4]) == "EXIF" {
				return trimExif(data[i+8 : i+8+n])
			}
			i += 8 + n + n&1
		}
	}
	return nil
}

func trimExif(b []byte) []byte { return bytes.TrimPrefix(b, []byte("Exif\x00\x00")) }

// tiffOrientation reads tag 0x0112 from the first IFD of a TIFF structure,
// or returns 0.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > int64(len(t)) {
		return 0
	}
	n := int64(bo.Uint16(t[off:]))
	for e := off + 2; e+12 <= int64(len(t)) && n > 0; e, n = e+12, n-1 {
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		switch typ, count := bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:]); {
		case count != 1: // Pillow reads a tuple, which names no transpose
			return 0
		case typ == 3: // SHORT
			return int(bo.Uint16(t[e+8:]))
		case typ == 4: // LONG
			return int(bo.Uint32(t[e+8:]))
		}
		return 0
	}
	return 0
}

// Upright returns img turned by EXIF orientation o (Orientation) as
// Pillow's ImageOps.exif_transpose turns it: 2 mirror, 3 rotate 180°, 4 flip,
// 5 transpose, 6 rotate 90° clockwise, 7 transverse, 8 rotate 90°
// counter-clockwise. For o 1 (or any other value) it returns img itself.
// The result is an *image.NRGBA.
func Upright(img image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	b := img.Bounds()
	src := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Rect, img, b.Min, draw.Src)
	W, H := b.Dx(), b.Dy()
	w, h := W, H
	if o >= 5 {
		w, h = H, W
	}
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = W-1-x, y
			case 3:
				sx, sy = W-1-x, H-1-y
			case 4:
				sx, sy = x, H-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, H-1-x
			case 7:
				sx, sy = W-1-y, H-1-x
			case 8:
				sx, sy = W-1-y, x
			}
			copy(out.Pix[out.PixOffset(x, y):][:4], src.Pix[src.PixOffset(sx, sy):][:4])
		}
	}
	return out
}
