package finetune

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/eval/config"
	"github.com/vlmcmp/vlmcmp/openaiclient"
)

func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("vlmcmp.yaml", []byte(yaml)) // paths relative to the working folder
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func argValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func TestPlanFineTunesOnImages(t *testing.T) {
	t.Chdir(t.TempDir())
	base := "models:\n  - {name: mean, backend: baseline}\n"
	tests := []struct {
		name     string
		yaml     string
		opts     PipelineOptions
		model    string
		textOnly bool
	}{
		{"default", base, PipelineOptions{}, "gpt-4o-2024-08-06", false},
		{"text only", base, PipelineOptions{TextOnly: true}, openaiclient.DefaultFineTuneModel, true},
		{"model without images", base, PipelineOptions{FineTuneModel: "gpt-4.1-mini"}, "gpt-4.1-mini", true},
		{"model with images", base, PipelineOptions{FineTuneModel: "gpt-4o-2024-08-06"}, "gpt-4o-2024-08-06", false},
		{"text only beats images", base, PipelineOptions{FineTuneModel: "gpt-4o-2024-08-06", TextOnly: true}, "gpt-4o-2024-08-06", true},
		{"table marks another", "openai_models:\n  gpt-4.1-mini: {vision: true, fine_tune_images: true}\n" + base,
			PipelineOptions{FineTuneModel: "gpt-4.1-mini"}, "gpt-4.1-mini", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Config = parseConfig(t, tt.yaml)
			steps := Plan(opts)
			if len(steps) != 4 {
				t.Fatalf("%d steps", len(steps))
			}
			ft := steps[1].Args
			if ft[0] != "finetune" || ft[1] != "start" || argValue(ft, "--model") != tt.model {
				t.Errorf("finetune step %v, want start --model %s", ft, tt.model)
			}
			if got := slices.Contains(ft, "--text-only"); got != tt.textOnly {
				t.Errorf("finetune step %v: --text-only %v, want %v", ft, got, tt.textOnly)
			}
			if (steps[1].Note != nil) != tt.textOnly {
				t.Errorf("note set %v, want %v", steps[1].Note != nil, tt.textOnly)
			}
			if got := argValue(steps[0].Args, "--model"); got != tt.model {
				t.Errorf("prepare checks for %q, want %q", got, tt.model)
			}
			if !strings.HasSuffix(argValue(ft, "--train"), TrainImagesFile) {
				t.Errorf("train file %v", ft)
			}
		})
	}
}

func TestImageModel(t *testing.T) {
	if got := ImageModel(openaiclient.DefaultModels()); got != "gpt-4o-2024-08-06" {
		t.Errorf("ImageModel(default) = %q", got)
	}
	m := openaiclient.Models{"b-model": {FineTuneImages: true}, "a-model": {FineTuneImages: true}, "ft:c": {FineTuneImages: true}, "z": {}}
	if got := ImageModel(m); got != "a-model" {
		t.Errorf("ImageModel = %q, want a-model", got)
	}
	if got := ImageModel(openaiclient.Models{"z": {}}); got != "" {
		t.Errorf("ImageModel of a table without one = %q", got)
	}
}

func TestPlanDoneAndWaiting(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := parseConfig(t, "split: d/split.json\nmodels:\n  - {name: ft, backend: openai, model: {from: ft/info.json}}\n")
	steps := Plan(PipelineOptions{Config: cfg, SkipFinetune: true})
	if steps[0].Done != "" || steps[1].Skip != "--skip-finetuning" || argValue(steps[1].Args, "--info") != "ft/info.json" {
		t.Errorf("fresh plan: %+v", steps[:2])
	}
	os.MkdirAll("d", 0o755)
	os.WriteFile("d/split.json", []byte("{}"), 0o644)
	os.MkdirAll("ft", 0o755)
	openaiclient.WriteInfo("ft/info.json", &openaiclient.Info{JobID: "ftjob-1", Status: "running"})
	steps = Plan(PipelineOptions{Config: cfg})
	if steps[0].Done == "" || strings.Join(steps[1].Args[:2], " ") != "finetune wait" || steps[1].Done != "" {
		t.Errorf("plan with a running job: %+v", steps[:2])
	}
	openaiclient.WriteInfo("ft/info.json", &openaiclient.Info{JobID: "ftjob-1", Status: "succeeded", FineTunedModel: "ft:x"})
	if steps = Plan(PipelineOptions{Config: cfg}); !strings.Contains(steps[1].Done, "ft:x") {
		t.Errorf("plan with a finished job: %+v", steps[1])
	}
}

