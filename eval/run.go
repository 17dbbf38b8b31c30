package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/eval/dataset"
)

// RunInfoFile is the name of a run's manifest inside the run folder.
const RunInfoFile = "run.json"

// RunInfo describes a run: what it evaluates on and with which models. It is
// written when the run starts and read back by a resumed run, so that a
// resume evaluates exactly the same images.
type RunInfo struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	// Data is the ground-truth file; Split the split manifest or "all";
	// SplitName which part was evaluated ("val", "all" or a file).
	Data      string `json:"data,omitempty"`
	Split     string `json:"split,omitempty"`
	SplitName string `json:"split_name,omitempty"`
	Limit     int    `json:"limit,omitempty"`
	// Models in the order they were asked for; Baseline the model the
	// others are compared against.
	Models   []string `json:"models"`
	Baseline string   `json:"baseline,omitempty"`
	// Config is the config file used, if any.
	Config string `json:"config,omitempty"`
	// Items are the images of the run.
	Items []dataset.Item `json:"items"`
	// TrainScores are the training split's scores, from which the
	// baselines predict.
	TrainScores []float64 `json:"train_scores,omitempty"`
	// Identities records what each model was when its first answer was
	// asked for, by model name, so that a resume cannot mix two models'
	// answers under one name (see [CheckIdentity]).
	Identities map[string]ModelIdentity `json:"identities,omitempty"`
	// Shard is set in the run.json of one shard of a sharded run (see
	// [ShardDir]): which part of the images it holds.
	Shard *ShardInfo `json:"shard,omitempty"`
}

// WriteRunInfo writes info to dir/run.json, through run.json.tmp renamed
// into place; a failed write (a full disk) removes the temporary file.
func WriteRunInfo(dir string, info *RunInfo) error {
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("run folder: %w", err)
	}
	tmp := filepath.Join(dir, RunInfoFile+".tmp")
	if err := writeSynced(tmp, append(data, '\n')); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write run info %s: %w", filepath.Join(dir, RunInfoFile), err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, RunInfoFile)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write run info: %w", err)
	}
	return nil
}

