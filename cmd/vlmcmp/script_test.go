package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/vlmcmp/vlmcmp/eval/demo"
	"github.com/vlmcmp/vlmcmp/native"
)

// TestMain lets testscript run vlmcmp as a command: the test binary runs
// main's run function when invoked under that name.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"vlmcmp": func() {
			os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// TestScripts runs the end-to-end scripts in testdata/script: each is a
// sandboxed working directory with its own HOME and response cache.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("VLMCMP_CACHE_DIR", filepath.Join(env.WorkDir, ".cache"))
			return setupScript(t, env)
		},
		// [llamacpp] holds in a build with llama.cpp linked in.
		Condition: func(cond string) (bool, error) {
			if cond == "llamacpp" {
				return native.Built() == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"gendata":         cmdGendata,
			"gensplit":        cmdGensplit,
			"tear":            cmdTear,
			"lines":           cmdLines,
			"openai-requests": cmdOpenAIRequests,
			"outputs":         cmdOutputs,
		},
	})
}

// cmdGendata writes the demo's synthetic dataset: gendata DIR N.
func cmdGendata(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: gendata DIR N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	_, err = demo.WriteDataset(ts.MkAbs(args[0]), n, 1)
	ts.Check(err)
}

// cmdGensplit writes a split manifest holding out every k-th image of a
// ground-truth file: gensplit DATA OUT K [EXTRA-ID...]; extra IDs are added
// to the held-out list as they are (to test images missing from the data).
func cmdGensplit(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: gensplit DATA OUT K [ID...]")
	}
	var recs []demo.Record
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &recs))
	k, err := strconv.Atoi(args[2])
	ts.Check(err)
	var train, val []string
	for i, r := range recs {
		if i%k == 0 {
			val = append(val, r.Image)
		} else {
			train = append(train, r.Image)
		}
	}
	val = append(val, args[3:]...)
	data, _ := json.Marshal(map[string][]string{"train": train, "val": val})
	out := ts.MkAbs(args[1])
	ts.Check(os.MkdirAll(filepath.Dir(out), 0o755))
	ts.Check(os.WriteFile(out, data, 0o644))
}

// cmdTear cuts the last line of a file in half, as a crash mid-write does.
func cmdTear(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: tear FILE")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	s := strings.TrimSuffix(string(data), "\n")
	i := strings.LastIndexByte(s, '\n')
	last := s[i+1:]
	ts.Check(os.WriteFile(path, []byte(s[:i+1]+last[:len(last)/2]), 0o644))
}

// cmdLines checks a file's line count and that no two lines share an id:
// lines FILE N.
func cmdLines(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: lines FILE N")
	}
	text := strings.TrimSuffix(ts.ReadFile(args[0]), "\n")
	lines := strings.Split(text, "\n")
	ids := map[string]bool{}
	for i, l := range lines {
		var r struct{ ID string }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			ts.Fatalf("%s:%d: %v", args[0], i+1, err)
		}
		if ids[r.ID] {
			ts.Fatalf("%s: %s appears twice", args[0], r.ID)
		}
		ids[r.ID] = true
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	if got := len(lines); (got == want) == neg {
		ts.Fatalf("%s has %d lines, want %s%d", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
	fmt.Fprintf(ts.Stdout(), "%d lines\n", len(lines))
}
