/* Per-person data keys wrapped by a region's KEK of one epoch. The associated data binds a
 * wrapped key to (region, "keys", profile id, epoch); destroying the epoch (or deleting the
 * wrapped key) leaves nothing that can open the person's records. */
#include "crypto/datakey.h"

#include <sodium.h>
#include <string.h>

#include "crypto/aead.h"
#include "util/bytes.h"

#define WRAPPED_EPOCH_OFFSET 1
#define WRAPPED_SEALED_OFFSET 5
#define WRAPPED_SEALED_BYTES (CDP_AEAD_OVERHEAD + CDP_DATA_KEY_BYTES)
/* The associated data of cdp_aead_ad followed by the epoch (u32 big-endian). */
#define WRAP_AD_CAP (CDP_AEAD_AD_MAX + 4)

_Static_assert(CDP_WRAPPED_KEY_BYTES == WRAPPED_SEALED_OFFSET + WRAPPED_SEALED_BYTES, "layout");
_Static_assert(CDP_KEK_BYTES == CDP_AEAD_KEY_BYTES, "a KEK is an AEAD key");

void cdp_datakey_generate(uint8_t data_key[CDP_DATA_KEY_BYTES]) {
    randombytes_buf(data_key, CDP_DATA_KEY_BYTES);
}

static cdp_status datakey_ad(uint8_t ad[WRAP_AD_CAP], size_t *ad_len, const char *region,
                             const uint8_t *profile_id, size_t profile_id_len, uint32_t epoch,
                             cdp_err *err) {
    if (cdp_aead_ad(ad, CDP_AEAD_AD_MAX, ad_len, region, "keys", profile_id, profile_id_len) !=
        CDP_OK)
        return cdp_err_set(err, CDP_MISUSE,
                           "data key: profile id of %zu bytes does not fit the associated data",
                           profile_id_len);
    cdp_store_be32(ad + *ad_len, epoch);
    *ad_len += 4;
    return CDP_OK;
}

static int datakey_args_ok(const cdp_keystore *keystore, const char *region,
                           const uint8_t *profile_id, size_t profile_id_len) {
    return keystore != NULL && region != NULL && (profile_id != NULL || profile_id_len == 0);
}

cdp_status cdp_datakey_wrap(const cdp_keystore *keystore, const char *region,
                            const uint8_t *profile_id, size_t profile_id_len,
                            const uint8_t data_key[CDP_DATA_KEY_BYTES],
                            uint8_t out[CDP_WRAPPED_KEY_BYTES], cdp_err *err) {
    if (!datakey_args_ok(keystore, region, profile_id, profile_id_len) || data_key == NULL ||
        out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "data key: NULL argument to wrap");
    const cdp_region_keys *keys = NULL;
    cdp_status status = cdp_keystore_current(keystore, region, &keys, err);
    if (status != CDP_OK)
        return status;
    uint8_t ad[WRAP_AD_CAP];
    size_t ad_len = 0;
    status = datakey_ad(ad, &ad_len, region, profile_id, profile_id_len, keys->epoch, err);
    if (status != CDP_OK)
        return status;
    out[0] = CDP_WRAPPED_KEY_VERSION;
    cdp_store_be32(out + WRAPPED_EPOCH_OFFSET, keys->epoch);
    size_t sealed_len = 0;
    status = cdp_aead_seal(out + WRAPPED_SEALED_OFFSET, WRAPPED_SEALED_BYTES, &sealed_len, data_key,
                           CDP_DATA_KEY_BYTES, ad, ad_len, keys->kek);
    if (status != CDP_OK)
        return cdp_err_set(err, status, "data key: wrapping under epoch %u of region %s failed",
                           keys->epoch, region);
    return CDP_OK;
}

