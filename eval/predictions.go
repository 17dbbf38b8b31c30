package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
)

// Record is one line of a predictions file: one model's answer for one image.
type Record struct {
	// ID names the image (its path relative to the data file).
	ID string `json:"id"`
	// Image is the image file as the run read it.
	Image string `json:"image"`
	// Expected is the ground-truth score.
	Expected float64 `json:"expected"`
	// Model is the configured model name.
	Model string `json:"model"`
	// Prediction is the answer; nil when Error is set.
	Prediction *llm.Prediction `json:"prediction,omitempty"`
	// Error says why the item has no answer.
	Error string `json:"error,omitempty"`
	// Missing, beside Error, says that the answer is missing for a reason
	// that is not the request's own (llm.Missing*: unreachable,
	// server_error, no_model, rate_limited, refused_key, no_server): the
	// line is no answer of the model, never a "no score". Empty when Error
	// is the request's (an unreadable image, a request refused for its
	// content), which counts as no score.
	Missing string `json:"missing,omitempty"`
	// Time is when the answer arrived.
	Time time.Time `json:"time"`
}

// recordJSON is a Record as a predictions line: its fields, and the bytes
// of an ID or image path that is not UTF-8 ([rawBytes]).
type recordJSON struct {
	IDBytes    []byte `json:"id_bytes,omitempty"`
	ImageBytes []byte `json:"image_bytes,omitempty"`
}

