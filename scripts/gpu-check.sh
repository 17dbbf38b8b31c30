#!/usr/bin/env bash
# gpu-check.sh: the GPU checks of issue 7, in one run on a machine with an
# NVIDIA GPU, nvcc and CMake but no Go (the device machine).
#
# Prepare here (on the development machine) with
#   make gpu-bundle
# which builds a portable ./build/gpu/vlmcmp (MARCH=x86-64-v3) and copies the
# pinned ggml sources to ./build/gpu/ggml; carry build/gpu to the device and run
#   bash scripts/gpu-check.sh
# Figures and logs are written under $OUT (default ./gpu-check-out).
#
# Without nvcc the script still runs its CPU half, so it can be rehearsed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-check-out}
B=build/gpu
ARCH=${CUDA_ARCHITECTURES:-90}
mkdir -p "$OUT"
log() { printf '== %s\n' "$*" | tee -a "$OUT/summary.txt"; }

[ -x "$B/vlmcmp" ] || { echo "gpu-check: $B/vlmcmp missing: run make gpu-bundle first" >&2; exit 1; }
log "date $(date -u +%FT%TZ) commit $(cat $B/COMMIT 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$OUT/summary.txt"
nvcc --version 2>&1 | tail -1 | tee -a "$OUT/summary.txt"

# 1. The CUDA backend, from the same pinned ggml sources, beside the binary.
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
	export PATH=$PATH:/usr/local/cuda/bin
	log "cmake build of ggml-cuda for sm_$ARCH"
	start=$(date +%s)
	cmake -S . -B $B/cuda -DGGML_DIR=$PWD/$B/ggml -DCMAKE_CUDA_ARCHITECTURES="$ARCH" >"$OUT/cmake.log" 2>&1 &&
		cmake --build $B/cuda --target ggml-cuda -j "$(nproc)" >>"$OUT/cmake.log" 2>&1 ||
		{ log "cuda build FAILED (see cmake.log)"; tail -30 "$OUT/cmake.log"; }
	cp -P $B/cuda/lib/libggml-base.so* $B/cuda/lib/libggml-cuda.so* $B/ 2>/dev/null
	log "cuda build took $(( $(date +%s) - start )) s"
else
	log "no nvcc: CPU half only"
fi

# 2. Devices: the GPU with its memory.
log "vlmcmp devices"
$B/vlmcmp devices 2>&1 | tee -a "$OUT/summary.txt"

# 3. The tiny model fully offloaded answers as on the CPU.
$B/vlmcmp synth-model --shape tiny --seed 1 --out $B/tiny >/dev/null
log "tiny model: CPU vs GPU answers"
$B/vlmcmp bench --model-file $B/tiny/model.gguf --mmproj $B/tiny/mmproj.gguf --synthetic 32 \
	--batch 1,8 --repeat 1 --max-tokens 16 --gpu-layers 0 --json "$OUT/tiny-cpu.json" >"$OUT/tiny-cpu.txt" 2>&1
$B/vlmcmp bench --model-file $B/tiny/model.gguf --mmproj $B/tiny/mmproj.gguf --synthetic 32 \
	--batch 1,8 --repeat 1 --max-tokens 16 --gpu-layers -1 --json "$OUT/tiny-gpu.json" >"$OUT/tiny-gpu.txt" 2>&1
cat "$OUT/tiny-cpu.txt" "$OUT/tiny-gpu.txt" >>"$OUT/summary.txt"
python3 - "$OUT/tiny-cpu.json" "$OUT/tiny-gpu.json" <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
cpu, gpu = (json.load(open(f)) for f in sys.argv[1:3])
for a, b in zip(cpu["sizes"], gpu["sizes"]):
    same = sum(1 for k, v in a["answers"].items() if b["answers"].get(k) == v)
    print(f"batch {a['batch']}: {same}/{len(a['answers'])} answers identical on CPU and GPU")
PY

# 4. Throughput on Qwen2-VL-2B's real dimensions (written here, not carried).
# SKIP_2B=1 leaves it out (for a rehearsal on a CPU, where it takes hours).
if [ -n "${SKIP_2B:-}" ]; then log "2b skipped (SKIP_2B)"; log "done"; exit 0; fi
log "2b model: bench 64 images 448x448, 16 tokens, batch 1,4,16,64"
start=$(date +%s)
$B/vlmcmp synth-model --shape 2b --seed 1 --out $B/q2b >/dev/null
log "2b files written in $(( $(date +%s) - start )) s"
$B/vlmcmp bench --model-file $B/q2b/model.gguf --mmproj $B/q2b/mmproj.gguf --synthetic 64 \
	--synthetic-size 448x448 --batch 1,4,16,64 --repeat 2 --max-tokens 16 --gpu-layers -1 \
	--json "$OUT/bench-2b.json" --plot "$OUT/bench-2b.png" 2>"$OUT/bench-2b.log" | tee -a "$OUT/summary.txt"
log "done"
