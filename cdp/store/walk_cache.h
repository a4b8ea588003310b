/* A cache of what a read derived from one person's records in one column family (today: the
 * consent column family's newest records per purpose, still sealed), keyed by profile id and
 * valid only while no write has touched that column family under that profile id since the read.
 * The region counts writes per profile-id stripe (cdp_batch_put / _delete / _delete_range mark
 * the stripes a batch touches; cdp_region_write bumps them once the write is applied), so a
 * cached entry is used only when its stripe's count is the one the reader saw before it read
 * the records. Best effort: a full table or a failed allocation just means a miss.
 * Thread-safe. Holds only the bytes callers give it (sealed records: no plaintext). */
#ifndef CDP_STORE_WALK_CACHE_H
#define CDP_STORE_WALK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/region.h"
#include "util/bytes.h"

/* Column families whose writes are counted per profile id (the first 16 bytes of the key). */
#define CDP_WALK_CACHE_CF CDP_CF_CONSENT

typedef struct cdp_walk_cache cdp_walk_cache;

/* NULL when out of memory (the region then caches nothing). Caller owns it
 * (free with cdp_walk_cache_free). */
cdp_walk_cache *cdp_walk_cache_new(void);
void cdp_walk_cache_free(cdp_walk_cache *cache); /* accepts NULL */

/* The write count of the stripe of profile_id: read it BEFORE reading the records, and hand it
 * to cdp_region_walk_cache_put with what was derived. */
uint64_t cdp_walk_cache_generation(cdp_walk_cache *cache, const uint8_t profile_id[16]);
/* 1 and the bytes appended to out when an entry for profile_id is current; 0 otherwise (also
 * when out cannot grow). */
int cdp_walk_cache_get(cdp_walk_cache *cache, const uint8_t profile_id[16], cdp_buf *out);
/* Keeps bytes for profile_id if generation is still its stripe's count. */
void cdp_walk_cache_put(cdp_walk_cache *cache, const uint8_t profile_id[16], uint64_t generation,
                        const uint8_t *bytes, size_t len);

/* Lookups so far that found a current entry, and those that did not (for tests and metrics). */
void cdp_walk_cache_counts(cdp_walk_cache *cache, uint64_t *hits, uint64_t *misses);

/* Write tracking, for cdp/store/region.c: a batch's set of touched stripes. */
#define CDP_WALK_CACHE_STRIPES 1024
typedef struct cdp_walk_touched {
    uint64_t bits[CDP_WALK_CACHE_STRIPES / 64];
    int all; /* a range delete: every stripe */
} cdp_walk_touched;
void cdp_walk_touch(cdp_walk_touched *touched, const uint8_t *key, size_t key_len);
/* Bumps every stripe in touched (after the write is applied). */
void cdp_walk_cache_bump(cdp_walk_cache *cache, const cdp_walk_touched *touched);

/* The region's cache (NULL when it has none). Borrowed until the region is closed. */
cdp_walk_cache *cdp_region_walk_cache(cdp_region *region);

#endif
