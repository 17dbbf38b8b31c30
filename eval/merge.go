package eval

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
)

// IsSharded reports whether runDir is the folder of a sharded run: it holds
// a shards folder ([ShardsDir]) rather than a run.json of its own.
func IsSharded(runDir string) bool {
	st, err := os.Stat(ShardsDir(runDir))
	return err == nil && st.IsDir()
}

// listShards lists the shard folders of a run, ordered by N then K; other
// entries of the shards folder are ignored.
func listShards(runDir string) ([]Shard, error) {
	entries, err := os.ReadDir(ShardsDir(runDir))
	if err != nil {
		return nil, err
	}
	var out []Shard
	for _, e := range entries {
		if s, ok := parseShardFolder(e.Name()); ok && e.IsDir() {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count < out[j].Count
		}
		return out[i].Index < out[j].Index
	})
	return out, nil
}

// ShardSetError is why the shards of a run cannot be merged. Incomplete
// lists what is missing (shards never written, images without an answer):
// [MergeOptions.Partial] accepts those. Conflicts lists what does not fit
// together (shards of different N or image sets, an image in two shards, a
// model that is not the same in every shard): those are always refused.
type ShardSetError struct {
	Run        string
	Incomplete []string
	Conflicts  []string
	// Config is the config file the shards ran with (run.json's), for the
	// command that finishes them; "" when none.
	Config string
}

func (e *ShardSetError) Error() string {
	if len(e.Conflicts) > 0 {
		return fmt.Sprintf("the shards of run %s do not fit together: %s", e.Run, strings.Join(append(e.Conflicts, e.Incomplete...), "; "))
	}
	config := ""
	if e.Config != "" {
		config = " --config " + ShellQuote(e.Config)
	}
	return fmt.Sprintf("the shards of run %s are incomplete: %s; finish them with the command each shard ran (vlmcmp compare%s --output-dir %s --run-id %s --shard K/N), or give --partial to analyze what is there",
		e.Run, strings.Join(e.Incomplete, "; "), config, ShellQuote(filepath.Dir(e.Run)), ShellQuote(filepath.Base(e.Run)))
}

// MergeOptions are the settings of [ReadShards].
type MergeOptions struct {
	// Partial merges an incomplete set (missing shards, unanswered images)
	// instead of refusing it; what is missing is in ShardReport.Missing.
	Partial bool
	// Warn is told about torn last lines of predictions files; nil: none.
	Warn func(msg string, args ...any)
}

// ShardReport says what a merge found.
type ShardReport struct {
	// Count is N; Present the shards merged (K), in order.
	Count   int
	Present []int
	// Images per shard merged, in Present's order.
	Images []int
	// Missing describes what an accepted partial set lacks (empty when the
	// set is complete).
	Missing []string
	// SetSize is the number of images of the whole run, every shard's.
	SetSize int
}

// Merged names the shards merged and of how many, for people:
// "shards 1, 3 of 4".
func (r *ShardReport) Merged() string {
	parts := make([]string, len(r.Present))
	for i, k := range r.Present {
		parts[i] = strconv.Itoa(k)
	}
	return fmt.Sprintf("shards %s of %d", strings.Join(parts, ", "), r.Count)
}

// shardRun is one shard as read from its folder.
type shardRun struct {
	s    Shard
	info *RunInfo
	recs map[string][]Record
}

