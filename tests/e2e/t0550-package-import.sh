#!/usr/bin/env bash
# package import: a Distributor package as it sits (manifest.json and its
# zips side by side, over HTTP or in a folder) is published unchanged once
# every file matches the manifest's sha256; a tampered or missing file, or a
# manifest Drover refuses, publishes nothing and says which file and why.
. "$(dirname "$0")/pipeline_lib.sh"

write_script agent 1.0 install.sh 'echo installed > "$DROVER_TARGET_ROOT/agent"'
write_script agent 1.0 uninstall.sh 'rm -f "$DROVER_TARGET_ROOT/agent"'
make_version agent 1.0
# Distributor's layout: one folder per package, named after it.
for d in acme-agent tampered missing garbage; do mkdir -p "$REPO/$d" && cp "$REPO/agent/1.0/"* "$REPO/$d/"; done
printf 'X' | dd of="$REPO/tampered/pkg.zip" bs=1 seek=40 conv=notrunc 2>/dev/null
rm "$REPO/missing/pkg.zip"
echo '{"schemaVersion": "2.0", "version": ' >"$REPO/garbage/manifest.json"
start_http
start_broker
export DROVER_BROKERS="$BROKERS"
export TMPDIR="$WORK/tmp" # import's work folders, to be found empty at the end
mkdir -p "$TMPDIR"
MANIFEST_SHA=$(sha256sum "$REPO/acme-agent/manifest.json" | cut -d' ' -f1)
ZIP_SHA=$(sha256sum "$REPO/acme-agent/pkg.zip" | cut -d' ' -f1)

test_expect_success 'a package imported over HTTP is checked file by file and published unchanged, named after its folder' '
  expect_ok "$PRODUCER" package import "$BASE_URL/acme-agent/"
  grep -qx "verified $ZIP_SHA  pkg.zip" <<<"$OUT" || fail "pkg.zip not verified: $OUT"
  grep -q "^published acme-agent 1.0 " <<<"$OUT" || fail "not published as acme-agent 1.0: $OUT"
  grep -qx "sha256: $MANIFEST_SHA" <<<"$OUT" || fail "the manifest bytes were not kept (sha256): $OUT"
  grep -qx "artifacts: $BASE_URL/acme-agent" <<<"$OUT" || fail "artifacts base: $OUT"
  expect_ok "$PRODUCER" package list acme-agent
  grep -q "1.0" <<<"$OUT" || fail "acme-agent 1.0 is not listed: $OUT"
'

test_expect_success 'a folder on disk imports too, under the name given' '
  expect_ok "$PRODUCER" package import "$REPO/acme-agent" --name local-agent
  grep -q "^published local-agent 1.0 " <<<"$OUT" || fail "not published as local-agent: $OUT"
'

test_expect_success 'a tampered file, a missing file or a broken manifest publishes nothing, and says which and why' '
  expect_fail_with "file pkg.zip of the manifest" "$PRODUCER" package import "$BASE_URL/tampered/"
  grep -qi "sha256\|checksum" <<<"$OUT" || fail "the tampered file is not called a hash mismatch: $OUT"
  expect_fail_with "file pkg.zip of the manifest" "$PRODUCER" package import "$BASE_URL/missing/"
  expect_fail_with "manifest $BASE_URL/garbage/manifest.json" "$PRODUCER" package import "$BASE_URL/garbage/"
  expect_ok "$PRODUCER" package list
  ! grep -q "^tampered\|^missing\|^garbage" <<<"$OUT" || fail "a failed import was published: $OUT"
  # Nothing is left behind in the work folder, a failed download included.
  [ -z "$(ls -A "$TMPDIR")" ] || fail "import left its work folder: $(ls -AR "$TMPDIR")"
  expect_fail_with "takes one URL" "$PRODUCER" package import
  expect_fail_with "--name" "$PRODUCER" package import "$BASE_URL/acme-agent/" --name "bad name"
'

test_expect_success 'an s3:// folder imports with keys from a web identity token exchanged at STS, the session token signed' '
  HTTP_BASE=$BASE_URL
  HTTP_NAME=s3 start_http --s3-credentials ASIADROVERIMPORT1:imp/secret --s3-region eu-west-1 --s3-session-token import-session-token
  S3_URL=$BASE_URL
  HTTP_NAME=sts start_http --aws-credentials ASIADROVERIMPORT1:imp/secret:import-session-token --aws-web-identity-token jwt.of.the.pod
  STS_URL=$BASE_URL; BASE_URL=$HTTP_BASE
  echo jwt.of.the.pod >"$WORK/token"
  expect_ok env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE="$WORK/none" \
    AWS_CONFIG_FILE="$WORK/none" AWS_EC2_METADATA_DISABLED=true AWS_REGION=eu-west-1 \
    AWS_WEB_IDENTITY_TOKEN_FILE="$WORK/token" AWS_ROLE_ARN=arn:aws:iam::123456789012:role/drover-producer \
    AWS_ENDPOINT_URL_STS="$STS_URL" "$PRODUCER" package import s3://acme-agent/ --name s3-agent --s3-endpoint "$S3_URL"
  grep -q "^published s3-agent 1.0 " <<<"$OUT" || fail "not published as s3-agent: $OUT"
  grep -q "^GET /acme-agent/pkg.zip range=- status=200" "$WORK/s3.log" || fail "pkg.zip not fetched from S3: $(cat "$WORK/s3.log")"
  [ "$(grep -c "^POST / " "$WORK/sts.log")" -ge 1 ] || fail "STS was not asked: $(cat "$WORK/sts.log")"
'

test_done
