package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"unicode/utf8"
)

// DefaultValRatio and DefaultSeed are the split's defaults: 90/10 with the
// seed the original scripts used.
const (
	DefaultValRatio = 0.1
	DefaultSeed     = 42
)

// Split is a split manifest: which images of a data file are for training
// and which are held out. It is written by vlmcmp prepare (split.json) and
// read by every step that evaluates, so they all use the same held-out
// images.
type Split struct {
	// Data is the ground-truth file the split was made from, as given.
	Data string `json:"data"`
	// Seed and ValRatio are the split's parameters.
	Seed     int64   `json:"seed"`
	ValRatio float64 `json:"val_ratio"`
	// Stratified says the split keeps each score's share in both parts.
	Stratified bool `json:"stratified"`
	// Train and Val are item IDs (image paths relative to Data), sorted.
	Train []string `json:"train"`
	Val   []string `json:"val"`
}

// Stratify splits items into training and validation IDs, stratified by the
// score rounded to an integer, reproducibly for a seed.
//
// The validation size is round(len(items)×ratio), at least 1 when ratio > 0
// and there are at least 2 items, and leaves at least one training item. It
// is shared among score strata by largest remainder (Hamilton's method):
// each stratum gets floor(n_s×size/N) and the strata with the largest
// fractional parts one more. Items holding the same image bytes (the same
// Content) are then put on one side, which can shift the sizes by a few.
// Within a stratum, items are ordered by ID and
// shuffled with a PCG generator seeded by (seed, stratum), so adding items
// with another score does not reshuffle a stratum.
func Stratify(items []Item, ratio float64, seed int64) (*Split, error) {
	if math.IsNaN(ratio) || ratio < 0 || ratio >= 1 {
		return nil, fmt.Errorf("split: validation ratio %v is not in [0, 1)", ratio)
	}
	s := &Split{Seed: seed, ValRatio: ratio, Stratified: true, Train: []string{}, Val: []string{}}
	n := len(items)
	if n == 0 {
		return s, nil
	}
	nVal := int(math.Round(float64(n) * ratio))
	if ratio > 0 && nVal == 0 && n >= 2 {
		nVal = 1
	}
	if nVal >= n {
		nVal = n - 1
	}
	strata := map[int][]string{}
	for _, it := range items {
		k := int(math.Round(it.Score))
		strata[k] = append(strata[k], it.ID)
	}
	keys := make([]int, 0, len(strata))
	for k := range strata {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	type share struct {
		key  int
		base int
		frac float64
	}
	shares := make([]share, len(keys))
	given := 0
	for i, k := range keys {
		q := float64(len(strata[k])) * float64(nVal) / float64(n)
		shares[i] = share{k, int(math.Floor(q)), q - math.Floor(q)}
		given += shares[i].base
	}
	order := make([]int, len(shares))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		sa, sb := shares[order[a]], shares[order[b]]
		if sa.frac != sb.frac {
			return sa.frac > sb.frac
		}
		if la, lb := len(strata[sa.key]), len(strata[sb.key]); la != lb {
			return la > lb
		}
		return sa.key < sb.key
	})
	for i := 0; given < nVal; i = (i + 1) % len(order) {
		sh := &shares[order[i]]
		if sh.base < len(strata[sh.key]) {
			sh.base++
			given++
		}
	}
	for _, sh := range shares {
		ids := slices.Clone(strata[sh.key])
		sort.Strings(ids)
		r := rand.New(rand.NewPCG(uint64(seed), uint64(int64(sh.key))))
		r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		s.Val = append(s.Val, ids[:sh.base]...)
		s.Train = append(s.Train, ids[sh.base:]...)
	}
	keepSameImagesTogether(s, items)
	sort.Strings(s.Train)
	sort.Strings(s.Val)
	return s, nil
}

// keepSameImagesTogether moves the items that hold the same image bytes
// under different names (the same Content) to one side of s: the side of
// the group's first ID. Otherwise a model could be trained on the very image
// it is evaluated on.
func keepSameImagesTogether(s *Split, items []Item) {
	groups := map[string][]string{}
	for _, it := range items {
		if it.Content != "" {
			groups[it.Content] = append(groups[it.Content], it.ID)
		}
	}
	inVal := make(map[string]bool, len(s.Val))
	for _, id := range s.Val {
		inVal[id] = true
	}
	moved := false
	for _, ids := range groups {
		if len(ids) < 2 {
			continue
		}
		first := slices.Min(ids)
		for _, id := range ids {
			if inVal[id] != inVal[first] {
				inVal[id] = inVal[first]
				moved = true
			}
		}
	}
	if !moved {
		return
	}
	s.Train, s.Val = s.Train[:0], s.Val[:0]
	for _, it := range items {
		if inVal[it.ID] {
			s.Val = append(s.Val, it.ID)
		} else {
			s.Train = append(s.Train, it.ID)
		}
	}
}

// splitBytes holds, by position in Train and Val, the IDs that are not
// UTF-8: a JSON string would write U+FFFD for their invalid bytes and read
// back another name.
type splitBytes struct {
	TrainBytes map[int][]byte `json:"train_bytes,omitempty"`
	ValBytes   map[int][]byte `json:"val_bytes,omitempty"`
}

func nonUTF8(ids []string) map[int][]byte {
	var out map[int][]byte
	for i, id := range ids {
		if !utf8.ValidString(id) {
			if out == nil {
				out = map[int][]byte{}
			}
			out[i] = []byte(id)
		}
	}
	return out
}

func restoreBytes(ids []string, raw map[int][]byte) {
	for i, b := range raw {
		if i >= 0 && i < len(ids) {
			ids[i] = string(b)
		}
	}
}

// MarshalJSON writes s as tagged, with train_bytes and val_bytes for IDs
// that are not UTF-8, so that any file name round-trips.
func (s Split) MarshalJSON() ([]byte, error) {
	type plain Split
	return json.Marshal(struct {
		plain
		splitBytes
	}{plain(s), splitBytes{nonUTF8(s.Train), nonUTF8(s.Val)}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Split) UnmarshalJSON(data []byte) error {
	type plain Split
	var raw splitBytes
	v := struct {
		*plain
		*splitBytes
	}{(*plain)(s), &raw}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	restoreBytes(s.Train, raw.TrainBytes)
	restoreBytes(s.Val, raw.ValBytes)
	return nil
}

// WriteSplit writes s as indented JSON to path, creating its folder, through
// a temporary file renamed into place.
func WriteSplit(path string, s *Split) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("split %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("split: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("split: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("split: %w", err)
	}
	return nil
}

// ReadSplit reads a split manifest and checks it: both lists present, no ID
// in both or twice.
func ReadSplit(path string) (*Split, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("split manifest %s: file not found (run vlmcmp prepare)", path)
		}
		return nil, fmt.Errorf("split manifest: %w", err)
	}
	var s Split
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("split manifest %s: not a split: %w", path, err)
	}
	if s.Train == nil && s.Val == nil {
		return nil, fmt.Errorf("split manifest %s: no train or val list", path)
	}
	seen := map[string]string{}
	for _, part := range []struct {
		name string
		ids  []string
	}{{"train", s.Train}, {"val", s.Val}} {
		for _, id := range part.ids {
			if prev, ok := seen[id]; ok {
				return nil, fmt.Errorf("split manifest %s: %s is in %s and in %s", path, id, prev, part.name)
			}
			seen[id] = part.name
		}
	}
	return &s, nil
}
