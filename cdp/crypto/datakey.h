/* Per-person data keys: random 32 bytes, stored only wrapped by the region's KEK of an epoch.
 * Wrapped layout (CDP_WRAPPED_KEY_BYTES): version 0x01 || epoch (u32 big-endian) || nonce (24) ||
 * XChaCha20-Poly1305(data key) || tag (16); associated data binds it to (region, "keys",
 * profile id) and the epoch, so a wrapped key moved to another person or region fails.
 * Deleting the wrapped key is crypto-shredding: nothing else can open the person's records. */
#ifndef CDP_CRYPTO_DATAKEY_H
#define CDP_CRYPTO_DATAKEY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keystore.h"
#include "util/err.h"

#define CDP_DATA_KEY_BYTES 32
#define CDP_WRAPPED_KEY_VERSION 0x01
#define CDP_WRAPPED_KEY_BYTES (1 + 4 + 24 + CDP_DATA_KEY_BYTES + 16)

/* Fresh random data key. */
void cdp_datakey_generate(uint8_t data_key[CDP_DATA_KEY_BYTES]);

/* Wraps under the region's current epoch. */
cdp_status cdp_datakey_wrap(const cdp_keystore *keystore, const char *region,
                            const uint8_t *profile_id, size_t profile_id_len,
                            const uint8_t data_key[CDP_DATA_KEY_BYTES],
                            uint8_t out[CDP_WRAPPED_KEY_BYTES], cdp_err *err);

/* Unwraps with the epoch named inside. CDP_CORRUPT for a wrong length or version; CDP_CRYPTO when
 * the epoch was destroyed or the bytes/binding do not authenticate. epoch_out may be NULL. */
cdp_status cdp_datakey_unwrap(const cdp_keystore *keystore, const char *region,
                              const uint8_t *profile_id, size_t profile_id_len,
                              const uint8_t *wrapped, size_t wrapped_len,
                              uint8_t data_key[CDP_DATA_KEY_BYTES], uint32_t *epoch_out,
                              cdp_err *err);

/* Unwraps with its old epoch and wraps under the current one (out may alias nothing). */
cdp_status cdp_datakey_rewrap(const cdp_keystore *keystore, const char *region,
                              const uint8_t *profile_id, size_t profile_id_len,
                              const uint8_t *wrapped, size_t wrapped_len,
                              uint8_t out[CDP_WRAPPED_KEY_BYTES], cdp_err *err);

/* The epoch a wrapped key names; 0 when malformed. */
uint32_t cdp_datakey_epoch(const uint8_t *wrapped, size_t wrapped_len);

#endif
