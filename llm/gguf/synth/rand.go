package synth

import (
	"math"

	"github.com/vlmcmp/vlmcmp/llm/gguf"
)

// splitmix64 is a tiny, fast, seedable generator (Steele, Lea and Flood,
// "Fast splittable pseudorandom number generators", 2014).
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// mix derives an independent stream seed from a seed and indices.
func mix(vals ...uint64) uint64 {
	s := splitmix64(0x5eed)
	var h uint64
	for _, v := range vals {
		s += splitmix64(v)
		h ^= s.next()
		s = splitmix64(h)
	}
	return h
}

// dist describes how a tensor's values are drawn: normal with the given
// mean and standard deviation; std 0 makes every value the mean.
type dist struct {
	mean, std float64
}

// quantiles[k] is the standard normal quantile at (k+0.5)/65536: a 16-bit
// uniform draw maps through it to a normal draw.
var quantiles = func() [1 << 16]float64 {
	var q [1 << 16]float64
	for k := range q {
		u := (float64(k) + 0.5) / (1 << 16)
		q[k] = math.Sqrt2 * math.Erfinv(2*u-1)
	}
	return q
}()

// table encodes, for one tensor type and init, the value of every 16-bit
// draw, so that generating a value is one lookup.
func table(t gguf.TensorType, in dist) []byte {
	size := 2
	if t == gguf.F32 {
		size = 4
	}
	b := make([]byte, 0, size<<16)
	for k := range 1 << 16 {
		v := float32(in.mean + in.std*quantiles[k])
		b, _ = gguf.AppendFloats(b, t, []float32{v})
	}
	return b
}

// fill writes len(dst)/size values drawn through tab from the stream seed.
func fill(dst, tab []byte, size int, seed uint64) {
	s := splitmix64(seed)
	n := len(dst) / size
	for i := 0; i < n; i += 4 {
		r := s.next()
		for j := 0; j < 4 && i+j < n; j++ {
			k := int(uint16(r >> (16 * j)))
			copy(dst[(i+j)*size:(i+j+1)*size], tab[k*size:(k+1)*size])
		}
	}
}

func sqrtf(x float64) float64 { return math.Sqrt(x) }
