#!/usr/bin/env bash
# What a job may fetch (docs/security.md): by default a worker fetches a
# job's manifest and zips only over https, http and s3, and never from a
# loopback or link-local address; --fetch-schemes, --fetch-hosts and
# --fetch-allow-private widen or narrow that.  The rules hold for the URL,
# for every redirect, and for the address a connection goes to.  A refused
# job ends REJECTED, reason fetch-refused, naming the URL and the rule;
# nothing of what it named is read, and no error quotes a fetched document.
# (Jobs written by hand with protoc and kcat, rollups read with curl and jq;
# the redirect and resolver cases run in a network namespace of their own.)
. "$(dirname "$0")/pipeline_lib.sh"
# The defaults are under test here, not the suite's allowances (lib.sh).
unset DROVER_FETCH_SCHEMES DROVER_FETCH_HOSTS DROVER_FETCH_ALLOW_PRIVATE
PROTO_DIR="${DROVER_SOURCE_DIR:?}/proto"
test_lazy_prereq PROTOC 'command -v protoc'
test_lazy_prereq NETNS '[ "$(id -u)" -eq 0 ] && unshare -mn true'

simple_package acme 1.0
make_version acme 1.0
start_http
MANIFEST="$BASE_URL/acme/1.0/manifest.json"
PASSWD_SHA=$(sha256sum /etc/passwd | cut -c1-64)
PASSWD_FIRST=$(head -c 8 /etc/passwd)   # "root:x:0": must appear in no message or log line
PASSWD_TOKEN=$(head -c 4 /etc/passwd)   # "root", as a JSON parser quotes it ("near 'root'")
# refused_for URL RULE_TEXT: the last apply was REJECTED, fetch-refused, naming URL (quoted) and the rule.
refused_for() {
  expect_rc 3
  expect_out "reason: fetch-refused"
  expect_out "refused to fetch \"$1\": $2"
}

test_expect_success 'a manifest at file:///etc/passwd is refused by fetch-schemes, before it is read' '
  apply "$(new_target t1)" --package acme --manifest file:///etc/passwd --manifest-sha256 "$PASSWD_SHA"
  refused_for file:///etc/passwd "scheme file is not in fetch-schemes (https,http,s3)"
  apply "$(new_target t1)" --package acme --manifest /etc/passwd
  refused_for /etc/passwd "a local path is scheme file, which is not in fetch-schemes (https,http,s3)"
  expect_no_out "$PASSWD_FIRST"
'

test_expect_success 'named in --fetch-schemes, file is read, and an error about the document quotes none of it' '
  apply "$(new_target t1)" --package acme --manifest /etc/passwd --fetch-schemes https,file
  expect_rc 3
  expect_out "message: manifest at \"/etc/passwd\": not valid JSON (line 1, column"
  expect_no_out "$PASSWD_TOKEN"
  # A wrong hash names the one wanted, never that of the bytes read.
  apply "$(new_target t1)" --package acme --manifest /etc/passwd --fetch-schemes https,file \
    --manifest-sha256 0000000000000000000000000000000000000000000000000000000000000000
  expect_rc 1
  expect_out "manifest sha256 mismatch for /etc/passwd: the bytes served do not hash to 0000"
  expect_no_out "$PASSWD_SHA"
'

test_expect_success 'a loopback URL is refused without --fetch-allow-private, and installs with it' '
  T=$(new_target t2)
  apply "$T" --package acme --manifest "$MANIFEST"
  refused_for "$MANIFEST" "host 127.0.0.1 is loopback, and fetch-allow-private is off"
  ! grep -q "GET /acme/1.0/manifest.json" "$WORK/http.log" || fail "the refused manifest was requested: $(cat "$WORK/http.log")"
  apply "$T" --package acme --manifest "$MANIFEST" --fetch-allow-private
  expect_rc 0
  expect_installed "$T" acme 1.0
'

test_expect_success 'localhost is loopback too' '
  url="http://localhost:${BASE_URL##*:}/acme/1.0/manifest.json"
  apply "$(new_target t3)" --package acme --manifest "$url"
  refused_for "$url" "host localhost is loopback, and fetch-allow-private is off"
'

test_expect_success 'a host that matches nothing in --fetch-hosts is refused; globs match case-insensitively' '
  apply "$(new_target t4)" --package acme --manifest "$MANIFEST" --fetch-allow-private --fetch-hosts "*.example.com"
  refused_for "$MANIFEST" "host 127.0.0.1 matches nothing in fetch-hosts (*.example.com)"
  apply "$(new_target t4)" --package acme --manifest "http://localhost:${BASE_URL##*:}/acme/1.0/manifest.json" \
    --fetch-allow-private --fetch-hosts "*.example.com,LocalHost"
  expect_rc 0
