/* cdp — the public library API.
 *
 * One opaque handle (cdp_t) per open data directory. Every function returns a cdp_status
 * (include/cdp/error.h); on failure, cdp_errmsg() gives a message naming the field and the
 * reason. The handle is thread-safe: any number of threads may call into it concurrently, except
 * that cdp_close must be the last call. Ownership of anything returned is stated per function,
 * with the phrases "caller owns (free with X)", "borrowed until Y" and "takes ownership". */
#ifndef CDP_CDP_H
#define CDP_CDP_H

#include <stddef.h>
#include <stdint.h>

#include "cdp/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CDP_VERSION_STRING "0.1.0"

typedef struct cdp cdp_t;

#define CDP_REGION_ID_MAX 16

typedef struct cdp_options {
    /* With create: the policy bundle to copy into the data directory (NULL: the bundle the
     * library was built with). Ignored otherwise: an open data directory uses its own copy. */
    const char *policy_dir;
    /* Shared RocksDB block cache across regions (0: 256 MiB). */
    size_t block_cache_bytes;
    /* 1: create a new data directory: root key (DIR/root.key, mode 0600, unless CDP_ROOT_KEY is
     * set in the environment), sealed keystore, policy copy, one partition per region.
     * Refuses an existing directory (CDP_EXISTS). 0: open an existing one. */
    int create;
} cdp_options;

/* Fills *options with the defaults (open an existing directory). */
void cdp_options_default(cdp_options *options);

/* Opens (or creates) the data directory. On success *out is an open handle. On failure *out is
 * still a handle when memory allowed, so cdp_errmsg(*out) can say why; close it either way.
 * Caller owns *out (free with cdp_close). The root key comes from CDP_ROOT_KEY (64 hex
 * characters) when set, else DIR/root.key, which must not be readable by group or others
 * (CDP_INSECURE). A wrong root key is CDP_BAD_KEY; a bad policy bundle is CDP_BAD_POLICY with
 * every problem listed as "file: path: reason". */
cdp_status cdp_open(const char *data_dir, const cdp_options *options, cdp_t **out);

/* Flushes, closes every region, wipes every key from memory, frees the handle. Accepts NULL. */
void cdp_close(cdp_t *db);

/* The message of the last failed call on this handle from the calling thread; "" if none.
 * Borrowed until the next call on the handle from this thread. db may be NULL (then the last
 * failure of cdp_open on this thread). */
const char *cdp_errmsg(const cdp_t *db);

/* The regions of the data directory's policy bundle, in bundle order. Borrowed until close. */
size_t cdp_region_count(const cdp_t *db);
const char *cdp_region_id(const cdp_t *db, size_t index);

/* Closes the region's key epoch: every surviving person's data key is re-wrapped under a fresh
 * KEK and their identity index moved to a fresh blind-index key; then the old keys are destroyed.
 * Copies of the store made before (backups, copied directories, stray SST or WAL files) can no
 * longer be decrypted with this data directory's keystore. Blocks other calls while it runs.
 * new_epoch and rewrapped may be NULL. */
cdp_status cdp_close_epoch(cdp_t *db, const char *region, uint32_t *new_epoch, size_t *rewrapped);


#ifdef __cplusplus
}
#endif
#endif
