/* AWS launch events in EventBridge's shape, and the target templates that complete them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws_events.h"
#include "check.h"
#include "messages.h"

/* AWS's documented examples, as EventBridge delivers them. */
static const char state_change[] =
    "{\"version\":\"0\",\"id\":\"7bf73129-1428-4cd3-a780-95db273d1602\","
    "\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\","
    "\"account\":\"123456789012\",\"time\":\"2015-11-11T21:29:54Z\",\"region\":\"us-east-1\","
    "\"resources\":[\"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111\"],"
    "\"detail\":{\"instance-id\":\"i-abcd1111\",\"state\":\"%s\"}}";
static const char asg_launch[] =
    "{\"version\":\"0\",\"id\":\"3e3c153a-8339-4e30-8c35-687ebef853fe\","
    "\"detail-type\":\"EC2 Instance Launch Successful\",\"source\":\"aws.autoscaling\","
    "\"account\":\"123456789012\",\"time\":\"2015-11-11T21:31:47Z\",\"region\":\"us-west-2\","
    "\"resources\":[],\"detail\":{\"StatusCode\":\"InProgress\",\"AutoScalingGroupName\":\"web-asg-1\","
    "\"ActivityId\":\"87654321-4321-4321-4321-210987654321\",\"Details\":{\"Availability Zone\":\"us-west-2b\","
    "\"Subnet ID\":\"subnet-12345678\"},\"RequestId\":\"12345678-1234-1234-1234-123456789012\","
    "\"EndTime\":\"2015-11-11T21:31:47.208Z\",\"EC2InstanceId\":\"i-0123456789abcdef0\","
    "\"StartTime\":\"2015-11-11T21:31:13.671Z\",\"Cause\":\"At 2015-11-11T21:31:10Z a user request ...\"}}";
static const char asg_terminate[] =
    "{\"version\":\"0\",\"id\":\"1-2-3\",\"detail-type\":\"EC2 Instance Terminate Successful\","
    "\"source\":\"aws.autoscaling\",\"account\":\"123456789012\",\"time\":\"2015-11-11T21:35:00Z\","
    "\"region\":\"us-west-2\",\"resources\":[],\"detail\":{\"AutoScalingGroupName\":\"web-asg-1\","
    "\"EC2InstanceId\":\"i-0123456789abcdef0\"}}";

static dr_status parse(const char *text, dr_aws_event *e, dr_error *err)
{
    return dr_aws_event_parse(text, strlen(text), e, err);
}

static void refused(const char *text, const char *says)
{
    dr_aws_event e;
    dr_error err = {0};
    CHECK_INT(DR_ERR_MALFORMED_MESSAGE, parse(text, &e, &err));
    CHECK(strstr(err.detail, says) != NULL);
    if (!strstr(err.detail, says))
        fprintf(stderr, "  '%.80s' said: %s\n", text, err.detail);
    CHECK(e.tags == NULL);
}

