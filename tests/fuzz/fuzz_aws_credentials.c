/*
 * The AWS credential parsers on hostile answers: the first byte picks the
 * parser (STS's XML, STS's error code, IMDS's JSON, a shared file), the rest
 * is the answer.  Whatever a parser accepts must be keys AWS could have
 * issued (dr_aws_credentials_valid), so nothing else reaches a request
 * header; an error code is letters and digits only.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_credentials.h"
#include "aws_imds.h"
#include "aws_sts.h"

static void check_accepted(const dr_aws_credentials *creds)
{
    if (!dr_aws_credentials_valid(creds->access_key_id, creds->secret_access_key, creds->session_token) ||
        !creds->session_token || creds->expiration <= 0)
        abort();
}

static void fuzz_ini(const char *text)
{
    char *value = NULL;
    if (dr_aws_ini_value(text, "profile deploy", "aws_secret_access_key", &value, NULL) != DR_OK)
        abort();
    /* A value is one trimmed line: never a line break, never leading or trailing space. */
    if (value && (strchr(value, '\n') ||
                  (value[0] && (isspace((unsigned char)value[0]) || isspace((unsigned char)value[strlen(value) - 1])))))
        abort();
    free(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* The parsers take a length, but the INI one a C string: a NUL-terminated copy serves both. */
    char *text = malloc(size);
    if (!text)
        abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    dr_aws_credentials creds;
    char code[65];
    switch (data[0] % 4) {
    case 0:
        if (dr_aws_parse_sts_response(text, size - 1, &creds, NULL) == DR_OK)
            check_accepted(&creds);
        dr_aws_credentials_free(&creds);
        break;
    case 1:
        dr_aws_sts_error_code(text, size - 1, code, sizeof code);
        for (const char *p = code; *p; p++)
            if (!isalnum((unsigned char)*p))
                abort();
        break;
    case 2:
        if (dr_aws_parse_imds_credentials(text, size - 1, &creds, NULL) == DR_OK)
            check_accepted(&creds);
        dr_aws_credentials_free(&creds);
        break;
    default:
        fuzz_ini(text);
    }
    free(text);
    return 0;
}
