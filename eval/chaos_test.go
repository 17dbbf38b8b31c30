package eval

import (
	"github.com/vlmcmp/vlmcmp/eval/dataset"

	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/png"
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
	"github.com/vlmcmp/vlmcmp/openaiclient"
	"github.com/vlmcmp/vlmcmp/openaiclient/openaitest"
)

// The chaos test drives the run folder as compare does (lock, run.json with
// identities, the runner) from child processes that are SIGKILLed at random
// moments, whose predictors fail at random, while other processes try the
// same folder, one of them with a changed model. Model c is the OpenAI
// client on a fleet of three fake servers: one healthy, one that answers
// every request 429 with retry-after 30 s, one without the model (404).
// Whatever happens, a run resumed to the end holds every image × model
// exactly once, answered by the model it is labelled with, and c's answers
// all come from the healthy server.

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
			// A small gray PNG, a shade per image: the fake OpenAI
			// servers score it by its brightness.
			g := image.NewGray(image.Rect(0, 0, 8, 8))
			for j := range g.Pix {
				g.Pix[j] = uint8(i * 6)
			}
			var b bytes.Buffer
			png.Encode(&b, g)
			// Through a renamed temporary file: a child killed while
			// writing leaves no empty image behind.
			tmp := fmt.Sprintf("%s.%d.tmp", p, os.Getpid())
			if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
				return nil, err
			}
			if err := os.Rename(tmp, p); err != nil {
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
		return nil, llm.Missing(llm.MissingServerError, errors.New("server error 502 (chaos)"))
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
		var pred llm.Predictor = &flakyPredictor{name: name, failRate: 0.1, rnd: rand.New(rand.NewPCG(seed, uint64(i)))}
		if fleet := os.Getenv("VLMCMP_CHAOS_FLEET"); fleet != "" && name == chaosFleetModel {
			p, err := openaiclient.New(openaiclient.Config{Model: "gpt-4o", BaseURLs: strings.Split(fleet, ","), APIKey: chaosKey,
				Concurrency: 3, RetryBase: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond, Timeout: 10 * time.Second})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			pred = p
		}
		models = append(models, Model{Name: name, Prompt: prompt, Concurrency: 1 + i, Predictor: pred})
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
	cmd.Env = append(os.Environ(), lockHelperEnv+"=chaos:"+dir, fmt.Sprintf("VLMCMP_CHAOS_SEED=%d", seed), "VLMCMP_CHAOS_PROMPT="+prompt,
		"VLMCMP_CHAOS_FLEET="+strings.Join(chaosFleet, ","))
	return cmd
}

// The fleet of model chaosFleetModel: chaosFleet are its base URLs, the
// first the healthy server's, set by TestChaos for its children.
const (
	chaosFleetModel = "c"
	chaosKey        = "sk-chaos-fleet"
)

var chaosFleet []string

// startChaosFleet starts the fleet of model c: a healthy server, one that
// rate-limits every request for 30 s, one without the model.
func startChaosFleet(t *testing.T) (limited, nomodel *openaitest.Server) {
	ok, limited, nomodel := openaitest.New(t), openaitest.New(t), openaitest.New(t)
	for _, s := range []*openaitest.Server{ok, limited, nomodel} {
		s.Key = chaosKey
	}
	limited.Inject(openaitest.Fault{Method: "POST", Path: "/v1/chat", Status: 429, RetryAfter: "30", Times: 1 << 30,
		Message: "Rate limit reached for gpt-4o in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1."})
	nomodel.Serves = []string{"qwen2-vl-2b"}
	chaosFleet = []string{ok.URL(), limited.URL(), nomodel.URL()}
	t.Cleanup(func() { chaosFleet = nil })
	return limited, nomodel
}

// chaosFleetScore is the fake OpenAI servers' score of the chaos image at
// path.
func chaosFleetScore(t *testing.T, path string) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return float64(openaitest.ScoreOf(img))
}

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many processes")
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			dir := t.TempDir()
			limited, nomodel := startChaosFleet(t)
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
			nl, nn := limited.Count("POST", "/v1/chat"), nomodel.Count("POST", "/v1/chat")
			if nl == 0 || nn == 0 {
				t.Errorf("the rate-limited server got %d requests, the one without the model %d: the fleet was not tried", nl, nn)
			}
			t.Logf("%d rounds, %d kills, %d refused while another ran, %d refused for a changed model; c's fleet: %d requests to the rate-limited server, %d to the one without the model",
				rounds, kills, refused, identity, nl, nn)
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
			switch {
			case rec.Prediction != nil && name == chaosFleetModel && chaosFleet != nil:
				// Only the healthy server answers: the others' 429 and
				// 404 are theirs, not answers.
				if sv := rec.Prediction.Server; rec.Prediction.Model != "gpt-4o-fake" || sv == nil || sv.URL != chaosFleet[0] {
					t.Fatalf("%s: %s answered by %s at %+v, want gpt-4o-fake at %s", path, rec.ID, rec.Prediction.Model, sv, chaosFleet[0])
				}
				if s, want := rec.Score(), chaosFleetScore(t, rec.Image); s == nil || *s != want {
					t.Fatalf("%s: %s has score %v, want %v", path, rec.ID, s, want)
				}
			case rec.Prediction != nil:
				if rec.Prediction.Model != "true-"+name {
					t.Fatalf("%s: %s answered by %s", path, rec.ID, rec.Prediction.Model)
				}
				if s := rec.Score(); s == nil || *s != chaosScore(name, rec.ID) {
					t.Fatalf("%s: %s has score %v, want %v", path, rec.ID, s, chaosScore(name, rec.ID))
				}
			case name == chaosFleetModel && chaosFleet != nil:
				t.Fatalf("%s: %s has no answer: %s", path, rec.ID, rec.Error)
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
