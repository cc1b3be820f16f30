#!/usr/bin/env bash
# Every lifecycle rule of the install engine, through `drover-worker apply`
# over real HTTP, checking exactly which scripts ran, what is recorded, and
# that nothing outside the target changed.  t0205 runs it again over ssh
# (then every case needs the prerequisite SSHD, "$APPLY_PREREQ").
. "$(dirname "$0")/apply_lib.sh"

for v in 1.0 2.0 3.0; do simple_package acme "$v"; done
write_script acme 3.0 update.sh "echo \"\$DROVER_VERSION\" > \"\$DROVER_TARGET_ROOT/opt/acme/version\"; echo \"from \$DROVER_PREVIOUS_VERSION\" > \"\$DROVER_TARGET_ROOT/opt/acme/updated\""
# 4.0 fails to install; 5.0 installs but fails validation; 6.0 asks for a reboot.
simple_package acme 4.0
write_script acme 4.0 install.sh "echo 'disk full' >&2; exit 7"
simple_package acme 5.0
write_script acme 5.0 validate.sh "echo 'service not answering' >&2; exit 9"
simple_package acme 6.0
write_script acme 6.0 install.sh "mkdir -p \"\$DROVER_TARGET_ROOT/opt/acme\"; echo 6.0 > \"\$DROVER_TARGET_ROOT/opt/acme/version\"; exit 194"
# env dumps the script environment into the target.
write_script envpkg 1.0 install.sh "env | sort > \"\$DROVER_TARGET_ROOT/env.txt\"; pwd > \"\$DROVER_TARGET_ROOT/cwd.txt\""
write_script envpkg 1.0 uninstall.sh "true"
simple_package acme 2.5
for v in 1.0 2.0 2.5 3.0 4.0 5.0 6.0; do make_version acme "$v"; done
make_version envpkg 1.0
start_http

T=$(new_target t-lifecycle)
before=$(snapshot_outside "$T")
m() { echo "--manifest $BASE_URL/acme/$1/manifest.json --artifacts $BASE_URL/acme/$1"; }

test_expect_success "$APPLY_PREREQ" 'an install over nothing runs install.sh and records the version' '
  apply "$T" --package acme $(m 1.0)
  expect_rc 0; expect_out "outcome: SUCCESS"; expect_out "ran: install.sh 1.0: exit 0"; expect_out "previous-version: (none)"
  expect_log "$T" "install.sh 1.0;"; expect_installed "$T" acme 1.0
  [ "$(cat "$T/opt/acme/version")" = "1.0" ] || fail "payload not installed"
'

test_expect_success "$APPLY_PREREQ" 'the same install again (same manifest, same arguments) runs nothing' '
  clear_log "$T"
  apply "$T" --package acme $(m 1.0)
  expect_rc 0; expect_out "already installed; nothing ran"; expect_log "$T" ""
'

test_expect_success "$APPLY_PREREQ" 'the same version with changed additional arguments is reinstalled, once' '
  clear_log "$T"
  apply "$T" --package acme $(m 1.0) --arg MODE=fast
  expect_rc 0; expect_log "$T" "uninstall.sh 1.0;install.sh 1.0;"
  clear_log "$T"
  apply "$T" --package acme $(m 1.0) --arg MODE=fast
  expect_rc 0; expect_log "$T" ""
'

test_expect_success "$APPLY_PREREQ" 'the same version with a republished manifest (other bytes) is reinstalled' '
  clear_log "$T"
  expect_same_outside "$T" "$before"
  sed -i "s/\"publisher\": \"drover-tests\"/\"publisher\": \"drover-tests-republished\"/" "$REPO/acme/1.0/manifest.json"
  before=$(snapshot_outside "$T")
  apply "$T" --package acme $(m 1.0) --arg MODE=fast
  expect_rc 0; expect_log "$T" "uninstall.sh 1.0;install.sh 1.0;"
'