// ReadShards reads the shards of the sharded run at runDir and merges them
// into one run, as [ReadRun] returns an unsharded one: the images in the
// order of the whole set, every model's records of every shard. It refuses
// (a *ShardSetError) shards of different N or image sets, an image in two
// shards, shards that ran a model with different identities, and, unless
// opts.Partial, a missing shard or an image a model has no answer for (no
// line, or a line recording a missing answer: a server that could not be
// reached, kept failing or lacks the model; an error that is the request's
// own counts as answered, with no score). Nothing in the folder changes.
func ReadShards(runDir string, opts MergeOptions) (*RunInfo, map[string][]Record, *ShardReport, error) {
	shards, err := listShards(runDir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read shards of %s: %w", runDir, err)
	}
	if len(shards) == 0 {
		return nil, nil, nil, fmt.Errorf("%s has no shard folders (K-of-N) in %s", runDir, ShardsDir(runDir))
	}
	serr := &ShardSetError{Run: filepath.Clean(runDir)}
	if exists(filepath.Join(runDir, RunInfoFile)) {
		serr.Conflicts = append(serr.Conflicts, fmt.Sprintf("the folder holds an unsharded run (%s) beside the shards", RunInfoFile))
	}
	n := shards[0].Count
	if shards[len(shards)-1].Count != n {
		all := make([]string, len(shards))
		for i, s := range shards {
			all[i] = s.String()
		}
		serr.Conflicts = append(serr.Conflicts, fmt.Sprintf("shards of different N (%s): the shards of one run must all be K/N with one N", strings.Join(all, ", ")))
		return nil, nil, nil, serr
	}

	// Read every shard there is; a shard folder without a run.json is a
	// shard that never really started.
	var runs []*shardRun
	have := map[int]bool{}
	for _, s := range shards {
		dir := ShardDir(runDir, s)
		info, err := ReadRunInfo(dir)
		if err != nil {
			serr.Incomplete = append(serr.Incomplete, fmt.Sprintf("shard %s has no %s (%v)", s, RunInfoFile, err))
			continue
		}
		if info.Shard == nil || info.Shard.Shard() != s {
			serr.Conflicts = append(serr.Conflicts, fmt.Sprintf("%s is not the run.json of shard %s", filepath.Join(dir, RunInfoFile), s))
			continue
		}
		if len(info.Shard.Positions) != len(info.Items) {
			serr.Conflicts = append(serr.Conflicts, fmt.Sprintf("%s lists %d images but %d positions", filepath.Join(dir, RunInfoFile), len(info.Items), len(info.Shard.Positions)))
			continue
		}
		_, recs, err := ReadRun(dir, opts.Warn)
		if err != nil {
			return nil, nil, nil, err
		}
		runs = append(runs, &shardRun{s: s, info: info, recs: recs})
		if serr.Config == "" {
			serr.Config = info.Config
		}
		have[s.Index] = true
	}
	var missing []string
	for k := 1; k <= n; k++ {
		if !have[k] && !exists(ShardDir(runDir, Shard{k, n})) {
			missing = append(missing, Shard{k, n}.String())
		}
	}
	if len(missing) > 0 {
		what := "shard " + missing[0] + " is"
		if len(missing) > 1 {
			what = "shards " + strings.Join(missing, ", ") + " are"
		}
		serr.Incomplete = append([]string{fmt.Sprintf("%s missing (never run, or its folder is not in %s)", what, ShardsDir(runDir))}, serr.Incomplete...)
	}
	if len(runs) == 0 {
		return nil, nil, nil, serr
	}
	serr.Conflicts = append(serr.Conflicts, checkShardSet(runs)...)
	serr.Incomplete = append(serr.Incomplete, unanswered(runs)...)
	if len(serr.Conflicts) > 0 || (len(serr.Incomplete) > 0 && !opts.Partial) {
		return nil, nil, nil, serr
	}
	info, recs := mergeShards(runDir, runs)
	rep := &ShardReport{Count: n, Missing: serr.Incomplete, SetSize: runs[0].info.Shard.SetSize}
	for _, r := range runs {
		rep.Present = append(rep.Present, r.s.Index)
		rep.Images = append(rep.Images, len(r.info.Items))
	}
	return info, recs, rep, nil
}

// checkShardSet lists what does not fit together among shards of one N:
// another image set, an image in two shards or in the wrong one, a model
// whose identity differs between shards.
func checkShardSet(runs []*shardRun) []string {
	var out []string
	first := runs[0]
	for _, r := range runs[1:] {
		if r.info.Shard.SetSHA256 != first.info.Shard.SetSHA256 || r.info.Shard.SetSize != first.info.Shard.SetSize {
			out = append(out, fmt.Sprintf("shards %s and %s ran on different image sets (%d and %d images; the data, split or limit differ)",
				first.s, r.s, first.info.Shard.SetSize, r.info.Shard.SetSize))
		}
	}
	// Every image in one shard, the one its ID hashes to.
	owner := map[string]Shard{}
	posOwner := map[int]Shard{}
	var overlaps []string
	for _, r := range runs {
		for i, it := range r.info.Items {
			if o, dup := owner[it.ID]; dup && o != r.s {
				overlaps = append(overlaps, fmt.Sprintf("image %s is in shards %s and %s", it.ID, o, r.s))
			} else if !dup {
				owner[it.ID] = r.s
			}
			if k := ShardOf(it.ID, r.s.Count); k != r.s.Index {
				overlaps = append(overlaps, fmt.Sprintf("image %s is in shard %s but belongs to shard %d/%d", it.ID, r.s, k, r.s.Count))
			}
			p := r.info.Shard.Positions[i]
			if p < 0 || p >= r.info.Shard.SetSize {
				overlaps = append(overlaps, fmt.Sprintf("shard %s places image %s at %d, outside the set of %d", r.s, it.ID, p, r.info.Shard.SetSize))
			} else if o, dup := posOwner[p]; dup && o != r.s {
				overlaps = append(overlaps, fmt.Sprintf("shards %s and %s both hold image %d of the set", o, r.s, p+1))
			} else {
				posOwner[p] = r.s
			}
		}
	}
	// Answers only for the shard's own images.
	for _, r := range runs {
		own := make(map[string]bool, len(r.info.Items))
		for _, it := range r.info.Items {
			own[it.ID] = true
		}
		for _, m := range slices.Sorted(maps.Keys(r.recs)) {
			for _, rec := range r.recs[m] {
				if !own[rec.ID] {
					overlaps = append(overlaps, fmt.Sprintf("shard %s has an answer of %s for image %s, which is not one of its images", r.s, m, rec.ID))
					break
				}
			}
		}
	}
	if len(overlaps) > 3 {
		overlaps = append(overlaps[:3], fmt.Sprintf("and %d more overlaps", len(overlaps)-3))
	}
	out = append(out, overlaps...)
	// One identity per model across shards.
	for _, name := range mergedModels(runs) {
		var ref *shardRun
		for _, r := range runs {
			id, ok := r.info.Identities[name]
			if !ok {
				continue
			}
			if ref == nil {
				ref = r
				continue
			}
			if ch := identityChanges(ref.info.Identities[name], id); len(ch) > 0 {
				out = append(out, fmt.Sprintf("model %s is not the same in shards %s and %s (%s)", name, ref.s, r.s, strings.Join(ch, "; ")))
			}
		}
	}
	return out
}

