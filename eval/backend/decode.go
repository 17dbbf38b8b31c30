package backend

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vlmcmp/vlmcmp/usage"
)

// CommonKeys are the keys every model's entry may have whatever its
// backend; eval/config decodes them.
var CommonKeys = []string{"name", "backend", "prompt", "system", "max_tokens", "concurrency"}

// LineError is a mistake at a line of the config file; eval/config adds the
// file's name. It unwraps to a [usage.Error] naming the key.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

func lineErrorf(line int, key, format string, args ...any) error {
	return &LineError{Line: line, Err: usage.Errorf(key, format, args...)}
}

// Decode decodes the entry node of model c (of backend c.Backend) into its
// backend's spec and validates it. Keys other than [CommonKeys] and the
// spec's are refused, naming their line; yaml's own errors (a string where
// a number goes) are returned as yaml.v3 words them, with their line.
func Decode(c Common, node *yaml.Node) (Spec, error) {
	k, ok := registry[c.Backend]
	if !ok {
		return nil, usage.Errorf("backend", "backend %q is not one of %s", c.Backend, strings.Join(Names(), ", "))
	}
	spec := k.New(c)
	if node != nil {
		if err := decodeStrict(node, spec, c.Backend); err != nil {
			return nil, err
		}
	}
	resolvePaths(reflect.ValueOf(spec), c.Dir)
	if err := spec.Validate(); err != nil {
		return nil, usage.Wrap("", err)
	}
	return spec, nil
}

// decodeStrict decodes node, a mapping, into spec (a pointer to a struct),
// refusing keys that neither spec's fields (their yaml tags) nor the common
// keys name.
func decodeStrict(node *yaml.Node, spec Spec, backend string) error {
	node = Flatten(node)
	if node.Kind != yaml.MappingNode {
		return lineErrorf(node.Line, "", "a model must be a mapping of keys")
	}
	known := yamlKeys(reflect.TypeOf(spec).Elem())
	own := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: node.Line, Column: node.Column}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key := node.Content[i]
		switch {
		case slices.Contains(known, key.Value):
			own.Content = append(own.Content, key, node.Content[i+1])
		case slices.Contains(CommonKeys, key.Value):
		default:
			return lineErrorf(key.Line, key.Value, "unknown key %q for backend %s (its keys: %s)", key.Value, backend, strings.Join(append(slices.Clone(CommonKeys), known...), ", "))
		}
	}
	return own.Decode(spec)
}

// yamlKeys are the yaml names of t's fields.
func yamlKeys(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// resolvePaths makes every string field tagged `vlmcmp:"path"`, in v and
// the structs and slices it holds, relative to dir.
func resolvePaths(v reflect.Value, dir string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			resolvePaths(v.Elem(), dir)
		}
	case reflect.Slice:
		for i := range v.Len() {
			resolvePaths(v.Index(i), dir)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Tag.Get("vlmcmp") == "path" && f.Type.Kind() == reflect.String {
				if p := v.Field(i).String(); p != "" && dir != "" && !filepath.IsAbs(p) {
					v.Field(i).SetString(filepath.Join(dir, p))
				}
				continue
			}
			resolvePaths(v.Field(i), dir)
		}
	}
}

// Flatten is a model's entry as yaml.v3 decodes it: an alias resolved, and
// merge keys (<<: *shared) replaced by the pairs they merge, the entry's own
// keys winning. Other nodes are returned as they are.
func Flatten(node *yaml.Node) *yaml.Node {
	for node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	if node.Kind != yaml.MappingNode {
		return node
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: node.Line, Column: node.Column, Style: node.Style}
	own := map[string]bool{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if k := node.Content[i]; k.Tag != "!!merge" {
			own[k.Value] = true
		}
	}
	seen := map[string]bool{}
	add := func(k, v *yaml.Node) {
		if !seen[k.Value] {
			seen[k.Value] = true
			out.Content = append(out.Content, k, v)
		}
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		if k.Tag != "!!merge" {
			add(k, v)
			continue
		}
		var merged []*yaml.Node
		if v = Flatten(v); v.Kind == yaml.SequenceNode {
			for _, m := range v.Content {
				merged = append(merged, Flatten(m))
			}
		} else {
			merged = []*yaml.Node{v}
		}
		for _, m := range merged {
			if m.Kind != yaml.MappingNode {
				continue // yaml.v3 refuses it when it decodes the entry
			}
			for j := 0; j+1 < len(m.Content); j += 2 {
				if !own[m.Content[j].Value] {
					add(m.Content[j], m.Content[j+1])
				}
			}
		}
	}
	return out
}
