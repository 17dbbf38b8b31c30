//go:build llamacpp

package eval_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval"
	"github.com/vlmcmp/vlmcmp/eval/backend"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/llm/gguf/synth"
)

// TestReplacedGGUFKeepingSizeAndMtime is the cp -p case: a GGUF replaced by
// another of the same size with the old modification time (cp -p, rsync -a,
// touch -r) is another model. A new run gets no answer of the old model's
// from the response cache, its run.json records the new file's sha256, and
// the old run's resume is refused naming the file.
func TestReplacedGGUFKeepingSizeAndMtime(t *testing.T) {
	t.Setenv(llm.CacheDirEnv, filepath.Join(t.TempDir(), "cache"))
	t.Setenv(backend.FileHashCacheEnv, filepath.Join(t.TempDir(), "filehash.json"))
	a, err := synth.Write(filepath.Join(t.TempDir(), "a"), synth.Options{Shape: synth.Tiny, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, err := synth.Write(filepath.Join(t.TempDir(), "b"), synth.Options{Shape: synth.Tiny, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	fa, _ := os.Stat(a.Model)
	newBytes, err := os.ReadFile(b.Model)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(newBytes)) != fa.Size() {
		t.Fatalf("the two synthetic models differ in size (%d, %d): the case needs the same size", fa.Size(), len(newBytes))
	}
	models := fmt.Sprintf("  - {name: tiny, backend: local, model_file: %s, mmproj: %s, structured: true, max_tokens: 8, parallel: 2, threads: 1}\n", a.Model, a.Mmproj)
	cfg, _ := compareSetup(t, 4, models)
	opts := eval.CompareOptions{Split: "all", Limit: 3}

	run := func(id string) *eval.Comparison {
		t.Helper()
		o := opts
		o.RunID = id
		c, err := eval.Compare(t.Context(), cfg, o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cached := func(c *eval.Comparison) (n int) {
		recs, err := eval.ReadPredictions(eval.PredictionsPath(c.Dir, "tiny"))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs.Records {
			if r.Prediction != nil && r.Prediction.Cached {
				n++
			}
		}
		return n
	}
	run("old")
	if n := cached(run("again")); n != 3 {
		t.Fatalf("the same model again: %d of 3 answers from the cache, want 3 (the cache must work for the test to mean anything)", n)
	}

	// cp -p: the new model's bytes over the old file, the old mtime kept.
	if err := os.WriteFile(a.Model, newBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(a.Model, fa.ModTime(), fa.ModTime()); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(a.Model); st.Size() != fa.Size() || !st.ModTime().Equal(fa.ModTime()) {
		t.Fatal("the replaced file does not keep size and mtime")
	}

	c := run("new")
	if n := cached(c); n != 0 {
		t.Errorf("the replaced model got %d answers of the old one from the cache, want 0", n)
	}
	sum := sha256.Sum256(newBytes)
	if got, want := c.Info.Identities["tiny"]["model_file.sha256"], hex.EncodeToString(sum[:]); got != want {
		t.Errorf("run.json records model_file sha256 %s, want the new file's %s", got, want)
	}
	info, err := eval.ReadRunInfo(c.Dir)
	if err != nil || info.Identities["tiny"]["model_file.sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("run.json on disk: %v, %v", info.Identities["tiny"], err)
	}

	o := opts
	o.RunID, o.Resume, o.Limit, o.Split = "old", true, 0, ""
	_, err = eval.OpenRun(cfg, o)
	if err == nil || !strings.Contains(err.Error(), "model_file.sha256 was sha256 ") {
		t.Errorf("resuming the old run with the replaced file: %v, want a refusal naming model_file", err)
	}
}