'

test_expect_success 'an allowed manifest cannot send the zips anywhere: the artifacts URL obeys the same rules' '
  apply "$(new_target t5)" --package acme --manifest "$MANIFEST" --artifacts file:///etc \
    --fetch-allow-private --fetch-schemes http
  refused_for "file:///etc/pkg.zip" "scheme file is not in fetch-schemes (http)"
'

test_expect_success 'a redirect to a host outside --fetch-hosts is refused, and never requested' '
  HTTP_NAME=target start_http; target_port=${BASE_URL##*:}
  HTTP_NAME=redirector start_http --redirect-to "http://localhost:$target_port"
  url="$BASE_URL/redirect/acme/1.0/manifest.json"
  apply "$(new_target t6)" --package acme --manifest "$url" --fetch-allow-private --fetch-hosts 127.0.0.1
  refused_for "$url" "redirected to \"http://localhost:$target_port/acme/1.0/manifest.json\": host localhost matches nothing in fetch-hosts (127.0.0.1)"
  ! grep -q GET "$WORK/target.log" || fail "the redirect was followed: $(cat "$WORK/target.log")"
  apply "$(new_target t6)" --package acme --manifest "$url" --fetch-allow-private --fetch-hosts 127.0.0.1,localhost
  expect_rc 0
'

test_expect_success 'an empty manifest sha256 checks nothing, so it is refused' '
  apply "$(new_target t7)" --package acme --manifest "$MANIFEST" --fetch-allow-private --manifest-sha256=
  expect_rc 3
  expect_out "the manifest sha256 '"''"' is not 64 hex digits; nothing was fetched"
'

# ---- names that resolve to loopback, and redirects to them: a network
# namespace where lo also carries 192.0.2.1 (an address of no network) and
# /etc/hosts names packages.test (192.0.2.1) and sneaky.test (127.0.0.1).
in_netns() { nsenter -t "$NETNS_PID" -m -n --wd="$PWD" "$@"; }
test_expect_success NETNS 'set-up: a network namespace with a store on 192.0.2.1 and one on loopback' '
  printf "127.0.0.1 localhost\n192.0.2.1 packages.test\n127.0.0.1 sneaky.test\n" >"$WORK/hosts"
  unshare -mn sh -c "ip link set lo up && ip addr add 192.0.2.1/32 dev lo && mount --bind $WORK/hosts /etc/hosts \
    && echo ready >$WORK/netns.ready && exec sleep 600" &
  NETNS_PID=$!; HTTP_PIDS+=($NETNS_PID)
  wait_for_file "$WORK/netns.ready"
  # nsenter runs each server as its child: both are stopped at the end (the child first).
  in_netns "$TEST_HTTP" --root "$REPO" --port-file "$WORK/loop.port" --log "$WORK/loop.log" >"$WORK/loop.out" 2>&1 &
  nsenter_pid=$!
  wait_for_file "$WORK/loop.port"
  HTTP_PIDS+=($(cat /proc/$nsenter_pid/task/*/children) $nsenter_pid)
  in_netns "$TEST_HTTP" --root "$REPO" --bind 192.0.2.1 --port-file "$WORK/store.port" --log "$WORK/store.log" \
    --redirect-to "http://sneaky.test:$(cat "$WORK/loop.port")" >"$WORK/store.out" 2>&1 &
  nsenter_pid=$!
  wait_for_file "$WORK/store.port"
  HTTP_PIDS+=($(cat /proc/$nsenter_pid/task/*/children) $nsenter_pid)
  STORE="http://packages.test:$(cat "$WORK/store.port")"
  SNEAKY="http://sneaky.test:$(cat "$WORK/loop.port")"
  NETNS_WORKER="$WORK/worker-in-netns"
  printf "#!/bin/sh\nexec nsenter -t %s -m -n --wd=\"\$PWD\" %s \"\$@\"\n" "$NETNS_PID" "$WORKER" >"$NETNS_WORKER"
  chmod +x "$NETNS_WORKER"
'

test_expect_success NETNS 'a store at an allowed address installs with the defaults' '
  T=$(new_target n1)
  WORKER=$NETNS_WORKER apply "$T" --package acme --manifest "$STORE/acme/1.0/manifest.json"
  expect_rc 0
  expect_installed "$T" acme 1.0
'

test_expect_success NETNS 'a name that resolves to 127.0.0.1 is refused at connect, before any request' '
  WORKER=$NETNS_WORKER apply "$(new_target n2)" --package acme --manifest "$SNEAKY/acme/1.0/manifest.json"
  refused_for "$SNEAKY/acme/1.0/manifest.json" "it connects to 127.0.0.1, which is loopback, and fetch-allow-private is off"
  ! grep -q GET "$WORK/loop.log" || fail "the loopback store was asked: $(cat "$WORK/loop.log")"
'

test_expect_success NETNS 'a redirect from an allowed store to a loopback one is refused, and never requested' '
  url="$STORE/redirect/acme/1.0/manifest.json"
  WORKER=$NETNS_WORKER apply "$(new_target n3)" --package acme --manifest "$url"
  refused_for "$url" "redirected to \"$SNEAKY/acme/1.0/manifest.json\": it connects to 127.0.0.1, which is loopback"
  grep -q "GET /redirect/acme/1.0/manifest.json range=- status=302" "$WORK/store.log" \
    || fail "the store did not redirect: $(cat "$WORK/store.log")"
  ! grep -q GET "$WORK/loop.log" || fail "the redirect was followed: $(cat "$WORK/loop.log")"
'

# ---- jobs from Kafka, written by hand (unsigned; the worker allows that here)
put_job() {
  printf '%s' "$2" | protoc --proto_path="$PROTO_DIR" --encode=drover.v1.Job drover.proto >"$WORK/job.bin"
  kcat -b "$BROKERS" -P -t drover.jobs -k "$1" "$WORK/job.bin"
}
# job DEPLOYMENT TARGET MANIFEST_URL SHA256: the text of an install job of acme.
job() {
  printf 'schema_version: 1 job_id: "%s/%s" deployment_id: "%s" package: "acme" action: ACTION_INSTALL
    target { target_id: "%s" platform_name: "ubuntu" platform_version: "22.04" arch: "x86_64" }
    manifest_url: "%s" manifest_sha256: "%s" artifacts_base_url: "%s"' "$1" "$2" "$1" "$2" "$3" "$4" "${3%/*}"
}
# failed_target DEPLOYMENT: the rollup's failed target, once the deployment is done.
failed_target() { wait_for_rollup "$1" FAILED 60; jq -c ".failed_targets[0]" <<<"$ROLLUP"; }

test_expect_success KCAT,PROTOC,CURL,JQ 'set-up: a broker, an aggregator and a worker with the default fetch rules' '
  start_broker
  start_aggregator
  start_worker w1 --allow-unsigned
  wait_for_log "$WORK/w1.log" "event=worker.fetch_policy schemes=https,http,s3 hosts=\\* allow_private=false"
  wait_for_log "$WORK/w1.log" "event=worker.start"
'

test_expect_success KCAT,PROTOC,CURL,JQ 'a job whose manifest is file:///etc/passwd ends REJECTED, and nothing of the file reaches the status' '
  put_job k1 "$(job d-passwd k1 file:///etc/passwd "$PASSWD_SHA")"
  got=$(failed_target d-passwd)
  jq -e ".state == \"REJECTED\" and .reason == \"fetch-refused\" and (.message | contains(\"refused to fetch \\\"file:///etc/passwd\\\": scheme file is not in fetch-schemes (https,http,s3)\"))" <<<"$got" >/dev/null \
    || fail "expected REJECTED, fetch-refused, naming the URL and fetch-schemes; got $got"
  ! grep -qF "$PASSWD_TOKEN" <<<"$ROLLUP" || fail "the rollup quotes /etc/passwd: $ROLLUP"
  ! grep -qF "$PASSWD_FIRST" "$WORK/w1.log" || fail "the log quotes /etc/passwd"
'

test_expect_success KCAT,PROTOC,CURL,JQ 'a job with an empty manifest sha256 is REJECTED before anything is fetched' '
  put_job k2 "$(job d-nohash k2 "$MANIFEST" "")"
  got=$(failed_target d-nohash)
  jq -e ".state == \"REJECTED\" and .reason == \"malformed\" and (.message | contains(\"without its sha256\"))" <<<"$got" >/dev/null \
    || fail "expected REJECTED, malformed, without its sha256; got $got"
'

test_expect_success KCAT,PROTOC,CURL,JQ 'ids from Kafka are logged quoted: a newline in one forges no log line' '
  put_job k3 "$(job "d-3\nts=x level=error prog=forged event=forged" k3 "$MANIFEST" "$PASSWD_SHA")"
  wait_for_log "$WORK/w1.log" "event=job.rejected deployment=\"d-3\\\\nts=x level=error prog=forged event=forged\""
  ! grep -q "^ts=x" "$WORK/w1.log" || fail "a forged line: $(grep "^ts=x" "$WORK/w1.log")"
'

test_done
