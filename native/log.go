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
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// maxQuoted is how many of a call's warning and error lines its error quotes
// (the latest ones).
const maxQuoted = 4

// maxPendingThreads is how many threads' finished lines are remembered for
// continuations.
const maxPendingThreads = 64

// logger is where log lines go; nil means slog.Default().
var logger atomic.Pointer[slog.Logger]

// Which call a log line belongs to.
//
// llama.cpp logs through one process-wide callback and says nothing about
// the call a line comes from, and calls run concurrently (a decode on one
// goroutine, a model load or an image encode on another). What identifies
// the call is the OS thread: llama.cpp's, mtmd's and ggml's failures are
// logged by the thread that called into them, before the call returns, and
// a cgo call runs on the calling goroutine's thread, which the callback then
// runs on too. So a call that may fail is wrapped in captureLog, which locks
// the goroutine to its thread (runtime.LockOSThread) and registers a capture
// under the thread id; the callback files each warning and error line under
// the id of the thread that logged it (syscall.Gettid), and end returns the
// capture's lines and unlocks the thread. Two calls that fail at once on two
// goroutines therefore run on two threads and each quotes only its own
// lines. Lines logged by other threads (ggml's worker threads) go to the
// logger but are quoted by no call. Messages are assembled per thread too,
// since ggml logs a line in pieces (GGML_LOG_LEVEL_CONT) and a line may lack
// its final newline until the next message starts it anew.
var logState struct {
	mu       sync.Mutex
	pending  map[int]*pendingLine // thread id -> the line it is logging
	captures map[int]*logCapture  // thread id -> the innermost capture on it
}

// pendingLine is the text of a thread's line so far (empty when its last
// line ended) and its ggml level.
type pendingLine struct {
	text  strings.Builder
	level int
}

// logCapture collects the warning and error lines one thread logs during a
// call; see logState.
type logCapture struct {
	tid    int
	parent *logCapture // the capture of an enclosing call on the same thread
	lines  []string    // the latest maxQuoted lines, oldest first
	ended  bool
}

func init() {
	logState.pending = map[int]*pendingLine{}
	logState.captures = map[int]*logCapture{}
	// ollama's ggml package installs its own sink (to stderr) in its init,
	// which runs before ours: replace it, and set llama.cpp's and mtmd's.
	C.vlmcmp_install_logs()
}

// SetLogger routes llama.cpp's, ggml's and mtmd's log lines to l; see the
// stub's documentation.
func SetLogger(l *slog.Logger) { logger.Store(l) }

// captureLog starts collecting the lines this goroutine's calls into C log,
// locking it to its OS thread until end. Captures nest (an enclosing call's
// capture gets the lines too).
func captureLog() *logCapture {
	runtime.LockOSThread()
	lc := &logCapture{tid: syscall.Gettid()}
	logState.mu.Lock()
	lc.parent = logState.captures[lc.tid]
	logState.captures[lc.tid] = lc
	logState.mu.Unlock()
	return lc
}

// end stops the capture and returns its lines, oldest first; a warning or
// error line the thread left without its newline counts as ended. Only the
// first call does anything.
func (lc *logCapture) end() []string {
	if lc.ended {
		return lc.lines
	}
	lc.ended = true
	logState.mu.Lock()
	if p := logState.pending[lc.tid]; p != nil && p.text.Len() > 0 && p.level >= ggmlLogWarn {
		emitLine(lc.tid, p.level, p.text.String())
		p.text.Reset()
	}
	if lc.parent != nil {
		logState.captures[lc.tid] = lc.parent
	} else {
		delete(logState.captures, lc.tid)
	}
	logState.mu.Unlock()
	runtime.UnlockOSThread()
	return lc.lines
}

//export vlmcmpLog
func vlmcmpLog(level C.int, text *C.char, _ unsafe.Pointer) {
	if text == nil {
		return
	}
	s := C.GoString(text)
	tid := syscall.Gettid()
	logState.mu.Lock()
	defer logState.mu.Unlock()
	p := logState.pending[tid]
	if p == nil {
		p = &pendingLine{level: ggmlLogInfo} // for a continuation of nothing we saw
		logState.pending[tid] = p
	}
	if lv := int(level); lv != ggmlLogCont {
		emitLine(tid, p.level, p.text.String()) // a new message ends the last
		p.text.Reset()
		p.level = lv
	}
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			p.text.WriteString(s)
			break
		}
		p.text.WriteString(s[:i])
		emitLine(tid, p.level, p.text.String())
		p.text.Reset()
		s = s[i+1:]
	}
	// A finished line's level stays for continuations (ggml may continue
	// a message after its newline). Threads come and go (ggml starts
	// workers per graph), so beyond a few the finished ones are forgotten.
	if p.text.Len() == 0 && len(logState.pending) > maxPendingThreads {
		delete(logState.pending, tid)
	}
}

// emitLine logs one line of thread tid and files it with the thread's
// captures when it is a warning or an error. logState.mu is held.
func emitLine(tid, level int, line string) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	if level >= ggmlLogWarn {
		for lc := logState.captures[tid]; lc != nil; lc = lc.parent {
			if len(lc.lines) == maxQuoted {
				copy(lc.lines, lc.lines[1:])
				lc.lines = lc.lines[:maxQuoted-1]
			}
			lc.lines = append(lc.lines, line)
		}
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

// newError returns an *Error for op quoting log, the lines captured during
// the call that failed.
func newError(op string, code int, log []string, err error) *Error {
	return &Error{Op: op, Code: code, Log: log, Err: err}
}
