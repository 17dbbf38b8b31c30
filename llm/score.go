package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ScoreMin and ScoreMax bound the rating scale.
const (
	ScoreMin = 1
	ScoreMax = 10
)

// ErrNoScore is wrapped by ExtractScore's errors.
var ErrNoScore = errors.New("no score")

// ExtractScore reads a safety score (1..10) from a model's answer, in the
// forms answers take in practice. It tries, in order, and takes the first
// that matches:
//
//  1. a JSON object (bare or in a ```json fence) with a field named score,
//     safety_score, rating, safety_rating or safety, at any depth (top level
//     first); a string value is read with these same rules;
//  2. a labelled score: "Safety score: 7/10", "Score: 7", "**Rating:** 8",
//     "score of 6.5", "The safety score for this image is 4", "\"score\": 7"
//     in JSON cut short;
//  3. a rating verb: "I'd rate it 8 out of 10", "I would give this street a 6";
//  4. a score out of ten anywhere: "7/10", "Seven out of ten";
//  5. a bold number: "**7**";
//  6. "between 6 and 7";
//  7. a number the answer starts with, alone or followed by punctuation:
//     "7", "7.5", "Seven.", "8 - well lit".
//
// So "Score: 6. There are 3 cars and 2 people" is 6: the other numbers are
// not in a score's place. A scale note ("on a scale of 1 to 10", "(1-10)")
// is ignored. Numbers may be digits with an optional decimal part or the
// words one to ten.
//
// A range ("6-7", "6 to 7/10", "between 6 and 7") gives its midpoint, 6.5:
// the model hedged between two adjacent scores, and the midpoint costs it
// half a point of error either way.
//
// It fails, with an error wrapping [ErrNoScore] that says why, for an empty
// answer, a score outside ScoreMin..ScoreMax ("Score: 11", "0/10"), a score
// on another scale ("4/5"), an answer that declines to rate ("I can't assess
// this image"), and an answer with no number in a score's place.
func ExtractScore(text string) (float64, error) {
	return extract(text, 0)
}

// maxExtractDepth bounds the recursion through JSON string values.
const maxExtractDepth = 3

func extract(text string, depth int) (float64, error) {
	if strings.TrimSpace(text) == "" {
		return 0, fmt.Errorf("%w: empty answer", ErrNoScore)
	}
	if v, found, err := fromJSON(text, depth); found {
		return v, err
	}
	t := scaleNote.ReplaceAllString(text, " ")
	for _, r := range scoreRules {
		m := r.re.FindStringSubmatchIndex(t)
		if m == nil {
			continue
		}
		return r.value(t, m)
	}
	if refusal.MatchString(text) {
		return 0, fmt.Errorf("%w: the answer declines to rate the image", ErrNoScore)
	}
	return 0, fmt.Errorf("%w: no number in a score's place in the answer", ErrNoScore)
}

// num matches a number: digits with an optional decimal part, or one..ten.
const num = `(\d{1,4}(?:\.\d{1,6})?|[Oo]ne|[Tt]wo|[Tt]hree|[Ff]our|[Ff]ive|[Ss]ix|[Ss]even|[Ee]ight|[Nn]ine|[Tt]en|ONE|TWO|THREE|FOUR|FIVE|SIX|SEVEN|EIGHT|NINE|TEN)\b`

// rng matches a number or a range of two; groups: low, high (optional).
const rng = num + `(?:(?:\s*(?:-|–)\s*|\s+to\s+)` + num + `)?`

// outOf matches an optional denominator; group: the denominator.
const outOf = `(?:\s*\**\s*(?:/|out\s+of)\s*(\d{1,4}|ten|TEN|Ten)\b)?`

var (
	scaleNote = regexp.MustCompile(`(?i)(?:\bon\s+a\s+)?(?:\bscale\s+(?:of|from)\s+)?[(\[]?\b1\s*(?:-|–|to)\s*10\b[)\]]?(?:\s+scale\b)?`)
	refusal   = regexp.MustCompile(`(?i)\b(?:can(?:no|')t|can not|unable|not able|won't|will not|sorry|refuse|cannot)\b`)
)

type scoreRule struct {
	re *regexp.Regexp
	// groups: first number, second number (range), denominator (or -1)
	lo, hi, den int
}

