#include "associations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"
#include "log.h"
#include "messages.h"
#include "packages.h"
#include "publish.h"
#include "request_signing.h"
#include "schedule.h"
#include "selection.h"
#include "strmap.h"
#include "table.h"
#include "targets.h"

typedef struct owned_association {
    Drover__V1__Association *a; /* owned */
    char operator_name[128];    /* who signed it, as the authority named them */
    int32_t partition;
    int has_schedule;
    dr_schedule schedule;
    int64_t next_due_ms; /* 0: not computed since the last change */
} owned_association;

/* The latest request taken for an association id (kept across partition moves: replays are told by it). */
typedef struct latest_request {
    int64_t created_at_ms;
    char request_id[65];
} latest_request;

struct dr_associations {
    dr_associations_settings s;
    const dr_kafka_options *options;
    dr_kafka_producer *producer;
    int timeout_ms;
    dr_strmap *owned;    /* association id -> owned_association */
    dr_strmap *latest;   /* association id -> latest_request */
    dr_strmap *defaults; /* package name -> latest_request: the packages record whose default was last taken */
    int packages_dirty;
    Drover__V1__Target **launched; /* targets launched or re-tagged since the last tick (owned) */
    size_t launched_count;
};

static void free_owned(owned_association *o)
{
    if (!o)
        return;
    if (o->a)
        drover__v1__association__free_unpacked(o->a, NULL);
    free(o);
}

dr_associations *dr_associations_new(const dr_associations_settings *settings)
{
    dr_associations *as = calloc(1, sizeof *as);
    if (!as)
        return NULL;
    as->s = *settings;
    as->options = settings->options;
    as->producer = settings->producer;
    as->timeout_ms = settings->timeout_ms;
    as->packages_dirty = 1;
    as->owned = dr_strmap_new();
    as->latest = dr_strmap_new();
    as->defaults = dr_strmap_new();
    if (!as->owned || !as->latest || !as->defaults) {
        dr_associations_free(as);
        return NULL;
    }
    return as;
}

static int free_visit(void *ctx, const char *key, void *value)
{
    (void)ctx, (void)key;
    free_owned(value);
    return 0;
}

static void free_launched(dr_associations *as)
{
    for (size_t i = 0; i < as->launched_count; i++)
        drover__v1__target__free_unpacked(as->launched[i], NULL);
    free(as->launched);
    as->launched = NULL;
    as->launched_count = 0;
}

static int free_latest_visit(void *ctx, const char *key, void *value)
{
    (void)ctx, (void)key;
    free(value);
    return 0;
}

void dr_associations_free(dr_associations *as)
{
    if (!as)
        return;
    if (as->owned)
        dr_strmap_each(as->owned, free_visit, NULL);
    dr_strmap_free(as->owned);
    if (as->latest)
        dr_strmap_each(as->latest, free_latest_visit, NULL);
    dr_strmap_free(as->latest);
    if (as->defaults)
        dr_strmap_each(as->defaults, free_latest_visit, NULL);
    dr_strmap_free(as->defaults);
    free_launched(as);
    free(as);
}

/*
 * The rule for records of a compacted topic, of which a replica keeps the
 * latest request taken per key (map: key -> latest_request).  A decision
 * that allowed a signed request older than that one becomes a refusal,
 * replayed (what names the record in the message: "association a-1").
 * Returns 1 when the request is new to this replica (to be audited); an
 * allowed, signed, new request becomes the latest.
 */
static int take_latest(dr_strmap *map, const char *key, const char *what, dr_authority_decision *decision)
{
    latest_request *latest = dr_strmap_get(map, key);
    int is_signed = strcmp(decision->operator_name, DR_AUTHORITY_UNSIGNED) != 0;
    if (decision->allowed && is_signed && latest && decision->origin.created_at_ms < latest->created_at_ms) {
        decision->allowed = 0;
        decision->reason = DR_ERR_REPLAYED;
        snprintf(decision->rule, sizeof decision->rule, "not-replayed");
        snprintf(decision->message, sizeof decision->message,
                 "the request is older than %s's latest one taken (request %s): a copy written again", what,
                 latest->request_id);
    }
    int is_new = !latest || strcmp(latest->request_id, decision->origin.request_id) != 0;
    if (decision->allowed && is_signed && is_new) {
        if (!latest && (latest = calloc(1, sizeof *latest)) && dr_strmap_put(map, key, latest) != 0) {
            free(latest);
            latest = NULL;
        }
        if (latest) {
            latest->created_at_ms = decision->origin.created_at_ms;
            snprintf(latest->request_id, sizeof latest->request_id, "%s", decision->origin.request_id);
        }
    }
    return is_new;
}

