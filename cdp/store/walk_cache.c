/* The per-region walk cache: a direct-mapped table of entries (profile id, the stripe count
 * it was read at, bytes) under striped mutexes, and per-stripe write counts. */
#include "store/walk_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "util/alloc.h"

#define SLOTS 16384 /* entries; a collision replaces */
#define LOCKS 64
#define ENTRY_MAX 16384 /* bytes of one entry: larger walks are not cached */

typedef struct walk_entry {
    uint8_t profile_id[16];
    uint64_t generation;
    uint8_t *bytes; /* NULL: empty slot */
    size_t len;
} walk_entry;

struct cdp_walk_cache {
    _Atomic uint64_t generations[CDP_WALK_CACHE_STRIPES];
    _Atomic uint64_t hits, misses;
    pthread_mutex_t locks[LOCKS];
    walk_entry slots[SLOTS];
};

static uint64_t mix(const uint8_t id[16]) {
    uint64_t a = 0, b = 0;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

static size_t stripe_of(const uint8_t id[16]) { return (size_t)(mix(id) % CDP_WALK_CACHE_STRIPES); }
static size_t slot_of(const uint8_t id[16]) { return (size_t)((mix(id) >> 20) % SLOTS); }

cdp_walk_cache *cdp_walk_cache_new(void) {
    cdp_walk_cache *cache = cdp_calloc(1, sizeof *cache);
    if (cache == NULL)
        return NULL;
    for (size_t i = 0; i < LOCKS; i++)
        pthread_mutex_init(&cache->locks[i], NULL);
    return cache;
}

void cdp_walk_cache_free(cdp_walk_cache *cache) {
    if (cache == NULL)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        cdp_free(cache->slots[i].bytes);
    for (size_t i = 0; i < LOCKS; i++)
        pthread_mutex_destroy(&cache->locks[i]);
    cdp_free(cache);
}

uint64_t cdp_walk_cache_generation(cdp_walk_cache *cache, const uint8_t profile_id[16]) {
    return atomic_load(&cache->generations[stripe_of(profile_id)]);
}

int cdp_walk_cache_get(cdp_walk_cache *cache, const uint8_t profile_id[16], cdp_buf *out) {
    size_t slot = slot_of(profile_id);
    walk_entry *entry = &cache->slots[slot];
    int hit = 0;
    pthread_mutex_lock(&cache->locks[slot % LOCKS]);
    if (entry->bytes != NULL && memcmp(entry->profile_id, profile_id, 16) == 0) {
        if (entry->generation != cdp_walk_cache_generation(cache, profile_id)) {
            cdp_free(entry->bytes); /* written since: never valid again */
            entry->bytes = NULL;
        } else {
            hit = cdp_buf_append(out, entry->bytes, entry->len) == CDP_OK;
        }
    }
    pthread_mutex_unlock(&cache->locks[slot % LOCKS]);
    atomic_fetch_add(hit ? &cache->hits : &cache->misses, 1);
    return hit;
}

void cdp_walk_cache_put(cdp_walk_cache *cache, const uint8_t profile_id[16], uint64_t generation,
                        const uint8_t *bytes, size_t len) {
    if (len > ENTRY_MAX)
        return;
    uint8_t *copy = cdp_malloc(len > 0 ? len : 1);
    if (copy == NULL)
        return;
    if (len > 0) /* an empty walk (no records) is cached too; bytes may then be NULL */
        memcpy(copy, bytes, len);
    size_t slot = slot_of(profile_id);
    walk_entry *entry = &cache->slots[slot];
    pthread_mutex_lock(&cache->locks[slot % LOCKS]);
    /* Checked under the slot lock: a write bumps after it is applied, so a count that still
     * matches means no write touched these records since the reader read the count. */
    if (generation == cdp_walk_cache_generation(cache, profile_id)) {
        uint8_t *old = entry->bytes;
        memcpy(entry->profile_id, profile_id, 16);
        entry->generation = generation;
        entry->bytes = copy;
        entry->len = len;
        copy = old;
    }
    pthread_mutex_unlock(&cache->locks[slot % LOCKS]);
    cdp_free(copy);
}

void cdp_walk_touch(cdp_walk_touched *touched, const uint8_t *key, size_t key_len) {
    if (key_len < 16) {
        touched->all = 1;
        return;
    }
    size_t stripe = stripe_of(key);
    touched->bits[stripe / 64] |= (uint64_t)1 << (stripe % 64);
}

void cdp_walk_cache_bump(cdp_walk_cache *cache, const cdp_walk_touched *touched) {
    for (size_t word = 0; word < CDP_WALK_CACHE_STRIPES / 64; word++) {
        uint64_t bits = touched->all ? UINT64_MAX : touched->bits[word];
        for (size_t bit = 0; bits != 0; bit++, bits >>= 1)
            if (bits & 1)
                atomic_fetch_add(&cache->generations[word * 64 + bit], 1);
    }
}

void cdp_walk_cache_counts(cdp_walk_cache *cache, uint64_t *hits, uint64_t *misses) {
    *hits = atomic_load(&cache->hits);
    *misses = atomic_load(&cache->misses);
}
