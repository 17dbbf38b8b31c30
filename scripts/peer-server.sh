#!/usr/bin/env bash
# peer-server.sh: build upstream llama-server from a llama.cpp checkout and
# start it on loopback, as the peer that `vlmcmp bench --server` measures
# against (issue 14). Nothing from llama.cpp is committed to this repository:
# the build lives in DIR/build-vlmcmp and is reused on the next run.
#
#   scripts/peer-server.sh DIR [--model GGUF] [--mmproj GGUF] [--parallel N]
#                              [--threads N] [--port N] [--ctx N]
#                              [--build-only] [-- EXTRA llama-server ARGS]
#
# DIR is a llama.cpp checkout (a work tree); it should be at ec98e2002, the
# commit the Go module pins (third_party/ and native/ build the same sources),
# or the comparison is not like for like: the script says so and goes on.
# Without --model only the build is done (as with --build-only).
#
# The server runs in the foreground of a background job; the script prints
# its PID and URL, writes DIR/build-vlmcmp/server-PORT.pid and .log, and
# returns once GET /health answers ok. Stop it with
#   kill "$(cat DIR/build-vlmcmp/server-PORT.pid)"
set -euo pipefail

PIN=ec98e2002
die() { echo "peer-server: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 LLAMA_CPP_DIR [--model GGUF --mmproj GGUF --parallel N --threads N --port N --ctx N] [-- ARGS]"
DIR=$1
shift
[ -f "$DIR/CMakeLists.txt" ] && [ -d "$DIR/tools/server" ] ||
	die "$DIR is not a llama.cpp checkout (no CMakeLists.txt or tools/server)"
DIR=$(cd "$DIR" && pwd)

MODEL= MMPROJ= PARALLEL=4 THREADS=$(nproc) PORT=8088 CTX= BUILD_ONLY=0
EXTRA=()
while [ $# -gt 0 ]; do
	case $1 in
	--model) MODEL=$2; shift 2 ;;
	--mmproj) MMPROJ=$2; shift 2 ;;
	--parallel) PARALLEL=$2; shift 2 ;;
	--threads) THREADS=$2; shift 2 ;;
	--port) PORT=$2; shift 2 ;;
	--ctx) CTX=$2; shift 2 ;;
	--build-only) BUILD_ONLY=1; shift ;;
	--) shift; EXTRA=("$@"); break ;;
	*) die "unknown flag $1" ;;
	esac
done

# The commit: a checkout from git, or an exported tree with no .git (then it
# cannot be checked; say so).
if head=$(git -C "$DIR" rev-parse HEAD 2>/dev/null); then
	case $head in
	"$PIN"*) echo "peer-server: $DIR is at $PIN (the commit the module pins)" ;;
	*) echo "peer-server: WARNING: $DIR is at ${head:0:12}, not $PIN (the commit the module pins): figures are not like for like" >&2 ;;
	esac
else
	echo "peer-server: WARNING: $DIR is not a git work tree, cannot check that it is at $PIN" >&2
fi

B=$DIR/build-vlmcmp
BIN=$B/bin/llama-server
if [ ! -x "$BIN" ] || [ "${REBUILD:-0}" = 1 ]; then
	echo "peer-server: building llama-server in $B (Release, CPU, native, -j$(nproc)); this takes minutes"
	mkdir -p "$B"
	cmake -S "$DIR" -B "$B" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
		-DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DLLAMA_CURL=OFF \
		-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
		-DBUILD_SHARED_LIBS=OFF >"$B/cmake.log" 2>&1 ||
		{ tail -30 "$B/cmake.log" >&2; die "cmake configure failed (log $B/cmake.log)"; }
	cmake --build "$B" --target llama-server -j "$(nproc)" >>"$B/cmake.log" 2>&1 ||
		{ tail -30 "$B/cmake.log" >&2; die "cmake build failed (log $B/cmake.log)"; }
	echo "peer-server: built $BIN"
else
	echo "peer-server: using cached $BIN (REBUILD=1 to rebuild)"
fi
if [ "$BUILD_ONLY" = 1 ] || [ -z "$MODEL" ]; then
	exit 0
fi
[ -f "$MODEL" ] || die "model $MODEL not found"
args=(-m "$MODEL" --host 127.0.0.1 --port "$PORT" --parallel "$PARALLEL" -t "$THREADS" -tb "$THREADS" --no-webui)
if [ -n "$MMPROJ" ]; then
	[ -f "$MMPROJ" ] || die "mmproj $MMPROJ not found"
	args+=(--mmproj "$MMPROJ")
fi
[ -n "$CTX" ] && args+=(-c "$CTX")
args+=("${EXTRA[@]}")

if curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
	die "port $PORT already answers /health: another server is running there"
fi
LOG=$B/server-$PORT.log
"$BIN" "${args[@]}" >"$LOG" 2>&1 &
pid=$!
echo "$pid" >"$B/server-$PORT.pid"
for _ in $(seq 1 600); do
	if ! kill -0 "$pid" 2>/dev/null; then
		tail -30 "$LOG" >&2
		die "llama-server exited before it was ready (log $LOG)"
	fi
	if curl -fs "http://127.0.0.1:$PORT/health" 2>/dev/null | grep -q '"ok"'; then
		echo "peer-server: llama-server pid $pid ready at http://127.0.0.1:$PORT (log $LOG)"
		exit 0
	fi
	sleep 0.5
done
kill "$pid" 2>/dev/null || true
die "llama-server did not become healthy within 300 s (log $LOG)"
