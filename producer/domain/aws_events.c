#include "aws_events.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_credentials.h"
#include "names.h"

#define TEMPLATES_MAX 1000
#define TEMPLATES_FILE_MAX_BYTES (1024 * 1024)
#define TEMPLATE_LIST_MAX 100 /* accounts, regions, tags of one template */

/* ---- events ---- */

/* detail.KEY as a string, or NULL. */
static const char *string_at(json_t *object, const char *key)
{
    json_t *v = json_object_get(object, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* i- then 8 or 17 lowercase hex digits, as EC2 writes them (checked as 8 to 17). */
static int is_instance_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 10 || n > 19 || strncmp(s, "i-", 2) != 0)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && (s[i] < 'a' || s[i] > 'f'))
            return 0;
    return 1;
}

static int is_account(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return n == 12;
}

/* eu-west-1, us-gov-east-1, ap-southeast-4: lowercase words joined by '-', ending in a number. */
static int is_region(const char *s)
{
    size_t n = strlen(s), dashes = 0;
    if (n < 4 || n > 25 || !islower((unsigned char)s[0]) || !isdigit((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-') {
            if (s[i + 1] == '-' || s[i + 1] == '\0')
                return 0;
            dashes++;
        } else if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
            return 0;
    }
    return dashes >= 2;
}

/* Auto Scaling group names: 1-255 printable characters (AWS allows more; more is refused here). */
static int is_group(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (!isprint((unsigned char)s[i]))
            return 0;
    return n >= 1 && n <= 255;
}

static dr_status parse_tags(json_t *tags, dr_aws_event *out, dr_error *err)
{
    if (!tags)
        return DR_OK;
    if (!json_is_object(tags))
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "detail.tags is not an object of strings");
    if (json_object_size(tags) > DR_AWS_EVENT_TAGS_MAX)
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "detail.tags has %zu tags; at most %d are taken",
                            json_object_size(tags), DR_AWS_EVENT_TAGS_MAX);
    out->tags = calloc(json_object_size(tags) + 1, sizeof *out->tags);
    if (!out->tags)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    const char *key;
    json_t *value;
    json_object_foreach(tags, key, value)
    {
        if (!json_is_string(value))
            return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "detail.tags: a value is not a string");
        dr_error tag_err = {0};
        if (dr_check_tag_parts("detail.tags", key, json_string_value(value), &tag_err) != DR_OK)
            return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "%s", tag_err.detail);
        dr_aws_event_tag *t = &out->tags[out->tag_count++];
        snprintf(t->key, sizeof t->key, "%s", key);
        snprintf(t->value, sizeof t->value, "%s", json_string_value(value));
    }
    return DR_OK;
}

/* Copy a checked string field, or say which one is wrong. */
static dr_status take_field(char *dst, size_t size, const char *value, int (*valid)(const char *), const char *name,
                            dr_error *err)
{
    if (!value)
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "%s is missing (or not a string)", name);
    if (strlen(value) >= size || !valid(value))
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "%s \"%.64s\" is not one", name, value);
    snprintf(dst, size, "%s", value);
    return DR_OK;
}

static int is_state(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && s[i] != '-')
            return 0;
    return n >= 1 && n < 32;
}

static dr_status parse_detail(json_t *detail, dr_aws_event *out, dr_error *err)
{
    dr_status status;
    if (strcmp(out->detail_type, "EC2 Instance State-change Notification") == 0) {
        if ((status = take_field(out->instance_id, sizeof out->instance_id, string_at(detail, "instance-id"),
                                 is_instance_id, "detail.instance-id", err)) != DR_OK ||
            (status = take_field(out->state, sizeof out->state, string_at(detail, "state"), is_state, "detail.state",
                                 err)) != DR_OK)
            return status;
        out->kind = strcmp(out->state, "running") == 0      ? DR_AWS_EVENT_LAUNCHED
                    : strcmp(out->state, "terminated") == 0 ? DR_AWS_EVENT_TERMINATED
                                                            : DR_AWS_EVENT_IGNORED;
    } else {
        int launch = strcmp(out->detail_type, "EC2 Instance Launch Successful") == 0;
        if (!launch && strcmp(out->detail_type, "EC2 Instance Terminate Successful") != 0)
            return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE,
                                "detail-type \"%.64s\" is not an EC2 state change or an Auto Scaling launch or "
                                "termination",
                                out->detail_type);
        if ((status = take_field(out->instance_id, sizeof out->instance_id, string_at(detail, "EC2InstanceId"),
                                 is_instance_id, "detail.EC2InstanceId", err)) != DR_OK ||
            (status = take_field(out->group, sizeof out->group, string_at(detail, "AutoScalingGroupName"), is_group,
                                 "detail.AutoScalingGroupName", err)) != DR_OK)
            return status;
        out->kind = launch ? DR_AWS_EVENT_LAUNCHED : DR_AWS_EVENT_TERMINATED;
    }
    return parse_tags(json_object_get(detail, "tags"), out, err);
}

