#!/usr/bin/env bash
# Signed jobs: workers run only jobs signed by a key they trust.  Keys
# rotate (several trusted at once; a key added to the trusted directory is
# picked up without a restart); a job signed by an untrusted key, a job
# altered after signing and an unsigned job end REJECTED with reason
# "signature" and the key id, and nothing of them runs; --allow-unsigned
# runs unsigned jobs with a warning each but still refuses a bad signature.
# A manifest or an artifact swapped in the store after publishing fails the
# job before any script runs.  (Rollups are read with curl and jq, jobs
# altered with kcat and perl: prerequisites CURL, JQ, KCAT, PERL.)
. "$(dirname "$0")/pipeline_lib.sh"
test_lazy_prereq PROTOC 'command -v protoc'
PRODUCER="$DROVER_BUILD_DIR/drover-producer"
MESSAGES="$DROVER_BUILD_DIR/drover_test_messages"

simple_package acme 1.0
make_version acme 1.0
for p in swapped-manifest swapped-zip; do simple_package "$p" 1.0; make_version "$p" 1.0; done
start_http
start_broker
start_aggregator
export DROVER_BROKERS="$BROKERS"
for p in acme swapped-manifest swapped-zip; do
  "$PRODUCER" package publish --name "$p" --manifest "$BASE_URL/$p/1.0/manifest.json" --artifacts "$BASE_URL/$p/1.0" >/dev/null
done
{ echo "id,account,region,platform,platform_version,arch,tags"
  for i in $(seq 1 30); do echo "s-$i,111,eu-west-1,ubuntu,22.04,x86_64,"; done; } >"$WORK/targets.csv"
"$PRODUCER" target register --file "$WORK/targets.csv" >/dev/null