func TestRunPipeline(t *testing.T) {
	steps := []Step{
		{Name: "a", Args: []string{"a"}, Done: "a exists"},
		{Name: "b", Args: []string{"b"}, Skip: "--skip-b"},
		{Name: "c", Args: []string{"c"}, Note: func() string { return "c learns little" }},
		{Name: "d", Args: []string{"d"}, OnFail: "fix d"},
	}
	tests := []struct {
		name    string
		auto    bool
		in      string
		failD   bool
		ran     string
		wantErr string
		status  []string
	}{
		{"auto", true, "", false, "c d", "", []string{"step 1/4 a: skipped, a exists", "step 2/4 b: skipped (--skip-b)", "step 3/4 c: warning: c learns little", "pipeline: done"}},
		{"answers", false, "\ny\nn\n", false, "c", "", []string{"run a? [y/N/q]", "run c? [Y/n/q]"}},
		{"run done step", false, "y\nq\n", false, "a", ErrQuit.Error(), nil},
		{"no answers", false, "", false, "", "--auto", nil},
		{"bad answer", false, "maybe\nn\nn\nn\n", false, "", "", []string{"answer y (run it), n (skip it) or q (stop)"}},
		{"failure", true, "", true, "c d", "pipeline stopped at d: d broke\nnext: fix d", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []string
			var status strings.Builder
			err := RunPipeline(t.Context(), steps, RunOptions{Auto: tt.auto, In: strings.NewReader(tt.in), Status: &status,
				Exec: func(_ context.Context, args []string) error {
					ran = append(ran, args...)
					if args[0] == "d" && tt.failD {
						return errors.New("d broke")
					}
					return nil
				}})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
			if got := strings.Join(ran, " "); got != tt.ran {
				t.Errorf("ran %q, want %q", got, tt.ran)
			}
			for _, w := range tt.status {
				if !strings.Contains(status.String(), w) {
					t.Errorf("status lacks %q:\n%s", w, status.String())
				}
			}
		})
	}
}

func TestPrepareDataAndTextOnlyNote(t *testing.T) {
	for _, withText := range []bool{false, true} {
		var extra func(int) map[string]string
		if withText {
			extra = func(i int) map[string]string { return map[string]string{"caption": "a street"} }
		}
		ds := writeData(t, 20, "gt.json", extra)
		out := t.TempDir()
		rep, err := PrepareData(DataOptions{Data: ds.Path, ValRatio: 0.2, Seed: 1, Options: Options{OutDir: out}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Train.Examples+rep.Val.Examples != 20 || rep.Split != filepath.Join(out, SplitFile) {
			t.Errorf("report %+v", rep)
		}
		var text strings.Builder
		rep.WriteText(&text)
		for _, w := range []string{"20 records, 20 usable, 0 skipped", "val ratio 0.2, seed 1", "train          16 examples", "val            4 examples", "wrote          " + filepath.Join(out, TrainImagesFile)} {
			if !strings.Contains(text.String(), w) {
				t.Errorf("text lacks %q:\n%s", w, text.String())
			}
		}
		if got := strings.Contains(text.String(), "text-only      examples carry caption"); got != withText {
			t.Errorf("with text %v: text says %v of the caption:\n%s", withText, got, text.String())
		}
		back, err := ReadReport(out)
		if err != nil || back.Records != 20 || back.TextOnlyLearnsScoresOnly == withText {
			t.Errorf("summary.json read back: %+v, %v", back, err)
		}
		note := TextOnlyNote(out, "m")
		if got := strings.Contains(note, "only learn how often each score occurs"); got == withText {
			t.Errorf("with text %v: note %q", withText, note)
		}
	}
	if _, err := PrepareData(DataOptions{Data: "x.json", ValRatio: 1}); err == nil {
		t.Error("val ratio 1 accepted")
	}
}

// With --provider azure the fine-tuning flags (endpoint, version, key)
// go to the finetune step, start and wait alike, and not to compare,
// where --base-url and --api-key-file would redirect the OpenAI models;
// compare is preceded by the deployment reminder while the config has no
// azure model.
func TestPlanAzure(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := parseConfig(t, "models:\n  - {name: gpt4, backend: openai, model: gpt-4o}\n")
	opts := PipelineOptions{Config: cfg, Provider: "azure", BaseURL: "https://r.openai.azure.com", APIVersion: "2024-10-21", APIKeyFile: "azure.key"}
	steps := Plan(opts)
	ft, cmp := steps[1].Args, steps[2].Args
	if argValue(ft, "--provider") != "azure" || argValue(ft, "--base-url") != "https://r.openai.azure.com" ||
		argValue(ft, "--api-version") != "2024-10-21" || argValue(ft, "--api-key-file") != "azure.key" || !strings.Contains(steps[1].What, "on Azure OpenAI") {
		t.Errorf("finetune step %v (%s)", ft, steps[1].What)
	}
	if slices.Contains(cmp, "--base-url") || slices.Contains(cmp, "--api-key-file") || slices.Contains(cmp, "--provider") {
		t.Errorf("compare step %v carries Azure's flags", cmp)
	}
	if steps[2].Note == nil || !strings.Contains(steps[2].Note(), "no azure model") {
		t.Errorf("compare has no deployment reminder")
	}
	os.MkdirAll(filepath.Dir(config.DefaultFineTuneInfo), 0o755)
	openaiclient.WriteInfo(config.DefaultFineTuneInfo, &openaiclient.Info{JobID: "ftjob-1", Status: "running", Provider: "azure"})
	if ft = Plan(opts)[1].Args; strings.Join(ft[:2], " ") != "finetune wait" || argValue(ft, "--provider") != "azure" || argValue(ft, "--api-version") != "2024-10-21" {
		t.Errorf("wait step %v", ft)
	}
	opts.Config = parseConfig(t, "models:\n  - {name: ft, backend: azure, endpoint: https://r.openai.azure.com, deployment: d}\n")
	if n := Plan(opts)[2].Note(); n != "" {
		t.Errorf("note with an azure model: %s", n)
	}
	// OpenAI, as before: compare gets the flags.
	if cmp = Plan(PipelineOptions{Config: cfg, BaseURL: "http://x/v1"})[2].Args; argValue(cmp, "--base-url") != "http://x/v1" {
		t.Errorf("openai compare step %v", cmp)
	}
}
