/* A userspace CSPRNG for the hot path (profile ids, data keys): randombytes_buf makes a system
 * call per use, which cost about as much as the whole rest of creating a person. Per-thread
 * ChaCha20 keystream seeded once from the system (randombytes_buf), with fast key erasure so a
 * later look at process memory cannot recover anything already handed out. Thread-safe. */
#ifndef CDP_CRYPTO_RANDOM_H
#define CDP_CRYPTO_RANDOM_H

#include <stddef.h>

/* Fills out with len cryptographically secure random bytes. Never fails: the only system call is
 * the per-thread seed (randombytes_buf, which aborts rather than return weak bytes). Fork-safe:
 * a child process reseeds before its first use, so it never repeats the parent's output. */
void cdp_random_bytes(void *out, size_t len);

#endif
