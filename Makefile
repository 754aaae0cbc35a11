# replikv developer entry points. Every target installs what it needs first (Debian bookworm).
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: deps build build-asan test test-asan fuzz run serve bench bench-types format clean

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRKV_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

# All tests: unit tests beside the code, simulation seeds, integration tests with real processes.
test: build
	@ctest --test-dir $(BUILD) -j$(JOBS) --output-on-failure --timeout 900

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer, minus the benchmarks-like
# long runs (label "slow").
test-asan: build-asan
	@ctest --test-dir $(ASAN_BUILD) -j$(JOBS) --output-on-failure --timeout 1800 -LE slow

# libFuzzer (Clang, with ASan + UBSan) on every target of src/fuzz for FUZZ_SECONDS each, from
# the targets' seeds and the committed corpus (tests/fuzz); crashes land in $(FUZZ_BUILD)/artifacts.
fuzz: deps
	@bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(JOBS)

# Builds and runs a local 3-node cluster on loopback (client ports 7379-7381, data in
# ./data/cluster); Ctrl-C stops it.
run: build
	./$(BUILD)/replikv cluster up --nodes 3 --base-port 7379 --data-dir ./data/cluster

# One node on the embedded defaults (data in ./data, client port 7379).
serve: build
	./$(BUILD)/replikv serve

bench: build
	@bash bench/redis_compare.sh

bench-types: build
	@bash bench/types_compare.sh

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
