#!/usr/bin/env bash
# s3:// packages: manifest and zip are fetched with AWS Signature V4 from an
# S3-compatible endpoint (the test server checks every signature as S3
# does), with credentials from the environment or a credentials file.  A
# wrong secret, a wrong region or no credentials at all fail the job
# "fetch", saying why, with nothing installed.
. "$(dirname "$0")/apply_lib.sh"

simple_package acme 1.0
make_version acme 1.0
# The server's root holds one folder per bucket: bucket "acme" holds 1.0/manifest.json and 1.0/pkg.zip.
start_http --s3-credentials AKIDDROVERTEST:s3cr3t/key+value --s3-region eu-west-1
S3=(--s3-endpoint "$BASE_URL" --s3-region eu-west-1)
M="s3://acme/1.0/manifest.json"
# No source of the credential chain may answer from the machine the test runs on (t0237 tests the others).
no_aws() {
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION \
    AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN
  export AWS_SHARED_CREDENTIALS_FILE="$WORK/none" AWS_CONFIG_FILE="$WORK/none" AWS_EC2_METADATA_DISABLED=true
}

test_expect_success 'with credentials from the environment the package installs, manifest and zip both signed' '
  no_aws; export AWS_ACCESS_KEY_ID=AKIDDROVERTEST AWS_SECRET_ACCESS_KEY="s3cr3t/key+value"
  T=$(new_target t-env)
  apply "$T" --package acme --manifest "$M" "${S3[@]}"
  expect_rc 0
  expect_installed "$T" acme 1.0
  grep -q "^GET /acme/1.0/manifest.json range=- status=200" "$WORK/http.log" && grep -q "^GET /acme/1.0/pkg.zip range=- status=200" "$WORK/http.log" \
    || fail "no signed downloads: $(cat "$WORK/http.log")"
'

test_expect_success 'a session token goes along, and is signed' '
  export AWS_SESSION_TOKEN=token-of-the-day
  T=$(new_target t-token)
  apply "$T" --package acme --manifest "$M" "${S3[@]}" --cache-dir "$WORK/cache-token"
  unset AWS_SESSION_TOKEN
  expect_rc 0
'

test_expect_success 'the wrong secret: 403, the refusal not retried, nothing installed' '
  export AWS_SECRET_ACCESS_KEY=wrong
  T=$(new_target t-wrong-secret)
  before=$(grep -c " status=403" "$WORK/http.log" || true)
  apply "$T" --package acme --manifest "$M" "${S3[@]}"
  expect_rc 1; expect_out "reason: fetch"; expect_out "403"
  [ $(( $(grep -c " status=403" "$WORK/http.log") - before )) = 1 ] || fail "a refused signature was retried"
  grep -q "SignatureDoesNotMatch" "$WORK/http.out" || fail "the server did not see a bad signature: $(tail -3 "$WORK/http.out")"
  expect_installed "$T" acme none
'

test_expect_success 'the right secret for the wrong region is refused too' '
  export AWS_SECRET_ACCESS_KEY="s3cr3t/key+value"
  T=$(new_target t-wrong-region)
  apply "$T" --package acme --manifest "$M" --s3-endpoint "$BASE_URL" --s3-region us-east-1
  expect_rc 1; expect_out "403"
  expect_installed "$T" acme none
'

test_expect_success 'with no credentials anywhere the job fails saying so, before any request' '
  no_aws
  T=$(new_target t-none)
  apply "$T" --package acme --manifest "$M" "${S3[@]}"
  expect_rc 1; expect_out "reason: fetch"; expect_out "no AWS credentials"
  expect_installed "$T" acme none
'

test_expect_success 'a credentials file and a named profile, with the region from AWS_REGION, install' '
  printf "[default]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = nope\n\n[deploy]\naws_access_key_id = AKIDDROVERTEST\naws_secret_access_key = s3cr3t/key+value\n" >"$WORK/credentials"
  export AWS_SHARED_CREDENTIALS_FILE="$WORK/credentials" AWS_PROFILE=deploy AWS_REGION=eu-west-1
  T=$(new_target t-file)
  apply "$T" --package acme --manifest "$M" --s3-endpoint "$BASE_URL" --cache-dir "$WORK/cache-file"
  expect_rc 0
  expect_installed "$T" acme 1.0
'

test_expect_success 'a malformed s3:// URL is the job'\''s fault, named' '
  T=$(new_target t-bad-url)
  apply "$T" --package acme --manifest "s3://Not_A_Bucket/x.json" --s3-endpoint "$BASE_URL"
  expect_rc 1; expect_out "is not an S3 bucket name"
'

test_done
