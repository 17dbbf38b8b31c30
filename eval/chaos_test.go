package eval

import (
	"github.com/vlmcmp/vlmcmp/eval/dataset"

	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vlmcmp/vlmcmp/llm"
)

// The chaos test drives the run folder as compare does (lock, run.json with
// identities, the runner) from child processes that are SIGKILLed at random
// moments, whose predictors fail at random, while other processes try the
// same folder, one of them with a changed model. Whatever happens, a run
// resumed to the end holds every image × model exactly once, answered by the
// model it is labelled with.

const chaosItems = 40

var chaosModels = []string{"a", "b", "c"}

func chaosItemList(dir string) ([]dataset.Item, error) {
	img := filepath.Join(dir, "img")
	if err := os.MkdirAll(img, 0o755); err != nil {
		return nil, err
	}
	items := make([]dataset.Item, chaosItems)
	for i := range items {
		p := filepath.Join(img, fmt.Sprintf("%03d.png", i))
		if _, err := os.Stat(p); err != nil {
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				return nil, err
			}
		}
		items[i] = dataset.Item{ID: fmt.Sprintf("img/%03d.png", i), ImagePath: p, Score: float64(i%10 + 1)}
	}
	return items, nil
}

// chaosScore is model name's answer for id: what the records must hold.
func chaosScore(name, id string) float64 {
	h := fnv.New32a()
	h.Write([]byte(name + "\x00" + id))
	return float64(h.Sum32()%10 + 1)
}

// flakyPredictor answers as model name, failing at random (a 5xx, a
// malformed body) and taking a random while.
type flakyPredictor struct {
	name     string
	failRate float64
	mu       sync.Mutex
	rnd      *rand.Rand
}

func (f *flakyPredictor) Predict(ctx context.Context, req *llm.Request) (*llm.Prediction, error) {
	f.mu.Lock()
	fail := f.rnd.Float64() < f.failRate
	delay := time.Duration(f.rnd.IntN(1500)) * time.Microsecond
	f.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if fail {
		return nil, errors.New("server error 502 (chaos)")
	}
	p := &llm.Prediction{Backend: "fake", Model: "true-" + f.name}
	p.SetText(fmt.Sprintf("Safety score: %g/10", chaosScore(f.name, req.ID)))
	return p, nil
}

// chaosHelper is one compare-like process on dir/run. Its environment gives
// the seed (VLMCMP_CHAOS_SEED) and, for the model with another identity,
// VLMCMP_CHAOS_PROMPT.
func chaosHelper(dir string) int {
	seed, _ := strconv.ParseUint(os.Getenv("VLMCMP_CHAOS_SEED"), 10, 64)
	items, err := chaosItemList(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	run := filepath.Join(dir, "run")
	l, err := LockRun(run)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer l.Unlock()
	info, err := ReadRunInfo(run)
	if err != nil {
		info = &RunInfo{ID: "chaos", Created: time.Now().UTC(), Models: chaosModels, Items: items}
	}
	ids := map[string]ModelIdentity{}
	var models []Model
	for i, name := range chaosModels {
		prompt := "Rate it."
		if p := os.Getenv("VLMCMP_CHAOS_PROMPT"); p != "" && name == "b" {
			prompt = p
		}
		ids[name] = ModelIdentity{"backend": "fake", "model": "true-" + name, "prompt": prompt}
		models = append(models, Model{
			Name: name, Prompt: prompt, Concurrency: 1 + i,
			Predictor: &flakyPredictor{name: name, failRate: 0.1, rnd: rand.New(rand.NewPCG(seed, uint64(i)))},
		})
	}
	if err := info.CheckIdentities(ids); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	if err := WriteRunInfo(run, info); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r := &Runner{Dir: run, Log: nil}
	if _, err := r.Run(context.Background(), models, info.Items); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 5 // a model stopped after leading errors: a resume goes on
	}
	return 0
}

