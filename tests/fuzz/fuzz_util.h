/* Shared by the libFuzzer harnesses in tests/fuzz/: invariant checks that abort (so libFuzzer,
 * and the gcc replay of tests/fuzz/regressions/, report them as crashes), and small helpers.
 * Each harness defines LLVMFuzzerTestOneInput; fuzz_replay.c drives it from files without clang. */
#ifndef CDP_FUZZ_UTIL_H
#define CDP_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of our own code broke: the one place a harness may abort. */
#define FUZZ_CHECK(condition, ...)                                                             \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #condition);  \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* A refusal must say why: a status other than OK and a non-empty message. */
#define FUZZ_CHECK_REFUSAL(status, err)                                                        \
    FUZZ_CHECK((status) != CDP_OK && (err).message[0] != '\0',                                 \
               "status %d with an empty message", (int)(status))

/* A NUL-terminated copy of data[0..size) (caller frees with free); NULL when out of memory. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (text != NULL) {
        if (size > 0)
            memcpy(text, data, size);
        text[size] = '\0';
    }
    return text;
}

#endif
