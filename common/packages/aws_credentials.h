/*
 * aws_credentials.h - AWS credentials found the way the AWS SDKs find them,
 * for signing S3 requests (s3.h).
 *
 * The chain, first source that is set up wins:
 *   1. environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
 *      AWS_SESSION_TOKEN);
 *   2. shared files: the profile AWS_PROFILE (else "default") of the shared
 *      credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials,
 *      sections [NAME]), else of the shared config file (AWS_CONFIG_FILE,
 *      else ~/.aws/config, sections [profile NAME] and [default]);
 *   3. web identity (EKS IRSA): AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN
 *      (and AWS_ROLE_SESSION_NAME), the token exchanged at STS by
 *      AssumeRoleWithWebIdentity (an unsigned POST).  The endpoint is
 *      AWS_ENDPOINT_URL_STS, else https://sts.REGION.amazonaws.com when a
 *      region is known (dr_aws_region), else https://sts.amazonaws.com;
 *   4. instance metadata, IMDSv2 only: a session token by PUT
 *      /latest/api/token, the role by GET
 *      /latest/meta-data/iam/security-credentials/, its keys by GET of that
 *      path plus the role.  The endpoint is AWS_EC2_METADATA_SERVICE_ENDPOINT,
 *      else http://169.254.169.254; AWS_EC2_METADATA_DISABLED=true skips it.
 *      Each request: 1 s to connect, 2 s in all, 2 attempts.
 *
 * A source that is set up and fails ends the chain with its reason (a web
 * identity token STS refuses is not silently replaced by the instance's
 * role); a source that is not set up is skipped.  When no source gives
 * credentials, the error lists each source and why it gave none.
 *
 * Credentials from STS and IMDS expire: the process keeps them (one cache,
 * behind a mutex: the worker's job threads share it) and fetches new ones
 * once they are within DR_AWS_REFRESH_SECONDS of their expiry; if that fetch
 * fails while the kept ones are still valid, the kept ones are used.
 *
 * Every byte read from STS, IMDS and the files is untrusted: answers and
 * files are read up to DR_AWS_RESPONSE_MAX bytes, parsed strictly, and
 * keys are checked against the characters and lengths AWS uses before
 * they go anywhere near an HTTP header.  Errors never quote a key,
 * secret or token.
 *
 * The sources live in their own files: environment, shared files, the
 * chain and its cache in aws_credentials.c, web identity in aws_sts.c,
 * IMDS in aws_imds.c, both over the bounded HTTP request of aws_http.c.
 *
 * Not done (yet): credential_process, SSO and role_arn/source_profile in
 * the config file, and ECS container credentials
 * (AWS_CONTAINER_CREDENTIALS_*); IMDSv1 fallback is left out on purpose.
 */
#ifndef DROVER_AWS_CREDENTIALS_H
#define DROVER_AWS_CREDENTIALS_H

#include <stddef.h>
#include <time.h>

#include "error.h"

#define DR_AWS_RESPONSE_MAX (64 * 1024)
#define DR_AWS_REFRESH_SECONDS 300

typedef struct dr_aws_credentials {
    char *access_key_id;     /* malloc'd */
    char *secret_access_key; /* malloc'd */
    char *session_token;     /* malloc'd; NULL for long-term keys */
    time_t expiration;       /* 0: does not expire */
    const char *source;      /* static: "environment", "shared files", "web identity", "IMDS" */
} dr_aws_credentials;

/*
 * The first credentials of the chain into *out (owned by the caller: free
 * with dr_aws_credentials_free).  Thread-safe.  DR_ERR_FETCH when no source
 * gives any or one that is set up fails (the detail says which and why),
 * DR_ERR_NOMEM.
 */
dr_status dr_aws_credentials_get(dr_aws_credentials *out, dr_error *err);
void dr_aws_credentials_free(dr_aws_credentials *creds);

/* Forget the kept STS/IMDS credentials (tests that change the environment). */
void dr_aws_credentials_forget(void);

/*
 * The region of the environment (AWS_REGION, else AWS_DEFAULT_REGION) else
 * of the shared config file's profile, malloc'd into *out; *out is NULL when
 * none is set.  DR_ERR_NOMEM only.
 */
dr_status dr_aws_region(char **out, dr_error *err);

/*
 * The parsers, public for their unit tests, are declared with their source:
 * STS's answers in aws_sts.h, IMDS's in aws_imds.h; the shared files'
 * format here.
 */

/*
 * The value of key in section of an INI text (the shared files' format:
 * "[section]", "key = value", '#' and ';' comments), malloc'd into *value;
 * *value NULL when absent.  The first occurrence wins.  DR_ERR_NOMEM only.
 */
dr_status dr_aws_ini_value(const char *text, const char *section, const char *key, char **value, dr_error *err);

/* "2026-12-05T00:10:00Z" (fraction of a second allowed) into *out; 0 when it is not that form. */
int dr_aws_parse_time(const char *text, time_t *out);

/*
 * 1 when the three fit what AWS issues: a key id of 1-128 letters and
 * digits, a secret of 1-256 and a token (NULL allowed) of 1-8192 printable
 * ASCII characters without spaces.
 */
int dr_aws_credentials_valid(const char *key_id, const char *secret, const char *token);

#endif
