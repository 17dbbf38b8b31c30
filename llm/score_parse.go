package llm

import "strings"

// This file is the parser of the score grammar documented on
// [ExtractScore]; score_lex.go is its tokenizer.

// Ranks of the forms that carry a score, highest first: when an answer
// holds several, the highest rank wins, and the first of that rank.
const (
	rankFinal    = 9  // a cue qualified as the final one: "Overall: 7", "final score 6"
	rankSafety   = 8  // a cue naming safety: "Perceived safety: 4", "safety score 6"
	rankCue      = 7  // a score noun or rating verb: "Score: 6", "I'd rate it 6"
	rankVerb     = 6  // another cue: "I'd give it a 6", "I'd say 7", "(1-10): 9"
	rankOutOf    = 5  // a value out of ten anywhere: "7/10", "seven out of ten"
	rankBold     = 4  // a bold value: "**7**"
	rankLeading  = 4  // the value the answer starts with: "7 - well lit"
	rankAlone    = 3  // a value alone in its sentence: "Very safe. 9."
	rankBetween  = 2  // "between 6 and 7" anywhere
	rankArticle  = 1  // "a"/"an" and a value: "it's a 7."
	maxFillWords = 8  // words a cue may stand before its value
	maxModWords  = 3  // words before a cue read for "overall", "safety"
	scaleWindow  = 14 // tokens from a scale's 1 to its 10: "from 1 (very unsafe) to 10"
)

// cueRanks are the words that announce a score, with their rank.
var cueRanks = map[string]int{
	"overall": rankFinal, "final": rankFinal, "balance": rankFinal, // "on balance"
	"safety": rankSafety,
	"score":  rankCue, "scores": rankCue, "scored": rankCue, "scoring": rankCue,
	"rating": rankCue, "ratings": rankCue, "rate": rankCue, "rates": rankCue, "rated": rankCue,
	"grade": rankCue, "graded": rankCue,
	"safe": rankVerb, "unsafe": rankVerb,
	"give": rankVerb, "gives": rankVerb, "gave": rankVerb, "giving": rankVerb,
	"assign": rankVerb, "assigns": rankVerb, "assigned": rankVerb,
	"put": rankVerb, "puts": rankVerb, "gets": rankVerb, "say": rankVerb, "call": rankVerb,
	"deserve": rankVerb, "deserves": rankVerb, "earn": rankVerb, "earns": rankVerb,
	"merit": rankVerb, "merits": rankVerb,
	"verdict": rankVerb, "answer": rankVerb, "estimate": rankVerb,
}

// notCue are words that, right after a cue, make it a heading of
// something else: "Safety concerns: 2 broken lamps".
var notCue = wordSet("concern concerns issue issues feature features hazard hazards risk risks factor factors " +
	"consideration considerations measure measures note notes tip tips aspect aspects element elements " +
	"problem problems indicator indicators sign signs equipment camera cameras barrier barriers wise")

// followers are the words that may follow a score; any other word makes
// the number a count ("3 cars") or a measure ("10 meters").
var followers = wordSet("because due given since as for on in at to with without and but or so though although " +
	"while which overall here today from if when i i'd i'm i'll considering based despite thanks " +
	"is seems feels sounds fits would")

// determiners before a number word make it a pronoun: "this one", "no one".
var determiners = wordSet("this that the no any every each which some another other only someone")

// refusalWords are the words of an answer that declines to rate.
var refusalWords = wordSet("can't cannot unable won't sorry refuse decline apologize apologise")

var (
	finalMods  = wordSet("overall final total")
	safetyMods = wordSet("safety safe")
	scaleIntro = wordSet("scale from between where")
	defMarks   = wordSet("is being means represents")
)

// Small word sets of the grammar.
var (
	setJudgeVerbs     = wordSet("seems seem feels sounds is would")
	setJudgeFill      = wordSet("be about like more quite pretty most")
	setJudgements     = wordSet("fair right reasonable appropriate accurate apt justified")
	setAAn            = wordSet("a an")
	setAble           = wordSet("able")
	setBetween        = wordSet("between")
	setNot            = wordSet("not")
	setOf             = wordSet("of")
	setOut            = wordSet("out")
	setPoint          = wordSet("point")
	setPointPointsPts = wordSet("point points pts")
	setScale          = wordSet("scale")
	setUnits          = wordSet("point points pts stars")
	setLinks          = wordSet("is be at as a an of around about approximately roughly solid")
	setDefIntro       = wordSet("where with and")
)

