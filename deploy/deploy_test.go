// Package deploy holds the Slurm scripts and Kubernetes manifests of a
// sharded run (see the README, "Running on Slurm and Kubernetes"). Its tests
// check that they parse and agree with each other; scripts/slurm-test.sh runs
// the Slurm scripts on a real Slurm.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type container struct {
	Name       string   `yaml:"name"`
	Image      string   `yaml:"image"`
	WorkingDir string   `yaml:"workingDir"`
	Command    []string `yaml:"command"`
	Env        []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	Resources struct {
		Limits map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

func (c container) env(name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		// Job
		CompletionMode string `yaml:"completionMode"`
		Completions    *int   `yaml:"completions"`
		Parallelism    *int   `yaml:"parallelism"`
		Suspend        *bool  `yaml:"suspend"`
		Template       struct {
			Spec struct {
				RestartPolicy string      `yaml:"restartPolicy"`
				Containers    []container `yaml:"containers"`
				Volumes       []struct {
					Name string `yaml:"name"`
					PVC  struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		// PersistentVolumeClaim
		AccessModes []string `yaml:"accessModes"`
	} `yaml:"spec"`
}

func readObjects(t *testing.T, file string) map[string]object {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	objs := map[string]object{}
	dec := yaml.NewDecoder(f)
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			t.Fatalf("%s: an object without apiVersion, kind or metadata.name: %+v", file, o)
		}
		objs[o.Kind+"/"+o.Metadata.Name] = o
	}
	return objs
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func TestKubernetesManifests(t *testing.T) {
	objs := readObjects(t, "kubernetes/vlmcmp-jobs.yaml")
	pvc := readObjects(t, "kubernetes/pvc.yaml")["PersistentVolumeClaim/vlmcmp-work"]
	if pvc.Kind == "" || len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != "ReadWriteMany" {
		t.Fatalf("pvc.yaml: want PersistentVolumeClaim vlmcmp-work with accessModes [ReadWriteMany], got %+v", pvc)
	}
	shards, merge := objs["Job/vlmcmp-shards"], objs["Job/vlmcmp-merge"]
	if shards.Kind == "" || merge.Kind == "" {
		t.Fatalf("vlmcmp-jobs.yaml: want Jobs vlmcmp-shards and vlmcmp-merge, got %v", objs)
	}
	for _, j := range []object{shards, merge} {
		if j.APIVersion != "batch/v1" {
			t.Errorf("job %s: apiVersion %q, want batch/v1", j.Metadata.Name, j.APIVersion)
		}
		ps := j.Spec.Template.Spec
		if ps.RestartPolicy != "Never" && ps.RestartPolicy != "OnFailure" {
			t.Errorf("job %s: restartPolicy %q (a Job needs Never or OnFailure)", j.Metadata.Name, ps.RestartPolicy)
		}
		if len(ps.Containers) != 1 {
			t.Fatalf("job %s: %d containers, want 1", j.Metadata.Name, len(ps.Containers))
		}
		c := ps.Containers[0]
		for _, arg := range c.Command {
			for _, m := range varRef.FindAllStringSubmatch(arg, -1) {
				if _, ok := c.env(m[1]); !ok {
					t.Errorf("job %s: command %q refers to $(%s), which the container's env does not set", j.Metadata.Name, arg, m[1])
				}
			}
		}
		if len(ps.Volumes) != 1 || ps.Volumes[0].PVC.ClaimName != pvc.Metadata.Name ||
			len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != ps.Volumes[0].Name || c.WorkingDir != c.VolumeMounts[0].MountPath {
			t.Errorf("job %s: want the claim %s mounted at the working directory, got volumes %+v, mounts %+v, workingDir %q",
				j.Metadata.Name, pvc.Metadata.Name, ps.Volumes, c.VolumeMounts, c.WorkingDir)
		}
	}

	s := shards.Spec
	c := s.Template.Spec.Containers[0]
	if s.CompletionMode != "Indexed" {
		t.Errorf("vlmcmp-shards: completionMode %q, want Indexed (JOB_COMPLETION_INDEX is set only then)", s.CompletionMode)
	}
	if s.Completions == nil {
		t.Fatal("vlmcmp-shards: no completions")
	}
	if n, _ := c.env("VLMCMP_SHARD_COUNT"); n != strconv.Itoa(*s.Completions) {
		t.Errorf("vlmcmp-shards: VLMCMP_SHARD_COUNT %q, completions %d: they must agree", n, *s.Completions)
	}
	if got := c.Resources.Limits["nvidia.com/gpu"]; got != "1" {
		t.Errorf("vlmcmp-shards: nvidia.com/gpu limit %q, want 1", got)
	}
	if !hasArgs(c.Command, "compare", "--shard=auto", "--run-id=$(VLMCMP_RUN_ID)") {
		t.Errorf("vlmcmp-shards: command %q: want compare --shard=auto --run-id=$(VLMCMP_RUN_ID)", c.Command)
	}

	m := merge.Spec.Template.Spec.Containers[0]
	if merge.Spec.Suspend == nil || !*merge.Spec.Suspend {
		t.Error("vlmcmp-merge: want suspend: true (it is resumed once vlmcmp-shards is complete)")
	}
	if !hasArgs(m.Command, "analyze", "--run=results/model_comparison/$(VLMCMP_RUN_ID)") || !hasArgs(c.Command, "--output-dir=results/model_comparison") {
		t.Errorf("vlmcmp-merge: command %q does not analyze the shards' run folder (shards: %q)", m.Command, c.Command)
	}
	r1, _ := c.env("VLMCMP_RUN_ID")
	r2, _ := m.env("VLMCMP_RUN_ID")
	if r1 == "" || r1 != r2 {
		t.Errorf("VLMCMP_RUN_ID: shards %q, merge %q: they must name the same run", r1, r2)
	}
	if c.Command[0] != m.Command[0] || c.Image != m.Image {
		t.Errorf("the merge runs %s in %s, the shards %s in %s", m.Command[0], m.Image, c.Command[0], c.Image)
	}
}

func hasArgs(cmd []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, a := range cmd {
			found = found || a == w
		}
		if !found {
			return false
		}
	}
	return true
}

// sbatchOptions returns the #SBATCH options of a batch script, by name.
func sbatchOptions(t *testing.T, file string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	opts := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "#SBATCH ")
		if !ok {
			continue
		}
		name, value, _ := strings.Cut(strings.TrimSpace(rest), "=")
		opts[name] = value
	}
	return opts
}

