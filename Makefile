# A thin layer over CMake: the two commands a new user runs are `make demo`
# and `make test`; both install what is missing and build first.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local

.PHONY: all deps build demo demo-engine test asan asan-build fuzz bench install deb clean

all: build

# DEPS=--build installs only what the build needs (the Dockerfile's build stage).
DEPS ?=
deps:
	@scripts/install-deps.sh $(DEPS)

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	scripts/demo.sh $(BUILD)

# The install engine alone, without Kafka.
demo-engine: build
	scripts/demo-engine.sh $(BUILD)

# Every test twice: the release build, then the ASan/UBSan build with the
# fuzz tests.
test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory asan

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer, built
# with clang, plus the libFuzzer targets (tests/fuzz), each run over its
# corpus and then exploring for FUZZ_SECONDS.
FUZZ_SECONDS ?= 20
asan: asan-build
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# Only the fuzz tests (FUZZ_SECONDS=600 make fuzz explores ten minutes per target).
fuzz: asan-build
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -R '^fuzz[.]'

asan-build: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DDROVER_SANITIZE=ON \
	  -DDROVER_FUZZ=ON -DDROVER_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

bench: build
	bench/engine_bench.sh $(BUILD)
	bench/pipeline_bench.sh $(BUILD)
	bench/fleet_bench.sh $(BUILD)
	bench/restart_bench.sh $(BUILD)
	bench/ssh_bench.sh $(BUILD)

# The programs, their man pages, the docs, the systemd units and example
# settings files (docs/install.md): make install PREFIX=/usr DESTDIR=/tmp/stage
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

# The Debian package: $(BUILD)/drover_VERSION_ARCH.deb (docs/install.md).
deb: build
	cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