func wordSet(words string) map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// value is a parsed value: token indexes of its numbers.
type value struct {
	lo, hi, den int  // hi and den are -1 when absent
	denOf       bool // the denominator follows a bare "of": "6 of 10"
	end         int  // the token after the value
}

// candidate is a value in a form that carries a score.
type candidate struct {
	rank int
	v    value
}

// parser finds the candidates of one answer; it is used once, by one
// goroutine.
type parser struct {
	toks    []token
	noValue []bool // a number of a scale mention or a denominator: never a score
	// scaleEnds are the indexes of the last numbers of scale mentions.
	scaleEnds []int
	// markers holds the last index of each list item marker; see lastMarker.
	markers map[marker]int
	// steps counts the tokens the parser's loops visit, for tests that
	// check its work stays linear in the answer's length.
	steps int
	// cands are the candidates found, in the order found.
	cands []candidate
}

func newParser(text string) *parser {
	p := &parser{toks: tokenize(text)}
	p.noValue = make([]bool, len(p.toks))
	return p
}

// kind returns the kind of token i, tNone before the first and after the
// last.
func (p *parser) kind(i int) tokKind {
	if i < 0 || i >= len(p.toks) {
		return tNone
	}
	return p.toks[i].kind
}

func (p *parser) isWord(i int, words map[string]bool) bool {
	return p.kind(i) == tWord && words[p.toks[i].norm]
}

func (p *parser) isPunct(i int, set string) bool {
	return p.kind(i) == tPunct && strings.Contains(set, p.toks[i].text)
}

// isQuote reports whether token i is a quotation mark or backtick.
func (p *parser) isQuote(i int) bool { return p.isPunct(i, "\"'`“”‘’«»") }

// transparent tokens are skipped where a form allows decoration.
func (p *parser) transparent(i int) bool { return p.kind(i) == tEmph || p.isQuote(i) }

// next returns the first index from i that is not transparent.
func (p *parser) next(i int) int {
	for i < len(p.toks) && p.transparent(i) {
		i++
		p.steps++
	}
	return i
}

// prev returns the last index before i that is not transparent, or -1.
func (p *parser) prev(i int) int {
	i--
	for i >= 0 && p.transparent(i) {
		i--
		p.steps++
	}
	return i
}

// stop reports whether token i ends a sentence.
func (p *parser) stop(i int) bool { return p.isPunct(i, ".!?;") }

const dashes = "-–—−"

// isRangeSep reports whether token i joins the two numbers of a range.
func (p *parser) isRangeSep(i int, between bool) bool {
	if p.isPunct(i, dashes) {
		return true
	}
	if p.kind(i) != tWord {
		return false
	}
	switch p.toks[i].norm {
	case "to", "or", "through":
		return true
	case "and":
		return between
	}
	return false
}

// parse finds every candidate in the answer.
func (p *parser) parse() {
	p.markScales()
	for _, k := range p.scaleEnds {
		p.scan(k+1, rankVerb)
	}
	first := p.firstSignificant()
	for i := range p.toks {
		t := p.toks[i]
		if t.kind == tWord {
			if r, ok := cueRanks[t.norm]; ok && !p.isWord(p.next(i+1), notCue) {
				p.scan(i+1, p.cueRank(i, r))
			}
			if t.norm != "between" {
				continue
			}
		} else if t.kind != tNum {
			continue
		}
		v, ok := p.parseValue(i)
		if !ok {
			continue
		}
		if t.kind == tWord {
			p.add(rankBetween, v)
			continue
		}
		if v.den >= 0 && !v.denOf {
			// "6 of 10" is a score only after a cue: "photo 7 of 10" is not.
			p.add(rankOutOf, v)
		}
		if p.kind(i-1) == tEmph && p.kind(v.end) == tEmph {
			p.add(rankBold, v)
		}
		if i == first {
			p.add(rankLeading, v)
		}
		if p.sentenceStart(i) && p.sentenceEnd(v.end) {
			p.add(rankAlone, v)
		}
		if p.judged(p.next(v.end)) {
			p.add(rankVerb, v)
		}
		if p.isWord(p.prev(i), setAAn) {
			p.add(rankArticle, v)
		}
	}
}

