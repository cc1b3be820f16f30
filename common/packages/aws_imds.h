/*
 * aws_imds.h - the instance metadata source of the AWS credential chain,
 * IMDSv2 only (IMDSv1 is left out on purpose): a session token by PUT
 * /latest/api/token, the role by GET /latest/meta-data/iam/security-credentials/,
 * its keys by GET of that path plus the role.  The endpoint is
 * AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254, never
 * through a proxy.  Each request: 1 s to connect, 2 s in all, 2 attempts.
 */
#ifndef DROVER_AWS_IMDS_H
#define DROVER_AWS_IMDS_H

#include <stddef.h>

#include "aws_credentials.h"
#include "aws_credentials_private.h"
#include "error.h"
#include "strbuf.h"

/*
 * The source (a source_fetch): SOURCE_ABSENT when AWS_EC2_METADATA_DISABLED
 * is true (any case); SOURCE_FAILED when IMDS cannot be reached, refuses
 * IMDSv2, has no role attached or answers garbage.  It keeps nothing
 * itself: the chain calls it under its cache's lock.
 */
source_result dr_aws_from_imds(dr_aws_credentials *out, dr_strbuf *tried, dr_error *err);

/*
 * The parser, public for its unit tests: IMDS's JSON for a role: Code
 * "Success", AccessKeyId, SecretAccessKey, Token, Expiration.  Fills *out
 * (free with dr_aws_credentials_free, source "IMDS") or returns
 * DR_ERR_FETCH with a detail saying what is wrong (never quoting a
 * secret), DR_ERR_NOMEM.
 */
dr_status dr_aws_parse_imds_credentials(const char *json, size_t len, dr_aws_credentials *out, dr_error *err);

#endif
