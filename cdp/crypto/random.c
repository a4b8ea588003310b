/* Per-thread ChaCha20 CSPRNG with fast key erasure (as in OpenBSD's arc4random): each refill
 * runs the keystream over one block, takes its first 32 bytes as the next key and hands out the
 * rest, wiping every byte as it leaves. The state never holds the key that produced an output
 * already handed out, so a data key generated here cannot be recomputed from a later memory dump
 * after the person is erased. */
#include "crypto/random.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#define RANDOM_KEY_BYTES crypto_stream_chacha20_ietf_KEYBYTES
#define RANDOM_NONCE_BYTES crypto_stream_chacha20_ietf_NONCEBYTES
/* Eight ChaCha20 blocks per refill: libsodium's vectorised code runs 4 or 8 blocks at once, and
 * 480 bytes of output cover ten new people (16-byte id + 32-byte key) per refill. */
#define RANDOM_BLOCK_BYTES 512

_Static_assert(RANDOM_KEY_BYTES == 32, "ChaCha20 key");
_Static_assert(RANDOM_NONCE_BYTES == 12, "96-bit IETF nonce");

typedef struct random_source {
    int ready;
    uint64_t counter_low; /* the 96-bit nonce: counter_high || counter_low */
    uint32_t counter_high;
    size_t available; /* unread output bytes at the end of block */
    uint8_t key[RANDOM_KEY_BYTES];
    uint8_t block[RANDOM_BLOCK_BYTES];
} random_source;

static _Thread_local random_source thread_random;
static _Thread_local int thread_sodium_ready;
static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;

/* The child inherits the forking thread's key and unread output, and would hand out the same
 * bytes as the parent (the same "random" data keys): wipe it, so the child seeds afresh. Only the
 * forking thread exists in the child, so its state is the only one to reset. */
static void random_after_fork_in_child(void) {
    sodium_memzero(&thread_random, sizeof thread_random);
}

static void random_register_fork_handler(void) {
    pthread_atfork(NULL, NULL, random_after_fork_in_child);
}

static void random_seed(random_source *source) {
    /* sodium_init() takes a lock on every call; once per thread is enough. It can only fail
     * when the system has no random source, and then randombytes_buf aborts below. */
    if (!thread_sodium_ready && sodium_init() >= 0)
        thread_sodium_ready = 1;
    pthread_once(&fork_handler_once, random_register_fork_handler);
    randombytes_buf(source->key, sizeof source->key);
    source->counter_low = 0;
    source->counter_high = 0;
    source->available = 0;
    source->ready = 1;
}

/* Runs the keystream over a fresh block under a never-used nonce, then replaces the key with the
 * block's first bytes (fast key erasure). */
static void random_refill(random_source *source) {
    uint8_t nonce[RANDOM_NONCE_BYTES];
    for (int i = 0; i < 8; i++)
        nonce[i] = (uint8_t)(source->counter_low >> (8 * i));
    for (int i = 0; i < 4; i++)
        nonce[8 + i] = (uint8_t)(source->counter_high >> (8 * i));
    if (++source->counter_low == 0 && ++source->counter_high == 0)
        source->ready = 0; /* 2^96 refills will not happen; if they did, reseed next time */
    crypto_stream_chacha20_ietf(source->block, sizeof source->block, nonce, source->key);
    memcpy(source->key, source->block, RANDOM_KEY_BYTES);
    sodium_memzero(source->block, RANDOM_KEY_BYTES);
    source->available = RANDOM_BLOCK_BYTES - RANDOM_KEY_BYTES;
}

void cdp_random_bytes(void *out, size_t len) {
    random_source *source = &thread_random;
    uint8_t *to = out;
    if (!source->ready)
        random_seed(source);
    while (len > 0) {
        if (source->available == 0)
            random_refill(source);
        size_t take = len < source->available ? len : source->available;
        uint8_t *from = source->block + (RANDOM_BLOCK_BYTES - source->available);
        memcpy(to, from, take);
        sodium_memzero(from, take); /* handed out: no copy left behind in the state */
        source->available -= take;
        to += take;
        len -= take;
    }
    if (!source->ready)
        random_seed(source); /* counter wrapped during this call */
}
