package llm

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestExtractScore(t *testing.T) {
	tests := []struct {
		name string
		text string
		want float64 // 0: no score expected
		why  string  // part of the error when want is 0
	}{
		{"labelled out of ten", "Safety score: 7/10", 7, ""},
		{"bare out of ten", "7/10", 7, ""},
		{"labelled", "Score: 7", 7, ""},
		{"bold", "**7**", 7, ""},
		{"decimal", "7.5", 7.5, ""},
		{"word", "seven", 7, ""},
		{"word out of ten", "Seven out of ten", 7, ""},
		{"json", `{"score": 7, "reason": "well lit, sidewalks"}`, 7, ""},
		{"json safety_score", `{"safety_score": 4, "explanation": "broken windows, 2 abandoned cars"}`, 4, ""},
		{"json fenced", "```json\n{\n  \"reasoning\": \"3 lanes, no crossing\",\n  \"score\": 5\n}\n```", 5, ""},
		{"json nested", `{"assessment": {"safety_score": 8.5, "factors": [1, 2, 3]}}`, 8.5, ""},
		{"json string value", `{"score": "6/10"}`, 6, ""},
		{"json cut short", `{"score": 6, "reason": "The street has 3 cars parked and`, 6, ""},
		{"json out of range", `{"score": 42}`, 0, "outside"},
		{"json null", `{"score": null, "reason": "cannot tell"}`, 0, "null"},
		{"other numbers after", "Score: 6. There are 3 cars and 2 people in view.", 6, ""},
		{"rate verb", "I'd rate it 8 out of 10.", 8, ""},
		{"give verb", "Looking at the lighting and foot traffic, I would give this street a 6.", 6, ""},
		{"rate on scale", "On a scale of 1 to 10, I would rate this 3 because of the graffiti and 4 broken lamps.", 3, ""},
		{"scale note in label", "Safety score (1-10): 9", 9, ""},
		{"markdown label", "**Safety Score:** 8\n\n**Reasoning:** 2 pedestrians, wide sidewalks.", 8, ""},
		{"bold out of ten", "Overall I'd say **6/10** given 2 dark alleys.", 6, ""},
		{"range", "Score: 6-7", 6.5, ""},
		{"range to", "I'd rate it 6 to 7 out of 10.", 6.5, ""},
		{"range between", "Somewhere between 4 and 5, the area looks neglected.", 4.5, ""},
		{"range en dash out of ten", "Safety: 7–8/10", 7.5, ""},
		{"leading number with reason", "8 - well lit street with 4 shops open", 8, ""},
		{"leading number newline", "5\nThe image shows 12 parked cars.", 5, ""},
		{"leading word", "Seven.", 7, ""},
		{"score of", "I give it a safety score of 4.5 out of 10.", 4.5, ""},
		{"rating is", "My rating is 2 — 3 burnt-out cars line the road.", 2, ""},
		{"ten", "10/10, a pristine pedestrian zone.", 10, ""},
		{"label then dash", "Score: 7 - the street is well lit", 7, ""},
		{"not a range across words", "Rating: 3 to the north there are 5 shops", 3, ""},
		{"one", "Score: 1", 1, ""},
		{"verbose preamble", "The image shows a residential street with 2 trees and 3 houses.\n\nSafety score: 7/10", 7, ""},
		{"quoted key", `"safety_score": 3`, 3, ""},
		{"uppercase", "SAFETY SCORE: 9", 9, ""},
		{"score for this image", "The safety score for this image is 4.", 4, ""},
		{"rating of the street", "The overall safety rating of the street would be 6/10 given 2 lamps.", 6, ""},
		{"rate the safety at", "I'd rate the safety at 7.", 7, ""},
		{"score word hedge", "Hard to score; 3 cars block the view.", 0, "no number"},
		{"out of range", "Score: 11", 0, "outside"},
		{"zero", "0/10", 0, "outside"},
		{"other scale", "Score: 4/5", 0, "not on the"},
		{"refusal", "I'm sorry, but I can't assess the safety of locations from images.", 0, "declines"},
		{"refusal cannot", "I cannot determine a safety score for this image.", 0, "declines"},
		{"empty", "   ", 0, "empty"},
		{"no number in place", "There are 3 cars and 2 people on the street.", 0, "no number"},
		{"percent only", "About 70% of the frame is road.", 0, "no number"},
		{"range out of scale", "Score: 9-12", 0, "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExtractScore(tt.text)
			if tt.want == 0 {
				if err == nil {
					t.Fatalf("ExtractScore(%q) = %v, want an error about %q", tt.text, got, tt.why)
				}
				if !errors.Is(err, ErrNoScore) {
					t.Errorf("ExtractScore(%q) error %v does not wrap ErrNoScore", tt.text, err)
				}
				if !strings.Contains(err.Error(), tt.why) {
					t.Errorf("ExtractScore(%q) error %q does not say %q", tt.text, err, tt.why)
				}
				return
			}
			if err != nil {
				t.Fatalf("ExtractScore(%q): %v, want %v", tt.text, err, tt.want)
			}
			if got != tt.want {
				t.Errorf("ExtractScore(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}

func TestPredictionSetText(t *testing.T) {
	var p Prediction
	p.SetText("Safety score: 7/10")
	if p.Score == nil || *p.Score != 7 || p.ScoreError != "" {
		t.Errorf("SetText scored %v (%q), want 7", p.Score, p.ScoreError)
	}
	p.SetText("I can't rate this.")
	if p.Score != nil || !strings.HasPrefix(p.ScoreError, "no score: ") {
		t.Errorf("SetText kept score %v, error %q; want none and a no score error", p.Score, p.ScoreError)
	}
}

// maxStepsPerToken bounds the parser's work: the tokens its loops visit,
// per token of the answer. Each token is visited by the main pass and by
// the scans of the few cues within maxFillWords words before it.
const maxStepsPerToken = 64

// FuzzExtractScore checks that ExtractScore never panics, that its work is
// linear in the answer (steps per token bounded), that every failure wraps
// ErrNoScore, and that a score it finds is within ScoreMin..ScoreMax and is
// a number of the answer as written (digits or a number word), or the
// midpoint of two.
func FuzzExtractScore(f *testing.F) {
	for _, s := range []string{
		"Safety score: 7/10", "**7**", "7.5", "Seven out of ten", `{"score": 7}`,
		"```json\n{\"a\": {\"safety_score\": \"6-7\"}}\n```", "Score: 6. There are 3 cars", "between 9 and 10",
		`{"score": "{\"score\": \"{\\\"score\\\": 3}\"}"}`, "", "1-10", "99999999/10",
		"1. a\n2. b\n3. c", "score ,,,,,,,,,,,,,, 7", "-7", "7-", "one-", "1 to 10 to 1 to 10", "**__**7**__**",
	} {
		f.Add(s)
	}
	for _, a := range readCorpus(f) {
		f.Add(a.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p := newParser(text)
		p.parse()
		if limit := maxStepsPerToken * (len(p.toks) + 1); p.steps > limit {
			t.Fatalf("parsing %q took %d steps for %d tokens, more than %d", text, p.steps, len(p.toks), limit)
		}
		v, err := ExtractScore(text)
		r := extract(text, 0)
		if (err == nil) != (r.err == nil) || v != r.value {
			t.Fatalf("ExtractScore(%q) = %v, %v; extract gives %v, %v", text, v, err, r.value, r.err)
		}
		if err != nil {
			if !errors.Is(err, ErrNoScore) {
				t.Fatalf("ExtractScore(%q) error %v does not wrap ErrNoScore", text, err)
			}
			return
		}
		if !(v >= ScoreMin && v <= ScoreMax) {
			t.Fatalf("ExtractScore(%q) = %v, outside %d..%d", text, v, ScoreMin, ScoreMax)
		}
		if r.within != text && !strings.Contains(text, "{") {
			t.Fatalf("ExtractScore(%q) = %v read from %q, which is not the answer nor a JSON string in it", text, v, r.within)
		}
		var sum float64
		for _, n := range r.numerals {
			if !strings.Contains(r.within, n) {
				t.Fatalf("ExtractScore(%q) = %v from numeral %q, which is not in %q", text, v, n, r.within)
			}
			x, ok := numberWords[strings.ToLower(n)]
			if !ok {
				var perr error
				if x, perr = strconv.ParseFloat(n, 64); perr != nil {
					t.Fatalf("ExtractScore(%q) = %v from %q, which is neither digits nor a number word", text, v, n)
				}
			}
			sum += x
		}
		if len(r.numerals) == 0 || len(r.numerals) > 2 || sum/float64(len(r.numerals)) != v {
			t.Fatalf("ExtractScore(%q) = %v, not a numeral of the answer nor the midpoint of two: %q", text, v, r.numerals)
		}
	})
}

// TestExtractScoreLinear feeds long answers built to defeat a parser that
// rescans (lists, cues before long punctuation, scale mentions, quotes
// around numbers) and checks the work per token and the time.
func TestExtractScoreLinear(t *testing.T) {
	for name, unit := range map[string]string{
		"list":     "1. a\n",
		"cues":     "score rating safety overall ,,,,,,,,,,,,,,,, ",
		"scales":   "on a scale from 1 to 10 1 to 10 (1-10) ",
		"quotes":   `"""""""""""" 7 `,
		"numbers":  "3 ",
		"dashes":   "- - - - - - 6 - - - - ",
		"json":     `{"score": `,
		"emphasis": "**7**__",
	} {
		t.Run(name, func(t *testing.T) {
			text := strings.Repeat(unit, 200_000/len(unit))
			start := time.Now()
			p := newParser(text)
			p.parse()
			if limit := maxStepsPerToken * (len(p.toks) + 1); p.steps > limit {
				t.Errorf("%d steps for %d tokens, more than %d", p.steps, len(p.toks), limit)
			}
			_, _ = ExtractScore(text)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("%d bytes took %v", len(text), el)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		text string
		want string // kinds and texts, space separated: N=number, B=bad number, W=word, E=emphasis, L=line break, P=punctuation
	}{
		{"Score: 7/10", "W:Score P:: N:7 P:/ N:10"},
		{"**6.5**", "E:** N:6.5 E:**"},
		{"I'd rate it seven", "W:I'd W:rate W:it N:seven"},
		{"Score: -3", "W:Score P:: N:-3"},
		{"6-7", "N:6 P:- N:7"},
		{"6 -7", "N:6 P:- N:7"},
		{"a 4-lane road", "W:a N:4 P:- W:lane W:road"},
		{"2nd floor, 4K", "W:2nd W:floor P:, W:4K"},
		{"1,000 at 9:30 v1.2.3", "B:1,000 W:at B:9:30 W:v1.2.3"},
		{"safety_score\n7", "W:safety E:_ W:score L:\n N:7"},
		{"it’s can't", "W:it’s W:can't"},
		{"70%", "N:70 P:%"},
	}
	kinds := map[tokKind]string{tWord: "W", tNum: "N", tBad: "B", tEmph: "E", tNewline: "L", tPunct: "P"}
	for _, tt := range tests {
		var got []string
		for _, tok := range tokenize(tt.text) {
			got = append(got, kinds[tok.kind]+":"+tok.text)
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("tokenize(%q) = %s, want %s", tt.text, g, tt.want)
		}
	}
}