// MarshalJSON writes r as tagged, with "id_bytes" and "image_bytes" when
// ID or Image is not UTF-8, so that any file name round-trips.
func (r Record) MarshalJSON() ([]byte, error) {
	type plain Record
	return json.Marshal(struct {
		plain
		recordJSON
	}{plain(r), recordJSON{rawBytes(r.ID), rawBytes(r.Image)}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Record) UnmarshalJSON(data []byte) error {
	type plain Record
	var raw recordJSON
	v := struct {
		*plain
		*recordJSON
	}{(*plain)(r), &raw}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	r.ID, r.Image = fromRaw(r.ID, raw.IDBytes), fromRaw(r.Image, raw.ImageBytes)
	return nil
}

// WriteError is a failure to write a predictions file (a full disk, a
// file size limit): it is the machine's, not the model's, so a run stops at
// the first one instead of trying every other model into the same disk.
type WriteError struct {
	Path string
	Err  error
}

func (e *WriteError) Error() string {
	if pe, ok := errors.AsType[*fs.PathError](e.Err); ok && pe.Path == e.Path {
		return e.Err.Error() // names the file already
	}
	return fmt.Sprintf("write %s: %v", e.Path, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// Score is the predicted score, nil when there is none.
func (r *Record) Score() *float64 {
	if r.Prediction == nil {
		return nil
	}
	return r.Prediction.Score
}

// Sync policy of a [PredictionsWriter].
const (
	SyncEvery    = 32
	SyncInterval = 2 * time.Second
)

// ReadResult is what [ReadPredictions] found in a file.
type ReadResult struct {
	// Records in file order, the last line for an ID winning where an ID
	// appears twice.
	Records []Record
	// Torn is set when the last line was incomplete (no final newline, or
	// not JSON, as a crash leaves it); it is not in Records.
	Torn bool
	// ValidSize is the length of the file up to the end of its last good
	// line.
	ValidSize int64
	// Duplicates counts lines whose ID appeared again later.
	Duplicates int
	// NoFinalNewline is set when the last record is complete but lacks its
	// newline (a file edited by hand).
	NoFinalNewline bool
}

// ReadPredictions reads a predictions file. A torn last line is left out and
// reported in the result; any other line that is not a record is an error
// naming the file and line. A file that does not exist reads as empty.
func ReadPredictions(path string) (*ReadResult, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &ReadResult{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read predictions: %w", err)
	}
	return parsePredictions(path, data)
}

func parsePredictions(path string, data []byte) (*ReadResult, error) {
	res := &ReadResult{}
	index := map[string]int{}
	var lines []int // the line of each record
	var off int64
	for line := 1; off < int64(len(data)); line++ {
		rest := data[off:]
		n := bytes.IndexByte(rest, '\n')
		text, next := rest, int64(len(rest))
		if n >= 0 {
			text, next = rest[:n], int64(n+1)
		}
		if len(bytes.TrimSpace(text)) == 0 {
			off += next
			continue
		}
		var rec Record
		err := json.Unmarshal(text, &rec)
		if err == nil && rec.ID == "" {
			err = errors.New("no id")
		}
		if err != nil {
			if isLastLine(rest[next:]) {
				res.Torn = true
				break
			}
			return nil, fmt.Errorf("%s:%d: not a prediction record: %v", path, line, err)
		}
		if n < 0 {
			// A complete record without its newline: keep it, but the
			// file must be rewritten before anything is appended.
			res.NoFinalNewline = true
		}
		if i, ok := index[rec.ID]; ok {
			prev := &res.Records[i]
			if err := conflicting(prev, &rec); err != "" {
				return nil, fmt.Errorf("%s:%d: image %s is answered twice with %s (line %d and this one): a predictions file holds one answer per image; remove the wrong line",
					path, line, strconv.Quote(rec.ID), err, lines[i])
			}
			// The same answer again, or an answer where an error was:
			// the answer stays.
			if prev.Prediction == nil || rec.Prediction != nil {
				res.Records[i], lines[i] = rec, line
			}
			res.Duplicates++
		} else {
			index[rec.ID] = len(res.Records)
			res.Records = append(res.Records, rec)
			lines = append(lines, line)
		}
		off += next
		if n >= 0 {
			res.ValidSize = off
		}
	}
	return res, nil
}

// conflicting says how two answers for one image differ ("different
// scores (7 and 5)"), "" when they do not: both answered with one score,
// or one of them is an error line (the image was asked again).
func conflicting(a, b *Record) string {
	if a.Prediction == nil || b.Prediction == nil {
		return ""
	}
	sa, sb := a.Score(), b.Score()
	switch {
	case sa == nil && sb == nil, sa != nil && sb != nil && *sa == *sb:
		return ""
	}
	show := func(s *float64) string {
		if s == nil {
			return "no score"
		}
		return strconv.FormatFloat(*s, 'g', -1, 64)
	}
	return fmt.Sprintf("different scores (%s and %s)", show(sa), show(sb))
}

// isLastLine reports whether rest holds nothing but whitespace.
func isLastLine(rest []byte) bool { return len(bytes.TrimSpace(rest)) == 0 }

// PredictionsWriter appends records to a predictions file. Append is safe
// for concurrent use; each record is written with one write call, so the file
// never holds half a line except after a crash.
type PredictionsWriter struct {
	path string

	mu       sync.Mutex
	f        *os.File  // nil after Close
	unsynced int       // lines written since the last fsync
	lastSync time.Time // time of the last fsync
}

// OpenPredictions opens path for appending after reading what it holds.
// Records for which keep returns false are removed (the runner drops those
// that recorded an error, to redo them), as is a torn last line; when
// anything is removed the file is rewritten atomically first. It returns the
// records kept and what was read.
func OpenPredictions(path string, keep func(*Record) bool) (*PredictionsWriter, []Record, *ReadResult, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, nil, fmt.Errorf("predictions: %w", err)
	}
	res, err := ReadPredictions(path)
	if err != nil {
		return nil, nil, nil, err
	}
	var kept []Record
	for i := range res.Records {
		if keep == nil || keep(&res.Records[i]) {
			kept = append(kept, res.Records[i])
		}
	}
	if res.Torn || res.NoFinalNewline || res.Duplicates > 0 || len(kept) != len(res.Records) {
		if err := rewrite(path, kept); err != nil {
			return nil, nil, nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, nil, &WriteError{path, err}
	}
	return &PredictionsWriter{path: path, f: f, lastSync: time.Now()}, kept, res, nil
}

// rewrite replaces path with recs, through a temporary file in the same
// folder renamed over it, so that a reader sees the old file or the new one,
// never a part. Callers own the run folder ([LockRun]).
func rewrite(path string, recs []Record) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return &WriteError{path, err}
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			if _, ok := err.(*WriteError); !ok {
				err = &WriteError{path, err}
			}
		}
	}()
	w := bufio.NewWriter(tmp)
	for i := range recs {
		line, err := json.Marshal(&recs[i])
		if err != nil {
			return fmt.Errorf("predictions: %w", err)
		}
		w.Write(line)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Path is the file written.
func (w *PredictionsWriter) Path() string { return w.path }

// Append writes rec as one line and syncs the file every [SyncEvery] lines
// or [SyncInterval].
func (w *PredictionsWriter) Append(rec *Record) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("predictions: %w", err)
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("predictions %s: %w", w.path, os.ErrClosed)
	}
	if _, err := w.f.Write(line); err != nil {
		return &WriteError{w.path, err}
	}
	w.unsynced++
	if w.unsynced >= SyncEvery || time.Since(w.lastSync) >= SyncInterval {
		return w.syncLocked()
	}
	return nil
}

func (w *PredictionsWriter) syncLocked() error {
	if w.unsynced == 0 {
		return nil
	}
	if err := w.f.Sync(); err != nil {
		return &WriteError{w.path, err}
	}
	w.unsynced, w.lastSync = 0, time.Now()
	return nil
}

// Close syncs and closes the file. Closing twice is a no-op.
func (w *PredictionsWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.syncLocked()
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = &WriteError{w.path, cerr}
	}
	w.f = nil
	return err
}

var _ io.Closer = (*PredictionsWriter)(nil)
