package local

import (
	"reflect"
	"testing"
)

// TestStepLayout: every step is one run of consecutive sequences (gaps get
// padding tokens without logits) of two tokens or more (a lone token gets a
// padding token with logits in the next sequence), and each step token's
// index in the batch is returned.
func TestStepLayout(t *testing.T) {
	tok := func(seq int) stepToken { return stepToken{tok: 7, pos: 10 + seq, seq: seq} }
	live := func(seq int) stepEntry { return stepEntry{stepToken: tok(seq), logits: true} }
	gap := func(seq int) stepEntry { return stepEntry{stepToken: stepToken{tok: 7, seq: seq}, pad: true} }
	lone := func(seq int) stepEntry {
		return stepEntry{stepToken: stepToken{tok: 7, seq: seq}, logits: true, pad: true}
	}
	for _, tc := range []struct {
		name string
		seqs []int
		want []stepEntry
		out  []int
	}{
		{"lone first", []int{0}, []stepEntry{live(0), lone(1)}, []int{0}},
		{"lone last slot (P=4)", []int{3}, []stepEntry{live(3), lone(4)}, []int{0}},
		{"consecutive", []int{0, 1, 2}, []stepEntry{live(0), live(1), live(2)}, []int{0, 1, 2}},
		{"gaps", []int{0, 2, 5}, []stepEntry{live(0), gap(1), live(2), gap(3), gap(4), live(5)}, []int{0, 2, 5}},
		{"late start", []int{2, 3}, []stepEntry{live(2), live(3)}, []int{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var toks []stepToken
			for _, s := range tc.seqs {
				toks = append(toks, tok(s))
			}
			got, out, err := stepLayout(toks, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(out, tc.out) {
				t.Errorf("layout of %v:\n got %+v, out %v\nwant %+v, out %v", tc.seqs, got, out, tc.want, tc.out)
			}
		})
	}
	for _, seqs := range [][]stepToken{{tok(2), tok(1)}, {tok(1), tok(1)}} {
		if _, _, err := stepLayout(seqs, nil, nil); err == nil {
			t.Errorf("layout of sequences %d, %d: no error, want one (not increasing)", seqs[0].seq, seqs[1].seq)
		}
	}
}
