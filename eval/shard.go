package eval

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
)

// Shard is one of Count disjoint parts of a run's images: Index is K of
// "K/N", from 1. The zero value is the whole set (no sharding).
type Shard struct {
	Index, Count int
}

// Sharded reports whether s is a part rather than the whole set.
func (s Shard) Sharded() bool { return s.Count > 0 }

// String is "K/N", as --shard takes it; "" for the whole set.
func (s Shard) String() string {
	if !s.Sharded() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// folder is the shard's folder name inside a run's ShardsDir: "K-of-N".
func (s Shard) folder() string { return fmt.Sprintf("%d-of-%d", s.Index, s.Count) }

func (s Shard) valid() error {
	if s.Count < 1 || s.Index < 1 || s.Index > s.Count {
		return fmt.Errorf("shard %d/%d: K/N needs 1 ≤ K ≤ N", s.Index, s.Count)
	}
	return nil
}

// ShardsDir is the folder of a sharded run that holds one folder per shard
// (ShardDir).
func ShardsDir(runDir string) string { return filepath.Join(runDir, "shards") }

// ShardDir is the folder of shard s of the run at runDir: a run folder of
// its own (run.json, .lock, predictions/) that only that shard writes.
func ShardDir(runDir string, s Shard) string { return filepath.Join(ShardsDir(runDir), s.folder()) }

var shardFolderRE = regexp.MustCompile(`^([0-9]+)-of-([0-9]+)$`)

// parseShardFolder reads a ShardDir's name.
func parseShardFolder(name string) (Shard, bool) {
	m := shardFolderRE.FindStringSubmatch(name)
	if m == nil {
		return Shard{}, false
	}
	k, err1 := strconv.Atoi(m[1])
	n, err2 := strconv.Atoi(m[2])
	s := Shard{k, n}
	if err1 != nil || err2 != nil || s.valid() != nil {
		return Shard{}, false
	}
	return s, true
}

// ShardOf is the shard (1..n) an image belongs to among n: decided by the
// sha256 of its ID alone, so the same image lands in the same shard whatever
// the order or the other contents of the data file.
func ShardOf(id string, n int) int {
	if n <= 1 {
		return 1
	}
	h := sha256.Sum256([]byte(id))
	return int(binary.BigEndian.Uint64(h[:8])%uint64(n)) + 1
}

// ShardInfo is what a shard's run.json records about its place in the run,
// for the merge ([ReadShards]) to check that the shards fit together.
type ShardInfo struct {
	// Index and Count are K and N.
	Index int `json:"index"`
	Count int `json:"count"`
	// SetSize is the number of images of the whole run (every shard);
	// SetSHA256 a digest of their IDs and scores in order, equal in every
	// shard of one run.
	SetSize   int    `json:"set_size"`
	SetSHA256 string `json:"set_sha256"`
	// Positions are where the shard's items stand in the whole set, so that
	// the merged run lists them in the order an unsharded run would.
	Positions []int `json:"positions"`
}

// Shard is the part s describes.
func (si *ShardInfo) Shard() Shard { return Shard{si.Index, si.Count} }

// setDigest is the ShardInfo.SetSHA256 of items.
func setDigest(items []dataset.Item) string {
	h := sha256.New()
	for _, it := range items {
		fmt.Fprintf(h, "%s\t%s\n", it.ID, strconv.FormatFloat(it.Score, 'g', -1, 64))
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// selectShard keeps the items of shard s and describes the shard.
func selectShard(items []dataset.Item, s Shard) ([]dataset.Item, *ShardInfo) {
	si := &ShardInfo{Index: s.Index, Count: s.Count, SetSize: len(items), SetSHA256: setDigest(items), Positions: []int{}}
	var out []dataset.Item
	for i, it := range items {
		if ShardOf(it.ID, s.Count) == s.Index {
			out = append(out, it)
			si.Positions = append(si.Positions, i)
		}
	}
	return out, si
}

// Environment variables [ParseShard] reads for "auto".
const (
	// ShardCountEnv gives N for a Kubernetes Indexed Job when --shard-count
	// does not.
	ShardCountEnv = "VLMCMP_SHARD_COUNT"
)

// ParseShard reads a --shard value: "K/N" (1 ≤ K ≤ N), or "auto" for the
// scheduler's task: a Slurm job array (SLURM_ARRAY_TASK_ID,
// SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT; a stepped range uses
// SLURM_ARRAY_TASK_STEP) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX,
// from 0, with N from count or else the VLMCMP_SHARD_COUNT variable). count,
// when positive, is --shard-count. "" is the whole set. getenv is
// os.Getenv, or a fake in tests. Errors are one sentence saying what is
// wrong; they are usage errors (usage.Error).
func ParseShard(spec string, count int, getenv func(string) string) (Shard, error) {
	spec = strings.TrimSpace(spec)
	if count < 0 {
		return Shard{}, optionErrorf("--shard-count %d: the number of shards must be positive", count)
	}
	switch spec {
	case "":
		if count > 0 {
			return Shard{}, optionErrorf("--shard-count goes with --shard auto")
		}
		return Shard{}, nil
	case "auto":
		return shardFromEnv(count, getenv)
	}
	if count > 0 {
		return Shard{}, optionErrorf("--shard-count goes with --shard auto; --shard %s says N already", spec)
	}
	k, n, ok := strings.Cut(spec, "/")
	ki, err1 := strconv.Atoi(strings.TrimSpace(k))
	ni, err2 := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, optionErrorf("--shard %q: want K/N (the K-th of N shards, e.g. 2/8) or auto", spec)
	}
	s := Shard{ki, ni}
	if s.valid() != nil {
		return Shard{}, optionErrorf("--shard %s: K must be from 1 to N and N at least 1", spec)
	}
	return s, nil
}

func shardFromEnv(count int, getenv func(string) string) (Shard, error) {
	slurm := getenv("SLURM_ARRAY_TASK_ID")
	k8s := getenv("JOB_COMPLETION_INDEX")
	switch {
	case slurm != "" && k8s != "":
		return Shard{}, optionErrorf("--shard auto: both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are set, so the scheduler is unclear; give --shard K/N")
	case slurm != "":
		return shardFromSlurm(count, getenv)
	case k8s != "":
		idx, err := envInt("JOB_COMPLETION_INDEX", k8s)
		if err != nil {
			return Shard{}, err
		}
		n := count
		if n == 0 {
			v := getenv(ShardCountEnv)
			if v == "" {
				return Shard{}, optionErrorf("--shard auto: JOB_COMPLETION_INDEX=%d is set but the number of shards is not; give --shard-count N or set %s to the Job's completions", idx, ShardCountEnv)
			}
			if n, err = envInt(ShardCountEnv, v); err != nil {
				return Shard{}, err
			}
		}
		s := Shard{idx + 1, n}
		if s.valid() != nil {
			return Shard{}, optionErrorf("--shard auto: JOB_COMPLETION_INDEX=%d is not an index from 0 to %d of %d shards", idx, n-1, n)
		}
		return s, nil
	}
	return Shard{}, optionErrorf("--shard auto: neither a Slurm job array (SLURM_ARRAY_TASK_ID) nor a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) is in the environment; give --shard K/N")
}

// shardFromSlurm maps a Slurm array task onto K/N: the array must be one
// range (--array=0-99, 1-8, 0-20:2, with or without a %limit), whose tasks
// are numbered from SLURM_ARRAY_TASK_MIN.
func shardFromSlurm(count int, getenv func(string) string) (Shard, error) {
	id, err := envInt("SLURM_ARRAY_TASK_ID", getenv("SLURM_ARRAY_TASK_ID"))
	if err != nil {
		return Shard{}, err
	}
	minV := getenv("SLURM_ARRAY_TASK_MIN")
	if minV == "" {
		return Shard{}, optionErrorf("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_MIN is not; give --shard K/N")
	}
	lo, err := envInt("SLURM_ARRAY_TASK_MIN", minV)
	if err != nil {
		return Shard{}, err
	}
	step := 1
	if v := getenv("SLURM_ARRAY_TASK_STEP"); v != "" {
		if step, err = envInt("SLURM_ARRAY_TASK_STEP", v); err != nil {
			return Shard{}, err
		}
		if step < 1 {
			return Shard{}, optionErrorf("--shard auto: SLURM_ARRAY_TASK_STEP=%d is not a step", step)
		}
	}
	var n int
	if v := getenv("SLURM_ARRAY_TASK_COUNT"); v != "" {
		if n, err = envInt("SLURM_ARRAY_TASK_COUNT", v); err != nil {
			return Shard{}, err
		}
	} else if v := getenv("SLURM_ARRAY_TASK_MAX"); v != "" {
		hi, err := envInt("SLURM_ARRAY_TASK_MAX", v)
		if err != nil {
			return Shard{}, err
		}
		n = (hi-lo)/step + 1
	} else {
		return Shard{}, optionErrorf("--shard auto: SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX is; give --shard K/N")
	}
	if n < 1 {
		return Shard{}, optionErrorf("--shard auto: the Slurm array has no tasks (SLURM_ARRAY_TASK_COUNT, or SLURM_ARRAY_TASK_MAX below SLURM_ARRAY_TASK_MIN, gives %d); submit it as one range, --array=0-7 for 8 shards, or give --shard K/N", n)
	}
	if count > 0 && count != n {
		return Shard{}, optionErrorf("--shard auto: --shard-count %d disagrees with the Slurm array's %d tasks (SLURM_ARRAY_TASK_COUNT)", count, n)
	}
	off := id - lo
	s := Shard{off/step + 1, n}
	if off < 0 || off%step != 0 || s.valid() != nil {
		return Shard{}, optionErrorf("--shard auto: Slurm task %d is not one of %d consecutive tasks from SLURM_ARRAY_TASK_MIN=%d; submit the array as one range (--array=%d-%d)", id, n, lo, lo, lo+(n-1)*step)
	}
	return s, nil
}

func envInt(name, v string) (int, error) {
	i, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || i < 0 {
		return 0, optionErrorf("--shard auto: %s=%q is not a whole number", name, v)
	}
	return i, nil
}
