#!/usr/bin/env bash
# The container image without a Docker engine: its build stage runs the
# README's own steps, and its runtime stage installs every package whose
# libraries the built programs link directly (and nothing unlisted).  Which
# package owns a library is asked of dpkg (prerequisite DPKG: a Debian host).
. "$(dirname "$0")/lib.sh"
test_lazy_prereq DPKG 'command -v dpkg && command -v ldconfig && command -v readelf'

SRC="${DROVER_SOURCE_DIR:?}"
DOCKERFILE="$SRC/Dockerfile"
LIST="$SRC/scripts/runtime-packages.txt"
[ -f "$DOCKERFILE" ] && [ -f "$LIST" ] || fail "Dockerfile or scripts/runtime-packages.txt missing"

# Build stage: the same two steps a new user runs.
test_expect_success 'the build stage runs the README'\''s two steps; a Debian 12 build, a Debian 12 slim runtime as a non-root user' '
  grep -qx "RUN scripts/install-deps.sh --build" "$DOCKERFILE" || fail "the build stage does not run scripts/install-deps.sh --build"
  grep -q "make build DEPS=--build" "$DOCKERFILE" || fail "the build stage does not run make build (with the build deps only)"
  grep -q "^FROM debian:12 AS build" "$DOCKERFILE" && grep -q "^FROM debian:12-slim\$" "$DOCKERFILE" \
    || fail "not a Debian 12 build and a Debian 12 slim runtime"
  grep -q "^USER 10001" "$DOCKERFILE" || fail "the runtime does not run as a non-root user"
  grep -q "runtime-packages.txt" "$DOCKERFILE" || fail "the runtime stage does not install scripts/runtime-packages.txt"
'

# needed BIN: the libraries BIN needs by name (its NEEDED entries).
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
# lib_path LIB: the file the loader finds for LIB (ldconfig's cache).
lib_path() { ldconfig -p | awk -v l="$1" '$1 == l && !p {p = $NF} END {print p}'; }
# owners PATH: the packages owning PATH (or the file it links to).
owners() { dpkg -S "$(readlink -f "$1")" "$1" 2>/dev/null | cut -d: -f1; }

# Every library a program needs by name comes from a listed package, or from libc6 and
# libgcc-s1 (libc6 depends on it), which every Debian image has.
listed=$(grep -v '^#' "$LIST")
test_expect_success DPKG 'every library a program links by name comes from a listed package (or libc6, libgcc-s1), and the image has every program' '
  for program in drover-producer drover-worker drover-aggregator drover-broker; do
    bin="$DROVER_BUILD_DIR/$program"
    [ -x "$bin" ] || fail "$bin is not built"
    grep -q "build/$program" "$DOCKERFILE" || fail "the image leaves out $program"
    for lib in $(needed "$bin"); do
      path=$(lib_path "$lib")
      [ -n "$path" ] || fail "$program needs $lib, which this machine lacks"
      pkg=$(owners "$path" | head -1) || true
      [ -n "$pkg" ] || fail "no package owns $path ($lib)"
      case $pkg in libc6|libgcc-s1) continue ;; esac
      grep -qx "$pkg" <<<"$listed" || fail "$program links $lib from $pkg, which runtime-packages.txt lacks"
    done
  done
'

# And nothing listed is a library no program uses (the list stays honest both ways).
test_expect_success DPKG 'runtime-packages.txt lists no library package that no program links' '
  for pkg in $listed; do
    case $pkg in ca-certificates|openssh-client) continue ;; esac
    used=
    for program in drover-producer drover-worker drover-aggregator drover-broker; do
      for lib in $(needed "$DROVER_BUILD_DIR/$program"); do
        path=$(lib_path "$lib")
        owners=$(owners "$path") || true
        ! grep -qx "$pkg" <<<"$owners" || used=1
      done
    done
    [ -n "$used" ] || fail "runtime-packages.txt lists $pkg, which no program links"
  done
'

test_done
