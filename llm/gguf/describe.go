package gguf

import (
	"fmt"
	"strings"

	"github.com/vlmcmp/vlmcmp/llm/family"
)

// DescribeFamily names, for people, the model family of a local model's
// files: the family of its projector (the projector type tells Qwen2-VL
// from Qwen2.5-VL, whose language models share one architecture), else the
// families its model's architecture allows ("Qwen2.5-VL or Qwen2-VL"). It
// never fails: a file that cannot be read, a family vlmcmp does not know
// or a projector made for another architecture give a text that says so
// ("unknown (…)", "mismatch (…)"); loading the model says why it cannot
// run.
func DescribeFamily(modelFile, mmproj string) string {
	arch, archErr := headerString(modelFile, "general.architecture")
	pt, ptErr := headerString(mmproj, "clip.projector_type")
	if ptErr == nil {
		f, ok := family.ByProjector(pt)
		switch {
		case !ok:
			return fmt.Sprintf("unknown (projector %s)", pt)
		case archErr == nil && arch != f.Arch:
			return fmt.Sprintf("mismatch (%s projector, %s model)", f.Title, arch)
		}
		return f.Title
	}
	if archErr != nil {
		return "unknown (unreadable files)"
	}
	var titles []string
	for _, f := range family.ByArch(arch) {
		titles = append(titles, f.Title)
	}
	if len(titles) == 0 {
		return fmt.Sprintf("unknown (architecture %s)", arch)
	}
	return strings.Join(titles, " or ")
}

// headerString reads one string key of a GGUF file's header.
func headerString(path, key string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("no file")
	}
	f, err := Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return f.Metadata.String(key)
}
