package llm

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file is the tokenizer of the score grammar documented on
// [ExtractScore]; score_parse.go is its parser.

// tokKind is the kind of a token of an answer.
type tokKind uint8

const (
	tWord    tokKind = iota // letters, with inner apostrophes ("i'd") and digits ("2nd", "a4")
	tNum                    // digits with an optional decimal part, or a number word one..ten
	tBad                    // digits that are not a plain number: "1,000", "1.2.3", "9:30"
	tEmph                   // a run of '*' or '_' (markdown emphasis)
	tNewline                // a line break
	tPunct                  // any other single character
	tNone                   // no token: before the first or after the last
)

// token is one token of an answer.
type token struct {
	kind  tokKind
	text  string  // as written
	norm  string  // tWord, tNum: lower case, typographic apostrophes made plain
	val   float64 // tNum: the value
	word  bool    // tNum: written as a word (one..ten)
	space bool    // preceded by white space or the start of the answer
	start int     // byte offset in the answer
}

// numberWords are the number words read as numbers.
var numberWords = map[string]float64{
	"one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
	"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}

// maxTokens bounds the work on one answer: a longer answer is read from
// its first maxTokens tokens (a score comes long before that in practice).
const maxTokens = 1 << 16

// tokenize splits text into tokens. It is linear in len(text) and never
// fails: every byte belongs to a token or to white space.
func tokenize(text string) []token {
	var toks []token
	space := true
	for i := 0; i < len(text) && len(toks) < maxTokens; {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == '\n':
			toks = append(toks, token{kind: tNewline, text: "\n", space: space, start: i})
			i += size
			space = true
			continue
		case unicode.IsSpace(r):
			i += size
			space = true
			continue
		case isDigit(r) || (isMinus(r) && i+size < len(text) && isDigit(rune(text[i+size])) && negativeAllowed(toks, space)):
			j := i + size
			if isMinus(r) {
				for j < len(text) && isDigit(rune(text[j])) {
					j++
				}
			}
			j = scanDigits(text, j)
			if j < len(text) {
				if r2, _ := utf8.DecodeRuneInString(text[j:]); unicode.IsLetter(r2) {
					// "2nd", "4k", "3m": a word, not a number.
					j = scanWord(text, j)
					toks = append(toks, wordToken(text[i:j], space, i))
					i, space = j, false
					continue
				}
			}
			toks = append(toks, numToken(text[i:j], space, i))
			i, space = j, false
			continue
		case unicode.IsLetter(r):
			j := scanWord(text, i)
			toks = append(toks, wordToken(text[i:j], space, i))
			i, space = j, false
			continue
		case r == '*' || r == '_':
			j := i
			for j < len(text) && text[j] == byte(r) {
				j++
			}
			toks = append(toks, token{kind: tEmph, text: text[i:j], space: space, start: i})
			i, space = j, false
			continue
		}
		toks = append(toks, token{kind: tPunct, text: text[i : i+size], space: space, start: i})
		i, space = i+size, false
	}
	return toks
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// isMinus reports whether r is a minus sign or a hyphen.
func isMinus(r rune) bool { return r == '-' || r == '−' }

// negativeAllowed reports whether a minus before a digit is a sign: at the
// start, after white space or after punctuation other than a closing
// bracket, but never right after a number or a word ("6-7", "a-4").
func negativeAllowed(toks []token, space bool) bool {
	if len(toks) == 0 {
		return true
	}
	prev := toks[len(toks)-1]
	if space {
		// "6 -7" is a range written loosely; "Score: -3" a sign.
		return prev.kind != tNum
	}
	return prev.kind == tPunct && !strings.ContainsAny(prev.text, ")]}")
}

// scanDigits returns the end of the digits starting at j, with any
// further groups joined by '.', ',' or ':' ("6.5", "1,000", "9:30").
func scanDigits(text string, j int) int {
	for j < len(text) && isDigit(rune(text[j])) {
		j++
	}
	for j+1 < len(text) && strings.IndexByte(".,:", text[j]) >= 0 && isDigit(rune(text[j+1])) {
		j++
		for j < len(text) && isDigit(rune(text[j])) {
			j++
		}
	}
	return j
}

// scanWord returns the end of the word starting at i: letters and digits,
// with apostrophes between letters ("can't", "it’s") and dots between
// digits once the word has one ("v1.2.3", "4k.5").
func scanWord(text string, i int) int {
	j := i
	digit := false
	for j < len(text) {
		r, size := utf8.DecodeRuneInString(text[j:])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			digit = digit || unicode.IsDigit(r)
			j += size
			continue
		}
		if r == '.' && digit && j+1 < len(text) && isDigit(rune(text[j+1])) {
			j++
			continue
		}
		if (r == '\'' || r == '’') && j > i && j+size < len(text) {
			if r2, _ := utf8.DecodeRuneInString(text[j+size:]); unicode.IsLetter(r2) {
				j += size
				continue
			}
		}
		break
	}
	return j
}

func wordToken(s string, space bool, start int) token {
	norm := strings.ToLower(strings.ReplaceAll(s, "’", "'"))
	if v, ok := numberWords[norm]; ok {
		return token{kind: tNum, text: s, norm: norm, val: v, word: true, space: space, start: start}
	}
	return token{kind: tWord, text: s, norm: norm, space: space, start: start}
}

// numToken makes a token of digits: a tNum when they are a plain number
// (an optional sign, digits, an optional decimal part), tBad otherwise.
func numToken(s string, space bool, start int) token {
	t := token{kind: tBad, text: s, norm: s, space: space, start: start}
	plain := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "−")
	if strings.ContainsAny(plain, ",:") || strings.Count(plain, ".") > 1 || len(plain) > 12 {
		return t
	}
	v, err := strconv.ParseFloat(plain, 64)
	if err != nil {
		return t
	}
	if plain != s {
		v = -v
	}
	t.kind, t.val = tNum, v
	return t
}
