#!/usr/bin/env bash
# s3:// credentials found as the AWS SDKs find them: a shared config file's
# profile, a web identity token exchanged at STS (EKS IRSA), the instance's
# role from IMDSv2.  Temporary credentials carry a session token the S3 test
# server requires and checks.  STS and IMDS are fakes on loopback
# (drover_test_http --aws-credentials) that can also be down, slow, refuse,
# or answer garbage: each failure names the source and why, and never
# quotes a secret.
. "$(dirname "$0")/apply_lib.sh"

simple_package acme 1.0
make_version acme 1.0
M="s3://acme/1.0/manifest.json"
TMP_KEY=ASIADROVERTEMPORARY1
TMP_SECRET="tmp/secret+key=value"
TMP_TOKEN="FwoGZXIvYXdzEDroverSession/token+of=the+hour"
ROLE_ARN="arn:aws:iam::123456789012:role/drover-worker"
JWT="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZHJvdmVyOmRyb3ZlciJ9.c2lnbmF0dXJl"

# S3 with long-term keys, and S3 that wants the temporary ones and their token.
start_http --s3-credentials AKIDDROVERTEST:s3cr3t/key+value --s3-region eu-west-1
S3_LONG=$BASE_URL
HTTP_NAME=s3tmp start_http --s3-credentials "$TMP_KEY:$TMP_SECRET" --s3-region eu-west-1 --s3-session-token "$TMP_TOKEN"
S3_TMP=$BASE_URL
# start_aws NAME [flags...]: a fake STS + IMDS handing out the temporary keys; its URL in $NAME_URL.
start_aws() {
  local name=$1; shift
  HTTP_NAME=$name start_http --aws-credentials "$TMP_KEY:$TMP_SECRET:$TMP_TOKEN" --aws-role-arn "$ROLE_ARN" \
    --aws-web-identity-token "$JWT" "$@"
  printf -v "${name//-/_}_URL" %s "$BASE_URL"
}
start_aws aws
start_aws aws-short --aws-expires-in 60
start_aws aws-slow --delay-ms 6000
start_aws aws-garbage --aws-fault garbage
start_aws aws-refuse --aws-fault refuse
start_aws aws-norole --aws-fault no-role
printf '%s\n' "$JWT" >"$WORK/web-identity-token"

no_aws() {
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION \
    AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_ROLE_SESSION_NAME AWS_ENDPOINT_URL_STS AWS_EC2_METADATA_SERVICE_ENDPOINT
  export AWS_SHARED_CREDENTIALS_FILE="$WORK/none" AWS_CONFIG_FILE="$WORK/none" AWS_EC2_METADATA_DISABLED=true
}
web_identity() { export AWS_WEB_IDENTITY_TOKEN_FILE="$WORK/web-identity-token" AWS_ROLE_ARN="$ROLE_ARN" AWS_ENDPOINT_URL_STS="$1"; }
imds() { unset AWS_EC2_METADATA_DISABLED; export AWS_EC2_METADATA_SERVICE_ENDPOINT="$1"; }
# count LOG PATTERN: how many lines of $WORK/LOG.log start with PATTERN.
count() { grep -c "^$2" "$WORK/$1.log" 2>/dev/null || true; }
# apply_tmp TARGET: apply from the S3 that wants temporary credentials, with a fresh cache (every file fetched).
apply_tmp() { apply "$1" --package acme --manifest "$M" --s3-endpoint "$S3_TMP" --s3-region eu-west-1 --cache-dir "$WORK/cache-$(basename "$1")"; }
no_secret_in_output() {
  ! grep -qF -- "$TMP_SECRET" <<<"$OUT" && ! grep -qF -- "$TMP_TOKEN" <<<"$OUT" && ! grep -qF -- "$JWT" <<<"$OUT" \
    || fail "a secret, token or the web identity token is in the output: $OUT"
}

test_expect_success 'a config file profile ([profile NAME]) gives the keys and the region' '
  no_aws
  printf "[default]\nregion = us-east-1\naws_access_key_id = AKIDOTHER\naws_secret_access_key = nope\n\n[profile deploy]\nregion = eu-west-1\naws_access_key_id = AKIDDROVERTEST\naws_secret_access_key = s3cr3t/key+value\n" >"$WORK/config"
  export AWS_CONFIG_FILE="$WORK/config" AWS_PROFILE=deploy
  T=$(new_target t-config)
  apply "$T" --package acme --manifest "$M" --s3-endpoint "$S3_LONG" --cache-dir "$WORK/cache-config"
  expect_rc 0
  expect_installed "$T" acme 1.0
'

test_expect_success 'the credentials file comes before the config file for the same profile' '
  printf "[deploy]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = nope\n" >"$WORK/credentials"
  export AWS_SHARED_CREDENTIALS_FILE="$WORK/credentials"
  T=$(new_target t-precedence)
  apply "$T" --package acme --manifest "$M" --s3-endpoint "$S3_LONG" --cache-dir "$WORK/cache-precedence"
  expect_rc 1; expect_out "403"
  expect_installed "$T" acme none
'

test_expect_success 'web identity: the token is exchanged at STS once, and the session token is signed along' '
  no_aws; web_identity "$aws_URL"
  T=$(new_target t-web-identity)
  apply_tmp "$T"
  expect_rc 0
  expect_installed "$T" acme 1.0
  [ "$(count aws "POST / ")" = 1 ] || fail "want one STS call for manifest and zip: $(cat "$WORK/aws.log")"
  grep -q "^GET /acme/1.0/pkg.zip range=- status=200" "$WORK/s3tmp.log" || fail "zip not fetched: $(cat "$WORK/s3tmp.log")"
