# vlmcmp build.
#
#   make          CPU build of ./vlmcmp with llama.cpp linked in (tag llamacpp)
#   make cuda     the same, plus ggml's CUDA backend built with CMake beside the binary
#   make test     tracked file sizes, go vet, the tests without llama.cpp, then every test with it
#                 (installs Debian's chromium for the report.html browser tests)
#   make demo     build, then run the built-in demo on synthetic data and models
#   make bench    local inference throughput on the `small` synthetic model
#   make slurm-test  a 3-shard comparison on a one-node Slurm started on this machine
#   make graph    write the import graph into docs/architecture.md (make test checks it)
#   make clean    remove what the build wrote
#
# llama.cpp, mtmd and ggml come from the pinned Go module github.com/ollama/ollama
# (see go.mod); their headers live in the module cache, so we hand their folders
# to cgo here. -O3 -march=native matters: without it ggml's CPU kernels are built
# without AVX2 and run several times slower. Override MARCH for a portable binary
# (e.g. make MARCH=x86-64-v3).

GO        ?= go
MARCH     ?= native
TAGS      := llamacpp
BIN       := vlmcmp
# CUDA_ARCHITECTURES: empty picks the GPUs of this machine when nvidia-smi sees
# one (CMake's "native"), else ggml's portable default; e.g. 90 for an H100/H200.
CUDA_ARCHITECTURES ?=
BUILD_CUDA := build/cuda
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

# Resolved lazily: the module must be downloaded first (deps does it).
OLLAMA_DIR = $(shell $(GO) list -m -f '{{.Dir}}' github.com/ollama/ollama)

