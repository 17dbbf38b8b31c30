package eval

import (
	"github.com/vlmcmp/vlmcmp/eval/dataset"

	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A write of run.json cut short (a full disk) leaves run.json.tmp: a
// complete one is the run's manifest and is put in place by the next owner;
// an incomplete one is reported as such and removed by the next owner.
func TestRunInfoTmpRecovery(t *testing.T) {
	info := &RunInfo{ID: "r", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Models: []string{"mean"}, Items: []dataset.Item{{ID: "a.png", ImagePath: "/x/a.png", Score: 3}}}

	t.Run("complete tmp", func(t *testing.T) {
		dir := t.TempDir()
		if err := WriteRunInfo(dir, info); err != nil {
			t.Fatal(err)
		}
		os.Rename(filepath.Join(dir, RunInfoFile), filepath.Join(dir, RunInfoFile+".tmp"))
		got, err := ReadRunInfo(dir)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if got.ID != "r" || len(got.Items) != 1 {
			t.Fatalf("read %+v", got)
		}
		l, err := LockRun(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Unlock()
		if _, err := os.Stat(filepath.Join(dir, RunInfoFile)); err != nil {
			t.Errorf("owner did not put run.json in place: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, RunInfoFile+".tmp")); err == nil {
			t.Error("run.json.tmp still there")
		}
	})
	t.Run("torn tmp", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, RunInfoFile+".tmp"), []byte(`{"id": "r", "crea`), 0o644)
		_, err := ReadRunInfo(dir)
		if err == nil || !strings.Contains(err.Error(), "never completed") || !strings.Contains(err.Error(), "full disk") {
			t.Fatalf("read: %v", err)
		}
		l, err := LockRun(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Unlock()
		if _, err := os.Stat(filepath.Join(dir, RunInfoFile+".tmp")); err == nil {
			t.Error("owner left the torn run.json.tmp")
		}
		if err := WriteRunInfo(dir, info); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadRunInfo(dir); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("stale tmp beside run.json", func(t *testing.T) {
		dir := t.TempDir()
		if err := WriteRunInfo(dir, info); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, RunInfoFile+".tmp"), []byte(`{`), 0o644)
		if _, err := ReadRunInfo(dir); err != nil {
			t.Fatal(err)
		}
		l, err := LockRun(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Unlock()
		if _, err := os.Stat(filepath.Join(dir, RunInfoFile+".tmp")); err == nil {
			t.Error("stale run.json.tmp left")
		}
	})
}
