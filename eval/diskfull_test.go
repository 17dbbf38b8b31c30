package eval

import (
	"github.com/vlmcmp/vlmcmp/eval/dataset"

	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const diskFullItems = 30

func diskFullTestItems(dir string) ([]dataset.Item, error) {
	items := make([]dataset.Item, diskFullItems)
	for i := range items {
		path := filepath.Join(dir, fmt.Sprintf("%03d.png", i))
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			return nil, err
		}
		items[i] = dataset.Item{ID: fmt.Sprintf("img/%03d.png", i), ImagePath: path, Score: float64(i%10 + 1)}
	}
	return items, nil
}

// diskFullHelper runs two models into dir/run with the file size limited
// (as a full disk fails writes) and prints Run's error.
func diskFullHelper(dir string) int {
	items, err := diskFullTestItems(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// Writes past 2 KB fail with EFBIG (Go ignores SIGXFSZ).
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 2048, Max: 2048}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r := &Runner{Dir: filepath.Join(dir, "run")}
	models := []Model{{Name: "a", Predictor: &fakePredictor{}, Concurrency: 1}, {Name: "b", Predictor: &fakePredictor{}, Concurrency: 1}}
	_, err = r.Run(context.Background(), models, items)
	fmt.Printf("%v\n", err)
	return 0
}

// A full disk stops the run (every model runs at once: all of them) at the
// first predictions file that fails, names that file once, and a resume with
// space again completes every image once.
func TestRunStopsAtFirstWriteError(t *testing.T) {
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"=diskfull:"+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	msg := strings.TrimSpace(string(out))
	run := filepath.Join(dir, "run")
	named := 0
	for _, m := range []string{"a", "b"} {
		if strings.Contains(msg, "model "+m+": write "+PredictionsPath(run, m)) {
			named++
		}
	}
	if named != 1 || strings.Contains(msg, "\n") {
		t.Fatalf("Run's error is %q; want one line naming the predictions file of a or b", msg)
	}
	items, err := diskFullTestItems(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Dir: run}
	models := []Model{{Name: "a", Predictor: &fakePredictor{}}, {Name: "b", Predictor: &fakePredictor{}}}
	if _, err := r.Run(context.Background(), models, items); err != nil {
		t.Fatalf("resume: %v", err)
	}
	onePerItem(t, PredictionsPath(run, "a"), items)
	onePerItem(t, PredictionsPath(run, "b"), items)
}
