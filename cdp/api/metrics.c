/* cdp_metrics_text: the library's counters for /metrics, in Prometheus text format. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "access/access.h"
#include "api/handle.h"
#include "util/alloc.h"

cdp_status cdp_metrics_text(cdp_t *db, char **text) {
    cdp_err err = {0};
    if (db == NULL || text == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "metrics: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    const cdp_identity_counters *counters = cdp_handle_identity_env(db)->counters;
    static const struct {
        const char *name, *help;
        size_t offset;
    } rows[] = {
        {"cdp_events_ingested_total", "Messages stored.",
         offsetof(cdp_identity_counters, events)},
        {"cdp_events_duplicate_total", "Messages dropped as already stored (same messageId).",
         offsetof(cdp_identity_counters, duplicates)},
        {"cdp_profiles_created_total", "Profiles created.",
         offsetof(cdp_identity_counters, profiles_created)},
        {"cdp_merges_total", "Profiles merged into another.",
         offsetof(cdp_identity_counters, merges)},
        {"cdp_merge_refusals_total",
         "Merges or identifier attachments refused by an identity rule.",
         offsetof(cdp_identity_counters, merge_refusals)},
        {"cdp_quarantined_merges_total",
         "Messages that would have merged too many profiles at once (held for review).",
         offsetof(cdp_identity_counters, quarantined)},
        {"cdp_blocked_identifiers_total", "Identifiers ignored as blocked placeholder values.",
         offsetof(cdp_identity_counters, blocked_identifiers)},
        {"cdp_erasures_total", "People erased (GDPR Art. 17 / CCPA delete).",
         offsetof(cdp_identity_counters, erasures)},
    };
    char buffer[16384];
    size_t used = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const _Atomic unsigned long long *value =
            (const _Atomic unsigned long long *)((const char *)counters + rows[i].offset);
        int n = snprintf(buffer + used, sizeof buffer - used,
                         "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", rows[i].name,
                         rows[i].help, rows[i].name, rows[i].name, atomic_load(value));
        if (n < 0 || (size_t)n >= sizeof buffer - used)
            break;
        used += (size_t)n;
    }
    /* The one door's refusals (whole requests) and withholdings (items), by reason. */
    static const char *const families[2][2] = {
        {"cdp_access_denials_total", "Requests refused by the access decision, by reason."},
        {"cdp_access_withheld_total",
         "Items (traits, events, properties) withheld or not stored, by reason."}};
    for (int family = 0; family < 2; family++) {
        int n = snprintf(buffer + used, sizeof buffer - used, "# HELP %s %s\n# TYPE %s counter\n",
                         families[family][0], families[family][1], families[family][0]);
        if (n < 0 || (size_t)n >= sizeof buffer - used)
            break;
        used += (size_t)n;
        for (size_t i = 0; i < cdp_access_counter_count(); i++) {
            const char *reason;
            unsigned long long denied, withheld;
            cdp_access_counter_at(i, &reason, &denied, &withheld);
            n = snprintf(buffer + used, sizeof buffer - used, "%s{reason=\"%s\"} %llu\n",
                         families[family][0], reason, family == 0 ? denied : withheld);
            if (n < 0 || (size_t)n >= sizeof buffer - used)
                break;
            used += (size_t)n;
        }
    }
    /* Memory that grows with writes until RocksDB flushes: a soak subtracts it from RSS. */
    {
        int n = snprintf(buffer + used, sizeof buffer - used,
                         "# HELP cdp_store_memtable_bytes Bytes in RocksDB memtables (all regions "
                         "and column families).\n# TYPE cdp_store_memtable_bytes gauge\n"
                         "cdp_store_memtable_bytes %llu\n",
                         cdp_access_memtable_bytes(cdp_handle_identity_env(db)));
        if (n > 0 && (size_t)n < sizeof buffer - used)
            used += (size_t)n;
    }
    /* Data-subject requests: received by type, pending, overdue (as of now). */
    char *dsr = NULL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (cdp_dsr_metrics_text(db, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, &dsr) ==
        CDP_OK) {
        size_t dsr_len = strlen(dsr);
        if (dsr_len < sizeof buffer - used) {
            memcpy(buffer + used, dsr, dsr_len);
            used += dsr_len;
        }
        cdp_free(dsr);
    }
    *text = cdp_strndup(buffer, used);
    if (*text == NULL) {
        cdp_err_set(&err, CDP_NOMEM, "out of memory");
        return cdp_handle_fail(db, &err);
    }
    return CDP_OK;
}
