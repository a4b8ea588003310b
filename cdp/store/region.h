/* One region's partition: a RocksDB instance in DATA/regions/<region>/ with the column families
 * of DESIGN.md, bloom filters, a shared block cache, atomic multi-column-family batches, prefix
 * iteration and physical purge. Knows nothing of encryption: cdp/store/vault.c seals what goes
 * into the personal-data column families, and only cdp/access (through the vault) reaches them.
 * Thread-safe: RocksDB handles are; a batch or iterator belongs to one thread at a time. */
#ifndef CDP_STORE_REGION_H
#define CDP_STORE_REGION_H

#include <rocksdb/c.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef enum cdp_cf {
    CDP_CF_KEYS = 0, /* profile id -> wrapped data key */
    CDP_CF_PROFILES, /* profile id -> AEAD(profile) */
    CDP_CF_EVENTS,   /* profile id || time (BE) || event id -> AEAD(event) */
    CDP_CF_IDENTITY, /* blind(type, value) -> profile id */
    CDP_CF_CONSENT,  /* profile id || purpose -> AEAD(consent record) */
    CDP_CF_MERGES,   /* profile id || seq -> AEAD(merge history) */
    CDP_CF_SUPPRESS, /* blind(type, value) -> erasure reference */
    CDP_CF_AUDIT,    /* seq (BE) -> audit record (no personal data) */
    CDP_CF_META,     /* name -> schema fingerprints, key versions, counters */
    CDP_CF_COUNT
} cdp_cf;

/* "keys", "profiles", ... Static storage. */
const char *cdp_cf_name(cdp_cf cf);

#define CDP_PROFILE_ID_BYTES 16

typedef struct cdp_region cdp_region;

typedef struct cdp_region_options {
    rocksdb_cache_t *block_cache; /* shared; borrowed, must outlive the region; NULL: own 8 MiB */
    int create;                   /* create the directory and column families if missing */
    int bloom_bits_per_key;       /* 0: 10 */
} cdp_region_options;

/* Opens (or with options->create, creates) the partition at path for the named region. A region
 * directory records its own name in `meta`: opening it as another region is CDP_CORRUPT.
 * Caller owns *out (free with cdp_region_close). */
cdp_status cdp_region_open(const char *path, const char *region_name,
                           const cdp_region_options *options, cdp_region **out, cdp_err *err);
void cdp_region_close(cdp_region *region); /* accepts NULL */

const char *cdp_region_name(const cdp_region *region); /* borrowed until close */
const char *cdp_region_path(const cdp_region *region);

/* Point read. CDP_NOT_FOUND when absent. Caller owns *value (free with cdp_region_free_value). */
cdp_status cdp_region_get(cdp_region *region, cdp_cf cf, const uint8_t *key, size_t key_len,
                          uint8_t **value, size_t *value_len, cdp_err *err);
/* Reads several (cf, key) pairs in one call; statuses[i] is CDP_OK or CDP_NOT_FOUND, and values[i]
 * is owned by the caller (cdp_region_free_value) when found. Returns the first hard error. */
cdp_status cdp_region_multi_get(cdp_region *region, size_t count, const cdp_cf *cfs,
                                const uint8_t *const *keys, const size_t *key_lens,
                                uint8_t **values, size_t *value_lens, cdp_status *statuses,
                                cdp_err *err);
void cdp_region_free_value(void *value); /* accepts NULL */

/* An atomic write across column families. */
typedef struct cdp_batch cdp_batch;
cdp_batch *cdp_batch_new(void); /* NULL when out of memory; caller frees with cdp_batch_free */
void cdp_batch_free(cdp_batch *batch); /* accepts NULL */
void cdp_batch_clear(cdp_batch *batch);
int cdp_batch_count(const cdp_batch *batch);
/* The region is needed to name the column family handles. */
void cdp_batch_put(cdp_batch *batch, cdp_region *region, cdp_cf cf, const uint8_t *key,
                   size_t key_len, const uint8_t *value, size_t value_len);
void cdp_batch_delete(cdp_batch *batch, cdp_region *region, cdp_cf cf, const uint8_t *key,
                      size_t key_len);
void cdp_batch_delete_range(cdp_batch *batch, cdp_region *region, cdp_cf cf,
                            const uint8_t *start, size_t start_len, const uint8_t *end,
                            size_t end_len);

/* Applies the batch atomically. sync=1: durable (fsync of the WAL) when this returns. */
cdp_status cdp_region_write(cdp_region *region, cdp_batch *batch, int sync, cdp_err *err);

/* Makes every write so far durable: syncs the WAL (group commit for writes made with sync=0). */
cdp_status cdp_region_sync_wal(cdp_region *region, cdp_err *err);

/* Iterates the keys of cf that start with prefix (all keys when prefix_len is 0), in order. */
typedef struct cdp_iter cdp_iter;
cdp_status cdp_region_iter(cdp_region *region, cdp_cf cf, const uint8_t *prefix,
                           size_t prefix_len, cdp_iter **out, cdp_err *err);
/* Positions at the last key with the prefix (for newest-first timelines). */
void cdp_iter_seek_last(cdp_iter *iter);
/* cdp_region_iter positioned at the last key with the prefix: one seek instead of two (the
 * newest-first reads: consent, timelines). */
cdp_status cdp_region_iter_last(cdp_region *region, cdp_cf cf, const uint8_t *prefix,
                                size_t prefix_len, cdp_iter **out, cdp_err *err);
int cdp_iter_valid(const cdp_iter *iter);
void cdp_iter_next(cdp_iter *iter);
void cdp_iter_prev(cdp_iter *iter);
/* Borrowed until the iterator moves or is freed. */
const uint8_t *cdp_iter_key(const cdp_iter *iter, size_t *len);
const uint8_t *cdp_iter_value(const cdp_iter *iter, size_t *len);
/* CDP_OK, or the error that ended the iteration early. */
cdp_status cdp_iter_status(const cdp_iter *iter, cdp_err *err);
void cdp_iter_free(cdp_iter *iter); /* accepts NULL */

/* Physical purge: flushes every memtable to SST, then compacts every column family over its whole
 * range with bottommost compaction forced, so deleted values are gone from live SST files, and
 * the WAL files that held them are released (RocksDB deletes obsolete WAL after the flush). */
cdp_status cdp_region_purge(cdp_region *region, cdp_err *err);
/* Flushes memtables of every column family (and thus the WAL) to SST. */
cdp_status cdp_region_flush(cdp_region *region, cdp_err *err);
/* Compacts the given key range of one column family, bottommost forced (NULL ends: unbounded). */
cdp_status cdp_region_compact(cdp_region *region, cdp_cf cf, const uint8_t *start,
                              size_t start_len, const uint8_t *end, size_t end_len,
                              cdp_err *err);

/* A RocksDB property of one column family as a number (e.g. "rocksdb.estimate-num-keys"). */
cdp_status cdp_region_property(cdp_region *region, cdp_cf cf, const char *property,
                               uint64_t *value, cdp_err *err);

/* A consistent copy of the whole region at path (which must not exist), made with a RocksDB
 * checkpoint: the memtables are flushed first, SST files are hard-linked where path is on the
 * same file system, copied otherwise. Opens as a region of the same name. */
cdp_status cdp_region_checkpoint(cdp_region *region, const char *path, cdp_err *err);

#endif
