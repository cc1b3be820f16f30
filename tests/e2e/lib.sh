# lib.sh - helpers every end-to-end test can use.  Source it first:
#   . "$(dirname "$0")/lib.sh"
# It sets $WORK (a fresh directory, removed on exit), the binary paths, and
# fail / pass / expect_fail_with / done_testing.
set -euo pipefail

: "${DROVER_BUILD_DIR:?set DROVER_BUILD_DIR to the build directory}"
PRODUCER="$DROVER_BUILD_DIR/drover-producer"
WORKER="$DROVER_BUILD_DIR/drover-worker"
TEST_ZIP="$DROVER_BUILD_DIR/drover_test_zip"
TEST_NAME=${DROVER_TEST_NAME:-$(basename "$0" .sh)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/drover-e2e.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
CHECKS=0

fail() { echo "FAIL [$TEST_NAME]: $*" >&2; exit 1; }
pass() { CHECKS=$((CHECKS + 1)); }
done_testing() { echo "$TEST_NAME: $CHECKS checks passed"; }

# expect_fail_with SUBSTRING CMD...: CMD exits non-zero and its output (stdout
# and stderr) contains SUBSTRING.  The output is left in $OUT, the code in $RC.
expect_fail_with() {
  local want=$1; shift
  set +e
  OUT=$("$@" 2>&1)
  RC=$?
  set -e
  [ "$RC" -ne 0 ] || fail "expected failure of: $*; it succeeded with:
$OUT"
  grep -qF -- "$want" <<<"$OUT" || fail "expected output of: $* to contain '$want'; got (exit $RC):
$OUT"
  pass
}

# expect_ok CMD...: CMD exits 0; its stdout is left in $OUT.
expect_ok() {
  set +e
  OUT=$("$@" 2>"$WORK/stderr")
  RC=$?
  set -e
  [ "$RC" -eq 0 ] || fail "expected success of: $*; exit $RC:
$(cat "$WORK/stderr")"
  pass
}
