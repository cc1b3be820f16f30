#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    const char *message;
} status_table[DR_STATUS_COUNT] = {
    [DR_OK] = {"ok", "success"},
    [DR_ERR_NOMEM] = {"nomem", "out of memory"},
    [DR_ERR_IO] = {"io", "a local file operation failed"},
    [DR_ERR_USAGE] = {"usage", "invalid command line, setting or argument"},
    [DR_ERR_MANIFEST] = {"manifest", "the package manifest is malformed"},
    [DR_ERR_NO_PLATFORM_MATCH] = {"no-platform-match", "the manifest has no file for this platform"},
    [DR_ERR_CHECKSUM] = {"checksum", "content does not match its SHA-256 checksum"},
    [DR_ERR_FETCH] = {"fetch", "the download failed"},
    [DR_ERR_FETCH_NOT_FOUND] = {"fetch-not-found", "the URL does not exist on the server"},
    [DR_ERR_FETCH_TIMEOUT] = {"fetch-timeout", "the download stalled or passed its time limit"},
    [DR_ERR_FETCH_TOO_LARGE] = {"fetch-too-large", "the download passed its size limit"},
    [DR_ERR_FETCH_REFUSED] = {"fetch-refused", "the URL is outside what this worker may fetch"},
    [DR_ERR_ARCHIVE] = {"archive", "the zip archive is corrupt or truncated"},
    [DR_ERR_ARCHIVE_UNSAFE] = {"archive-unsafe", "a zip entry would land outside its destination"},
    [DR_ERR_ARCHIVE_LIMIT] = {"archive-limit", "the zip archive expands past its limits"},
    [DR_ERR_PACKAGE_LAYOUT] = {"package-layout", "the package zip does not have the required scripts"},
    [DR_ERR_SCRIPT_FAILED] = {"script-failed", "a lifecycle script failed"},
    [DR_ERR_SCRIPT_TIMEOUT] = {"script-timeout", "a lifecycle script passed its timeout and was killed"},
    [DR_ERR_STATE] = {"state", "the installed-state record is unreadable"},
    [DR_ERR_LOCKED] = {"locked", "another job holds the target lock"},
    [DR_ERR_VERSION_MISMATCH] = {"version-mismatch", "the requested version is not the one expected"},
    [DR_ERR_MALFORMED_MESSAGE] = {"malformed", "a message could not be decoded"},
    [DR_ERR_SIGNATURE] = {"signature", "a signature did not verify"},
    [DR_ERR_KAFKA] = {"kafka", "the Kafka client reported an error"},
    [DR_ERR_CANCELLED] = {"cancelled", "the deployment was cancelled before the job started"},
    [DR_ERR_ERROR_LIMIT] = {"max-errors", "the deployment passed its max errors before the job was released"},
    [DR_ERR_DEADLINE] = {"deadline", "the job's deadline passed before it started"},
    [DR_ERR_UNKNOWN_TARGET] = {"unknown-target", "the target is not in the inventory"},
    [DR_ERR_UNREACHABLE] = {"unreachable", "the target could not be reached"},
    [DR_ERR_UNSIGNED] = {"unsigned", "the request carries no operator signature"},
    [DR_ERR_UNKNOWN_OPERATOR] = {"unknown-operator", "the request is signed by a key no operator has"},
    [DR_ERR_EXPIRED] = {"expired", "the request is older than the control plane accepts"},
    [DR_ERR_REPLAYED] = {"replayed", "the request was seen before"},
    [DR_ERR_NOT_ALLOWED] = {"not-allowed", "the policy does not allow this request"},
    [DR_ERR_REQUEST_SIGNATURE] = {"request-signature", "the request's operator signature did not verify"},
    [DR_ERR_INTERNAL] = {"internal", "internal error"},
};

const char *dr_status_name(dr_status status)
{
    if (status < 0 || status >= DR_STATUS_COUNT || !status_table[status].name)
        return "unknown";
    return status_table[status].name;
}

const char *dr_status_message(dr_status status)
{
    if (status < 0 || status >= DR_STATUS_COUNT || !status_table[status].message)
        return "unknown error";
    return status_table[status].message;
}

dr_status dr_error_set(dr_error *err, dr_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
    return status;
}

dr_status dr_error_wrap(dr_error *err, const char *fmt, ...)
{
    if (!err)
        return DR_ERR_INTERNAL;
    char prefix[DR_ERROR_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Build "prefix: old" in place: shift the old detail right, then copy the prefix in. */
    size_t prefix_len = strlen(prefix);
    size_t old_len = strlen(err->detail);
    size_t room = sizeof err->detail - 1;
    if (prefix_len + 2 > room)
        prefix_len = room - 2;
    if (prefix_len + 2 + old_len > room)
        old_len = room - prefix_len - 2;
    memmove(err->detail + prefix_len + 2, err->detail, old_len);
    memcpy(err->detail, prefix, prefix_len);
    err->detail[prefix_len] = ':';
    err->detail[prefix_len + 1] = ' ';
    err->detail[prefix_len + 2 + old_len] = '\0';
    return err->status;
}

void dr_error_clear(dr_error *err)
{
    if (!err)
        return;
    err->status = DR_OK;
    err->detail[0] = '\0';
}

int dr_status_is_request_refusal(dr_status status)
{
    return status == DR_ERR_UNSIGNED || status == DR_ERR_UNKNOWN_OPERATOR || status == DR_ERR_REQUEST_SIGNATURE ||
           status == DR_ERR_EXPIRED || status == DR_ERR_REPLAYED || status == DR_ERR_NOT_ALLOWED;
}

dr_status dr_status_from_name(const char *name)
{
    for (int s = 1; name && s < DR_STATUS_COUNT; s++)
        if (status_table[s].name && strcmp(status_table[s].name, name) == 0)
            return (dr_status)s;
    return DR_ERR_INTERNAL;
}
