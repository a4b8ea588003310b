/* The data-key cache: 4-way set-associative buckets, two candidate buckets per id ("two
 * choices": an id goes to the emptier one), CLOCK replacement within a bucket, a mutex per stripe
 * of buckets. With one choice, 4-way buckets at 76% fill lose about 11% of the entries they
 * should hold to collisions; with two, under 1%, which is that many fewer reads of the keys
 * column family. A bucket holds its state, its four ids and their four keys in 200 contiguous
 * bytes, so a bucket costs one page translation and three or four cache lines. The
 * buckets live in sodium_malloc chunks of 800 KiB: each chunk has its own guard pages and is
 * locked on its own, so when the cache is larger than RLIMIT_MEMLOCK (often 8 MiB) its first
 * chunks are still locked instead of none. */
#include "store/keycache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "crypto/random.h"
#include "util/alloc.h"

/* Enough stripes that threads seldom meet on one (with two threads, 1 lookup in 256), few enough
 * to stay in L2 (16 KiB). A per-bucket spinlock measured about 15 ns faster per lookup when
 * uncontended (30 vs 15 ns on a hot bucket; the same on a cold one), well under 1% of a get;
 * a mutex never spins on a preempted holder and keeps the hit counters exact. */
#define KEYCACHE_STRIPES 256
#define KEYCACHE_CACHE_LINE 64
#define CHUNK_BUCKETS 4096
/* Bucket indexes are 32-bit (multiply-shift over a 32-bit hash); 2^30 entries is 50 GiB. */
#define KEYCACHE_MAX_ENTRIES ((size_t)1 << 30)

#define WAYS CDP_KEYCACHE_WAYS
#define ALL_WAYS ((1u << WAYS) - 1)

_Static_assert(WAYS <= 8, "way bits fit a byte");

/* State first: a lookup reads the valid bits, then the ids, then one key. */
typedef struct keycache_bucket {
    uint32_t generation; /* bumped by every forget that lands in this bucket */
    uint8_t valid;       /* bit per way */
    uint8_t referenced;  /* CLOCK bit per way: set by a hit, cleared as the hand passes */
    uint8_t hand;        /* CLOCK hand: the next way to consider for eviction */
    uint8_t spare;
    uint8_t ids[WAYS][CDP_KEYCACHE_ID_BYTES];
    uint8_t keys[WAYS][CDP_KEYCACHE_KEY_BYTES];
} keycache_bucket;

typedef struct keycache_stripe {
    pthread_mutex_t mutex;
    uint64_t hits;
    uint64_t misses;
} keycache_stripe;

/* Table states. */
enum { TABLE_UNALLOCATED = 0, TABLE_READY = 1, TABLE_FAILED = 2 };

struct cdp_keycache {
    size_t bucket_count;
    size_t chunk_count;
    uint64_t seed[2];
    void *stripes_allocation;
    unsigned char *stripes; /* KEYCACHE_STRIPES cache-line-sized slots, line aligned */
    pthread_mutex_t table_mutex;
    atomic_int table_state;
    keycache_bucket **chunks; /* chunk_count sodium_malloc areas of CHUNK_BUCKETS (last: rest) */
};

_Static_assert(sizeof(keycache_stripe) <= KEYCACHE_CACHE_LINE, "a stripe fits a cache line");
_Static_assert(sizeof(keycache_bucket) ==
                   8 + WAYS * (CDP_KEYCACHE_ID_BYTES + CDP_KEYCACHE_KEY_BYTES),
               "no padding inside a bucket");

static keycache_stripe *stripe_at(const cdp_keycache *cache, size_t bucket) {
    return (keycache_stripe *)(cache->stripes + (bucket % KEYCACHE_STRIPES) * KEYCACHE_CACHE_LINE);
}

static keycache_bucket *bucket_at(const cdp_keycache *cache, size_t bucket) {
    return &cache->chunks[bucket / CHUNK_BUCKETS][bucket % CHUNK_BUCKETS];
}

static size_t chunk_buckets(const cdp_keycache *cache, size_t chunk) {
    size_t first = chunk * CHUNK_BUCKETS;
    return cache->bucket_count - first < CHUNK_BUCKETS ? cache->bucket_count - first
                                                       : CHUNK_BUCKETS;
}

/* The two candidate buckets of an id (equal now and then, which is harmless) and which of them
 * gives way when both are full. Profile ids are random, but a caller may look up any 16 bytes: a
 * per-cache random seed keeps the spread even whatever ids come in. */