/* The control plane's bookkeeping in an Association, which the operator's signature does not cover. */
static const uint32_t bookkeeping_fields[] = {16, 17, 18};

/*
 * The authority's decision on an association record, and whether it is
 * older than the latest request taken for its id (a replay).  Audited
 * when the request is new to this replica, or refused.
 */
static int association_allowed(dr_associations *as, const char *id, const Drover__V1__Association *a, const void *value,
                               size_t len, dr_authority_decision *decision)
{
    dr_request_action action = a->deleted ? DR_ACTION_ASSOCIATION_DELETE : DR_ACTION_ASSOCIATION_CREATE;
    dr_authority_request q = {.action = action,
                              .bytes = value,
                              .len = len,
                              .unsigned_fields = bookkeeping_fields,
                              .unsigned_field_count = sizeof bookkeeping_fields / sizeof bookkeeping_fields[0],
                              .package = a->deleted ? NULL : a->package};
    dr_authority_check(as->s.authority, &q, dr_now_ms(), decision);
    char what[300];
    snprintf(what, sizeof what, "association %s", id);
    if (take_latest(as->latest, id, what, decision) || !decision->allowed)
        dr_audit_log_write(as->s.audit, decision, action, id, a->deleted ? "delete" : a->package);
    return decision->allowed;
}

void dr_associations_take(dr_associations *as, const char *key, size_t key_len, const void *value, size_t len,
                          int32_t partition)
{
    char id[256];
    dr_error err = {0};
    if (key_len == 0 || key_len >= sizeof id)
        return;
    memcpy(id, key, key_len);
    id[key_len] = '\0';
    if (!value) {
        /* A tombstone cannot say who wrote it: deletes are signed records (deleted = true). */
        if (!dr_authority_allows_unsigned(as->s.authority)) {
            dr_log(DR_LOG_WARN, "association.tombstone_ignored", "association=%s", id);
            return;
        }
        free_owned(dr_strmap_remove(as->owned, id));
        dr_log(DR_LOG_INFO, "association.deleted", "association=%s", id);
        return;
    }
    owned_association *o = calloc(1, sizeof *o);
    dr_authority_decision decision;
    if (!o || dr_association_decode(value, len, &o->a, &err) != DR_OK ||
        (!o->a->association_id || strcmp(o->a->association_id, id) != 0
             ? dr_error_set(&err, DR_ERR_MALFORMED_MESSAGE, "the record names another association id")
             : DR_OK) != DR_OK) {
        char quoted[700];
        dr_log(DR_LOG_WARN, "association.skipped", "association=%s msg=%s", id,
               dr_log_quote(quoted, sizeof quoted, o ? err.detail : "out of memory"));
        free_owned(o);
        return;
    }
    if (!association_allowed(as, id, o->a, value, len, &decision)) {
        free_owned(o); /* whatever was taken before stands */
        return;
    }
    free_owned(dr_strmap_remove(as->owned, id));
    if (o->a->deleted) {
        dr_log(DR_LOG_INFO, "association.deleted", "association=%s", id);
        free_owned(o);
        return;
    }
    snprintf(o->operator_name, sizeof o->operator_name, "%s", decision.operator_name);
    o->partition = partition;
    if (o->a->schedule && o->a->schedule[0]) {
        if (dr_schedule_parse(o->a->schedule, &o->schedule, &err) == DR_OK)
            o->has_schedule = 1;
        else
            dr_log(DR_LOG_WARN, "association.bad_schedule", "association=%s msg=\"%s\"", id, err.detail);
    }
    if (dr_strmap_put(as->owned, id, o) != 0) {
        free_owned(o);
        return;
    }
    /* What tests and operators wait for: from here on its triggers apply. */
    char quoted[300];
    dr_log(DR_LOG_INFO, "association.taken", "association=%s partition=%d", dr_log_quote(quoted, sizeof quoted, id),
           (int)partition);
}

typedef struct partition_search {
    int32_t partition;
    char key[256];
} partition_search;