# Go's build cache keys a cgo package on its compiler flags, so every flag
# must read the same in every checkout, or each new clone recompiles all of
# llama.cpp. The only header of ours (third_party/) is therefore copied to a
# folder named by its content hash under the user's cache, not included from
# the checkout; the module's folders are the same for every checkout already.
THIRD_PARTY_HASH = $(shell cat $(sort $(wildcard third_party/*/*.h)) | sha256sum | cut -c1-16)
THIRD_PARTY_INC  = $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vlmcmp/include-$(THIRD_PARTY_HASH)
GGML_DIR_MOD     = $(OLLAMA_DIR)/ml/backend/ggml/ggml

CGO_CPPFLAGS_ALL = -I$(THIRD_PARTY_INC) -I$(OLLAMA_DIR)/llama/llama.cpp/include -I$(OLLAMA_DIR)/llama/llama.cpp/tools/mtmd -I$(GGML_DIR_MOD)/include -idirafter $(GGML_DIR_MOD)/src -idirafter $(GGML_DIR_MOD)/src/ggml-cpu

CGO_ENV = CGO_ENABLED=1 \
	CGO_CPPFLAGS="$(CGO_CPPFLAGS_ALL)" \
	CGO_CFLAGS="-O3 -march=$(MARCH)" \
	CGO_CXXFLAGS="-O3 -march=$(MARCH)"

.PHONY: all build cuda test check-sizes graph check-graph test-stub test-native test-race test-link-amx demo bench gpu-bundle clean deps browser env slurm-test template-check

all: build

# deps installs what a fresh Debian/Ubuntu machine lacks: a C/C++ compiler and
# stb_image (mtmd-helper.cpp includes <stb/stb_image.h>), then downloads the
# Go modules. As root it runs apt-get; otherwise it prints the command.
DEB_PKGS := libstb-dev g++ make
deps:
	@missing=""; \
	[ -f /usr/include/stb/stb_image.h ] || missing="$$missing libstb-dev"; \
	command -v g++ >/dev/null 2>&1 || missing="$$missing g++"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "deps: installing$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
		else \
			echo "deps: missing$$missing; run: sudo apt-get install -y$$missing" >&2; exit 1; \
		fi; \
	fi
	@$(GO) mod download
	@[ -d $(THIRD_PARTY_INC) ] || { mkdir -p $(THIRD_PARTY_INC).tmp && cp -r third_party/. $(THIRD_PARTY_INC).tmp/ && mv $(THIRD_PARTY_INC).tmp $(THIRD_PARTY_INC); }

build: deps
	$(CGO_ENV) $(GO) build -tags $(TAGS) -o $(BIN) ./cmd/vlmcmp

# cuda builds ggml's CUDA backend from the same pinned ggml sources as a
# loadable library (CMakeLists.txt) and puts it, with the libggml-base.so it
# links, beside ./vlmcmp; package native loads it at start. Needs nvcc (CUDA 11.8 or later)
# and CMake >= 3.21.
cuda: build
	@command -v cmake >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake >/dev/null || exit 1; \
		else echo "cuda: cmake not found; run: sudo apt-get install -y cmake" >&2; exit 1; fi; }
	@command -v nvcc >/dev/null 2>&1 || [ -n "$$CUDACXX" ] || [ -x /usr/local/cuda/bin/nvcc ] || { \
		echo "cuda: nvcc not found: install the CUDA toolkit (12.x) and put its bin folder on PATH, or set CUDACXX" >&2; exit 1; }
	PATH="$$PATH:/usr/local/cuda/bin" cmake -S . -B $(BUILD_CUDA) \
		-DGGML_DIR=$(OLLAMA_DIR)/ml/backend/ggml/ggml \
		$(if $(CUDA_ARCHITECTURES),-DCMAKE_CUDA_ARCHITECTURES="$(CUDA_ARCHITECTURES)",-DVLMCMP_CUDA_NATIVE=$$(nvidia-smi -L >/dev/null 2>&1 && echo ON || echo OFF))
	PATH="$$PATH:/usr/local/cuda/bin" cmake --build $(BUILD_CUDA) --target ggml-cuda -j $(JOBS)
	cp -P $(BUILD_CUDA)/lib/libggml-base.so* $(BUILD_CUDA)/lib/libggml-cuda.so* .
	@echo "cuda: ./libggml-cuda.so is beside ./vlmcmp; run ./vlmcmp devices to see the GPU"

# gpu-bundle prepares build/gpu for scripts/gpu-check.sh on a machine with a GPU
# but no Go: a portable binary (x86-64-v3, not this machine's -march=native) and
# the pinned ggml sources CMakeLists.txt builds the CUDA backend from.
gpu-bundle: deps
	$(MAKE) build MARCH=x86-64-v3 BIN=build/gpu/vlmcmp
	rm -rf build/gpu/ggml && mkdir -p build/gpu/ggml
	cp -r $(OLLAMA_DIR)/ml/backend/ggml/ggml/include $(OLLAMA_DIR)/ml/backend/ggml/ggml/cmake build/gpu/ggml/
	mkdir -p build/gpu/ggml/src && cd $(OLLAMA_DIR)/ml/backend/ggml/ggml/src && \
		cp -r *.c *.cpp *.h CMakeLists.txt ggml-cuda ggml-cpu $(CURDIR)/build/gpu/ggml/src/
	chmod -R u+w build/gpu/ggml
	find build/gpu/ggml -name '*.go' -delete  # keep the copy out of go build ./...
	git rev-parse --short HEAD > build/gpu/COMMIT 2>/dev/null || true
	@du -sh build/gpu

# Print the cgo environment, for running go commands by hand:
#   eval "$(make -s env)" && go test -tags llamacpp ./native
env: deps
	@echo export CGO_ENABLED=1
	@echo export CGO_CPPFLAGS=\"$(CGO_CPPFLAGS_ALL)\"
	@echo export CGO_CFLAGS=\"-O3 -march=$(MARCH)\"
	@echo export CGO_CXXFLAGS=\"-O3 -march=$(MARCH)\"

test: check-sizes deps browser check-graph test-stub test-native test-race test-link-amx

# graph writes the import graph of the packages into docs/architecture.md;
# check-graph fails when the committed one is stale or an import breaks the
# layering rules written there (scripts/import-graph.sh).
graph:
	scripts/import-graph.sh --write docs/architecture.md

check-graph:
	scripts/import-graph.sh --check docs/architecture.md

# check-sizes fails when git tracks a file over 2 MB (a build output, a
# model, data): scripts/check-file-sizes.sh.
check-sizes:
	scripts/check-file-sizes.sh

# browser installs Debian's chromium for the browser tests of report.html
# (eval/report drives it with chromedp). As root it runs apt-get; otherwise,
# or when apt-get fails, it says so and goes on: the tests then skip, saying
# why, or fail when CI=true.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "browser: installing chromium"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || \
				echo "browser: apt-get could not install chromium; the browser tests will fail in CI" >&2; \
		else \
			echo "browser: no chromium; run: sudo apt-get install -y chromium (the browser tests skip without it)" >&2; \
		fi; }

# test-link-amx builds (links) the binary for an AMX Xeon (Sapphire Rapids),
# whatever this machine's CPU, so that ggml's AMX code can never again fail to
# link unnoticed. The binary is then started once: on an AMX CPU it runs; on
# any other its start-up check must stop it with one sentence (status 1),
# never a crash.
LINK_MARCH ?= sapphirerapids
test-link-amx: deps
	$(MAKE) --no-print-directory build MARCH=$(LINK_MARCH) BIN=build/link-check/vlmcmp-$(LINK_MARCH)
	@nm build/link-check/vlmcmp-$(LINK_MARCH) | grep -q ggml_backend_amx_buffer_type || { echo "test-link-amx: ggml's AMX buffer type is not in the $(LINK_MARCH) binary" >&2; exit 1; }
	@set +e; out=$$(build/link-check/vlmcmp-$(LINK_MARCH) devices 2>&1); rc=$$?; set -e; \
	if [ $$rc -eq 0 ]; then echo "test-link-amx: the $(LINK_MARCH) binary runs on this CPU"; \
	elif [ $$rc -eq 1 ] && [ "$$(printf '%s\n' "$$out" | wc -l)" -eq 1 ] && printf '%s' "$$out" | grep -q 'which this CPU lacks'; then \
		echo "test-link-amx: linked; on this CPU it stops as it should: $$out"; \
	else echo "test-link-amx: the $(LINK_MARCH) binary failed with status $$rc: $$out" >&2; exit 1; fi

test-stub:
	$(GO) vet ./...
	$(GO) build ./...
	$(GO) test ./...

test-native:
	$(CGO_ENV) $(GO) vet -tags $(TAGS) ./...
	$(CGO_ENV) $(GO) test -tags $(TAGS) ./...

# demo writes synthetic data, a tiny random-weight Qwen2-VL and a config into
# ./vlmcmp-demo, then runs prepare, compare and analyze (about a minute).
demo: build
	./$(BIN) demo

# bench writes the `small` synthetic Qwen2-VL into build/bench (seeded, so the
# same bytes every time) and measures throughput on 32 synthetic street images,
# 16 new tokens each, at batch sizes 1 to 16: a table on stdout, and
# build/bench/bench.json and bench.png. BENCH_FLAGS adds flags (e.g. --threads 4).
BENCH_DIR   := build/bench
BENCH_FLAGS ?=
bench: build
	./$(BIN) synth-model --shape small --seed 1 --out $(BENCH_DIR)/small
	./$(BIN) bench --model-file $(BENCH_DIR)/small/model.gguf --mmproj $(BENCH_DIR)/small/mmproj.gguf \
		--synthetic 32 --synthetic-size 224x168 --max-tokens 16 --batch 1,2,4,8,16 --repeat 3 \
		--json $(BENCH_DIR)/bench.json --plot $(BENCH_DIR)/bench.png $(BENCH_FLAGS)

# slurm-test starts a one-node Slurm on this machine (munged, slurmctld and
# slurmd on loopback, in a temporary folder), submits deploy/slurm's CPU array
# (3 shards of the tiny model) and its merge, and checks the merged
# summary.json against an unsharded run (scripts/slurm-test.sh; about a
# minute). Like deps, it installs Debian's slurm-wlm and munge as root.
slurm-test: build
	@missing=""; \
	for c in slurmctld:slurm-wlm slurmd:slurm-wlm sbatch:slurm-wlm munged:munge mungekey:munge python3:python3; do \
		PATH="$$PATH:/usr/sbin:/sbin" command -v $${c%%:*} >/dev/null 2>&1 || case "$$missing " in *" $${c#*:} "*) ;; *) missing="$$missing $${c#*:}";; esac; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "slurm-test: installing$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
		else \
			echo "slurm-test: missing$$missing; run: sudo apt-get install -y$$missing" >&2; exit 1; \
		fi; \
	fi
	PATH="$$PATH:/usr/sbin:/sbin" VLMCMP_BIN=$(CURDIR)/$(BIN) scripts/slurm-test.sh

# template-check compares the prompt tokens vlmcmp's local predictor evaluates
# with upstream llama-server --jinja's for each family's tiny synthetic model
# (scripts/template-check.sh; seconds). LLAMA_SERVER=path/to/llama-server, else
# llama-server on PATH.
template-check: build
	VLMCMP_BIN=$(CURDIR)/$(BIN) scripts/template-check.sh $(LLAMA_SERVER)

# The race detector on the packages with goroutines of their own; the batching
# scheduler runs on llama.cpp, which -race compiles once more (a few minutes cold).
test-race:
	$(GO) test -race ./eval/... ./openaiclient/... ./llm/...
	$(CGO_ENV) $(GO) test -race -tags $(TAGS) ./llm/local

clean:
	rm -rf $(BIN) build lib*.so