typedef struct keycache_place {
    size_t bucket[2];
    unsigned evict_from; /* 0 or 1 */
} keycache_place;

static keycache_place place_of(const cdp_keycache *cache, const uint8_t id[CDP_KEYCACHE_ID_BYTES]) {
    uint64_t low, high;
    memcpy(&low, id, sizeof low);
    memcpy(&high, id + 8, sizeof high);
    uint64_t hash = (low ^ cache->seed[0]) * 0x9e3779b97f4a7c15ull;
    hash ^= (high ^ cache->seed[1]) * 0xc2b2ae3d27d4eb4full;
    hash ^= hash >> 29;
    hash *= 0xbf58476d1ce4e5b9ull;
    hash ^= hash >> 32;
    /* Multiply-shift maps each 32-bit half onto [0, bucket_count) without a division. */
    keycache_place place;
    place.bucket[0] = (size_t)(((hash >> 32) * (uint64_t)cache->bucket_count) >> 32);
    place.bucket[1] = (size_t)(((hash & 0xffffffffu) * (uint64_t)cache->bucket_count) >> 32);
    place.evict_from = (unsigned)(hash >> 31) & 1u;
    return place;
}

/* Locks the stripes of both candidate buckets, lower stripe first (so two threads never wait on
 * each other crosswise); once if they share a stripe. */
static void lock_place(const cdp_keycache *cache, const keycache_place *place) {
    size_t first = place->bucket[0] % KEYCACHE_STRIPES,
           second = place->bucket[1] % KEYCACHE_STRIPES;
    if (first > second) {
        size_t swap = first;
        first = second;
        second = swap;
    }
    pthread_mutex_lock(&stripe_at(cache, first)->mutex);
    if (second != first)
        pthread_mutex_lock(&stripe_at(cache, second)->mutex);
}

static void unlock_place(const cdp_keycache *cache, const keycache_place *place) {
    size_t first = place->bucket[0] % KEYCACHE_STRIPES,
           second = place->bucket[1] % KEYCACHE_STRIPES;
    pthread_mutex_unlock(&stripe_at(cache, first)->mutex);
    if (second != first)
        pthread_mutex_unlock(&stripe_at(cache, second)->mutex);
}

static int way_of(const keycache_bucket *bucket, const uint8_t id[CDP_KEYCACHE_ID_BYTES]) {
    for (unsigned way = 0; way < WAYS; way++)
        if ((bucket->valid & (1u << way)) && memcmp(bucket->ids[way], id, sizeof *bucket->ids) == 0)
            return (int)way;
    return -1;
}

