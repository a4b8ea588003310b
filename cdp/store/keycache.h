/* A bounded cache of unwrapped data keys (profile id -> data key), so that reading a known
 * person's record is one RocksDB read instead of two (wrapped key, then record) plus an unwrap.
 * Set-associative: 4-way buckets, two candidate buckets per id, CLOCK replacement inside a
 * bucket, a mutex per stripe of buckets. Everything (keys, ids, bucket state) lives in
 * sodium_malloc memory: guard pages, mlock where RLIMIT_MEMLOCK allows (chunk by chunk), keys
 * overwritten on eviction, wiped on forget and free. Allocated on first use, so a region that is
 * never read costs nothing. Thread-safe.
 *
 * The cache mirrors the `keys` column family and never reads it: whoever deletes a wrapped key
 * must call cdp_keycache_forget for that profile id AFTER the delete is written (calling it before
 * as well does no harm). A load that read the wrapped key before the delete holds a ticket that
 * forget invalidates, so it cannot put the key back afterwards. */
#ifndef CDP_STORE_KEYCACHE_H
#define CDP_STORE_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CDP_KEYCACHE_ID_BYTES 16
#define CDP_KEYCACHE_KEY_BYTES 32
#define CDP_KEYCACHE_WAYS 4
/* 262,144 entries at 50 bytes each (id, key, a quarter of a bucket's state): 12.5 MiB per region,
 * a quarter of a million recently used people per region served with one read. */
#define CDP_KEYCACHE_DEFAULT_ENTRIES 262144

typedef struct cdp_keycache cdp_keycache;

/* What a lookup that missed saw of the id's buckets: pass it to cdp_keycache_put so that a forget
 * in between (an erasure) wins over the put. */
typedef struct cdp_keycache_ticket {
    uint32_t generation[2];
    int valid; /* 0: do not put (the cache has no tables) */
} cdp_keycache_ticket;

/* A cache of at least `entries` entries (0: CDP_KEYCACHE_DEFAULT_ENTRIES), rounded up to whole
 * buckets. Nothing large is allocated until first use; if that allocation fails the cache stays
 * empty (every lookup misses) rather than fail the store. Caller owns *out (free with
 * cdp_keycache_free). */
cdp_status cdp_keycache_new(size_t entries, cdp_keycache **out, cdp_err *err);
/* Wipes every key and frees. Accepts NULL. No other call may run on the cache meanwhile. */
void cdp_keycache_free(cdp_keycache *cache);

/* Entries the cache can hold (a multiple of CDP_KEYCACHE_WAYS). */
size_t cdp_keycache_capacity(const cdp_keycache *cache);

/* 1 and the key in data_key on a hit; 0 on a miss, with *ticket set for a later put. */
int cdp_keycache_get(cdp_keycache *cache, const uint8_t profile_id[CDP_KEYCACHE_ID_BYTES],
                     uint8_t data_key[CDP_KEYCACHE_KEY_BYTES], cdp_keycache_ticket *ticket);

/* Starts loading the profile's two buckets into the CPU cache without waiting for it, so a lookup
 * after other work (a RocksDB read) finds it there. Changes nothing; no lock. */
void cdp_keycache_prefetch(cdp_keycache *cache, const uint8_t profile_id[CDP_KEYCACHE_ID_BYTES]);

/* Remembers a key, in the emptier of its two buckets, evicting (CLOCK) when both are full. With a
 * ticket from cdp_keycache_get: only if no forget touched its buckets since (else nothing happens).
 * ticket NULL: unconditionally — only for a person no concurrent forget can concern (one just
 * created). */
void cdp_keycache_put(cdp_keycache *cache, const uint8_t profile_id[CDP_KEYCACHE_ID_BYTES],
                      const uint8_t data_key[CDP_KEYCACHE_KEY_BYTES],
                      const cdp_keycache_ticket *ticket);

/* Wipes the profile's entry, if any, and invalidates the tickets of loads in flight. */
void cdp_keycache_forget(cdp_keycache *cache, const uint8_t profile_id[CDP_KEYCACHE_ID_BYTES]);

/* Lookups that hit and missed since the cache was made (each stripe's counts under its lock). */
void cdp_keycache_stats(cdp_keycache *cache, uint64_t *hits, uint64_t *misses);

#endif
