#!/usr/bin/env bash
# The container image without a Docker engine: its build stage runs the
# README's own steps, and its runtime stage installs every package whose
# libraries the built programs link directly (and nothing unlisted).
. "$(dirname "$0")/lib.sh"
SRC="${DROVER_SOURCE_DIR:?}"
DOCKERFILE="$SRC/Dockerfile"
LIST="$SRC/scripts/runtime-packages.txt"
[ -f "$DOCKERFILE" ] && [ -f "$LIST" ] || fail "Dockerfile or scripts/runtime-packages.txt missing"

# Build stage: the same two steps a new user runs.
grep -qx 'RUN scripts/install-deps.sh' "$DOCKERFILE" || fail "the build stage does not run scripts/install-deps.sh"; pass
grep -q 'make build' "$DOCKERFILE" || fail "the build stage does not run make build"; pass
grep -q "^FROM debian:12 AS build" "$DOCKERFILE" && grep -q '^FROM debian:12-slim$' "$DOCKERFILE" \
  || fail "not a Debian 12 build and a Debian 12 slim runtime"; pass
grep -q '^USER 10001' "$DOCKERFILE" || fail "the runtime does not run as a non-root user"; pass
grep -q 'runtime-packages.txt' "$DOCKERFILE" || fail "the runtime stage does not install scripts/runtime-packages.txt"; pass

# Every library a program needs by name comes from a listed package, or from libc6 and
# libgcc-s1 (libc6 depends on it), which every Debian image has.
listed=$(grep -v '^#' "$LIST")
for program in drover-producer drover-worker drover-aggregator drover-broker; do
  bin="$DROVER_BUILD_DIR/$program"
  [ -x "$bin" ] || fail "$bin is not built"
  grep -q "build/$program" "$DOCKERFILE" || fail "the image leaves out $program"
  for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !p {p = $NF} END {print p}')
    [ -n "$path" ] || fail "$program needs $lib, which this machine lacks"
    pkg=$(dpkg -S "$(readlink -f "$path")" "$path" 2>/dev/null | sed -n '1s/:.*//p') || true
    [ -n "$pkg" ] || fail "no package owns $path ($lib)"
    case $pkg in libc6|libgcc-s1) continue ;; esac
    grep -qx "$pkg" <<<"$listed" || fail "$program links $lib from $pkg, which runtime-packages.txt lacks"
  done
done; pass
# And nothing listed is a library no program uses (the list stays honest both ways).
for pkg in $listed; do
  case $pkg in ca-certificates|openssh-client) continue ;; esac
  used=
  for program in drover-producer drover-worker drover-aggregator drover-broker; do
    for lib in $(readelf -d "$DROVER_BUILD_DIR/$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !p {p = $NF} END {print p}')
      owners=$(dpkg -S "$(readlink -f "$path")" "$path" 2>/dev/null | cut -d: -f1) || true
      grep -qx "$pkg" <<<"$owners" && used=1
    done
  done
  [ -n "$used" ] || fail "runtime-packages.txt lists $pkg, which no program links"
done; pass

done_testing