func chaosCmd(t *testing.T, dir string, seed uint64, prompt string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"=chaos:"+dir, fmt.Sprintf("VLMCMP_CHAOS_SEED=%d", seed), "VLMCMP_CHAOS_PROMPT="+prompt)
	return cmd
}

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many processes")
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			dir := t.TempDir()
			rnd := rand.New(rand.NewPCG(seed, 99))
			kills, refused, identity := 0, 0, 0
			finished, rounds := false, 0
			for round := 0; round < 60 && !finished; round++ {
				rounds++
				cmd := chaosCmd(t, dir, seed*1000+uint64(round), "")
				var stderr strings.Builder
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				// Meanwhile: another process on the same run.
				if round%3 == 1 {
					time.Sleep(time.Duration(rnd.IntN(10)) * time.Millisecond)
					out, err := chaosCmd(t, dir, 7, "").CombinedOutput()
					var exit *exec.ExitError
					switch {
					case errors.As(err, &exit) && exit.ExitCode() == 3:
						if !strings.Contains(string(out), "is being written by process") {
							t.Errorf("refused process said %q", out)
						}
						refused++
					case err == nil, exit != nil && exit.ExitCode() == 5:
						// The first ended before the second took the
						// folder: the second went on with it.
					default:
						t.Fatalf("concurrent process: %v: %s", err, out)
					}
				}
				if round < 8 && rnd.IntN(4) != 0 { // mostly: SIGKILL part way
					select {
					case <-done:
					case <-time.After(time.Duration(5+rnd.IntN(40)) * time.Millisecond):
						cmd.Process.Signal(syscall.SIGKILL)
						<-done
						kills++
					}
				} else {
					<-done
				}
				// Once the run has a manifest, a process whose model b
				// changed is refused and changes nothing.
				if round%4 == 2 {
					if _, err := ReadRunInfo(filepath.Join(dir, "run")); err == nil {
						before := chaosSnapshot(t, dir)
						out, err := chaosCmd(t, dir, 7, "Rate it differently.").CombinedOutput()
						var exit *exec.ExitError
						if !errors.As(err, &exit) || exit.ExitCode() != 4 || !strings.Contains(string(out), `prompt was "Rate it.", now "Rate it differently."`) {
							t.Fatalf("changed model: %v: %s", err, out)
						}
						if after := chaosSnapshot(t, dir); after != before {
							t.Fatal("the refused process changed the predictions")
						}
						identity++
					}
				}
				finished = chaosComplete(t, dir, false)
				if strings.Contains(stderr.String(), "panic") {
					t.Fatalf("child panicked:\n%s", stderr.String())
				}
			}
			if !finished {
				t.Fatalf("not complete after 60 rounds")
			}
			chaosComplete(t, dir, true)
			t.Logf("%d rounds, %d kills, %d refused while another ran, %d refused for a changed model", rounds, kills, refused, identity)
		})
	}
}

// chaosComplete reports whether the run holds every image × model once
// with an answer; with strict it also fails the test on anything wrong: a
// record labelled with one model but answered by another, a wrong score, a
// line that is not a record.
func chaosComplete(t *testing.T, dir string, strict bool) bool {
	t.Helper()
	items, err := chaosItemList(dir)
	if err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	complete := true
	for _, name := range chaosModels {
		path := PredictionsPath(run, name)
		res, err := ReadPredictions(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, rec := range res.Records {
			if rec.Model != name {
				t.Fatalf("%s: record %s labelled %s", path, rec.ID, rec.Model)
			}
			if rec.Prediction != nil {
				if rec.Prediction.Model != "true-"+name {
					t.Fatalf("%s: %s answered by %s", path, rec.ID, rec.Prediction.Model)
				}
				if s := rec.Score(); s == nil || *s != chaosScore(name, rec.ID) {
					t.Fatalf("%s: %s has score %v, want %v", path, rec.ID, s, chaosScore(name, rec.ID))
				}
			}
		}
		if !strict {
			if len(res.Records) != len(items) || res.Duplicates > 0 || res.Torn {
				complete = false
				continue
			}
			for _, rec := range res.Records {
				if rec.Error != "" {
					complete = false
				}
			}
			continue
		}
		if res.Torn || res.Duplicates > 0 {
			t.Errorf("%s: torn %t, %d duplicates", path, res.Torn, res.Duplicates)
		}
		onePerItem(t, path, items)
		for _, rec := range res.Records {
			if rec.Error != "" {
				t.Errorf("%s: %s unanswered: %s", path, rec.ID, rec.Error)
			}
		}
	}
	if strict {
		info, err := ReadRunInfo(run)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Identities["b"]["prompt"]; got != "Rate it." {
			t.Errorf("run.json records b's prompt as %q", got)
		}
	}
	return complete
}

// chaosSnapshot is the content of every predictions file.
func chaosSnapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, name := range chaosModels {
		data, err := os.ReadFile(PredictionsPath(filepath.Join(dir, "run"), name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte(0)
	}
	return b.String()
}
