package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval"
)

// sample is one ground-truth record as compare needs it.
type sample struct {
	ID     string // image path as the data file names it
	Image  string // the file to read
	Score  float64
	Prompt string
	System string
}

// evalSet is the images of a run and the training scores the baselines use.
type evalSet struct {
	Items       []eval.Item
	TrainScores []float64
	// SplitName says which images: "val", "all" or the split file.
	SplitName string
	SplitFile string
}

// selectItems loads the ground truth at data and picks the images split
// names: "val" the held-out part of the manifest at defaultSplit, "all" every
// record, anything else a manifest file whose held-out part is used.
func selectItems(data, split, defaultSplit string) (*evalSet, error) {
	samples, err := loadGroundTruth(data)
	if err != nil {
		return nil, err
	}
	set := &evalSet{SplitName: split}
	if split == "all" {
		for _, s := range samples {
			set.Items = append(set.Items, itemOf(s))
			set.TrainScores = append(set.TrainScores, s.Score)
		}
		return set, nil
	}
	file := split
	if split == "" || split == "val" {
		file, set.SplitName = defaultSplit, "val"
	}
	set.SplitFile = file
	train, val, err := loadSplit(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && (split == "" || split == "val") {
			return nil, fmt.Errorf("no split manifest at %s: run vlmcmp prepare --data %s first, or use --split all", file, data)
		}
		return nil, err
	}
	byID := make(map[string]sample, len(samples))
	for _, s := range samples {
		byID[s.ID] = s
	}
	var missing []string
	for _, id := range val {
		s, ok := byID[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		set.Items = append(set.Items, itemOf(s))
	}
	for _, id := range train {
		if s, ok := byID[id]; ok {
			set.TrainScores = append(set.TrainScores, s.Score)
		}
	}
	if len(missing) > 0 {
		more := ""
		if len(missing) > 3 {
			more = fmt.Sprintf(" and %d more", len(missing)-3)
			missing = missing[:3]
		}
		return nil, fmt.Errorf("split %s names images not in %s: %s%s (was the split written for another data file? rerun vlmcmp prepare)",
			file, data, strings.Join(missing, ", "), more)
	}
	if len(set.Items) == 0 {
		return nil, fmt.Errorf("split %s holds no held-out images", file)
	}
	return set, nil
}

func itemOf(s sample) eval.Item {
	img := s.Image
	if abs, err := filepath.Abs(img); err == nil {
		img = abs // the run's files stay valid from any working directory
	}
	return eval.Item{ID: s.ID, Image: img, Expected: s.Score, Prompt: s.Prompt, System: s.System}
}

// loadGroundTruth reads the ground-truth file: a JSON list of records with
// an image path and a score.
func loadGroundTruth(path string) ([]sample, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("ground truth %s: file not found (give --data FILE)", path)
		}
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, fmt.Errorf("ground truth %s: empty file", path)
	}
	var recs []struct {
		Image       string   `json:"image"`
		ImagePath   string   `json:"image_path"`
		Score       *float64 `json:"score"`
		SafetyScore *float64 `json:"safety_score"`
		Prompt      string   `json:"prompt"`
		System      string   `json:"system"`
	}
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("ground truth %s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("ground truth %s: no records", path)
	}
	dir := filepath.Dir(path)
	var out []sample
	for i, r := range recs {
		img := r.Image
		if img == "" {
			img = r.ImagePath
		}
		sc := r.Score
		if sc == nil {
			sc = r.SafetyScore
		}
		if img == "" || sc == nil {
			return nil, fmt.Errorf("ground truth %s: record %d has no image or no score", path, i+1)
		}
		file := img
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		out = append(out, sample{ID: img, Image: file, Score: *sc, Prompt: r.Prompt, System: r.System})
	}
	return out, nil
}

// loadSplit reads a split manifest: the IDs of the training and held-out
// images.
func loadSplit(path string) (train, val []string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("split manifest: %w", err)
	}
	var m struct {
		Train []string `json:"train"`
		Val   []string `json:"val"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, nil, fmt.Errorf("split manifest %s: %w", path, err)
	}
	return m.Train, m.Val, nil
}
