#!/usr/bin/env bash
# The aggregator's console in a real browser (headless Chromium over the
# DevTools protocol, tests/e2e/browser.py): during a running deployment the
# page shows it as a person would, moved by the event stream (GET /events)
# and not by polling; a deployment with 10,000 failed targets is read a page
# at a time as the list scrolls, with filters; the fleet view shows versions
# per package and per account/region.  The server holds many event streams
# and idle connections and still answers /healthz and /metrics.  Screenshots,
# the DOM and the text a person reads are kept under
# $DROVER_BUILD_DIR/artifacts/t0480/.  (CHROMIUM: chromium and python3; CURL, JQ.)
. "$(dirname "$0")/pipeline_lib.sh"
STATUS="$DROVER_BUILD_DIR/drover_test_status"
ART="$DROVER_BUILD_DIR/artifacts/t0480"
mkdir -p "$ART"
test_lazy_prereq CHROMIUM 'command -v chromium && command -v python3'

# browse URL STEP...: tests/e2e/browser.py with a profile of this test's own.
browse() {
  python3 "$DROVER_SOURCE_DIR/tests/e2e/browser.py" --chromium chromium --user-data-dir "$WORK/chromium" \
    --log "$WORK/chromium.log" "$@"
}

# agent installs at once; slow waits for $WORK/release, and fails on the targets named c-bad-*.
write_script agent 1.0 install.sh 'mkdir -p "$DROVER_TARGET_ROOT/opt/agent"; echo "$DROVER_VERSION" > "$DROVER_TARGET_ROOT/opt/agent/version"'
write_script agent 1.0 uninstall.sh 'rm -rf "$DROVER_TARGET_ROOT/opt/agent"'
make_version agent 1.0
write_script slow 1.0 install.sh "case \"\$DROVER_TARGET_ROOT\" in *c-bad-*) echo 'the disk is full' >&2; exit 3;; esac
for i in \$(seq 1 600); do [ -e '$WORK/release' ] && break; sleep 0.1; done
mkdir -p \"\$DROVER_TARGET_ROOT/opt/slow\""
write_script slow 1.0 uninstall.sh 'rm -rf "$DROVER_TARGET_ROOT/opt/slow"'
make_version slow 1.0
start_http
start_broker
start_aggregator
start_control_plane
start_worker w1 --concurrency 8
export DROVER_BROKERS="$BROKERS"
for p in agent slow; do
  "$PRODUCER" package publish --name "$p" --manifest "$BASE_URL/$p/1.0/manifest.json" --artifacts "$BASE_URL/$p/1.0" >/dev/null
done
{ echo "id,account,region,platform,platform_version,arch,tags"
  for i in 1 2 3; do echo "c-$i,111111111111,eu-west-1,ubuntu,22.04,x86_64,"; done
  for i in 4 5 6; do echo "c-$i,222222222222,us-east-1,ubuntu,22.04,x86_64,"; done
  echo "c-bad-1,111111111111,eu-west-1,ubuntu,22.04,x86_64,"
  echo "c-bad-2,222222222222,us-east-1,ubuntu,22.04,x86_64,"; } >"$WORK/targets.csv"
"$PRODUCER" target register --file "$WORK/targets.csv" >/dev/null

test_expect_success CURL 'the page is one document with a strict Content-Security-Policy and nothing external' '
  headers=$(curl -sS -D - -o "$WORK/page.html" "$AGG_URL/")
  grep -q "^Content-Security-Policy: default-src '"'"'none'"'"'; script-src '"'"'sha256-" <<<"$headers" || fail "no strict CSP: $headers"
  ! grep -q "unsafe-inline" <<<"$headers" || fail "the CSP allows any inline script: $headers"
  ! grep -qE "(src|href)=\"(https?:)?//" "$WORK/page.html" || fail "the page loads external assets"
'

