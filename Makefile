# Thought Diary — the front door. Every target installs what is missing first.
#
#   make run     build and start the whole stack on http://127.0.0.1:8080
#   make test    build and run every test (unit + integration)
#   make asan    the same tests in an AddressSanitizer + UBSan build
#   make bench   benchmarks (figures printed; see docs/performance.md)

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)

.PHONY: all deps build run test asan bench clean

all: build

deps:
	@./ops/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@./ops/run-local.sh $(BUILD)/bin

test: build
	@./ops/run-tests.sh $(BUILD)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTD_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@./ops/run-tests.sh $(ASAN_BUILD)

bench: build
	@./ops/bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
