/* A region's RocksDB partition: column families, batches, reads, prefix iteration, purge.
 * Ciphertext does not compress, so compression is off; bloom filters keep point misses cheap;
 * the events family has a 16-byte (profile id) prefix extractor for per-person timelines. */
#include "store/region.h"
#include "store/sst_check.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/walk_cache.h"
#include "util/alloc.h"

static const char *const cf_names[CDP_CF_COUNT] = {
    "keys", "profiles", "events", "identity", "consent", "merges", "suppress", "audit", "meta",
};

/* RocksDB always has "default"; we keep it unused and open it first. */
#define CF_HANDLES (CDP_CF_COUNT + 1)
#define META_REGION_KEY "region"

struct cdp_region {
    rocksdb_t *db;
    rocksdb_options_t *db_options;
    rocksdb_options_t *cf_options[CF_HANDLES];
    rocksdb_block_based_table_options_t *table_options;
    rocksdb_cache_t *own_cache;
    rocksdb_column_family_handle_t *handles[CF_HANDLES];
    rocksdb_readoptions_t *read_options;
    rocksdb_writeoptions_t *write_sync;
    rocksdb_writeoptions_t *write_nosync;
    char *name;
    char *path;
    /* Set by the first failed write, WAL sync or flush (disk full, read-only file system, I/O
     * error): from then on writes are refused here, never passed to RocksDB again. Its WAL
     * writer is left in an error state that a later write can turn into an abort (RocksDB 7.8
     * asserts in WritableFileWriter), and a write that follows a lost one could be
     * acknowledged out of order. Reads go on; a restart, once the cause is fixed, recovers from
     * the WAL. */
    atomic_int write_failed;
    char write_failure[256];
    cdp_walk_cache *walk_cache; /* NULL: none (out of memory at open) */
};

struct cdp_batch {
    rocksdb_writebatch_t *batch;
    cdp_walk_touched touched; /* stripes of CDP_WALK_CACHE_CF this batch writes */
    int touches;
};

struct cdp_iter {
    rocksdb_iterator_t *iterator;
    rocksdb_readoptions_t *read_options;
    uint8_t *prefix;
    size_t prefix_len;
    uint8_t *upper_bound; /* must outlive the iterator (LIBRARIES.md) */
    size_t upper_bound_len;
    int has_upper_bound;
};

const char *cdp_cf_name(cdp_cf cf) {
    return (unsigned)cf < CDP_CF_COUNT ? cf_names[cf] : "unknown";
}

static rocksdb_column_family_handle_t *handle_of(const cdp_region *region, cdp_cf cf) {
    return region->handles[cf + 1];
}

static cdp_status rocks_error(cdp_err *err, char *rocks_message, const char *what,
                              const cdp_region *region) {
    cdp_status status = cdp_err_set(err, CDP_IO, "region %s: %s: %s",
                                    region && region->name ? region->name : "?", what,
                                    rocks_message ? rocks_message : "unknown error");
    if (rocks_message != NULL && strstr(rocks_message, "Corruption") != NULL)
        status = cdp_err_set(err, CDP_CORRUPT, "region %s: %s: %s",
                             region && region->name ? region->name : "?", what, rocks_message);
    rocksdb_free(rocks_message);
    return status;
}

static rocksdb_options_t *make_cf_options(const cdp_region *region, cdp_cf cf) {
    rocksdb_options_t *options = rocksdb_options_create();
    rocksdb_options_set_block_based_table_factory(options, region->table_options);
    rocksdb_options_set_compression(options, rocksdb_no_compression);
    if (cf == CDP_CF_KEYS || cf == CDP_CF_PROFILES || cf == CDP_CF_IDENTITY ||
        cf == CDP_CF_SUPPRESS) {
        /* Point look-ups, most of them misses at ingest (new identifiers): a bloom filter on the
         * memtable spares the skiplist search for keys that are not there. */
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(options, 0.1);
        rocksdb_options_set_memtable_whole_key_filtering(options, 1);
    }
    if (cf == CDP_CF_EVENTS || cf == CDP_CF_CONSENT || cf == CDP_CF_MERGES) {
        /* Keys start with the 16-byte profile id: prefix blooms make per-person scans cheap. */
        rocksdb_options_set_prefix_extractor(
            options, rocksdb_slicetransform_create_fixed_prefix(CDP_PROFILE_ID_BYTES));
    }
    return options;
}

