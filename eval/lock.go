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
	// created is set when LockRun made the folder: Unlock removes it again
	// if nothing but the lock file was put in it.
	created bool
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
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	var f *os.File
	var busy bool
	for {
		var err error
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock run folder: %w", err)
		}
		if busy, err = tryLock(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if busy || sameFile(f, path) {
			break
		}
		// The owner removed the file between our open and our lock
		// (Unlock of a folder it created and left empty): try again on
		// the file now at path.
		f.Close()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("run folder: %w", err)
		}
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
	l := &RunLock{f: f, path: path, key: key, created: created}
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
	if l.created {
		dir := filepath.Dir(l.path)
		if entries, err := os.ReadDir(dir); err == nil && len(entries) == 1 && entries[0].Name() == LockFile {
			// A run that failed before writing anything leaves no folder.
			// The file goes while still locked, so a process that opened
			// it meanwhile finds it gone (sameFile) and starts over.
			os.Remove(l.path)
			os.Remove(dir)
		}
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// sameFile reports whether the open file f is the file now at path.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}
