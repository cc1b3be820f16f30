/*
 * selection.c - build a target selection from the command line and resolve
 * it against the inventory.
 */
#include "selection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "strbuf.h"

#define MAX_UNKNOWN_LISTED 20

/*
 * Append a copy of item to a string list, unless unique is set and it is
 * there already.  (Target ids are not searched: a list of thousands would
 * make that quadratic; dr_selection_resolve drops repeats.)
 */
static int list_add(char ***items, size_t *count, const char *item, size_t len, int unique)
{
    for (size_t i = 0; unique && i < *count; i++)
        if (strlen((*items)[i]) == len && strncmp((*items)[i], item, len) == 0)
            return 0;
    char **grown = realloc(*items, (*count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    *items = grown;
    grown[*count] = strndup(item, len);
    if (!grown[*count])
        return -1;
    (*count)++;
    return 0;
}

/* Split a comma-separated value into a list of checked ids; spaces around items are dropped. */
static dr_status parse_id_list(const char *what, const char *text, char ***items, size_t *count, int unique,
                               dr_error *err)
{
    char item[DR_NAME_MAX + 2];
    for (const char *p = text; p && *p;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (p < end && *p == ' ')
            p++;
        const char *last = end;
        while (last > p && last[-1] == ' ')
            last--;
        size_t len = (size_t)(last - p);
        if (len > 0) {
            snprintf(item, sizeof item, "%.*s", (int)(len > DR_NAME_MAX + 1 ? DR_NAME_MAX + 1 : len), p);
            if (len > DR_NAME_MAX)
                return dr_error_set(err, DR_ERR_USAGE, "%s: '%.64s...' is longer than %d characters", what, item,
                                    DR_NAME_MAX);
            dr_status status = dr_check_id(what, item, err);
            if (status != DR_OK)
                return status;
            if (list_add(items, count, p, len, unique) != 0)
                return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        }
        p = comma ? comma + 1 : end;
    }
    return DR_OK;
}

/* Add KEY=VALUE to the filter for KEY, making the filter when it is the first value of KEY. */
static dr_status add_tag(Drover__V1__TargetSelection *m, const char *text, dr_error *err)
{
    size_t key_len;
    dr_status status = dr_check_tag("--tag", text, &key_len, err);
    if (status != DR_OK)
        return status;
    Drover__V1__TagFilter *filter = NULL;
    for (size_t i = 0; i < m->n_tags && !filter; i++)
        if (strlen(m->tags[i]->key) == key_len && strncmp(m->tags[i]->key, text, key_len) == 0)
            filter = m->tags[i];
    if (!filter) {
        Drover__V1__TagFilter **grown = realloc(m->tags, (m->n_tags + 1) * sizeof *grown);
        if (!grown)
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        m->tags = grown;
        filter = calloc(1, sizeof *filter);
        if (!filter)
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        drover__v1__tag_filter__init(filter);
        m->tags[m->n_tags++] = filter;
        filter->key = strndup(text, key_len);
        if (!filter->key)
            return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    }
    const char *value = text + key_len + 1;
    if (list_add(&filter->values, &filter->n_values, value, strlen(value), 1) != 0)
        return dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    return DR_OK;
}

dr_status dr_selection_parse(dr_selection *out, const char *ids, char *const *tags, size_t tag_count,
                             const char *accounts, const char *regions, int all, dr_error *err)
{
    Drover__V1__TargetSelection *m = &out->message;
    drover__v1__target_selection__init(m);
    m->all = all ? 1 : 0;
    dr_status status = parse_id_list("--targets", ids, &m->target_ids, &m->n_target_ids, 0, err);
    if (status == DR_OK)
        status = parse_id_list("--accounts", accounts, &m->accounts, &m->n_accounts, 1, err);
    if (status == DR_OK)
        status = parse_id_list("--regions", regions, &m->regions, &m->n_regions, 1, err);
    for (size_t i = 0; status == DR_OK && i < tag_count; i++)
        status = add_tag(m, tags[i], err);
    if (status == DR_OK && !m->all && m->n_target_ids == 0 && m->n_tags == 0 && m->n_accounts == 0 && m->n_regions == 0)
        status = dr_error_set(err, DR_ERR_USAGE,
                              "no targets selected: give --targets, --tag, --accounts, --regions or --all");
    return status;
}

static void free_list(char **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

void dr_selection_free(dr_selection *selection)
{
    Drover__V1__TargetSelection *m = &selection->message;
    free_list(m->target_ids, m->n_target_ids);
    free_list(m->accounts, m->n_accounts);
    free_list(m->regions, m->n_regions);
    for (size_t i = 0; i < m->n_tags; i++) {
        if (!m->tags[i])
            continue;
        free(m->tags[i]->key);
        free_list(m->tags[i]->values, m->tags[i]->n_values);
        free(m->tags[i]);
    }
    free(m->tags);
    drover__v1__target_selection__init(m);
}

static int in_list(char *const *items, size_t count, const char *value)
{
    for (size_t i = 0; i < count; i++)
        if (value && strcmp(items[i], value) == 0)
            return 1;
    return 0;
}

/* Every criterion but the ids. */
static int matches_attributes(const Drover__V1__TargetSelection *s, const Drover__V1__Target *target)
{
    if (s->n_accounts && !in_list(s->accounts, s->n_accounts, target->account))
        return 0;
    if (s->n_regions && !in_list(s->regions, s->n_regions, target->region))
        return 0;
    for (size_t i = 0; i < s->n_tags; i++) {
        const char *value = dr_target_tag(target, s->tags[i]->key);
        if (!value || !in_list(s->tags[i]->values, s->tags[i]->n_values, value))
            return 0;
    }
    return 1;
}

int dr_selection_matches(const Drover__V1__TargetSelection *selection, const Drover__V1__Target *target)
{
    if (selection->n_target_ids && !in_list(selection->target_ids, selection->n_target_ids, target->target_id))
        return 0;
    return matches_attributes(selection, target);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int compare_targets_by_id(const void *a, const void *b)
{
    return strcmp((*(const Drover__V1__Target *const *)a)->target_id,
                  (*(const Drover__V1__Target *const *)b)->target_id);
}

/* Look the ids up one by one (a selection of 10,000 ids must not scan the inventory per id). */
static dr_status resolve_ids(const Drover__V1__TargetSelection *s, const dr_inventory *inventory,
                             const Drover__V1__Target **selected, size_t *count, dr_error *err)
{
    dr_status status = DR_OK;
    dr_strbuf unknown = DR_STRBUF_INIT;
    size_t unknown_count = 0;
    char **ids = calloc(s->n_target_ids + 1, sizeof *ids);
    if (!ids) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    memcpy(ids, s->target_ids, s->n_target_ids * sizeof *ids);
    qsort(ids, s->n_target_ids, sizeof *ids, compare_strings);
    for (size_t i = 0; i < s->n_target_ids; i++) {
        if (i > 0 && strcmp(ids[i - 1], ids[i]) == 0)
            continue;
        const Drover__V1__Target *target = dr_inventory_find(inventory, ids[i]);
        if (!target) {
            if (unknown_count < MAX_UNKNOWN_LISTED)
                dr_strbuf_printf(&unknown, "%s%s", unknown_count ? ", " : "", ids[i]);
            unknown_count++;
        } else if (matches_attributes(s, target)) {
            selected[(*count)++] = target;
        }
    }
    if (unknown_count > MAX_UNKNOWN_LISTED)
        dr_strbuf_printf(&unknown, " ... and %zu more", unknown_count - MAX_UNKNOWN_LISTED);
    if (unknown.failed)
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
    else if (unknown_count)
        status = dr_error_set(err, DR_ERR_USAGE, "%zu target id%s not in the inventory: %s", unknown_count,
                              unknown_count == 1 ? " is" : "s are", dr_strbuf_str(&unknown));

cleanup:
    free(ids);
    dr_strbuf_free(&unknown);
    return status;
}

dr_status dr_selection_resolve(const Drover__V1__TargetSelection *selection, const dr_inventory *inventory,
                               const Drover__V1__Target ***out, size_t *count, dr_error *err)
{
    dr_status status = DR_OK;
    char described[512];
    *count = 0;
    const Drover__V1__Target **selected = calloc(inventory->count + 1, sizeof *selected);
    if (!selected) {
        status = dr_error_set(err, DR_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (selection->n_target_ids) {
        status = resolve_ids(selection, inventory, selected, count, err);
        if (status != DR_OK)
            goto cleanup;
        qsort(selected, *count, sizeof *selected, compare_targets_by_id);
    } else {
        for (size_t i = 0; i < inventory->count; i++)
            if (matches_attributes(selection, inventory->targets[i]))
                selected[(*count)++] = inventory->targets[i];
    }
    if (*count == 0) {
        dr_selection_describe(selection, described, sizeof described);
        status = dr_error_set(err, DR_ERR_USAGE, "no target in the inventory (%zu targets) matches %s",
                              inventory->count, described);
        goto cleanup;
    }
    *out = selected;
    selected = NULL;

cleanup:
    free(selected);
    if (status != DR_OK)
        *count = 0;
    return status;
}

/* Append up to a few items of a list, then "...". */
static void describe_list(dr_strbuf *sb, char *const *items, size_t count, const char *separator)
{
    for (size_t i = 0; i < count && i < 5; i++)
        dr_strbuf_printf(sb, "%s%s", i ? separator : "", items[i]);
    if (count > 5)
        dr_strbuf_printf(sb, "%s... (%zu)", separator, count);
}

void dr_selection_describe(const Drover__V1__TargetSelection *s, char *buf, size_t size)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    const char *next = "";
    if (s->n_target_ids) {
        dr_strbuf_puts(&sb, "targets ");
        describe_list(&sb, s->target_ids, s->n_target_ids, ",");
        next = "; ";
    }
    for (size_t i = 0; i < s->n_tags; i++) {
        dr_strbuf_printf(&sb, "%stag %s=", next, s->tags[i]->key);
        describe_list(&sb, s->tags[i]->values, s->tags[i]->n_values, "|");
        next = "; ";
    }
    if (s->n_accounts) {
        dr_strbuf_printf(&sb, "%saccounts ", next);
        describe_list(&sb, s->accounts, s->n_accounts, ",");
        next = "; ";
    }
    if (s->n_regions) {
        dr_strbuf_printf(&sb, "%sregions ", next);
        describe_list(&sb, s->regions, s->n_regions, ",");
        next = "; ";
    }
    if (s->all)
        dr_strbuf_printf(&sb, "%sall", next);
    snprintf(buf, size, "%s", sb.failed ? "(out of memory)" : dr_strbuf_str(&sb));
    dr_strbuf_free(&sb);
}
