package backend

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestFileSHA256 : a file is read once per process; the digest on disk is
// trusted by a new process while nothing about the file changed; a file
// rewritten in place keeping its size and modification time (cp -p) or
// replaced by another file (mv) is hashed again.
func TestFileSHA256(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("inode and change time are read on linux and darwin")
	}
	cache := filepath.Join(t.TempDir(), "h.json")
	t.Setenv(FileHashCacheEnv, cache)
	dir := t.TempDir()
	p := filepath.Join(dir, "m.gguf")
	mt := time.Now().Add(-time.Hour).Truncate(time.Second)
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	hash := func() (string, int) {
		t.Helper()
		before := fileHashes.hashed
		h, err := FileSHA256(p)
		if err != nil {
			t.Fatal(err)
		}
		return h, fileHashes.hashed - before
	}
	newProcess := func() {
		fileHashes.Lock()
		fileHashes.mem = nil
		fileHashes.Unlock()
	}
	write(p, "abc")
	if h, n := hash(); h != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" || n != 1 {
		t.Fatalf("first: sha256(abc) = %s after %d reads", h, n)
	}
	if _, n := hash(); n != 0 {
		t.Errorf("second call in the same process read the file %d times, want 0", n)
	}
	newProcess()
	if _, n := hash(); n != 0 {
		t.Errorf("a new process with the file unchanged read it %d times, want 0 (the disk cache)", n)
	}
	// cp -p: same path, size and mtime, new content (and change time).
	time.Sleep(10 * time.Millisecond)
	write(p, "xyz")
	h, n := hash()
	if n != 1 || h != "3608bca1e44ea6c4d268eb6db02260269892c0b42b86bbf1e77a6fa16c3c9282" {
		t.Errorf("after cp -p: %s after %d reads, want sha256(xyz) read anew", h, n)
	}
	newProcess()
	if h2, n := hash(); n != 0 || h2 != h {
		t.Errorf("new process after cp -p: %s after %d reads", h2, n)
	}
	// mv: another file (another inode) under the name.
	other := filepath.Join(dir, "other")
	write(other, "abd")
	if err := os.Rename(other, p); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
	if h, n := hash(); n != 1 || h == "3608bca1e44ea6c4d268eb6db02260269892c0b42b86bbf1e77a6fa16c3c9282" {
		t.Errorf("after mv: %s after %d reads, want a new digest", h, n)
	}
}

// TestIdentityKeyAndDiff: the key changes with any setting and not with
// map order; Diff names each change, and a legacy identity against a
// current one is one sentence.
func TestIdentityKeyAndDiff(t *testing.T) {
	a := Identity{"backend": "local", "model_file.sha256": "aaaaaaaaaaaaaaaaaaaa", "max_tokens": "8"}
	b := a.Clone()
	if a.Key() != b.Key() {
		t.Fatal("equal identities, different keys")
	}
	b["max_tokens"] = "9"
	b["model_file.sha256"] = "bbbbbbbbbbbbbbbbbbbb"
	delete(b, "backend")
	if a.Key() == b.Key() {
		t.Fatal("different identities, one key")
	}
	got := Diff(a, b)
	want := []string{`backend was "local", now unset`, `max_tokens was "8", now "9"`, "model_file.sha256 was sha256 aaaaaaaaaaaa, now sha256 bbbbbbbbbbbb"}
	if len(got) != len(want) {
		t.Fatalf("Diff = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Diff[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	legacy := a.Clone()
	legacy[legacyKey] = "1"
	if d := Diff(legacy, a); len(d) != 1 {
		t.Errorf("legacy vs current: %q, want one sentence", d)
	}
}

// TestBaselineIdentityNamesTrainingScores: the same statistic of other
// training scores is another model.
func TestBaselineIdentityNamesTrainingScores(t *testing.T) {
	s := &BaselineSpec{Stat: "mean"}
	x, _ := s.Identity(Env{TrainScores: []float64{5, 6, 7}})
	y, _ := s.Identity(Env{TrainScores: []float64{5, 6, 8}})
	if d := Diff(x, y); len(d) != 1 || d[0][:len("train_scores.sha256")] != "train_scores.sha256" {
		t.Errorf("Diff = %q, want the training scores' digest", d)
	}
}
