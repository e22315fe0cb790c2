# switchboard: the two commands of the quick start (make run, make test) and a few helpers.
# CMake + CTest do the work underneath; see CMakeLists.txt.
BUILD      ?= build
ASAN_BUILD ?= build-asan
PREFIX     ?= /usr/local
DESTDIR    ?=
JOBS       ?= $(shell nproc)
DB         ?= sqlite:switchboard.db
CMAKE_FLAGS ?=

.PHONY: all deps deps-deb npm web build build-asan run test test-normal test-asan format format-check install deb clean

all: build

deps:
	@scripts/deps.sh

# What make deb and its test (build.deb in make test) need on top: dpkg-dev, lintian, systemd.
deps-deb:
	@scripts/deps.sh deb

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

npm: deps node_modules/.installed

web: npm
	@scripts/build-web.sh

build: deps web
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSB_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan: deps web
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSB_SANITIZE=ON -DSB_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

run: build
	./$(BUILD)/switchboard serve --demo --db $(DB)

test-normal: build npm deps-deb
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

test-asan: build-asan npm
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

# deps-deb first: one apt-get update installs everything the whole run needs.
test: deps-deb format-check test-normal test-asan

format:
	@git ls-files -co --exclude-standard '*.c' '*.h' | xargs -r clang-format -i

format-check: deps
	@out=$$(git ls-files -co --exclude-standard '*.c' '*.h' | xargs -r clang-format --dry-run 2>&1); \
	  if [ -n "$$out" ]; then echo "$$out" | head -40; echo "clang-format: run 'make format'"; exit 1; fi; \
	  echo "clang-format: ok"

# The Debian package (scripts/build-deb.sh: its own build tree build-deb/, lintian) into dist/.
deb: deps-deb web
	@scripts/build-deb.sh dist build-deb

install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-deb dist
