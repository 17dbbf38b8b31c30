#!/usr/bin/env bash
# template-check.sh: do vlmcmp's local predictor and upstream llama-server
# with --jinja give a model the same prompt tokens for the same messages?
# (issue 15: the model's own chat template, rendered as Hugging Face does.)
#
#   scripts/template-check.sh [LLAMA_SERVER]
#
# LLAMA_SERVER is the llama-server binary (default: $LLAMA_SERVER, else
# llama-server on PATH), best built at ec98e2002, the llama.cpp commit the
# Go module pins: scripts/peer-server.sh DIR --build-only builds it into
# DIR/build-vlmcmp/bin/llama-server. ./vlmcmp (make build; or $VLMCMP_BIN)
# and python3 are needed.
#
# For each family (qwen2vl, qwen2.5vl, qwen3vl) it writes the tiny
# synthetic model (vlmcmp synth-model: the family's published chat template
# in tokenizer.chat_template), starts llama-server --jinja on loopback with
# the model and its mmproj, and for two conversations, system+user+image and
# user+image (the user turn: the image, then "How safe is this street?"):
#   llama-server: POST /apply-template with the OpenAI-style messages (the
#     image as an image_url part) gives the rendered prompt, the image as
#     mtmd's marker <__media__>; mtmd wraps that marker in <|vision_start|>
#     and <|vision_end|> before it tokenizes (mtmd.cpp, Qwen projectors), so
#     the marker is replaced by <|vision_start|><|image_pad|><|vision_end|>
#     and POST /tokenize (add_special and parse_special, as the server's own
#     mtmd_tokenize call) gives the tokens;
#   vlmcmp: `vlmcmp prompt --json` gives the chunks the local predictor
#     evaluates (mtmd text chunks and the image chunk), the image chunk
#     written as one <|image_pad|>.
# So compared, token by token, is everything around the image, the vision
# start/end tokens and where the image sits; not compared is how many
# tokens the image itself takes (that is the projector's, not the template's).
# Where python3 has jinja2, vlmcmp's tokens are also checked against the
# template rendered as transformers' apply_chat_template renders it (jinja2
# sandbox, trim_blocks, lstrip_blocks, loopcontrols; the image as
# {"type": "image"}). And the served paths are counted: llama-server
# evaluates the chat request (/v1/chat/completions, one token) and vlmcmp's
# rendered prompt with the image (/completion, prompt_string and
# multimodal_data); less the text tokens compared, both must leave the same
# image tokens, so the reconstruction above is what the server evaluates.
#
# Verdicts: PASS (equal); KNOWN (the only difference is one "\n" token
# llama-server puts between the image and the text: common/chat.cpp joins a
# message's text parts with "\n" when the template does not require typed
# content, and llama-server turns the image part into a text part holding
# the marker; Hugging Face renders the parts one after the other with
# nothing between, and vlmcmp follows Hugging Face); FAIL (anything else:
# the first difference is shown). Exit status 1 on any FAIL, 2 when a tool
# is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PIN=ec98e2002
die() { echo "template-check: $*" >&2; exit 2; }

SERVER=${1:-${LLAMA_SERVER:-$(command -v llama-server || true)}}
if [ -z "$SERVER" ] || [ ! -x "$SERVER" ]; then
	die "no llama-server${SERVER:+ at $SERVER}: pass its path, set LLAMA_SERVER, or build upstream's at $PIN with
  git clone https://github.com/ggml-org/llama.cpp DIR && git -C DIR checkout $PIN
  scripts/peer-server.sh DIR --build-only
and run scripts/template-check.sh DIR/build-vlmcmp/bin/llama-server"
fi
VLMCMP=${VLMCMP_BIN:-./vlmcmp}
[ -x "$VLMCMP" ] || die "$VLMCMP not found: run make build (or set VLMCMP_BIN)"
command -v python3 >/dev/null || die "python3 not found"
command -v curl >/dev/null || die "curl not found"

version=$("$SERVER" --version 2>&1 | grep -m1 '^version' || true)
echo "template-check: llama-server $SERVER ($version)"
case $version in
*"(${PIN:0:8})"*) ;;
*) echo "template-check: WARNING: llama-server is not at $PIN, the commit the module pins" >&2 ;;
esac

T=$(mktemp -d "${TMPDIR:-/tmp}/template-check.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$T"
}
trap cleanup EXIT

