/*
 * aws_credentials_private.h - what the sources of the AWS credential chain
 * share (aws_credentials.c defines it all): the outcome of a source, the
 * environment's values, the character checks, and setting keys into a
 * dr_aws_credentials once they are checked.  Not for use outside the
 * aws_*.c of common/packages.
 */
#ifndef DROVER_AWS_CREDENTIALS_PRIVATE_H
#define DROVER_AWS_CREDENTIALS_PRIVATE_H

#include <stddef.h>

#include "aws_credentials.h"
#include "error.h"
#include "strbuf.h"

/* The source's outcome: credentials, not set up (why appended to the list of what was tried), or failed (err). */
typedef enum source_result { SOURCE_FOUND, SOURCE_ABSENT, SOURCE_FAILED } source_result;

/*
 * One source of the chain: its credentials into *out (SOURCE_FOUND), or
 * why it is not set up appended to tried (SOURCE_ABSENT: "; NAME: why"
 * for every source but the first), or why it failed into err
 * (SOURCE_FAILED).
 */
typedef source_result (*source_fetch)(dr_aws_credentials *out, dr_strbuf *tried, dr_error *err);

/* The environment variable name; NULL when it is unset or empty. */
const char *dr_aws_env(const char *name);

/* 1 when s is min to max characters, each one allowed says yes to. */
int dr_aws_all_chars(const char *s, size_t min, size_t max, int (*allowed)(int));
/* The character tests for dr_aws_all_chars: printable ASCII but a space; an ASCII letter or digit. */
int dr_aws_printable_no_space(int c);
int dr_aws_letter_or_digit(int c);

/* Copies of the three strings into out; 0 when memory ran out (out then empty). */
int dr_aws_credentials_set(dr_aws_credentials *out, const char *key_id, const char *secret, const char *token);

/*
 * STS's or IMDS's keys, checked (dr_aws_credentials_valid, expiration by
 * dr_aws_parse_time), into out, its source set to source; what is wrong
 * with them is named after service.  DR_ERR_FETCH, DR_ERR_NOMEM.
 */
dr_status dr_aws_temporary_credentials_set(dr_aws_credentials *out, const char *source, const char *service,
                                           const char *key_id, const char *secret, const char *token,
                                           const char *expiration, dr_error *err);

#endif
