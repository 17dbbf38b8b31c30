package eval

import (
	"encoding/json"
	"unicode/utf8"

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
	// IDBytes and ImageBytes hold ID and Image when they are not UTF-8
	// (see [rawBytes]).
	IDBytes    []byte `json:"id_bytes,omitempty"`
	ImageBytes []byte `json:"image_bytes,omitempty"`
}

// rawBytes is s's bytes when s is not valid UTF-8, nil otherwise. JSON
// strings hold only UTF-8: encoding/json writes U+FFFD for each invalid
// byte, so that a file name that is not UTF-8 (café.png in Latin-1) would
// come back as another name. Such a string is written twice: as the
// readable string, and its bytes (base64) beside it, which [fromRaw] reads
// back.
func rawBytes(s string) []byte {
	if utf8.ValidString(s) {
		return nil
	}
	return []byte(s)
}

// fromRaw is the string a JSON field and its bytes field stand for.
func fromRaw(s string, b []byte) string {
	if b != nil {
		return string(b)
	}
	return s
}

// MarshalJSON writes info with its items in run.json's item form; every
// other field as tagged.
func (info RunInfo) MarshalJSON() ([]byte, error) {
	type plain RunInfo // RunInfo's fields without its methods
	items := make([]runItem, len(info.Items))
	for i, it := range info.Items {
		items[i] = runItem{ID: it.ID, Image: it.ImagePath, Expected: it.Score, Prompt: it.Prompt, System: it.System,
			IDBytes: rawBytes(it.ID), ImageBytes: rawBytes(it.ImagePath)}
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
		info.Items[i] = dataset.Item{ID: fromRaw(it.ID, it.IDBytes), ImagePath: fromRaw(it.Image, it.ImageBytes),
			Score: it.Expected, Prompt: it.Prompt, System: it.System}
	}
	return nil
}
