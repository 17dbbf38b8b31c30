package openaiclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DefaultInfoPath is where vlmcmp finetune records its job, as the original
// scripts did; the comparison finds the fine-tuned model there.
const DefaultInfoPath = "models/gpt4o_mini_finetuned/fine_tune_info.json"

// Info is the record of a fine-tuning job, fine_tune_info.json. It is written
// as soon as the job is created and updated as it moves; FineTunedModel is
// set when it succeeds.
type Info struct {
	JobID          string `json:"job_id"`
	Status         string `json:"status"`
	BaseModel      string `json:"base_model"`
	FineTunedModel string `json:"fine_tuned_model,omitempty"`
	// TrainingFile and ValidationFile are the uploaded files' IDs; TrainPath
	// and ValPath the local files.
	TrainingFile   string `json:"training_file"`
	ValidationFile string `json:"validation_file,omitempty"`
	TrainPath      string `json:"train_path,omitempty"`
	ValPath        string `json:"val_path,omitempty"`
	// Hyperparameters as the API reports them (method → supervised).
	Hyperparameters json.RawMessage `json:"hyperparameters,omitempty"`
	Seed            int64           `json:"seed,omitempty"`
	Suffix          string          `json:"suffix,omitempty"`
	BaseURL         string          `json:"base_url,omitempty"`
	// Provider is who runs the job: "openai" or "azure"; Endpoint and
	// APIVersion are the Azure resource's (its key is never recorded).
	Provider   string `json:"provider,omitempty"`
	Endpoint   string `json:"endpoint,omitempty"`
	APIVersion string `json:"api_version,omitempty"`
	// Progress: the last step, its losses, the trained tokens.
	Step          int      `json:"step,omitempty"`
	TotalSteps    int      `json:"total_steps,omitempty"`
	TrainLoss     *float64 `json:"train_loss,omitempty"`
	ValidLoss     *float64 `json:"valid_loss,omitempty"`
	TrainedTokens int      `json:"trained_tokens,omitempty"`
	// SkippedExamples is how many examples the job's moderation dropped,
	// from its events.
	SkippedExamples int    `json:"skipped_examples,omitempty"`
	Error           string `json:"error,omitempty"`
	// LastEventID lets wait resume where it stopped.
	LastEventID string   `json:"last_event_id,omitempty"`
	Checkpoints []string `json:"checkpoints,omitempty"`
	CreatedAt   string   `json:"created_at,omitempty"`
	FinishedAt  string   `json:"finished_at,omitempty"`
	UpdatedAt   string   `json:"updated_at"`
}

// Update copies a job's state into the record.
func (in *Info) Update(j *Job) {
	in.JobID, in.Status, in.BaseModel = j.ID, j.Status, j.Model
	if j.FineTunedModel != "" {
		in.FineTunedModel = j.FineTunedModel
	}
	in.TrainingFile, in.ValidationFile = j.TrainingFile, j.ValidationFile
	if len(j.Method) > 0 {
		var m struct {
			Supervised *struct {
				Hyperparameters json.RawMessage `json:"hyperparameters"`
			} `json:"supervised"`
		}
		if json.Unmarshal(j.Method, &m) == nil && m.Supervised != nil {
			in.Hyperparameters = m.Supervised.Hyperparameters
		}
	}
	if len(in.Hyperparameters) == 0 && len(j.Hyperparameters) > 0 && string(j.Hyperparameters) != "null" {
		in.Hyperparameters = j.Hyperparameters
	}
	if j.Seed != 0 {
		in.Seed = j.Seed
	}
	if j.TrainedTokens > 0 {
		in.TrainedTokens = j.TrainedTokens
	}
	if j.CreatedAt > 0 {
		in.CreatedAt = time.Unix(j.CreatedAt, 0).UTC().Format(time.RFC3339)
	}
	if j.FinishedAt > 0 {
		in.FinishedAt = time.Unix(j.FinishedAt, 0).UTC().Format(time.RFC3339)
	}
	if j.Error != nil && j.Error.Message != "" {
		in.Error = j.Error.Message
	}
}

// Record folds an event into the record: progress, losses, moderation
// skips. A metrics event whose data cannot be read is still recorded as
// seen, and the error says why its metrics were not.
func (in *Info) Record(e Event) error {
	in.LastEventID = e.ID
	m, ok, err := e.Metrics()
	if ok {
		in.Step, in.TotalSteps = m.Step, max(in.TotalSteps, m.TotalSteps)
		if m.TrainLoss != nil {
			in.TrainLoss = m.TrainLoss
		}
		if m.ValidLoss != nil {
			in.ValidLoss = m.ValidLoss
		}
	}
	in.SkippedExamples += e.SkippedByModeration()
	return err
}

// WriteInfo writes the record to path (creating its folder) through a
// temporary file renamed into place, so a reader never sees half a file.
func WriteInfo(path string, in *Info) error {
	in.UpdatedAt = time.Now().UTC().Format(time.RFC3339)
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("fine-tune info: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("fine-tune info: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("fine-tune info: %w", err)
	}
	return nil
}

// ReadInfo reads a fine_tune_info.json.
func ReadInfo(path string) (*Info, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("fine-tune info %s: %w (run vlmcmp finetune start, or give the job ID)", path, os.ErrNotExist)
		}
		return nil, fmt.Errorf("fine-tune info: %w", err)
	}
	var in Info
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("fine-tune info %s: %w", path, err)
	}
	if in.JobID == "" {
		return nil, fmt.Errorf("fine-tune info %s: no job_id", path)
	}
	return &in, nil
}
