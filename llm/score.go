package llm

import (
	"errors"
	"regexp"
	"strconv"
)

// ScoreMin and ScoreMax bound the rating scale.
const (
	ScoreMin = 1
	ScoreMax = 10
)

// ErrNoScore is wrapped by ExtractScore's errors.
var ErrNoScore = errors.New("no score")

var firstNumber = regexp.MustCompile(`\d+(?:\.\d+)?`)

// ExtractScore reads a safety score from a model's answer.
//
// TODO(score extraction): placeholder that takes the first number in range;
// the full extractor replaces it.
func ExtractScore(text string) (float64, error) {
	for _, m := range firstNumber.FindAllString(text, -1) {
		v, err := strconv.ParseFloat(m, 64)
		if err == nil && v >= ScoreMin && v <= ScoreMax {
			return v, nil
		}
	}
	return 0, ErrNoScore
}
