package metrics_test

import (
	"fmt"

	"github.com/vlmcmp/vlmcmp/eval/metrics"
)

func score(v float64) *float64 { return &v }

func ExampleEvaluate() {
	exp := []float64{3, 5, 7, 8, 2, 6, 9, 4}
	base := []float64{5, 5, 5, 5, 5, 5, 5, 5}
	ft := []float64{3, 6, 7, 7, 3, 6, 8, 4}
	mk := func(name string, pred []float64) metrics.Model {
		m := metrics.Model{Name: name}
		for i := range exp {
			m.Samples = append(m.Samples, metrics.Sample{
				ID: fmt.Sprint("img", i), Expected: exp[i], Predicted: score(pred[i]), LatencyMS: float64(100 * (i + 1)),
			})
		}
		return m
	}
	res, err := metrics.Evaluate([]metrics.Model{mk("median", base), mk("finetuned", ft)}, "", metrics.Options{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range res.Models {
		fmt.Printf("%s: n=%d mae=%.3f rmse=%.3f acc1=%.3f pearson=%.3f p50=%.0fms\n",
			s.Model, s.N, s.MAE, s.RMSE, s.Acc1, s.Pearson, s.LatencyP50MS)
	}
	p := res.Models[1].Paired
	fmt.Printf("diff mae %.3f vs %s on %d images, p=%.4f exact=%v\n", p.DiffMAE, p.Baseline, p.N, p.PValue, p.Exact)
	// Output:
	// median: n=8 mae=2.000 rmse=2.345 acc1=0.375 pearson=NaN p50=450ms
	// finetuned: n=8 mae=0.500 rmse=0.707 acc1=1.000 pearson=0.968 p50=450ms
	// diff mae -1.500 vs median on 8 images, p=0.0312 exact=true
}

func ExampleQWK() {
	expected := []int{2, 4, 6, 8, 10}
	predicted := []int{3, 4, 5, 8, 9}
	// Python: 1 − Σ(a−b)² / (Σ_ij (a_i−b_j)² / n) = 0.9552238805970149.
	fmt.Printf("%.4f\n", metrics.QWK(expected, predicted, 1, 10))
	// Output: 0.9552
}
