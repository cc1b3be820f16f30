#!/usr/bin/env bash
# ssh executor benchmark: install one package (1 MiB payload; install.sh
# copies it into the target root) onto N targets behind a real sshd on
# loopback with `drover-worker apply --ssh-address` (one process, one target
# at a time), against the floor of the same work over ssh with no Drover:
# per target one ssh connection that receives the zip on stdin, unzips it and
# runs install.sh.  Both measured in this run; prints the times and the ratio
# Drover/floor.  Drover does more per target (the lock, the install record,
# the staged rename, its checks), over one shared connection per job.
#
# usage: bench/ssh_bench.sh [BUILD_DIR] [TARGETS]   (defaults: build 50)
set -euo pipefail
BUILD=${1:-build}
N=${2:-${DROVER_BENCH_TARGETS:-50}}
WORKER=$(cd "$BUILD" && pwd)/drover-worker
WORK=$(mktemp -d "${TMPDIR:-/tmp}/drover-bench.XXXXXX")
SSHD_PID=
trap '[ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
fail() { echo "ssh_bench: $*" >&2; exit 1; }
. "$(dirname "$0")/../tests/e2e/ssh_lib.sh"
start_sshd
SSH=(ssh -F /dev/null -T -i "$SSH_KEY" -o BatchMode=yes -o UserKnownHostsFile="$SSH_KNOWN_HOSTS"
     -o StrictHostKeyChecking=yes -p "$SSHD_PORT" -l "$(id -un)" 127.0.0.1)

. "$(dirname "$0")/bench_package.sh"

now() { date +%s.%N; }

# The floor: one connection per target that carries the zip and installs it.
t0=$(now)
for i in $(seq 1 "$N"); do
  t="$WORK/floor/t$i"
  "${SSH[@]}" "mkdir -p '$t/pkg' && cd '$t/pkg' && cat > p.zip && unzip -q p.zip && DROVER_TARGET_ROOT='$t' sh install.sh" \
    <"$WORK/repo/bench.zip"
done
t1=$(now)

# Drover: one apply process, every target over ssh, one at a time.
roots=()
for i in $(seq 1 "$N"); do mkdir -p "$WORK/drover/t$i"; roots+=(--target-root "$WORK/drover/t$i"); done
t2=$(now)
"$WORKER" apply --package bench "${roots[@]}" --concurrency 1 --manifest "$WORK/repo/manifest.json" \
  --artifacts "$WORK/repo" --cache-dir "$WORK/cache" --platform ubuntu --platform-version 22.04 \
  --arch x86_64 --fetch-schemes file --log-level error --ssh-address "127.0.0.1:$SSHD_PORT" "${SSH_FLAGS[@]}" >"$WORK/drover.out"
t3=$(now)
grep -q "total: $N targets: $N SUCCESS" "$WORK/drover.out" || fail "not every install succeeded: $(tail -3 "$WORK/drover.out")"

cmp -s "$WORK/floor/t$N/opt/bench/payload.bin" "$WORK/src/payload.bin"
cmp -s "$WORK/drover/t$N/opt/bench/payload.bin" "$WORK/src/payload.bin"

awk -v n="$N" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" 'BEGIN {
  f = t1 - t0; d = t3 - t2
  printf "ssh benchmark: %d targets over ssh on loopback, 1 MiB payload\n", n
  printf "  floor (1 ssh per target: zip on stdin, unzip, install.sh): %7.2f s  %6.1f ms/target\n", f, 1000 * f / n
  printf "  drover apply --ssh-address, one target at a time:        %7.2f s  %6.1f ms/target  ratio %.2f\n", d, 1000 * d / n, d / f
}'
