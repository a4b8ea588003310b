/* The vault: per-person data keys and sealed records over one region's partition.
 * Every personal-data value goes in and out through here: sealed with the person's data key
 * (XChaCha20-Poly1305), bound by associated data to (region, column family, record key).
 * The data key is stored only wrapped by the region's KEK (keys CF); deleting it shreds every
 * record of the person at once. Identifiers are indexed by blind index (keyed BLAKE2b).
 * Unwrapped data keys are cached (store/keycache.h), so a known person's record is one read.
 * Thread-safe for concurrent puts and gets; cdp_vault_close_epoch must run alone. */
#ifndef CDP_STORE_VAULT_H
#define CDP_STORE_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/blind.h"
#include "crypto/datakey.h"
#include "crypto/keystore.h"
#include "store/keycache.h"
#include "store/region.h"
#include "util/bytes.h"
#include "util/err.h"

typedef struct cdp_vault cdp_vault;

/* A person's unwrapped data key, on the caller's stack; wipe with cdp_person_wipe. */
typedef struct cdp_person {
    uint8_t profile_id[CDP_PROFILE_ID_BYTES];
    uint8_t data_key[CDP_DATA_KEY_BYTES];
} cdp_person;

void cdp_person_wipe(cdp_person *person);

/* Borrows region and keystore: both must outlive the vault. Caller owns *out
 * (free with cdp_vault_free). The vault keeps a cache of unwrapped data keys of at least
 * key_cache_entries people (0: CDP_KEYCACHE_DEFAULT_ENTRIES, 262,144, about 12.5 MiB, allocated
 * on first use); cdp_vault_new is the same with 0. */
cdp_status cdp_vault_new_with_cache(cdp_region *region, cdp_keystore *keystore,
                                    size_t key_cache_entries, cdp_vault **out, cdp_err *err);
cdp_status cdp_vault_new(cdp_region *region, cdp_keystore *keystore, cdp_vault **out, cdp_err *err);
void cdp_vault_free(cdp_vault *vault); /* accepts NULL; wipes every cached key */
cdp_region *cdp_vault_region(const cdp_vault *vault);

/* A new person: random 16-byte profile id, random data key (cdp_random_bytes), wrapped key added
 * to batch. The key is not cached yet: the batch may never be written. Once it is, call
 * cdp_vault_remember_person so the person's first reads skip the `keys` column family. */
cdp_status cdp_vault_create_person(cdp_vault *vault, cdp_batch *batch, cdp_person *out,
                                   cdp_err *err);
/* Caches the data key of a person whose wrapped key the caller has just written (the batch from
 * cdp_vault_create_person, after cdp_region_write succeeded). Not for anyone else: it bypasses
 * the check that keeps a concurrent erasure from being undone. */
void cdp_vault_remember_person(cdp_vault *vault, const cdp_person *person);
/* Loads the person's data key: from the key cache, else read from the `keys` column family and
 * unwrapped (then cached). CDP_NOT_FOUND when there is none (never existed, or erased);
 * CDP_CRYPTO when it does not unwrap. */
cdp_status cdp_vault_load_person(cdp_vault *vault, const uint8_t profile_id[CDP_PROFILE_ID_BYTES],
                                 cdp_person *out, cdp_err *err);
/* Wipes the person's data key from the key cache and stops loads in flight from caching it again.
 * EVERY delete of a `keys` column family entry (erasure, any tool) must call this AFTER the batch
 * with the delete is written; calling it before as well does no harm. Without it a cached key
 * would keep serving the person's records (in the memtable or not yet purged) after the wrapped
 * key is gone. Re-wrapping (cdp_vault_close_epoch) keeps data keys, so it needs no forget. */
void cdp_vault_forget_person(cdp_vault *vault, const uint8_t profile_id[CDP_PROFILE_ID_BYTES]);
/* Key-cache lookups that hit and missed since the vault was made (for metrics and the bench). */
void cdp_vault_key_cache_stats(cdp_vault *vault, uint64_t *hits, uint64_t *misses);

/* Seals plain under the person's key and adds the put to batch. */
cdp_status cdp_vault_put(cdp_vault *vault, cdp_batch *batch, const cdp_person *person, cdp_cf cf,
                         const uint8_t *key, size_t key_len, const uint8_t *plain, size_t plain_len,
                         cdp_err *err);
/* Reads and opens one record into plain (replacing its contents). CDP_NOT_FOUND if absent. */
cdp_status cdp_vault_get(cdp_vault *vault, const cdp_person *person, cdp_cf cf, const uint8_t *key,
                         size_t key_len, cdp_buf *plain, cdp_err *err);
/* Loads the person's key and reads one of their records (the hot path of a profile read): with
 * the key cached, one read of the record; else one multi-get of wrapped key and record, and the
 * key is cached once the record opened. CDP_NOT_FOUND if the person or the record is absent. */
cdp_status cdp_vault_get_person_record(cdp_vault *vault,
                                       const uint8_t profile_id[CDP_PROFILE_ID_BYTES], cdp_cf cf,
                                       const uint8_t *key, size_t key_len, cdp_person *person,
                                       cdp_buf *plain, cdp_err *err);
/* Opens a sealed value read elsewhere (e.g. from an iterator) into plain. */
cdp_status cdp_vault_open(cdp_vault *vault, const cdp_person *person, cdp_cf cf, const uint8_t *key,
                          size_t key_len, const uint8_t *sealed, size_t sealed_len, cdp_buf *plain,
                          cdp_err *err);

/* Blind index of (type, normalized value) under the region's current blind-index key. */
cdp_status cdp_vault_blind(cdp_vault *vault, const char *type, const uint8_t *value,
                           size_t value_len, uint8_t out[CDP_BLIND_BYTES], cdp_err *err);

/* The second index key of (type, normalized value): blind("sha256:" + type, lowercase hex of
 * sha256(value)) under the current blind-index key (crypto/blind_sha256.h). Every put, move or
 * delete of an identity index entry does the same to this one. */
cdp_status cdp_vault_blind_sha256(cdp_vault *vault, const char *type, const char *value,
                                  uint8_t out[CDP_BLIND_BYTES], cdp_err *err);

/* Blind index of (type, normalized value) under the region's suppression key
 * (cdp_keystore_suppress_key): the key of the `suppress` column family. Stable across epochs. */
cdp_status cdp_vault_suppress_blind(cdp_vault *vault, const char *type, const uint8_t *value,
                                    size_t value_len, uint8_t out[CDP_BLIND_BYTES], cdp_err *err);

/* The keystore the vault was made with. Borrowed until the vault is freed. */
cdp_keystore *cdp_vault_keystore(const cdp_vault *vault);

/* Closes the region's key epoch: starts a new epoch, re-wraps every data key under the new KEK
 * and moves every identity index entry to the new blind-index key (from the identities inside
 * each person's profile), then purges the old entries physically and destroys every older epoch
 * in the keystore. A copy of the data taken before (backup, copied directory, stray SST) can no
 * longer be opened with the current keystore. Interrupted, it is safe to run again: entries still
 * under an old epoch are picked up, and old epochs are destroyed only after all moved.
 * *rewrapped (may be NULL) counts the data keys re-wrapped. Cached data keys stay valid
 * (re-wrapping does not change them); the scan does not add to the cache, so it keeps its working
 * set. */
cdp_status cdp_vault_close_epoch(cdp_vault *vault, uint32_t *new_epoch, size_t *rewrapped,
                                 cdp_err *err);

#endif
