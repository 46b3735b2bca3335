# Thought Diary — the front door. Every target installs what is missing first.
#
#   make run     build and start the whole stack on http://127.0.0.1:8080
#   make test    build and run every test (unit + integration)
#   make asan    the same tests in an AddressSanitizer + UBSan build
#   make bench   benchmarks (figures printed; see docs/performance.md)
#   make fuzz    libFuzzer targets (clang, ASan+UBSan), ~60 s; grows tests/fuzz/corpus/

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 8
JOBS       ?= $(shell nproc)

.PHONY: all deps build run test asan bench fuzz clean

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

# tests/fuzz/README.md: a clang build of its own, every fuzzer FUZZ_SECONDS.
fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DTD_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	@./tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