static int find_in_partition(void *ctx, const char *key, void *value)
{
    partition_search *search = ctx;
    if (((owned_association *)value)->partition != search->partition)
        return 0;
    snprintf(search->key, sizeof search->key, "%s", key);
    return 1;
}

void dr_associations_drop_partition(dr_associations *as, int32_t partition)
{
    for (;;) { /* a walk must not remove: find one, remove it, walk again */
        partition_search search = {.partition = partition};
        dr_strmap_each(as->owned, find_in_partition, &search);
        if (!search.key[0])
            return;
        free_owned(dr_strmap_remove(as->owned, search.key));
    }
}

void dr_associations_packages_changed(dr_associations *as)
{
    as->packages_dirty = 1;
}

/* ---- target events ---- */

/* Write target to the inventory (value NULL: remove it). */
static void write_inventory(dr_associations *as, const char *target_id, const Drover__V1__Target *target)
{
    dr_error err = {0};
    dr_publish_count count = {0};
    dr_status status = DR_OK;
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (target) { /* signed with the control plane's key: the event it comes from was checked */
        if ((status = dr_request_encode(as->s.signing_key, &target->base, &bytes, &len, &err)) == DR_OK)
            status = dr_publish_bytes(as->producer, DR_TOPIC_INVENTORY, target_id, bytes, len, &count, &err);
    } else if ((status = dr_kafka_produce(as->producer, DR_TOPIC_INVENTORY, target_id, NULL, 0, NULL, NULL, &err)) ==
               DR_OK) {
        count.queued = count.acknowledged = 1; /* a tombstone's delivery is checked by the flush alone */
    }
    free(bytes);
    if (status == DR_OK)
        status = dr_publish_flush(as->producer, &count, as->timeout_ms, &err);
    if (status != DR_OK)
        dr_log(DR_LOG_WARN, "association.inventory_failed", "target=%s msg=\"%s\"", target_id, err.detail);
}

void dr_associations_target_event(dr_associations *as, const Drover__V1__TargetEvent *event, int owner)
{
    const Drover__V1__Target *t = event->target;
    if (!t || !t->target_id || !t->target_id[0])
        return;
    if (event->kind == DROVER__V1__TARGET_EVENT__KIND__KIND_TERMINATED) {
        if (owner) {
            write_inventory(as, t->target_id, NULL);
            dr_log(DR_LOG_INFO, "target.terminated", "target=%s", t->target_id);
        }
        return;
    }
    if (event->kind != DROVER__V1__TARGET_EVENT__KIND__KIND_LAUNCHED &&
        event->kind != DROVER__V1__TARGET_EVENT__KIND__KIND_TAGS_CHANGED)
        return;
    if (owner)
        write_inventory(as, t->target_id, t);
    /* A copy for the next tick, which runs the on-launch associations it matches. */
    size_t len = drover__v1__target__get_packed_size(t);
    uint8_t *bytes = malloc(len ? len : 1);
    Drover__V1__Target **grown = realloc(as->launched, (as->launched_count + 1) * sizeof *grown);
    if (grown)
        as->launched = grown;
    if (bytes && grown) {
        drover__v1__target__pack(t, bytes);
        Drover__V1__Target *copy = drover__v1__target__unpack(NULL, len, bytes);
        if (copy) {
            if (event->at_ms > 0)
                copy->updated_at_ms = event->at_ms; /* names the run: the same event, the same run */
            as->launched[as->launched_count++] = copy;
        }
    }
    free(bytes);
    dr_log(DR_LOG_INFO, "target.launched", "target=%s kind=%d registered=%s", t->target_id, (int)event->kind,
           owner ? "true" : "false");
}

/* ---- default versions ---- */

/*
 * Whether the default version in package name's latest record may be
 * followed: the record as a whole must be signed by an operator allowed
 * package.set-default, or package.publish (a first publish sets the
 * default), of that package, and not be older than the record whose
 * default was last taken (a copy of an old record written again: a
 * rollback).  Audited when the record's request is new, or refused.
 */