cdp_status cdp_datakey_unwrap(const cdp_keystore *keystore, const char *region,
                              const uint8_t *profile_id, size_t profile_id_len,
                              const uint8_t *wrapped, size_t wrapped_len,
                              uint8_t data_key[CDP_DATA_KEY_BYTES], uint32_t *epoch_out,
                              cdp_err *err) {
    cdp_status status = CDP_OK;
    if (epoch_out != NULL)
        *epoch_out = 0;
    if (!datakey_args_ok(keystore, region, profile_id, profile_id_len) || data_key == NULL ||
        (wrapped == NULL && wrapped_len > 0))
        return cdp_err_set(err, CDP_MISUSE, "data key: NULL argument to unwrap");
    if (wrapped_len != CDP_WRAPPED_KEY_BYTES) {
        status = cdp_err_set(err, CDP_CORRUPT, "data key: wrapped key of %zu bytes, expected %d",
                             wrapped_len, CDP_WRAPPED_KEY_BYTES);
        goto done;
    }
    if (wrapped[0] != CDP_WRAPPED_KEY_VERSION) {
        status = cdp_err_set(err, CDP_CORRUPT, "data key: wrapped key version %u is unknown",
                             wrapped[0]);
        goto done;
    }
    uint32_t epoch = cdp_load_be32(wrapped + WRAPPED_EPOCH_OFFSET);
    /* An unknown region is a caller's mistake (NOT_FOUND); an unknown epoch in a known region
     * means the bytes were altered, as far as anyone can tell (CRYPTO). */
    const cdp_region_keys *keys = NULL;
    status = cdp_keystore_current(keystore, region, &keys, err);
    if (status != CDP_OK)
        goto done;
    status = cdp_keystore_epoch(keystore, region, epoch, &keys, err);
    if (status == CDP_NOT_FOUND)
        status = cdp_err_set(err, CDP_CRYPTO,
                             "data key: wrapped key names epoch %u, which region %s never had",
                             epoch, region);
    if (status != CDP_OK) {
        if (status == CDP_CRYPTO)
            cdp_err_prefix(err, "data key"); /* "epoch N of region R was destroyed" */
        goto done;
    }
    uint8_t ad[WRAP_AD_CAP];
    size_t ad_len = 0;
    status = datakey_ad(ad, &ad_len, region, profile_id, profile_id_len, epoch, err);
    if (status != CDP_OK)
        goto done;
    size_t opened_len = 0;
    status =
        cdp_aead_open(data_key, CDP_DATA_KEY_BYTES, &opened_len, wrapped + WRAPPED_SEALED_OFFSET,
                      WRAPPED_SEALED_BYTES, ad, ad_len, keys->kek);
    if (status != CDP_OK) {
        status = cdp_err_set(err, status,
                             "data key: wrapped key does not authenticate under epoch %u of "
                             "region %s (another person or region, or altered bytes)",
                             epoch, region);
        goto done;
    }
    if (epoch_out != NULL)
        *epoch_out = epoch;
done:
    if (status != CDP_OK)
        sodium_memzero(data_key, CDP_DATA_KEY_BYTES);
    return status;
}

cdp_status cdp_datakey_rewrap(const cdp_keystore *keystore, const char *region,
                              const uint8_t *profile_id, size_t profile_id_len,
                              const uint8_t *wrapped, size_t wrapped_len,
                              uint8_t out[CDP_WRAPPED_KEY_BYTES], cdp_err *err) {
    uint8_t data_key[CDP_DATA_KEY_BYTES];
    if (out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "data key: NULL output to rewrap");
    /* Unwrapping finishes reading `wrapped` before `out` is written, so they may even alias. */
    cdp_status status = cdp_datakey_unwrap(keystore, region, profile_id, profile_id_len, wrapped,
                                           wrapped_len, data_key, NULL, err);
    if (status == CDP_OK)
        status = cdp_datakey_wrap(keystore, region, profile_id, profile_id_len, data_key, out, err);
    sodium_memzero(data_key, sizeof data_key);
    return status;
}

uint32_t cdp_datakey_epoch(const uint8_t *wrapped, size_t wrapped_len) {
    if (wrapped == NULL || wrapped_len != CDP_WRAPPED_KEY_BYTES ||
        wrapped[0] != CDP_WRAPPED_KEY_VERSION)
        return 0;
    return cdp_load_be32(wrapped + WRAPPED_EPOCH_OFFSET);
}