static int is_detail_type(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!isprint((unsigned char)*p))
            return 0;
    return 1;
}

static int is_event_id(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            return 0;
    return 1;
}

dr_status dr_aws_event_parse(const void *bytes, size_t len, dr_aws_event *out, dr_error *err)
{
    memset(out, 0, sizeof *out);
    if (!bytes || len == 0)
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "an empty message");
    if (len > DR_AWS_EVENT_MAX_BYTES)
        return dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "%zu bytes; an event is at most %d", len,
                            DR_AWS_EVENT_MAX_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &jerr);
    dr_status status = DR_OK;
    if (!root || !json_is_object(root)) {
        status = dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "not a JSON object%s%s", root ? "" : ": ",
                              root ? "" : jerr.text);
        goto cleanup;
    }
    const char *source = string_at(root, "source");
    if ((status = take_field(out->detail_type, sizeof out->detail_type, string_at(root, "detail-type"), is_detail_type,
                             "detail-type", err)) != DR_OK)
        goto cleanup;
    if (!source || (strcmp(source, "aws.ec2") != 0 && strcmp(source, "aws.autoscaling") != 0)) {
        status = dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "source \"%.64s\" is not aws.ec2 or aws.autoscaling",
                              source ? source : "");
        goto cleanup;
    }
    const char *id = string_at(root, "id");
    if (id && strlen(id) < sizeof out->id && is_event_id(id))
        snprintf(out->id, sizeof out->id, "%s", id);
    if ((status = take_field(out->account, sizeof out->account, string_at(root, "account"), is_account, "account",
                             err)) != DR_OK ||
        (status = take_field(out->region, sizeof out->region, string_at(root, "region"), is_region, "region", err)) !=
            DR_OK)
        goto cleanup;
    const char *when = string_at(root, "time");
    time_t when_s = 0;
    if (when && !dr_aws_parse_time(when, &when_s)) {
        status = dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "time \"%.40s\" is not yyyy-mm-ddThh:mm:ssZ", when);
        goto cleanup;
    }
    out->time_ms = (int64_t)when_s * 1000;
    json_t *detail = json_object_get(root, "detail");
    if (!json_is_object(detail)) {
        status = dr_error_set(err, DR_ERR_MALFORMED_MESSAGE, "detail is missing (or not an object)");
        goto cleanup;
    }
    status = parse_detail(detail, out, err);
cleanup:
    if (status != DR_OK)
        dr_aws_event_free(out);
    json_decref(root);
    return status;
}

void dr_aws_event_free(dr_aws_event *e)
{
    free(e->tags);
    e->tags = NULL;
    e->tag_count = 0;
}

/* ---- templates ---- */

typedef struct template
{
    char *name;
    char *group; /* NULL: any */
    char **accounts, **regions;
    size_t account_count, region_count;
    char **event_tags; /* KEY=VALUE */
    size_t event_tag_count;
    char *platform, *platform_version, *arch, *executor;
    char **tags; /* KEY=VALUE */
    size_t tag_count;
}
template;

struct dr_target_templates {
    template *items;
    size_t count;
};

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

static void free_template(template *t)
{
    free(t->name);
    free(t->group);
    free_list(t->accounts, t->account_count);
    free_list(t->regions, t->region_count);
    free_list(t->event_tags, t->event_tag_count);
    free(t->platform);
    free(t->platform_version);
    free(t->arch);
    free(t->executor);
    free_list(t->tags, t->tag_count);
}

void dr_target_templates_free(dr_target_templates *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->count; i++)
        free_template(&t->items[i]);
    free(t->items);
    free(t);
}

size_t dr_target_templates_count(const dr_target_templates *t)
{
    return t ? t->count : 0;
}

/* An optional string member, copied. */
static dr_status copy_string(json_t *obj, const char *key, char **out, const char *where, dr_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return DR_OK;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 255)
        return dr_error_set(err, DR_ERR_USAGE, "%s: %s is not a string of 1-255 characters", where, key);
    if (!(*out = strdup(json_string_value(v))))
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    return DR_OK;
}

