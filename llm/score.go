package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// ScoreMin and ScoreMax bound the rating scale: the one scale of the
// project. The ground truth (eval/dataset), every backend's answers and
// structured-output schemas, and the reports take it from here.
const (
	ScoreMin = 1
	ScoreMax = 10
)

// ScaleText is the scale in words, "1..10", for messages.
var ScaleText = fmt.Sprintf("%d..%d", ScoreMin, ScoreMax)

// InScale reports whether v is a score on the scale.
func InScale(v float64) bool { return inScale(v) }

// ErrNoScore is wrapped by ExtractScore's errors.
var ErrNoScore = errors.New("no score")

// ExtractScore reads a safety score (ScoreMin..ScoreMax) from a model's
// answer. It reads a JSON object first, then the text by a small grammar:
// a tokenizer (score_lex.go) and a parser (score_parse.go). Where a
// reasoning model's thoughts end with "</think>", the text after them is
// read first.
//
// JSON. An object (bare or in a ```json fence) with a field named score,
// safety_score, rating, safety_rating, safety, perceived_safety, … (case
// and separators ignored), at any depth, top level first, gives the score;
// a string value is read with these same rules; null is no score.
//
// Tokens. Words (letters, inner apostrophes: "i'd"); numbers: digits with
// an optional decimal part and sign ("6.5", "-3"), or a number word one..ten
// in any case; digits that are no plain number ("1,000", "9:30", "1.2.3")
// or glued to letters ("2nd", "4k"); emphasis runs of '*' or '_'; line
// breaks; single punctuation characters. Emphasis and quotation marks are
// decoration: the forms below look through them.
//
// Grammar of a value, and of the forms that carry one:
//
//	value    = [ "between" ] number [ sep number ] [ outof ] follower
//	sep      = "-" | "–" | "—" | "to" | "or" | "through" | "and" (after "between")
//	outof    = [ "point" | "points" ] ( "/" | "out of" | "of" ) number
//	follower = [ "points" | "stars" (after outof) ] ( end | line break
//	         | punctuation but / % $ ° + = # … | a word such as because,
//	         for, with, given, and, but, is )
//	cue      = "overall" | "final" | "on balance" | "safety" | "score"
//	         | "rating" | "rate" | "grade" | "safe" | "give" | "assign"
//	         | "put" | "say" | "call" | "deserves" | "answer" | …
//	filler   = up to 8 words, counts ("with 2 lamps") and any punctuation
//	           but . ! ? ; — and no line break after a word ("**Score:**\n7"
//	           is fine); after a count the value must follow a link ("is",
//	           "at", "a", ":", a cue …): "with 2 lamps is 7", but not
//	           "3 points for lighting and 2 for cleanliness"
//	scale    = ( "0" | "1" ) … ( "10" | "ten" ): "1-10", "1 to 10", "scale
//	           from 1 (unsafe) to 10 (safe)", "where 1 is … and 10 is …";
//	           or one end defined: "where 10 is safest", "with 1 being …"
//	form     = cue filler value            "Perceived safety: 4", "rated 6"
//	         | scale filler value          "On a scale of 1 to 10, a 9"
//	         | value with "/" or "out of"  "7/10", "four out of ten"
//	         | "**" value "**"             "**7**"
//	         | value first in the answer   "7 - well lit"
//	         | value alone in a sentence   "Very safe. 9."
//	         | value judged                "5 seems fair"
//	         | "between" value             "between 6 and 7"
//	         | ( "a" | "an" ) value        "It's a 7."
//
// "6 of 10" is read only after a cue ("Score 6 of 10", not "photo 7 of 10").
// A spaced dash that would make a range of a count is a clause dash:
// "Rating: 2 — 3 burnt-out cars" is 2.
//
// A number is not a value when it is a count or a measure, followed by a
// word that is not a follower ("3 cars", "10 meters"); part of a compound
// ("4-lane", "one-way"); a percentage, money or a rank ("70%", "$5",
// "#1"); a date or fraction with a further slash ("12/10/2023"); a
// pronoun ("this one"); the marker of a numbered list ("1. Lighting…"
// with a later "2."); or a number of a scale mention or a denominator:
// "on a scale from 1 to 10", "(1-10)", "out of 10" are never the score.
//
// Precedence: when the answer holds several forms, the highest wins, and
// the first of that rank: a cue qualified by "overall", "final", "total"
// or "on balance"; one naming safety ("Perceived safety: 4", "safety score
// 6"); a score noun or rating verb ("Score: 6", "rated 6"); another cue, a
// stated scale or a judged value ("I'd give it a 6", "(1-10): 9", "5 seems
// fair"); a value out of ten; a bold value or the one the answer starts
// with; a value alone in a sentence; "between 6 and 7"; "a 7". So in
// "Between 3 and 8 cars, safety 6" the score is 6, in "7/10; 3 cars, 2
// people" it is 7, and in "Lighting: 8/10 … Overall: 7/10" it is 7.
//
// A range ("6-7", "6 to 7/10", "between 6 and 7", "6 or 7") gives its
// midpoint, 6.5: the model hedged between two scores, and the midpoint
// costs it half the gap in error either way. A range of 1 to 10 is the
// scale, not a score.
//
// A value outside ScoreMin..ScoreMax or on another scale is not a score:
// a valid score in any other form wins over it, and when there is none the
// error names the best-ranked such value.
//
// It fails, with an error wrapping [ErrNoScore] that says why, for an empty
// answer, a score outside ScoreMin..ScoreMax ("Score: 11", "0/10"), a score
// on another scale ("4/5"), an answer that declines to rate ("I can't
// assess this image"), and an answer with no number in a score's place. It
// never invents a score: the score is a number of the answer (or the
// midpoint of two), in a place the grammar names. Its work is linear in the
// answer's length, reading at most 65536 tokens.
func ExtractScore(text string) (float64, error) {
	r := extract(text, 0)
	return r.value, r.err
}

