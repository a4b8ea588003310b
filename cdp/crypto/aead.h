/* Authenticated encryption of records: XChaCha20-Poly1305 (libsodium), with associated data
 * that binds every ciphertext to (region, column family, record key), so a ciphertext moved to
 * another person, column family or region fails to open.
 * Sealed layout: nonce (24) || ciphertext || tag (16). Thread-safe. */
#ifndef CDP_CRYPTO_AEAD_H
#define CDP_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CDP_AEAD_KEY_BYTES 32
#define CDP_AEAD_NONCE_BYTES 24
#define CDP_AEAD_TAG_BYTES 16
#define CDP_AEAD_OVERHEAD (CDP_AEAD_NONCE_BYTES + CDP_AEAD_TAG_BYTES)
/* Enough for any associated data built by cdp_aead_ad from our names and keys. */
#define CDP_AEAD_AD_MAX 512

/* Writes the associated data for (region, column family, record key) into out:
 * "cdp1" || len32(region) || region || len32(cf) || cf || len32(key) || key.
 * Returns CDP_MISUSE if it would not fit in out_cap. */
cdp_status cdp_aead_ad(uint8_t *out, size_t out_cap, size_t *out_len, const char *region,
                       const char *column_family, const uint8_t *record_key, size_t key_len);

/* Seals plain (plain_len bytes) into out, which must hold plain_len + CDP_AEAD_OVERHEAD bytes
 * (else CDP_MISUSE). The nonce comes from cdp_aead_nonce. *out_len = plain_len + OVERHEAD. */
cdp_status cdp_aead_seal(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t *plain,
                         size_t plain_len, const uint8_t *ad, size_t ad_len,
                         const uint8_t key[CDP_AEAD_KEY_BYTES]);

/* Opens sealed bytes into out (out_cap >= sealed_len - OVERHEAD). CDP_CORRUPT if sealed_len is
 * shorter than the overhead; CDP_CRYPTO if authentication fails (wrong key, altered bytes or
 * other associated data). out is wiped on failure. */
cdp_status cdp_aead_open(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t *sealed,
                         size_t sealed_len, const uint8_t *ad, size_t ad_len,
                         const uint8_t key[CDP_AEAD_KEY_BYTES]);

/* A unique 24-byte nonce without a system call per record: a per-thread random 16-byte prefix
 * drawn once (randombytes_buf) followed by a 64-bit per-thread counter. */
void cdp_aead_nonce(uint8_t nonce[CDP_AEAD_NONCE_BYTES]);

#endif