# Keys: A and B trusted (rotation), C not yet.  Ids are derived from the keys.
new_key() { "$PRODUCER" keys generate --dir "$WORK/$1" | sed -n 's/^key_id: //p'; }
test_expect_success 'keys generate gives distinct 16-character ids and a 0600 private key; keys id names both halves' '
  A=$(new_key keys-a); B=$(new_key keys-b); C=$(new_key keys-c)
  [ ${#A} = 16 ] && [ "$A" != "$B" ] && [ "$B" != "$C" ] || fail "key ids: $A $B $C"
  [ "$(stat -c %a "$WORK/keys-a/$A.key")" = 600 ] || fail "private key mode $(stat -c %a "$WORK/keys-a/$A.key")"
  [ "$("$PRODUCER" keys id "$WORK/keys-a/$A.key" "$WORK/keys-a/$A.pub" | cut -d" " -f1 | sort -u)" = "$A" ] \
    || fail "keys id does not name both halves $A"
  mkdir -p "$WORK/trust"; cp "$WORK/keys-a/$A.pub" "$WORK/keys-b/$B.pub" "$WORK/trust/"
'

test_expect_success 'without trust configured the worker and the control plane refuse to start, saying why' '
  RC=0; OUT=$("$WORKER" run --brokers "$BROKERS" --targets-root "$TARGETS" --http "" 2>&1) || RC=$?
  [ "$RC" = 2 ] && grep -q "no trusted keys" <<<"$OUT" || fail "worker without keys: rc $RC: $OUT"
  RC=0; OUT=$("$PRODUCER" serve --brokers "$BROKERS" --http "" 2>&1) || RC=$?
  [ "$RC" = 2 ] && grep -q "signing-key" <<<"$OUT" || fail "serve without a key: rc $RC: $OUT"
  RC=0; OUT=$("$PRODUCER" serve --brokers "$BROKERS" --http "" --signing-key "$WORK/keys-a/$A.pub" 2>&1) || RC=$?
  [ "$RC" = 1 ] && grep -q "not a PEM private key" <<<"$OUT" || fail "serve with a public key: rc $RC: $OUT"
'

# Kafka TLS and SASL settings reach librdkafka as given: a CA file that is not there, SCRAM without a user.
test_expect_success 'Kafka TLS and SASL settings reach librdkafka as given: a missing CA file, SCRAM without a user' '
  RC=0; OUT=$("$WORKER" run --brokers "$BROKERS" --targets-root "$TARGETS" --http "" --trusted-keys "$WORK/trust" \
    --kafka-property security.protocol=SSL --kafka-property ssl.ca.location="$WORK/no-such-ca.pem" 2>&1) || RC=$?
  [ "$RC" = 1 ] && grep -q "ssl.ca.location failed" <<<"$OUT" || fail "TLS to Kafka with a missing CA: rc $RC: $OUT"
  RC=0; OUT=$("$PRODUCER" serve --brokers "$BROKERS" --http "" --signing-key "$WORK/keys-a/$A.key" "${SERVE_AUTH[@]}" \
    --kafka-property security.protocol=SASL_SSL --kafka-property sasl.mechanism=SCRAM-SHA-512 2>&1) || RC=$?
  [ "$RC" = 1 ] && grep -q "sasl.username and sasl.password must be set" <<<"$OUT" || fail "SCRAM without a user: rc $RC: $OUT"
'

grep_log() { for _ in $(seq 1 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done; fail "no '$2' in $1"; }
test_expect_success 'a worker given the trusted directory says which keys it trusts: A and B' '
  start_worker w1 --concurrency 3 --trusted-keys "$WORK/trust"; W1=$WORKER_PID
  grep_log "$WORK/w1.log" "event=worker.trust trusted_keys=$(printf "%s\n" "$A" "$B" | sort | paste -sd,)"
'

# deploy_to ID TARGETS: a deployment waited for by the aggregator only.
deploy_to() { "$PRODUCER" deploy --package "${3:-acme}" --targets "$2" --deployment-id "$1" --max-errors 100% --no-wait >/dev/null; }
# serve_with NAME FLAGS...: the only control plane replica from now on.
serve_with() {
  [ -n "${CP_PID:-}" ] && { kill -TERM "$CP_PID"; wait "$CP_PID" 2>/dev/null || true; }
  local name=$1; shift
  local auth=("${SERVE_AUTH[@]}")
  # A control plane without a signing key (unsigned jobs) cannot sign what it writes: no policy then.
  [[ " $* " == *" --allow-unsigned "* ]] && auth=(--allow-unsigned-requests)
  CP_LOG="$WORK/$name.log"
  "$PRODUCER" serve --brokers "$BROKERS" --replica-id "$name" --kafka-property session.timeout.ms=6000 --http '' \
    "${auth[@]}" "$@" >/dev/null 2>"$CP_LOG" &
  CP_PID=$!; PIDS+=($CP_PID)
}
# rejected ID N KEY_TEXT [STATUS]: all N jobs REJECTED for signature, the message saying KEY_TEXT.
# A deployment allowing every error ends INCOMPLETE; a forged one, with no deployment record, FAILED.
rejected() {
  wait_for_rollup "$1" "${4:-INCOMPLETE}" 60
  [ "$(jq -r '.counts.REJECTED' <<<"$ROLLUP")" = "$2" ] || fail "$1: want $2 REJECTED: $ROLLUP"
  [ "$(jq -r '[.failed_targets[] | select(.reason == "signature")] | length' <<<"$ROLLUP")" = "$2" ] \
    || fail "$1: reasons are not all signature: $ROLLUP"
  jq -e --arg t "$3" 'all(.failed_targets[]; .message | contains($t))' <<<"$ROLLUP" >/dev/null \
    || fail "$1: the messages do not say '$3': $ROLLUP"
}
nothing_ran() { local t; for t in "$@"; do [ ! -e "$TARGETS/$t/opt" ] || fail "$t ran a script: $(ls -R "$TARGETS/$t")"; done; }

# ---- signed by A, then rotated to B: both run ----
test_expect_success CURL,JQ 'jobs signed by A run, each carrying A'\''s key id and a 64-byte signature' '
  serve_with cp-a --signing-key "$WORK/keys-a/$A.key"
  deploy_to d-a s-1,s-2,s-3
  wait_for_rollup d-a SUCCESS 60
  for t in s-1 s-2 s-3; do expect_installed "$TARGETS/$t" acme 1.0; done
  [ "$("$MESSAGES" dump jobs | grep " deployment=d-a " | grep -c " key_id=$A signature_bytes=64")" = 3 ] \
    || fail "d-a'\''s jobs are not signed by $A: $("$MESSAGES" dump jobs | grep " deployment=d-a ")"
'

test_expect_success CURL,JQ 'rotated to B (also trusted), jobs run on' '
  serve_with cp-b --signing-key "$WORK/keys-b/$B.key"
  deploy_to d-b s-4,s-5
  wait_for_rollup d-b SUCCESS 60
'

# ---- signed by C, not trusted: REJECTED, naming C ----
test_expect_success CURL,JQ 'jobs signed by C, not trusted, end REJECTED (signature) naming C, and nothing of them runs' '
  serve_with cp-c --signing-key "$WORK/keys-c/$C.key"
  deploy_to d-c s-6,s-7
  rejected d-c 2 "signed by key $C, which this worker does not trust"
  nothing_ran s-6 s-7
  metrics=$(curl -fsS "http://127.0.0.1:$(http_port_of "$WORK/w1.log")/metrics")
  grep -q "^drover_worker_jobs_total{state=\"REJECTED\",reason=\"signature\"} 2$" <<<"$metrics" \
    || fail "the worker does not count the 2 rejections by reason (signature): $(grep jobs_total <<<"$metrics")"
'

test_expect_success CURL,JQ 'C'\''s public key added to the trusted directory is trusted without a restart' '
  # A job naming a key the worker lacks makes it read the directory again
  # when the directory changed on disk: the next job signed by C runs.
  cp "$WORK/keys-c/$C.pub" "$WORK/trust/"
  deploy_to d-c2 s-8
  wait_for_rollup d-c2 SUCCESS 60
  kill -0 "$W1" || fail "w1 is gone"
'

# ---- altered after signing: the deployment id and the version changed, same lengths ----
test_expect_success KCAT,PERL,CURL,JQ 'a job altered after signing ends REJECTED: the signature by C does not verify' '
  where=$(kcat -C -b "$BROKERS" -t drover.jobs -o beginning -e -q -f "%k %p %o\n" 2>/dev/null | grep "^s-8 " | head -1 || true)
  [ -n "$where" ] || fail "no job of s-8 on the jobs topic"
  kcat -C -b "$BROKERS" -t drover.jobs -p "$(cut -d" " -f2 <<<"$where")" -o "$(cut -d" " -f3 <<<"$where")" -c 1 -e -q -f "%s" \
    >"$WORK/signed.bin" 2>/dev/null
  [ -s "$WORK/signed.bin" ] || fail "no signed job of s-8 to alter"
  perl -0777 -pe "s/d-c2/d-x2/g" "$WORK/signed.bin" >"$WORK/altered.bin"
  ! cmp -s "$WORK/signed.bin" "$WORK/altered.bin" || fail "the alteration changed nothing"
  kcat -P -b "$BROKERS" -t drover.jobs -k s-9 "$WORK/altered.bin"
  rejected d-x2 1 "the signature by key $C does not verify" FAILED
'

# ---- unsigned: refused; then run by a worker that allows it, with a warning ----
test_expect_success CURL,JQ 'unsigned jobs (a control plane with --allow-unsigned) are REJECTED by a worker that wants signatures' '
  serve_with cp-u --allow-unsigned
  grep_log "$WORK/cp-u.log" "event=serve.unsigned"
  deploy_to d-u s-10,s-11
  rejected d-u 2 "the job is unsigned (no key id, no signature)"
  nothing_ran s-10 s-11
'

test_expect_success CURL,JQ 'a worker with --allow-unsigned runs unsigned jobs, warning for each' '
  kill -TERM "$W1"; wait "$W1" 2>/dev/null || true
  start_worker w2 --concurrency 3 --trusted-keys "$WORK/trust" --allow-unsigned
  deploy_to d-u2 s-12,s-13
  wait_for_rollup d-u2 SUCCESS 60
  [ "$(grep -c "event=job.unsigned deployment=d-u2 " "$WORK/w2.log")" = 2 ] || fail "no warning per unsigned job: $(grep job.unsigned "$WORK/w2.log")"
'

test_expect_success KCAT,PROTOC,CURL,JQ 'an unsigned job (taken by this worker) whose argument is named A=B is refused before anything runs' '
  printf "%s" "schema_version: 1 job_id: \"d-ab/s-17\" deployment_id: \"d-ab\" package: \"acme\" version: \"1.0\" action: ACTION_INSTALL
    target { schema_version: 1 target_id: \"s-17\" account: \"1\" region: \"r\" platform_name: \"ubuntu\" platform_version: \"22.04\" arch: \"x86_64\" }
    manifest_url: \"http://127.0.0.1:1/m.json\" manifest_sha256: \"$(printf "%064d" 0)\" artifacts_base_url: \"http://127.0.0.1:1\"
    additional_arguments { key: \"A=B\" value: \"x\" } attempt: 1" |
    protoc --proto_path="$DROVER_SOURCE_DIR/proto" --encode=drover.v1.Job drover.proto >"$WORK/ab.bin"
  kcat -P -b "$BROKERS" -t drover.jobs -k s-17 "$WORK/ab.bin"
  wait_for_rollup d-ab FAILED 60
  jq -e ".failed_targets[0] | .reason == \"malformed\" and (.message | test(\"argument name .A=B. is not a shell name\"))" <<<"$ROLLUP" >/dev/null ||
    fail "A=B: $ROLLUP"
  nothing_ran s-17
'

test_expect_success KCAT,PERL,CURL,JQ '--allow-unsigned does not let a bad signature through' '
  perl -0777 -pe "s/d-c2/d-y2/g" "$WORK/signed.bin" >"$WORK/altered2.bin"
  kcat -P -b "$BROKERS" -t drover.jobs -k s-14 "$WORK/altered2.bin"
  rejected d-y2 1 "does not verify" FAILED
'

# ---- the store changed after publishing: the signed hashes catch it before any script ----
test_expect_success CURL,JQ 'a manifest changed in the store after publishing fails the job (checksum) before any script' '
  serve_with cp-a2 --signing-key "$WORK/keys-a/$A.key"
  printf " " >>"$REPO/swapped-manifest/1.0/manifest.json" # still valid JSON, another hash
  deploy_to d-sm s-15 swapped-manifest
  wait_for_rollup d-sm INCOMPLETE 60
  jq -e ".failed_targets[0] | .reason == \"checksum\" and (.message | test(\"manifest sha256 mismatch\"))" <<<"$ROLLUP" >/dev/null \
    || fail "swapped manifest: $ROLLUP"
'

test_expect_success CURL,JQ 'a zip changed in the store after publishing fails the job (checksum); no script ran from either' '
  zip_file=$(ls "$REPO/swapped-zip/1.0/"*.zip | head -1)
  printf "tampered" >>"$zip_file"
  deploy_to d-sz s-16 swapped-zip
  wait_for_rollup d-sz INCOMPLETE 60
  jq -e ".failed_targets[0].reason == \"checksum\"" <<<"$ROLLUP" >/dev/null || fail "swapped zip: $ROLLUP"
  [ ! -e "$TARGETS/s-15/opt" ] && [ ! -e "$TARGETS/s-16/opt" ] || fail "a script ran from a swapped package"
'

test_done