// thinkEnd ends the thoughts a reasoning model (Qwen3, DeepSeek-R1 and
// their kin) writes before its answer.
const thinkEnd = "</think>"

// maxExtractDepth bounds the recursion through JSON string values.
const maxExtractDepth = 3

// reading is what extract found: a score and where it was read, or why
// there is none.
type reading struct {
	value float64
	err   error
	// numerals are the numbers the score was read from as written: one, or
	// the two ends of a range.
	numerals []string
	// within is the text the numerals are in: the answer, or a JSON string
	// value in it; json is set when the score is a JSON number field.
	within string
	json   bool
}

func extract(text string, depth int) reading {
	if strings.TrimSpace(text) == "" {
		return reading{err: fmt.Errorf("%w: empty answer", ErrNoScore)}
	}
	// A reasoning model's thoughts come before its answer: the answer is
	// read first, the whole text only when the answer holds no score.
	if i := strings.LastIndex(text, thinkEnd); i >= 0 {
		answer := text[i+len(thinkEnd):]
		if r := extract(answer, depth); r.err == nil {
			if r.within == answer {
				r.within = text
			}
			return r
		}
	}
	if r, found := fromJSON(text, depth); found {
		return r
	}
	p := newParser(text)
	p.parse()
	best, bestBad := -1, -1
	var bad error
	for i, c := range p.cands {
		r := p.read(c.v)
		if r.err != nil {
			if bestBad < 0 || c.rank > p.cands[bestBad].rank {
				bestBad, bad = i, r.err
			}
			continue
		}
		if best < 0 || c.rank > p.cands[best].rank {
			best = i
		}
	}
	switch {
	case best >= 0:
		r := p.read(p.cands[best].v)
		r.within = text
		return r
	case bestBad >= 0:
		return reading{err: bad}
	case p.refusal():
		return reading{err: fmt.Errorf("%w: the answer declines to rate the image", ErrNoScore)}
	}
	return reading{err: fmt.Errorf("%w: no number in a score's place in the answer", ErrNoScore)}
}

// read turns a parsed value into a score, or says why it is none.
func (p *parser) read(v value) reading {
	lo := p.toks[v.lo]
	r := reading{value: lo.val, numerals: []string{lo.text}}
	what := lo.text
	if v.hi >= 0 {
		hi := p.toks[v.hi]
		if !inScale(lo.val) || !inScale(hi.val) {
			return reading{err: fmt.Errorf("%w: range %s-%s is outside %d..%d", ErrNoScore, lo.text, hi.text, ScoreMin, ScoreMax)}
		}
		what = lo.text + "-" + hi.text
		r.value = (lo.val + hi.val) / 2
		r.numerals = append(r.numerals, hi.text)
	}
	if v.den >= 0 {
		if d := p.toks[v.den]; d.val != ScoreMax {
			return reading{err: fmt.Errorf("%w: %s/%s is not on the %d..%d scale", ErrNoScore, what, d.text, ScoreMin, ScoreMax)}
		}
	}
	if !inScale(r.value) {
		return reading{err: fmt.Errorf("%w: %s is outside %d..%d", ErrNoScore, what, ScoreMin, ScoreMax)}
	}
	return r
}

func inScale(v float64) bool { return v >= ScoreMin && v <= ScoreMax }

// scoreKeys are the JSON field names read as the score, most specific
// first, lower case without separators ("safety_score", "Safety-Score" and
// "safetyScore" are all safetyscore).
var scoreKeys = []string{
	"overallsafetyscore", "finalsafetyscore", "perceivedsafetyscore", "safetyscore",
	"overallscore", "finalscore", "score", "safetyrating", "rating", "perceivedsafety", "safety",
}

// keyNorm is a JSON field name as scoreKeys spell it.
func keyNorm(k string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == ' ' {
			return -1
		}
		return unicode.ToLower(r)
	}, k)
}

// fromJSON looks for a JSON object in text and a score field in it. found
// is false when there is no JSON object or it has no score field.
func fromJSON(text string, depth int) (r reading, found bool) {
	if depth >= maxExtractDepth {
		return r, false
	}
	start := strings.IndexByte(text, '{')
	end := strings.LastIndexByte(text, '}')
	if start < 0 || end <= start {
		return r, false
	}
	var obj any
	dec := json.NewDecoder(strings.NewReader(text[start : end+1]))
	dec.UseNumber()
	if dec.Decode(&obj) != nil {
		return r, false
	}
	val, ok := findScoreField(obj, 0)
	if !ok {
		return r, false
	}
	switch x := val.(type) {
	case json.Number:
		f, perr := x.Float64()
		if perr != nil {
			return reading{err: fmt.Errorf("%w: score field %q is not a number", ErrNoScore, x.String())}, true
		}
		if !inScale(f) {
			return reading{err: fmt.Errorf("%w: score field %s is outside %d..%d", ErrNoScore, x.String(), ScoreMin, ScoreMax)}, true
		}
		return reading{value: f, numerals: []string{x.String()}, within: text, json: true}, true
	case string:
		return extract(x, depth+1), true
	case nil:
		return reading{err: fmt.Errorf("%w: score field is null", ErrNoScore)}, true
	default:
		return r, false
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
		for _, k := range sortedKeys(o) {
			if _, dup := lower[keyNorm(k)]; !dup {
				lower[keyNorm(k)] = o[k]
			}
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