test_expect_success CURL 'agent 1.0 on the six good targets (what the fleet view will show)' '
  RC=0; OUT=$("$PRODUCER" deploy --package agent --version 1.0 --targets c-1,c-2,c-3,c-4,c-5,c-6 --deployment-id d-agent --wait-timeout 60 2>&1) || RC=$?
  [ "$RC" -eq 0 ] || fail "deploy d-agent exited $RC: $OUT"
'

# 10,000 failed targets in 3 accounts x 4 regions, 5 reasons, written straight to the status topic.
many_failures() {
  local i n a r reasons=(checksum script-failed fetch timeout signature)
  for i in $(seq -w 1 10000); do n=$((10#$i)); echo "d-many m$i 33333333333$((n % 3)) ap-south-$((n % 4)) PENDING"; done
  for i in $(seq -w 1 10000); do
    n=$((10#$i))
    echo "d-many m$i 33333333333$((n % 3)) ap-south-$((n % 4)) FAILED reason=${reasons[n % 5]} message=install.sh exited $((n % 7 + 1)) on m$i"
  done
}
test_expect_success CHROMIUM,CURL,JQ 'during a running deployment the page shows it live, moved by the event stream and not by polling' '
  many_failures | "$STATUS" --brokers "$BROKERS" produce >/dev/null
  "$PRODUCER" deploy --package slow --version 1.0 --all --deployment-id d-live --wait-timeout 120 >"$WORK/d-live.out" 2>&1 &
  DEPLOY_PID=$!
  PIDS+=($DEPLOY_PID)
  # Loaded while d-live runs: its two bad targets fail at once, the six others wait for the release.
  browse "$AGG_URL/#/deployments" \
    "wait:30:document.querySelector(\"tr[data-id=d-live][data-status=IN_PROGRESS]\") && document.querySelector(\"tr[data-id=d-live] td.bad\")?.textContent === \"2\"" \
    "wait:30:document.querySelector(\"tr[data-id=d-many][data-status=FAILED]\")" \
    "eval:document.getElementById(\"conn\").textContent" \
    "shot:$ART/1-deployments-running.png" \
    "text:$WORK/running.txt" \
    "sh:touch $WORK/release" \
    "wait:60:document.querySelector(\"tr[data-id=d-live][data-status=FAILED]\")?.querySelectorAll(\"td\")[4].textContent === \"8 / 8\"" \
    "eval:performance.getEntriesByType(\"resource\").map(e => e.name).filter(n => /deployments|fleet/.test(n)).length" \
    "text:$ART/2-deployments-finished.txt" \
    "dom:$ART/2-deployments-finished.html" \
    "shot:$ART/2-deployments-finished.png" >"$WORK/browse.out" 2>"$WORK/browse.err" ||
    fail "the browser: $(cat "$WORK/browse.err")"
  [ "$(sed -n 1p "$WORK/browse.out")" = live ] || fail "the page was not live on its stream: $(cat "$WORK/browse.out")"
  [ "$(sed -n 2p "$WORK/browse.out")" = 0 ] || fail "the list view fetched /deployments or /fleet: it should only listen"
  grep -q "d-live" "$WORK/running.txt" && grep -q "IN_PROGRESS" "$WORK/running.txt" || fail "while running: $(cat "$WORK/running.txt")"
  grep -qE "d-live.*slow 1\.0.*FAILED" "$ART/2-deployments-finished.txt" || fail "finished: $(cat "$ART/2-deployments-finished.txt")"
  ! grep -q "page said" "$WORK/browse.err" || fail "the page logged errors: $(cat "$WORK/browse.err")"
  wait "$DEPLOY_PID" 2>/dev/null || true
'

test_expect_success CHROMIUM,CURL,JQ '10,000 failed targets: the API pages them, bounded; the page reads only the rows on screen, and filters' '
  [ "$(get "/deployments/d-many/failed?limit=100000" | jq "[.limit, (.targets | length), .matched, .next_offset]" -c)" = "[500,500,10000,500]" ] ||
    fail "a page is not bounded: $(get "/deployments/d-many/failed?limit=100000" | head -c 300)"
  [ "$(get "/deployments/d-many/failed?reason=fetch&offset=1990" | jq -c "[.matched, (.targets | map(.target_id))]")" = "[2000,[\"m09952\",\"m09957\",\"m09962\",\"m09967\",\"m09972\",\"m09977\",\"m09982\",\"m09987\",\"m09992\",\"m09997\"]]" ] ||
    fail "the last page of reason=fetch: $(get "/deployments/d-many/failed?reason=fetch&offset=1990" | head -c 300)"
  browse "$AGG_URL/#/deployment/d-many" \
    "wait:30:document.querySelectorAll(\"#f-scroll .vrow[data-target]\").length > 10" \
    "eval:document.getElementById(\"f-count\").textContent" \
    "eval:document.querySelectorAll(\"#f-scroll .vrow\").length" \
    "eval:document.getElementById(\"f-scroll\").scrollTop = 26 * 9000" \
    "wait:10:document.querySelector(\".vrow[data-target=m09001]\")" \
    "shot:$ART/3-failed-targets-scrolled.png" \
    "eval:(() => { const s = document.getElementById(\"f-reason\"); s.value = \"fetch\"; s.dispatchEvent(new Event(\"change\")); })()" \
    "wait:10:/^2,000 of 10,000/.test(document.getElementById(\"f-count\").textContent)" \
    "wait:10:document.querySelector(\".vrow[data-target=m00002]\")" \
    "eval:location.hash" \
    "eval:performance.getEntriesByType(\"resource\").filter(e => /failed/.test(e.name)).length" \
    "text:$ART/4-failed-targets-filtered.txt" \
    "shot:$ART/4-failed-targets-filtered.png" >"$WORK/browse.out" 2>"$WORK/browse.err" ||
    fail "the browser: $(cat "$WORK/browse.err")"
  sed -n 1p "$WORK/browse.out" | grep -q "^10,000 · rows 1–" || fail "the count line: $(cat "$WORK/browse.out")"
  rows=$(sed -n 2p "$WORK/browse.out")
  [ "$rows" -gt 10 ] && [ "$rows" -lt 40 ] || fail "$rows rows in the DOM: the list is not virtualised"
  [ "$(sed -n 4p "$WORK/browse.out")" = "#/deployment/d-many?reason=fetch" ] || fail "the filter is not in the address: $(sed -n 4p "$WORK/browse.out")"
  pages=$(sed -n 5p "$WORK/browse.out")
  [ "$pages" -le 6 ] || fail "$pages pages read for two screens of rows"
  grep -q "m00002" "$ART/4-failed-targets-filtered.txt" && ! grep -q "m00001" "$ART/4-failed-targets-filtered.txt" ||
    fail "the filtered list: $(head -40 "$ART/4-failed-targets-filtered.txt")"
'

test_expect_success CHROMIUM,CURL 'the fleet view: what is installed where, by version and by account and region' '
  browse "$AGG_URL/#/fleet" \
    "wait:30:document.querySelector(\".card[data-package=slow] .chip[data-version=\\\"1.0\\\"] b\")?.textContent === \"6\"" \
    "wait:30:document.querySelector(\".card[data-package=agent] .chip[data-version=\\\"1.0\\\"] b\")?.textContent === \"6\"" \
    "text:$ART/5-fleet.txt" \
    "shot:$ART/5-fleet.png" >"$WORK/browse.out" 2>"$WORK/browse.err" || fail "the browser: $(cat "$WORK/browse.err")"
  grep -q "222222222222" "$ART/5-fleet.txt" && grep -q "us-east-1" "$ART/5-fleet.txt" || fail "no locations: $(cat "$ART/5-fleet.txt")"
'

test_expect_success CHROMIUM,CURL,JQ 'the associations view: each association with its next run, from the associations topic' '
  expect_ok "$PRODUCER" association create --name nightly --package agent --version 1.0 --accounts 111111111111 \
    --schedule "cron(0 2 * * *)" --no-run-on-create
  for _ in $(seq 1 100); do [ "$(get /associations | jq ".associations | length")" = 1 ] && break; sleep 0.1; done
  [ "$(get /associations | jq -r ".associations[0] | [.name, .schedule, (.next_run_ms > .created_at_ms), .due] | @tsv")" = "$(printf "nightly\tcron(0 2 * * *)\ttrue\tfalse")" ] ||
    fail "GET /associations: $(get /associations)"
  browse "$AGG_URL/#/associations" \
    "wait:30:/\\(in [0-9]+ (minute|hour)s?\\)/.test(document.querySelector(\"tr[data-association] td.next-run\")?.textContent)" \
    "text:$ART/6-associations.txt" \
    "shot:$ART/6-associations.png" >"$WORK/browse.out" 2>"$WORK/browse.err" || fail "the browser: $(cat "$WORK/browse.err")"
  grep -q "nightly" "$ART/6-associations.txt" && grep -q "accounts 111111111111" "$ART/6-associations.txt" ||
    fail "the associations view: $(cat "$ART/6-associations.txt")"
'

test_expect_success CURL 'many event streams and idle connections at once: /healthz and /metrics still answer; past 64 streams a 503' '
  port=${AGG_URL##*:}
  for i in $(seq 1 66); do
    curl -sN --max-time 120 -o "$WORK/stream.$i" -w "%{http_code}\n" "$AGG_URL/events" >"$WORK/stream.$i.code" 2>/dev/null &
    STREAMS+=($!)
  done
  for i in $(seq 1 100); do exec {fd}<>"/dev/tcp/127.0.0.1/$port"; IDLE+=($fd); done
  # Two of the 66 end at once (503), unless a stream the hub dropped as too slow (the machine is busy)
  # made room for one: on a busy machine the 100 idle connections also delay the rest for seconds.
  for _ in $(seq 1 600); do [ "$(cat "$WORK"/stream.*.code 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.1; done
  codes=$(cat "$WORK"/stream.*.code)
  refused=$(grep -c "^503$" <<<"$codes" || true)
  dropped=$(curl -sS --max-time 10 "$AGG_URL/metrics" | sed -n "s/^drover_aggregator_event_streams_dropped_total //p")
  [ "$refused" -ge 1 ] && [ $((refused + ${dropped:-0})) -ge 2 ] ||
    fail "not two streams refused: $(sort <<<"$codes" | uniq -c), ${dropped:-?} dropped as slow"
  [ "$(grep -cv "^503$" <<<"$codes" || true)" -le "${dropped:-0}" ] ||
    fail "a stream ended without being refused or dropped: $(sort <<<"$codes" | uniq -c)"
  [ "$(curl -sS --max-time 2 "$AGG_URL/healthz")" = ok ] || fail "/healthz did not answer beside the streams"
  # The gauge is set each round of the console (250 ms): the last streams may join after the refusals.
  for _ in $(seq 1 150); do
    metrics=$(curl -sS --max-time 10 "$AGG_URL/metrics") || fail "/metrics did not answer beside the streams"
    grep -qx "drover_aggregator_event_streams 64" <<<"$metrics" && break
    sleep 0.2
  done
  streams=$(sed -n "s/^drover_aggregator_event_streams //p" <<<"$metrics")
  [ "${streams:-0}" -le 64 ] && [ "${streams:-0}" -ge $((64 - ${dropped:-0})) ] ||
    fail "streams: $(grep event_streams <<<"$metrics")"
  grep -q "^event: snapshot" "$WORK/stream.1" || grep -q "^event: snapshot" "$WORK/stream.2" || fail "a stream got no snapshot"
  for fd in "${IDLE[@]}"; do exec {fd}>&-; done
  kill "${STREAMS[@]}" 2>/dev/null || true
  wait "${STREAMS[@]}" 2>/dev/null || true
'

test_done
