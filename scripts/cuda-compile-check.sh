#!/usr/bin/env bash
# cuda-compile-check: compile `make cuda` to the end on a Debian machine
# without a GPU, then check what can be checked without one.
#
# Run it after any change to CMakeLists.txt, the Makefile's cuda target, the
# ollama module pin or package native's backend loading: it catches a CUDA
# build that no longer configures or compiles before the change reaches a GPU.
# It is too slow for every CI run (about 15 minutes of nvcc on 2 cores for one
# architecture). As root it installs what it needs: Debian's
# nvidia-cuda-toolkit (from the non-free component, which it enables in a
# sources file of its own) and cmake.
#
#   scripts/cuda-compile-check.sh            # sm_90 (H100/H200)
#   CUDA_ARCHITECTURES=86 scripts/cuda-compile-check.sh
#
# What it checks once built:
#   - libggml-cuda.so lies beside ./vlmcmp;
#   - with no GPU driver, `vlmcmp devices` exits 0 and says in one line that
#     no CUDA device was found;
#   - a CPU `predict` on the tiny synthetic model still answers.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${CUDA_ARCHITECTURES:-90}

say() { printf 'cuda-compile-check: %s\n' "$*"; }

if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
	[ "$(id -u)" = 0 ] || { say "nvcc not found; run as root to install Debian's nvidia-cuda-toolkit"; exit 1; }
	src=/etc/apt/sources.list.d/vlmcmp-non-free.sources
	if ! grep -rqs 'non-free' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		say "enabling Debian's contrib and non-free components in $src"
		codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
		cat >"$src" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	fi
	say "installing nvidia-cuda-toolkit and cmake (large: a few GB)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit cmake >/dev/null
fi
say "$(nvcc --version | tail -n 2 | head -n 1)"

start=$(date +%s)
make cuda CUDA_ARCHITECTURES="$arch"
say "make cuda CUDA_ARCHITECTURES=$arch took $(( $(date +%s) - start )) s"

[ -f libggml-cuda.so ] || { say "FAIL: no libggml-cuda.so beside ./vlmcmp"; exit 1; }
say "libggml-cuda.so: $(du -h libggml-cuda.so | cut -f1)"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! timeout 120 ./vlmcmp devices >"$out/devices.txt" 2>"$out/devices.err"; then
	say "FAIL: vlmcmp devices failed"; cat "$out/devices.txt" "$out/devices.err"; exit 1
fi
cat "$out/devices.txt"
grep -qi 'no CUDA device' "$out/devices.txt" "$out/devices.err" ||
	{ say "FAIL: vlmcmp devices does not say that no CUDA device was found"; cat "$out/devices.err"; exit 1; }

# The demo runs the whole CPU path (tiny model, baselines) with the CUDA
# backend beside the binary, and leaves images to predict on.
if ! timeout 600 ./vlmcmp demo --dir "$out/demo" --images 12 >"$out/demo.txt" 2>"$out/demo.err"; then
	say "FAIL: vlmcmp demo failed with the CUDA backend beside the binary"; tail -n 20 "$out/demo.err"; exit 1
fi
./vlmcmp synth-model --shape tiny --seed 1 --out "$out/tiny" >/dev/null
img=$(find "$out/demo" -name '*.jpg' -o -name '*.png' | grep -v plots | head -n 1)
[ -n "$img" ] || { say "FAIL: the demo wrote no image"; exit 1; }
if ! timeout 300 ./vlmcmp predict --model-file "$out/tiny/model.gguf" --mmproj "$out/tiny/mmproj.gguf" \
	--image "$img" --prompt "Rate the safety from 1 to 10." --max-tokens 8 >"$out/predict.txt" 2>"$out/predict.err"; then
	say "FAIL: CPU predict failed with the CUDA backend beside the binary"; cat "$out/predict.err"; exit 1
fi
say "CPU predict answered: $(head -c 200 "$out/predict.txt")"
say "ok"