static void test_events(void)
{
    char text[2048];
    dr_aws_event e;
    dr_error err = {0};
    snprintf(text, sizeof text, state_change, "running");
    CHECK_INT(DR_OK, parse(text, &e, &err));
    CHECK_INT(DR_AWS_EVENT_LAUNCHED, e.kind);
    CHECK_STR("i-abcd1111", e.instance_id);
    CHECK_STR("123456789012", e.account);
    CHECK_STR("us-east-1", e.region);
    CHECK_STR("", e.group);
    CHECK_INT(1447277394000LL, e.time_ms);
    dr_aws_event_free(&e);
    snprintf(text, sizeof text, state_change, "terminated");
    CHECK_INT(DR_OK, parse(text, &e, &err));
    CHECK_INT(DR_AWS_EVENT_TERMINATED, e.kind);
    dr_aws_event_free(&e);
    snprintf(text, sizeof text, state_change, "stopping");
    CHECK_INT(DR_OK, parse(text, &e, &err));
    CHECK_INT(DR_AWS_EVENT_IGNORED, e.kind);
    dr_aws_event_free(&e);

    CHECK_INT(DR_OK, parse(asg_launch, &e, &err));
    CHECK_INT(DR_AWS_EVENT_LAUNCHED, e.kind);
    CHECK_STR("i-0123456789abcdef0", e.instance_id);
    CHECK_STR("web-asg-1", e.group);
    CHECK_STR("us-west-2", e.region);
    dr_aws_event_free(&e);
    CHECK_INT(DR_OK, parse(asg_terminate, &e, &err));
    CHECK_INT(DR_AWS_EVENT_TERMINATED, e.kind);
    dr_aws_event_free(&e);

    /* Tags an input transformer added. */
    snprintf(text, sizeof text,
             "{\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\","
             "\"account\":\"123456789012\",\"region\":\"eu-west-1\",\"detail\":{\"instance-id\":\"i-abcd1111\","
             "\"state\":\"running\",\"tags\":{\"Role\":\"db\",\"Env\":\"prod\"}}}");
    CHECK_INT(DR_OK, parse(text, &e, &err));
    CHECK_INT(2, e.tag_count);
    CHECK_INT(0, e.time_ms);
    dr_aws_event_free(&e);

    refused("", "empty");
    refused("garbage", "not a JSON object");
    refused("[1,2]", "not a JSON object");
    refused("{\"source\":\"aws.ec2\"}", "detail-type is missing");
    refused(
        "{\"detail-type\":\"AWS API Call via CloudTrail\",\"source\":\"aws.ec2\",\"account\":\"123456789012\","
        "\"region\":\"us-east-1\",\"detail\":{}}",
        "is not an EC2 state change");
    refused("{\"detail-type\":\"EC2 Instance Launch Successful\",\"source\":\"aws.s3\"}", "source \"aws.s3\"");
    refused(
        "{\"detail-type\":\"EC2 Instance Launch Successful\",\"source\":\"aws.autoscaling\",\"account\":\"12\","
        "\"region\":\"us-east-1\",\"detail\":{}}",
        "account \"12\"");
    refused(
        "{\"detail-type\":\"EC2 Instance Launch Successful\",\"source\":\"aws.autoscaling\","
        "\"account\":\"123456789012\",\"region\":\"../../etc\",\"detail\":{}}",
        "region");
    refused(
        "{\"detail-type\":\"EC2 Instance Launch Successful\",\"source\":\"aws.autoscaling\","
        "\"account\":\"123456789012\",\"region\":\"us-east-1\",\"detail\":{\"AutoScalingGroupName\":\"g\"}}",
        "detail.EC2InstanceId is missing");
    refused(
        "{\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\","
        "\"account\":\"123456789012\",\"region\":\"us-east-1\",\"detail\":{\"instance-id\":\"i-../x\","
        "\"state\":\"running\"}}",
        "detail.instance-id");
    refused(
        "{\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\","
        "\"account\":\"123456789012\",\"region\":\"us-east-1\",\"time\":\"yesterday\",\"detail\":{}}",
        "time \"yesterday\"");
    refused(
        "{\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\","
        "\"account\":\"123456789012\",\"region\":\"us-east-1\",\"detail\":{\"instance-id\":\"i-abcd1111\","
        "\"state\":\"running\",\"tags\":{\"a;b\":\"x\"}}}",
        "detail.tags");
    char *big = calloc(1, DR_AWS_EVENT_MAX_BYTES + 2);
    memset(big, ' ', DR_AWS_EVENT_MAX_BYTES + 1);
    refused(big, "at most");
    free(big);
}

