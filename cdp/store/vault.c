/* Per-person data keys and sealed records over a region partition; key-epoch closing.
 * Sealed values carry no header of their own: the associated data (region, column family,
 * record key) and the person's key decide whether they open. */
#include "store/vault.h"
#include "crypto/blind_sha256.h"

#include <sodium.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/random.h"
#include "store/records.h"
#include "util/alloc.h"

struct cdp_vault {
    cdp_region *region;
    cdp_keystore *keystore;
    cdp_keycache *key_cache; /* profile id -> unwrapped data key; mirrors the keys CF */
};

/* Records per write batch while closing an epoch: big enough to amortise the write, small
 * enough to keep memory flat on a store of millions of people. */
#define EPOCH_BATCH_PEOPLE 512

_Static_assert(sizeof(cdp_person) == CDP_PROFILE_ID_BYTES + CDP_DATA_KEY_BYTES,
               "a person is drawn at random in one piece");

void cdp_person_wipe(cdp_person *person) {
    if (person != NULL)
        sodium_memzero(person, sizeof *person);
}

cdp_status cdp_vault_new_with_cache(cdp_region *region, cdp_keystore *keystore,
                                    size_t key_cache_entries, cdp_vault **out, cdp_err *err) {
    *out = NULL;
    if (sodium_init() < 0)
        return cdp_err_set(err, CDP_INTERNAL, "libsodium failed to initialise");
    cdp_vault *vault = cdp_calloc(1, sizeof *vault);
    if (vault == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    vault->region = region;
    vault->keystore = keystore;
    cdp_status status = cdp_keycache_new(key_cache_entries, &vault->key_cache, err);
    if (status != CDP_OK) {
        cdp_free(vault);
        return status;
    }
    *out = vault;
    return CDP_OK;
}

cdp_status cdp_vault_new(cdp_region *region, cdp_keystore *keystore, cdp_vault **out,
                         cdp_err *err) {
    return cdp_vault_new_with_cache(region, keystore, 0, out, err);
}

void cdp_vault_free(cdp_vault *vault) {
    if (vault == NULL)
        return;
    cdp_keycache_free(vault->key_cache);
    cdp_free(vault);
}

cdp_region *cdp_vault_region(const cdp_vault *vault) { return vault->region; }

cdp_status cdp_vault_create_person(cdp_vault *vault, cdp_batch *batch, cdp_person *out,
                                   cdp_err *err) {
    uint8_t wrapped[CDP_WRAPPED_KEY_BYTES];
    /* Id and data key in one draw from the per-thread CSPRNG, not randombytes_buf and
     * cdp_datakey_generate: those are a getrandom system call each. */
    cdp_random_bytes(out, sizeof *out);
    /* The caller's cdp_vault_remember_person comes after a RocksDB write: start loading the
     * cache bucket now so that write hides the wait. */
    cdp_keycache_prefetch(vault->key_cache, out->profile_id);
    cdp_status status =
        cdp_datakey_wrap(vault->keystore, cdp_region_name(vault->region), out->profile_id,
                         sizeof out->profile_id, out->data_key, wrapped, err);
    if (status != CDP_OK) {
        cdp_person_wipe(out);
        return status;
    }
    cdp_batch_put(batch, vault->region, CDP_CF_KEYS, out->profile_id, sizeof out->profile_id,
                  wrapped, sizeof wrapped);
    return CDP_OK;
}

static cdp_status unwrap_into(cdp_vault *vault, const uint8_t *profile_id, const uint8_t *wrapped,
                              size_t wrapped_len, cdp_person *out, cdp_err *err) {
    memcpy(out->profile_id, profile_id, CDP_PROFILE_ID_BYTES);
    cdp_status status =
        cdp_datakey_unwrap(vault->keystore, cdp_region_name(vault->region), profile_id,
                           CDP_PROFILE_ID_BYTES, wrapped, wrapped_len, out->data_key, NULL, err);
    if (status != CDP_OK)
        cdp_person_wipe(out);
    return status;
}

void cdp_vault_remember_person(cdp_vault *vault, const cdp_person *person) {
    cdp_keycache_put(vault->key_cache, person->profile_id, person->data_key, NULL);
}

void cdp_vault_forget_person(cdp_vault *vault, const uint8_t profile_id[CDP_PROFILE_ID_BYTES]) {
    cdp_keycache_forget(vault->key_cache, profile_id);
}

void cdp_vault_key_cache_stats(cdp_vault *vault, uint64_t *hits, uint64_t *misses) {
    cdp_keycache_stats(vault->key_cache, hits, misses);
}

/* A cache hit fills out and returns 1; a miss returns 0 with the ticket for caching later. */
static int cached_person(cdp_vault *vault, const uint8_t *profile_id, cdp_person *out,
                         cdp_keycache_ticket *ticket) {
    if (!cdp_keycache_get(vault->key_cache, profile_id, out->data_key, ticket))
        return 0;
    memcpy(out->profile_id, profile_id, CDP_PROFILE_ID_BYTES);
    return 1;
}

cdp_status cdp_vault_load_person(cdp_vault *vault, const uint8_t profile_id[CDP_PROFILE_ID_BYTES],
                                 cdp_person *out, cdp_err *err) {
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    cdp_keycache_ticket ticket;
    if (cached_person(vault, profile_id, out, &ticket))
        return CDP_OK;
    cdp_status status = cdp_region_get(vault->region, CDP_CF_KEYS, profile_id, CDP_PROFILE_ID_BYTES,
                                       &wrapped, &wrapped_len, err);
    if (status == CDP_NOT_FOUND)
        return cdp_err_set(err, CDP_NOT_FOUND, "no data key for this profile (unknown or erased)");
    if (status != CDP_OK)
        return status;
    status = unwrap_into(vault, profile_id, wrapped, wrapped_len, out, err);
    cdp_region_free_value(wrapped);
    if (status == CDP_OK)
        cdp_keycache_put(vault->key_cache, profile_id, out->data_key, &ticket);
    return status;
}

static cdp_status make_ad(const cdp_vault *vault, cdp_cf cf, const uint8_t *key, size_t key_len,
                          uint8_t *ad, size_t *ad_len, cdp_err *err) {
    cdp_status status = cdp_aead_ad(ad, CDP_AEAD_AD_MAX, ad_len, cdp_region_name(vault->region),
                                    cdp_cf_name(cf), key, key_len);
    if (status != CDP_OK)
        return cdp_err_set(err, status, "%s: record key too long (%zu bytes)", cdp_cf_name(cf),
                           key_len);
    return CDP_OK;
}

cdp_status cdp_vault_put(cdp_vault *vault, cdp_batch *batch, const cdp_person *person, cdp_cf cf,
                         const uint8_t *key, size_t key_len, const uint8_t *plain, size_t plain_len,
                         cdp_err *err) {
    uint8_t ad[CDP_AEAD_AD_MAX];
    size_t ad_len = 0;
    uint8_t stack_sealed[1024];
    uint8_t *sealed = stack_sealed;
    size_t sealed_len = 0, sealed_cap = plain_len + CDP_AEAD_OVERHEAD;
    cdp_status status = make_ad(vault, cf, key, key_len, ad, &ad_len, err);
    if (status != CDP_OK)
        return status;
    if (sealed_cap > sizeof stack_sealed) {
        sealed = cdp_malloc(sealed_cap);
        if (sealed == NULL)
            return cdp_err_set(err, CDP_NOMEM, "out of memory sealing %zu bytes", plain_len);
    }
    status = cdp_aead_seal(sealed, sealed_cap, &sealed_len, plain, plain_len, ad, ad_len,
                           person->data_key);
    if (status == CDP_OK)
        cdp_batch_put(batch, vault->region, cf, key, key_len, sealed, sealed_len);
    else
        cdp_err_set(err, status, "%s: sealing failed", cdp_cf_name(cf));
    if (sealed != stack_sealed)
        cdp_free(sealed);
    return status;
}

cdp_status cdp_vault_open(cdp_vault *vault, const cdp_person *person, cdp_cf cf, const uint8_t *key,
                          size_t key_len, const uint8_t *sealed, size_t sealed_len, cdp_buf *plain,
                          cdp_err *err) {
    uint8_t ad[CDP_AEAD_AD_MAX];
    size_t ad_len = 0, plain_len = 0;
    cdp_status status = make_ad(vault, cf, key, key_len, ad, &ad_len, err);
    if (status != CDP_OK)
        return status;
    if (sealed_len < CDP_AEAD_OVERHEAD)
        return cdp_err_set(err, CDP_CORRUPT, "%s: sealed value of %zu bytes is too short",
                           cdp_cf_name(cf), sealed_len);
    cdp_buf_reset(plain);
    if (cdp_buf_reserve(plain, sealed_len - CDP_AEAD_OVERHEAD + 1) != CDP_OK)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    status = cdp_aead_open(plain->data, plain->cap, &plain_len, sealed, sealed_len, ad, ad_len,
                           person->data_key);
    if (status != CDP_OK)
        return cdp_err_set(err, status,
                           "%s: record does not authenticate (altered, moved, or "
                           "not this person's)",
                           cdp_cf_name(cf));
    plain->len = plain_len;
    return CDP_OK;
}

cdp_status cdp_vault_get(cdp_vault *vault, const cdp_person *person, cdp_cf cf, const uint8_t *key,
                         size_t key_len, cdp_buf *plain, cdp_err *err) {
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    cdp_status status = cdp_region_get(vault->region, cf, key, key_len, &sealed, &sealed_len, err);
    if (status != CDP_OK)
        return status;
    status = cdp_vault_open(vault, person, cf, key, key_len, sealed, sealed_len, plain, err);
    cdp_region_free_value(sealed);
    return status;
}

cdp_status cdp_vault_get_person_record(cdp_vault *vault,
                                       const uint8_t profile_id[CDP_PROFILE_ID_BYTES], cdp_cf cf,
                                       const uint8_t *key, size_t key_len, cdp_person *person,
                                       cdp_buf *plain, cdp_err *err) {
    uint8_t *sealed = NULL, *wrapped = NULL;
    size_t sealed_len = 0, wrapped_len = 0;
    cdp_keycache_ticket ticket;
    /* The record first, whatever the cache holds: its read (microseconds) hides the cache-line
     * misses of the key-cache lookup that follows, which cost as much as a tenth of a get when
     * taken cold. On a miss the wrapped key is a second read (no slower than a multi-get). */
    cdp_keycache_prefetch(vault->key_cache, profile_id);
    cdp_status status = cdp_region_get(vault->region, cf, key, key_len, &sealed, &sealed_len, err);
    if (status != CDP_OK && status != CDP_NOT_FOUND)
        return status;
    int record_found = status == CDP_OK;
    int cached = cached_person(vault, profile_id, person, &ticket);
    if (!cached) {
        status = cdp_region_get(vault->region, CDP_CF_KEYS, profile_id, CDP_PROFILE_ID_BYTES,
                                &wrapped, &wrapped_len, err);
        if (status == CDP_NOT_FOUND)
            status =
                cdp_err_set(err, CDP_NOT_FOUND, "no data key for this profile (unknown or erased)");
        if (status == CDP_OK)
            status = unwrap_into(vault, profile_id, wrapped, wrapped_len, person, err);
        if (status != CDP_OK)
            goto done;
    }
    if (!record_found) {
        status = cdp_err_set(err, CDP_NOT_FOUND, "%s: no record", cdp_cf_name(cf));
        goto done;
    }
    status = cdp_vault_open(vault, person, cf, key, key_len, sealed, sealed_len, plain, err);
    /* Cached only once the record opened too: a key that unwraps but opens nothing of the
     * person's is not trusted to stand in for the keys column family. */
    if (status == CDP_OK && !cached)
        cdp_keycache_put(vault->key_cache, profile_id, person->data_key, &ticket);
done:
    if (status != CDP_OK)
        cdp_person_wipe(person);
    cdp_region_free_value(sealed);
    cdp_region_free_value(wrapped);
    return status;
}

cdp_status cdp_vault_blind(cdp_vault *vault, const char *type, const uint8_t *value,
                           size_t value_len, uint8_t out[CDP_BLIND_BYTES], cdp_err *err) {
    const cdp_region_keys *keys = NULL;
    cdp_status status =
        cdp_keystore_current(vault->keystore, cdp_region_name(vault->region), &keys, err);
    if (status != CDP_OK)
        return status;
    cdp_blind_index(out, keys->blind_key, type, value, value_len);
    return CDP_OK;
}

cdp_status cdp_vault_suppress_blind(cdp_vault *vault, const char *type, const uint8_t *value,
                                    size_t value_len, uint8_t out[CDP_BLIND_BYTES], cdp_err *err) {
    uint8_t key[CDP_BLIND_KEY_BYTES];
    cdp_status status =
        cdp_keystore_suppress_key(vault->keystore, cdp_region_name(vault->region), key, err);
    if (status == CDP_OK)
        cdp_blind_index(out, key, type, value, value_len);
    sodium_memzero(key, sizeof key);
    return status;
}

cdp_keystore *cdp_vault_keystore(const cdp_vault *vault) { return vault->keystore; }

/* Moves one person's identity index entries from every older live blind key to the current one,
 * reading their identifiers from inside their (decrypted) profile. */
static cdp_status reindex_person(cdp_vault *vault, cdp_batch *batch, const cdp_person *person,
                                 const uint32_t *old_epochs, size_t old_count,
                                 const cdp_region_keys *current, cdp_buf *plain, cdp_err *err) {
    cdp_profile_record profile = {0};
    cdp_status status = cdp_vault_get(vault, person, CDP_CF_PROFILES, person->profile_id,
                                      CDP_PROFILE_ID_BYTES, plain, err);
    if (status == CDP_NOT_FOUND)
        return CDP_OK; /* a person without a profile record has nothing indexed */
    if (status != CDP_OK)
        return status;
    status = cdp_profile_record_decode(plain->data, plain->len, &profile, err);
    if (status != CDP_OK)
        return status;
    const char *region = cdp_region_name(vault->region);
    for (size_t i = 0; i < profile.identity_count; i++) {
        const cdp_identity_entry *identity = &profile.identities[i];
        uint8_t blind[CDP_BLIND_BYTES];
        char sha_type[CDP_SHA256_TYPE_MAX], sha_hex[65];
        cdp_blind_sha256_companion(identity->type, identity->value, strlen(identity->value),
                                   sha_type, sha_hex);
        for (size_t e = 0; e < old_count; e++) {
            const cdp_region_keys *old = NULL;
            if (cdp_keystore_epoch(vault->keystore, region, old_epochs[e], &old, NULL) != CDP_OK)
                continue;
            cdp_blind_index(blind, old->blind_key, identity->type, (const uint8_t *)identity->value,
                            strlen(identity->value));
            cdp_batch_delete(batch, vault->region, CDP_CF_IDENTITY, blind, sizeof blind);
            cdp_blind_index(blind, old->blind_key, sha_type, (const uint8_t *)sha_hex, 64);
            cdp_batch_delete(batch, vault->region, CDP_CF_IDENTITY, blind, sizeof blind);
        }
        cdp_blind_index(blind, current->blind_key, identity->type, (const uint8_t *)identity->value,
                        strlen(identity->value));
        cdp_batch_put(batch, vault->region, CDP_CF_IDENTITY, blind, sizeof blind,
                      person->profile_id, CDP_PROFILE_ID_BYTES);
        cdp_blind_index(blind, current->blind_key, sha_type, (const uint8_t *)sha_hex, 64);
        cdp_batch_put(batch, vault->region, CDP_CF_IDENTITY, blind, sizeof blind,
                      person->profile_id, CDP_PROFILE_ID_BYTES);
    }
    cdp_profile_record_clear(&profile);
    return CDP_OK;
}

cdp_status cdp_vault_close_epoch(cdp_vault *vault, uint32_t *new_epoch, size_t *rewrapped,
                                 cdp_err *err) {
    const char *region = cdp_region_name(vault->region);
    uint32_t epoch = 0, old_epochs[64];
    size_t moved = 0, people_in_batch = 0;
    cdp_iter *iter = NULL;
    cdp_buf plain = {0};
    cdp_batch *batch = cdp_batch_new();
    if (batch == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    cdp_status status = cdp_keystore_begin_epoch(vault->keystore, region, &epoch, err);
    if (status != CDP_OK)
        goto done;
    const cdp_region_keys *current = NULL;
    status = cdp_keystore_current(vault->keystore, region, &current, err);
    if (status != CDP_OK)
        goto done;
    size_t live = cdp_keystore_live_epochs(vault->keystore, region, old_epochs, 64);
    size_t old_count = 0;
    for (size_t i = 0; i < live && i < 64; i++)
        if (old_epochs[i] != epoch)
            old_epochs[old_count++] = old_epochs[i];

    status = cdp_region_iter(vault->region, CDP_CF_KEYS, NULL, 0, &iter, err);
    if (status != CDP_OK)
        goto done;
    for (; cdp_iter_valid(iter); cdp_iter_next(iter)) {
        size_t key_len = 0, wrapped_len = 0;
        const uint8_t *profile_id = cdp_iter_key(iter, &key_len);
        const uint8_t *wrapped = cdp_iter_value(iter, &wrapped_len);
        if (key_len != CDP_PROFILE_ID_BYTES) {
            status = cdp_err_set(err, CDP_CORRUPT, "keys: entry with a %zu-byte key", key_len);
            goto done;
        }
        if (cdp_datakey_epoch(wrapped, wrapped_len) == epoch)
            continue; /* moved by an earlier, interrupted run */
        cdp_person person;
        uint8_t rewrapped_key[CDP_WRAPPED_KEY_BYTES];
        status = unwrap_into(vault, profile_id, wrapped, wrapped_len, &person, err);
        if (status == CDP_OK)
            status = cdp_datakey_wrap(vault->keystore, region, profile_id, key_len, person.data_key,
                                      rewrapped_key, err);
        if (status == CDP_OK)
            status =
                reindex_person(vault, batch, &person, old_epochs, old_count, current, &plain, err);
        cdp_person_wipe(&person);
        if (status != CDP_OK) {
            cdp_err_prefix(err, "closing epoch of region %s", region);
            goto done;
        }
        cdp_batch_put(batch, vault->region, CDP_CF_KEYS, profile_id, key_len, rewrapped_key,
                      sizeof rewrapped_key);
        moved++;
        if (++people_in_batch == EPOCH_BATCH_PEOPLE) {
            status = cdp_region_write(vault->region, batch, 1, err);
            if (status != CDP_OK)
                goto done;
            cdp_batch_clear(batch);
            people_in_batch = 0;
        }
    }
    status = cdp_iter_status(iter, err);
    if (status == CDP_OK && people_in_batch > 0)
        status = cdp_region_write(vault->region, batch, 1, err);
    if (status != CDP_OK)
        goto done;
    cdp_iter_free(iter);
    iter = NULL;
    /* Old wrapped keys and index entries out of the live files before the old keys go. */
    status = cdp_region_purge(vault->region, err);
    for (size_t i = 0; status == CDP_OK && i < old_count; i++)
        status = cdp_keystore_destroy_epoch(vault->keystore, region, old_epochs[i], err);
    if (status == CDP_OK && new_epoch != NULL)
        *new_epoch = epoch;
    if (status == CDP_OK && rewrapped != NULL)
        *rewrapped = moved;
done:
    cdp_iter_free(iter);
    cdp_buf_free_secret(&plain);
    cdp_batch_free(batch);
    return status;
}

cdp_status cdp_vault_blind_sha256(cdp_vault *vault, const char *type, const char *value,
                                  uint8_t out[CDP_BLIND_BYTES], cdp_err *err) {
    char sha_type[CDP_SHA256_TYPE_MAX], sha_hex[65];
    cdp_blind_sha256_companion(type, value, strlen(value), sha_type, sha_hex);
    return cdp_vault_blind(vault, sha_type, (const uint8_t *)sha_hex, 64, out, err);
}