void cdp_region_close(cdp_region *region) {
    if (region == NULL)
        return;
    for (int i = 0; i < CF_HANDLES; i++)
        if (region->handles[i] != NULL)
            rocksdb_column_family_handle_destroy(region->handles[i]);
    if (region->db != NULL)
        rocksdb_close(region->db);
    for (int i = 0; i < CF_HANDLES; i++)
        if (region->cf_options[i] != NULL)
            rocksdb_options_destroy(region->cf_options[i]);
    if (region->db_options != NULL)
        rocksdb_options_destroy(region->db_options);
    if (region->table_options != NULL)
        rocksdb_block_based_options_destroy(region->table_options);
    if (region->own_cache != NULL)
        rocksdb_cache_destroy(region->own_cache);
    if (region->read_options != NULL)
        rocksdb_readoptions_destroy(region->read_options);
    if (region->write_sync != NULL)
        rocksdb_writeoptions_destroy(region->write_sync);
    if (region->write_nosync != NULL)
        rocksdb_writeoptions_destroy(region->write_nosync);
    cdp_walk_cache_free(region->walk_cache);
    cdp_free(region->name);
    cdp_free(region->path);
    cdp_free(region);
}

/* A new partition records its region name; an existing one must carry the same name. */
static cdp_status check_region_name(cdp_region *region, int created, cdp_err *err) {
    uint8_t *stored = NULL;
    size_t stored_len = 0;
    cdp_status status =
        cdp_region_get(region, CDP_CF_META, (const uint8_t *)META_REGION_KEY,
                       strlen(META_REGION_KEY), &stored, &stored_len, err);
    if (status == CDP_NOT_FOUND) {
        if (!created)
            return cdp_err_set(err, CDP_CORRUPT, "%s: partition has no region name in meta",
                               region->path);
        cdp_batch *batch = cdp_batch_new();
        if (batch == NULL)
            return cdp_err_set(err, CDP_NOMEM, "out of memory");
        cdp_batch_put(batch, region, CDP_CF_META, (const uint8_t *)META_REGION_KEY,
                      strlen(META_REGION_KEY), (const uint8_t *)region->name,
                      strlen(region->name));
        status = cdp_region_write(region, batch, 1, err);
        cdp_batch_free(batch);
        return status;
    }
    if (status != CDP_OK)
        return status;
    int same = stored_len == strlen(region->name) && memcmp(stored, region->name, stored_len) == 0;
    cdp_region_free_value(stored);
    if (!same)
        return cdp_err_set(err, CDP_CORRUPT, "%s: partition belongs to another region, not %s",
                           region->path, region->name);
    return CDP_OK;
}

