/* The associations table: records of the topic in, JSON with the next run out (no Kafka). */
#include <stdlib.h>

#include "associations.h"
#include "check.h"
#include "messages.h"

/* An Association's bytes, as the topic holds them. */
static uint8_t *encode(const char *id, const char *schedule, int64_t created_ms, int64_t last_run_ms, int deleted,
                       size_t *len)
{
    Drover__V1__Association a = DROVER__V1__ASSOCIATION__INIT;
    Drover__V1__TargetSelection sel = DROVER__V1__TARGET_SELECTION__INIT;
    Drover__V1__TagFilter tag = DROVER__V1__TAG_FILTER__INIT;
    char *values[] = {"prod", "dev"};
    char *accounts[] = {"111", "222"};
    tag.key = "env";
    tag.values = values;
    tag.n_values = 2;
    Drover__V1__TagFilter *tags[] = {&tag};
    sel.tags = tags;
    sel.n_tags = 1;
    sel.accounts = accounts;
    sel.n_accounts = 2;
    a.association_id = (char *)id;
    a.name = "nightly";
    a.package = "agent";
    a.version = "default";
    a.action = DROVER__V1__ACTION__ACTION_INSTALL;
    a.selection = &sel;
    a.schedule = (char *)schedule;
    a.created_at_ms = created_ms;
    a.last_run_at_ms = last_run_ms;
    a.deleted = deleted;
    *len = drover__v1__association__get_packed_size(&a);
    uint8_t *bytes = malloc(*len);
    drover__v1__association__pack(&a, bytes);
    return bytes;
}

static char *json(dr_associations *a, int64_t now_ms)
{
    dr_strbuf sb = DR_STRBUF_INIT;
    dr_associations_json(a, now_ms, &sb);
    return dr_strbuf_detach(&sb, NULL);
}

int main(void)
{
    dr_associations *a = dr_associations_new();
    const int64_t day = 86400000LL, created = 20000 * day + 3600000; /* 2024-10-04T01:00Z */
    size_t len;
    uint8_t *bytes = encode("a-1", "cron(0 2 * * *)", created, 0, 0, &len);
    uint64_t g0 = dr_associations_generation(a);
    CHECK_INT(0, dr_associations_apply(a, "a-1", 3, bytes, len));
    free(bytes);
    CHECK(dr_associations_generation(a) != g0);
    bytes = encode("a-2", "rate(30 minutes)", created, created + 2 * 3600000, 0, &len);
    CHECK_INT(0, dr_associations_apply(a, "a-2", 3, bytes, len));
    free(bytes);
    bytes = encode("a-3", "cron(99 * * * *)", created, 0, 0, &len);
    CHECK_INT(0, dr_associations_apply(a, "a-3", 3, bytes, len));
    free(bytes);

    /* At 01:30: a-1's next run is 02:00 that day; a-2 (last ran at 03:00) runs at 03:30 and is due at 04:00. */
    char *text = json(a, created + 1800000);
    CHECK_CONTAINS(
        "{\"association_id\": \"a-1\", \"name\": \"nightly\", \"package\": \"agent\", \"version\": "
        "\"default\", \"action\": \"install\", \"selection\": \"accounts 111,222; tag env=prod|dev\", "
        "\"schedule\": \"cron(0 2 * * *)\", \"schedule_error\": \"\", \"next_run_ms\": 1728007200000, "
        "\"due\": false, ",
        text);
    CHECK_CONTAINS("\"association_id\": \"a-2\"", text);
    CHECK_CONTAINS("\"next_run_ms\": 1728012600000, \"due\": false", text);
    CHECK_CONTAINS("\"association_id\": \"a-3\"", text);
    CHECK_CONTAINS("\"next_run_ms\": null, \"due\": false", text);
    CHECK(strstr(text, "\"schedule_error\": \"\", \"next_run_ms\": null") == NULL); /* a-3 says why */
    free(text);
    text = json(a, created + 3 * 3600000);
    CHECK_CONTAINS("\"next_run_ms\": 1728012600000, \"due\": true", text);
    free(text);

    /* Junk, a record under another id, a signed delete and a tombstone. */
    CHECK_INT(-1, dr_associations_apply(a, "a-9", 3, "\xff\xff", 2));
    bytes = encode("a-1", "", created, 0, 0, &len);
    CHECK_INT(-1, dr_associations_apply(a, "a-7", 3, bytes, len));
    free(bytes);
    bytes = encode("a-1", "", created, 0, 1, &len);
    CHECK_INT(0, dr_associations_apply(a, "a-1", 3, bytes, len));
    free(bytes);
    CHECK_INT(0, dr_associations_apply(a, "a-2", 3, NULL, 0));
    text = json(a, created);
    CHECK(strstr(text, "\"a-1\"") == NULL && strstr(text, "\"a-2\"") == NULL && strstr(text, "a-7") == NULL);
    CHECK_CONTAINS("\"a-3\"", text);
    free(text);

    dr_associations_poll(a, 10); /* no follower: nothing */
    dr_associations_free(a);
    dr_associations_free(NULL);
    return check_done("associations");
}
