package openaiclient

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
	"github.com/vlmcmp/vlmcmp/llm"
)

// Defaults of fine-tuning data preparation.
const (
	// DefaultFineTuneModel is the base model the original scripts tuned.
	DefaultFineTuneModel = "gpt-4o-mini-2024-07-18"
)

// Limits of the fine-tuning API that Prepare checks before anything is
// uploaded (OpenAI fine-tuning and vision fine-tuning guides).
const (
	MinTrainingExamples  = 10
	MaxImagesPerExample  = 64
	MaxImageBytes        = 10 << 20
	MaxExampleTokens     = 65536 // training context of gpt-4o(-mini) and gpt-4.1 fine-tuning
	MaxTrainingFileBytes = 512 << 20
)

// Files are the four JSONL files Prepare writes, inside the output folder.
const (
	TrainImagesFile = "train_with_images.jsonl"
	ValImagesFile   = "val_with_images.jsonl"
	TrainTextFile   = "train_text_only.jsonl"
	ValTextFile     = "val_text_only.jsonl"
	SplitFile       = "split.json"
	SummaryFile     = "summary.json"
)

// imageFineTuneModels are the base models OpenAI's docs list as accepting
// images in fine-tuning data: gpt-4o-2024-08-06 (OpenAI vision fine-tuning
// guide) and gpt-4.1-2025-04-14 (Azure OpenAI vision fine-tuning page).
var imageFineTuneModels = []string{"gpt-4o-2024-08-06", "gpt-4.1-2025-04-14", "gpt-4.1"}

// AcceptsImages reports whether base model is known to accept images in
// fine-tuning data. gpt-4o-mini is not, at the time of writing.
func AcceptsImages(model string) bool {
	for _, m := range imageFineTuneModels {
		if model == m {
			return true
		}
	}
	return false
}

// PrepareOptions configure [Prepare].
type PrepareOptions struct {
	// Train and Val are the split's items.
	Train, Val []dataset.Item
	// Prompt and System, when set, replace every record's own; records
	// without their own use llm.DefaultPrompt and llm.DefaultSystem.
	Prompt, System string
	// Detail is the image detail the examples use (default low); images are
	// scaled to what the API keeps at that detail.
	Detail string
	// Model is the base model the estimate and checks are for (default
	// DefaultFineTuneModel); Epochs the epochs the cost estimate assumes
	// (default 3).
	Model  string
	Epochs int
	// OutDir receives the files.
	OutDir string
	// Prices price the training estimate; nil means DefaultPrices.
	Prices Prices
}

// PartSummary describes one JSONL file pair's examples.
type PartSummary struct {
	Examples int `json:"examples"`
	// Scores counts examples per integer score.
	Scores map[int]int `json:"scores"`
	// TextTokens and ImageTokens are estimated tokens per epoch (text
	// counted at 4 bytes a token, images by OpenAI's formula).
	TextTokens  int `json:"text_tokens_est"`
	ImageTokens int `json:"image_tokens_est"`
	// MaxExampleTokens is the largest example's estimate.
	MaxExampleTokens int `json:"max_example_tokens_est"`
	// Bytes is the with-images file's size.
	Bytes int64 `json:"bytes"`
}