static char *write_templates(const char *json)
{
    static char path[] = "/tmp/test_aws_events.XXXXXX";
    strcpy(path, "/tmp/test_aws_events.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, json, strlen(json)) != (ssize_t)strlen(json))
        return NULL;
    close(fd);
    return path;
}

static dr_status load(const char *json, dr_target_templates **t, dr_error *err)
{
    char *path = write_templates(json);
    dr_status status = dr_target_templates_load(path, t, err);
    unlink(path);
    return status;
}

static void template_refused(const char *json, const char *says)
{
    dr_target_templates *t = NULL;
    dr_error err = {0};
    CHECK_INT(DR_ERR_USAGE, load(json, &t, &err));
    CHECK(t == NULL);
    CHECK(strstr(err.detail, says) != NULL);
    if (!strstr(err.detail, says))
        fprintf(stderr, "  '%.80s' said: %s\n", json, err.detail);
}

static void test_templates(void)
{
    dr_target_templates *t = NULL;
    dr_error err = {0};
    CHECK_INT(DR_OK, load("{\"templates\":["
                          "{\"name\":\"web\",\"auto_scaling_group\":\"web-asg-*\",\"platform\":\"ubuntu\","
                          "\"platform_version\":\"22.04\",\"arch\":\"x86_64\",\"executor\":\"agent\","
                          "\"tags\":{\"Role\":\"web\"}},"
                          "{\"name\":\"db\",\"accounts\":[\"123456789012\"],\"regions\":[\"eu-west-1\"],"
                          "\"event_tags\":{\"Role\":\"db\"},\"platform\":\"amzn\",\"platform_version\":\"2023\","
                          "\"arch\":\"arm64\"}]}",
                          &t, &err));
    CHECK_INT(2, dr_target_templates_count(t));

    dr_aws_event e;
    dr_target_batch batch = {0};
    const char *name = NULL;
    CHECK_INT(DR_OK, parse(asg_launch, &e, &err));
    CHECK_INT(DR_OK, dr_aws_event_target(t, &e, &batch, &name, &err));
    CHECK_STR("web", name);
    CHECK_INT(1, batch.count);
    Drover__V1__Target *target = NULL;
    CHECK_INT(DR_OK, dr_target_decode(batch.items[0].bytes, batch.items[0].len, &target, &err));
    if (target) {
        CHECK_STR("i-0123456789abcdef0", target->target_id);
        CHECK_STR("123456789012", target->account);
        CHECK_STR("us-west-2", target->region);
        CHECK_STR("ubuntu", target->platform_name);
        CHECK_STR("agent", target->executor);
        CHECK_INT(1, target->n_tags);
        drover__v1__target__free_unpacked(target, NULL);
    }
    dr_target_batch_free(&batch);
    dr_aws_event_free(&e);

    /* The db template wants the tag on the event: without it nothing matches, and the reason names the instance. */
    char text[1024];
    const char *db_event =
        "{\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\","
        "\"account\":\"123456789012\",\"region\":\"eu-west-1\",\"detail\":{\"instance-id\":"
        "\"i-abcd1111\",\"state\":\"running\"%s}}";
    snprintf(text, sizeof text, db_event, "");
    CHECK_INT(DR_OK, parse(text, &e, &err));
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_aws_event_target(t, &e, &batch, &name, &err));
    CHECK(strstr(err.detail, "no target template matches instance i-abcd1111") != NULL);
    CHECK_INT(0, batch.count);
    dr_aws_event_free(&e);
    snprintf(text, sizeof text, db_event, ",\"tags\":{\"Role\":\"db\"}");
    CHECK_INT(DR_OK, parse(text, &e, &err));
    CHECK_INT(DR_OK, dr_aws_event_target(t, &e, &batch, &name, &err));
    CHECK_STR("db", name);
    dr_target_batch_free(&batch);
    dr_aws_event_free(&e);
    dr_target_templates_free(t);

    /* A termination asks only the accounts and regions: EC2's own state change names no group. */
    CHECK_INT(DR_OK, load("{\"templates\":[{\"name\":\"web\",\"auto_scaling_group\":\"web-*\","
                          "\"accounts\":[\"123456789012\"],\"platform\":\"ubuntu\",\"platform_version\":\"22.04\","
                          "\"arch\":\"x86_64\"}]}",
                          &t, &err));
    snprintf(text, sizeof text, state_change, "terminated");
    CHECK_INT(DR_OK, parse(text, &e, &err));
    CHECK_INT(DR_OK, dr_aws_event_admitted(t, &e, &name, &err));
    CHECK_STR("web", name);
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_aws_event_target(t, &e, &batch, &name, &err)); /* no group: not launched */
    snprintf(e.account, sizeof e.account, "999999999999");
    CHECK_INT(DR_ERR_NOT_ALLOWED, dr_aws_event_admitted(t, &e, &name, &err));
    CHECK(strstr(err.detail, "no target template admits account 999999999999") != NULL);
    dr_aws_event_free(&e);
    dr_target_templates_free(t);

    template_refused("{\"templates\":[]}", "expected {\"templates\"");
    template_refused("not json", "target templates");
    template_refused(
        "{\"templates\":[{\"name\":\"a\",\"platform\":\"ubuntu\",\"platform_version\":\"22.04\","
        "\"arch\":\"x86_64\",\"acounts\":[\"123456789012\"]}]}",
        "unknown key \"acounts\"");
    template_refused("{\"templates\":[{\"name\":\"a\",\"platform\":\"ubuntu\"}]}", "are required");
    template_refused(
        "{\"templates\":[{\"name\":\"a\",\"platform\":\"ubuntu\",\"platform_version\":\"22.04\","
        "\"arch\":\"x86_64\",\"accounts\":[\"abc\"]}]}",
        "accounts[0]");
    template_refused(
        "{\"templates\":[{\"name\":\"a/b\",\"platform\":\"ubuntu\",\"platform_version\":\"22.04\","
        "\"arch\":\"x86_64\"}]}",
        "name is missing or not");
    template_refused(
        "{\"templates\":[{\"name\":\"a\",\"platform\":\"ubuntu\",\"platform_version\":\"22.04\","
        "\"arch\":\"x86_64\"},{\"name\":\"a\",\"platform\":\"ubuntu\",\"platform_version\":\"22.04\","
        "\"arch\":\"x86_64\"}]}",
        "used twice");
    template_refused(
        "{\"templates\":[{\"name\":\"a\",\"platform\":\"ubuntu\",\"platform_version\":\"22.04\","
        "\"arch\":\"x86_64\",\"executor\":\"telnet\"}]}",
        "template a");
}

int main(void)
{
    test_events();
    test_templates();
    return check_done("test_aws_events");
}
