package local

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// SchemaToGrammar converts a JSON schema to a GBNF grammar for llama.cpp's
// grammar sampler (llama.cpp's C API at the pinned commit has no converter).
//
// It covers the schemas vlmcmp uses for structured scores, not all of JSON
// Schema:
//   - "type": object (properties in the order the schema lists them, every
//     listed property emitted, whether required or not; no
//     additionalProperties), array (items, minItems/maxItems), string
//     (enum, maxLength), integer (minimum/maximum: ranges of up to 1000
//     values are enumerated exactly, larger ones are any integer), number
//     (any JSON number; bounds are not enforced), boolean, null;
//   - "enum" and "const" of strings, numbers, booleans and null;
//   - "type" given as a list, or "anyOf"/"oneOf", become alternatives.
//
// $ref, patterns, formats, allOf and dependent keywords are refused with an
// error naming the keyword. The output allows at most one space or newline
// between JSON tokens, so that a model cannot pad its answer forever.
func SchemaToGrammar(schema string) (string, error) {
	v, err := parseOrdered([]byte(schema))
	if err != nil {
		return "", fmt.Errorf("json schema: %w", err)
	}
	g := &gbnf{rules: map[string]string{}}
	root, err := g.visit(v, "root")
	if err != nil {
		return "", fmt.Errorf("json schema: %w", err)
	}
	if root != "root" {
		g.add("root", root)
	}
	g.add("ws", `| " " | "\n"`)
	var b strings.Builder
	for _, name := range g.order {
		fmt.Fprintf(&b, "%s ::= %s\n", name, g.rules[name])
	}
	return b.String(), nil
}

// gbnf collects rules in the order they are made.
type gbnf struct {
	rules map[string]string
	order []string
}

func (g *gbnf) add(name, body string) string {
	if _, ok := g.rules[name]; !ok {
		g.order = append(g.order, name)
	}
	g.rules[name] = body
	return name
}

var ruleChars = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

// name makes a rule name from a path of property names.
func (g *gbnf) name(path string) string {
	n := strings.Trim(ruleChars.ReplaceAllString(path, "-"), "-")
	if n == "" {
		n = "r"
	}
	base := n
	for i := 2; ; i++ {
		if _, ok := g.rules[n]; !ok {
			return n
		}
		n = base + strconv.Itoa(i)
	}
}

// visit returns a GBNF expression for schema node v, adding rules as needed.
// path names the node (for rule names and errors).
func (g *gbnf) visit(v any, path string) (string, error) {
	switch s := v.(type) {
	case bool:
		if !s {
			return "", fmt.Errorf("%s: schema false accepts nothing", path)
		}
		return g.anyValue(), nil
	case *object:
	default:
		return "", fmt.Errorf("%s: a schema must be an object, got %s", path, describe(v))
	}
	s := v.(*object)
	for _, k := range s.keys {
		switch k {
		case "$ref", "$defs", "definitions", "pattern", "patternProperties", "allOf", "not",
			"if", "then", "else", "dependentRequired", "dependentSchemas", "format", "prefixItems":
			return "", fmt.Errorf("%s: keyword %q is not supported", path, k)
		}
	}
	if c, ok := s.get("const"); ok {
		lit, err := literal(c)
		if err != nil {
			return "", fmt.Errorf("%s: const: %w", path, err)
		}
		return lit, nil
	}
	if e, ok := s.get("enum"); ok {
		list, ok := e.([]any)
		if !ok || len(list) == 0 {
			return "", fmt.Errorf("%s: enum must be a non-empty list", path)
		}
		alts := make([]string, len(list))
		for i, x := range list {
			lit, err := literal(x)
			if err != nil {
				return "", fmt.Errorf("%s: enum: %w", path, err)
			}
			alts[i] = lit
		}
		return g.add(g.name(path), strings.Join(alts, " | ")), nil
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if a, ok := s.get(k); ok {
			list, ok := a.([]any)
			if !ok || len(list) == 0 {
				return "", fmt.Errorf("%s: %s must be a non-empty list", path, k)
			}
			alts := make([]string, len(list))
			for i, x := range list {
				e, err := g.visit(x, fmt.Sprintf("%s-%d", path, i+1))
				if err != nil {
					return "", err
				}
				alts[i] = e
			}
			return g.add(g.name(path), strings.Join(alts, " | ")), nil
		}
	}
	t, ok := s.get("type")
	if !ok {
		if _, has := s.get("properties"); has {
			t = "object"
		} else {
			return g.anyValue(), nil
		}
	}
	if list, ok := t.([]any); ok {
		alts := make([]string, 0, len(list))
		for _, x := range list {
			sub := s.with("type", x)
			e, err := g.visit(sub, path+"-"+fmt.Sprint(x))
			if err != nil {
				return "", err
			}
			alts = append(alts, e)
		}
		return g.add(g.name(path), strings.Join(alts, " | ")), nil
	}
	ts, _ := t.(string)
	switch ts {
	case "object":
		return g.object(s, path)
	case "array":
		return g.array(s, path)
	case "string":
		return g.str(s, path)
	case "integer":
		return g.integer(s, path)
	case "number":
		return g.number(), nil
	case "boolean":
		return g.add("boolean", `"true" | "false"`), nil
	case "null":
		return `"null"`, nil
	}
	return "", fmt.Errorf("%s: type %s is not supported", path, describe(t))
}