static int default_allowed(dr_associations *as, const dr_table *packages, const char *name, dr_error *err)
{
    const dr_table_row *row = dr_table_get(packages, name);
    if (!row)
        return 1; /* never published: resolving says so */
    dr_authority_request q = {
        .action = DR_ACTION_PACKAGE_SET_DEFAULT, .bytes = row->value, .len = row->value_len, .package = name};
    dr_authority_decision decision;
    dr_authority_check(as->s.authority, &q, dr_now_ms(), &decision);
    if (!decision.allowed && decision.reason == DR_ERR_NOT_ALLOWED) {
        q.action = DR_ACTION_PACKAGE_PUBLISH;
        dr_authority_check(as->s.authority, &q, dr_now_ms(), &decision);
    }
    char what[300];
    snprintf(what, sizeof what, "package %s", name);
    if (take_latest(as->defaults, name, what, &decision) || !decision.allowed)
        dr_audit_log_write(as->s.audit, &decision, DR_ACTION_PACKAGE_SET_DEFAULT, name, "default version");
    if (!decision.allowed)
        dr_error_set(err, decision.reason, "package %s's default version is not followed (%s): %s", name, decision.rule,
                     decision.message);
    return decision.allowed;
}

/* ---- runs ---- */

/*
 * Record what o's last run was, in memory (a fresh decoded copy: the
 * unpacked message's strings are not ours to swap) and on the associations
 * topic, so a replica taking it over knows.
 */
static void record_run(dr_associations *as, owned_association *o, const char *deployment_id, const char *version,
                       int64_t now_ms)
{
    dr_error err = {0};
    dr_publish_count count = {0};
    Drover__V1__Association copy = *o->a;
    copy.last_deployment_id = (char *)deployment_id;
    copy.last_run_version = (char *)version;
    copy.last_run_at_ms = now_ms;
    size_t len = drover__v1__association__get_packed_size(&copy);
    uint8_t *bytes = malloc(len ? len : 1);
    Drover__V1__Association *updated = NULL;
    if (bytes) {
        drover__v1__association__pack(&copy, bytes);
        updated = drover__v1__association__unpack(NULL, len, bytes);
    }
    if (!updated) {
        dr_log(DR_LOG_ERROR, "association.record_failed", "association=%s msg=\"out of memory\"", o->a->association_id);
        free(bytes);
        return;
    }
    drover__v1__association__free_unpacked(o->a, NULL);
    o->a = updated;
    o->next_due_ms = 0;
    if (dr_kafka_produce(as->producer, DR_TOPIC_ASSOCIATIONS, updated->association_id, bytes, len, NULL, NULL, &err) !=
            DR_OK ||
        dr_publish_flush(as->producer, &count, as->timeout_ms, &err) != DR_OK)
        dr_log(DR_LOG_WARN, "association.record_failed", "association=%s msg=\"%s\"", updated->association_id,
               err.detail);
    free(bytes);
}

/*
 * Run association o as deployment run_id: for target alone when given, else
 * for its selection against the inventory now.  Returns 1 when the run is
 * settled (published, or impossible and logged), 0 to try again later.
 */
