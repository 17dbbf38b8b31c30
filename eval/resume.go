package eval

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
)

// checkResume refuses to resume a run with another selection of images
// than the one it started with: a --data, --split or --limit that is not
// run.json's (an OptionError naming each), or a data file whose images or
// labels changed since (a corrected label: the answers so far were scored
// against the old one). A data file that can no longer be read is left
// alone unless --data names it: the run keeps its own images.
func (c *Comparison) checkResume() error {
	info, opts := c.Info, c.opts
	var flags []string
	if opts.Data != "" && info.Data != "" && !samePath(opts.Data, info.Data) {
		flags = append(flags, fmt.Sprintf("--data %s is not the run's data file %s", opts.Data, info.Data))
	}
	if opts.Split != "" && !sameSplit(opts.Split, info) {
		flags = append(flags, fmt.Sprintf("--split %s is not the run's split %s", opts.Split, runSplit(info)))
	}
	if opts.Limit != 0 && opts.Limit != info.Limit {
		run := "none"
		if info.Limit > 0 {
			run = strconv.Itoa(info.Limit)
		}
		flags = append(flags, fmt.Sprintf("--limit %d is not the run's limit (%s)", opts.Limit, run))
	}
	if len(flags) > 0 {
		return optionErrorf("cannot resume run %s: %s; a resumed run keeps the images it started with: leave these flags out to finish it, or start another run (another --run-id)",
			c.Dir, strings.Join(flags, "; "))
	}
	if info.Data == "" {
		return nil
	}
	set, err := c.reselect()
	if err != nil {
		if opts.Data != "" {
			return err
		}
		c.log().Debug("resume: the run's data cannot be read again; its images are kept", "data", info.Data, "err", err)
		return nil
	}
	c.set = set
	var changes []string
	switch si := info.Shard; {
	case si != nil && setDigest(set) != si.SetSHA256:
		changes = itemChanges(info.Items, set, "is no longer in it")
		if len(set) != si.SetSize {
			changes = append(changes, fmt.Sprintf("it holds %d images, the run %d", len(set), si.SetSize))
		}
	case si == nil:
		changes = itemChanges(info.Items, set, "is no longer in it")
		if extra := len(set) - len(info.Items); extra > 0 && len(changes) == 0 {
			changes = append(changes, fmt.Sprintf("it holds %d images, the run %d", len(set), len(info.Items)))
		}
	}
	if len(changes) > 0 {
		return fmt.Errorf("cannot resume run %s: its data %s changed since the run started (%s): answers so far were scored against the old labels; start another run (another --run-id)",
			c.Dir, info.Data, strings.Join(changes, "; "))
	}
	return nil
}

// reselect selects the run's images again from its data, split and limit,
// as they are now: for a shard, the whole set of the run.
func (c *Comparison) reselect() ([]dataset.Item, error) {
	info := c.Info
	split := info.SplitName
	if split != "val" && split != "all" {
		split = info.Split
	}
	set, err := SelectItems(info.Data, split, info.Split, dataset.Options{AllowOutside: c.opts.AllowOutside || c.cfg.AllowOutside}, io.Discard)
	if err != nil {
		return nil, err
	}
	items := set.Items
	if info.Limit > 0 && info.Limit < len(items) {
		items = items[:info.Limit]
	}
	return items, nil
}

// sameSplit reports whether a --split value names the run's split.
func sameSplit(split string, info *RunInfo) bool {
	switch {
	case split == "val" || split == "all":
		return split == info.SplitName
	case info.SplitName == "val" || info.SplitName == "all":
		return false
	}
	return samePath(split, info.Split)
}

// runSplit is the run's split as --split takes it.
func runSplit(info *RunInfo) string {
	if info.SplitName == "val" || info.SplitName == "all" || info.SplitName == "" {
		return cmpOr(info.SplitName, "val")
	}
	return info.Split
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// itemChanges says how the images of a run (or of one of its shards), old,
// differ in the set now: a label changed, an image gone (gone says so:
// "is no longer in it"). At most three are named, then how many more.
func itemChanges(old, now []dataset.Item, gone string) []string {
	byID := make(map[string]float64, len(now))
	for _, it := range now {
		if _, dup := byID[it.ID]; !dup {
			byID[it.ID] = it.Score
		}
	}
	var out []string
	for _, it := range old {
		switch s, ok := byID[it.ID]; {
		case !ok:
			out = append(out, fmt.Sprintf("image %s %s", strconv.Quote(it.ID), gone))
		case s != it.Score:
			out = append(out, fmt.Sprintf("the label of %s changed from %s to %s", strconv.Quote(it.ID), fmtScore(it.Score), fmtScore(s)))
		}
	}
	if len(out) > 3 {
		out = append(out[:3], fmt.Sprintf("and %d more", len(out)-3))
	}
	return out
}

func fmtScore(s float64) string { return strconv.FormatFloat(s, 'g', -1, 64) }
