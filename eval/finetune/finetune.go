// Package finetune is the fine-tuning workflow of vlmcmp as a library:
//
//   - data: [PrepareData] splits a ground-truth dataset and [Prepare] writes
//     the chat examples with images and text only, checked with the API
//     client's rules (package openaiclient) before anything is uploaded,
//     with a [Report] of what was written and what the API would refuse;
//   - the job: [Start] uploads the files and creates the job, [Follow]
//     follows it to its end, keeping its record (fine_tune_info.json);
//   - the pipeline: [Plan] lays out prepare, fine-tune, compare and analyze
//     as vlmcmp command lines, [RunPipeline] runs them, asking first when
//     told to. It fine-tunes on the image files with a base model that
//     takes images ([ImageModel]) unless told to use the text-only files.
//
// It imports the API client (openaiclient), the dataset and config
// packages, and eval for its skip counts; nothing in eval imports it.
package finetune

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vlmcmp/vlmcmp/eval/dataset"
	"github.com/vlmcmp/vlmcmp/llm"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

// Files are the files [Prepare] writes, inside the output folder.
const (
	TrainImagesFile = "train_with_images.jsonl"
	ValImagesFile   = "val_with_images.jsonl"
	TrainTextFile   = "train_text_only.jsonl"
	ValTextFile     = "val_text_only.jsonl"
	SplitFile       = "split.json"
	SummaryFile     = "summary.json"
)

// DefaultTextFields are the ground-truth fields, in this order, that
// text-only examples carry when the options name none: those of them any
// item has. Field names match case-insensitively.
var DefaultTextFields = []string{"caption", "description", "desc", "alt_text", "title", "summary", "scene",
	"location", "place", "address", "street", "neighborhood", "neighbourhood", "city", "country", "notes", "comment"}

// Options configure [Prepare].
type Options struct {
	// Train and Val are the split's items.
	Train, Val []dataset.Item
	// Prompt and System, when set, replace every record's own; records
	// without their own use llm.DefaultPrompt and DefaultSystem.
	Prompt, System string
	// Detail is the image detail the examples use (default low); images are
	// scaled to what the API keeps at that detail.
	Detail string
	// Model is the base model the estimate and checks are for (default
	// openaiclient.DefaultFineTuneModel); Epochs the epochs the cost
	// estimate assumes (default 3).
	Model  string
	Epochs int
	// TextFields are the ground-truth fields (dataset.Item.Text) the
	// text-only examples carry in place of the image; nil means the
	// DefaultTextFields any item has.
	TextFields []string
	// OutDir receives the files.
	OutDir string
	// Models is the model table (which base models take images, training
	// prices); nil means openaiclient.DefaultModels.
	Models openaiclient.Models
	// Prices price the training estimate; nil means the table's prices.
	Prices openaiclient.Prices
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
	// WithoutText counts text-only examples that carry none of the text
	// fields (their item has none of them).
	WithoutText int `json:"text_only_without_text"`
}

