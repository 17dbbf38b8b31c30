package eval

import (
	"encoding/json"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
)

// runItem is how run.json writes an item: the field names it has always
// had ("image", "expected"), so that runs written before the run's items
// became dataset.Items still resume, and files stay as they were.
type runItem struct {
	ID       string  `json:"id"`
	Image    string  `json:"image"`
	Expected float64 `json:"expected"`
	Prompt   string  `json:"prompt,omitempty"`
	System   string  `json:"system,omitempty"`
}

// MarshalJSON writes info with its items in run.json's item form; every
// other field as tagged.
func (info RunInfo) MarshalJSON() ([]byte, error) {
	type plain RunInfo // RunInfo's fields without its methods
	items := make([]runItem, len(info.Items))
	for i, it := range info.Items {
		items[i] = runItem{ID: it.ID, Image: it.ImagePath, Expected: it.Score, Prompt: it.Prompt, System: it.System}
	}
	return json.Marshal(struct {
		plain
		Items []runItem `json:"items"`
	}{plain(info), items})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (info *RunInfo) UnmarshalJSON(data []byte) error {
	type plain RunInfo
	v := struct {
		*plain
		Items []runItem `json:"items"`
	}{plain: (*plain)(info)}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	info.Items = make([]dataset.Item, len(v.Items))
	for i, it := range v.Items {
		info.Items[i] = dataset.Item{ID: it.ID, ImagePath: it.Image, Score: it.Expected, Prompt: it.Prompt, System: it.System}
	}
	return nil
}
