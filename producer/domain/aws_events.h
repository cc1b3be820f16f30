/*
 * AWS launch events as EventBridge delivers them (JSON, one event a
 * message), and the target templates that complete them.
 *
 * An event names an instance, its account and region, and (from Auto
 * Scaling) its group; it does not say what the instance runs.  The
 * operator's templates do: the first template whose conditions the event
 * meets gives the platform, version, arch, executor and tags.  An event no
 * template matches is refused, never registered half-described.
 *
 * Understood (anything else is DR_ERR_MALFORMED_MESSAGE, with the reason):
 *   "EC2 Instance State-change Notification"  detail.instance-id, detail.state:
 *       running -> launched, terminated -> terminated, any other state -> ignored
 *   "EC2 Instance Launch Successful"          detail.EC2InstanceId, detail.AutoScalingGroupName -> launched
 *   "EC2 Instance Terminate Successful"       detail.EC2InstanceId, detail.AutoScalingGroupName -> terminated
 * An event may carry the instance's tags as detail.tags, an object of
 * strings (an EventBridge input transformer can add them): templates can
 * match on them.  Every field is checked as the CLI checks it: instance ids
 * (i- and 8 to 17 hex digits), 12-digit accounts, region names.
 *
 * Templates file (JSON):
 *   {"templates": [{"name": "web",
 *                   "auto_scaling_group": "web-*",      (optional; exact, or a prefix ending in *)
 *                   "accounts": ["111111111111"],        (optional; any when absent)
 *                   "regions": ["eu-west-1"],            (optional)
 *                   "event_tags": {"Role": "web"},       (optional; all must be on the event)
 *                   "platform": "ubuntu", "platform_version": "22.04", "arch": "x86_64",
 *                   "executor": "agent",                 (optional)
 *                   "tags": {"Role": "web"}}]}           (optional; the target's tags)
 * Unknown keys are refused (a misspelt condition would match everything).
 */
#ifndef DROVER_AWS_EVENTS_H
#define DROVER_AWS_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "targets.h"

/* Bounds on what an event may bring. */
#define DR_AWS_EVENT_MAX_BYTES (256 * 1024)
#define DR_AWS_EVENT_TAGS_MAX 50

typedef enum dr_aws_event_kind {
    DR_AWS_EVENT_IGNORED = 0, /* understood, and nothing to do (an instance stopping, say) */
    DR_AWS_EVENT_LAUNCHED,
    DR_AWS_EVENT_TERMINATED,
} dr_aws_event_kind;

typedef struct dr_aws_event_tag {
    char key[129];
    char value[257];
} dr_aws_event_tag;

typedef struct dr_aws_event {
    dr_aws_event_kind kind;
    char detail_type[64];
    char id[128];           /* EventBridge's event id, for logs */
    char instance_id[24];   /* i-0123456789abcdef0 */
    char account[16];       /* 12 digits */
    char region[32];        /* eu-west-1 */
    char group[256];        /* the Auto Scaling group; "" when the event names none */
    char state[32];         /* a state change's new state; "" otherwise */
    int64_t time_ms;        /* the event's "time"; 0 when absent */
    dr_aws_event_tag *tags; /* detail.tags; owned, free with dr_aws_event_free */
    size_t tag_count;
} dr_aws_event;

/* Parse one event.  DR_ERR_MALFORMED_MESSAGE, saying which field, when it is not one of those above. */
dr_status dr_aws_event_parse(const void *bytes, size_t len, dr_aws_event *out, dr_error *err);
void dr_aws_event_free(dr_aws_event *e);

typedef struct dr_target_templates dr_target_templates;

/* Read and check a templates file (each template's target fields checked as `target register` checks them). */
dr_status dr_target_templates_load(const char *path, dr_target_templates **out, dr_error *err);
void dr_target_templates_free(dr_target_templates *t);
size_t dr_target_templates_count(const dr_target_templates *t);

/*
 * The target the event describes, completed by the first template it
 * matches, appended to batch (as dr_target_batch_add); *template_name is
 * that template's (owned by t).  DR_ERR_NOT_ALLOWED when no template
 * matches, saying what the event offered.
 */
dr_status dr_aws_event_target(const dr_target_templates *t, const dr_aws_event *e, dr_target_batch *batch,
                              const char **template_name, dr_error *err);

/*
 * Whether a termination is admitted: some template's accounts and regions
 * admit the event (its group and tags are not asked: EC2's own state
 * changes carry neither, and removing needs no description).  *template_name
 * as above.  DR_ERR_NOT_ALLOWED when none does.
 */
dr_status dr_aws_event_admitted(const dr_target_templates *t, const dr_aws_event *e, const char **template_name,
                                dr_error *err);

#endif