// writeSynced writes data to path and syncs it before closing.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadRunInfo reads dir/run.json. When run.json is missing but the
// run.json.tmp of an interrupted write (a crash, a full disk) is complete, it
// is read instead; the owner of the folder puts it in place ([LockRun]). An
// incomplete run.json.tmp is reported as such rather than as "not a run
// folder". Reading changes nothing in the folder.
func ReadRunInfo(dir string) (*RunInfo, error) {
	path := filepath.Join(dir, RunInfoFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return readRunInfoTmp(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read run info: %w", err)
	}
	var info RunInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &info, nil
}

// readRunInfoTmp reads the run.json.tmp of a folder without run.json.
func readRunInfoTmp(dir string) (*RunInfo, error) {
	tmp := filepath.Join(dir, RunInfoFile+".tmp")
	data, err := os.ReadFile(tmp)
	if err != nil {
		return nil, fmt.Errorf("%s is not a run folder: no %s", dir, RunInfoFile)
	}
	var info RunInfo
	if err := json.Unmarshal(data, &info); err != nil || info.ID == "" {
		return nil, fmt.Errorf("%s is not a run folder yet: its %s was never completed (%s was cut short, as a full disk leaves it); free some space and start the run again with the same --run-id", dir, RunInfoFile, tmp)
	}
	return &info, nil
}

// tidyRunInfo settles what an interrupted [WriteRunInfo] left, for the
// folder's owner: a complete run.json.tmp without run.json becomes run.json;
// an incomplete one, or one beside run.json, is removed.
func tidyRunInfo(dir string) error {
	path := filepath.Join(dir, RunInfoFile)
	tmp := path + ".tmp"
	data, err := os.ReadFile(tmp)
	if err != nil {
		return nil // none
	}
	if _, err := os.Stat(path); err == nil {
		return os.Remove(tmp)
	}
	var info RunInfo
	if err := json.Unmarshal(data, &info); err != nil || info.ID == "" {
		return os.Remove(tmp)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("recover %s from %s: %w", path, filepath.Base(tmp), err)
	}
	return nil
}

// PredictionsDir is where a run keeps its predictions files.
func PredictionsDir(runDir string) string { return filepath.Join(runDir, "predictions") }

// PredictionsPath is the predictions file of model in a run.
func PredictionsPath(runDir, model string) string {
	return filepath.Join(PredictionsDir(runDir), model+".jsonl")
}

// NewRunID names a run by its start time, so that names sort by age.
func NewRunID(t time.Time) string { return t.Format("20060102-150405") }

// FindRun is the run folder a command is about: dir when given, else the
// LatestRun under outputDir, else under the output folder of the config
// at configPath (config.Find's rules: "" looks for ./vlmcmp.yaml).
func FindRun(dir, outputDir, configPath string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if outputDir == "" {
		cfg, err := config.Find(configPath)
		if err != nil {
			return "", err
		}
		outputDir = cfg.OutputPath()
	}
	return LatestRun(outputDir)
}

// LatestRun is the run folder under outputDir most recently created
// (by run.json's time, for a sharded run its earliest shard's; the name
// breaks ties).
func LatestRun(outputDir string) (string, error) {
	entries, err := os.ReadDir(outputDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("no runs in %s: it does not exist (run vlmcmp compare first)", outputDir)
		}
		return "", fmt.Errorf("find latest run: %w", err)
	}
	type run struct {
		dir     string
		created time.Time
	}
	var runs []run
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(outputDir, e.Name())
		created, ok := runCreated(dir)
		if !ok {
			continue
		}
		runs = append(runs, run{dir, created})
	}
	if len(runs) == 0 {
		return "", fmt.Errorf("no runs in %s (run vlmcmp compare first)", outputDir)
	}
	sort.Slice(runs, func(i, j int) bool {
		if !runs[i].created.Equal(runs[j].created) {
			return runs[i].created.Before(runs[j].created)
		}
		return runs[i].dir < runs[j].dir
	})
	return runs[len(runs)-1].dir, nil
}

// runCreated is when the run at dir started: its run.json's time, or for a
// sharded run the earliest of its shards'; ok is false when dir is not a run.
func runCreated(dir string) (created time.Time, ok bool) {
	if info, err := ReadRunInfo(dir); err == nil {
		return info.Created, true
	}
	shards, _ := listShards(dir)
	for _, s := range shards {
		if info, err := ReadRunInfo(ShardDir(dir, s)); err == nil && (!ok || info.Created.Before(created)) {
			created, ok = info.Created, true
		}
	}
	return created, ok
}

// ReadRun reads every predictions file of a run: the models of run.json in
// their order, then any other file found. warn is told about torn last lines,
// which are left out.
func ReadRun(runDir string, warn func(msg string, args ...any)) (*RunInfo, map[string][]Record, error) {
	info, err := ReadRunInfo(runDir)
	if err != nil {
		return nil, nil, err
	}
	files, err := filepath.Glob(filepath.Join(PredictionsDir(runDir), "*.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	models := append([]string(nil), info.Models...)
	known := map[string]bool{}
	for _, m := range models {
		known[m] = true
	}
	for _, f := range files {
		name := filepath.Base(f)
		name = name[:len(name)-len(".jsonl")]
		if !known[name] {
			models = append(models, name)
			known[name] = true
		}
	}
	out := map[string][]Record{}
	for _, m := range models {
		path := PredictionsPath(runDir, m)
		res, err := ReadPredictions(path)
		if err != nil {
			return nil, nil, err
		}
		if res.Torn && warn != nil {
			warn("torn last line left out (an interrupted write); vlmcmp compare --resume redoes it", "file", path)
		}
		out[m] = res.Records
	}
	info.Models = models
	return info, out, nil
}
