# SPDX-License-Identifier: Apache-2.0
#
# Cloister's front door. Two commands matter on a fresh Debian 12 machine:
#   make demo    the workshop scenario end to end
#   make check   the whole test suite
# Both install missing Debian packages first (scripts/install-deps.sh).

BUILD     ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PREFIX    ?= /usr/local
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 20
CMAKE_FLAGS ?=

.PHONY: all build deps check unit-asan demo bench fuzz install deb clean format

all: build

deps:
	@scripts/install-deps.sh all

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

check: deps
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) unit-asan

# The unit tests once more under AddressSanitizer + UndefinedBehaviorSanitizer.
unit-asan:
	cmake -S . -B $(ASAN_BUILD) -DCLOISTER_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

demo: deps
	$(MAKE) build
	scripts/demo.sh $(BUILD)

bench: deps
	$(MAKE) build
	bench/run.sh $(BUILD)

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCLOISTER_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz-targets
	tests/fuzz/run.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# The Debian packages (debian/, docs/packaging.md), built by dpkg-buildpackage
# from a copy of the tree in $(BUILD)/deb/src; the .debs land in $(BUILD)/deb/.
# One compiler job unless DEB_JOBS says otherwise.
DEB_JOBS ?= 1
deb:
	@scripts/install-deps.sh deb
	JOBS=$(DEB_JOBS) scripts/build-deb.sh $(BUILD)/deb

format:
	find src include tests examples bench -name '*.[ch]' 2>/dev/null | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
