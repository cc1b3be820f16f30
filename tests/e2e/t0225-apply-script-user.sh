#!/usr/bin/env bash
# What a script gets: exactly the documented environment (nothing of the
# worker's leaks in), and, with --script-user, an unprivileged user with
# root's groups dropped: it can write where that user may, and a write
# where it may not fails the job with the script's own error.  An unknown
# user is refused before anything runs.
# Switching users needs root: every case needs the prerequisite ROOT.
. "$(dirname "$0")/apply_lib.sh"
chmod 0755 "$WORK" # mktemp made it 0700; nobody must reach the unpacked package under it

# The install writes who ran it and its environment's names into $DROVER_TARGET_ROOT/out
# (a folder the test makes writable by anyone); with WRITE_ROOT set it also writes a root-owned file.
write_script whoami 1.0 install.sh 'out="$DROVER_TARGET_ROOT/out"
echo "$(id -u) $(id -g) $(id -G)" > "$out/ids"
env | cut -d= -f1 | grep -vx PWD | sort > "$out/env"  # (sh sets PWD itself)
if [ -n "${WRITE_ROOT:-}" ]; then echo x > "$DROVER_TARGET_ROOT/root-only/file"; fi'
write_script whoami 1.0 uninstall.sh 'true'
make_version whoami 1.0
start_http
M="$BASE_URL/whoami/1.0/manifest.json"
new_writable_target() { local t; t=$(new_target "$1"); mkdir -p "$t/out" "$t/root-only"; chmod 0777 "$t/out"; chmod 0755 "$t/root-only"; echo "$t"; }
DOCUMENTED=$(printf '%s\n' PATH DROVER_ACTION DROVER_PACKAGE DROVER_VERSION DROVER_PLATFORM_NAME DROVER_PLATFORM_VERSION \
  DROVER_ARCH DROVER_TARGET_ID DROVER_ACCOUNT DROVER_REGION DROVER_TARGET_ROOT DROVER_PACKAGE_DIR | sort)

test_expect_success ROOT 'set-up: the user nobody, whom the scripts run as, exists' '
  id nobody >/dev/null 2>&1 || fail "this test runs scripts as '\''nobody'\'', which does not exist here"
  NOBODY_UID=$(id -u nobody); NOBODY_GID=$(id -g nobody)
'

test_expect_success ROOT 'as the worker (root) a script gets the documented environment and nothing of the worker'\''s' '
  T=$(new_writable_target t-root)
  export SECRET_TOKEN=do-not-leak LD_LIBRARY_PATH=/nowhere
  apply "$T" --package whoami --manifest "$M"
  unset SECRET_TOKEN LD_LIBRARY_PATH
  expect_rc 0
  [ "$(cat "$T/out/env")" = "$DOCUMENTED" ] || fail "the environment is not the documented one: $(diff <(echo "$DOCUMENTED") "$T/out/env")"
  [ "$(cut -d" " -f1 "$T/out/ids")" = 0 ] || fail "without script-user the script ran as $(cat "$T/out/ids")"
'

test_expect_success ROOT 'with --script-user nobody a script runs with its uid and gid, no other group, the same environment' '
  T=$(new_writable_target t-nobody)
  apply "$T" --package whoami --manifest "$M" --script-user nobody
  expect_rc 0
  [ "$(cat "$T/out/ids")" = "$NOBODY_UID $NOBODY_GID $NOBODY_GID" ] || fail "as nobody the script ran as: $(cat "$T/out/ids")"
  [ "$(cat "$T/out/env")" = "$DOCUMENTED" ] || fail "the environment changed with script-user: $(cat "$T/out/env")"
  expect_installed "$T" whoami 1.0
'

test_expect_success ROOT 'a numeric --script-user names the same user' '
  T=$(new_writable_target t-uid)
  apply "$T" --package whoami --manifest "$M" --script-user "$NOBODY_UID"
  expect_rc 0
  [ "$(cut -d" " -f1 "$T/out/ids")" = "$NOBODY_UID" ] || fail "--script-user $NOBODY_UID ran as $(cat "$T/out/ids")"
'

test_expect_success ROOT 'a write where nobody may not fails the job with the script'\''s own error; nothing is recorded' '
  T=$(new_writable_target t-denied)
  apply "$T" --package whoami --manifest "$M" --script-user nobody --arg WRITE_ROOT=1
  expect_rc 1; expect_out "reason: script-failed"; expect_out "Permission denied"
  [ ! -e "$T/root-only/file" ] || fail "nobody wrote into a root-only folder"
  expect_installed "$T" whoami none
'

test_expect_success ROOT 'an unknown --script-user is refused before anything runs' '
  T=$(new_writable_target t-unknown)
  apply "$T" --package whoami --manifest "$M" --script-user no-such-user-here
  expect_rc 2; expect_out "script-user: there is no user '\''no-such-user-here'\''"
  [ ! -e "$T/out/ids" ] || fail "a script ran for an unknown user"
'

test_done
