/* The data-key cache: 4-way set-associative buckets, CLOCK replacement within a bucket, a mutex
 * per stripe of buckets. A bucket holds its state, its four ids and their four keys in 200
 * contiguous bytes, so a lookup costs one page translation and three or four cache lines. The
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
#define TICKET_VALID ((uint64_t)1 << 32)

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
    return (keycache_stripe *)(cache->stripes +
                               (bucket % KEYCACHE_STRIPES) * KEYCACHE_CACHE_LINE);
}

static keycache_bucket *bucket_at(const cdp_keycache *cache, size_t bucket) {
    return &cache->chunks[bucket / CHUNK_BUCKETS][bucket % CHUNK_BUCKETS];
}

static size_t chunk_buckets(const cdp_keycache *cache, size_t chunk) {
    size_t first = chunk * CHUNK_BUCKETS;
    return cache->bucket_count - first < CHUNK_BUCKETS ? cache->bucket_count - first
                                                       : CHUNK_BUCKETS;
}

/* Profile ids are random, but a caller may look up any 16 bytes: a per-cache random seed keeps
 * the spread even whatever ids come in. */
static size_t bucket_of(const cdp_keycache *cache, const uint8_t id[CDP_KEYCACHE_ID_BYTES]) {
    uint64_t low, high;
    memcpy(&low, id, sizeof low);
    memcpy(&high, id + 8, sizeof high);
    uint64_t hash = (low ^ cache->seed[0]) * 0x9e3779b97f4a7c15ull;
    hash ^= (high ^ cache->seed[1]) * 0xc2b2ae3d27d4eb4full;
    hash ^= hash >> 29;
    /* Multiply-shift maps the top 32 bits onto [0, bucket_count) without a division. */
    return (size_t)(((hash >> 32) * (uint64_t)cache->bucket_count) >> 32);
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
    const unsigned char *bucket = (const unsigned char *)bucket_at(cache, bucket_of(cache, profile_id));
    for (size_t offset = 0; offset < sizeof(keycache_bucket); offset += KEYCACHE_CACHE_LINE)
        __builtin_prefetch(bucket + offset);
    __builtin_prefetch(bucket + sizeof(keycache_bucket) - 1);
}

int cdp_keycache_get(cdp_keycache *cache, const uint8_t profile_id[CDP_KEYCACHE_ID_BYTES],
                     uint8_t data_key[CDP_KEYCACHE_KEY_BYTES], cdp_keycache_ticket *ticket) {
    *ticket = 0;
    int ready = keycache_ready(cache);
    size_t index = ready ? bucket_of(cache, profile_id) : 0;
    keycache_stripe *stripe = stripe_at(cache, index);
    int hit = 0;
    pthread_mutex_lock(&stripe->mutex);
    if (ready) {
        keycache_bucket *bucket = bucket_at(cache, index);
        int way = way_of(bucket, profile_id);
        if (way >= 0) {
            memcpy(data_key, bucket->keys[way], CDP_KEYCACHE_KEY_BYTES);
            bucket->referenced |= (uint8_t)(1u << way);
            hit = 1;
        } else {
            *ticket = TICKET_VALID | bucket->generation;
        }
    }
    if (hit)
        stripe->hits++;
    else
        stripe->misses++;
    pthread_mutex_unlock(&stripe->mutex);
    return hit;
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
        bucket->referenced &= (uint8_t)~(1u << way);
    }
}

void cdp_keycache_put(cdp_keycache *cache, const uint8_t profile_id[CDP_KEYCACHE_ID_BYTES],
                      const uint8_t data_key[CDP_KEYCACHE_KEY_BYTES],
                      const cdp_keycache_ticket *ticket) {
    if ((ticket != NULL && *ticket == 0) || !keycache_ready(cache))
        return;
    size_t index = bucket_of(cache, profile_id);
    keycache_stripe *stripe = stripe_at(cache, index);
    pthread_mutex_lock(&stripe->mutex);
    keycache_bucket *bucket = bucket_at(cache, index);
    if (ticket == NULL || (uint32_t)*ticket == bucket->generation) {
        int found = way_of(bucket, profile_id);
        unsigned way = found >= 0 ? (unsigned)found : victim_of(bucket);
        memcpy(bucket->ids[way], profile_id, CDP_KEYCACHE_ID_BYTES);
        memcpy(bucket->keys[way], data_key, CDP_KEYCACHE_KEY_BYTES);
        bucket->valid |= (uint8_t)(1u << way);
        if (found < 0)
            bucket->referenced &= (uint8_t)~(1u << way);
    }
    pthread_mutex_unlock(&stripe->mutex);
}

void cdp_keycache_forget(cdp_keycache *cache, const uint8_t profile_id[CDP_KEYCACHE_ID_BYTES]) {
    if (!keycache_ready(cache))
        return; /* nothing was ever cached, and no ticket is valid */
    size_t index = bucket_of(cache, profile_id);
    keycache_stripe *stripe = stripe_at(cache, index);
    pthread_mutex_lock(&stripe->mutex);
    keycache_bucket *bucket = bucket_at(cache, index);
    int way = way_of(bucket, profile_id);
    if (way >= 0) {
        sodium_memzero(bucket->keys[way], CDP_KEYCACHE_KEY_BYTES);
        sodium_memzero(bucket->ids[way], CDP_KEYCACHE_ID_BYTES);
        bucket->valid &= (uint8_t)~(1u << way);
        bucket->referenced &= (uint8_t)~(1u << way);
    }
    /* Even when absent: a load that missed before this call must not put the key back. */
    bucket->generation++;
    pthread_mutex_unlock(&stripe->mutex);
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
