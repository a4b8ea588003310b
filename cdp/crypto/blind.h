/* Blind indexes: identifiers (e-mail, phone, ...) are found through a keyed BLAKE2b-256 hash of
 * (identifier type, normalized value) under the region's blind-index key, never stored as
 * plaintext keys. Without the key, a blind index cannot be tested against guesses. */
#ifndef CDP_CRYPTO_BLIND_H
#define CDP_CRYPTO_BLIND_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keystore.h"

#define CDP_BLIND_BYTES 32

/* out = BLAKE2b-256_key(len32(type) || type || value). */
void cdp_blind_index(uint8_t out[CDP_BLIND_BYTES], const uint8_t key[CDP_BLIND_KEY_BYTES],
                     const char *type, const uint8_t *value, size_t value_len);

#endif