func (p *parser) add(rank int, v value) { p.cands = append(p.cands, candidate{rank: rank, v: v}) }

// cueRank is the rank of the cue at i: raised to rankFinal or rankSafety
// by "overall", "final", "total", "safety" among the few words before a
// score noun or rating verb ("Overall safety score", "total score").
func (p *parser) cueRank(i, rank int) int {
	if rank < rankCue {
		return rank
	}
	for k, n := i-1, 0; k >= 0 && n < maxModWords && !p.stop(k) && p.kind(k) != tNewline; k-- {
		p.steps++
		if p.kind(k) != tWord {
			continue
		}
		n++
		if finalMods[p.toks[k].norm] {
			return rankFinal
		}
		if safetyMods[p.toks[k].norm] {
			rank = max(rank, rankSafety)
		}
	}
	return rank
}

// scan reads the filler after a cue, from token i: punctuation, up to
// maxFillWords words, counts ("with 2 lamps"), and scale mentions, up to the
// first value. A sentence end, or a line break after a word, ends it.
func (p *parser) scan(i, rank int) {
	words := 0
	counted := false // a count stands between the cue and j
	for j := i; j < len(p.toks); j++ {
		p.steps++
		if p.noValue[j] {
			continue
		}
		switch p.toks[j].kind {
		case tNewline:
			if words > 0 {
				return
			}
			continue
		case tPunct:
			if p.stop(j) {
				return
			}
			continue
		case tEmph:
			continue
		case tNum:
			if v, ok := p.parseValue(j); ok && (!counted || p.linked(j)) {
				p.add(rank, v)
				return
			}
			counted = true
		case tWord:
			if p.toks[j].norm == "between" {
				if v, ok := p.parseValue(j); ok && (!counted || p.linked(j)) {
					p.add(rank, v)
					return
				}
			}
		}
		if words++; words > maxFillWords {
			return
		}
	}
}

// linked reports whether the value at i is linked to the cue by the word
// or sign before it, as it must be once a count stands between them: "with
// 2 lamps is 7", not "3 points for lighting and 2 for cleanliness".
func (p *parser) linked(i int) bool {
	k := p.prev(i)
	if p.kind(k) == tWord {
		_, cue := cueRanks[p.toks[k].norm]
		return cue || setLinks[p.toks[k].norm]
	}
	return p.isPunct(k, ":=(~≈"+dashes)
}

// parseValue reads a value at token i:
//
//	value = [ "between" ] number [ sep number ] [ outof ] , then a follower
//
// and reports whether there is one.
func (p *parser) parseValue(i int) (value, bool) {
	v, ok := p.parseValueRange(i, true)
	if !ok && v.hi >= 0 && p.isPunct(v.lo+1, dashes) && p.toks[v.lo+1].space && p.toks[v.hi].space {
		// "2 — 3 burnt-out cars": a dash between clauses, not a range.
		return p.parseValueRange(i, false)
	}
	return v, ok
}

func (p *parser) parseValueRange(i int, ranges bool) (value, bool) {
	v := value{lo: -1, hi: -1, den: -1}
	between := p.isWord(i, setBetween)
	if between {
		i = p.next(i + 1)
	}
	if !p.isNumber(i) || (!between && p.rangeEnd(i)) {
		return v, false
	}
	v.lo = i
	j := i + 1
	if p.compound(i) || p.listMarker(i) {
		return v, false
	}
	if ranges && p.isRangeSep(j, between) && p.isNumber(p.next(j+1)) && !p.compound(p.next(j+1)) {
		v.hi = p.next(j + 1)
		j = v.hi + 1
	} else if between {
		return v, false
	}
	k := j
	if p.isWord(k, setPointPointsPts) {
		k++
	}
	k = p.next(k)
	switch {
	case p.isPunct(k, "/"):
		k = p.next(k + 1)
	case p.isWord(k, setOut) && p.isWord(k+1, setOf):
		k = p.next(k + 2)
	case p.isWord(k, setOf):
		k = p.next(k + 1)
		v.denOf = true
		if p.kind(k) != tNum || p.toks[k].val != ScoreMax {
			k, v.denOf = -1, false
		}
	default:
		k = -1
	}
	if k >= 0 && p.kind(k) == tNum {
		v.den = k
		j = k + 1
	}
	v.end = j
	k = p.next(j)
	if p.isWord(k, setUnits) && (v.den >= 0 || p.toks[k].norm != "stars") && p.kind(p.next(k+1)) != tWord {
		// "7 points.", "7 out of 10 stars": the unit of the score itself.
		k = p.next(k + 1)
	}
	return v, p.follower(k)
}

