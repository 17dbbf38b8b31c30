package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/imagefile"
)

// ErrNoItems is returned by [Load] and [Parse] (with the Dataset) when no
// record could be used.
var ErrNoItems = errors.New("no usable records")

// Format names a ground-truth shape.
type Format string

// The shapes [Load] detects.
const (
	FormatRecords       Format = "records"       // image path + score per record
	FormatConversations Format = "conversations" // LLaVA / Qwen-VL conversations
	FormatLlamaFactory  Format = "llamafactory"  // LLaMA-Factory messages + images
	FormatOpenAIChat    Format = "openai-chat"   // OpenAI chat fine-tuning lines
	FormatCSV           Format = "csv"           // CSV with a header
)

// Item is one usable ground-truth record.
type Item struct {
	// ID names the item everywhere else: the image path as the data file
	// writes it (relative to the data file), slash-separated.
	ID string `json:"id"`
	// ImagePath is the image file: the ID joined to the data file's folder
	// (or the ID itself when it is absolute).
	ImagePath string `json:"image_path"`
	// Score is the ground-truth score, within the scale, [llm.ScoreMin, llm.ScoreMax].
	Score float64 `json:"score"`
	// Prompt, System and Answer are the record's own user text (without the
	// image tag), system prompt and target answer, when its shape has them.
	Prompt string `json:"prompt,omitempty"`
	System string `json:"system,omitempty"`
	Answer string `json:"answer,omitempty"`
	// Text holds a plain record's other text fields (caption, description,
	// location…), keyed by field name, for text-only fine-tuning.
	Text map[string]string `json:"text,omitempty"`
	// Content is the sha256 of the image file's bytes, set by [Load]:
	// records with the same Content are one image under two names, which
	// [Stratify] keeps on one side of the split.
	Content string `json:"content_sha256,omitempty"`

	rec      int    // the record's number in the data file
	embedded []byte // the image of a data URL, until Load writes it
}

