/* The library's one allocation path. Tests make the Nth allocation fail (SQLite's way) so that
 * every error path is run, not only written. Thread-safe. */
#ifndef CDP_UTIL_ALLOC_H
#define CDP_UTIL_ALLOC_H

#include <stddef.h>

void *cdp_malloc(size_t size);
void *cdp_calloc(size_t count, size_t size);
void *cdp_realloc(void *pointer, size_t size);
void cdp_free(void *pointer);
/* Duplicates a NUL-terminated string; caller owns (free with cdp_free). */
char *cdp_strdup(const char *text);
char *cdp_strndup(const char *text, size_t length);

/* Test hook: after `count` more successful allocations, every allocation fails until
 * cdp_alloc_fail_reset(). count < 0 disables failing. */
void cdp_alloc_fail_after(long count);
void cdp_alloc_fail_reset(void);

#endif