// isNumber reports whether token i is a number that may be a score: not
// part of a scale mention, not a denominator, not a pronoun ("this one"),
// not glued to a sign or a word ("$5", "#1", "I-95").
func (p *parser) isNumber(i int) bool {
	if p.kind(i) != tNum || p.noValue[i] {
		return false
	}
	t := p.toks[i]
	if t.word && p.isWord(p.prev(i), determiners) {
		return false
	}
	if !t.space && p.isPunct(i-1, "$#£€¥+/×^@&<>") {
		return false
	}
	if !t.space && p.isPunct(i-1, dashes) && !p.toks[i-1].space && p.kind(i-2) == tWord {
		return false
	}
	return true
}

// rangeEnd reports whether the number at i ends a range ("6-7"): it is
// read with the range's first number, not alone.
func (p *parser) rangeEnd(i int) bool {
	return p.kind(i-2) == tNum && p.isRangeSep(i-1, true)
}

// compound reports whether the number at i is joined by a hyphen to a word:
// "4-lane", "one-way", "10-point".
func (p *parser) compound(i int) bool {
	return p.isPunct(i+1, dashes) && !p.toks[i+1].space && p.kind(i+2) == tWord && !p.toks[i+2].space
}

// follower reports whether token i may follow a score: the end, a line
// break, punctuation that ends or brackets a phrase, or a word of followers.
func (p *parser) follower(i int) bool {
	switch p.kind(i) {
	case tNone, tNewline:
		return true
	case tPunct:
		// Not a unit, a fraction or a sum: "70%", "3/4", "10+", "5°".
		return !p.isPunct(i, "/%‰°$€£¥×+=^@&<>#")
	case tWord:
		return followers[p.toks[i].norm]
	}
	return false
}

// firstSignificant returns the index of the answer's first token that is
// not decoration (emphasis, quotes, a heading mark, a quote mark, a line break).
func (p *parser) firstSignificant() int {
	i := 0
	for i < len(p.toks) && (p.transparent(i) || p.kind(i) == tNewline || p.isPunct(i, "#>")) {
		i++
	}
	return i
}

// lineStart reports whether only decoration stands between the line's
// start and token i.
func (p *parser) lineStart(i int) bool {
	for k := i - 1; k >= 0; k-- {
		p.steps++
		if p.kind(k) == tNewline {
			return true
		}
		if !p.transparent(k) && !p.isPunct(k, "#>"+dashes) {
			return false
		}
	}
	return true
}

// lineEnd reports whether only decoration and a final stop stand between
// token i and the line's end.
func (p *parser) lineEnd(i int) bool {
	for ; i < len(p.toks); i++ {
		p.steps++
		if p.kind(i) == tNewline {
			return true
		}
		if !p.transparent(i) && !p.isPunct(i, ".!") {
			return false
		}
	}
	return true
}

// sentenceStart reports whether only decoration stands between the start
// of the line or sentence and token i.
func (p *parser) sentenceStart(i int) bool {
	k := p.prev(i)
	return k < 0 || p.kind(k) == tNewline || p.stop(k) || (p.lineStart(i))
}

// sentenceEnd reports whether token i ends the sentence or the line, after
// decoration.
func (p *parser) sentenceEnd(i int) bool {
	return p.lineEnd(i) || p.stop(p.next(i))
}

// judged reports whether the words from i judge the value before them:
// "5 seems fair", "6 is about right", "7 would be reasonable".
func (p *parser) judged(i int) bool {
	if !p.isWord(i, setJudgeVerbs) {
		return false
	}
	for k, n := i+1, 0; n < 3; k, n = k+1, n+1 {
		if p.isWord(k, setJudgements) {
			return true
		}
		if !p.isWord(k, setJudgeFill) {
			return false
		}
	}
	return false
}