// PrepareSummary is what Prepare wrote and what it found.
type PrepareSummary struct {
	Model  string      `json:"model"`
	Detail string      `json:"detail"`
	Train  PartSummary `json:"train"`
	Val    PartSummary `json:"val"`
	// Epochs and TrainingCostPerEpochUSD estimate the job's cost from the
	// training file's estimated tokens (images included) and the model's
	// training price; EstimatedCostUSD is for Epochs epochs.
	Epochs                  int     `json:"epochs"`
	TrainingCostPerEpochUSD float64 `json:"training_cost_per_epoch_usd_est"`
	EstimatedCostUSD        float64 `json:"training_cost_usd_est"`
	// Problems are what the fine-tuning API would reject; Warnings what it
	// would accept but the user should know.
	Problems []string `json:"problems,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Skipped are the items whose image could not be encoded.
	Skipped []dataset.Problem `json:"skipped,omitempty"`
	// Files are the paths written.
	Files []string `json:"files"`
}

// chat message shapes of a fine-tuning example.
type ftPart struct {
	Type     string      `json:"type"`
	Text     string      `json:"text,omitempty"`
	ImageURL *ftImageURL `json:"image_url,omitempty"`
}

type ftImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

type ftMessage struct {
	Role    string `json:"role"`
	Content any    `json:"content"` // string or []ftPart
}

type ftExample struct {
	Messages []ftMessage `json:"messages"`
}

// TargetAnswer is the assistant answer an item is trained on: its own
// answer text when it has one, else "Safety score: N/10".
func TargetAnswer(it dataset.Item) string {
	if it.Answer != "" {
		return it.Answer
	}
	return "Safety score: " + strconv.FormatFloat(it.Score, 'f', -1, 64) + "/10"
}

// Prepare writes the fine-tuning files for train and val (with images as
// base64 data URLs, and text only) to OutDir, checks them as the
// fine-tuning API would, and returns the summary. Items whose image cannot
// be read are skipped and listed; a problem the API would reject is listed
// in Problems, not returned as an error (the caller decides).
func Prepare(opts PrepareOptions) (*PrepareSummary, error) {
	if opts.Detail == "" {
		opts.Detail = DetailLow
	}
	if !ValidDetail(opts.Detail) {
		return nil, fmt.Errorf("prepare: detail %q is not one of low, high, auto", opts.Detail)
	}
	if opts.Model == "" {
		opts.Model = DefaultFineTuneModel
	}
	if opts.Epochs <= 0 {
		opts.Epochs = 3
	}
	if opts.Prices == nil {
		opts.Prices = DefaultPrices()
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	sum := &PrepareSummary{Model: opts.Model, Detail: opts.Detail, Epochs: opts.Epochs}
	parts := []struct {
		items     []dataset.Item
		img, text string
		part      *PartSummary
		name      string
	}{
		{opts.Train, TrainImagesFile, TrainTextFile, &sum.Train, "train"},
		{opts.Val, ValImagesFile, ValTextFile, &sum.Val, "val"},
	}
	for _, p := range parts {
		if err := writePart(opts, sum, p.items, p.name, filepath.Join(opts.OutDir, p.img), filepath.Join(opts.OutDir, p.text), p.part); err != nil {
			return nil, err
		}
	}
	pr, ok := opts.Prices.Lookup(opts.Model)
	if ok && pr.Training > 0 {
		sum.TrainingCostPerEpochUSD = float64(sum.Train.TextTokens+sum.Train.ImageTokens) * pr.Training / 1e6
		sum.EstimatedCostUSD = sum.TrainingCostPerEpochUSD * float64(opts.Epochs)
	} else {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("no training price known for %s: the cost is not estimated", opts.Model))
	}
	if sum.Train.Examples < MinTrainingExamples {
		sum.Problems = append(sum.Problems, fmt.Sprintf("%d training examples: the fine-tuning API needs at least %d", sum.Train.Examples, MinTrainingExamples))
	}
	if sum.Val.Examples == 0 {
		sum.Warnings = append(sum.Warnings, "no validation examples: the job will report no validation loss")
	}
	if sum.Train.Bytes > MaxTrainingFileBytes {
		sum.Problems = append(sum.Problems, fmt.Sprintf("%s is %d MB: the API takes files up to %d MB", TrainImagesFile, sum.Train.Bytes>>20, MaxTrainingFileBytes>>20))
	}
	if !AcceptsImages(opts.Model) {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("%s is not known to accept images in fine-tuning (gpt-4o-2024-08-06 and gpt-4.1-2025-04-14 do): use %s and %s with it, or choose one of those models",
			opts.Model, TrainTextFile, ValTextFile))
	}
	return sum, nil
}

func writePart(opts PrepareOptions, sum *PrepareSummary, items []dataset.Item, name, imgPath, textPath string, ps *PartSummary) error {
	fi, err := os.Create(imgPath)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer fi.Close()
	ft, err := os.Create(textPath)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer ft.Close()
	wi, wt := bufio.NewWriter(fi), bufio.NewWriter(ft)
	ps.Scores = map[int]int{}
	for _, it := range items {
		data, err := os.ReadFile(it.ImagePath)
		if err != nil {
			sum.Skipped = append(sum.Skipped, dataset.Problem{ID: it.ID, Reason: "image unreadable: " + err.Error()})
			continue
		}
		img, err := encodeForFineTuning(data, opts.Detail)
		if err != nil {
			sum.Skipped = append(sum.Skipped, dataset.Problem{ID: it.ID, Reason: err.Error()})
			continue
		}
		prompt, system := it.Prompt, it.System
		if opts.Prompt != "" || prompt == "" {
			prompt = firstNonEmpty(opts.Prompt, llm.DefaultPrompt)
		}
		if opts.System != "" || system == "" {
			system = firstNonEmpty(opts.System, llm.DefaultSystem)
		}
		answer := TargetAnswer(it)
		withImg := ftExample{Messages: []ftMessage{
			{Role: "system", Content: system},
			{Role: "user", Content: []ftPart{{Type: "text", Text: prompt}, {Type: "image_url", ImageURL: &ftImageURL{URL: img.DataURL, Detail: opts.Detail}}}},
			{Role: "assistant", Content: answer},
		}}
		textOnly := ftExample{Messages: []ftMessage{
			{Role: "system", Content: system},
			{Role: "user", Content: prompt},
			{Role: "assistant", Content: answer},
		}}
		for _, p := range CheckExample(withImg) {
			sum.Problems = append(sum.Problems, fmt.Sprintf("%s example %s: %s", name, it.ID, p))
		}
		if img.Bytes > MaxImageBytes {
			sum.Problems = append(sum.Problems, fmt.Sprintf("%s example %s: image is %d MB, the API takes up to 10 MB", name, it.ID, img.Bytes>>20))
		}
		textTok := EstimateTextTokens(system) + EstimateTextTokens(prompt) + EstimateTextTokens(answer) + 3*MessageOverhead + ReplyOverhead
		imgTok := EstimateImageTokens(opts.Model, opts.Detail, img.Width, img.Height)
		if textTok+imgTok > MaxExampleTokens {
			sum.Problems = append(sum.Problems, fmt.Sprintf("%s example %s: about %d tokens, over the %d-token training context", name, it.ID, textTok+imgTok, MaxExampleTokens))
		}
		ps.TextTokens += textTok
		ps.ImageTokens += imgTok
		ps.MaxExampleTokens = max(ps.MaxExampleTokens, textTok+imgTok)
		if err := writeLine(wi, withImg); err != nil {
			return fmt.Errorf("prepare %s: %w", imgPath, err)
		}
		if err := writeLine(wt, textOnly); err != nil {
			return fmt.Errorf("prepare %s: %w", textPath, err)
		}
		ps.Examples++
		ps.Scores[int(math.Round(it.Score))]++
	}
	for _, w := range []struct {
		b    *bufio.Writer
		f    *os.File
		path string
	}{{wi, fi, imgPath}, {wt, ft, textPath}} {
		if err := w.b.Flush(); err != nil {
			return fmt.Errorf("prepare %s: %w", w.path, err)
		}
		if err := w.f.Close(); err != nil {
			return fmt.Errorf("prepare %s: %w", w.path, err)
		}
		sum.Files = append(sum.Files, w.path)
	}
	if st, err := os.Stat(imgPath); err == nil {
		ps.Bytes = st.Size()
	}
	return nil
}

// encodeForFineTuning encodes like EncodeImage, but as JPEG, PNG or WebP
// only: fine-tuning data does not take GIF.
func encodeForFineTuning(data []byte, detail string) (*EncodedImage, error) {
	img, err := EncodeImage(data, detail)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(img.DataURL, "data:image/gif") {
		return reencodeJPEG(data, img)
	}
	return img, nil
}

func writeLine(w *bufio.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// CheckExample returns what the fine-tuning API would reject in one chat
// example: unknown roles, no user message, the order of messages (an
// optional system message first, then user and assistant turns), a last
// message that is not the assistant's, an empty assistant answer, images
// outside user messages, too many images, images that are not base64 JPEG,
// PNG or WebP data URLs (or http URLs).
func CheckExample(ex ftExample) []string {
	var probs []string
	if len(ex.Messages) == 0 {
		return []string{"no messages"}
	}
	images, users := 0, 0
	for i, m := range ex.Messages {
		switch m.Role {
		case "system", "developer":
			if i != 0 {
				probs = append(probs, fmt.Sprintf("message %d: %s message after the first", i+1, m.Role))
			}
		case "user":
			users++
		case "assistant":
			if i == 0 || ex.Messages[i-1].Role == "assistant" {
				probs = append(probs, fmt.Sprintf("message %d: assistant message without a user message before it", i+1))
			}
		default:
			probs = append(probs, fmt.Sprintf("message %d: role %q is not system, user or assistant", i+1, m.Role))
		}
		switch c := m.Content.(type) {
		case string:
			if m.Role == "assistant" && strings.TrimSpace(c) == "" {
				probs = append(probs, fmt.Sprintf("message %d: empty assistant answer", i+1))
			}
		case []ftPart:
			for _, p := range c {
				if p.Type != "image_url" {
					continue
				}
				images++
				if m.Role != "user" {
					probs = append(probs, fmt.Sprintf("message %d: images are only allowed in user messages", i+1))
				}
				if p.ImageURL == nil {
					probs = append(probs, fmt.Sprintf("message %d: image part without a URL", i+1))
					continue
				}
				u := p.ImageURL.URL
				if !(strings.HasPrefix(u, "data:image/jpeg;base64,") || strings.HasPrefix(u, "data:image/png;base64,") ||
					strings.HasPrefix(u, "data:image/webp;base64,") || strings.HasPrefix(u, "https://")) {
					probs = append(probs, fmt.Sprintf("message %d: image is not a JPEG, PNG or WebP data URL", i+1))
				}
				if p.ImageURL.Detail != "" && !ValidDetail(p.ImageURL.Detail) {
					probs = append(probs, fmt.Sprintf("message %d: detail %q is not low, high or auto", i+1, p.ImageURL.Detail))
				}
			}
		}
	}
	if users == 0 {
		probs = append(probs, "no user message")
	}
	if last := ex.Messages[len(ex.Messages)-1]; last.Role != "assistant" {
		probs = append(probs, "the last message is not the assistant's answer")
	}
	if images > MaxImagesPerExample {
		probs = append(probs, fmt.Sprintf("%d images, the API takes up to %d per example", images, MaxImagesPerExample))
	}
	return probs
}

// SortedScores lists a score histogram's keys in order.
func SortedScores(h map[int]int) []int {
	keys := make([]int, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}