'

test_expect_success 'temporary keys without their session token are refused by S3' '
  no_aws; export AWS_ACCESS_KEY_ID=$TMP_KEY AWS_SECRET_ACCESS_KEY="$TMP_SECRET"
  T=$(new_target t-no-token)
  apply_tmp "$T"
  expect_rc 1; expect_out "403"
  grep -q "MissingSecurityToken" "$WORK/s3tmp.out" || fail "the server did not miss the token: $(tail -3 "$WORK/s3tmp.out")"
  expect_installed "$T" acme none
'

test_expect_success 'credentials that expire within 5 minutes are fetched again before the next request' '
  no_aws; web_identity "$aws_short_URL"
  T=$(new_target t-expiring)
  apply_tmp "$T"
  expect_rc 0
  expect_installed "$T" acme 1.0
  [ "$(count aws-short "POST / ")" = 2 ] || fail "want a refresh (two STS calls): $(cat "$WORK/aws-short.log")"
'

test_expect_success 'STS refusing the token: the job fails naming STS, the HTTP status and the code' '
  no_aws; web_identity "$aws_refuse_URL"
  T=$(new_target t-sts-refuses)
  apply_tmp "$T"
  expect_rc 1; expect_out "reason: fetch"; expect_out "STS AssumeRoleWithWebIdentity at $aws_refuse_URL: HTTP 403: AccessDenied"
  no_secret_in_output
  expect_installed "$T" acme none
'

test_expect_success 'a role ARN STS does not know is refused too, and the instance role is not tried instead' '
  no_aws; web_identity "$aws_URL"; imds "$aws_URL"; export AWS_ROLE_ARN=arn:aws:iam::123456789012:role/other
  before=$(count aws "PUT /latest/api/token")
  T=$(new_target t-sts-wrong-role)
  apply_tmp "$T"
  expect_rc 1; expect_out "HTTP 403: AccessDenied"
  [ "$(count aws "PUT /latest/api/token")" = "$before" ] || fail "IMDS was asked after STS refused"
'

test_expect_success 'STS down: the job fails naming STS and the connection' '
  no_aws; web_identity http://127.0.0.1:1
  T=$(new_target t-sts-down)
  apply_tmp "$T"
  expect_rc 1; expect_out "STS AssumeRoleWithWebIdentity at http://127.0.0.1:1: Failed to connect"
  no_secret_in_output
'

test_expect_success 'STS answering garbage is named as such' '
  no_aws; web_identity "$aws_garbage_URL"
  T=$(new_target t-sts-garbage)
  apply_tmp "$T"
  expect_rc 1; expect_out "STS AssumeRoleWithWebIdentity garbage: no <Credentials> element"
'

test_expect_success 'IMDSv2: a session token, the role, its keys; the package installs' '
  no_aws; imds "$aws_URL"
  T=$(new_target t-imds)
  apply_tmp "$T"
  expect_rc 0
  expect_installed "$T" acme 1.0
  [ "$(count aws "PUT /latest/api/token range=- status=200")" -ge 1 ] &&
    grep -q "^GET /latest/meta-data/iam/security-credentials/drover-node range=- status=200" "$WORK/aws.log" ||
    fail "no IMDSv2 exchange: $(cat "$WORK/aws.log")"
'

test_expect_success 'IMDS down: the error lists every source tried and why IMDS gave nothing' '
  no_aws; imds http://127.0.0.1:1
  T=$(new_target t-imds-down)
  apply_tmp "$T"
  expect_rc 1; expect_out "reason: fetch"
  expect_out "no AWS credentials: tried environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"
  expect_out "web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not both set"
  expect_out "IMDS at http://127.0.0.1:1: PUT /latest/api/token"
'

test_expect_success 'IMDS slow: given up after its short timeouts, not the job'\''s' '
  no_aws; imds "$aws_slow_URL"
  T=$(new_target t-imds-slow)
  start=$(date +%s)
  apply_tmp "$T"
  took=$(( $(date +%s) - start ))
  expect_rc 1; expect_out "IMDS at $aws_slow_URL: PUT /latest/api/token"; expect_out "imed out"
  [ "$took" -lt 15 ] || fail "IMDS held the job for ${took}s"
'

test_expect_success 'IMDS garbage: not JSON, said so' '
  no_aws; imds "$aws_garbage_URL"
  T=$(new_target t-imds-garbage)
  apply_tmp "$T"
  expect_rc 1; expect_out "IMDS garbage: not JSON"
  expect_installed "$T" acme none
'

test_expect_success 'IMDS with no role attached, said so' '
  no_aws; imds "$aws_norole_URL"
  T=$(new_target t-imds-no-role)
  apply_tmp "$T"
  expect_rc 1; expect_out "IMDS: no role attached"
  no_secret_in_output
'

test_expect_success 'no source at all: every one is listed' '
  no_aws
  T=$(new_target t-none)
  apply_tmp "$T"
  expect_rc 1
  expect_out "shared files: neither $WORK/none nor $WORK/none has profile '\''default'\'' with both keys"
  expect_out "IMDS: AWS_EC2_METADATA_DISABLED is true"
'

test_done