// Problem is a record that was skipped and why.
type Problem struct {
	// Record is the record's 1-based number: its index in a JSON list, its
	// line in JSON lines, its data row in CSV.
	Record int    `json:"record"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	if p.ID != "" {
		return fmt.Sprintf("record %d (%s): %s", p.Record, p.ID, p.Reason)
	}
	return fmt.Sprintf("record %d: %s", p.Record, p.Reason)
}

// Dataset is a loaded ground-truth file.
type Dataset struct {
	// Path is the data file as given to Load.
	Path string `json:"path"`
	// Format is the detected shape; Records the number of records read.
	Format  Format `json:"format"`
	Records int    `json:"records"`
	// Items are the usable records in file order; Skipped the others.
	Items   []Item    `json:"items"`
	Skipped []Problem `json:"skipped,omitempty"`
	// Warnings are about usable records (the same image under two
	// names), for the command to show.
	Warnings []string `json:"warnings,omitempty"`
}

// Options change how [LoadWith] reads a data file.
type Options struct {
	// ImageCache is the folder into which images embedded in the data file
	// as data URLs are written, once each, named by their content's
	// sha256; empty means [DefaultImageCache].
	ImageCache string
	// AllowOutside accepts image paths that leave the data file's folder
	// ("../secret.png", an absolute path elsewhere); they are refused
	// otherwise.
	AllowOutside bool
}

// DefaultImageCache is where embedded images go when [Options] name no
// folder: images under the user's cache folder.
func DefaultImageCache() string {
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "vlmcmp", "images")
}

// Load reads the ground-truth file at path with the default [Options]; see
// [LoadWith].
func Load(path string) (*Dataset, error) { return LoadWith(path, Options{}) }

// LoadWith reads the ground-truth file at path, detects its shape and checks
// that every image exists and can be scored ([imagefile.Check]: decoded
// whole, so truncated files and decompression bombs are refused here as
// everywhere). A file that cannot be read or parsed as any shape is an error
// naming it; unusable records are listed in Skipped. When no record is
// usable, LoadWith returns the Dataset together with an error wrapping
// [ErrNoItems].
func LoadWith(path string, opts Options) (*Dataset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("ground truth %s: file not found", path)
		}
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	if opts.ImageCache == "" {
		opts.ImageCache = DefaultImageCache()
	}
	ds, err := parse(path, data, opts)
	if err != nil {
		return nil, err
	}
	if err := ds.writeEmbedded(); err != nil {
		return nil, err
	}
	ds.checkImages()
	if len(ds.Items) == 0 {
		return ds, fmt.Errorf("ground truth %s: %w (%d records, %d skipped)", path, ErrNoItems, ds.Records, len(ds.Skipped))
	}
	return ds, nil
}

// Parse reads ground truth from data as [Load] does, without touching the
// image files: name is the data file's path, used to resolve image paths
// and in errors. Embedded images are not written, so their ImagePath (in
// [DefaultImageCache]) may not exist.
func Parse(name string, data []byte) (*Dataset, error) {
	ds, err := parse(name, data, Options{ImageCache: DefaultImageCache()})
	if err != nil {
		return nil, err
	}
	for i := range ds.Items {
		ds.Items[i].embedded = nil
	}
	if len(ds.Items) == 0 {
		return ds, fmt.Errorf("ground truth %s: %w (%d records, %d skipped)", name, ErrNoItems, ds.Records, len(ds.Skipped))
	}
	return ds, nil
}

func parse(name string, data []byte, opts Options) (*Dataset, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("ground truth %s: empty file", name)
	}
	ds := &Dataset{Path: name}
	var recs []record
	var err error
	switch {
	case trimmed[0] == '[':
		recs, err = jsonList(trimmed)
	case trimmed[0] == '{':
		recs, err = jsonObjectOrLines(trimmed)
	case isJSONName(name):
		err = fmt.Errorf("not JSON, JSON lines or CSV: a %s file, but it starts with %q where JSON starts with [ or {", strings.ToLower(filepath.Ext(name)), clip(string(firstLine(trimmed)), 30))
	case isCSVName(name) || looksLikeCSV(trimmed):
		ds.Format = FormatCSV
		recs, err = csvRecords(trimmed)
	default:
		err = errors.New("not JSON, JSON lines or CSV")
	}
	if err != nil {
		return nil, fmt.Errorf("ground truth %s: %w", name, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("ground truth %s: no records", name)
	}
	ds.Records = len(recs)
	dir := filepath.Dir(name)
	absDir, _ := filepath.Abs(dir)
	seen := map[string]int{} // image file -> record number
	formats := map[Format]int{}
	for _, r := range recs {
		it, f, reason := r.item()
		if f != "" {
			formats[f]++
		}
		if reason == "" && it.embedded != nil {
			reason = embedItem(&it, opts.ImageCache)
		}
		if reason != "" {
			ds.Skipped = append(ds.Skipped, Problem{Record: r.n, ID: it.ID, Reason: reason})
			continue
		}
		it.rec = r.n
		if it.ImagePath == "" {
			it.ImagePath = it.ID
			if !filepath.IsAbs(it.ImagePath) {
				it.ImagePath = filepath.Join(dir, filepath.FromSlash(it.ID))
			}
			if !opts.AllowOutside && outside(absDir, it.ImagePath) {
				ds.Skipped = append(ds.Skipped, Problem{Record: r.n, ID: it.ID, Reason: fmt.Sprintf(
					"image path %s leaves the data file's folder %s (refused, so that a data file cannot point at any file; allow it with --allow-outside)", it.ID, dir)})
				continue
			}
		}
		key := filepath.Clean(it.ImagePath)
		if first, ok := seen[key]; ok {
			ds.Skipped = append(ds.Skipped, Problem{Record: r.n, ID: it.ID, Reason: fmt.Sprintf("duplicate image: record %d uses it already", first)})
			continue
		}
		seen[key] = r.n
		ds.Items = append(ds.Items, it)
	}
	if ds.Format == "" {
		ds.Format = mostCommon(formats)
	}
	return ds, nil
}

// outside reports whether path lies outside the folder absDir.
func outside(absDir, path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil || absDir == "" {
		return true
	}
	rel, err := filepath.Rel(absDir, abs)
	return err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel)
}

func firstLine(b []byte) []byte {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return bytes.TrimSpace(line)
}

// embedItem names an item whose image is embedded: its ID and file are its
// content's sha256 in the cache folder. It returns why it cannot be used.
func embedItem(it *Item, cache string) string {
	if cache == "" {
		return "image is embedded as a data URL and there is no image cache folder to write it to"
	}
	sum := sha256.Sum256(it.embedded)
	h := hex.EncodeToString(sum[:])
	ext := it.ID // the extension embeddedImage left in the ID
	it.ID = "embedded/" + h[:16] + ext
	it.ImagePath = filepath.Join(cache, h+ext)
	it.Content = h
	return ""
}

// writeEmbedded writes each embedded image into the cache folder, once: a
// file named by its content is not written again.
func (ds *Dataset) writeEmbedded() error {
	made := false
	for i := range ds.Items {
		it := &ds.Items[i]
		if it.embedded == nil {
			continue
		}
		data := it.embedded
		it.embedded = nil
		if st, err := os.Stat(it.ImagePath); err == nil && st.Size() == int64(len(data)) {
			continue
		}
		if !made {
			if err := os.MkdirAll(filepath.Dir(it.ImagePath), 0o755); err != nil {
				return fmt.Errorf("image cache: %w", err)
			}
			made = true
		}
		tmp := fmt.Sprintf("%s.%d.tmp", it.ImagePath, os.Getpid())
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("ground truth %s: write embedded image of record %d: %w", ds.Path, it.rec, err)
		}
		if err := os.Rename(tmp, it.ImagePath); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("ground truth %s: write embedded image of record %d: %w", ds.Path, it.rec, err)
		}
	}
	return nil
}

// mostCommon is the format most records have (ties by name, for
// determinism); records when none was recognised.
func mostCommon(m map[Format]int) Format {
	best, n := FormatRecords, 0
	for f, c := range m {
		if c > n || (c == n && f < best) {
			best, n = f, c
		}
	}
	return best
}

// checkImages moves items whose image is missing or cannot be scored to
// Skipped, keeping file order in both lists, sets each item's Content, and
// warns about images that are one file's bytes under two names. Images are
// checked in parallel: each is decoded whole.
func (ds *Dataset) checkImages() {
	type verdict struct {
		reason, content string
	}
	verdicts := make([]verdict, len(ds.Items))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), max(1, len(ds.Items))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				verdicts[i].content, verdicts[i].reason = imageProblem(ds.Items[i].ImagePath)
			}
		}()
	}
	for i := range ds.Items {
		next <- i
	}
	close(next)
	wg.Wait()

	kept := ds.Items[:0]
	var probs []Problem
	for i, it := range ds.Items {
		if v := verdicts[i]; v.reason != "" {
			probs = append(probs, Problem{Record: it.rec, ID: it.ID, Reason: v.reason})
			continue
		}
		it.Content = verdicts[i].content
		kept = append(kept, it)
	}
	ds.Items = kept
	if len(probs) > 0 {
		ds.Skipped = append(ds.Skipped, probs...)
		sort.SliceStable(ds.Skipped, func(i, j int) bool { return ds.Skipped[i].Record < ds.Skipped[j].Record })
	}
	byContent := map[string][]int{}
	var order []string
	for i, it := range ds.Items {
		if byContent[it.Content] == nil {
			order = append(order, it.Content)
		}
		byContent[it.Content] = append(byContent[it.Content], i)
	}
	for _, c := range order {
		group := byContent[c]
		if len(group) < 2 {
			continue
		}
		names := make([]string, len(group))
		for k, i := range group {
			names[k] = fmt.Sprintf("record %d (%s)", ds.Items[i].rec, ds.Items[i].ID)
		}
		ds.Warnings = append(ds.Warnings, fmt.Sprintf("%s: %s hold byte-identical images; they count as separate images, and the split keeps them on one side",
			ds.Path, strings.Join(names, ", ")))
	}
}

// imageProblem reads the image at path and returns its content's sha256,
// or why it cannot be scored ([imagefile.Check]).
func imageProblem(path string) (content, reason string) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", "image not found: " + path
		}
		return "", "image unreadable: " + err.Error()
	}
	if st.IsDir() {
		return "", "image path is a folder: " + path
	}
	if st.Size() == 0 {
		return "", "image is an empty file: " + path
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "image unreadable: " + err.Error()
	}
	if err := imagefile.Check(data); err != nil {
		return "", fmt.Sprintf("image unreadable: %s: %v", path, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), ""
}

// Subset returns the items with the given IDs, in the order of ids. IDs the
// dataset lacks are an error naming the first few: the split was written for
// another data file, or the file changed since.
func (ds *Dataset) Subset(ids []string) ([]Item, error) {
	byID := make(map[string]int, len(ds.Items))
	for i, it := range ds.Items {
		byID[it.ID] = i
	}
	out := make([]Item, 0, len(ids))
	var missing []string
	for _, id := range ids {
		i, ok := byID[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		out = append(out, ds.Items[i])
	}
	if len(missing) > 0 {
		n := len(missing)
		if len(missing) > 3 {
			missing = missing[:3]
		}
		more := ""
		if n > 3 {
			more = fmt.Sprintf(" and %d more", n-3)
		}
		return out, fmt.Errorf("ground truth %s lacks %d image(s) of the split: %s%s (was the split written for another data file? rerun vlmcmp prepare)",
			ds.Path, n, strings.Join(missing, ", "), more)
	}
	return out, nil
}

// Histogram counts items per score rounded to the nearest integer.
func Histogram(items []Item) map[int]int {
	h := map[int]int{}
	for _, it := range items {
		h[int(math.Round(it.Score))]++
	}
	return h
}

// record is one raw record: its fields and its 1-based number.
type record struct {
	n      int
	fields map[string]any
	err    string // set when the record is not an object
}

func decodeObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data after the value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a JSON %s, not an object", jsonKind(v))
	}
	return m, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	}
	return "value"
}

func jsonList(b []byte) ([]record, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return nil, jsonError(b, err)
	}
	recs := make([]record, 0, len(raws))
	for i, raw := range raws {
		r := record{n: i + 1}
		m, err := decodeObject(raw)
		if err != nil {
			r.err = "record is " + err.Error()
		}
		r.fields = m
		recs = append(recs, r)
	}
	return recs, nil
}

// listKeys are the keys under which an object may hold the record list.
var listKeys = []string{"data", "records", "items", "samples", "annotations", "images", "examples"}

func jsonObjectOrLines(b []byte) ([]record, error) {
	var whole map[string]json.RawMessage
	if err := json.Unmarshal(b, &whole); err == nil {
		for _, k := range listKeys {
			if raw, ok := whole[k]; ok && len(bytes.TrimSpace(raw)) > 0 && bytes.TrimSpace(raw)[0] == '[' {
				if _, isRecord := whole["conversations"]; isRecord {
					break
				}
				if _, isRecord := whole["messages"]; isRecord {
					break
				}
				return jsonList(bytes.TrimSpace(raw))
			}
		}
	}
	// JSON lines: one record per non-blank line.
	var recs []record
	for i, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		m, err := decodeObject(line)
		if err != nil {
			if len(recs) == 0 && i == 0 {
				return nil, fmt.Errorf("not JSON: line 1: %v", err)
			}
			recs = append(recs, record{n: i + 1, err: "line is not a JSON object: " + err.Error()})
			continue
		}
		recs = append(recs, record{n: i + 1, fields: m})
	}
	return recs, nil
}

// jsonError turns a decoding error into one naming the line and column.
func jsonError(b []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		return fmt.Errorf("not a JSON list of records: %v", err)
	}
	if off < 0 {
		return fmt.Errorf("not JSON: %v", err)
	}
	line, col := 1, 1
	for _, c := range b[:min(int(off), len(b))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Errorf("not JSON: line %d column %d: %v", line, col, err)
}

func isJSONName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".json" || ext == ".jsonl"
}

func isCSVName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".csv" || ext == ".tsv"
}

func looksLikeCSV(b []byte) bool {
	first, _, _ := bytes.Cut(b, []byte("\n"))
	return bytes.ContainsAny(first, ",;\t") && !bytes.ContainsAny(first[:1], "[{\"")
}

func csvRecords(b []byte) ([]record, error) {
	first, _, _ := bytes.Cut(b, []byte("\n"))
	r := csv.NewReader(bytes.NewReader(b))
	switch {
	case bytes.Count(first, []byte("\t")) > bytes.Count(first, []byte(",")):
		r.Comma = '\t'
	case bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")):
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("not CSV: %v", err)
	}
	for i := range header {
		header[i] = strings.ToLower(strings.TrimSpace(header[i]))
	}
	if err := checkColumns(header); err != nil {
		return nil, err
	}
	var recs []record
	for n := 1; ; n++ {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not CSV: %v", err)
		}
		m := map[string]any{}
		for i, v := range row {
			if i < len(header) && header[i] != "" {
				m[header[i]] = v
			}
		}
		recs = append(recs, record{n: n, fields: m})
	}
	return recs, nil
}

// checkColumns refuses a CSV header without an image or a score column, in
// one sentence, rather than every row for the same reason.
func checkColumns(header []string) error {
	has := func(keys []string) bool {
		for _, h := range header {
			for _, k := range keys {
				if h == k {
					return true
				}
			}
		}
		return false
	}
	var found []string
	for _, h := range header {
		if h != "" {
			found = append(found, h)
		}
	}
	cols := "no named columns"
	if len(found) > 0 {
		cols = "columns " + strings.Join(found, ", ")
	}
	switch {
	case !has(scoreKeys) && !has(answerKeys):
		return fmt.Errorf("no score column: the header has %s; a score column is named one of %s (or an answer column, one of %s)",
			cols, strings.Join(scoreKeys, ", "), strings.Join(answerKeys, ", "))
	case !has(imageKeys):
		return fmt.Errorf("no image column: the header has %s; an image column is named one of %s", cols, strings.Join(imageKeys, ", "))
	}
	return nil
}

// Field names, in order of preference.
var (
	imageKeys  = []string{"image", "image_path", "img", "path", "file", "filename", "image_file", "img_path"}
	scoreKeys  = []string{"score", "safety_score", "rating", "label", "safety_rating", "target"}
	promptKeys = []string{"prompt", "question", "instruction"}
	systemKeys = []string{"system", "system_prompt"}
	answerKeys = []string{"answer", "response", "output", "completion"}
	knownKeys  = slices.Concat(imageKeys, scoreKeys, promptKeys, systemKeys, answerKeys)
)

// item reads one record: the item, the shape it has, and why it cannot be
// used (empty when it can).
func (r record) item() (Item, Format, string) {
	if r.err != "" {
		return Item{}, "", r.err
	}
	f := r.fields
	switch {
	case f["conversations"] != nil:
		return conversationItem(f)
	case f["messages"] != nil:
		return messagesItem(f)
	}
	var it Item
	img, reason := imageOf(f, imageKeys)
	it.ID = img
	it.Prompt = str(f, promptKeys...)
	it.System = str(f, systemKeys...)
	it.Answer = str(f, answerKeys...)
	for k, v := range f {
		if v, ok := v.(string); ok && strings.TrimSpace(v) != "" && !slices.Contains(knownKeys, k) {
			if it.Text == nil {
				it.Text = map[string]string{}
			}
			it.Text[k] = strings.TrimSpace(v)
		}
	}
	if reason != "" {
		return it, FormatRecords, reason
	}
	score, reason := scoreOf(f, it.Answer)
	if reason != "" {
		return it, FormatRecords, reason
	}
	it.Score = score
	return it, FormatRecords, ""
}

// turn is one message of a conversation, roles normalised to system, user,
// assistant.
type turn struct {
	role  string
	text  string
	image string // an image_url part's URL, OpenAI shape
	nimg  int
}

func turnsOf(v any) ([]turn, string) {
	list, ok := v.([]any)
	if !ok {
		return nil, "conversation is not a list of turns"
	}
	var out []turn
	for i, t := range list {
		m, ok := t.(map[string]any)
		if !ok {
			return nil, fmt.Sprintf("turn %d is not an object", i+1)
		}
		role := strings.ToLower(str(m, "from", "role"))
		switch role {
		case "human", "user":
			role = "user"
		case "gpt", "assistant", "model", "bot":
			role = "assistant"
		case "system":
		default:
			return nil, fmt.Sprintf("turn %d has role %q (want system, user/human or assistant/gpt)", i+1, role)
		}
		tu := turn{role: role}
		content := m["value"]
		if content == nil {
			content = m["content"]
		}
		switch c := content.(type) {
		case string:
			tu.text = c
		case []any:
			var texts []string
			for _, p := range c {
				pm, ok := p.(map[string]any)
				if !ok {
					continue
				}
				switch str(pm, "type") {
				case "text":
					texts = append(texts, str(pm, "text"))
				case "image_url":
					tu.nimg++
					if iu, ok := pm["image_url"].(map[string]any); ok {
						tu.image = str(iu, "url")
					} else {
						tu.image = str(pm, "image_url")
					}
				case "image":
					tu.nimg++
					tu.image = str(pm, "image", "url", "path")
				}
			}
			tu.text = strings.Join(texts, "\n")
		}
		out = append(out, tu)
	}
	return out, ""
}

// fromTurns fills prompt, system and answer: the first user turn (image tag
// removed), the system turn, and the last assistant turn.
func fromTurns(it *Item, turns []turn) {
	for _, t := range turns {
		switch t.role {
		case "system":
			if it.System == "" {
				it.System = strings.TrimSpace(t.text)
			}
		case "user":
			if it.Prompt == "" {
				it.Prompt = strings.TrimSpace(strings.ReplaceAll(t.text, "<image>", ""))
			}
		case "assistant":
			it.Answer = strings.TrimSpace(t.text)
		}
	}
}

func conversationItem(f map[string]any) (Item, Format, string) {
	var it Item
	img, reason := imageOf(f, append([]string{"images"}, imageKeys...))
	it.ID = img
	turns, treason := turnsOf(f["conversations"])
	if treason != "" {
		return it, FormatConversations, treason
	}
	fromTurns(&it, turns)
	if s := str(f, systemKeys...); s != "" && it.System == "" {
		it.System = s
	}
	if reason != "" {
		return it, FormatConversations, reason
	}
	score, reason := scoreOf(f, it.Answer)
	if reason != "" {
		return it, FormatConversations, reason
	}
	it.Score = score
	return it, FormatConversations, ""
}

func messagesItem(f map[string]any) (Item, Format, string) {
	var it Item
	turns, treason := turnsOf(f["messages"])
	format := FormatLlamaFactory
	nimg := 0
	var partImage string
	for _, t := range turns {
		nimg += t.nimg
		if t.image != "" && partImage == "" {
			partImage = t.image
		}
	}
	if nimg > 0 {
		format = FormatOpenAIChat
	}
	if treason != "" {
		return it, format, treason
	}
	fromTurns(&it, turns)
	var reason string
	if format == FormatOpenAIChat {
		it.ID, it.embedded, reason = imageURL(partImage, nimg)
	} else {
		it.ID, reason = imageOf(f, append([]string{"images"}, imageKeys...))
	}
	if reason != "" {
		return it, format, reason
	}
	score, reason := scoreOf(f, it.Answer)
	if reason != "" {
		return it, format, reason
	}
	it.Score = score
	return it, format, ""
}

// imageURL reads the image of an OpenAI image_url part: a file path, a
// file:// URL, or the image itself as a base64 data URL (as vlmcmp prepare
// writes them), returned as embedded bytes with the file extension in place
// of the ID (see embedItem). Remote images have no file to evaluate on.
func imageURL(u string, n int) (id string, embedded []byte, reason string) {
	switch {
	case n > 1:
		return "", nil, fmt.Sprintf("%d images in one record (one per record is supported)", n)
	case u == "":
		return "", nil, "no image (the image_url part has no url)"
	case strings.HasPrefix(u, "data:"):
		ext, data, reason := dataURL(u)
		return ext, data, reason
	case strings.HasPrefix(u, "http://"), strings.HasPrefix(u, "https://"):
		return "", nil, "image is a remote URL; give the image's file path instead"
	}
	return cleanID(strings.TrimPrefix(u, "file://")), nil, ""
}

// dataURL decodes a data:image/...;base64,... URL: the extension its media
// type gives, and the bytes.
func dataURL(u string) (ext string, data []byte, reason string) {
	meta, payload, ok := strings.Cut(strings.TrimPrefix(u, "data:"), ",")
	if !ok {
		return "", nil, "image data URL has no comma before its data"
	}
	parts := strings.Split(meta, ";")
	mediaType := strings.ToLower(strings.TrimSpace(parts[0]))
	if !strings.HasPrefix(mediaType, "image/") {
		return "", nil, fmt.Sprintf("image data URL has media type %q, not an image", clip(mediaType, 40))
	}
	b64 := false
	for _, p := range parts[1:] {
		b64 = b64 || strings.EqualFold(strings.TrimSpace(p), "base64")
	}
	if !b64 {
		return "", nil, "image data URL is not base64 (want data:image/...;base64,...)"
	}
	payload = strings.TrimSpace(payload)
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		if data, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(payload, "=")); err != nil {
			return "", nil, fmt.Sprintf("image data URL is not valid base64: %v", err)
		}
	}
	if len(data) == 0 {
		return "", nil, "image data URL holds no data"
	}
	switch sub := strings.TrimPrefix(mediaType, "image/"); sub {
	case "jpeg", "jpg":
		ext = ".jpg"
	case "png", "webp", "gif", "bmp":
		ext = "." + sub
	default:
		ext = ".img"
	}
	return ext, data, ""
}

// imageOf reads the image path under the first present key; a list holds
// exactly one path.
func imageOf(f map[string]any, keys []string) (string, string) {
	for _, k := range keys {
		v, ok := f[k]
		if !ok || v == nil {
			continue
		}
		switch x := v.(type) {
		case string:
			if strings.TrimSpace(x) == "" {
				return "", fmt.Sprintf("no image (%s is empty)", k)
			}
			return cleanID(strings.TrimSpace(x)), ""
		case []any:
			if len(x) == 0 {
				return "", fmt.Sprintf("no image (%s is an empty list)", k)
			}
			if len(x) > 1 {
				return "", fmt.Sprintf("%d images in one record (one per record is supported)", len(x))
			}
			if s, ok := x[0].(string); ok && strings.TrimSpace(s) != "" {
				return cleanID(strings.TrimSpace(s)), ""
			}
			if m, ok := x[0].(map[string]any); ok {
				if s := str(m, "path", "image", "url"); s != "" {
					return cleanID(s), ""
				}
			}
			return "", fmt.Sprintf("no image (%s holds no path)", k)
		default:
			return "", fmt.Sprintf("no image (%s is a %s, not a path)", k, jsonKind(v))
		}
	}
	return "", "no image (no field named " + strings.Join(keys, ", ") + ")"
}

func cleanID(p string) string {
	return filepath.ToSlash(filepath.Clean(p))
}

// scoreOf reads the score from the first score field present, else from the
// answer text.
func scoreOf(f map[string]any, answer string) (float64, string) {
	for _, k := range scoreKeys {
		v, ok := f[k]
		if !ok || v == nil {
			continue
		}
		var s float64
		switch x := v.(type) {
		case json.Number:
			var err error
			if s, err = x.Float64(); err != nil {
				return 0, fmt.Sprintf("%s %s is not a number", k, x)
			}
		case float64:
			s = x
		case string:
			t := strings.TrimSpace(x)
			if t == "" {
				return 0, fmt.Sprintf("no score (%s is empty)", k)
			}
			var ok bool
			if s, ok = numericScore(t); !ok {
				return 0, fmt.Sprintf("%s %q is not a number (a score is a number, or a string holding one in digits)", k, clip(t, 40))
			}
		default:
			return 0, fmt.Sprintf("%s is a %s, not a number", k, jsonKind(v))
		}
		return checkScore(k, s)
	}
	if answer != "" {
		s, err := llm.ExtractScore(answer)
		if err != nil {
			return 0, fmt.Sprintf("no score: the answer %q holds none", clip(answer, 60))
		}
		return checkScore("the answer's score", s)
	}
	return 0, "no score (no field named " + strings.Join(scoreKeys, ", ") + " and no answer)"
}

// scoreText is a score written in digits, alone or after a label and as
// a fraction of 10: "7", " 6.5 ", "7/10", "Safety score: 2/10".
var scoreText = regexp.MustCompile(`^(?:[\p{L} _-]*:\s*)?([0-9]+(?:\.[0-9]+)?)\s*(?:/\s*10)?\.?$`)

// numericScore reads a score field's string: a number, or a score written
// in digits (scoreText). Words ("seven") are not a ground-truth score.
func numericScore(t string) (float64, bool) {
	if s, err := strconv.ParseFloat(t, 64); err == nil {
		return s, true
	}
	m := scoreText.FindStringSubmatch(t)
	if m == nil {
		return 0, false
	}
	s, err := strconv.ParseFloat(m[1], 64)
	return s, err == nil
}

func checkScore(what string, s float64) (float64, string) {
	if math.IsNaN(s) || math.IsInf(s, 0) || !llm.InScale(s) {
		return 0, fmt.Sprintf("%s %s is outside %s", what, strconv.FormatFloat(s, 'g', -1, 64), llm.ScaleText)
	}
	return s, ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// str returns the first non-empty string under keys.
func str(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}
