#!/usr/bin/env bash
# HTTPS downloads verify the server: a package served over TLS installs with
# the CA that signed the server's certificate (--ca-file), and is refused,
# with nothing installed, under another CA or the system's.  A server that
# answers 500 a few times, then recovers, is retried with backoff and the
# install finishes (so does one that also stalls a download half way); one
# that keeps failing ends the job "fetch" after the
# configured attempts.
# The HTTPS cases need openssl (scripts/install-deps.sh installs it).
. "$(dirname "$0")/apply_lib.sh"
test_lazy_prereq OPENSSL 'command -v openssl'

simple_package acme 1.0
make_version acme 1.0

# A test CA, a server certificate it signs for 127.0.0.1, and an unrelated CA.
P=$WORK/pki; mkdir -p "$P"
new_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$1.key" -out "$P/$1.pem" \
    -days 2 -subj "/CN=drover test $1" 2>/dev/null || fail "openssl could not make CA $1"
}
test_expect_success OPENSSL 'set-up: a test CA, a server certificate it signs for 127.0.0.1, another CA, an HTTPS server' '
  new_ca ca; new_ca other-ca
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/server.key" -out "$P/server.csr" \
    -subj "/CN=127.0.0.1" 2>/dev/null || fail "openssl could not make a request"
  printf "subjectAltName=IP:127.0.0.1\n" >"$P/san.ext"
  openssl x509 -req -in "$P/server.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
    -extfile "$P/san.ext" -out "$P/server.pem" 2>/dev/null || fail "openssl could not sign the server certificate"
  HTTP_NAME=tls start_http --tls-cert "$P/server.pem" --tls-key "$P/server.key"
  URL="https://${BASE_URL#http://}"
  M="$URL/acme/1.0/manifest.json"
'

test_expect_success OPENSSL 'with the CA that signed the server (--ca-file) the package installs over HTTPS; with a missing CA file it fails' '
  T=$(new_target t-right-ca)
  apply "$T" --package acme --manifest "$M" --artifacts "$URL/acme/1.0" --ca-file "$P/pki-missing.pem"
  expect_rc 1; expect_out "reason: fetch"
  apply "$T" --package acme --manifest "$M" --artifacts "$URL/acme/1.0" --ca-file "$P/ca.pem"
  expect_rc 0
  expect_installed "$T" acme 1.0
  grep -q "^GET /acme/1.0/pkg.zip range=- status=200" "$WORK/tls.log" || fail "no HTTPS download in $(cat "$WORK/tls.log")"
'

test_expect_success OPENSSL 'under another CA, or the system'\''s, the server is refused before anything is read; nothing installed' '
  for ca in "$P/other-ca.pem" ""; do
    T=$(new_target "t-wrong-ca${ca:+-other}")
    before=$(snapshot_outside "$T")
    lines=$(grep -c "^TLS " "$WORK/tls.log" || true)
    apply "$T" --package acme --manifest "$M" --artifacts "$URL/acme/1.0" ${ca:+--ca-file "$ca"} --fetch-attempts 1
    expect_rc 1; expect_out "reason: fetch"
    grep -qiE "certificate|SSL" <<<"$OUT" || fail "the refusal does not say why: $OUT"
    expect_installed "$T" acme none
    expect_same_outside "$T" "$before"
    [ "$(grep -c "^TLS " "$WORK/tls.log")" -gt "$lines" ] || fail "the server saw no refused handshake: $(cat "$WORK/tls.log")"
  done
'

test_expect_success 'a server that answers 500 three times, then recovers, is retried and the install finishes' '
  HTTP_NAME=flaky start_http --fail-first 3
  T=$(new_target t-flaky)
  apply "$T" --package acme --manifest "$BASE_URL/acme/1.0/manifest.json" --artifacts "$BASE_URL/acme/1.0" --fetch-attempts 5
  expect_rc 0
  expect_installed "$T" acme 1.0
  # (The zip is in the cache already: the manifest is what is fetched.)
  [ "$(grep -c "status=500" "$WORK/flaky.log")" = 3 ] && [ "$(sed -n 4p "$WORK/flaky.log" | grep -c "status=200")" = 1 ] \
    || fail "expected three 500s then the download: $(cat "$WORK/flaky.log")"
'

test_expect_success 'two 500s, then a download that stalls half way: backed off, resumed, installed' '
  HTTP_NAME=bad-day start_http --fail-first 2 --stall-once acme/1.0/pkg.zip
  T=$(new_target t-bad-day)
  apply "$T" --package acme --manifest "$BASE_URL/acme/1.0/manifest.json" --artifacts "$BASE_URL/acme/1.0" \
    --fetch-attempts 5 --fetch-stall-timeout 1 --cache-dir "$WORK/cache-bad-day"
  expect_rc 0
  expect_installed "$T" acme 1.0
  [ "$(cut -d" " -f1-2,4 "$WORK/bad-day.log" | tr "\n" "|")" = \
    "GET /acme/1.0/manifest.json status=500|GET /acme/1.0/manifest.json status=500|GET /acme/1.0/manifest.json status=200|GET /acme/1.0/pkg.zip status=200|GET /acme/1.0/pkg.zip status=206|" ] \
    || fail "not 500, 500, manifest, a stalled zip, then the rest of it: $(cat "$WORK/bad-day.log")"
'

test_expect_success 'a server that never recovers: FAILED "fetch" after exactly the attempts allowed' '
  HTTP_NAME=down start_http --fail-first 1000
  T=$(new_target t-down)
  apply "$T" --package acme --manifest "$BASE_URL/acme/1.0/manifest.json" --artifacts "$BASE_URL/acme/1.0" --fetch-attempts 3
  expect_rc 1; expect_out "reason: fetch"; expect_out "500"
  [ "$(grep -c "status=500" "$WORK/down.log")" = 3 ] || fail "expected 3 attempts: $(cat "$WORK/down.log")"
  expect_installed "$T" acme none
'

test_done
