# Thin wrapper over CMake: `make run` and `make test` are the two commands of README.md.
# Each installs what is missing (tools/deps.sh), configures and builds with -j2.
SANITIZE ?= 0
JOBS ?= 2
ifeq ($(SANITIZE),1)
BUILD_DIR ?= build-asan
CMAKE_FLAGS += -DCDP_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
else
BUILD_DIR ?= build
CMAKE_FLAGS += -DCMAKE_BUILD_TYPE=Release
endif
DEMO_DIR ?= demo-data
LISTEN ?= 127.0.0.1:8080

.PHONY: all deps build test run bench bench-quick bench-embedded bench-http soak clean format fuzz memcheck

all: build

deps:
	@sh tools/deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

run: build
	@sh tools/run-demo.sh $(BUILD_DIR) $(DEMO_DIR) $(LISTEN)

# The whole suite (tools/bench/run_all.sh): embedded figures, HTTP, scale runs of BENCH_SCALE people,
# perf profiles, then docs/BENCHMARKS.md and docs/bench/*.png. bench-embedded: cdp-bench alone.
BENCH_SCALE ?= 100000 1000000
bench: build
	BUILD_DIR=$(BUILD_DIR) BENCH_SCALE="$(BENCH_SCALE)" BENCH_COMMAND="make bench BENCH_SCALE=\"$(BENCH_SCALE)\"" \
		tools/bench/run_all.sh

bench-quick: build
	BUILD_DIR=$(BUILD_DIR) BENCH_COMMAND="make bench-quick" tools/bench/run_all.sh --quick

bench-embedded: build
	$(BUILD_DIR)/cdp-bench $(BENCH_ARGS)

bench-http: build
	BUILD_DIR=$(BUILD_DIR) tools/bench/http/run.sh $(BENCH_ARGS)

# Issue 10's bounded soak: wrk against cdpctl serve with mixed ingest and reads (tools/soak).
SOAK_SECONDS ?= 600
soak: build
	SOAK_SECONDS=$(SOAK_SECONDS) CDP_SOURCE_DIR=$(CURDIR) tools/soak/run.sh $(BUILD_DIR)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz

# Fuzzing (tests/fuzz/, tools/fuzz.sh): each libFuzzer harness for FUZZ_SECONDS, JOBS at a time,
# built with clang in build-fuzz; fails if any crashed (inputs in build-fuzz/crashes/<name>/).
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_PARALLEL=$(JOBS) JOBS=$(JOBS) tools/fuzz.sh

# valgrind memcheck over the Criterion unit suites of BUILD_DIR (tools/memcheck.sh).
memcheck: build
	MEMCHECK_JOBS=$(JOBS) tools/memcheck.sh $(BUILD_DIR)