cdp_status cdp_region_open(const char *path, const char *region_name,
                           const cdp_region_options *options, cdp_region **out, cdp_err *err) {
    cdp_status status = CDP_OK;
    char *rocks_message = NULL;
    const char *names[CF_HANDLES];
    *out = NULL;
    cdp_region *region = cdp_calloc(1, sizeof *region);
    if (region == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory opening region %s", region_name);
    region->name = cdp_strdup(region_name);
    region->path = cdp_strdup(path);
    if (region->name == NULL || region->path == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "out of memory opening region %s", region_name);
        goto fail;
    }
    int create = options != NULL && options->create;
    struct stat info;
    int existed = stat(path, &info) == 0;
    if (!create && !existed) {
        status = cdp_err_set(err, CDP_NOT_FOUND, "region %s: no partition at %s", region_name,
                             path);
        goto fail;
    }

    region->table_options = rocksdb_block_based_options_create();
    rocksdb_cache_t *cache = options != NULL ? options->block_cache : NULL;
    if (cache == NULL)
        cache = region->own_cache = rocksdb_cache_create_lru(8u << 20);
    rocksdb_block_based_options_set_block_cache(region->table_options, cache);
    int bits = options != NULL && options->bloom_bits_per_key > 0 ? options->bloom_bits_per_key
                                                                   : 10;
    rocksdb_block_based_options_set_filter_policy(region->table_options,
                                                  rocksdb_filterpolicy_create_bloom_full(bits));
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(region->table_options, 1);
    rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(
        region->table_options, 1);

    region->db_options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(region->db_options, (unsigned char)create);
    rocksdb_options_set_create_missing_column_families(region->db_options,
                                                       (unsigned char)create);
    rocksdb_options_set_max_background_jobs(region->db_options, 2);
    /* Recycled WAL files would keep old records readable in their tails: never recycle. */
    rocksdb_options_set_recycle_log_file_num(region->db_options, 0);
    /* One flush covers every column family, so a purge releases every WAL file at once. */
    rocksdb_options_set_atomic_flush(region->db_options, 1);
    rocksdb_options_set_keep_log_file_num(region->db_options, 4);
    /* FATAL only: after a failed append (disk full) RocksDB's info-log writer is left in an
     * error state, and its next message (the disk-full recovery thread logs every few seconds)
     * aborts the process in RocksDB 7.8 (an assertion in WritableFileWriter). Our own errors
     * reach stderr with the RocksDB reason. */
    rocksdb_options_set_info_log_level(region->db_options, 4 /* FATAL */);
    rocksdb_options_set_wal_recovery_mode(region->db_options, 2 /* point in time */);

    /* Refuse a damaged partition at open, naming the file, rather than serve until a read
     * happens to touch the bad block. paranoid_checks (RocksDB's default, stated here) covers
     * the MANIFEST and the files' metadata; the block checksums are checked here. */
    rocksdb_options_set_paranoid_checks(region->db_options, 1);
    if (existed) {
        char sst_message[512];
        int checked = cdp_sst_check_dir(path, sst_message, sizeof sst_message);
        if (checked != CDP_SST_OK) {
            status = cdp_err_set(err, checked == CDP_SST_CORRUPT ? CDP_CORRUPT : CDP_IO,
                                 "region %s: %s; the partition is damaged: restore it from a "
                                 "backup (cdpctl restore)",
                                 region_name, sst_message);
            goto fail;
        }
    }

    names[0] = "default";
    region->cf_options[0] = make_cf_options(region, CDP_CF_META);
    for (int i = 0; i < CDP_CF_COUNT; i++) {
        names[i + 1] = cf_names[i];
        region->cf_options[i + 1] = make_cf_options(region, (cdp_cf)i);
    }
    region->db = rocksdb_open_column_families(
        region->db_options, path, CF_HANDLES, names,
        (const rocksdb_options_t *const *)region->cf_options, region->handles, &rocks_message);
    if (region->db == NULL) {
        status = rocks_error(err, rocks_message, "open", region);
        goto fail;
    }
    region->read_options = rocksdb_readoptions_create();
    region->write_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(region->write_sync, 1);
    region->write_nosync = rocksdb_writeoptions_create();
    status = check_region_name(region, !existed || create, err);
    if (status != CDP_OK)
        goto fail;
    region->walk_cache = cdp_walk_cache_new(); /* NULL: reads just walk every time */
    *out = region;
    return CDP_OK;
fail:
    cdp_region_close(region);
    return status;
}

const char *cdp_region_name(const cdp_region *region) { return region->name; }
const char *cdp_region_path(const cdp_region *region) { return region->path; }

cdp_status cdp_region_get(cdp_region *region, cdp_cf cf, const uint8_t *key, size_t key_len,
                          uint8_t **value, size_t *value_len, cdp_err *err) {
    char *rocks_message = NULL;
    size_t len = 0;
    *value = NULL;
    *value_len = 0;
    char *found = rocksdb_get_cf(region->db, region->read_options, handle_of(region, cf),
                                 (const char *)key, key_len, &len, &rocks_message);
    if (rocks_message != NULL)
        return rocks_error(err, rocks_message, cf_names[cf], region);
    if (found == NULL)
        return cdp_err_set(err, CDP_NOT_FOUND, "%s: no such key", cf_names[cf]);
    *value = (uint8_t *)found;
    *value_len = len;
    return CDP_OK;
}

