/* cdp-bench erase (see bench_erase.c). */
#ifndef CDP_BENCH_ERASE_H
#define CDP_BENCH_ERASE_H

#include <stddef.h>

/* Loads `people` people, erases `erasures` of them (spread over the store) in two threads while
 * a third ingests other people's events, purges once; prints one JSON line. 0 on success. */
int cdp_bench_erase(size_t people, size_t erasures, const char *policy_dir);

#endif