func (g *gbnf) object(s *object, path string) (string, error) {
	props := &object{}
	if p, ok := s.get("properties"); ok {
		if props, ok = p.(*object); !ok {
			return "", fmt.Errorf("%s: properties must be an object", path)
		}
	}
	if len(props.keys) == 0 {
		return g.add(g.name(path), `"{" ws "}"`), nil
	}
	parts := []string{`"{" ws`}
	for i, k := range props.keys {
		e, err := g.visit(props.vals[i], path+"-"+k)
		if err != nil {
			return "", err
		}
		key, _ := json.Marshal(k)
		if i > 0 {
			parts = append(parts, `"," ws`)
		}
		parts = append(parts, gbnfString(string(key)), `ws ":" ws`, e, "ws")
	}
	parts = append(parts, `"}"`)
	return g.add(g.name(path), strings.Join(parts, " ")), nil
}

func (g *gbnf) array(s *object, path string) (string, error) {
	item := g.anyValue()
	if it, ok := s.get("items"); ok {
		var err error
		if item, err = g.visit(it, path+"-item"); err != nil {
			return "", err
		}
	}
	lo, _, err := intKeyword(s, "minItems", path)
	if err != nil {
		return "", err
	}
	hi, hasHi, err := intKeyword(s, "maxItems", path)
	if err != nil {
		return "", err
	}
	if hasHi && hi < lo {
		return "", fmt.Errorf("%s: maxItems %d is below minItems %d", path, hi, lo)
	}
	var body string
	switch {
	case hasHi && hi == 0:
		body = `"[" ws "]"`
	case lo == 0 && !hasHi:
		body = fmt.Sprintf(`"[" ws ( %s ( "," ws %s )* )? ws "]"`, item, item)
	default:
		rest := "*"
		if hasHi {
			rest = fmt.Sprintf("{%d,%d}", max(lo-1, 0), hi-1)
		} else if lo > 1 {
			rest = fmt.Sprintf("{%d,}", lo-1)
		}
		inner := fmt.Sprintf(`%s ( "," ws %s )%s`, item, item, rest)
		if lo == 0 {
			inner = "( " + inner + " )?"
		}
		body = fmt.Sprintf(`"[" ws %s ws "]"`, inner)
	}
	return g.add(g.name(path), body), nil
}

func (g *gbnf) str(s *object, path string) (string, error) {
	g.add("char", `[^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )`)
	n, has, err := intKeyword(s, "maxLength", path)
	if err != nil {
		return "", err
	}
	if !has {
		return g.add("string", `"\"" char* "\""`), nil
	}
	lo, _, err := intKeyword(s, "minLength", path)
	if err != nil {
		return "", err
	}
	if n < lo {
		return "", fmt.Errorf("%s: maxLength %d is below minLength %d", path, n, lo)
	}
	return g.add(g.name(path), fmt.Sprintf(`"\"" char{%d,%d} "\""`, lo, n)), nil
}

