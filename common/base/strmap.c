#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    void *value;
    char key[]; /* NUL-terminated copy */
} entry;

struct dr_strmap {
    entry **buckets;
    size_t bucket_count; /* a power of two */
    size_t count;
};

#define INITIAL_BUCKETS 16

static uint64_t hash_key(const char *key)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

dr_strmap *dr_strmap_new(void)
{
    dr_strmap *map = calloc(1, sizeof *map);
    if (!map)
        return NULL;
    map->buckets = calloc(INITIAL_BUCKETS, sizeof *map->buckets);
    if (!map->buckets) {
        free(map);
        return NULL;
    }
    map->bucket_count = INITIAL_BUCKETS;
    return map;
}

void dr_strmap_free(dr_strmap *map)
{
    if (!map)
        return;
    for (size_t i = 0; i < map->bucket_count; i++) {
        entry *e = map->buckets[i];
        while (e) {
            entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(map->buckets);
    free(map);
}

static entry **find_link(const dr_strmap *map, const char *key, uint64_t hash)
{
    entry **link = &map->buckets[hash & (map->bucket_count - 1)];
    while (*link && ((*link)->hash != hash || strcmp((*link)->key, key) != 0))
        link = &(*link)->next;
    return link;
}

void *dr_strmap_get(const dr_strmap *map, const char *key)
{
    entry *e = *find_link(map, key, hash_key(key));
    return e ? e->value : NULL;
}

/* Double the buckets.  A failed allocation only leaves chains longer. */
static void grow(dr_strmap *map)
{
    size_t new_count = map->bucket_count * 2;
    entry **buckets = calloc(new_count, sizeof *buckets);
    if (!buckets)
        return;
    for (size_t i = 0; i < map->bucket_count; i++) {
        entry *e = map->buckets[i];
        while (e) {
            entry *next = e->next;
            entry **head = &buckets[e->hash & (new_count - 1)];
            e->next = *head;
            *head = e;
            e = next;
        }
    }
    free(map->buckets);
    map->buckets = buckets;
    map->bucket_count = new_count;
}

int dr_strmap_put(dr_strmap *map, const char *key, void *value)
{
    uint64_t hash = hash_key(key);
    entry **link = find_link(map, key, hash);
    if (*link) {
        (*link)->value = value;
        return 0;
    }
    size_t key_len = strlen(key);
    entry *e = malloc(sizeof *e + key_len + 1);
    if (!e)
        return -1;
    e->next = NULL;
    e->hash = hash;
    e->value = value;
    memcpy(e->key, key, key_len + 1);
    *link = e;
    map->count++;
    if (map->count > map->bucket_count)
        grow(map);
    return 0;
}

void *dr_strmap_remove(dr_strmap *map, const char *key)
{
    entry **link = find_link(map, key, hash_key(key));
    entry *e = *link;
    if (!e)
        return NULL;
    void *value = e->value;
    *link = e->next;
    free(e);
    map->count--;
    return value;
}

size_t dr_strmap_count(const dr_strmap *map)
{
    return map->count;
}

void dr_strmap_each(const dr_strmap *map, dr_strmap_visit_fn fn, void *ctx)
{
    for (size_t i = 0; i < map->bucket_count; i++)
        for (entry *e = map->buckets[i]; e; e = e->next)
            if (fn(ctx, e->key, e->value))
                return;
}
