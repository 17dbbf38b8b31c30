package lora

// update is one low-rank update of one base weight, ΔW = scale · B·A, in
// PyTorch's row-major layout, which is GGUF's too (GGUF's ne[0] is PyTorch's
// last dimension):
//
//   - a linear layer's weight is [out][in]; A is [rank][in] and B
//     [outB][rank], of which rows row0 … row0+out-1 belong to this weight
//     (all of them, except for a fused qkv split in three);
//   - an embedding is [vocab][dim]; A is [rank][vocab] and B [dim][rank], so
//     ΔW[v][e] = scale · Σₖ A[k][v]·B[e][k].
//
// Sums run over k in increasing order in float64; the caller adds the delta
// to the base weight in float64 and rounds once to the stored type.
type update struct {
	a, b      []float64
	rank      int
	in        int // A's row length: in (linear) or vocab (embedding)
	row0      int
	embedding bool
	scale     float64
	acc       []float64 // scratch for one row; an update is not safe for concurrent use
}

// addRow adds row o of scale·B·A to row, the base weight's row o in float64.
func (u *update) addRow(o int, row []float64) {
	if u.scale == 0 {
		return
	}
	r := u.rank
	if u.embedding {
		// row is token o's embedding, len dim.
		for e := range row {
			var s float64
			for k := 0; k < r; k++ {
				s += u.a[k*u.in+o] * u.b[e*r+k]
			}
			row[e] += u.scale * s
		}
		return
	}
	brow := u.b[(u.row0+o)*r : (u.row0+o+1)*r]
	if cap(u.acc) < len(row) {
		u.acc = make([]float64, len(row))
	}
	acc := u.acc[:len(row)]
	clear(acc)
	for k, bk := range brow {
		ak := u.a[k*u.in : (k+1)*u.in]
		for i := range acc {
			acc[i] += bk * ak[i]
		}
	}
	for i, s := range acc {
		row[i] += u.scale * s
	}
}
