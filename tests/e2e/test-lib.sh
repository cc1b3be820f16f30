# test-lib.sh - named test cases for the end-to-end scripts, after git's t/.
# A script sources lib.sh (which sources this), then states its cases:
#
#   test_expect_success 'an install over nothing runs install.sh' '
#     apply "$T" --package acme $(m 1.0)
#     expect_rc 0
#     expect_log "$T" "install.sh 1.0;"
#   '
#   test_expect_success SSHD 'the same over ssh' '...'   # needs prerequisite SSHD
#   test_done
#
# Each case's body runs in the script's own shell, so what one case sets up
# (variables, servers, files) the next can use; a command in it that fails
# (as under set -e), or a `fail "what was expected, what came"`, ends that
# case as failed, and the script goes on to the next case.  Every case is
# reported as TAP ("ok 3 - title", "not ok 4 - title" with its output as
# "# " lines); test_done prints the plan and exits 1 if any case failed.
#
# Options, after the script's name or in DROVER_TEST_OPTS:
#   -v, --verbose   show every case's output as it runs, not only a failure's
#   --run=LIST      run only these cases: "3", "1-4", "2,5,7-9", "!6" (not 6);
#                   the others are reported as skipped.  A case that needs an
#                   earlier one's set-up must be run with it.
#   -i, --immediate stop at the first failed case (to look at its $WORK)
#   -d, --debug     keep $WORK after the script ends
#
# Prerequisites say what a machine may lack: test_set_prereq NAME declares
# one present; test_lazy_prereq NAME 'script' checks on first use.  A case
# whose prerequisites are missing is reported "ok N # skip ... (missing X)".

TEST_CASES=0
TEST_FAILED=0
TEST_SKIPPED=0
TEST_VERBOSE=
TEST_IMMEDIATE=
TEST_DEBUG=
TEST_RUN=
TEST_IN_CASE=
TEST_PREREQS=" "
TEST_PREREQS_MISSING=" "
declare -A TEST_LAZY_PREREQ=()

for test_arg in "$@" ${DROVER_TEST_OPTS:-}; do
  case $test_arg in
    -v|--verbose) TEST_VERBOSE=1 ;;
    -i|--immediate) TEST_IMMEDIATE=1 ;;
    -d|--debug) TEST_DEBUG=1; DROVER_KEEP_WORK=1 ;;
    --run=*) TEST_RUN=${test_arg#--run=} ;;
    *) echo "Bail out! $(basename "$0"): unknown option '$test_arg'"; exit 2 ;;
  esac
done
unset test_arg

test_set_prereq() { TEST_PREREQS="$TEST_PREREQS$1 "; }
test_lazy_prereq() { TEST_LAZY_PREREQ[$1]=$2; }

# test_have_prereq A,B: whether every listed prerequisite holds ("!A": A does not).
test_have_prereq() {
  local list=$1 prereq negated
  local IFS=,
  for prereq in $list; do
    negated=
    case $prereq in !*) negated=1; prereq=${prereq#!} ;; esac
    if [[ $TEST_PREREQS != *" $prereq "* && $TEST_PREREQS_MISSING != *" $prereq "* ]]; then
      if [ -n "${TEST_LAZY_PREREQ[$prereq]:-}" ] && (eval "${TEST_LAZY_PREREQ[$prereq]}") >/dev/null 2>&1; then
        TEST_PREREQS="$TEST_PREREQS$prereq "
      else
        TEST_PREREQS_MISSING="$TEST_PREREQS_MISSING$prereq "
      fi
    fi
    if [[ $TEST_PREREQS == *" $prereq "* ]]; then
      [ -z "$negated" ] || return 1
    else
      [ -n "$negated" ] || return 1
    fi
  done
  return 0
}

# Whether case number n is selected by --run.
test_selected() {
  local n=$1 item lo hi want=0 negated_only=1
  [ -n "$TEST_RUN" ] || return 0
  local IFS=,
  for item in $TEST_RUN; do
    case $item in !*) ;; *) negated_only=0 ;; esac
  done
  [ $negated_only -eq 1 ] && want=1
  for item in $TEST_RUN; do
    local negated=
    case $item in !*) negated=1; item=${item#!} ;; esac
    lo=${item%-*}; hi=${item#*-}
    [ -n "$lo" ] || lo=1
    [ -n "$hi" ] || hi=999999
    if [ "$n" -ge "$lo" ] && [ "$n" -le "$hi" ]; then
      if [ -n "$negated" ]; then want=0; else want=1; fi
    fi
  done
  [ $want -eq 1 ]
}

# The body runs here, in this shell: an ERR trap plays set -e's part, so a
# failing command returns from whichever function it is in, and so on up to
# test_run_body_; test_expect_success then takes the status.  Outside any
# function (a subshell of the script's top level) it exits the subshell.
test_run_body_() {
  eval "$1"
}
test_on_error_() {
  case ${FUNCNAME[1]:-} in
    test_expect_success) return 0 ;;
    '') exit 1 ;;
  esac
  return 1
}

test_expect_success() {
  local prereq=
  [ $# -eq 3 ] && { prereq=$1; shift; }
  [ $# -eq 2 ] || { echo "Bail out! test_expect_success needs [PREREQ] 'title' 'body'"; exit 2; }
  local title=$1 body=$2
  TEST_CASES=$((TEST_CASES + 1))
  if ! test_selected "$TEST_CASES"; then
    TEST_SKIPPED=$((TEST_SKIPPED + 1))
    echo "ok $TEST_CASES # skip $title (--run)"
    return 0
  fi
  if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
    TEST_SKIPPED=$((TEST_SKIPPED + 1))
    echo "ok $TEST_CASES # skip $title (missing ${prereq})"
    return 0
  fi
  local out="$WORK/.case-output" rc
  [ -z "$TEST_VERBOSE" ] || echo "# case $TEST_CASES: $title"
  TEST_IN_CASE=1
  set +e
  set -o errtrace
  trap 'test_on_error_ || return 1' ERR
  if [ -n "$TEST_VERBOSE" ]; then
    test_run_body_ "$body"
  else
    test_run_body_ "$body" >"$out" 2>&1 </dev/null
  fi
  rc=$?
  trap - ERR
  set +o errtrace
  set -e
  TEST_IN_CASE=
  if [ $rc -eq 0 ]; then
    echo "ok $TEST_CASES - $title"
  else
    TEST_FAILED=$((TEST_FAILED + 1))
    echo "not ok $TEST_CASES - $title"
    [ -n "$TEST_VERBOSE" ] || sed 's/^/#\t/' "$out"
    if [ -n "$TEST_IMMEDIATE" ]; then
      echo "# stopped at the first failure (--immediate); work directory kept: $WORK"
      TEST_DEBUG=1
      test_done
    fi
  fi
  return 0
}

# The plan and the verdict; exits the script.
test_done() {
  echo "1..$TEST_CASES"
  if [ "$TEST_FAILED" -gt 0 ]; then
    echo "# failed $TEST_FAILED among $TEST_CASES test(s)"
    exit 1
  fi
  if [ "$TEST_CASES" -eq 0 ]; then
    echo "Bail out! $(basename "$0") states no case"
    exit 1
  fi
  local skipped=
  [ "$TEST_SKIPPED" -eq 0 ] || skipped=", skipped $TEST_SKIPPED"
  echo "# passed all $((TEST_CASES - TEST_SKIPPED)) test(s)$skipped"
  exit 0
}
