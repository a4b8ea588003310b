/* The vault: per-person data keys and sealed records over one region's partition.
 * Every personal-data value goes in and out through here: sealed with the person's data key
 * (XChaCha20-Poly1305), bound by associated data to (region, column family, record key).
 * The data key is stored only wrapped by the region's KEK (keys CF); deleting it shreds every
 * record of the person at once. Identifiers are indexed by blind index (keyed BLAKE2b).
 * Thread-safe for concurrent puts and gets; cdp_vault_close_epoch must run alone. */
#ifndef CDP_STORE_VAULT_H
#define CDP_STORE_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/blind.h"
#include "crypto/datakey.h"
#include "crypto/keystore.h"
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
 * (free with cdp_vault_free). */
cdp_status cdp_vault_new(cdp_region *region, cdp_keystore *keystore, cdp_vault **out,
                         cdp_err *err);
void cdp_vault_free(cdp_vault *vault); /* accepts NULL */
cdp_region *cdp_vault_region(const cdp_vault *vault);

/* A new person: random 16-byte profile id, random data key, wrapped key added to batch. */
cdp_status cdp_vault_create_person(cdp_vault *vault, cdp_batch *batch, cdp_person *out,
                                   cdp_err *err);
/* Loads and unwraps the person's data key. CDP_NOT_FOUND when there is none (never existed, or
 * erased); CDP_CRYPTO when it does not unwrap. */
cdp_status cdp_vault_load_person(cdp_vault *vault, const uint8_t profile_id[CDP_PROFILE_ID_BYTES],
                                 cdp_person *out, cdp_err *err);

/* Seals plain under the person's key and adds the put to batch. */
cdp_status cdp_vault_put(cdp_vault *vault, cdp_batch *batch, const cdp_person *person, cdp_cf cf,
                         const uint8_t *key, size_t key_len, const uint8_t *plain,
                         size_t plain_len, cdp_err *err);
/* Reads and opens one record into plain (replacing its contents). CDP_NOT_FOUND if absent. */
cdp_status cdp_vault_get(cdp_vault *vault, const cdp_person *person, cdp_cf cf,
                         const uint8_t *key, size_t key_len, cdp_buf *plain, cdp_err *err);
/* Loads the person's key and reads one of their records in a single multi-get (the hot path of
 * a profile read). CDP_NOT_FOUND if the person or the record is absent. */
cdp_status cdp_vault_get_person_record(cdp_vault *vault,
                                       const uint8_t profile_id[CDP_PROFILE_ID_BYTES], cdp_cf cf,
                                       const uint8_t *key, size_t key_len, cdp_person *person,
                                       cdp_buf *plain, cdp_err *err);
/* Opens a sealed value read elsewhere (e.g. from an iterator) into plain. */
cdp_status cdp_vault_open(cdp_vault *vault, const cdp_person *person, cdp_cf cf,
                          const uint8_t *key, size_t key_len, const uint8_t *sealed,
                          size_t sealed_len, cdp_buf *plain, cdp_err *err);

/* Blind index of (type, normalized value) under the region's current blind-index key. */
cdp_status cdp_vault_blind(cdp_vault *vault, const char *type, const uint8_t *value,
                           size_t value_len, uint8_t out[CDP_BLIND_BYTES], cdp_err *err);

/* Closes the region's key epoch: starts a new epoch, re-wraps every data key under the new KEK
 * and moves every identity index entry to the new blind-index key (from the identities inside
 * each person's profile), then purges the old entries physically and destroys every older epoch
 * in the keystore. A copy of the data taken before (backup, copied directory, stray SST) can no
 * longer be opened with the current keystore. Interrupted, it is safe to run again: entries still
 * under an old epoch are picked up, and old epochs are destroyed only after all moved.
 * *rewrapped (may be NULL) counts the data keys re-wrapped. */
cdp_status cdp_vault_close_epoch(cdp_vault *vault, uint32_t *new_epoch, size_t *rewrapped,
                                 cdp_err *err);

#endif
