/*
 * error.h - the one error type every Drover module returns.
 *
 * A function that can fail returns a dr_status and, when the caller passes a
 * dr_error, fills in a detail sentence that names the thing that went wrong
 * ("sha256 mismatch for agent.zip: want 3f.., got 9a..").  Errors are
 * returned, never printed deep inside a module: the caller decides whether it
 * becomes a log line, a status event or a process exit code.
 *
 * dr_status_name() is a short stable token ("checksum") that status events and
 * tests match on; dr_status_message() is a sentence for people.
 */
#ifndef DROVER_ERROR_H
#define DROVER_ERROR_H

#include <stddef.h>

/* Keep in step with the table in error.c: one name and one sentence each. */
typedef enum dr_status {
    DR_OK = 0,
    DR_ERR_NOMEM,             /* out of memory */
    DR_ERR_IO,                /* a local file operation failed */
    DR_ERR_USAGE,             /* bad command line, setting or argument */
    DR_ERR_MANIFEST,          /* manifest is malformed or violates the format */
    DR_ERR_NO_PLATFORM_MATCH, /* manifest has no file for this platform/arch */
    DR_ERR_CHECKSUM,          /* content does not match its SHA-256 */
    DR_ERR_FETCH,             /* download failed (network, server error) */
    DR_ERR_FETCH_NOT_FOUND,   /* server said the URL does not exist */
    DR_ERR_FETCH_TIMEOUT,     /* download stalled or passed its time limit */
    DR_ERR_FETCH_TOO_LARGE,   /* download passed its size limit */
    DR_ERR_FETCH_REFUSED,     /* the URL is outside what this process may fetch (fetch_policy.h) */
    DR_ERR_ARCHIVE,           /* zip is corrupt or truncated */
    DR_ERR_ARCHIVE_UNSAFE,    /* zip entry would land outside its destination */
    DR_ERR_ARCHIVE_LIMIT,     /* zip expands past the entry or size limit */
    DR_ERR_PACKAGE_LAYOUT,    /* zip lacks install.sh/uninstall.sh, or mixes kinds */
    DR_ERR_SCRIPT_FAILED,     /* a lifecycle script exited non-zero */
    DR_ERR_SCRIPT_TIMEOUT,    /* a lifecycle script passed its timeout */
    DR_ERR_STATE,             /* the installed-state record is unreadable */
    DR_ERR_LOCKED,            /* another job holds the target lock */
    DR_ERR_VERSION_MISMATCH,  /* asked version is not the one installed/published */
    DR_ERR_MALFORMED_MESSAGE, /* a Kafka message could not be decoded */
    DR_ERR_SIGNATURE,         /* a signature did not verify */
    DR_ERR_KAFKA,             /* the Kafka client reported an error */
    DR_ERR_CANCELLED,         /* the deployment was cancelled before the job started */
    DR_ERR_ERROR_LIMIT,       /* the deployment passed its max errors before the job was released */
    DR_ERR_DEADLINE,          /* the job's deadline passed before it started */
    DR_ERR_UNKNOWN_TARGET,    /* the target left the inventory before its job was released */
    DR_ERR_UNREACHABLE,       /* a remote target could not be reached (ssh) */
    DR_ERR_UNSIGNED,          /* a request carries no operator signature */
    DR_ERR_UNKNOWN_OPERATOR,  /* a request is signed by a key no operator of the policy has */
    DR_ERR_EXPIRED,           /* a request is older than the control plane accepts */
    DR_ERR_REPLAYED,          /* a request id was seen before */
    DR_ERR_NOT_ALLOWED,       /* the policy does not let the operator do this */
    DR_ERR_REQUEST_SIGNATURE, /* a request's operator signature did not verify */
    DR_ERR_INTERNAL,          /* a bug: an invariant did not hold */
    DR_STATUS_COUNT
} dr_status;

#define DR_ERROR_DETAIL_MAX 1024

typedef struct dr_error {
    dr_status status;
    char detail[DR_ERROR_DETAIL_MAX];
} dr_error;

/*
 * 1 for the statuses the control plane refuses a request with (unsigned,
 * unknown-operator, request-signature, expired, replayed, not-allowed):
 * a deployment whose jobs all end REJECTED with one of them is REJECTED.
 */
int dr_status_is_request_refusal(dr_status status);
/* The status whose token (dr_status_name) is name; DR_ERR_INTERNAL when none is. */
dr_status dr_status_from_name(const char *name);

/* Short stable token for a status, e.g. "checksum". Never NULL. */
const char *dr_status_name(dr_status status);

/* One sentence describing a status for people. Never NULL. */
const char *dr_status_message(dr_status status);

/*
 * Record status and a printf-style detail in err (which may be NULL) and
 * return status, so a failing path reads: return dr_error_set(err, ...);
 */
dr_status dr_error_set(dr_error *err, dr_status status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefix the existing detail with more context: "fetching x: <old detail>". */
dr_status dr_error_wrap(dr_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void dr_error_clear(dr_error *err);

#endif
