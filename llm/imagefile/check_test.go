package imagefile

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

// bombPNG is a valid PNG whose header claims w×h pixels: what a
// decompression bomb looks like before its pixels are inflated.
func bombPNG(t testing.TB, w, h uint32) []byte {
	t.Helper()
	b := encode(t, "png", gradient(2, 2))
	// The IHDR chunk follows the 8-byte signature: length, type, data, CRC.
	ihdr := b[8+8 : 8+8+13]
	binary.BigEndian.PutUint32(ihdr[0:4], w)
	binary.BigEndian.PutUint32(ihdr[4:8], h)
	binary.BigEndian.PutUint32(b[8+8+13:], crc32.ChecksumIEEE(b[8+4:8+8+13]))
	return b
}

func TestCheck(t *testing.T) {
	jpg := encode(t, "jpeg", gradient(64, 48))
	tests := []struct {
		name string
		data []byte
		want string // "" when usable
	}{
		{"good jpeg", jpg, ""},
		{"good png", encode(t, "png", gradient(8, 8)), ""},
		{"truncated jpeg", jpg[:len(jpg)*2/3], "corrupt or truncated jpeg"},
		{"decompression bomb", bombPNG(t, 20000, 20000), "over 100000000 pixels"},
		{"text", []byte("hello"), "it is text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.data)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrNotImage) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}
