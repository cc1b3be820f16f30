#!/usr/bin/env bash
# Messages that no Drover program wrote, put on the control topics by a
# plain Kafka client (kcat, encoded with protoc from proto/drover.proto):
# ids deploy would refuse (too long, a newline that would forge a log line),
# a deployment naming a target twice, and a flood of cancels with 100 kB ids.
# The control plane and the workers refuse each one by deploy's own rules,
# log it quoted, keep their memory, keep running, and stop promptly.
. "$(dirname "$0")/pipeline_lib.sh"
PROTO_DIR="${DROVER_SOURCE_DIR:?}/proto"
test_lazy_prereq KCAT 'command -v kcat'
test_lazy_prereq PROTOC 'command -v protoc'

# put TOPIC KEY TYPE TEXT: encode TEXT (protobuf text format) as drover.v1.TYPE and write it keyed KEY.
put() {
  printf '%s' "$4" | protoc --proto_path="$PROTO_DIR" --encode="drover.v1.$3" drover.proto >"$WORK/message.bin"
  kcat -b "$BROKERS" -P -t "drover.$1" -k "$2" "$WORK/message.bin"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# Under AddressSanitizer freed memory waits in a quarantine (256 MB) instead of being reused, which
# would read as growth here: keep it small (the release build ignores the variable).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"

test_expect_success KCAT,PROTOC 'set-up: a broker, a control plane and a worker' '
  start_broker
  start_control_plane cp1
  wait_for_log "$CP_LOG" "event=serve.synced"
  start_worker w1
  wait_for_log "$WORK/w1.log" "event=worker.start"
'

long_id=$(head -c 600 /dev/zero | tr "\0" d)
test_expect_success KCAT,PROTOC 'a deployment id longer than deploy allows is skipped, quoted in the log' '
  put deployments "$long_id" Deployment "schema_version: 1 deployment_id: \"$long_id\" package: \"acme\" version: \"1.0\" action: ACTION_INSTALL selection { target_ids: \"t-1\" }"
  wait_for_log "$CP_LOG" "event=serve.skipped_deployment .*deployment id: 600 characters; 1 to 128 are allowed"
'

test_expect_success KCAT,PROTOC 'a deployment naming a target twice is skipped, saying so' '
  put deployments d-twice Deployment "schema_version: 1 deployment_id: \"d-twice\" package: \"acme\" version: \"1.0\" action: ACTION_INSTALL selection { target_ids: \"t-1\" target_ids: \"t-1\" }"
  wait_for_log "$CP_LOG" "event=serve.skipped_deployment .*deployment d-twice names target t-1 twice"
'

test_expect_success KCAT,PROTOC,JQ 'a tag key that is not UTF-8: deployment list -o json mends it and stays valid JSON' '
  put deployments d-bytes Deployment "schema_version: 1 deployment_id: \"d-bytes\" package: \"acme\" version: \"1.0\" action: ACTION_INSTALL selection { tags { key: \"\\377\" values: \"x\" } }" 2>/dev/null
  for _ in $(seq 1 100); do
    out=$("$PRODUCER" deployment list -o json --brokers "$BROKERS") || fail "deployment list -o json failed: $out"
    grep -q d-bytes <<<"$out" && break
    sleep 0.1
  done
  mended=$(jq "select(.deployment_id == \"d-bytes\") | .selection.tags == {\"\\ufffd\": [\"x\"]}" <<<"$out") \
    || fail "not JSON: $out"
  [ "$mended" = true ] || fail "the tag key is not mended to U+FFFD: $out"
'

test_expect_success KCAT,PROTOC 'text off Kafka cannot steer the terminal: deployment list on a tty shows its ESC as ?' '
  command -v script >/dev/null || fail "script (util-linux) is missing"
  put deployments d-esc Deployment "schema_version: 1 deployment_id: \"d-esc\" package: \"acme\" version: \"1.0\" action: ACTION_INSTALL created_by: \"ops\\033]0;pwned\\007\" selection { target_ids: \"t-1\" }"
  for _ in $(seq 1 100); do
    script -qc "\"$PRODUCER\" deployment list -o wide --brokers $BROKERS" /dev/null >"$WORK/tty.out" 2>&1 || true
    grep -q d-esc "$WORK/tty.out" && break
    sleep 0.1
  done
  grep -q "d-esc.*ops?]0;pwned?" "$WORK/tty.out" || fail "the created_by column is not shown with ? for ESC and BEL: $(od -c "$WORK/tty.out" | head -20)"
  ! grep -q "$(printf "\033")" "$WORK/tty.out" || fail "an ESC reached the terminal"
'

test_expect_success KCAT,PROTOC 'an id with a newline cannot forge a log line' '
  put control "d-1" Cancel "schema_version: 1 deployment_id: \"d-1\\nts=x level=error prog=forged event=forged\""
  wait_for_log "$CP_LOG" "event=serve.skipped_message .*cancel: deployment id"
  wait_for_log "$WORK/w1.log" "event=worker.control_skipped .*cancel: deployment id"
  ! grep -h "^ts=x" "$CP_LOG" "$WORK/w1.log"
'

test_expect_success KCAT,PROTOC '300 cancels with 100 kB ids leave the memory of serve and the worker as it was' '
  cp_before=$(rss_kb "$CP_PID")
  w_before=$(rss_kb "$WORKER_PID")
  big=$(head -c 100000 /dev/zero | tr "\0" c)
  # Keys spread them over the partitions: the embedded broker keeps only 5 MiB of each.
  for i in $(seq 1 300); do
    put control "big-$i" Cancel "schema_version: 1 deployment_id: \"$big$i\""
  done
  wait_for_log "$CP_LOG" "event=serve.skipped_message .*cancel: deployment id: 10000[123] characters" 120 300
  wait_for_log "$WORK/w1.log" "event=worker.control_skipped .*cancel: deployment id: 10000[123] characters" 120 300
  cp_after=$(rss_kb "$CP_PID")
  w_after=$(rss_kb "$WORKER_PID")
  echo "serve: $cp_before -> $cp_after kB; worker: $w_before -> $w_after kB"
  # 300 kept ids would be 30 MB each; what is left is buffers the client reuses.
  [ $((cp_after - cp_before)) -lt 15000 ] || fail "serve grew from $cp_before to $cp_after kB"
  [ $((w_after - w_before)) -lt 15000 ] || fail "the worker grew from $w_before to $w_after kB"
'

test_expect_success KCAT,PROTOC 'serve and the worker stop within seconds of SIGTERM (no loop over long ids)' '
  start=$(date +%s)
  kill -TERM "$CP_PID" "$WORKER_PID"
  wait "$CP_PID" || true
  wait "$WORKER_PID" || true
  elapsed=$(( $(date +%s) - start ))
  [ "$elapsed" -lt 30 ] || fail "stopping took $elapsed s"
  grep -q "event=serve.stopped\|event=serve.partition_revoked" "$CP_LOG" || fail "serve did not leave its partitions: $(tail -5 "$CP_LOG")"
'

test_done
