package eval

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
	"github.com/vlmcmp/vlmcmp/llm"
)

// ItemSet is the images of a run and the training scores the baselines use.
type ItemSet struct {
	Items       []dataset.Item
	TrainScores []float64
	// SplitName says which images: "val", "all" or the split file.
	SplitName string
	SplitFile string
	// Skipped counts the records of the data file that could not be used
	// (reported on stderr with their reasons).
	Skipped int
}

// SelectItems loads the ground truth at data (any shape package
// eval/dataset reads) and picks the images split names: "val" the held-out
// part of the manifest at defaultSplit (the split.json vlmcmp prepare
// writes), "all" every record, anything else a manifest file whose held-out
// part is used. Records the data file holds but cannot use are reported on
// warn with their reasons and left out.
func SelectItems(data, split, defaultSplit string, load dataset.Options, warn io.Writer) (*ItemSet, error) {
	ds, err := dataset.LoadWith(data, load)
	if err != nil {
		if ds != nil {
			reportSkipped(warn, ds)
		}
		return nil, err
	}
	set := &ItemSet{SplitName: split, Skipped: len(ds.Skipped)}
	reportSkipped(warn, ds)
	for _, w := range ds.Warnings {
		fmt.Fprintf(warn, "warning: %s\n", w)
	}
	if split == "all" {
		for _, it := range ds.Items {
			set.Items = append(set.Items, withDefaults(it))
			set.TrainScores = append(set.TrainScores, it.Score)
		}
		return set, nil
	}
	file := split
	if split == "" || split == "val" {
		file, set.SplitName = defaultSplit, "val"
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no split manifest at %s: run vlmcmp prepare --data %s first, or use --split all", file, data)
		}
	}
	set.SplitFile = file
	sp, err := dataset.ReadSplit(file)
	if err != nil {
		return nil, err
	}
	if sp.Data != "" && !samePath(sp.Data, data) {
		fmt.Fprintf(warn, "warning: split %s was made from %s, not %s\n", file, sp.Data, data)
	}

	// Held-out images that the data file has but could not use are left
	// out with a warning; images it does not have at all are an error.
	skipped := make(map[string]string, len(ds.Skipped))
	for _, p := range ds.Skipped {
		if p.ID != "" {
			skipped[p.ID] = p.Reason
		}
	}
	val := make([]string, 0, len(sp.Val))
	var dropped []string
	for _, id := range sp.Val {
		if _, bad := skipped[id]; bad {
			dropped = append(dropped, id)
			continue
		}
		val = append(val, id)
	}
	if len(dropped) > 0 {
		fmt.Fprintf(warn, "warning: %d held-out image(s) of %s left out, their records are unusable: %s\n",
			len(dropped), file, strings.Join(dropped, ", "))
	}
	items, err := ds.Subset(val)
	if err != nil {
		return nil, fmt.Errorf("split %s: %w", file, err)
	}
	for _, it := range items {
		set.Items = append(set.Items, withDefaults(it))
	}
	train := make([]string, 0, len(sp.Train))
	for _, id := range sp.Train {
		if _, bad := skipped[id]; !bad {
			train = append(train, id)
		}
	}
	// Training images missing from the data only thin the baselines' scores.
	tr, _ := ds.Subset(train)
	for _, it := range tr {
		set.TrainScores = append(set.TrainScores, it.Score)
	}
	if len(set.Items) == 0 {
		return nil, fmt.Errorf("split %s holds no held-out images", file)
	}
	return set, nil
}

// reportSkipped says on w how many records were skipped and why: the
// reasons counted, and the first few records.
func reportSkipped(w io.Writer, ds *dataset.Dataset) {
	if len(ds.Skipped) == 0 {
		return
	}
	counts := SkipCounts(ds.Skipped) // by kind of reason, as prepare reports them
	reasons := make([]string, 0, len(counts))
	for r, n := range counts {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
	}
	sort.Strings(reasons)
	fmt.Fprintf(w, "warning: %s: %d of %d records skipped (%s)\n", ds.Path, len(ds.Skipped), ds.Records, strings.Join(reasons, "; "))
	for i, p := range ds.Skipped {
		if i == 5 {
			fmt.Fprintf(w, "  ... and %d more\n", len(ds.Skipped)-5)
			break
		}
		fmt.Fprintf(w, "  %s\n", p)
	}
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// withDefaults makes a run's item of a ground-truth record: its image path made
// absolute (the run's files stay valid from any working directory), and a
// record without a prompt or system prompt of its own gets the ones vlmcmp
// prepare put in its fine-tuning examples (llm.DefaultPrompt and
// DefaultSystem), so that a fine-tuned model is asked as it was trained.
func withDefaults(it dataset.Item) dataset.Item {
	if abs, err := filepath.Abs(it.ImagePath); err == nil {
		it.ImagePath = abs
	}
	if it.Prompt == "" {
		it.Prompt = llm.DefaultPrompt
	}
	if it.System == "" {
		it.System = llm.DefaultSystem
	}
	return it
}

// SkipCounts counts skipped records by the kind of reason ("no image",
// "image not found", ...), as vlmcmp prepare and compare report them.
func SkipCounts(ps []dataset.Problem) map[string]int {
	m := map[string]int{}
	for _, p := range ps {
		m[reasonKind(p.Reason)]++
	}
	return m
}

func reasonKind(r string) string {
	switch {
	case strings.HasPrefix(r, "no image"):
		return "no image"
	case strings.HasPrefix(r, "no score"), strings.Contains(r, "holds no score"):
		return "no score"
	case strings.Contains(r, "outside"):
		return "score outside " + llm.ScaleText
	case strings.HasPrefix(r, "image not found"):
		return "image not found"
	case strings.HasPrefix(r, "image unreadable"), strings.HasPrefix(r, "image is an empty"), strings.Contains(r, "not a supported image"):
		return "image unreadable"
	case strings.HasPrefix(r, "duplicate image"):
		return "duplicate image"
	}
	return "other"
}
