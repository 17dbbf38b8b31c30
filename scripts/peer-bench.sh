#!/usr/bin/env bash
# peer-bench.sh: the whole in-process against llama-server comparison of
# issue 14 in one go, on the `small` synthetic Qwen2-VL: for each answer
# length, vlmcmp's local path at each batch size and upstream llama-server
# (scripts/peer-server.sh) at each --parallel with as many requests in
# flight, same images, prompt and answer length; one table at the end with
# the best of each and their ratio.
#
#   scripts/peer-bench.sh LLAMA_CPP_DIR
#
# The two paths take turns: each of REPEAT rounds times the local path once
# at every batch size, then the server once at every --parallel, so that a
# machine whose speed drifts (other tenants, heat) slows both alike. Each
# figure is the median over the rounds, and the table also gives the ratio
# of the two bests within each round.
#
# Settings (environment): IMAGES (32), SIZE (320x240), TOKENS ("16 64"),
# BATCHES (8,16,32), PARALLELS ("8 16 32"), THREADS (server -t values to
# try, each with every --parallel; default nproc), LOCAL_FLAGS (vlmcmp bench
# flags of the local path; default --text-first: the prompt before the
# image, as the server gets it from the OpenAI backend), BEFORE (a second
# vlmcmp binary, e.g. a build of an earlier commit, timed right before
# ./vlmcmp in every round, into before-*.json), REPEAT (rounds, 3),
# PORT (8089), OUT (build/peer-bench), QUIET (seconds, 0 to skip; default
# 120: before each timed run wait up to that long for a second in which the
# CPUs are at most 20% busy, so that another job's burst, such as a test
# run, does not land in one path's figure; each run's line says how long it
# waited). Run it on a quiet machine: every figure is wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 LLAMA_CPP_DIR" >&2; exit 2; }
LLAMA=$1
IMAGES=${IMAGES:-32} SIZE=${SIZE:-320x240} TOKENS=${TOKENS:-16 64}
BATCHES=${BATCHES:-8,16,32} PARALLELS=${PARALLELS:-8 16 32} THREADS=${THREADS:-$(nproc)}
REPEAT=${REPEAT:-3} QUIET=${QUIET:-120} PORT=${PORT:-8089} OUT=${OUT:-build/peer-bench} LOCAL_FLAGS=${LOCAL_FLAGS---text-first}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

[ -x ./vlmcmp ] || make build
M=$OUT/small
[ -f "$M/model.gguf" ] || ./vlmcmp synth-model --shape small --seed 1 --out "$M" >/dev/null
scripts/peer-server.sh "$LLAMA" --build-only

common=(--synthetic "$IMAGES" --synthetic-size "$SIZE" --repeat 1)
# quiet waits up to QUIET seconds for a second with the CPUs at most 20%
# busy (from /proc/stat) and prints how long it waited.
quiet() {
	local t0=$SECONDS a b
	while [ $((SECONDS - t0)) -lt "$QUIET" ]; do
		a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
		local idle=$(( b[4] + b[5] - a[4] - a[5] )) total=0 i
		for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
		[ "$total" -gt 0 ] && [ $(( (total - idle) * 100 / total )) -le 20 ] && break
	done
	printf '(waited %ds for quiet, load %s)' $((SECONDS - t0)) "$(cut -d' ' -f1 /proc/loadavg)"
}

server_pid=
stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}
trap stop_server EXIT

echo "peer-bench: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $REPEAT rounds" | tee "$OUT/summary.txt"
for t in $TOKENS; do
	for r in $(seq 1 "$REPEAT"); do
		if [ -n "${BEFORE:-}" ]; then
			echo "== round $r, $t tokens: before ($BEFORE), batch $BATCHES $(quiet)" | tee -a "$OUT/summary.txt"
			# shellcheck disable=SC2086
			"$BEFORE" bench --model-file "$M/model.gguf" --mmproj "$M/mmproj.gguf" "${common[@]}" \
				--max-tokens "$t" --batch "$BATCHES" --json "$OUT/before-$t-r$r.json" $LOCAL_FLAGS 2>/dev/null |
				grep -E '^ +local' | sed 's/^  local /  before/' | tee -a "$OUT/summary.txt"
		fi
		echo "== round $r, $t tokens: local ($LOCAL_FLAGS), batch $BATCHES $(quiet)" | tee -a "$OUT/summary.txt"
		# shellcheck disable=SC2086
		./vlmcmp bench --model-file "$M/model.gguf" --mmproj "$M/mmproj.gguf" "${common[@]}" \
			--max-tokens "$t" --batch "$BATCHES" --json "$OUT/local-$t-r$r.json" $LOCAL_FLAGS 2>/dev/null |
			grep -E '^ +local' | tee -a "$OUT/summary.txt"
		for th in $THREADS; do
			for p in $PARALLELS; do
				scripts/peer-server.sh "$LLAMA" --model "$M/model.gguf" --mmproj "$M/mmproj.gguf" \
					--parallel "$p" --threads "$th" --port "$PORT" --ctx $((p * 1024)) >/dev/null
				server_pid=$(cat "$LLAMA/build-vlmcmp/server-$PORT.pid")
				echo "   server --parallel $p -t $th $(quiet)" | tee -a "$OUT/summary.txt"
				./vlmcmp bench --server "http://127.0.0.1:$PORT/v1" "${common[@]}" --max-tokens "$t" \
					--batch "$p" --concurrency "$p" --json "$OUT/server-$t-$p-t$th-r$r.json" 2>/dev/null |
					grep -E '^ +server' | sed "s/\$/  (-t $th)/" | tee -a "$OUT/summary.txt"
				stop_server
			done
		done
	done
done

# One table: per answer length, each setting's median over the rounds, the
# best of each path, their ratio, and the ratio of the bests in each round.
python3 - "$OUT" "$REPEAT" $TOKENS <<'EOF' | tee -a "$OUT/summary.txt"
import glob, json, os, statistics, sys
out, rounds, tokens = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def ips(size):
    return size["images_per_sec"]["median"]
print()
print("| answer tokens | vlmcmp: median images/s by batch | llama-server: median images/s by --parallel (-t) | best / best | per round |")
print("|---:|---|---|---:|---|")
for t in tokens:
    local, server = {}, {}
    per_round = []
    for r in range(1, rounds + 1):
        best_l = best_s = None
        path = os.path.join(out, f"local-{t}-r{r}.json")
        if os.path.exists(path):
            for z in json.load(open(path))["sizes"]:
                local.setdefault(z["batch"], []).append(ips(z))
                best_l = max(best_l or 0, ips(z))
        for f in glob.glob(os.path.join(out, f"server-{t}-*-r{r}.json")):
            th = f.rsplit("-t", 1)[-1].split("-r")[0]
            for z in json.load(open(f))["server"]["sizes"]:
                server.setdefault((z["batch"], th), []).append(ips(z))
                best_s = max(best_s or 0, ips(z))
        if best_l and best_s:
            per_round.append(best_l / best_s)
    if not local or not server:
        continue
    lm = {b: statistics.median(v) for b, v in sorted(local.items())}
    sm = {k: statistics.median(v) for k, v in sorted(server.items())}
    lb, sb = max(lm, key=lm.get), max(sm, key=sm.get)
    lcell = ", ".join(f"{b}: {v:.2f}" for b, v in lm.items())
    scell = ", ".join(f"{p} (-t {th}): {v:.2f}" for (p, th), v in sm.items())
    rcell = ", ".join(f"{x:.2f}x" for x in per_round)
    print(f"| {t} | {lcell} | {scell} | {lm[lb]/sm[sb]:.2f}x | {rcell} |")
EOF
