//go:build llamacpp

package native

// #include <stdlib.h>
// #include "ggml.h"
// #include "llama.h"
// #include "mtmd-helper.h"
//
// extern void vlmcmpLog(int level, char *text, void *user_data);
//
// static void vlmcmp_install_logs(void) {
//     ggml_log_set((ggml_log_callback) vlmcmpLog, NULL);
//     llama_log_set((ggml_log_callback) vlmcmpLog, NULL);
//     mtmd_helper_log_set((ggml_log_callback) vlmcmpLog, NULL);
// }
import "C"

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ggml's log levels (enum ggml_log_level).
const (
	ggmlLogNone  = 0
	ggmlLogDebug = 1
	ggmlLogInfo  = 2
	ggmlLogWarn  = 3
	ggmlLogError = 4
	ggmlLogCont  = 5 // continues the previous message
)

// logger is where log lines go; nil means slog.Default().
var logger atomic.Pointer[slog.Logger]

// logState assembles lines from the pieces C logs and keeps the latest
// warning and error lines for errors to quote.
var logState struct {
	mu      sync.Mutex
	pending strings.Builder // text of the current line so far
	level   int             // ggml level of the current line
	seq     uint64          // number of warning/error lines ever kept
	recent  [16]keptLine    // ring of the latest warning/error lines
}

type keptLine struct {
	seq  uint64
	text string
}

func init() {
	// ollama's ggml package installs its own sink (to stderr) in its init,
	// which runs before ours: replace it, and set llama.cpp's and mtmd's.
	C.vlmcmp_install_logs()
}

// SetLogger routes llama.cpp's, ggml's and mtmd's log lines to l; see the
// stub's documentation.
func SetLogger(l *slog.Logger) { logger.Store(l) }

//export vlmcmpLog
func vlmcmpLog(level C.int, text *C.char, _ unsafe.Pointer) {
	if text == nil {
		return
	}
	s := C.GoString(text)
	logState.mu.Lock()
	defer logState.mu.Unlock()
	if lv := int(level); lv != ggmlLogCont {
		if logState.pending.Len() > 0 {
			emitLine(logState.level, logState.pending.String())
			logState.pending.Reset()
		}
		logState.level = lv
	}
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			logState.pending.WriteString(s)
			return
		}
		logState.pending.WriteString(s[:i])
		emitLine(logState.level, logState.pending.String())
		logState.pending.Reset()
		s = s[i+1:]
	}
}

// emitLine logs one line and keeps it when it is a warning or an error.
// logState.mu is held.
func emitLine(level int, line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	if level >= ggmlLogWarn {
		logState.seq++
		logState.recent[logState.seq%uint64(len(logState.recent))] = keptLine{logState.seq, line}
	}
	var sl slog.Level
	name := "info"
	switch level {
	case ggmlLogDebug:
		sl, name = slog.LevelDebug-4, "debug"
	case ggmlLogWarn:
		sl, name = slog.LevelDebug+1, "warn"
	case ggmlLogError:
		sl, name = slog.LevelDebug+2, "error"
	default:
		sl = slog.LevelDebug
	}
	l := logger.Load()
	if l == nil {
		l = slog.Default()
	}
	if !l.Enabled(context.Background(), sl) {
		return
	}
	l.Log(context.Background(), sl, line, "src", "llama.cpp", "level", name)
}

// logMark returns a mark for logSince.
func logMark() uint64 {
	logState.mu.Lock()
	defer logState.mu.Unlock()
	return logState.seq
}

// logSince returns up to the last 4 warning and error lines kept after mark,
// flushing a pending unterminated line first.
func logSince(mark uint64) []string {
	logState.mu.Lock()
	defer logState.mu.Unlock()
	if logState.pending.Len() > 0 && logState.level >= ggmlLogWarn {
		emitLine(logState.level, logState.pending.String())
		logState.pending.Reset()
	}
	const max = 4
	var out []string
	for s := logState.seq; s > mark && len(out) < max; s-- {
		k := logState.recent[s%uint64(len(logState.recent))]
		if k.seq != s {
			break
		}
		out = append(out, k.text)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// newError returns an *Error for op with the lines logged since mark.
func newError(op string, code int, mark uint64, err error) *Error {
	return &Error{Op: op, Code: code, Log: logSince(mark), Err: err}
}
