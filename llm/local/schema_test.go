package local

import (
	"strings"
	"testing"
)

func TestSchemaToGrammar(t *testing.T) {
	tests := []struct {
		name    string
		schema  string
		want    []string // lines the grammar must hold
		wantErr string
	}{
		{"score object", `{"type":"object","properties":{"score":{"type":"integer","minimum":1,"maximum":10},"reason":{"type":"string"}},"required":["score","reason"]}`,
			[]string{`root ::= "{" ws "\"score\"" ws ":" ws root-score ws "," ws "\"reason\"" ws ":" ws string ws "}"`,
				`root-score ::= "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "10"`, `string ::= "\"" char* "\""`}, ""},
		{"enum", `{"enum":["low","high",3,true,null]}`, []string{`root ::= "\"low\"" | "\"high\"" | "3" | "true" | "null"`}, ""},
		{"bounded string", `{"type":"string","maxLength":5}`, []string{`root ::= "\"" char{0,5} "\""`}, ""},
		{"array", `{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":3}`, []string{`root ::= "[" ws boolean ( "," ws boolean ){0,2} ws "]"`}, ""},
		{"type list", `{"type":["number","null"]}`, []string{`root ::= number | "null"`}, ""},
		{"ref", `{"$ref":"#/$defs/x"}`, nil, `keyword "$ref" is not supported`},
		{"bad json", `{"type":`, nil, "json schema"},
		{"inverted range", `{"type":"integer","minimum":5,"maximum":1}`, nil, "below minimum"},
		{"not a schema", `[1,2]`, nil, "must be an object"},
		{"trailing data", `{} {}`, nil, "extra data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := SchemaToGrammar(tt.schema)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SchemaToGrammar(%s) error %v, want one containing %q", tt.schema, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("SchemaToGrammar(%s): %v", tt.schema, err)
			}
			lines := strings.Split(g, "\n")
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("SchemaToGrammar(%s) lacks line\n%s\ngot:\n%s", tt.schema, w, g)
				}
			}
		})
	}
}

func TestParseLoRA(t *testing.T) {
	tests := []struct {
		in   string
		want LoRA
		err  bool
	}{
		{"a.gguf", LoRA{"a.gguf", 1}, false},
		{"a.gguf:0.5", LoRA{"a.gguf", 0.5}, false},
		{"c:/x/a.gguf", LoRA{"c:/x/a.gguf", 1}, false},
		{"dir:v2/a.gguf:0", LoRA{"dir:v2/a.gguf", 0}, false},
		{":1", LoRA{}, true},
		{"", LoRA{}, true},
	}
	for _, tt := range tests {
		got, err := ParseLoRA(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseLoRA(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// FuzzSchemaToGrammar: any input gives a grammar or an error, never a panic
// or a runaway, and a grammar always defines root.
func FuzzSchemaToGrammar(f *testing.F) {
	for _, s := range []string{`{"type":"object","properties":{"score":{"type":"integer","minimum":1,"maximum":10}}}`,
		`{"anyOf":[{"type":"string"},{"const":1}]}`, `{"type":"array","items":{"type":"array"}}`, `true`, `{"enum":[]}`,
		`{"type":"integer","minimum":-1e300,"maximum":1e300}`, `{"type":"string","minLength":3,"maxLength":2}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, schema string) {
		g, err := SchemaToGrammar(schema)
		if err == nil && !strings.HasPrefix(g, "root ::= ") && !strings.Contains(g, "\nroot ::= ") {
			t.Errorf("grammar without root for %q:\n%s", schema, g)
		}
	})
}