var scoreRules = []scoreRule{
	// 2. labelled.
	{re: regexp.MustCompile(`(?i)\b(?:safety[\s_-]*)?(?:score|rating)\b(?:\s+(?:for|of)\s+(?:this|the|that)(?:\s+[\w'’-]+){1,3}?)?[\s:=*_"'’\-–—]{0,6}(?:(?:is|of|would\s+be|be|at|around|about|approximately|roughly|:)\s*)*(?:an?\s+)?[*_"']*\s*` + rng + outOf), lo: 1, hi: 2, den: 3},
	// 3. rating verb.
	{re: regexp.MustCompile(`(?i)\b(?:rate|rated|give|gave|assign|assigned|would\s+put)\s+(?:(?:it|this|that|the\s+\w+|this\s+\w+|this\s+\w+\s+\w+)\s+)?(?:an?\s+|at\s+|as\s+)?[*_"']*` + rng + outOf), lo: 1, hi: 2, den: 3},
	// 4. out of ten anywhere.
	{re: regexp.MustCompile(`\b` + rng + `\s*\**\s*(?:/|(?i:out\s+of))\s*(10|(?i:ten))\b`), lo: 1, hi: 2, den: 3},
	// 5. bold.
	{re: regexp.MustCompile(`\*\*\s*` + rng + outOf + `\s*\*\*`), lo: 1, hi: 2, den: 3},
	// 6. between.
	{re: regexp.MustCompile(`(?i)\bbetween\s+` + num + `\s+and\s+` + num), lo: 1, hi: 2, den: -1},
	// 7. leading number, alone or followed by punctuation.
	{re: regexp.MustCompile(`^[\s*_"'#>]*` + rng + outOf + `[*_"']*\s*(?:$|[.,:;!)\n]|\s+[-–—(])`), lo: 1, hi: 2, den: 3},
}

func (r scoreRule) value(t string, m []int) (float64, error) {
	group := func(g int) string {
		if g < 0 || 2*g+1 >= len(m) || m[2*g] < 0 {
			return ""
		}
		return t[m[2*g]:m[2*g+1]]
	}
	lo, ok := parseNum(group(r.lo))
	if !ok {
		return 0, fmt.Errorf("%w: %q is not a number", ErrNoScore, group(r.lo))
	}
	v, what := lo, group(r.lo)
	if h := group(r.hi); h != "" {
		hi, ok := parseNum(h)
		if !ok {
			return 0, fmt.Errorf("%w: %q is not a number", ErrNoScore, h)
		}
		if !inScale(lo) || !inScale(hi) {
			return 0, fmt.Errorf("%w: range %s-%s is outside %d..%d", ErrNoScore, group(r.lo), h, ScoreMin, ScoreMax)
		}
		v, what = (lo+hi)/2, group(r.lo)+"-"+h
	}
	if d := group(r.den); d != "" {
		if den, ok := parseNum(d); !ok || den != ScoreMax {
			return 0, fmt.Errorf("%w: %s/%s is not on the %d..%d scale", ErrNoScore, what, d, ScoreMin, ScoreMax)
		}
	}
	if !inScale(v) {
		return 0, fmt.Errorf("%w: %s is outside %d..%d", ErrNoScore, what, ScoreMin, ScoreMax)
	}
	return v, nil
}

func inScale(v float64) bool { return v >= ScoreMin && v <= ScoreMax }

var numberWords = map[string]float64{
	"one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
	"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}

func parseNum(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	if v, ok := numberWords[strings.ToLower(s)]; ok {
		return v, true
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// scoreKeys are the JSON field names read as the score, most specific first.
var scoreKeys = []string{"safety_score", "safetyscore", "score", "safety_rating", "rating", "safety"}

// fromJSON looks for a JSON object in text and a score field in it. found
// is false when there is no JSON object or it has no score field.
func fromJSON(text string, depth int) (v float64, found bool, err error) {
	if depth >= maxExtractDepth {
		return 0, false, nil
	}
	start := strings.IndexByte(text, '{')
	end := strings.LastIndexByte(text, '}')
	if start < 0 || end <= start {
		return 0, false, nil
	}
	var obj any
	dec := json.NewDecoder(strings.NewReader(text[start : end+1]))
	dec.UseNumber()
	if dec.Decode(&obj) != nil {
		return 0, false, nil
	}
	val, ok := findScoreField(obj, 0)
	if !ok {
		return 0, false, nil
	}
	switch x := val.(type) {
	case json.Number:
		f, perr := x.Float64()
		if perr != nil {
			return 0, true, fmt.Errorf("%w: score field %q is not a number", ErrNoScore, x.String())
		}
		if !inScale(f) {
			return 0, true, fmt.Errorf("%w: score field %s is outside %d..%d", ErrNoScore, x.String(), ScoreMin, ScoreMax)
		}
		return f, true, nil
	case string:
		f, serr := extract(x, depth+1)
		return f, true, serr
	case nil:
		return 0, true, fmt.Errorf("%w: score field is null", ErrNoScore)
	default:
		return 0, false, nil
	}
}

// findScoreField returns the value of the first score field of obj,
// searching breadth first so that a top-level field wins over a nested one.
func findScoreField(obj any, depth int) (any, bool) {
	if depth > 8 {
		return nil, false
	}
	switch o := obj.(type) {
	case map[string]any:
		lower := make(map[string]any, len(o))
		for k, v := range o {
			lower[strings.ToLower(k)] = v
		}
		for _, k := range scoreKeys {
			if v, ok := lower[k]; ok {
				switch v.(type) {
				case map[string]any, []any:
					continue
				}
				return v, true
			}
		}
		for _, k := range sortedKeys(o) {
			if v, ok := findScoreField(o[k], depth+1); ok {
				return v, true
			}
		}
	case []any:
		for _, e := range o {
			if v, ok := findScoreField(e, depth+1); ok {
				return v, true
			}
		}
	}
	return nil, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
