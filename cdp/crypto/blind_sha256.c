/* The sha256 companion of an identity index key (see blind_sha256.h). */
#include <sodium.h>
#include <stdio.h>

#include "crypto/blind_sha256.h"

void cdp_blind_sha256_companion(const char *type, const char *value, size_t value_len,
                                char type_out[CDP_SHA256_TYPE_MAX], char hex_out[65]) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)value, value_len);
    snprintf(type_out, CDP_SHA256_TYPE_MAX, "sha256:%s", type);
    sodium_bin2hex(hex_out, 65, digest, sizeof digest);
    sodium_memzero(digest, sizeof digest);
}
