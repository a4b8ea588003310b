/* cdp-bench export (see bench_export.c). */
#ifndef CDP_BENCH_EXPORT_H
#define CDP_BENCH_EXPORT_H

#include <stddef.h>

/* Loads `people` people (10 events each), then exports `subjects` of them and the region's audit
 * log, and verifies that export; prints the export, audit_export and audit_verify lines, each
 * with its ceiling and ratio. 0 on success. */
int cdp_bench_export(size_t people, size_t subjects, const char *policy_dir);

#endif
