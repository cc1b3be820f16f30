/*
 * AWS events (aws_events.h) on hostile bytes: the aws-events topic is
 * written by whatever delivers EventBridge's events, and anyone else who
 * can write it.  Every event accepted must hold only checked fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dr_aws_event e;
    dr_error err = {0};
    if (dr_aws_event_parse(data, size, &e, &err) != DR_OK)
        return 0;
    /* What a TargetEvent and a log line are made of: bounded, and an instance id the CLI would accept. */
    if (strncmp(e.instance_id, "i-", 2) != 0 || strlen(e.account) != 12 || strchr(e.region, '/') ||
        e.tag_count > DR_AWS_EVENT_TAGS_MAX)
        abort();
    dr_aws_event_free(&e);
    return 0;
}
