package llm

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// corpusAnswer is one answer of testdata/score/corpus.txtar.
type corpusAnswer struct {
	id    string
	text  string
	score float64 // the true score; 0 when the answer holds none
}

// readCorpus reads the corpus: files named "<id> <score>" or "<id> none",
// each holding one answer (its final line break is the archive's, not the
// answer's).
func readCorpus(tb testing.TB) []corpusAnswer {
	tb.Helper()
	name := filepath.Join("testdata", "score", "corpus.txtar")
	data, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	ar := txtar.Parse(data)
	var out []corpusAnswer
	seen := map[string]bool{}
	for _, f := range ar.Files {
		id, want, ok := strings.Cut(f.Name, " ")
		if !ok || seen[id] {
			tb.Fatalf("%s: file %q: want a unique \"<id> <score>\" or \"<id> none\"", name, f.Name)
		}
		seen[id] = true
		a := corpusAnswer{id: id, text: strings.TrimSuffix(string(f.Data), "\n")}
		if want != "none" {
			if a.score, err = strconv.ParseFloat(want, 64); err != nil || !inScale(a.score) {
				tb.Fatalf("%s: file %q: score %q is not a number in %d..%d", name, f.Name, want, ScoreMin, ScoreMax)
			}
		}
		out = append(out, a)
	}
	return out
}

// TestExtractScoreCorpus reads every answer of the corpus and requires
// every score read right and none invented. It logs recall (answers with a
// score read right / answers with a score) and precision (scores read
// right / scores read).
func TestExtractScoreCorpus(t *testing.T) {
	corpus := readCorpus(t)
	if len(corpus) < 200 {
		t.Fatalf("the corpus has %d answers, want at least 200", len(corpus))
	}
	var withScore, right, read, wrong, invented, missed int
	for _, a := range corpus {
		got, err := ExtractScore(a.text)
		if err != nil && !errors.Is(err, ErrNoScore) {
			t.Errorf("answer %s: error %v does not wrap ErrNoScore", a.id, err)
		}
		if a.score != 0 {
			withScore++
		}
		if err == nil {
			read++
		}
		switch {
		case a.score != 0 && err == nil && got == a.score:
			right++
		case a.score != 0 && err == nil:
			wrong++
			t.Errorf("answer %s: read %v, want %v\n%s", a.id, got, a.score, a.text)
		case a.score != 0:
			missed++
			t.Errorf("answer %s: %v, want %v\n%s", a.id, err, a.score, a.text)
		case err == nil:
			invented++
			t.Errorf("answer %s: read %v, want no score\n%s", a.id, got, a.text)
		}
	}
	recall := float64(right) / float64(withScore)
	precision := 1.0
	if read > 0 {
		precision = float64(right) / float64(read)
	}
	t.Logf("corpus: %d answers, %d with a score, %d without; read %d: %d right, %d wrong, %d invented; missed %d",
		len(corpus), withScore, len(corpus)-withScore, read, right, wrong, invented, missed)
	t.Logf("recall %.4f (%d/%d), precision %.4f (%d/%d)", recall, right, withScore, precision, right, read)
}
