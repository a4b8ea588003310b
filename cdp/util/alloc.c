/* Allocation wrapper with a fault-injection counter for tests. */
#include "util/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* -1: never fail. Otherwise the number of allocations still allowed to succeed. */
static _Atomic long allocations_left = -1;

static int allocation_allowed(void) {
    long left = atomic_load(&allocations_left);
    while (left >= 0) {
        if (left == 0)
            return 0;
        if (atomic_compare_exchange_weak(&allocations_left, &left, left - 1))
            return 1;
    }
    return 1;
}

void *cdp_malloc(size_t size) { return allocation_allowed() ? malloc(size ? size : 1) : NULL; }

void *cdp_calloc(size_t count, size_t size) {
    return allocation_allowed() ? calloc(count ? count : 1, size ? size : 1) : NULL;
}

void *cdp_realloc(void *pointer, size_t size) {
    return allocation_allowed() ? realloc(pointer, size ? size : 1) : NULL;
}

void cdp_free(void *pointer) { free(pointer); }

char *cdp_strndup(const char *text, size_t length) {
    char *copy = cdp_malloc(length + 1);
    if (copy != NULL) {
        memcpy(copy, text, length);
        copy[length] = '\0';
    }
    return copy;
}

char *cdp_strdup(const char *text) { return cdp_strndup(text, strlen(text)); }

void cdp_alloc_fail_after(long count) { atomic_store(&allocations_left, count < 0 ? -1 : count); }

void cdp_alloc_fail_reset(void) { atomic_store(&allocations_left, -1); }