# A 64×48 grey PNG: the same picture for both sides.
python3 - "$T/grey.png" <<'PY'
import struct, sys, zlib
w, h = 64, 48
raw = b"".join(b"\x00" + bytes([128]) * (3 * w) for _ in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

SYSTEM="You rate street photos."
USER="How safe is this street?"
fails=0
for fam in qwen2vl qwen2.5vl qwen3vl; do
	d=$T/$fam
	"$VLMCMP" synth-model --arch "$fam" --shape tiny --seed 1 --out "$d" >/dev/null 2>"$T/synth.log" ||
		{ cat "$T/synth.log" >&2; die "synth-model --arch $fam failed"; }
	"$SERVER" -m "$d/model.gguf" --mmproj "$d/mmproj.gguf" --jinja --host 127.0.0.1 --port "$port" \
		--no-webui --no-warmup -c 2048 --parallel 1 -t 2 >"$d/server.log" 2>&1 &
	pid=$!
	ok=0
	for _ in $(seq 1 240); do
		kill -0 "$pid" 2>/dev/null || break
		if curl -fs "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"ok"'; then ok=1; break; fi
		sleep 0.25
	done
	if [ $ok = 0 ]; then
		tail -20 "$d/server.log" >&2
		die "llama-server did not start on the $fam model (log above)"
	fi
	for conv in system+user+image user+image; do
		sys=
		[ $conv = system+user+image ] && sys=$SYSTEM
		"$VLMCMP" prompt --model-file "$d/model.gguf" --mmproj "$d/mmproj.gguf" --image "$T/grey.png" \
			${sys:+--system "$sys"} --prompt "$USER" --json >"$d/vlmcmp-$conv.json" 2>"$d/vlmcmp.log" ||
			{ cat "$d/vlmcmp.log" >&2; die "vlmcmp prompt failed on $fam"; }
		python3 - "$fam" "$conv" "http://127.0.0.1:$port" "$T/grey.png" "$d/vlmcmp-$conv.json" "$sys" "$USER" <<'PY' || fails=$((fails + 1))
import base64, json, sys, urllib.request

fam, conv, url, png, mine, system, user = sys.argv[1:8]
MARKER = "<__media__>"
IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"

def post(path, body):
    req = urllib.request.Request(url + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)

def show(ids, pieces, i):
    return " ".join(f"{ids[k]}{pieces[k]!r}" for k in range(max(0, i - 2), min(len(ids), i + 3)))

def tokenize(text):
    r = post("/tokenize", {"content": text, "add_special": True, "parse_special": True, "with_pieces": True})
    return [t["id"] for t in r["tokens"]], [t["piece"] for t in r["tokens"]]

b64 = base64.b64encode(open(png, "rb").read()).decode()
msgs = [{"role": "system", "content": system}] if system else []
msgs.append({"role": "user", "content": [
    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64}},
    {"type": "text", "text": user}]})
served = post("/apply-template", {"messages": msgs})["prompt"]
if served.count(MARKER) != 1:
    print(f"{fam:10} {conv:18} FAIL  llama-server's prompt has {served.count(MARKER)} markers {MARKER}: {served!r}")
    sys.exit(1)
theirs, their_pieces = tokenize(served.replace(MARKER, IMAGE))

