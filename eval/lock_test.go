package eval

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the process that holds or tries a run folder:
// with lockHelperEnv set to "hold:DIR" it locks DIR, says so on stdout and
// waits to be killed; with "try:DIR" it tries once and exits 3 with the
// error on stderr when refused.
const lockHelperEnv = "VLMCMP_EVAL_LOCK_HELPER"

func TestMain(m *testing.M) {
	if v := os.Getenv(lockHelperEnv); v != "" {
		os.Exit(lockHelper(v))
	}
	os.Exit(m.Run())
}

func lockHelper(v string) int {
	mode, dir, _ := strings.Cut(v, ":")
	switch mode {
	case "diskfull":
		return diskFullHelper(dir)
	case "chaos":
		return chaosHelper(dir)
	}
	l, err := LockRun(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	switch mode {
	case "hold":
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin) // until killed or stdin closes
	case "try":
	}
	l.Unlock()
	return 0
}

func helperCmd(t *testing.T, mode, dir string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+mode+":"+dir)
	return cmd
}

// startHolder starts a process holding dir and waits until it has the lock.
func startHolder(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := helperCmd(t, "hold", dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("holder did not lock: %q, %v", line, err)
	}
	return cmd
}

func TestRunLockBetweenProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	holder := startHolder(t, dir)
	pid := strconv.Itoa(holder.Process.Pid)

	// A second process is refused with one sentence naming the holder.
	try := helperCmd(t, "try", dir)
	out, err := try.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("second process: err %v, output %q; want exit 3", err, out)
	}
	msg := strings.TrimSpace(string(out))
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "process "+pid) || !strings.Contains(msg, dir) {
		t.Errorf("second process said %q; want one line naming %s and process %s", msg, dir, pid)
	}
	// So is this one, in process.
	if _, err := LockRun(dir); !errors.Is(err, ErrRunLocked) || !strings.Contains(err.Error(), pid) {
		t.Errorf("LockRun while held: %v", err)
	}

	// SIGKILL leaves no stale lock: the next process takes over.
	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	holder.Wait()
	var l *RunLock
	var lerr error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if l, lerr = LockRun(dir); lerr == nil {
			break
		}
	}
	if lerr != nil {
		t.Fatalf("take-over after SIGKILL: %v", lerr)
	}
	if got := readPID(l.Path()); got != os.Getpid() {
		t.Errorf("lock file holds pid %d, want ours %d", got, os.Getpid())
	}
	// Now a child is refused, naming us.
	out, err = helperCmd(t, "try", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "process "+strconv.Itoa(os.Getpid())) {
		t.Errorf("child while we hold: err %v, output %q", err, out)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("second unlock: %v", err)
	}
	// Released: a child gets it.
	if out, err := helperCmd(t, "try", dir).CombinedOutput(); err != nil {
		t.Errorf("child after unlock: %v %q", err, out)
	}
}

// A run that fails before writing anything leaves no folder behind; one it
// found keeps its folder.
func TestUnlockRemovesFolderItCreatedEmpty(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	l, err := LockRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !HeldHere(dir) {
		t.Error("HeldHere false while held")
	}
	l.Unlock()
	if HeldHere(dir) {
		t.Error("HeldHere true after unlock")
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("empty run folder left behind")
	}
	l, err = LockRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteRunInfo(dir, &RunInfo{ID: "new"}); err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	if _, err := ReadRunInfo(dir); err != nil {
		t.Errorf("run folder with a manifest: %v", err)
	}
	existing := t.TempDir()
	l, err = LockRun(existing)
	if err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	if _, err := os.Stat(existing); err != nil {
		t.Error("a folder LockRun did not create was removed")
	}
}
