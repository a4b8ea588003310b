/* Record sealing with XChaCha20-Poly1305 and the associated data that binds a ciphertext to its
 * (region, column family, record key). Nonces come from a per-thread prefix and counter, so the
 * hot path makes no system call. */
#include "crypto/aead.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "util/bytes.h"

#define NONCE_PREFIX_BYTES 16

_Static_assert(CDP_AEAD_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(CDP_AEAD_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
_Static_assert(CDP_AEAD_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(NONCE_PREFIX_BYTES + 8 == CDP_AEAD_NONCE_BYTES, "prefix + counter = nonce");

/* Per-thread nonce source. A 128-bit random prefix makes a collision between threads (or
 * processes) negligible; the counter makes nonces within a thread distinct. */
typedef struct nonce_source {
    int ready;
    uint8_t prefix[NONCE_PREFIX_BYTES];
    uint64_t counter;
} nonce_source;

static _Thread_local nonce_source thread_nonces;
static _Thread_local int thread_sodium_ready;
static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;

/* A forked child inherits the forking thread's prefix and counter and would repeat the parent's
 * nonces: make it draw a fresh prefix. */
static void aead_after_fork_in_child(void) { thread_nonces.ready = 0; }

static void aead_register_fork_handler(void) {
    pthread_atfork(NULL, NULL, aead_after_fork_in_child);
}

/* sodium_init() takes a lock on every call; remember per thread that it succeeded. */
static int aead_sodium_ready(void) {
    if (!thread_sodium_ready) {
        if (sodium_init() < 0)
            return 0;
        thread_sodium_ready = 1;
    }
    return 1;
}

void cdp_aead_nonce(uint8_t nonce[CDP_AEAD_NONCE_BYTES]) {
    nonce_source *source = &thread_nonces;
    if (!source->ready) {
        (void)aead_sodium_ready();
        pthread_once(&fork_handler_once, aead_register_fork_handler);
        randombytes_buf(source->prefix, sizeof source->prefix);
        source->counter = 0;
        source->ready = 1;
    }
    memcpy(nonce, source->prefix, NONCE_PREFIX_BYTES);
    cdp_store_be64(nonce + NONCE_PREFIX_BYTES, source->counter);
    /* 2^64 records in one thread will not happen; if it did, a new prefix keeps nonces unique. */
    if (++source->counter == 0)
        source->ready = 0;
}

static int aead_append(uint8_t *out, size_t out_cap, size_t *used, const void *bytes, size_t len) {
    if (len > out_cap - *used)
        return -1;
    if (len > 0)
        memcpy(out + *used, bytes, len);
    *used += len;
    return 0;
}

static int aead_append_lp(uint8_t *out, size_t out_cap, size_t *used, const void *bytes,
                          size_t len) {
    uint8_t prefix[4];
    if (len > UINT32_MAX)
        return -1;
    cdp_store_be32(prefix, (uint32_t)len);
    if (aead_append(out, out_cap, used, prefix, sizeof prefix) != 0)
        return -1;
    return aead_append(out, out_cap, used, bytes, len);
}

cdp_status cdp_aead_ad(uint8_t *out, size_t out_cap, size_t *out_len, const char *region,
                       const char *column_family, const uint8_t *record_key, size_t key_len) {
    if (out_len != NULL)
        *out_len = 0;
    if (out == NULL || out_len == NULL || region == NULL || column_family == NULL ||
        (record_key == NULL && key_len > 0))
        return CDP_MISUSE;
    size_t used = 0;
    if (aead_append(out, out_cap, &used, "cdp1", 4) != 0 ||
        aead_append_lp(out, out_cap, &used, region, strlen(region)) != 0 ||
        aead_append_lp(out, out_cap, &used, column_family, strlen(column_family)) != 0 ||
        aead_append_lp(out, out_cap, &used, record_key, key_len) != 0)
        return CDP_MISUSE;
    *out_len = used;
    return CDP_OK;
}

cdp_status cdp_aead_seal(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t *plain,
                         size_t plain_len, const uint8_t *ad, size_t ad_len,
                         const uint8_t key[CDP_AEAD_KEY_BYTES]) {
    if (out_len != NULL)
        *out_len = 0;
    if (out == NULL || out_len == NULL || key == NULL || (plain == NULL && plain_len > 0) ||
        (ad == NULL && ad_len > 0))
        return CDP_MISUSE;
    if (plain_len > SIZE_MAX - CDP_AEAD_OVERHEAD || out_cap < plain_len + CDP_AEAD_OVERHEAD ||
        plain_len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX)
        return CDP_MISUSE;
    if (!aead_sodium_ready())
        return CDP_INTERNAL;
    cdp_aead_nonce(out);
    unsigned long long sealed_len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + CDP_AEAD_NONCE_BYTES, &sealed_len, plain,
                                                   plain_len, ad, ad_len, NULL, out, key) != 0)
        return CDP_INTERNAL;
    *out_len = CDP_AEAD_NONCE_BYTES + (size_t)sealed_len;
    return CDP_OK;
}

cdp_status cdp_aead_open(uint8_t *out, size_t out_cap, size_t *out_len, const uint8_t *sealed,
                         size_t sealed_len, const uint8_t *ad, size_t ad_len,
                         const uint8_t key[CDP_AEAD_KEY_BYTES]) {
    cdp_status status = CDP_OK;
    if (out_len != NULL)
        *out_len = 0;
    if (out == NULL || out_len == NULL || key == NULL || (sealed == NULL && sealed_len > 0) ||
        (ad == NULL && ad_len > 0))
        return CDP_MISUSE;
    if (sealed_len < CDP_AEAD_OVERHEAD) {
        status = CDP_CORRUPT;
        goto done;
    }
    size_t plain_len = sealed_len - CDP_AEAD_OVERHEAD;
    if (out_cap < plain_len) {
        status = CDP_MISUSE;
        goto done;
    }
    if (!aead_sodium_ready()) {
        status = CDP_INTERNAL;
        goto done;
    }
    unsigned long long opened_len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            out, &opened_len, NULL, sealed + CDP_AEAD_NONCE_BYTES,
            sealed_len - CDP_AEAD_NONCE_BYTES, ad, ad_len, sealed, key) != 0) {
        status = CDP_CRYPTO;
        goto done;
    }
    *out_len = (size_t)opened_len;
done:
    /* Whatever reached out before a failure must not be mistaken for (or leak) plaintext. */
    if (status != CDP_OK && sealed_len >= CDP_AEAD_OVERHEAD)
        sodium_memzero(out, out_cap < sealed_len - CDP_AEAD_OVERHEAD
                                ? out_cap
                                : sealed_len - CDP_AEAD_OVERHEAD);
    return status;
}
