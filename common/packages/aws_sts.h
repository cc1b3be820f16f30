/*
 * aws_sts.h - the web identity source of the AWS credential chain (EKS
 * IRSA): AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (and
 * AWS_ROLE_SESSION_NAME, else "drover"), the token exchanged at STS by
 * AssumeRoleWithWebIdentity, an unsigned POST.  The endpoint is
 * AWS_ENDPOINT_URL_STS, else https://sts.REGION.amazonaws.com when a region
 * is known (dr_aws_region), else https://sts.amazonaws.com.  Each request:
 * 3 s to connect, 10 s in all, 2 attempts.
 */
#ifndef DROVER_AWS_STS_H
#define DROVER_AWS_STS_H

#include <stddef.h>

#include "aws_credentials.h"
#include "aws_credentials_private.h"
#include "error.h"
#include "strbuf.h"

/*
 * The source (a source_fetch): SOURCE_ABSENT when the two variables are not
 * both set; SOURCE_FAILED when the token file cannot be read or is not a
 * token, STS cannot be reached, refuses (its error code said) or answers
 * garbage.  It keeps nothing itself: the
 * chain calls it under its cache's lock.
 */
source_result dr_aws_from_web_identity(dr_aws_credentials *out, dr_strbuf *tried, dr_error *err);

/*
 * The parsers, public for their unit tests.
 *
 * dr_aws_parse_sts_response: the body of a 200 AssumeRoleWithWebIdentity
 * answer: <Credentials> holding AccessKeyId, SecretAccessKey, SessionToken
 * and Expiration exactly once each, no markup or entities inside them.
 * Fills *out (free with dr_aws_credentials_free, source "web identity") or
 * returns DR_ERR_FETCH with a detail saying what is wrong (never quoting a
 * secret), DR_ERR_NOMEM.
 */
dr_status dr_aws_parse_sts_response(const char *xml, size_t len, dr_aws_credentials *out, dr_error *err);

/*
 * The Code of an STS <ErrorResponse> (letters and digits only, at most 64)
 * into code; "" when there is none.
 */
void dr_aws_sts_error_code(const char *xml, size_t len, char *code, size_t size);

#endif