func TestSlurmScripts(t *testing.T) {
	for _, tc := range []struct {
		file string
		want map[string]string // "" value: the option must be absent
	}{
		{"slurm/vlmcmp-array.sbatch", map[string]string{"--array": "0-7", "--gres": "gpu:1"}},
		{"slurm/vlmcmp-array-cpu.sbatch", map[string]string{"--array": "0-2", "--gres": ""}},
		{"slurm/vlmcmp-merge.sbatch", map[string]string{"--array": "", "--gres": ""}},
	} {
		opts := sbatchOptions(t, tc.file)
		for name, want := range tc.want {
			if got, ok := opts[name]; got != want || (want == "") == ok {
				t.Errorf("%s: #SBATCH %s=%q (present %v), want %q", tc.file, name, got, ok, want)
			}
		}
	}
	b, err := os.ReadFile("slurm/submit.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`--dependency="afterok:$array"`)) {
		t.Error("slurm/submit.sh: the merge is not submitted with --dependency=afterok on the array")
	}

	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to check the scripts' syntax")
	}
	files, _ := filepath.Glob("slurm/*")
	files = append(files, "../scripts/slurm-test.sh")
	for _, f := range files {
		if strings.HasSuffix(f, ".sbatch") || strings.HasSuffix(f, ".sh") {
			if out, err := exec.Command(bash, "-n", f).CombinedOutput(); err != nil {
				t.Errorf("bash -n %s: %v\n%s", f, err, out)
			}
		}
	}
}
