#!/usr/bin/env bash
# peer-bench.sh: the whole in-process against llama-server comparison of
# issue 14 in one go, on the `small` synthetic Qwen2-VL: for each answer
# length, vlmcmp's local path at each batch size, then upstream llama-server
# (scripts/peer-server.sh) at each --parallel with as many requests in
# flight, same images, prompt and answer length; one table at the end with
# the best of each and their ratio.
#
#   scripts/peer-bench.sh LLAMA_CPP_DIR
#
# Settings (environment): IMAGES (32), SIZE (320x240), TOKENS ("16 64"),
# BATCHES (1,2,4,8), PARALLELS ("2 4 8"), THREADS (server -t values to
# try, each with every --parallel; default nproc: "2 1" on a loaded 2-core
# machine, where more threads than idle CPUs collapse), LOCAL_FLAGS (vlmcmp bench flags of the local path; default
# --text-first: the prompt before the image, as the server gets it from the
# OpenAI backend), BEFORE (1: also time the local path as it was before
# issue 14, with BEFORE_FLAGS, default "--threads $(nproc) --encode-ahead off",
# image first), REPEAT (3), PORT (8089), OUT (build/peer-bench). Run it on a
# quiet machine: every figure is wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 LLAMA_CPP_DIR" >&2; exit 2; }
LLAMA=$1
IMAGES=${IMAGES:-32} SIZE=${SIZE:-320x240} TOKENS=${TOKENS:-16 64}
BATCHES=${BATCHES:-1,2,4,8} PARALLELS=${PARALLELS:-2 4 8} THREADS=${THREADS:-$(nproc)}
REPEAT=${REPEAT:-3} PORT=${PORT:-8089} OUT=${OUT:-build/peer-bench} LOCAL_FLAGS=${LOCAL_FLAGS---text-first}
BEFORE=${BEFORE:-1} BEFORE_FLAGS=${BEFORE_FLAGS:-"--threads $(nproc) --encode-ahead off"}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

[ -x ./vlmcmp ] || make build
M=$OUT/small
[ -f "$M/model.gguf" ] || ./vlmcmp synth-model --shape small --seed 1 --out "$M" >/dev/null
scripts/peer-server.sh "$LLAMA" --build-only

common=(--synthetic "$IMAGES" --synthetic-size "$SIZE" --repeat "$REPEAT")
server_pid=
stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}
trap stop_server EXIT

echo "peer-bench: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" | tee "$OUT/summary.txt"
for t in $TOKENS; do
	if [ "$BEFORE" = 1 ]; then
		echo "== local before ($BEFORE_FLAGS), $t tokens, batch $BATCHES" | tee -a "$OUT/summary.txt"
		# shellcheck disable=SC2086
		./vlmcmp bench --model-file "$M/model.gguf" --mmproj "$M/mmproj.gguf" "${common[@]}" \
			--max-tokens "$t" --batch "$BATCHES" --json "$OUT/before-$t.json" $BEFORE_FLAGS 2>/dev/null | tee -a "$OUT/summary.txt"
	fi
	echo "== local ($LOCAL_FLAGS), $t tokens, batch $BATCHES" | tee -a "$OUT/summary.txt"
	# shellcheck disable=SC2086
	./vlmcmp bench --model-file "$M/model.gguf" --mmproj "$M/mmproj.gguf" "${common[@]}" \
		--max-tokens "$t" --batch "$BATCHES" --json "$OUT/local-$t.json" $LOCAL_FLAGS 2>/dev/null | tee -a "$OUT/summary.txt"
	for th in $THREADS; do
		for p in $PARALLELS; do
			echo "== llama-server --parallel $p -t $th, $t tokens, $p in flight" | tee -a "$OUT/summary.txt"
			scripts/peer-server.sh "$LLAMA" --model "$M/model.gguf" --mmproj "$M/mmproj.gguf" \
				--parallel "$p" --threads "$th" --port "$PORT" --ctx $((p * 1024)) >/dev/null
			server_pid=$(cat "$LLAMA/build-vlmcmp/server-$PORT.pid")
			./vlmcmp bench --server "http://127.0.0.1:$PORT/v1" "${common[@]}" --max-tokens "$t" \
				--batch "$p" --concurrency "$p" --json "$OUT/server-$t-$p-t$th.json" 2>/dev/null | tee -a "$OUT/summary.txt"
			stop_server
		done
	done
done

# One table: the best of each path per answer length, and the ratio.
python3 - "$OUT" $TOKENS <<'EOF' | tee -a "$OUT/summary.txt"
import glob, json, os, sys
out, tokens = sys.argv[1], sys.argv[2:]
print()
print("| answer tokens | vlmcmp before: best images/s (batch) | vlmcmp: best images/s (batch) | llama-server: best images/s (--parallel, -t) | before / server | vlmcmp / server |")
print("|---:|---:|---:|---:|---:|---:|")
def best_local(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return None
    return max(json.load(open(path))["sizes"], key=lambda z: z["images_per_sec"]["median"])
for t in tokens:
    lb, bb = best_local(f"local-{t}.json"), best_local(f"before-{t}.json")
    best, bth = None, "?"
    for f in glob.glob(os.path.join(out, f"server-{t}-*.json")):
        for z in json.load(open(f))["server"]["sizes"]:
            if best is None or z["images_per_sec"]["median"] > best["images_per_sec"]["median"]:
                best, bth = z, f.rsplit("-t", 1)[-1].removesuffix(".json")
    l, s = lb["images_per_sec"]["median"], best["images_per_sec"]["median"]
    b = bb["images_per_sec"]["median"] if bb else float("nan")
    bcell = f"{b:.2f} ({bb['batch']})" if bb else "-"
    print(f"| {t} | {bcell} | {l:.2f} ({lb['batch']}) | {s:.2f} ({best['batch']}, -t {bth}) | {b/s:.2f}x | {l/s:.2f}x |")
EOF
