package chat

import (
	"strings"
	"testing"

	"github.com/vlmcmp/vlmcmp/llm/family"
)

// The conversations every family is checked on.
var (
	sysUserImage = []Message{
		Text("system", "You rate street photos."),
		{Role: "user", Parts: []Part{{Type: "image"}, {Type: "text", Text: "How safe is this street?"}}},
	}
	userImage = []Message{
		{Role: "user", Parts: []Part{{Type: "image"}, {Type: "text", Text: "How safe is this street?"}}},
	}
)

// TestFamilyTemplates: each family's template renders the two
// conversations as Hugging Face's apply_chat_template does. The expected
// strings are written from the templates' rules: ChatML turns, an image
// part as vision start, image pad, vision end; Qwen2-VL and Qwen2.5-VL add
// "You are a helpful assistant." when the first message is not a system
// message, Qwen3-VL adds no system turn.
func TestFamilyTemplates(t *testing.T) {
	const img = "<|vision_start|><|image_pad|><|vision_end|>"
	qwen2Sys := "<|im_start|>system\nYou rate street photos.<|im_end|>\n" +
		"<|im_start|>user\n" + img + "How safe is this street?<|im_end|>\n<|im_start|>assistant\n"
	qwen2User := "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
		"<|im_start|>user\n" + img + "How safe is this street?<|im_end|>\n<|im_start|>assistant\n"
	qwen3User := "<|im_start|>user\n" + img + "How safe is this street?<|im_end|>\n<|im_start|>assistant\n"
	for _, tc := range []struct {
		f              *family.Family
		withSys, plain string
	}{
		{family.Qwen2VL, qwen2Sys, qwen2User},
		{family.Qwen25VL, qwen2Sys, qwen2User},
		{family.Qwen3VL, qwen2Sys, qwen3User},
	} {
		tpl, err := ForModel("", tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if tpl.Source != FromFamily || tpl.Name != tc.f.Name {
			t.Errorf("%s: source %s %s", tc.f.Name, tpl.Source, tpl.Name)
		}
		for _, c := range []struct {
			msgs []Message
			want string
		}{{sysUserImage, tc.withSys}, {userImage, tc.plain}} {
			got, err := tpl.Render(c.msgs, true)
			if err != nil {
				t.Fatalf("%s: %v", tc.f.Name, err)
			}
			if got != c.want {
				t.Errorf("%s: rendered\n%q\nwant\n%q", tc.f.Name, got, c.want)
			}
			noGen, err := tpl.Render(c.msgs, false)
			if err != nil || noGen != strings.TrimSuffix(c.want, "<|im_start|>assistant\n") {
				t.Errorf("%s without generation prompt: %q, %v", tc.f.Name, noGen, err)
			}
		}
	}
}

// TestSystemAsParts: a system message given as a list of text parts
// renders like the plain string.
func TestSystemAsParts(t *testing.T) {
	for _, f := range family.All() {
		tpl, err := ForModel("", f)
		if err != nil {
			t.Fatal(err)
		}
		a, err := tpl.Render(sysUserImage, true)
		if err != nil {
			t.Fatal(err)
		}
		parts := append([]Message{{Role: "system", Parts: []Part{{Type: "text", Text: "You rate street photos."}}}}, sysUserImage[1:]...)
		b, err := tpl.Render(parts, true)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("%s: system as parts gave\n%q\nas a string\n%q", f.Name, b, a)
		}
	}
}

func TestFileTemplateWins(t *testing.T) {
	tpl, err := ForModel("{% for m in messages %}[{{ m.role }}]{% endfor %}{% if add_generation_prompt %}>{% endif %}", family.Qwen2VL)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Render(sysUserImage, true)
	if err != nil || got != "[system][user]>" || tpl.Source != FromFile {
		t.Errorf("got %q, %v, source %s", got, err, tpl.Source)
	}
}

func TestTrimBlocks(t *testing.T) {
	// Hugging Face compiles with trim_blocks and lstrip_blocks.
	tpl, err := Compile("{% for m in messages %}\n    {% if m.role == 'user' %}\nU\n    {% endif %}\n{% endfor %}")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Render(userImage, false)
	if err != nil || got != "U\n" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestIncludeRefused(t *testing.T) {
	tpl, err := Compile(`{% include "/etc/passwd" %}`)
	if err == nil {
		_, err = tpl.Render(userImage, true)
	}
	if err == nil {
		t.Error("include of a file was rendered")
	}
}

func TestForMtmd(t *testing.T) {
	p := "<|im_start|>user\n" + ImageText + "Rate.<|im_end|>\n"
	got, err := ForMtmd(p, "<__media__>", 1)
	if err != nil || got != "<|im_start|>user\n<__media__>Rate.<|im_end|>\n" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := ForMtmd(p, "<__media__>", 2); err == nil {
		t.Error("wrong image count accepted")
	}
}

func FuzzCompile(f *testing.F) {
	for _, fam := range family.All() {
		f.Add(fam.ChatTemplate)
	}
	f.Add("{% if %}")
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := Compile(src)
		if err != nil {
			return
		}
		_, _ = tpl.Render(sysUserImage, true) // must not panic
	})
}

func TestPrompt(t *testing.T) {
	tpl, err := ForModel("", family.Qwen2VL)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Prompt("", "Rate it.", "<__media__>")
	want := "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<__media__>Rate it.<|im_end|>\n<|im_start|>assistant\n"
	if err != nil || got != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	tpl3, err := ForModel("", family.Qwen3VL)
	if err != nil {
		t.Fatal(err)
	}
	got, err = tpl3.Prompt("Be brief.", "Rate it.", "<__media__>")
	want = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n<__media__>Rate it.<|im_end|>\n<|im_start|>assistant\n"
	if err != nil || got != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
}
