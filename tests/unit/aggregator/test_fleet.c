/* The fleet table: terminal statuses folded into what is installed where, replays, removals and drift. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fleet.h"
#include "messages.h"
#include "strbuf.h"

static Drover__V1__StatusEvent status(const char *target, const char *deployment, const char *before, const char *after,
                                      int64_t at_ms)
{
    Drover__V1__StatusEvent e = DROVER__V1__STATUS_EVENT__INIT;
    e.target_id = (char *)target;
    e.deployment_id = (char *)deployment;
    e.account = "111111111111";
    e.region = "eu-west-1";
    e.package = "agent";
    e.state = DROVER__V1__JOB_STATE__JOB_STATE_SUCCESS;
    e.installed_known = 1;
    e.previous_version = (char *)before;
    e.installed_version = (char *)after;
    e.at_ms = at_ms;
    return e;
}

/* Fold e; the entry written, decoded (NULL when nothing was written). */
static Drover__V1__FleetEntry *fold(dr_fleet *f, const Drover__V1__StatusEvent *e, int *changed)
{
    char *key = NULL;
    uint8_t *value = NULL;
    size_t len = 0;
    *changed = dr_fleet_fold(f, e, &key, &value, &len);
    Drover__V1__FleetEntry *entry = value ? drover__v1__fleet_entry__unpack(NULL, len, value) : NULL;
    if (*changed == 1) {
        char want[300];
        snprintf(want, sizeof want, "%s/%s", e->target_id, e->package);
        CHECK_STR(want, key);
    }
    free(key);
    free(value);
    return entry;
}

static char *json(const dr_fleet *f, const char *package)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    dr_fleet_json(f, package, &sb);
    return sb.buf;
}

int main(void)
{
    dr_fleet *f = dr_fleet_new();
    int changed;
    Drover__V1__StatusEvent e = status("t-1", "d-1", "", "1.0", 1000);
    Drover__V1__FleetEntry *entry = fold(f, &e, &changed);
    CHECK_INT(1, changed);
    CHECK(entry != NULL);
    if (entry) {
        CHECK_STR("1.0", entry->version);
        CHECK_STR("d-1", entry->deployment_id);
        CHECK_INT(1000, entry->installed_at_ms);
        CHECK_INT(0, entry->drift_at_ms);
        drover__v1__fleet_entry__free_unpacked(entry, NULL);
    }
    /* The same status again (a replay), and an older one: nothing changes. */
    CHECK(fold(f, &e, &changed) == NULL);
    CHECK_INT(0, changed);
    Drover__V1__StatusEvent older = status("t-1", "d-0", "", "0.9", 900);
    CHECK(fold(f, &older, &changed) == NULL);
    CHECK_INT(0, changed);
    /* "Already installed" later: nothing to write, installed_at kept. */
    Drover__V1__StatusEvent again = status("t-1", "d-2", "1.0", "1.0", 2000);
    CHECK(fold(f, &again, &changed) == NULL);
    CHECK_INT(0, changed);
    /* A status that did not read the record, or is not terminal, is not about the fleet. */
    Drover__V1__StatusEvent unread = status("t-2", "d-1", "", "1.0", 1000);
    unread.installed_known = 0;
    CHECK(fold(f, &unread, &changed) == NULL);
    unread.installed_known = 1;
    unread.state = DROVER__V1__JOB_STATE__JOB_STATE_IN_PROGRESS;
    CHECK(fold(f, &unread, &changed) == NULL);
    CHECK_INT(1, dr_fleet_count(f));

    /* Found with nothing where the table says 1.0, and put back: drift, repaired. */
    Drover__V1__StatusEvent repaired = status("t-1", "d-3", "", "1.0", 3000);
    entry = fold(f, &repaired, &changed);
    CHECK_INT(1, changed);
    if (entry) {
        CHECK_STR("1.0", entry->drift_expected);
        CHECK_STR("", entry->drift_found);
        CHECK_INT(3000, entry->drift_at_ms);
        CHECK_INT(1, entry->drift_repaired);
        CHECK_STR("d-3", entry->deployment_id); /* 1.0 is there again: by d-3 */
        drover__v1__fleet_entry__free_unpacked(entry, NULL);
    }
    char *text = json(f, NULL);
    CHECK(strstr(text, "\"agent\": {\"targets\": 1, \"versions\": {\"1.0\": 1}") != NULL);
    CHECK(strstr(text, "\"drifted\": [{\"target_id\": \"t-1\", \"expected\": \"1.0\", \"found\": \"\"") != NULL);
    free(text);

    /* Removed: counted nowhere, but a status from before the removal cannot bring it back. */
    Drover__V1__StatusEvent removed = status("t-1", "d-4", "1.0", "", 4000);
    entry = fold(f, &removed, &changed);
    CHECK_INT(1, changed);
    if (entry) {
        CHECK_STR("", entry->version);
        drover__v1__fleet_entry__free_unpacked(entry, NULL);
    }
    CHECK_INT(0, dr_fleet_count(f));
    CHECK(fold(f, &repaired, &changed) == NULL);
    CHECK_INT(0, dr_fleet_count(f));
    text = json(f, NULL);
    CHECK_STR("{\"packages\": {}}\n", text);
    free(text);

    /* Two packages, a filter, and the metric with no per-target series. */
    Drover__V1__StatusEvent a = status("t-2", "d-5", "", "2.0", 5000);
    Drover__V1__StatusEvent b = status("t-3", "d-5", "", "2.0", 5000);
    b.package = "other";
    drover__v1__fleet_entry__free_unpacked(fold(f, &a, &changed), NULL);
    drover__v1__fleet_entry__free_unpacked(fold(f, &b, &changed), NULL);
    text = json(f, "other");
    CHECK(strstr(text, "\"other\"") != NULL && strstr(text, "\"agent\"") == NULL);
    free(text);
    dr_strbuf sb = DR_STRBUF_INIT;
    dr_fleet_metrics(f, &sb);
    CHECK(strstr(sb.buf, "drover_fleet_targets{package=\"agent\",version=\"2.0\"} 1\n") != NULL);
    CHECK(strstr(sb.buf, "drover_fleet_targets{package=\"other\",version=\"2.0\"} 1\n") != NULL);
    CHECK(strstr(sb.buf, "t-2") == NULL);
    free(sb.buf);
    dr_fleet_free(f);
    return check_done("fleet");
}
