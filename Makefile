# SPDX-License-Identifier: Apache-2.0
#
# Cloister's front door. On a fresh Debian 12 machine:
#   make         the build (installs the missing Debian build packages first)
#   make demo    the workshop scenario end to end
#   make check   the whole test suite
# Each installs the missing Debian packages it needs first
# (scripts/install-deps.sh: nothing to do, and no root needed, once they
# are there). `make build` builds without looking at packages.
#
# A configure that fails leaves nothing that the next make would take for
# a configured tree (`configure` below), so the next make configures
# afresh.

BUILD     ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PREFIX    ?= /usr/local
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 20
CMAKE_FLAGS ?=
# make install NITRO_CLI=ON: also the `nitro-cli` link to `cloister`
NITRO_CLI ?= OFF

.PHONY: all build configure deps deps-build check unit-asan demo bench fuzz install deb clean format

all: deps-build
	$(MAKE) build

deps:
	@scripts/install-deps.sh all

deps-build:
	@scripts/install-deps.sh build

# $(call configure_in,<build dir>,<cmake arguments>): CMake's configure.
# When it fails on a directory it was configuring for the first time, the
# CMakeCache.txt it left goes (CMakeFiles/ keeps the logs CMake points to),
# so the next make configures afresh; one sentence says so, naming the
# Debian build packages that are missing, if any.
configure_in = fresh=; [ -f $(1)/CMakeCache.txt ] || fresh=1; \
	echo "cmake -S . -B $(1) $(2)"; \
	cmake -S . -B $(1) $(2) || { \
	  [ -z "$$fresh" ] || rm -f $(1)/CMakeCache.txt; \
	  why=" (CMake says why above)"; \
	  missing=$$(scripts/install-deps.sh --missing build 2>/dev/null); \
	  [ -z "$$missing" ] || why=": missing Debian packages $$missing (make deps installs them)"; \
	  echo "cloister: configuring $(1) failed$$why$${fresh:+; the next make configures afresh}." >&2; \
	  exit 1; }

# $(BUILD) is configured when CMake generated its build system there (a
# Makefile, or build.ninja with CMAKE_GENERATOR=Ninja). A CMakeCache.txt
# without one is what a failed configure left (older Makefiles kept it):
# it goes, and the configure starts afresh.
configure:
	@if [ ! -f $(BUILD)/Makefile ] && [ ! -f $(BUILD)/build.ninja ]; then \
	  rm -f $(BUILD)/CMakeCache.txt; \
	  $(call configure_in,$(BUILD),-DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)); \
	fi

build: configure
	cmake --build $(BUILD) -j $(JOBS)

check: deps
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) unit-asan

# The unit tests once more under AddressSanitizer + UndefinedBehaviorSanitizer.
unit-asan:
	@$(call configure_in,$(ASAN_BUILD),-DCLOISTER_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS))
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

demo: deps
	$(MAKE) build
	scripts/demo.sh $(BUILD)

bench: deps
	$(MAKE) build
	bench/run.sh $(BUILD)

fuzz: deps
	@CC=clang; export CC; $(call configure_in,$(FUZZ_BUILD),-DCLOISTER_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS))
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz-targets
	tests/fuzz/run.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)
	@case "$(NITRO_CLI)" in ON|on|1|yes|YES) \
	  cmake --install $(BUILD) --prefix $(PREFIX) --component nitro-cli ;; esac

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
