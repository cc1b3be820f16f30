# apply_lib.sh - shared steps of the `drover-worker apply` end-to-end tests.
# Source it from a test; it sets up $WORK (removed on exit) and helpers to
# build packages, serve them over real HTTP on loopback, run apply, and check
# that nothing outside the target changed.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TEST_HTTP="$DROVER_BUILD_DIR/drover_test_http"
CACHE="$WORK/cache"
REPO="$WORK/repo"          # what the HTTP server serves
TARGETS="$WORK/targets"
mkdir -p "$CACHE" "$REPO" "$TARGETS"
HTTP_PID=
HTTP_PIDS=()
APPLY_EXTRA=()

cleanup() {
  local pid
  # Not one failing step may end the trap early: every server must go.
  for pid in ${HTTP_PIDS[@]+"${HTTP_PIDS[@]}"}; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  # DROVER_KEEP_WORK=1 keeps the logs and target trees of a run to look at.
  if [ -n "${DROVER_KEEP_WORK:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# DROVER_APPLY_OVER_SSH=1: every apply reaches its target through the ssh
# executor, on a real sshd on loopback (the targets are still directories of
# this machine, so every check of a target works unchanged).  The lifecycle
# tests run this way too (t0205, t0221).  Their cases then need the
# prerequisite SSHD: each names "$APPLY_PREREQ" (empty when run locally).
APPLY_PREREQ=
if [ -n "${DROVER_APPLY_OVER_SSH:-}" ]; then
  . "$(dirname "${BASH_SOURCE[0]}")/ssh_lib.sh"
  APPLY_PREREQ=SSHD
  if test_have_prereq SSHD; then
    start_sshd
    HTTP_PIDS+=("$SSHD_PID")
    APPLY_EXTRA+=(--ssh-address "127.0.0.1:$SSHD_PORT" "${SSH_FLAGS[@]}")
  fi
fi

# start_http [server flags...]: serve $REPO on a loopback port; sets BASE_URL
# and HTTP_PID.  Its files are $WORK/NAME.{port,log,out}, NAME being
# $HTTP_NAME or "http"; each server started is stopped on exit.
start_http() {
  local name=${HTTP_NAME:-http}
  rm -f "$WORK/$name.port"
  "$TEST_HTTP" --root "$REPO" --port-file "$WORK/$name.port" --log "$WORK/$name.log" "$@" >"$WORK/$name.out" 2>&1 &
  HTTP_PID=$!
  HTTP_PIDS+=($HTTP_PID)
  for _ in $(seq 1 100); do [ -s "$WORK/$name.port" ] && break; sleep 0.05; done
  [ -s "$WORK/$name.port" ] || fail "test HTTP server did not start: $(cat "$WORK/$name.out")"
  BASE_URL="http://127.0.0.1:$(cat "$WORK/$name.port")"
}

# make_version NAME VERSION [PLATFORM_KEY [VERSION_KEY [ARCH_KEY]]]
# Builds $REPO/NAME/VERSION/{pkg.zip,manifest.json} from the scripts found in
# $WORK/src/NAME-VERSION/ (create them first with write_script).
make_version() {
  local name=$1 version=$2 pkey=${3:-_any} vkey=${4:-_any} akey=${5:-_any}
  local src="$WORK/src/$name-$version" out="$REPO/$name/$version"
  mkdir -p "$out"
  rm -f "$out/pkg.zip"
  (cd "$src" && zip -q -r -X "$out/pkg.zip" .)
  write_manifest "$out" "$version" pkg.zip "$(sha256sum "$out/pkg.zip" | cut -d' ' -f1)" "$pkey" "$vkey" "$akey"
}

# write_manifest DIR VERSION FILE SHA256 [PLATFORM_KEY VERSION_KEY ARCH_KEY [PUBLISHER]]
write_manifest() {
  local dir=$1 version=$2 file=$3 sha=$4 pkey=${5:-_any} vkey=${6:-_any} akey=${7:-_any} publisher=${8:-drover-tests}
  cat >"$dir/manifest.json" <<JSON
{
  "schemaVersion": "2.0",
  "version": "$version",
  "publisher": "$publisher",
  "packages": { "$pkey": { "$vkey": { "$akey": { "file": "$file" } } } },
  "files": { "$file": { "checksums": { "sha256": "$sha" } } }
}
JSON
}

# write_script NAME VERSION SCRIPT BODY: a lifecycle script that first logs
# "SCRIPT VERSION" to the target's drover-test.log, then runs BODY.
write_script() {
  local name=$1 version=$2 script=$3 body=$4
  mkdir -p "$WORK/src/$name-$version"
  cat >"$WORK/src/$name-$version/$script" <<SH
#!/bin/sh
echo "$script \$DROVER_VERSION" >> "\$DROVER_TARGET_ROOT/drover-test.log"
$body
SH
}

# simple_package NAME VERSION: install.sh writes opt/NAME/version, uninstall.sh removes it.
simple_package() {
  local name=$1 version=$2
  write_script "$name" "$version" install.sh "mkdir -p \"\$DROVER_TARGET_ROOT/opt/$name\" && echo \"\$DROVER_VERSION\" > \"\$DROVER_TARGET_ROOT/opt/$name/version\""
  write_script "$name" "$version" uninstall.sh "rm -rf \"\$DROVER_TARGET_ROOT/opt/$name\""
  echo "payload of $name $version" >"$WORK/src/$name-$version/payload.txt"
}

new_target() { mkdir -p "$TARGETS/$1"; echo "$TARGETS/$1"; }

# apply TARGET_DIR [flags...]: run drover-worker apply; output in $OUT, exit code in $RC.
apply() {
  local target=$1; shift
  RC=0
  OUT=$("$WORKER" apply --target-root "$target" --cache-dir "$CACHE" \
        --platform ubuntu --platform-version 22.04 --arch x86_64 \
        --fetch-backoff-ms 50 --log-level warn ${APPLY_EXTRA[@]+"${APPLY_EXTRA[@]}"} "$@" 2>&1) || RC=$?
}

# expect_rc N: the last apply exited N.
expect_rc() { [ "$RC" -eq "$1" ] || fail "expected exit $1, got $RC; output:
$OUT"; }
# expect_out TEXT: the last apply's output has the line/substring TEXT.
expect_out() { grep -qF -- "$1" <<<"$OUT" || fail "expected output to contain '$1'; output:
$OUT"; }
expect_no_out() { ! grep -qF -- "$1" <<<"$OUT" || fail "expected output not to contain '$1'; output:
$OUT"; }

# script_log TARGET: what scripts ran on the target, one "script version" per line.
script_log() { if [ -f "$1/drover-test.log" ]; then tr "\n" ";" <"$1/drover-test.log"; fi; }
expect_log() { local got; got=$(script_log "$1"); [ "$got" = "$2" ] || fail "expected scripts '$2' on $1, got '$got'"; }
clear_log() { rm -f "$1/drover-test.log"; }

# snapshot_outside TARGET...: a listing of everything under $WORK except the
# targets, the cache and the server log; compare two with expect_same_outside.
# Besides targets, name any file the test itself writes in between (create it
# before the snapshot: a new entry changes its directory's listing).
# The output of the case running, which test-lib.sh keeps in $WORK, is left
# out too (made here, before any snapshot, so that $WORK itself stays put).
: >"$WORK/.case-output"
snapshot_outside() {
  local prune=(-path "$CACHE" -o -name '*.log' -o -path "$WORK/.case-output") path # servers' logs grow with every request
  for path in "$@"; do prune+=(-o -path "$path"); done
  find "$WORK" \( "${prune[@]}" \) -prune -o -printf '%p %s %m %T@\n' | sort
}
# expect_same_outside TARGET... BEFORE: snapshot_outside TARGET... is still BEFORE.
expect_same_outside() {
  local before=${!#} after
  after=$(snapshot_outside "${@:1:$#-1}")
  [ "$after" = "$before" ] || fail "something outside the target changed:
$(diff <(echo "$before") <(echo "$after"))"
}

# installed_version TARGET NAME: the version in the install record, or "none".
installed_version() {
  local rec="$1/var/lib/drover/packages/$2/installstate"
  [ -f "$rec" ] && sed -n 's/.*"version": "\(.*\)".*/\1/p' "$rec" | head -1 || echo none
}
expect_installed() { local got; got=$(installed_version "$1" "$2"); [ "$got" = "$3" ] || fail "expected $2 $3 recorded on $1, got $got"; }

# process_gone PID: the process is gone or a zombie waiting to be reaped.
process_gone() {
  [ ! -e "/proc/$1/stat" ] && return 0
  local state; state=$(sed 's/^[0-9]* (.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null || echo X)
  [ "$state" = Z ] || [ "$state" = X ]
}