test_expect_success "$APPLY_PREREQ" 'another version reinstalls (the old uninstall.sh, the new install.sh) and drops the old unpacked tree' '
  clear_log "$T"
  apply "$T" --package acme $(m 2.0)
  expect_rc 0; expect_log "$T" "uninstall.sh 1.0;install.sh 2.0;"; expect_installed "$T" acme 2.0
  expect_out "reinstalled acme 2.0 over 1.0"; expect_out "installed-version: 2.0"; expect_out "previous-version: 1.0"
  [ "$(ls "$T/var/lib/drover/packages/acme/versions")" = "$(ls "$T/var/lib/drover/packages/acme/versions" | grep "^2.0-")" ] \
    || fail "old unpacked version not removed: $(ls "$T/var/lib/drover/packages/acme/versions")"
'

test_expect_success "$APPLY_PREREQ" 'an in-place update to a version without update.sh fails saying so, runs nothing and keeps 2.0' '
  clear_log "$T"
  apply "$T" --package acme $(m 2.5) --installation-type in-place
  expect_rc 1; expect_out "reason: package-layout"; expect_out "has no update.sh"; expect_out "nothing ran"
  expect_log "$T" ""; expect_installed "$T" acme 2.0
'

test_expect_success "$APPLY_PREREQ" 'an in-place update runs only the new update.sh, which sees DROVER_PREVIOUS_VERSION' '
  clear_log "$T"
  apply "$T" --package acme $(m 3.0) --installation-type in-place
  expect_rc 0; expect_log "$T" "update.sh 3.0;"; expect_installed "$T" acme 3.0
  [ "$(cat "$T/opt/acme/updated")" = "from 2.0" ] || fail "update.sh did not see DROVER_PREVIOUS_VERSION"
'

test_expect_success "$APPLY_PREREQ" 'a failed install over 3.0 rolls back to 3.0 and still reports FAILED with the exit code and stderr' '
  clear_log "$T"
  apply "$T" --package acme $(m 4.0)
  expect_rc 1; expect_out "outcome: FAILED"; expect_out "reason: script-failed"; expect_out "failed-step: install.sh 4.0"
  expect_out "exit-code: 7"; expect_out "disk full"; expect_out "rolled back to 3.0"
  expect_log "$T" "uninstall.sh 3.0;install.sh 4.0;uninstall.sh 4.0;install.sh 3.0;"
  expect_installed "$T" acme 3.0
  [ "$(cat "$T/opt/acme/version")" = "3.0" ] || fail "rollback did not reinstall 3.0"
'

test_expect_success "$APPLY_PREREQ" 'a failing validate.sh counts as a failed install: rolled back to 3.0' '
  clear_log "$T"
  apply "$T" --package acme $(m 5.0)
  expect_rc 1; expect_out "failed-step: validate.sh 5.0"; expect_out "service not answering"; expect_out "rolled back to 3.0"
  expect_log "$T" "uninstall.sh 3.0;install.sh 5.0;validate.sh 5.0;uninstall.sh 5.0;install.sh 3.0;"
  expect_installed "$T" acme 3.0
'

test_expect_success "$APPLY_PREREQ" 'exit 194 is a success that requires a reboot' '
  clear_log "$T"
  apply "$T" --package acme $(m 6.0)
  expect_rc 0; expect_out "reboot-required: yes"; expect_installed "$T" acme 6.0
'

test_expect_success "$APPLY_PREREQ" 'uninstalling a version that is not the installed one is refused, and nothing runs' '
  clear_log "$T"
  apply "$T" --package acme --action uninstall --version 2.0
  expect_rc 1; expect_out "reason: version-mismatch"; expect_out "but 6.0 is installed"; expect_log "$T" ""
'

test_expect_success "$APPLY_PREREQ" 'uninstall runs the installed uninstall.sh and removes the record and the unpacked versions' '
  clear_log "$T"
  apply "$T" --package acme --action uninstall
  expect_rc 0; expect_log "$T" "uninstall.sh 6.0;"; expect_installed "$T" acme none
  [ ! -e "$T/opt/acme" ] || fail "uninstall.sh did not run"
  [ -z "$(ls "$T/var/lib/drover/packages/acme/versions" 2>/dev/null)" ] || fail "unpacked versions left after uninstall"