static int run(dr_associations *as, owned_association *o, const char *run_id, const char *trigger,
               const Drover__V1__Target *target, int64_t now_ms)
{
    const Drover__V1__Association *a = o->a;
    dr_table packages = {0};
    dr_inventory inventory = {0};
    Drover__V1__PackageVersions *package = NULL;
    const Drover__V1__PackageVersion *version = NULL;
    const Drover__V1__Target **targets = NULL;
    size_t target_count = 0;
    char **arguments = NULL;
    dr_deployment deployment = {0};
    dr_error err = {0};
    int settled = 0;
    int follows_default = !a->version[0] || strcmp(a->version, "default") == 0;
    if (dr_table_read(as->options, DR_TOPIC_PACKAGES, as->timeout_ms, &packages, &err) != DR_OK)
        goto cleanup;
    if (follows_default && !default_allowed(as, &packages, a->package, &err)) {
        settled = 1; /* refused as it is: the next trigger decides again */
        goto cleanup;
    }
    if (dr_package_resolve(&packages, a->package, follows_default ? NULL : a->version, &package, &version, &err) !=
        DR_OK) {
        settled = 1; /* nothing to deploy until someone publishes it; logged below */
        goto cleanup;
    }
    if (target) {
        targets = malloc(sizeof *targets);
        if (!targets)
            goto cleanup;
        targets[0] = target;
        target_count = 1;
    } else {
        if (dr_inventory_read(as->options, as->timeout_ms, &inventory, &err) != DR_OK)
            goto cleanup;
        if (dr_selection_resolve(a->selection, &inventory, &targets, &target_count, &err) != DR_OK) {
            settled = 1; /* e.g. nothing selected today: the run is over */
            goto cleanup;
        }
    }
    /* The run's own selection: the association's, or the one launched target. */
    Drover__V1__TargetSelection only = DROVER__V1__TARGET_SELECTION__INIT;
    char *only_id = target ? target->target_id : NULL;
    only.n_target_ids = target ? 1 : 0;
    only.target_ids = &only_id;
    char created_by[300];
    snprintf(created_by, sizeof created_by, "association %s (%s)", a->association_id, trigger);
    /*
     * The run is built as every deployment is (dr_deployment_build), so what
     * the associations topic holds passes the checks a deploy command's
     * request does before anything is published.
     */
    if (!(arguments = calloc(a->n_additional_arguments + 1, sizeof *arguments))) {
        dr_error_set(&err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < a->n_additional_arguments; i++)
        if (asprintf(&arguments[i], "%s=%s", a->additional_arguments[i]->key, a->additional_arguments[i]->value) < 0) {
            arguments[i] = NULL;
            dr_error_set(&err, DR_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
    dr_deploy_request request = {
        .deployment_id = run_id,
        .package = a->package,
        .version = version->version,
        .action = a->action,
        .installation_type = a->installation_type,
        .arguments = arguments,
        .argument_count = a->n_additional_arguments,
        .selection = target ? &only : a->selection,
        .max_concurrency = a->rate_controls ? a->rate_controls->max_concurrency : "",
        .max_errors = a->rate_controls ? a->rate_controls->max_errors : "",
        .created_by = created_by,
    };
    if (dr_deployment_build(&deployment, &request, &err) != DR_OK) {
        settled = 1; /* the association itself is wrong: every run would be */
        goto cleanup;
    }
    Drover__V1__Deployment *d = &deployment.message;
    d->association_id = a->association_id;
    d->job_count = (uint32_t)target_count;
    /* The run deploys for whoever signed the association: decided for them, with its targets. */
    dr_authority_request q = {.action = DR_ACTION_ASSOCIATION_CREATE,
                              .package = a->package,
                              .targets = targets,
                              .target_count = target_count,
                              .has_limits = 1,
                              .job_count = target_count,
                              .max_concurrency = request.max_concurrency ? request.max_concurrency : "",
                              .max_errors = request.max_errors ? request.max_errors : ""};
    dr_authority_decision decision;
    dr_authority_check_as(as->s.authority, o->operator_name, &q, &decision);
    char scope[600];
    snprintf(scope, sizeof scope, "run %s of association %s: %s@%s, %zu targets", run_id, a->association_id, a->package,
             version->version, target_count);
    dr_audit_log_write(as->s.audit, &decision, DR_ACTION_ASSOCIATION_CREATE, run_id, scope);
    if (!decision.allowed) {
        dr_error_set(&err, decision.reason, "the run was refused (%s): %s", decision.rule, decision.message);
        settled = 1; /* refused as it is: the next trigger decides again */
        goto cleanup;
    }
    dr_deploy_plan plan = {.options = as->options,
                           .deployment = d,
                           .version = version,
                           .targets = targets,
                           .target_count = target_count,
                           .operator_key = as->s.signing_key};
    dr_deploy_progress progress;
    if (dr_deploy_publish(as->producer, &plan, as->timeout_ms, &progress, &err) != DR_OK)
        goto cleanup; /* tried again on the next tick, under the same id */
    dr_log(DR_LOG_INFO, "association.run", "association=%s deployment=%s trigger=%s version=%s jobs=%zu",
           a->association_id, run_id, trigger, version->version, target_count);
    record_run(as, o, run_id, version->version, now_ms);
    settled = 1;
    err.status = DR_OK;
cleanup:
    if (err.status != DR_OK)
        dr_log(settled ? DR_LOG_INFO : DR_LOG_WARN, settled ? "association.nothing_to_run" : "association.run_failed",
               "association=%s deployment=%s trigger=%s msg=\"%s\"", a->association_id, run_id, trigger, err.detail);
    if (settled && err.status != DR_OK) /* counted as a run, or the trigger would fire on every tick */
        record_run(as, o, a->last_deployment_id, a->last_run_version, now_ms);
    for (size_t i = 0; arguments && arguments[i]; i++)
        free(arguments[i]);
    free(arguments);
    dr_deployment_free(&deployment);
    free(targets);
    dr_inventory_free(&inventory);
    if (package)
        drover__v1__package_versions__free_unpacked(package, NULL);
    dr_table_free(&packages);
    return settled;
}

/* The package's current default version and when its entry last changed; 0 when unknown. */
static int current_default(const dr_table *packages, const char *name, char *version, size_t size, int64_t *updated)
{
    Drover__V1__PackageVersions *p = NULL;
    dr_error err = {0};
    int known = 0;
    if (dr_package_lookup(packages, name, &p, &err) == DR_OK && p && p->default_version && p->default_version[0]) {
        snprintf(version, size, "%s", p->default_version);
        *updated = p->updated_at_ms;
        known = 1;
    }
    if (p)
        drover__v1__package_versions__free_unpacked(p, NULL);
    return known;
}

typedef struct tick {
    dr_associations *as;
    int64_t now_ms;
    const dr_table *packages; /* read when a default may have changed; NULL otherwise */
} tick;

static int tick_visit(void *ctx, const char *key, void *value)
{
    tick *t = ctx;
    owned_association *o = value;
    const Drover__V1__Association *a = o->a;
    char run_id[400], version[160];
    (void)key;
    if (a->run_on_create && a->last_run_at_ms == 0) {
        snprintf(run_id, sizeof run_id, "%s.c%lld", a->association_id, (long long)a->created_at_ms);
        run(t->as, o, run_id, "create", NULL, t->now_ms);
        return 0;
    }
    if (o->has_schedule) {
        if (o->next_due_ms == 0)
            o->next_due_ms =
                dr_schedule_next(&o->schedule, a->last_run_at_ms > 0 ? a->last_run_at_ms : a->created_at_ms);
        if (o->next_due_ms > 0 && t->now_ms >= o->next_due_ms) {
            snprintf(run_id, sizeof run_id, "%s.s%lld", a->association_id, (long long)(o->next_due_ms / 1000));
            run(t->as, o, run_id, "schedule", NULL, t->now_ms);
            return 0;
        }
    }
    int64_t updated = 0;
    if (t->packages && a->run_on_default_change && a->last_run_version && a->last_run_version[0] &&
        current_default(t->packages, a->package, version, sizeof version, &updated) &&
        strcmp(version, a->last_run_version) != 0) {
        snprintf(run_id, sizeof run_id, "%s.d%lld", a->association_id, (long long)updated);
        run(t->as, o, run_id, "default-change", NULL, t->now_ms);
    }
    return 0;
}

typedef struct launch {
    dr_associations *as;
    const Drover__V1__Target *target;
    int64_t now_ms;
    int64_t event_ms;
} launch;

static int launch_visit(void *ctx, const char *key, void *value)
{
    launch *l = ctx;
    owned_association *o = value;
    char run_id[400];
    (void)key;
    if (!o->a->run_on_launch || !dr_selection_matches(o->a->selection, l->target))
        return 0;
    snprintf(run_id, sizeof run_id, "%s.l%s-%lld", o->a->association_id, l->target->target_id, (long long)l->event_ms);
    run(l->as, o, run_id, "launch", l->target, l->now_ms);
    return 0;
}

void dr_associations_tick(dr_associations *as, int64_t now_ms)
{
    dr_table packages = {0};
    dr_error err = {0};
    int have_packages = 0;
    if (as->packages_dirty && dr_strmap_count(as->owned) > 0) {
        have_packages = dr_table_read(as->options, DR_TOPIC_PACKAGES, as->timeout_ms, &packages, &err) == DR_OK;
        if (have_packages)
            as->packages_dirty = 0;
    }
    tick t = {.as = as, .now_ms = now_ms, .packages = have_packages ? &packages : NULL};
    dr_strmap_each(as->owned, tick_visit, &t);
    for (size_t i = 0; i < as->launched_count; i++) {
        launch l = {.as = as,
                    .target = as->launched[i],
                    .now_ms = now_ms,
                    .event_ms = as->launched[i]->updated_at_ms ? as->launched[i]->updated_at_ms : now_ms};
        dr_strmap_each(as->owned, launch_visit, &l);
    }
    free_launched(as);
    dr_table_free(&packages);
}
