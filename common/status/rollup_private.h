/*
 * rollup_private.h - the rollup table's insides, for the files of this
 * library that keep it (rollup.c folds and reads, rollup_checkpoint.c
 * writes and restores checkpoints).  Nothing outside common/status
 * includes it.
 */
#ifndef DROVER_ROLLUP_PRIVATE_H
#define DROVER_ROLLUP_PRIVATE_H

#include "rollup.h"
#include "strmap.h"

/* s, or "" for NULL (protobuf-c leaves unset strings NULL at times). */
static inline const char *dr_rollup_or_empty(const char *s)
{
    return s ? s : "";
}

/* A copy of s (NULL: "") cut to at most max bytes, never inside a UTF-8 sequence; NULL when out of memory. */
char *dr_rollup_dup_cut(const char *s, size_t max);

struct dr_rollup_deployment {
    char *id;
    char *package;
    char *version;
    int32_t partition;
    Drover__V1__DeploymentStatus status;
    uint64_t total;
    uint64_t counts[DR_ROLLUP_STATE_SLOTS];
    int64_t started_at_ms;
    int64_t updated_at_ms;
    int64_t finished_at_ms;
    char *max_errors;        /* as the PENDING events give it; "" unknown */
    uint64_t errors;         /* jobs whose state counts against max errors */
    uint64_t user_cancelled; /* jobs CANCELLED because someone cancelled the deployment */
    uint64_t refused;        /* jobs REJECTED because the control plane refused the request */
    uint64_t expected;       /* jobs the deployment has, as its events say; 0 unknown */
    dr_strmap *jobs;         /* job id -> dr_rollup_job */
    dr_strmap *locations;    /* account US region -> dr_rollup_location */
    int changed;             /* on the table's changed list */
    dr_rollup_deployment *next_changed;
};

struct dr_rollup_table {
    dr_strmap *deployments; /* id -> dr_rollup_deployment */
    dr_rollup_deployment *changed_head;
    dr_strmap *expired;  /* ids of deployments expired lately -> marker: their late events are ignored */
    char **expired_ring; /* the same ids, oldest first from expired_next, to forget the oldest */
    size_t expired_next; /* where the next expired id goes in the ring */
};

#endif