// mergedModels is every model of the shards, in the order the shards list
// them.
func mergedModels(runs []*shardRun) []string {
	var out []string
	for _, r := range runs {
		for _, m := range r.info.Models {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
		for m := range r.recs {
			if !slices.Contains(out, m) && !slices.Contains(r.info.Models, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// unanswered lists, per shard and model, the images without an answer: no
// line, or a line recording a missing answer.
func unanswered(runs []*shardRun) []string {
	var out []string
	models := mergedModels(runs)
	for _, r := range runs {
		for _, m := range models {
			got := make(map[string]bool, len(r.recs[m]))
			for _, rec := range r.recs[m] {
				got[rec.ID] = rec.Missing == ""
			}
			seen := map[string]bool{}
			miss, total := 0, 0
			for _, it := range r.info.Items {
				if seen[it.ID] {
					continue
				}
				seen[it.ID] = true
				total++
				if !got[it.ID] {
					miss++
				}
			}
			if miss > 0 {
				out = append(out, fmt.Sprintf("shard %s: %s has answered %d of its %d images", r.s, m, total-miss, total))
			}
		}
	}
	return out
}

// mergeShards makes one run of consistent shards.
func mergeShards(runDir string, runs []*shardRun) (*RunInfo, map[string][]Record) {
	first := runs[0].info
	info := &RunInfo{
		ID: filepath.Base(runDir), Created: first.Created,
		Data: first.Data, Split: first.Split, SplitName: first.SplitName, Limit: first.Limit,
		Models: mergedModels(runs), Baseline: first.Baseline, Config: first.Config,
		TrainScores: first.TrainScores, Identities: map[string]ModelIdentity{},
	}
	type placed struct {
		pos int
		it  dataset.Item
	}
	var items []placed
	recs := map[string][]Record{}
	for _, r := range runs {
		if r.info.Created.Before(info.Created) {
			info.Created = r.info.Created
		}
		for i, it := range r.info.Items {
			items = append(items, placed{r.info.Shard.Positions[i], it})
		}
		for name, id := range r.info.Identities {
			if _, ok := info.Identities[name]; !ok {
				info.Identities[name] = id
			}
		}
		for m, rs := range r.recs {
			recs[m] = append(recs[m], rs...)
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].pos < items[j].pos })
	info.Items = make([]dataset.Item, len(items))
	for i, p := range items {
		info.Items[i] = p.it
	}
	return info, recs
}

// ReadAnyRun reads a run as [ReadRun] does, or, when runDir is sharded,
// merges its shards with [ReadShards] (rep is nil for an unsharded run).
func ReadAnyRun(runDir string, opts MergeOptions) (info *RunInfo, recs map[string][]Record, rep *ShardReport, err error) {
	if IsSharded(runDir) {
		return ReadShards(runDir, opts)
	}
	info, recs, err = ReadRun(runDir, opts.Warn)
	return info, recs, nil, err
}

// errShardedRun is the error of a whole-run operation on a sharded run.
func errShardedRun(runDir string) error {
	return fmt.Errorf("run %s is sharded (its shards are in %s): give --shard K/N to run or resume one shard, and merge them with vlmcmp analyze --run %s", runDir, ShardsDir(runDir), runDir)
}
