package eval

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
}

// LockRun takes ownership of the run folder dir, creating the folder if
// needed. It does not wait: when another process holds the folder, the error
// wraps [ErrRunLocked] and names that process's PID.
func LockRun(dir string) (*RunLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock run folder: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if held {
		holder := "another process"
		if pid := readPID(path); pid > 0 {
			holder = fmt.Sprintf("process %d", pid)
		}
		f.Close()
		return nil, fmt.Errorf("%w: %s is being written by %s; wait for it to finish (or stop it), or use another --run-id", ErrRunLocked, dir, holder)
	}
	// The lock is ours: record our PID for whoever is refused next.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	l := &RunLock{f: f, path: path}
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
	// The PID is cleared before the lock goes, so that a reader never
	// sees our PID on a free folder; the file itself stays (removing it
	// would race with a process that has opened it and waits to lock).
	l.f.Truncate(0)
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
