# Thought Diary — the front door. Every target installs what is missing first.
#
#   make run     build and start the whole stack on http://127.0.0.1:8080
#   make test    build and run every test (unit + integration)
#   make asan    the same tests in an AddressSanitizer + UBSan build
#   make bench   benchmarks (figures printed; see docs/performance.md)
#   make eval    the offline analyzer's accuracy on labelled text, beside its baseline, and its speed
#   make fuzz    libFuzzer targets (clang, ASan+UBSan), ~60 s; grows tests/fuzz/corpus/
#   make package a .deb (CPack) installing under /usr, built in build-pkg/
#   make image   the container images, with podman (no Docker engine or registry needed)
#   make container-test  make image, then the stack under podman-compose, tested and removed
#
# Every build here treats warnings as errors (TD_WERROR=ON); a plain
# `cmake -S . -B <dir>` does not, so another compiler cannot break a user's build.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PKG_BUILD  ?= build-pkg
FUZZ_SECONDS ?= 8
JOBS       ?= $(shell nproc)

.PHONY: all deps build run test asan bench eval fuzz package image container-test clean

all: build

deps:
	@./ops/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTD_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@./ops/run-local.sh $(BUILD)/bin

test: build
	@./ops/run-tests.sh $(BUILD)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTD_SANITIZE=ON -DTD_WERROR=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@./ops/run-tests.sh $(ASAN_BUILD)

bench: build
	@./ops/bench/run.sh $(BUILD)

# tests/data/sentiment/README.md: tuning and held-out parts, data and licences.
eval: build
	@./ops/eval/run.sh $(BUILD)

# tests/fuzz/README.md: a clang build of its own, every fuzzer FUZZ_SECONDS.
fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DTD_FUZZ=ON -DTD_WERROR=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	@./tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The package's binaries compile in their install paths, so it has a build of
# its own configured for /usr (only what it ships: no tests).
package: deps
	@cmake -S . -B $(PKG_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
	  -DTD_BUILD_TESTS=OFF -DTD_WERROR=ON >/dev/null
	@cmake --build $(PKG_BUILD) -j $(JOBS)
	@cd $(PKG_BUILD) && cpack -G DEB

# docs/operations.md, "Containers": ops/podman/ installs podman and the rest
# itself (only these targets need them), makes the base images from Debian's
# packages when absent, then builds every target of ops/docker/Dockerfile.
image:
	@./ops/podman/build-images.sh

container-test:
	@./ops/podman/smoke.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(PKG_BUILD)
