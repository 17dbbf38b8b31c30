package backend

import (
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
)

func TestBaseline(t *testing.T) {
	tests := []struct {
		stat  string
		train []float64
		want  float64
	}{
		{"mean", []float64{1, 2, 3, 10}, 4},
		{"median", []float64{1, 2, 3, 10}, 2.5},
		{"median", []float64{7, 1, 3}, 3},
		{"mean", []float64{5}, 5},
	}
	for _, tt := range tests {
		b, err := NewBaseline(tt.stat, tt.train)
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.Predict(t.Context(), &llm.Request{ID: "x"})
		if err != nil || p.Score == nil || *p.Score != tt.want || p.Backend != "baseline" {
			t.Errorf("%s%v = %+v, %v; want %v", tt.stat, tt.train, p, err, tt.want)
		}
	}
	if _, err := NewBaseline("mean", nil); err == nil {
		t.Error("baseline of no scores accepted")
	}
	if _, err := NewBaseline("mode", []float64{1}); err == nil {
		t.Error("baseline mode accepted")
	}
}