// listMarker reports whether the integer at i starts a numbered list item
// ("1. Lighting …" with a later line "2. …"), which is not a score.
func (p *parser) listMarker(i int) bool {
	t := p.toks[i]
	if t.word || !p.isPunct(i+1, ".)") || !p.lineStart(i) || strings.Contains(t.text, ".") {
		return false
	}
	if k := p.next(i + 2); k >= len(p.toks) || p.kind(k) == tNewline {
		return false
	}
	last, ok := p.lastMarker()[marker{t.val + 1, p.toks[i+1].text}]
	return ok && last > i
}

// marker is a list item marker: its number and the punctuation after it.
type marker struct {
	n     float64
	punct string
}

// lastMarker returns, for each list item marker of the answer ("2." or
// "2)" at the start of a line), the index of its last occurrence. It is
// computed once per answer, so that listMarker takes constant time.
func (p *parser) lastMarker() map[marker]int {
	if p.markers != nil {
		return p.markers
	}
	p.markers = make(map[marker]int)
	for k := range p.toks {
		t := p.toks[k]
		if t.kind == tNum && !t.word && p.isPunct(k+1, ".)") && p.lineStart(k) {
			p.markers[marker{t.val, p.toks[k+1].text}] = k
		}
	}
	return p.markers
}

// markScales marks the numbers that state the scale, never a score:
// "1-10", "1 to 10", "on a scale from 1 (very unsafe) to 10 (very safe)",
// "where 1 is unsafe and 10 is safe", "1-10 scale", "ten point scale",
// and denominators ("/10", "out of 10"). The text after a stated scale is
// read as after a cue: "On a scale of 1 to 10, this is a 7".
func (p *parser) markScales() {
	for i, t := range p.toks {
		if t.kind != tNum {
			continue
		}
		if p.isPunct(p.prev(i), "/") || (p.isWord(p.prev(i), setOf) && p.isWord(p.prev(p.prev(i)), setOut)) {
			p.noValue[i] = true
			continue
		}
		if t.val == ScoreMax && p.isWord(i+1, setPoint) && p.isWord(i+2, setScale) {
			p.noValue[i] = true
			continue
		}
		if (t.val == 0 || t.val == ScoreMin || t.val == ScoreMax) && p.isWord(p.prev(i), setDefIntro) && p.defMark(i+1) {
			// "where 10 is safest", "with 1 being unsafe": the scale defined.
			p.noValue[i] = true
			continue
		}
		if t.val != 0 && t.val != ScoreMin || strings.HasPrefix(t.text, "-") {
			continue
		}
		for k := i + 1; k < len(p.toks) && k <= i+scaleWindow && !p.stop(k) && p.kind(k) != tNewline; k++ {
			p.steps++
			if p.kind(k) != tNum {
				continue
			}
			if p.toks[k].val != ScoreMax {
				break
			}
			adjacent := k == p.next(i+2) && p.isRangeSep(p.next(i+1), false)
			if adjacent || p.scaleIntro(i) || p.isWord(p.next(k+1), setScale) || (p.defMark(i+1) && p.defMark(k+1)) {
				p.noValue[i], p.noValue[k] = true, true
				p.scaleEnds = append(p.scaleEnds, k)
			}
			break
		}
	}
}

// scaleIntro reports whether a word that introduces a scale stands among
// the few tokens before i in its sentence.
func (p *parser) scaleIntro(i int) bool {
	for k, n := i-1, 0; k >= 0 && n < 4 && !p.stop(k) && p.kind(k) != tNewline; k, n = k-1, n+1 {
		p.steps++
		if p.isWord(k, scaleIntro) {
			return true
		}
	}
	return false
}

// defMark reports whether token i defines the number before it:
// "1 = unsafe", "1 is unsafe", "1 (unsafe)".
func (p *parser) defMark(i int) bool {
	return p.isPunct(i, "=(:") || p.isWord(i, defMarks)
}

// refusal reports whether the answer declines to rate.
func (p *parser) refusal() bool {
	for i, t := range p.toks {
		if t.kind != tWord {
			continue
		}
		if refusalWords[t.norm] {
			return true
		}
		if (t.norm == "can" || t.norm == "will") && p.isWord(i+1, setNot) {
			return true
		}
		if t.norm == "not" && p.isWord(i+1, setAble) {
			return true
		}
	}
	return false
}
