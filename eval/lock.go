package eval

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LockFile is the file in a run folder whose OS lock marks the folder as
// owned by one process.
const LockFile = ".lock"

// ErrRunLocked is wrapped by the error of [LockRun] when another process
// holds the run folder.
var ErrRunLocked = errors.New("run folder in use")

// RunLock is a process's ownership of a run folder: an exclusive OS file lock
// (flock) on dir/.lock, which holds the owner's PID. The kernel releases it
// when the process ends, however it ends, so a killed run never leaves a
// stale lock behind: the file may stay, the lock does not.
type RunLock struct {
	f    *os.File
	path string
	key  string // the folder's absolute path, in held
}

// held lists the run folders this process owns, so that [Runner.Run] can
// tell whether its caller took the folder or it must.
var held = struct {
	sync.Mutex
	dirs map[string]bool
}{dirs: map[string]bool{}}

func lockKey(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return filepath.Clean(dir)
}

// HeldHere reports whether this process owns the run folder dir through
// [LockRun].
func HeldHere(dir string) bool {
	held.Lock()
	defer held.Unlock()
	return held.dirs[lockKey(dir)]
}

// LockRun takes ownership of the run folder dir, creating the folder if
// needed. It does not wait: when another process holds the folder, the error
// wraps [ErrRunLocked] and names that process's PID. As the owner, it then
// settles what an interrupted write of run.json left (see [ReadRunInfo]).
func LockRun(dir string) (*RunLock, error) {
	key := lockKey(dir)
	if HeldHere(dir) {
		return nil, fmt.Errorf("%w: %s is being written by process %d (this one) already", ErrRunLocked, dir, os.Getpid())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock run folder: %w", err)
	}
	busy, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if busy {
		holder := "another process"
		// The holder writes its PID just after it takes the lock: give
		// it a moment.
		for try := 0; try < 20; try++ {
			if pid := readPID(path); pid > 0 {
				holder = fmt.Sprintf("process %d", pid)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		f.Close()
		return nil, fmt.Errorf("%w: %s is being written by %s; wait for it to finish (or stop it), or use another --run-id", ErrRunLocked, dir, holder)
	}
	// The lock is ours: record our PID for whoever is refused next,
	// overwriting the last owner's without a moment of empty file.
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if _, err := f.WriteAt(pid, 0); err == nil {
		f.Truncate(int64(len(pid)))
	}
	l := &RunLock{f: f, path: path, key: key}
	held.Lock()
	held.dirs[key] = true
	held.Unlock()
	if err := tidyRunInfo(dir); err != nil {
		l.Unlock()
		return nil, err
	}
	return l, nil
}

// readPID reads the PID a lock file holds; 0 when it holds none.
func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// Path is the lock file.
func (l *RunLock) Path() string { return l.path }

// Unlock gives the run folder up. Unlocking twice is a no-op.
func (l *RunLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	// The file stays, with our PID until the next owner writes its own:
	// removing it would race with a process that has opened it and is
	// about to lock it, and the PID is only read by a refused process.
	held.Lock()
	delete(held.dirs, l.key)
	held.Unlock()
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