# Hugging Face's rendering, where python3 has jinja2: transformers'
# apply_chat_template renders with jinja2's sandbox, trim_blocks,
# lstrip_blocks and loopcontrols, an image part as {"type": "image"}.
hf = None
try:
    import jinja2, jinja2.sandbox
    props = json.load(urllib.request.urlopen(url + "/props", timeout=60))
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = lambda x, indent=None, separators=None, sort_keys=False, ensure_ascii=False: json.dumps(x, indent=indent, separators=separators, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
    def raise_exception(m): raise jinja2.exceptions.TemplateError(m)
    env.globals["raise_exception"] = raise_exception
    hf_msgs = [{"role": "system", "content": system}] if system else []
    hf_msgs.append({"role": "user", "content": [{"type": "image"}, {"type": "text", "text": user}]})
    hf_text = env.from_string(props["chat_template"]).render(messages=hf_msgs, add_generation_prompt=True,
        bos_token=props.get("bos_token", ""), eos_token=props.get("eos_token", ""))
    hf = tokenize(hf_text)
except ImportError:
    pass

pad = tokenize("<|image_pad|>")[0]
if len(pad) != 1:
    print(f"{fam:10} {conv:18} FAIL  <|image_pad|> is not one token: {pad}")
    sys.exit(1)
v = json.load(open(mine))
ours, our_pieces, image_tokens = [], [], 0
for c in v["chunks"]:
    if c["type"] == "image":
        ours.append(pad[0]); our_pieces.append("<|image_pad|>")
        image_tokens = c["image_tokens"]
    else:
        ours += c["tokens"]; our_pieces += c["pieces"]

at = ours.index(pad[0]) if pad[0] in ours else -1
if hf is None:
    ref = "Hugging Face's rendering not checked (python3 has no jinja2)"
elif hf[0] == ours:
    ref = "vlmcmp = Hugging Face (jinja2)"
else:
    i = next((k for k in range(min(len(ours), len(hf[0]))) if ours[k] != hf[0][k]), min(len(ours), len(hf[0])))
    print(f"{fam:10} {conv:18} FAIL  vlmcmp differs from Hugging Face's rendering (jinja2) at token {i}: "
          f"vlmcmp ... {show(ours, our_pieces, i)} ... | Hugging Face ... {show(hf[0], hf[1], i)} ...\n{'':30}vlmcmp {v['prompt']!r}\n{'':30}HF     {hf_text!r}")
    sys.exit(1)
where = f"{ref}; template {v['template']}; image at token {at} ({image_tokens} tokens, not compared)"

# The served paths, counted: the chat request as a client sends it
# (/v1/chat/completions), and vlmcmp's rendered prompt with the image
# (/completion, prompt_string and multimodal_data), each evaluated by
# llama-server for one token. Less their text tokens, both must leave the
# same image (llama-server's own image budget, which may differ from
# vlmcmp's): then the tokens compared above are the ones it evaluates.
chat_n = post("/v1/chat/completions", {"messages": msgs, "max_tokens": 1})["usage"]["prompt_tokens"]
raw_n = post("/completion", {"prompt": {"prompt_string": v["prompt"], "multimodal_data": [b64]}, "n_predict": 1})["tokens_evaluated"]
img_chat, img_raw = chat_n - (len(theirs) - 1), raw_n - (len(ours) - 1)
if img_chat != img_raw:
    print(f"{fam:10} {conv:18} FAIL  served counts do not fit the compared tokens: chat {chat_n} = {len(theirs) - 1} text + {img_chat} image, "
          f"vlmcmp's prompt {raw_n} = {len(ours) - 1} text + {img_raw} image")
    sys.exit(1)
where += f"; llama-server evaluates {chat_n} tokens for the chat request, {raw_n} for vlmcmp's prompt ({img_chat} image)"
pad30 = " " * 30
if ours == theirs:
    print(f"{fam:10} {conv:18} PASS   {len(ours)} tokens equal\n{pad30}{where}")
    sys.exit(0)
i = next((k for k in range(min(len(ours), len(theirs))) if ours[k] != theirs[k]), min(len(ours), len(theirs)))
first = (f"first difference at token {i} of {len(ours)} (vlmcmp) / {len(theirs)} (llama-server): "
         f"vlmcmp ... {show(ours, our_pieces, i)} ... | llama-server ... {show(theirs, their_pieces, i)} ...")
if (len(theirs) == len(ours) + 1 and i > 0 and their_pieces[i] == "\n"
        and their_pieces[i - 1] == "<|vision_end|>" and theirs[:i] + theirs[i + 1:] == ours):
    print(f"{fam:10} {conv:18} KNOWN  {len(ours)} tokens equal but llama-server's \"\\n\" ({theirs[i]}) after <|vision_end|> at token {i}"
          f" (Hugging Face has nothing between the parts)\n{pad30}{where}")
    sys.exit(0)
print(f"{fam:10} {conv:18} FAIL   {first}\n{pad30}{where}\n{'':30}vlmcmp       {v['prompt']!r}\n{'':30}llama-server {served!r}")
sys.exit(1)
PY
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
done
if [ $fails -gt 0 ]; then
	echo "template-check: $fails conversation(s) FAIL"
	exit 1
fi
echo "template-check: vlmcmp's prompt tokens equal llama-server --jinja's for every family and conversation, but for the differences marked KNOWN"
