#!/usr/bin/env bash
# One action per package per target: two installs at once run install.sh
# once; a lock left by a killed worker is taken over and reported.
. "$(dirname "$0")/apply_lib.sh"

write_script slow 1.0 install.sh 'sleep 1; mkdir -p "$DROVER_TARGET_ROOT/opt"; echo 1.0 > "$DROVER_TARGET_ROOT/opt/slow"'
write_script slow 1.0 uninstall.sh 'rm -f "$DROVER_TARGET_ROOT/opt/slow"'
make_version slow 1.0
# "one" and "two" record their spans: serialized they read start,end,start,end.
for p in one two; do
  write_script "$p" 1.0 install.sh 'echo "start $(date +%s%N)" >> "$DROVER_TARGET_ROOT/spans"; sleep 0.5; echo "end $(date +%s%N)" >> "$DROVER_TARGET_ROOT/spans"'
  write_script "$p" 1.0 uninstall.sh 'true'
  make_version "$p" 1.0
done
# "stuck" waits until the target holds "go".
write_script stuck 1.0 install.sh 'echo $$ > "$DROVER_TARGET_ROOT/script.pid"; while [ ! -e "$DROVER_TARGET_ROOT/go" ]; do sleep 0.1; done'
write_script stuck 1.0 uninstall.sh 'true'
make_version stuck 1.0
start_http
args=(--package slow --manifest "$BASE_URL/slow/1.0/manifest.json" --artifacts "$BASE_URL/slow/1.0"
      --cache-dir "$CACHE" --platform ubuntu --platform-version 22.04 --arch x86_64)

test_expect_success 'two installs of one package on one target at once: install.sh runs once, the other sees it installed' '
  T=$(new_target t-twice)
  "$WORKER" apply --target-root "$T" "${args[@]}" >"$WORK/1.out" 2>&1 & p1=$!
  "$WORKER" apply --target-root "$T" "${args[@]}" >"$WORK/2.out" 2>&1 & p2=$!
  wait $p1 || fail "first install failed: $(cat "$WORK/1.out")"
  wait $p2 || fail "second install failed: $(cat "$WORK/2.out")"
  expect_log "$T" "install.sh 1.0;"
  # Read whole before searching: with pipefail, grep -q leaving early can make cat fail writing (SIGPIPE).
  outs=$(cat "$WORK/1.out" "$WORK/2.out")
  grep -q "already installed; nothing ran" <<<"$outs" ||
    fail "neither run saw the other'\''s install: $outs $(ls -la "$T/var/lib/drover" "$T/var/lib/drover/"* 2>&1)"
'

test_expect_success 'two different packages on one target at once still run one after the other' '
  T=$(new_target t-two-packages)
  pids=()
  for p in one two; do
    "$WORKER" apply --target-root "$T" --package "$p" --manifest "$BASE_URL/$p/1.0/manifest.json" --cache-dir "$CACHE" \
      --platform ubuntu --platform-version 22.04 --arch x86_64 >"$WORK/$p.out" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  # Serialized spans read start,end,start,end; overlapping ones start,start,...
  [ "$(cut -d" " -f1 "$T/spans" | tr "\n" ,)" = "start,end,start,end," ] || fail "scripts of two packages overlapped: $(cat "$T/spans")"
'

test_expect_success 'a worker killed mid-install (SIGKILL, no cleanup) leaves a lock the next one takes over and reports' '
  T=$(new_target t-killed)
  stuck=(--package stuck --manifest "$BASE_URL/stuck/1.0/manifest.json" --artifacts "$BASE_URL/stuck/1.0")
  "$WORKER" apply --target-root "$T" "${stuck[@]}" --cache-dir "$CACHE" --platform ubuntu --platform-version 22.04 \
    --arch x86_64 >/dev/null 2>&1 & victim=$!
  for _ in $(seq 1 100); do [ -s "$T/script.pid" ] && break; sleep 0.05; done
  [ -s "$T/script.pid" ] || { kill -9 "$victim"; fail "stuck install never started"; }
  kill -9 "$victim"; wait "$victim" 2>/dev/null || true
  kill -9 -- "-$(cat "$T/script.pid")" 2>/dev/null || true   # the orphaned script'\''s process group
  touch "$T/go"
  apply "$T" "${stuck[@]}"
  expect_rc 0; expect_out "lock-taken-over-from: pid=$victim"; expect_installed "$T" stuck 1.0
'

test_done