'

test_expect_success "$APPLY_PREREQ" 'uninstall with nothing installed succeeds and runs nothing' '
  clear_log "$T"
  apply "$T" --package acme --action uninstall
  expect_rc 0; expect_out "not installed; nothing ran"; expect_log "$T" ""
'

test_expect_success "$APPLY_PREREQ" 'in-place with nothing installed is a plain install; nothing outside the target changed throughout' '
  clear_log "$T"
  apply "$T" --package acme $(m 3.0) --installation-type in-place
  expect_rc 0; expect_log "$T" "install.sh 3.0;"; expect_installed "$T" acme 3.0
  expect_same_outside "$T" "$before"
'

test_expect_success "$APPLY_PREREQ" 'a script gets a clean environment: DROVER_* and the additional arguments, in its version directory' '
  E=$(new_target t-env)
  apply "$E" --package envpkg --manifest "$BASE_URL/envpkg/1.0/manifest.json" --artifacts "$BASE_URL/envpkg/1.0" \
    --arg GREETING=hello --account 111111111111 --region eu-west-1 --target-id i-0abc
  expect_rc 0
  for kv in DROVER_ACTION=install DROVER_PACKAGE=envpkg DROVER_VERSION=1.0 DROVER_PLATFORM_NAME=ubuntu \
            DROVER_PLATFORM_VERSION=22.04 DROVER_ARCH=x86_64 DROVER_TARGET_ID=i-0abc DROVER_ACCOUNT=111111111111 \
            DROVER_REGION=eu-west-1 "DROVER_TARGET_ROOT=$E" GREETING=hello; do
    grep -qxF "$kv" "$E/env.txt" || fail "script environment lacks $kv: $(cat "$E/env.txt")"
  done
  ! grep -q "^HOME=\|^DROVER_BUILD_DIR=" "$E/env.txt" || fail "script environment is not clean: $(cat "$E/env.txt")"
  grep -q "^$E/var/lib/drover/packages/envpkg/versions/1.0-" "$E/cwd.txt" || fail "script did not run in its version directory: $(cat "$E/cwd.txt")"
'

test_expect_success "$APPLY_PREREQ" 'a reserved or malformed additional argument is REJECTED before anything runs' '
  apply "$E" --package envpkg --manifest "$BASE_URL/envpkg/1.0/manifest.json" --arg PATH=/evil
  expect_rc 3; expect_out "outcome: REJECTED"; expect_out "additional argument PATH is reserved"
  apply "$E" --package envpkg --manifest "$BASE_URL/envpkg/1.0/manifest.json" --arg "1BAD=x"
  expect_rc 3; expect_out "is not KEY=VALUE"
'

simple_package armonly 1.0
make_version armonly 1.0 ubuntu _any arm64

test_expect_success "$APPLY_PREREQ" 'an install with no file for the target'"'"'s platform is REJECTED, and a fresh target is left as it was' '
  F=$(new_target t-fresh)
  apply "$F" --package armonly --manifest "$BASE_URL/armonly/1.0/manifest.json" --artifacts "$BASE_URL/armonly/1.0"
  expect_rc 3; expect_out "outcome: REJECTED"; expect_out "no file for ubuntu 22.04 x86_64"
  [ -n "${DROVER_APPLY_OVER_SSH:-}" ] || expect_out "previous-version: (none)"
  # Locally the engine can tell the target holds no Drover state, so it decides without the lock:
  # no state directory is made for a job that never runs.  (Over ssh it asks the target first.)
  if [ -z "${DROVER_APPLY_OVER_SSH:-}" ]; then
    [ -z "$(find "$F" -mindepth 1 -print -quit)" ] || fail "the target was written to: $(find "$F" -mindepth 1)"
  fi
  # A target with state goes through the lock, and gets the same answer.
  apply "$T" --package armonly --manifest "$BASE_URL/armonly/1.0/manifest.json" --artifacts "$BASE_URL/armonly/1.0"
  expect_rc 3; expect_out "no file for ubuntu 22.04 x86_64"
'

test_done