/* ["a", "b"], each checked by valid. */
static dr_status copy_list(json_t *obj, const char *key, int (*valid)(const char *), char ***out, size_t *count,
                           const char *where, dr_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return DR_OK;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > TEMPLATE_LIST_MAX)
        return dr_error_set(err, DR_ERR_USAGE, "%s: %s is not a list of 1-%d strings", where, key, TEMPLATE_LIST_MAX);
    if (!(*out = calloc(json_array_size(v), sizeof **out)))
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) || !valid(json_string_value(item)))
            return dr_error_set(err, DR_ERR_USAGE, "%s: %s[%zu] is not one", where, key, i);
        if (!((*out)[(*count)++] = strdup(json_string_value(item))))
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    }
    return DR_OK;
}

/* {"K": "V"} as KEY=VALUE strings, checked as tags are. */
static dr_status copy_tags(json_t *obj, const char *key, char ***out, size_t *count, const char *where, dr_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return DR_OK;
    if (!json_is_object(v) || json_object_size(v) > TEMPLATE_LIST_MAX)
        return dr_error_set(err, DR_ERR_USAGE, "%s: %s is not an object of at most %d strings", where, key,
                            TEMPLATE_LIST_MAX);
    if (!(*out = calloc(json_object_size(v) + 1, sizeof **out)))
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    const char *k;
    json_t *value;
    json_object_foreach(v, k, value)
    {
        char what[300];
        snprintf(what, sizeof what, "%s: %s", where, key);
        if (!json_is_string(value))
            return dr_error_set(err, DR_ERR_USAGE, "%s: the value of %.128s is not a string", what, k);
        dr_status status = dr_check_tag_parts(what, k, json_string_value(value), err);
        if (status != DR_OK)
            return status;
        char *tag = NULL;
        if (asprintf(&tag, "%s=%s", k, json_string_value(value)) < 0)
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        (*out)[(*count)++] = tag;
    }
    return DR_OK;
}

static const char *const template_keys[] = {"name",     "auto_scaling_group", "accounts", "regions",  "event_tags",
                                            "platform", "platform_version",   "arch",     "executor", "tags"};

static dr_status check_keys(json_t *obj, const char *where, dr_error *err)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        (void)value;
        size_t i = 0;
        while (i < sizeof template_keys / sizeof template_keys[0] && strcmp(template_keys[i], key) != 0)
            i++;
        if (i == sizeof template_keys / sizeof template_keys[0])
            return dr_error_set(err, DR_ERR_USAGE, "%s: unknown key \"%.64s\"", where, key);
    }
    return DR_OK;
}

/* The target a template makes for an instance: what `target register` would make, checked the same way. */
static dr_status template_target(const template *t, const char *instance_id, const char *account, const char *region,
                                 dr_target_batch *batch, const char *where, dr_error *err)
{
    dr_target_fields fields = {.id = instance_id,
                               .account = account,
                               .region = region,
                               .platform = t->platform,
                               .platform_version = t->platform_version,
                               .arch = t->arch,
                               .executor = t->executor,
                               .tags = t->tags,
                               .tag_count = t->tag_count};
    return dr_target_batch_add(batch, &fields, where, err);
}

static dr_status read_template(json_t *obj, size_t index, template *t, dr_error *err)
{
    char where[300];
    snprintf(where, sizeof where, "template %zu", index + 1);
    if (!json_is_object(obj))
        return dr_error_set(err, DR_ERR_USAGE, "%s is not an object", where);
    dr_status status;
    if ((status = copy_string(obj, "name", &t->name, where, err)) != DR_OK)
        return status;
    if (!t->name || dr_check_id(where, t->name, err) != DR_OK)
        return dr_error_set(err, DR_ERR_USAGE, "%s: name is missing or not 1-128 of [A-Za-z0-9_.:-]", where);
    snprintf(where, sizeof where, "template %s", t->name);
    if ((status = check_keys(obj, where, err)) != DR_OK ||
        (status = copy_string(obj, "auto_scaling_group", &t->group, where, err)) != DR_OK ||
        (status = copy_list(obj, "accounts", is_account, &t->accounts, &t->account_count, where, err)) != DR_OK ||
        (status = copy_list(obj, "regions", is_region, &t->regions, &t->region_count, where, err)) != DR_OK ||
        (status = copy_tags(obj, "event_tags", &t->event_tags, &t->event_tag_count, where, err)) != DR_OK ||
        (status = copy_string(obj, "platform", &t->platform, where, err)) != DR_OK ||
        (status = copy_string(obj, "platform_version", &t->platform_version, where, err)) != DR_OK ||
        (status = copy_string(obj, "arch", &t->arch, where, err)) != DR_OK ||
        (status = copy_string(obj, "executor", &t->executor, where, err)) != DR_OK ||
        (status = copy_tags(obj, "tags", &t->tags, &t->tag_count, where, err)) != DR_OK)
        return status;
    if (t->group && !is_group(t->group))
        return dr_error_set(err, DR_ERR_USAGE, "%s: auto_scaling_group is not printable", where);
    if (!t->platform || !t->platform_version || !t->arch)
        return dr_error_set(err, DR_ERR_USAGE, "%s: platform, platform_version and arch are required", where);
    /* Its target fields checked now, on a made-up instance: a bad template is refused at start, not per event. */
    dr_target_batch probe = {0};
    status = template_target(t, "i-00000000", "000000000000", "xx-xxxx-0", &probe, where, err);
    dr_target_batch_free(&probe);
    return status;
}