cdp_status cdp_keycache_new(size_t entries, cdp_keycache **out, cdp_err *err) {
    *out = NULL;
    if (sodium_init() < 0)
        return cdp_err_set(err, CDP_INTERNAL, "libsodium failed to initialise");
    if (entries == 0)
        entries = CDP_KEYCACHE_DEFAULT_ENTRIES;
    if (entries > KEYCACHE_MAX_ENTRIES)
        entries = KEYCACHE_MAX_ENTRIES;
    cdp_keycache *cache = cdp_calloc(1, sizeof *cache);
    if (cache == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory for the data-key cache");
    cache->bucket_count = (entries + WAYS - 1) / WAYS;
    cache->chunk_count = (cache->bucket_count + CHUNK_BUCKETS - 1) / CHUNK_BUCKETS;
    cdp_random_bytes(cache->seed, sizeof cache->seed);
    cache->stripes_allocation =
        cdp_malloc(KEYCACHE_STRIPES * KEYCACHE_CACHE_LINE + KEYCACHE_CACHE_LINE - 1);
    if (cache->stripes_allocation == NULL) {
        cdp_free(cache);
        return cdp_err_set(err, CDP_NOMEM, "out of memory for the data-key cache");
    }
    uintptr_t start = (uintptr_t)cache->stripes_allocation;
    cache->stripes = (unsigned char *)cache->stripes_allocation +
                     ((KEYCACHE_CACHE_LINE - start % KEYCACHE_CACHE_LINE) % KEYCACHE_CACHE_LINE);
    for (size_t i = 0; i < KEYCACHE_STRIPES; i++) {
        keycache_stripe *stripe = stripe_at(cache, i);
        memset(stripe, 0, sizeof *stripe);
        pthread_mutex_init(&stripe->mutex, NULL);
    }
    pthread_mutex_init(&cache->table_mutex, NULL);
    atomic_init(&cache->table_state, TABLE_UNALLOCATED);
    *out = cache;
    return CDP_OK;
}

static void free_chunks(cdp_keycache *cache) {
    for (size_t i = 0; cache->chunks != NULL && i < cache->chunk_count; i++)
        if (cache->chunks[i] != NULL)
            sodium_free(cache->chunks[i]); /* zeroes the chunk before unmapping it */
    cdp_free(cache->chunks);
    cache->chunks = NULL;
}

void cdp_keycache_free(cdp_keycache *cache) {
    if (cache == NULL)
        return;
    free_chunks(cache);
    for (size_t i = 0; i < KEYCACHE_STRIPES; i++)
        pthread_mutex_destroy(&stripe_at(cache, i)->mutex);
    pthread_mutex_destroy(&cache->table_mutex);
    cdp_free(cache->stripes_allocation);
    cdp_free(cache);
}

size_t cdp_keycache_capacity(const cdp_keycache *cache) { return cache->bucket_count * WAYS; }

/* Allocates the chunks on first use. 1 when they are there; 0 when allocation failed (then the
 * cache stays empty for good: no ticket is ever valid, so nothing can be put). */
static int keycache_ready(cdp_keycache *cache) {
    int state = atomic_load_explicit(&cache->table_state, memory_order_acquire);
    if (state != TABLE_UNALLOCATED)
        return state == TABLE_READY;
    pthread_mutex_lock(&cache->table_mutex);
    state = atomic_load_explicit(&cache->table_state, memory_order_relaxed);
    if (state == TABLE_UNALLOCATED) {
        state = TABLE_READY;
        cache->chunks = cdp_calloc(cache->chunk_count, sizeof *cache->chunks);
        if (cache->chunks == NULL)
            state = TABLE_FAILED;
        for (size_t i = 0; state == TABLE_READY && i < cache->chunk_count; i++) {
            size_t bytes = chunk_buckets(cache, i) * sizeof(keycache_bucket);
            cache->chunks[i] = sodium_malloc(bytes);
            if (cache->chunks[i] == NULL)
                state = TABLE_FAILED;
            else
                memset(cache->chunks[i], 0, bytes); /* sodium_malloc fills with 0xdb */
        }
        if (state == TABLE_FAILED)
            free_chunks(cache);
        atomic_store_explicit(&cache->table_state, state, memory_order_release);
    }
    pthread_mutex_unlock(&cache->table_mutex);
    return state == TABLE_READY;
}

void cdp_keycache_prefetch(cdp_keycache *cache, const uint8_t profile_id[CDP_KEYCACHE_ID_BYTES]) {
    if (atomic_load_explicit(&cache->table_state, memory_order_acquire) != TABLE_READY)
        return;
    keycache_place place = place_of(cache, profile_id);
    for (int choice = 0; choice < 2; choice++) {
        const unsigned char *bucket = (const unsigned char *)bucket_at(cache, place.bucket[choice]);
        for (size_t offset = 0; offset < sizeof(keycache_bucket); offset += KEYCACHE_CACHE_LINE)
            __builtin_prefetch(bucket + offset);
        __builtin_prefetch(bucket + sizeof(keycache_bucket) - 1);
    }
}

int cdp_keycache_get(cdp_keycache *cache, const uint8_t profile_id[CDP_KEYCACHE_ID_BYTES],
                     uint8_t data_key[CDP_KEYCACHE_KEY_BYTES], cdp_keycache_ticket *ticket) {
    memset(ticket, 0, sizeof *ticket);
    if (!keycache_ready(cache)) {
        keycache_stripe *stripe = stripe_at(cache, 0);
        pthread_mutex_lock(&stripe->mutex);
        stripe->misses++;
        pthread_mutex_unlock(&stripe->mutex);
        return 0;
    }
    /* One bucket at a time: an entry never moves between its buckets, so looking at them in turn
     * finds it as surely as holding both locks would. */
    keycache_place place = place_of(cache, profile_id);
    int choices = place.bucket[1] == place.bucket[0] ? 1 : 2;
    for (int choice = 0; choice < choices; choice++) {
        keycache_stripe *stripe = stripe_at(cache, place.bucket[choice]);
        pthread_mutex_lock(&stripe->mutex);
        keycache_bucket *bucket = bucket_at(cache, place.bucket[choice]);
        int way = way_of(bucket, profile_id);
        if (way >= 0) {
            memcpy(data_key, bucket->keys[way], CDP_KEYCACHE_KEY_BYTES);
            bucket->referenced |= (uint8_t)(1u << way);
            stripe->hits++;
            pthread_mutex_unlock(&stripe->mutex);
            return 1;
        }
        ticket->generation[choice] = bucket->generation;
        if (choice == choices - 1)
            stripe->misses++;
        pthread_mutex_unlock(&stripe->mutex);
    }
    if (choices == 1)
        ticket->generation[1] = ticket->generation[0];
    ticket->valid = 1;
    return 0;
}

/* The way to fill: a free one, else the first the CLOCK hand finds not referenced since it last
 * passed (at most one full turn, clearing bits as it goes). */
static unsigned victim_of(keycache_bucket *bucket) {
    unsigned free_ways = ~bucket->valid & ALL_WAYS;
    if (free_ways != 0)
        return (unsigned)__builtin_ctz(free_ways);
    for (;;) {
        unsigned way = bucket->hand;
        bucket->hand = (uint8_t)((way + 1) % WAYS);
        if (!(bucket->referenced & (1u << way)))
            return way;
        bucket->referenced &= (uint8_t) ~(1u << way);
    }
}

void cdp_keycache_put(cdp_keycache *cache, const uint8_t profile_id[CDP_KEYCACHE_ID_BYTES],
                      const uint8_t data_key[CDP_KEYCACHE_KEY_BYTES],
                      const cdp_keycache_ticket *ticket) {
    if ((ticket != NULL && !ticket->valid) || !keycache_ready(cache))
        return;
    keycache_place place = place_of(cache, profile_id);
    lock_place(cache, &place);
    keycache_bucket *buckets[2] = {bucket_at(cache, place.bucket[0]),
                                   bucket_at(cache, place.bucket[1])};
    /* A forget bumps both generations, so either one having moved means an erasure came in
     * between: do nothing. */
    if (ticket == NULL || (buckets[0]->generation == ticket->generation[0] &&
                           buckets[1]->generation == ticket->generation[1])) {
        keycache_bucket *bucket = buckets[0];
        int way = way_of(bucket, profile_id);
        if (way < 0) {
            bucket = buckets[1];
            way = way_of(bucket, profile_id);
        }
        if (way < 0) {
            /* The emptier candidate; when both are full, the one this id evicts from. */
            int used[2] = {__builtin_popcount(buckets[0]->valid),
                           __builtin_popcount(buckets[1]->valid)};
            if (used[0] == WAYS && used[1] == WAYS)
                bucket = buckets[place.evict_from];
            else
                bucket = used[1] < used[0] ? buckets[1] : buckets[0];
            way = (int)victim_of(bucket);
            bucket->referenced &= (uint8_t) ~(1u << way);
        }
        memcpy(bucket->ids[way], profile_id, CDP_KEYCACHE_ID_BYTES);
        memcpy(bucket->keys[way], data_key, CDP_KEYCACHE_KEY_BYTES);
        bucket->valid |= (uint8_t)(1u << way);
    }
    unlock_place(cache, &place);
}

void cdp_keycache_forget(cdp_keycache *cache, const uint8_t profile_id[CDP_KEYCACHE_ID_BYTES]) {
    if (!keycache_ready(cache))
        return; /* nothing was ever cached, and no ticket is valid */
    keycache_place place = place_of(cache, profile_id);
    lock_place(cache, &place);
    for (int choice = 0; choice < 2; choice++) {
        keycache_bucket *bucket = bucket_at(cache, place.bucket[choice]);
        int way = way_of(bucket, profile_id);
        if (way >= 0) {
            sodium_memzero(bucket->keys[way], CDP_KEYCACHE_KEY_BYTES);
            sodium_memzero(bucket->ids[way], CDP_KEYCACHE_ID_BYTES);
            bucket->valid &= (uint8_t) ~(1u << way);
            bucket->referenced &= (uint8_t) ~(1u << way);
        }
        /* Even when absent: a load that missed before this call must not put the key back. */
        bucket->generation++;
    }
    unlock_place(cache, &place);
}

void cdp_keycache_stats(cdp_keycache *cache, uint64_t *hits, uint64_t *misses) {
    uint64_t total_hits = 0, total_misses = 0;
    for (size_t i = 0; i < KEYCACHE_STRIPES; i++) {
        keycache_stripe *stripe = stripe_at(cache, i);
        pthread_mutex_lock(&stripe->mutex);
        total_hits += stripe->hits;
        total_misses += stripe->misses;
        pthread_mutex_unlock(&stripe->mutex);
    }
    if (hits != NULL)
        *hits = total_hits;
    if (misses != NULL)
        *misses = total_misses;
}