// maxEnumerated is the widest integer range spelled out value by value.
const maxEnumerated = 1000

func (g *gbnf) integer(s *object, path string) (string, error) {
	lo, hasLo, err := intKeyword(s, "minimum", path)
	if err != nil {
		return "", err
	}
	hi, hasHi, err := intKeyword(s, "maximum", path)
	if err != nil {
		return "", err
	}
	if hasLo && hasHi {
		if hi < lo {
			return "", fmt.Errorf("%s: maximum %d is below minimum %d", path, hi, lo)
		}
		if hi-lo < maxEnumerated {
			alts := make([]string, 0, hi-lo+1)
			for i := lo; i <= hi; i++ {
				alts = append(alts, gbnfString(strconv.Itoa(i)))
			}
			return g.add(g.name(path), strings.Join(alts, " | ")), nil
		}
	}
	if hasLo && lo >= 0 {
		return g.add("natural", `[0-9] | [1-9] [0-9]{1,15}`), nil
	}
	return g.add("integer", `"-"? ( [0-9] | [1-9] [0-9]{1,15} )`), nil
}

func (g *gbnf) number() string {
	return g.add("number", `"-"? ( [0-9] | [1-9] [0-9]{1,15} ) ( "." [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,3} )?`)
}

// anyValue is any JSON value, nesting bounded by the answer length.
func (g *gbnf) anyValue() string {
	g.add("char", `[^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )`)
	g.add("string", `"\"" char* "\""`)
	g.number()
	g.add("value", `object | array | string | number | "true" | "false" | "null"`)
	g.add("object", `"{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}"`)
	g.add("array", `"[" ws ( value ws ( "," ws value ws )* )? "]"`)
	return "value"
}

// intKeyword reads an integer-valued keyword.
func intKeyword(s *object, key, path string) (int, bool, error) {
	v, ok := s.get(key)
	if !ok {
		return 0, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, false, fmt.Errorf("%s: %s must be a number", path, key)
	}
	f, err := n.Float64()
	if err != nil || f != float64(int(f)) || f > 1e15 || f < -1e15 {
		return 0, false, fmt.Errorf("%s: %s %s is not an integer", path, key, n)
	}
	return int(f), true, nil
}

// literal returns a GBNF literal matching the JSON encoding of x.
func literal(x any) (string, error) {
	switch v := x.(type) {
	case string:
		b, _ := json.Marshal(v)
		return gbnfString(string(b)), nil
	case json.Number:
		return gbnfString(v.String()), nil
	case bool:
		return gbnfString(strconv.FormatBool(v)), nil
	case nil:
		return `"null"`, nil
	}
	return "", fmt.Errorf("%s values are not supported", describe(x))
}

// gbnfString quotes text as a GBNF string literal.
func gbnfString(text string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range text {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return fmt.Sprintf("%q", v)
	case []any:
		return "a list"
	case *object:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// object is a JSON object that keeps its keys in document order.
type object struct {
	keys []string
	vals []any
}

func (o *object) get(k string) (any, bool) {
	for i, key := range o.keys {
		if key == k {
			return o.vals[i], true
		}
	}
	return nil, false
}

// with returns a copy of o with key k set to v.
func (o *object) with(k string, v any) *object {
	c := &object{keys: append([]string(nil), o.keys...), vals: append([]any(nil), o.vals...)}
	for i, key := range c.keys {
		if key == k {
			c.vals[i] = v
			return c
		}
	}
	c.keys = append(c.keys, k)
	c.vals = append(c.vals, v)
	return c
}

// maxDepth bounds nesting, so that hostile input cannot exhaust the stack.
const maxDepth = 64

// parseOrdered parses JSON keeping object key order. Numbers stay
// json.Number; objects are *object.
func parseOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("extra data after the schema")
	}
	return v, nil
}

func parseValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("empty schema")
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key %v is not a string", kt)
				}
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if _, dup := o.get(k); dup {
					return nil, fmt.Errorf("duplicate key %q", k)
				}
				o.keys = append(o.keys, k)
				o.vals = append(o.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			list := []any{}
			for dec.More() {
				v, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return list, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	}
	return tok, nil
}