dr_status dr_target_templates_load(const char *path, dr_target_templates **out, dr_error *err)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    dr_target_templates *t = calloc(1, sizeof *t);
    dr_status status = DR_OK;
    if (!t) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (!root) {
        status = dr_error_set(err, DR_ERR_USAGE, "target templates %s: %s (line %d)", path, jerr.text, jerr.line);
        goto cleanup;
    }
    json_t *list = json_object_get(root, "templates");
    if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > TEMPLATES_MAX) {
        status = dr_error_set(err, DR_ERR_USAGE, "target templates %s: expected {\"templates\": [1-%d templates]}",
                              path, TEMPLATES_MAX);
        goto cleanup;
    }
    if (!(t->items = calloc(json_array_size(list), sizeof *t->items))) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < json_array_size(list) && status == DR_OK; i++) {
        t->count++;
        status = read_template(json_array_get(list, i), i, &t->items[i], err);
        for (size_t j = 0; status == DR_OK && j < i; j++)
            if (strcmp(t->items[j].name, t->items[i].name) == 0)
                status = dr_error_set(err, DR_ERR_USAGE, "template %s: the name is used twice", t->items[i].name);
    }
    if (status != DR_OK)
        dr_error_wrap(err, "target templates %s", path);
cleanup:
    json_decref(root);
    if (status == DR_OK)
        *out = t;
    else
        dr_target_templates_free(t);
    return status;
}

static int in_list(char *const *list, size_t n, const char *value)
{
    if (n == 0)
        return 1; /* no condition */
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], value) == 0)
            return 1;
    return 0;
}

static int group_matches(const char *pattern, const char *group)
{
    if (!pattern)
        return 1;
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*')
        return group[0] && strncmp(pattern, group, n - 1) == 0;
    return strcmp(pattern, group) == 0;
}

static int event_has_tag(const dr_aws_event *e, const char *key_value)
{
    const char *eq = strchr(key_value, '=');
    size_t key_len = (size_t)(eq - key_value);
    for (size_t i = 0; i < e->tag_count; i++)
        if (strlen(e->tags[i].key) == key_len && strncmp(e->tags[i].key, key_value, key_len) == 0 &&
            strcmp(e->tags[i].value, eq + 1) == 0)
            return 1;
    return 0;
}

static int template_matches(const template *t, const dr_aws_event *e)
{
    if (!group_matches(t->group, e->group) || !in_list(t->accounts, t->account_count, e->account) ||
        !in_list(t->regions, t->region_count, e->region))
        return 0;
    for (size_t i = 0; i < t->event_tag_count; i++)
        if (!event_has_tag(e, t->event_tags[i]))
            return 0;
    return 1;
}

dr_status dr_aws_event_target(const dr_target_templates *t, const dr_aws_event *e, dr_target_batch *batch,
                              const char **template_name, dr_error *err)
{
    *template_name = NULL;
    for (size_t i = 0; t && i < t->count; i++) {
        if (!template_matches(&t->items[i], e))
            continue;
        *template_name = t->items[i].name;
        char where[300];
        snprintf(where, sizeof where, "template %s", t->items[i].name);
        return template_target(&t->items[i], e->instance_id, e->account, e->region, batch, where, err);
    }
    return dr_error_set(err, DR_ERR_NOT_ALLOWED,
                        "no target template matches instance %s (account %s, region %s, auto scaling group \"%s\", "
                        "%zu tag%s); nothing registered",
                        e->instance_id, e->account, e->region, e->group, e->tag_count, e->tag_count == 1 ? "" : "s");
}

dr_status dr_aws_event_admitted(const dr_target_templates *t, const dr_aws_event *e, const char **template_name,
                                dr_error *err)
{
    *template_name = NULL;
    for (size_t i = 0; t && i < t->count; i++)
        if (in_list(t->items[i].accounts, t->items[i].account_count, e->account) &&
            in_list(t->items[i].regions, t->items[i].region_count, e->region)) {
            *template_name = t->items[i].name;
            return DR_OK;
        }
    return dr_error_set(err, DR_ERR_NOT_ALLOWED,
                        "no target template admits account %s in region %s; instance %s not removed", e->account,
                        e->region, e->instance_id);
}