// Summary is what Prepare wrote and what it found.
type Summary struct {
	Model  string      `json:"model"`
	Detail string      `json:"detail"`
	Train  PartSummary `json:"train"`
	Val    PartSummary `json:"val"`
	// TextFields are the fields the text-only examples carry; empty when
	// none was found, and then TextOnlyLearnsScoresOnly is true: every
	// text-only example has the same prompt, so a model tuned on them can
	// only learn how often each score occurs.
	TextFields               []string `json:"text_fields"`
	TextOnlyLearnsScoresOnly bool     `json:"text_only_learns_scores_only"`
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

// TargetAnswer is the assistant answer an item is trained on: its own
// answer text when it has one, else "Safety score: N/10".
func TargetAnswer(it dataset.Item) string {
	if it.Answer != "" {
		return it.Answer
	}
	return "Safety score: " + strconv.FormatFloat(it.Score, 'f', -1, 64) + "/10"
}

// DetectTextFields returns the fields text-only examples carry: those of
// want (DefaultTextFields when nil) that at least one item has, in want's
// order, each under the name the data spells it.
func DetectTextFields(items []dataset.Item, want []string) []string {
	if want == nil {
		want = DefaultTextFields
	}
	have := map[string]string{} // lower-case name -> name in the data
	for _, it := range items {
		for k := range it.Text {
			if _, ok := have[strings.ToLower(k)]; !ok {
				have[strings.ToLower(k)] = k
			}
		}
	}
	var out []string
	for _, w := range want {
		if k, ok := have[strings.ToLower(strings.TrimSpace(w))]; ok && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// ImageText is what an item's ground truth says of its image, from the
// given fields: one "field: value" line each, for the fields it has.
func ImageText(it dataset.Item, fields []string) string {
	var b strings.Builder
	for _, f := range fields {
		if v := strings.TrimSpace(it.Text[f]); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", f, v)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// Prepare writes the fine-tuning files for train and val (with images as
// base64 data URLs, and text only) to OutDir, checks them as the
// fine-tuning API would, and returns the summary. Items whose image cannot
// be read are skipped and listed; a problem the API would reject is listed
// in Problems, not returned as an error (the caller decides).
func Prepare(opts Options) (*Summary, error) {
	if opts.Detail == "" {
		opts.Detail = openaiclient.DetailLow
	}
	if !openaiclient.ValidDetail(opts.Detail) {
		return nil, fmt.Errorf("prepare: detail %q is not one of low, high, auto", opts.Detail)
	}
	if opts.Model == "" {
		opts.Model = openaiclient.DefaultFineTuneModel
	}
	if opts.Epochs <= 0 {
		opts.Epochs = 3
	}
	if opts.Models == nil {
		opts.Models = openaiclient.DefaultModels()
	}
	if opts.Prices == nil {
		opts.Prices = opts.Models.Prices()
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	sum := &Summary{Model: opts.Model, Detail: opts.Detail, Epochs: opts.Epochs}
	sum.TextFields = DetectTextFields(append(slices.Clip(opts.Train), opts.Val...), opts.TextFields)
	if sum.TextFields == nil {
		sum.TextFields = []string{}
	}
	sum.TextOnlyLearnsScoresOnly = len(sum.TextFields) == 0
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
	if sum.Train.Examples < openaiclient.MinTrainingExamples {
		sum.Problems = append(sum.Problems, fmt.Sprintf("%d training examples: the fine-tuning API needs at least %d", sum.Train.Examples, openaiclient.MinTrainingExamples))
	}
	if sum.Val.Examples == 0 {
		sum.Warnings = append(sum.Warnings, "no validation examples: the job will report no validation loss")
	}
	if sum.Train.Bytes > openaiclient.MaxTrainingFileBytes {
		sum.Problems = append(sum.Problems, fmt.Sprintf("%s is %d MB: the API takes files up to %d MB", TrainImagesFile, sum.Train.Bytes>>20, openaiclient.MaxTrainingFileBytes>>20))
	}
	if !opts.Models.AcceptsImages(opts.Model) {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("%s is not known to accept images in fine-tuning (gpt-4o-2024-08-06 is; others only when the model table says so): use %s and %s with it, or choose gpt-4o-2024-08-06",
			opts.Model, TrainTextFile, ValTextFile))
	}
	switch {
	case len(opts.TextFields) > 0 && len(sum.TextFields) == 0:
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("no item has any of the text fields %s", strings.Join(opts.TextFields, ", ")))
		fallthrough
	case sum.TextOnlyLearnsScoresOnly:
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("the text-only files (%s, %s) say nothing about their images: the ground truth has no caption, description, location or other text field "+
			"(name yours with --text-fields). Every text-only example has the same prompt and only the score differs, so a model fine-tuned on them can only learn how often each score occurs, "+
			"which the mean baseline does for free: fine-tune on %s with a model that takes images (gpt-4o-2024-08-06)", TrainTextFile, ValTextFile, TrainImagesFile))
	case sum.Train.WithoutText+sum.Val.WithoutText > 0:
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("%d text-only examples carry none of the text fields %s: for them only the score distribution can be learnt",
			sum.Train.WithoutText+sum.Val.WithoutText, strings.Join(sum.TextFields, ", ")))
	}
	return sum, nil
}

func writePart(opts Options, sum *Summary, items []dataset.Item, name, imgPath, textPath string, ps *PartSummary) error {
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
	rule := opts.Models.Info(opts.Model).ImageTokens
	for _, it := range items {
		data, err := os.ReadFile(it.ImagePath)
		if err != nil {
			sum.Skipped = append(sum.Skipped, dataset.Problem{ID: it.ID, Reason: "image unreadable: " + err.Error()})
			continue
		}
		img, err := openaiclient.EncodeForFineTuning(data, opts.Detail)
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
		withImg := openaiclient.Example{Messages: []openaiclient.ExampleMessage{
			{Role: "system", Content: system},
			{Role: "user", Content: []openaiclient.ExamplePart{{Type: "text", Text: prompt},
				{Type: "image_url", ImageURL: &openaiclient.ExampleImage{URL: img.DataURL, Detail: opts.Detail}}}},
			{Role: "assistant", Content: answer},
		}}
		textPrompt := prompt
		if t := ImageText(it, sum.TextFields); t != "" {
			textPrompt += "\n\nNo image is attached; what is known of it:\n" + t
		} else {
			ps.WithoutText++
		}
		textOnly := openaiclient.Example{Messages: []openaiclient.ExampleMessage{
			{Role: "system", Content: system},
			{Role: "user", Content: textPrompt},
			{Role: "assistant", Content: answer},
		}}
		for _, p := range openaiclient.CheckExample(withImg) {
			sum.Problems = append(sum.Problems, fmt.Sprintf("%s example %s: %s", name, it.ID, p))
		}
		textTok := openaiclient.EstimateTextTokens(system) + openaiclient.EstimateTextTokens(textPrompt) +
			openaiclient.EstimateTextTokens(answer) + 3*openaiclient.MessageOverhead + openaiclient.ReplyOverhead
		imgTok := rule.Tokens(opts.Detail, img.Width, img.Height)
		if textTok+imgTok > openaiclient.MaxExampleTokens {
			sum.Problems = append(sum.Problems, fmt.Sprintf("%s example %s: about %d tokens, over the %d-token training context", name, it.ID, textTok+imgTok, openaiclient.MaxExampleTokens))
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

// SortedScores lists a score histogram's keys in order.
func SortedScores(h map[int]int) []int {
	keys := make([]int, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}
