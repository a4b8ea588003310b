/* Blind indexes: keyed BLAKE2b-256 over (identifier type, normalized value), computed with the
 * multi-part API so no buffer is allocated for the concatenation. */
#include "crypto/blind.h"

#include <sodium.h>
#include <string.h>

#include "util/bytes.h"

_Static_assert(CDP_BLIND_BYTES >= crypto_generichash_BYTES_MIN &&
                   CDP_BLIND_BYTES <= crypto_generichash_BYTES_MAX,
               "blind index size");
_Static_assert(CDP_BLIND_KEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
                   CDP_BLIND_KEY_BYTES <= crypto_generichash_KEYBYTES_MAX,
               "blind key size");

void cdp_blind_index(uint8_t out[CDP_BLIND_BYTES], const uint8_t key[CDP_BLIND_KEY_BYTES],
                     const char *type, const uint8_t *value, size_t value_len) {
    crypto_generichash_state state;
    uint8_t type_len[4];
    /* A void function: a NULL key yields all zeros (never an unkeyed, guessable hash); a NULL
     * type or value counts as empty. Callers validate identifiers before this. */
    if (key == NULL) {
        memset(out, 0, CDP_BLIND_BYTES);
        return;
    }
    if (type == NULL)
        type = "";
    if (value == NULL)
        value_len = 0;
    size_t type_bytes = strlen(type);
    /* The length prefix keeps ("ab", "c") and ("a", "bc") apart. */
    cdp_store_be32(type_len, (uint32_t)type_bytes);
    crypto_generichash_init(&state, key, CDP_BLIND_KEY_BYTES, CDP_BLIND_BYTES);
    crypto_generichash_update(&state, type_len, sizeof type_len);
    crypto_generichash_update(&state, (const uint8_t *)type, type_bytes);
    if (value_len > 0)
        crypto_generichash_update(&state, value, value_len);
    crypto_generichash_final(&state, out, CDP_BLIND_BYTES);
    sodium_memzero(&state, sizeof state); /* the state holds key material */
}
