#!/usr/bin/env bash
# package import from S3 as Distributor keeps packages there
# (s3://bucket/prefix/ with manifest.json and its zips beside it), against
# an S3-compatible endpoint that checks every request's SigV4 signature as S3
# does: the manifest and each zip are fetched signed, checked against the
# manifest's sha256 and published unchanged; bad credentials publish nothing.
. "$(dirname "$0")/pipeline_lib.sh"

write_script agent 1.0 install.sh 'echo installed > "$DROVER_TARGET_ROOT/agent"'
write_script agent 1.0 uninstall.sh 'rm -f "$DROVER_TARGET_ROOT/agent"'
make_version agent 1.0
# The bucket "packages" holds Distributor's layout: a prefix per package.
mkdir -p "$REPO/packages/acme-agent" "$REPO/packages/tampered"
cp "$REPO/agent/1.0/"* "$REPO/packages/acme-agent/"
cp "$REPO/agent/1.0/"* "$REPO/packages/tampered/"
printf 'X' | dd of="$REPO/packages/tampered/pkg.zip" bs=1 seek=40 conv=notrunc 2>/dev/null
start_http --s3-credentials AKIDDROVERTEST:s3cr3t/key+value --s3-region eu-west-1
start_broker
export DROVER_BROKERS="$BROKERS"
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_REGION
export AWS_SHARED_CREDENTIALS_FILE="$WORK/none" AWS_CONFIG_FILE="$WORK/none" AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=AKIDDROVERTEST AWS_SECRET_ACCESS_KEY="s3cr3t/key+value"
S3=(--s3-endpoint "$BASE_URL" --s3-region eu-west-1)
MANIFEST_SHA=$(sha256sum "$REPO/packages/acme-agent/manifest.json" | cut -d' ' -f1)
ZIP_SHA=$(sha256sum "$REPO/packages/acme-agent/pkg.zip" | cut -d' ' -f1)

test_expect_success 'an s3:// package is fetched signed, checked file by file and published unchanged' '
  expect_ok "$PRODUCER" package import s3://packages/acme-agent/ "${S3[@]}"
  grep -qx "verified $ZIP_SHA  pkg.zip" <<<"$OUT" || fail "pkg.zip not verified: $OUT"
  grep -q "^published acme-agent 1.0 " <<<"$OUT" || fail "not published as acme-agent 1.0: $OUT"
  grep -qx "sha256: $MANIFEST_SHA" <<<"$OUT" || fail "the manifest bytes were not kept (sha256): $OUT"
  grep -q "GET /packages/acme-agent/pkg.zip .*status=200" "$WORK/http.log" || fail "the zip was not fetched from the endpoint: $(tail -5 "$WORK/http.log")"
  expect_ok "$PRODUCER" package list acme-agent
  grep -q "1.0" <<<"$OUT" || fail "acme-agent 1.0 is not listed: $OUT"
'

test_expect_success 'a wrong secret, or a tampered zip in the bucket, publishes nothing and says why' '
  AWS_SECRET_ACCESS_KEY=wrong expect_fail_with "403" "$PRODUCER" package import s3://packages/acme-agent/ --name other "${S3[@]}"
  expect_fail_with "file pkg.zip of the manifest" "$PRODUCER" package import s3://packages/tampered/ "${S3[@]}"
  expect_ok "$PRODUCER" package list
  ! grep -q "^other\|^tampered" <<<"$OUT" || fail "a failed import was published: $OUT"
'

test_done
