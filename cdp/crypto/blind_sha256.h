/* The second identity index entry, over the sha256 of the normalized value, so an OpenGDPR
 * request that names a person only by the hash of their e-mail (identity_format "sha256") finds
 * them. The entry is blind("sha256:" + type, lowercase hex sha256(value)): keyed like every
 * blind index, so no unkeyed hash of an identifier is ever stored. */
#ifndef CDP_CRYPTO_BLIND_SHA256_H
#define CDP_CRYPTO_BLIND_SHA256_H

#include <stddef.h>

#define CDP_SHA256_TYPE_MAX 48

/* type_out: "sha256:" + type (truncated to fit); hex_out: 64 lowercase hex and a NUL. */
void cdp_blind_sha256_companion(const char *type, const char *value, size_t value_len,
                                char type_out[CDP_SHA256_TYPE_MAX], char hex_out[65]);

#endif