cdp_status cdp_region_multi_get(cdp_region *region, size_t count, const cdp_cf *cfs,
                                const uint8_t *const *keys, const size_t *key_lens,
                                uint8_t **values, size_t *value_lens, cdp_status *statuses,
                                cdp_err *err) {
    enum { SMALL = 8 };
    const rocksdb_column_family_handle_t *small_handles[SMALL] = {0};
    char *small_errors[SMALL] = {0};
    const rocksdb_column_family_handle_t **handles = small_handles;
    char **errors = small_errors;
    if (count > SMALL) {
        handles = cdp_malloc(count * sizeof *handles);
        errors = cdp_malloc(count * sizeof *errors);
        if (handles == NULL || errors == NULL) {
            cdp_free(handles);
            cdp_free(errors);
            return cdp_err_set(err, CDP_NOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < count; i++)
        handles[i] = handle_of(region, cfs[i]);
    rocksdb_multi_get_cf(region->db, region->read_options, handles, count,
                         (const char *const *)keys, key_lens, (char **)values, value_lens, errors);
    cdp_status status = CDP_OK;
    for (size_t i = 0; i < count; i++) {
        if (errors[i] != NULL) {
            if (status == CDP_OK)
                status = rocks_error(err, errors[i], cf_names[cfs[i]], region);
            else
                rocksdb_free(errors[i]);
            statuses[i] = CDP_IO;
        } else {
            statuses[i] = values[i] != NULL ? CDP_OK : CDP_NOT_FOUND;
        }
    }
    if (handles != small_handles) {
        cdp_free(handles);
        cdp_free(errors);
    }
    return status;
}

void cdp_region_free_value(void *value) {
    if (value != NULL)
        rocksdb_free(value);
}

cdp_batch *cdp_batch_new(void) {
    cdp_batch *batch = cdp_calloc(1, sizeof *batch);
    if (batch != NULL)
        batch->batch = rocksdb_writebatch_create();
    return batch;
}

void cdp_batch_free(cdp_batch *batch) {
    if (batch == NULL)
        return;
    rocksdb_writebatch_destroy(batch->batch);
    cdp_free(batch);
}

void cdp_batch_clear(cdp_batch *batch) {
    rocksdb_writebatch_clear(batch->batch);
    memset(&batch->touched, 0, sizeof batch->touched);
    batch->touches = 0;
}

static void batch_touch(cdp_batch *batch, cdp_cf cf, const uint8_t *key, size_t key_len) {
    if (cf != CDP_WALK_CACHE_CF)
        return;
    batch->touches = 1;
    if (key == NULL)
        batch->touched.all = 1;
    else
        cdp_walk_touch(&batch->touched, key, key_len);
}

cdp_walk_cache *cdp_region_walk_cache(cdp_region *region) { return region->walk_cache; }

int cdp_batch_count(const cdp_batch *batch) {
    return rocksdb_writebatch_count(batch->batch);
}

void cdp_batch_put(cdp_batch *batch, cdp_region *region, cdp_cf cf, const uint8_t *key,
                   size_t key_len, const uint8_t *value, size_t value_len) {
    batch_touch(batch, cf, key, key_len);
    rocksdb_writebatch_put_cf(batch->batch, handle_of(region, cf), (const char *)key, key_len,
                              (const char *)value, value_len);
}

void cdp_batch_delete(cdp_batch *batch, cdp_region *region, cdp_cf cf, const uint8_t *key,
                      size_t key_len) {
    batch_touch(batch, cf, key, key_len);
    rocksdb_writebatch_delete_cf(batch->batch, handle_of(region, cf), (const char *)key, key_len);
}

void cdp_batch_delete_range(cdp_batch *batch, cdp_region *region, cdp_cf cf,
                            const uint8_t *start, size_t start_len, const uint8_t *end,
                            size_t end_len) {
    batch_touch(batch, cf, NULL, 0); /* a range: every stripe */
    rocksdb_writebatch_delete_range_cf(batch->batch, handle_of(region, cf), (const char *)start,
                                       start_len, (const char *)end, end_len);
}

/* CDP_IO when an earlier write failed (see write_failed). */
static cdp_status writes_stopped(cdp_region *region, cdp_err *err) {
    if (!atomic_load(&region->write_failed))
        return CDP_OK;
    return cdp_err_set(err, CDP_IO,
                       "region %s: writes stopped after a failed write (%s); reads go on: "
                       "restart once the cause is fixed",
                       region->name, region->write_failure);
}

/* Turns a RocksDB error of a write path into our error and stops further writes. */
static cdp_status write_error(cdp_region *region, char *rocks_message, const char *what,
                              cdp_err *err) {
    if (!atomic_exchange(&region->write_failed, 1))
        snprintf(region->write_failure, sizeof region->write_failure, "%s: %s", what,
                 rocks_message);
    return rocks_error(err, rocks_message, what, region);
}

cdp_status cdp_region_write(cdp_region *region, cdp_batch *batch, int sync, cdp_err *err) {
    char *rocks_message = NULL;
    cdp_status status = writes_stopped(region, err);
    if (status != CDP_OK)
        return status;
    rocksdb_write(region->db, sync ? region->write_sync : region->write_nosync, batch->batch,
                  &rocks_message);
    /* After the write is applied (bumping on a failed write only costs a cache miss). */
    if (batch->touches && region->walk_cache != NULL)
        cdp_walk_cache_bump(region->walk_cache, &batch->touched);
    if (rocks_message != NULL)
        return write_error(region, rocks_message, "write", err);
    return CDP_OK;
}

cdp_status cdp_region_sync_wal(cdp_region *region, cdp_err *err) {
    char *rocks_message = NULL;
    cdp_status status = writes_stopped(region, err);
    if (status != CDP_OK)
        return status;
    rocksdb_flush_wal(region->db, 1, &rocks_message);
    if (rocks_message != NULL)
        return write_error(region, rocks_message, "WAL sync", err);
    return CDP_OK;
}

/* The smallest key greater than every key with this prefix: the prefix with its last non-0xff
 * byte incremented and the rest dropped. Returns 0 when no such key exists (all 0xff). */
static int prefix_successor(const uint8_t *prefix, size_t len, uint8_t *out, size_t *out_len) {
    size_t n = len;
    while (n > 0 && prefix[n - 1] == 0xff)
        n--;
    if (n == 0)
        return 0;
    memcpy(out, prefix, n);
    out[n - 1]++;
    *out_len = n;
    return 1;
}

/* An iterator over the prefix, not yet positioned. */
static cdp_status iter_create(cdp_region *region, cdp_cf cf, const uint8_t *prefix,
                              size_t prefix_len, cdp_iter **out, cdp_err *err) {
    *out = NULL;
    cdp_iter *iter = cdp_calloc(1, sizeof *iter);
    if (iter == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    iter->read_options = rocksdb_readoptions_create();
    if (prefix_len > 0) {
        iter->prefix = cdp_malloc(prefix_len);
        iter->upper_bound = cdp_malloc(prefix_len);
        if (iter->prefix == NULL || iter->upper_bound == NULL) {
            cdp_iter_free(iter);
            return cdp_err_set(err, CDP_NOMEM, "out of memory");
        }
        memcpy(iter->prefix, prefix, prefix_len);
        iter->prefix_len = prefix_len;
        iter->has_upper_bound =
            prefix_successor(prefix, prefix_len, iter->upper_bound, &iter->upper_bound_len);
        if (iter->has_upper_bound)
            rocksdb_readoptions_set_iterate_upper_bound(
                iter->read_options, (const char *)iter->upper_bound, iter->upper_bound_len);
    }
    rocksdb_readoptions_set_total_order_seek(iter->read_options, 1);
    iter->iterator = rocksdb_create_iterator_cf(region->db, iter->read_options,
                                                handle_of(region, cf));
    *out = iter;
    return CDP_OK;
}

cdp_status cdp_region_iter(cdp_region *region, cdp_cf cf, const uint8_t *prefix,
                           size_t prefix_len, cdp_iter **out, cdp_err *err) {
    cdp_status status = iter_create(region, cf, prefix, prefix_len, out, err);
    if (status != CDP_OK)
        return status;
    if (prefix_len > 0)
        rocksdb_iter_seek((*out)->iterator, (const char *)prefix, prefix_len);
    else
        rocksdb_iter_seek_to_first((*out)->iterator);
    return CDP_OK;
}

cdp_status cdp_region_iter_last(cdp_region *region, cdp_cf cf, const uint8_t *prefix,
                                size_t prefix_len, cdp_iter **out, cdp_err *err) {
    cdp_status status = iter_create(region, cf, prefix, prefix_len, out, err);
    if (status == CDP_OK)
        cdp_iter_seek_last(*out);
    return status;
}

void cdp_iter_seek_last(cdp_iter *iter) {
    if (iter->has_upper_bound)
        rocksdb_iter_seek_for_prev(iter->iterator, (const char *)iter->upper_bound,
                                   iter->upper_bound_len);
    else
        rocksdb_iter_seek_to_last(iter->iterator);
    /* seek_for_prev lands on the bound itself if it exists; the bound is outside the prefix. */
    size_t len = 0;
    if (rocksdb_iter_valid(iter->iterator)) {
        const char *key = rocksdb_iter_key(iter->iterator, &len);
        if (iter->has_upper_bound && len == iter->upper_bound_len &&
            memcmp(key, iter->upper_bound, len) == 0)
            rocksdb_iter_prev(iter->iterator);
    }
}

int cdp_iter_valid(const cdp_iter *iter) {
    if (!rocksdb_iter_valid(iter->iterator))
        return 0;
    if (iter->prefix_len == 0)
        return 1;
    size_t len = 0;
    const char *key = rocksdb_iter_key(iter->iterator, &len);
    return len >= iter->prefix_len && memcmp(key, iter->prefix, iter->prefix_len) == 0;
}

void cdp_iter_next(cdp_iter *iter) { rocksdb_iter_next(iter->iterator); }
void cdp_iter_prev(cdp_iter *iter) { rocksdb_iter_prev(iter->iterator); }

const uint8_t *cdp_iter_key(const cdp_iter *iter, size_t *len) {
    return (const uint8_t *)rocksdb_iter_key(iter->iterator, len);
}

const uint8_t *cdp_iter_value(const cdp_iter *iter, size_t *len) {
    return (const uint8_t *)rocksdb_iter_value(iter->iterator, len);
}

cdp_status cdp_iter_status(const cdp_iter *iter, cdp_err *err) {
    char *rocks_message = NULL;
    rocksdb_iter_get_error(iter->iterator, &rocks_message);
    if (rocks_message != NULL)
        return rocks_error(err, rocks_message, "iterate", NULL);
    return CDP_OK;
}

void cdp_iter_free(cdp_iter *iter) {
    if (iter == NULL)
        return;
    if (iter->iterator != NULL)
        rocksdb_iter_destroy(iter->iterator);
    if (iter->read_options != NULL)
        rocksdb_readoptions_destroy(iter->read_options);
    cdp_free(iter->prefix);
    cdp_free(iter->upper_bound);
    cdp_free(iter);
}

cdp_status cdp_region_flush(cdp_region *region, cdp_err *err) {
    char *rocks_message = NULL;
    cdp_status status = writes_stopped(region, err);
    if (status != CDP_OK)
        return status;
    rocksdb_flushoptions_t *flush = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(flush, 1);
    /* With atomic_flush, flushing each family in turn still cuts every memtable; flush them all
     * so no family keeps an old WAL file alive. */
    for (int i = 0; i < CF_HANDLES && rocks_message == NULL; i++)
        rocksdb_flush_cf(region->db, flush, region->handles[i], &rocks_message);
    rocksdb_flushoptions_destroy(flush);
    if (rocks_message != NULL)
        return write_error(region, rocks_message, "flush", err);
    return CDP_OK;
}

cdp_status cdp_region_compact(cdp_region *region, cdp_cf cf, const uint8_t *start,
                              size_t start_len, const uint8_t *end, size_t end_len,
                              cdp_err *err) {
    (void)err;
    rocksdb_compactoptions_t *compact = rocksdb_compactoptions_create();
    rocksdb_compactoptions_set_bottommost_level_compaction(compact, 2 /* kForce */);
    rocksdb_compactoptions_set_exclusive_manual_compaction(compact, 0);
    rocksdb_compact_range_cf_opt(region->db, handle_of(region, cf), compact,
                                 (const char *)start, start ? start_len : 0, (const char *)end,
                                 end ? end_len : 0);
    rocksdb_compactoptions_destroy(compact);
    return CDP_OK;
}

cdp_status cdp_region_purge(cdp_region *region, cdp_err *err) {
    cdp_status status = cdp_region_flush(region, err);
    for (int i = 0; status == CDP_OK && i < CDP_CF_COUNT; i++)
        status = cdp_region_compact(region, (cdp_cf)i, NULL, 0, NULL, 0, err);
    return status;
}

cdp_status cdp_region_property(cdp_region *region, cdp_cf cf, const char *property,
                               uint64_t *value, cdp_err *err) {
    if (rocksdb_property_int_cf(region->db, handle_of(region, cf), property, value) != 0)
        return cdp_err_set(err, CDP_NOT_FOUND, "%s: no integer property %s", cf_names[cf],
                           property);
    return CDP_OK;
}

cdp_status cdp_region_checkpoint(cdp_region *region, const char *path, cdp_err *err) {
    char *error = NULL;
    rocksdb_checkpoint_t *checkpoint = rocksdb_checkpoint_object_create(region->db, &error);
    /* log_size_for_flush 0: always flush first, so the copy needs no WAL replay. */
    if (error == NULL)
        rocksdb_checkpoint_create(checkpoint, path, 0, &error);
    cdp_status status = CDP_OK;
    if (error != NULL) {
        status = cdp_err_set(err, CDP_IO, "region %s: checkpoint to %s: %s", region->name, path,
                             error);
        rocksdb_free(error);
    }
    if (checkpoint != NULL)
        rocksdb_checkpoint_object_destroy(checkpoint);
    return status;
}
