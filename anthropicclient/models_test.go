package anthropicclient

import (
	"math"
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm"
)

func TestLookup(t *testing.T) {
	m := DefaultModels()
	for _, tt := range []struct {
		name string
		want string // "" when not found
	}{
		{"claude-sonnet-5-5", "claude-sonnet-5-5"},
		{"claude-haiku-4-5-20251001", "claude-haiku-4-5"},
		{"claude-opus-4-5-20251101", "claude-opus-4-5"},
		{"claude-sonnet-4", "claude-sonnet-4-0"},
		{"claude-sonnet-5-5-20261001", "claude-sonnet-5-5"},
		{"claude-sonnet-5-9", ""}, // not claude-sonnet-5
		{"gpt-4o", ""},
	} {
		got, ok := m.Lookup(tt.name)
		if tt.want == "" {
			if ok {
				t.Errorf("Lookup(%q) found %+v", tt.name, got)
			}
			continue
		}
		if !ok || got != m[tt.want] {
			t.Errorf("Lookup(%q) = %+v, %v; want %s", tt.name, got, ok, tt.want)
		}
	}
}

func TestDefaultModelsPrices(t *testing.T) {
	m := DefaultModels()
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	for _, name := range m.Names() {
		mi := m[name]
		if mi.Price.Input <= 0 || mi.Price.Output <= mi.Price.Input {
			t.Errorf("%s: price %+v: every Claude model's output costs more than its input", name, mi.Price)
		}
		if !mi.Vision && !strings.HasPrefix(name, "claude-2") && !strings.HasPrefix(name, "claude-instant") {
			t.Errorf("%s is marked text-only; every current Claude model takes images", name)
		}
	}
}

func TestCost(t *testing.T) {
	m := DefaultModels()
	u := llm.Usage{PromptTokens: 1200, CompletionTokens: 10}
	if got, want := m.Cost("claude-haiku-4-5-20251001", u), (1200*1.0+10*5.0)/1e6; math.Abs(got-want) > 1e-15 {
		t.Errorf("haiku 4.5 cost = %v, want %v", got, want)
	}
	// Claude Haiku 5.5 bills a prompt over 100K tokens at its long rate.
	long := llm.Usage{PromptTokens: 150_000, CompletionTokens: 100}
	if got, want := m.Cost("claude-haiku-5-5", long), (150_000*0.50+100*2.50)/1e6; math.Abs(got-want) > 1e-12 {
		t.Errorf("haiku 5.5 long cost = %v, want %v", got, want)
	}
	if got := m.Cost("claude-unknown", u); got != 0 {
		t.Errorf("unknown model cost %v", got)
	}
}

func TestMergeModels(t *testing.T) {
	base := DefaultModels()
	over := Models{
		"claude-sonnet-5-5": {Vision: true, Price: Price{Input: 1, Output: 4}},
		"my-claude":         {Vision: true, Like: "claude-opus-5-5"},
	}
	m := MergeModels(base, over)
	if m["claude-sonnet-5-5"].Price.Input != 1 || base["claude-sonnet-5-5"].Price.Input != 2 {
		t.Fatalf("override: %+v, base changed to %+v", m["claude-sonnet-5-5"], base["claude-sonnet-5-5"])
	}
	if mc := m["my-claude"]; mc.Price != base["claude-opus-5-5"].Price || !mc.Thinking {
		t.Fatalf("like: %+v", mc)
	}
	if err := MergeModels(base, Models{"x": {Like: "nothing"}}).Check(); err == nil {
		t.Fatal("a Like naming no entry passed Check")
	}
}
