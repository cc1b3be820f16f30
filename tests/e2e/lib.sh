# lib.sh - helpers every end-to-end test can use.  Source it first:
#   . "$(dirname "$0")/lib.sh"
# It brings test-lib.sh (named cases: test_expect_success, test_done; see
# tests/README.md), sets $WORK (a fresh directory, removed on exit), the
# binary paths, and fail / expect_fail_with / expect_ok.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"

: "${DROVER_BUILD_DIR:?set DROVER_BUILD_DIR to the build directory}"
PRODUCER="$DROVER_BUILD_DIR/drover-producer"
WORKER="$DROVER_BUILD_DIR/drover-worker"
TEST_ZIP="$DROVER_BUILD_DIR/drover_test_zip"
TEST_NAME=${DROVER_TEST_NAME:-$(basename "$0" .sh)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/drover-e2e.XXXXXX")
trap '[ -n "${DROVER_KEEP_WORK:-}" ] && echo "# kept $WORK" || rm -rf "$WORK"' EXIT

# The suite serves packages from loopback HTTP servers and local files, which
# a worker refuses by default (docs/security.md, "What a job may fetch"):
# every worker a test starts, by any helper or by hand, may fetch them.
# t0830 unsets these to test the defaults.
export DROVER_FETCH_SCHEMES=https,http,s3,file DROVER_FETCH_ALLOW_PRIVATE=true

# What a developer's machine may lack (scripts/install-deps.sh installs it
# all, so CI skips nothing); a script declares any other of its own.
test_lazy_prereq ROOT '[ "$(id -u)" -eq 0 ]'
test_lazy_prereq JQ 'command -v jq'
test_lazy_prereq CURL 'command -v curl'
test_lazy_prereq KCAT 'command -v kcat'
test_lazy_prereq PERL 'command -v perl'

# fail MESSAGE: say what was expected and what came; inside a case this ends
# the case (as failed), outside one the whole script.
fail() {
  echo "FAIL [$TEST_NAME]: $*" >&2
  if [ -n "$TEST_IN_CASE" ]; then
    # In a subshell of the case (a $(...), a pipeline, a ( ... )) a return
    # could let the rest of it run on: end the subshell, whose failure then
    # ends the case.
    [ "$BASHPID" = "$$" ] || exit 1
    return 1
  fi
  echo "Bail out! $*"
  exit 1
}

# expect_fail_with SUBSTRING CMD...: CMD exits non-zero and its output (stdout
# and stderr) contains SUBSTRING.  The output is left in $OUT, the code in $RC.
expect_fail_with() {
  local want=$1; shift
  RC=0
  OUT=$("$@" 2>&1) || RC=$?
  [ "$RC" -ne 0 ] || fail "expected failure of: $*; it succeeded with:
$OUT"
  grep -qF -- "$want" <<<"$OUT" || fail "expected output of: $* to contain '$want'; got (exit $RC):
$OUT"
}

# expect_ok CMD...: CMD exits 0; its stdout is left in $OUT.
expect_ok() {
  RC=0
  OUT=$("$@" 2>"$WORK/stderr") || RC=$?
  [ "$RC" -eq 0 ] || fail "expected success of: $*; exit $RC:
$(cat "$WORK/stderr")"
}

# operator_setup: once per test, an operator's key pair in $WORK/operators and
# a policy letting that operator ("tester") do everything ($WORK/policy.json).
# Exports DROVER_OPERATOR_KEY, so every request drover-producer makes from
# here on is signed, and sets SERVE_AUTH, the flags serve checks them with.
operator_setup() {
  [ -n "${OPERATOR_KEY_ID:-}" ] && return 0
  OPERATOR_KEY_ID=$("$PRODUCER" keys generate --dir "$WORK/operators" | sed -n 's/^key_id: //p')
  [ -n "$OPERATOR_KEY_ID" ] || fail "keys generate printed no key id"
  export DROVER_OPERATOR_KEY="$WORK/operators/$OPERATOR_KEY_ID.key"
  printf '{"operators": [{"name": "tester", "keys": ["%s"]}],\n "rules": [{"name": "everything", "operators": ["tester"], "actions": ["*"]}]}\n' \
    "$OPERATOR_KEY_ID" >"$WORK/policy.json"
  SERVE_AUTH=(--policy "$WORK/policy.json" --operator-keys "$WORK/operators")
}
