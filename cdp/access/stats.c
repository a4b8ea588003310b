/* Store statistics through the one door: per region, how many people, events, merged profiles,
 * erasures and suppressed identifiers the store holds and its size on disk. Counts are exact:
 * each is a key-only scan of one column family (no value is decrypted, none leaves this file),
 * the erasures come from the erasure ledger, the audit size from the log's own state. The caller
 * holds the handle shared, so a key epoch never changes under the scan. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "access/access_internal.h"
#include "audit/log.h"
#include "privacy/ledger.h"
#include "util/alloc.h"

/* The counted column families, in the order of the JSON fields they feed. */
static const struct {
    cdp_cf cf;
    const char *field;
} counted[] = {
    {CDP_CF_PROFILES, "people"},
    {CDP_CF_KEYS, "data_keys"},
    {CDP_CF_EVENTS, "events"},
    {CDP_CF_CONSENT, "consent_records"},
    {CDP_CF_MERGES, "merge_records"},
    {CDP_CF_IDENTITY, "identity_index_entries"},
    {CDP_CF_SUPPRESS, "suppressed_identifiers"},
};
#define COUNTED (sizeof counted / sizeof counted[0])

typedef struct region_stats {
    uint64_t counts[COUNTED];
    uint64_t erasures;
    uint64_t audit_records;
    uint64_t bytes_on_disk;
} region_stats;

static cdp_status count_keys(cdp_region *region, cdp_cf cf, uint64_t *count, cdp_err *err) {
    cdp_iter *iter = NULL;
    uint64_t n = 0;
    cdp_status status = cdp_region_iter(region, cf, NULL, 0, &iter, err);
    if (status != CDP_OK)
        return status;
    for (; cdp_iter_valid(iter); cdp_iter_next(iter))
        n++;
    status = cdp_iter_status(iter, err);
    cdp_iter_free(iter);
    *count = n;
    return status;
}

/* Bytes of the regular files under path (RocksDB's SST, WAL, MANIFEST, OPTIONS, ...). */
static cdp_status disk_bytes(const char *path, int depth, uint64_t *total, cdp_err *err) {
    DIR *dir = opendir(path);
    if (dir == NULL)
        return cdp_err_set(err, CDP_IO, "stats: %s: %s", path, strerror(errno));
    cdp_status status = CDP_OK;
    struct dirent *entry;
    char child[PATH_MAX];
    while (status == CDP_OK && (entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        int n = snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
        if (n < 0 || (size_t)n >= sizeof child) {
            status = cdp_err_set(err, CDP_IO, "stats: %s: path too long", path);
            break;
        }
        struct stat info;
        if (lstat(child, &info) != 0)
            continue; /* removed under us (a compaction finished): not on disk any more */
        if (S_ISREG(info.st_mode))
            *total += (uint64_t)info.st_size;
        else if (S_ISDIR(info.st_mode) && depth < 4)
            status = disk_bytes(child, depth + 1, total, err);
    }
    closedir(dir);
    return status;
}

typedef struct ledger_count {
    const cdp_identity_env *env;
    region_stats *stats;
} ledger_count;

static cdp_status count_erasure(void *context, uint64_t seq, json_t *entry) {
    (void)seq;
    ledger_count *count = context;
    const char *region = json_string_value(json_object_get(entry, "region"));
    for (size_t r = 0; region != NULL && r < count->env->region_count; r++)
        if (strcmp(count->env->region_ids[r], region) == 0)
            count->stats[r].erasures++;
    return CDP_OK;
}

static size_t default_region_index(const cdp_identity_env *env) {
    const char *wanted = cdp_policy_default_region(env->policy);
    for (size_t r = 0; wanted != NULL && r < env->region_count; r++)
        if (strcmp(env->region_ids[r], wanted) == 0)
            return r;
    return 0;
}

/* {"field": n, ...} of one region (or the totals, region NULL). */
static json_t *stats_object(const char *region, const region_stats *stats) {
    json_t *object = json_object();
    if (object == NULL)
        return NULL;
    int failed = 0;
    if (region != NULL)
        failed |= json_object_set_new(object, "region", json_string(region));
    failed |= json_object_set_new(object, "people", json_integer((json_int_t)stats->counts[0]));
    failed |= json_object_set_new(object, "events", json_integer((json_int_t)stats->counts[2]));
    /* A merged-away profile keeps its data key (its events are still the person's) but loses
     * its profile record: data keys without a profile are the profiles merged into another. */
    uint64_t merged = stats->counts[1] > stats->counts[0] ? stats->counts[1] - stats->counts[0] : 0;
    failed |= json_object_set_new(object, "merges", json_integer((json_int_t)merged));
    failed |= json_object_set_new(object, "erasures", json_integer((json_int_t)stats->erasures));
    for (size_t i = 1; i < COUNTED; i++)
        if (i != 2)
            failed |= json_object_set_new(object, counted[i].field,
                                          json_integer((json_int_t)stats->counts[i]));
    failed |= json_object_set_new(object, "audit_records",
                                  json_integer((json_int_t)stats->audit_records));
    failed |= json_object_set_new(object, "bytes_on_disk",
                                  json_integer((json_int_t)stats->bytes_on_disk));
    if (failed) {
        json_decref(object);
        return NULL;
    }
    return object;
}

cdp_status cdp_access_stats(const cdp_identity_env *env, const cdp_actor *actor, char **json,
                            cdp_err *err) {
    *json = NULL;
    size_t audit_region = default_region_index(env);
    if (actor->role != CDP_ROLE_ADMIN && actor->role != CDP_ROLE_DPO) {
        cdp_access_answer answer = {
            .kind = CDP_DECISION_DENY, .status = CDP_FORBIDDEN, .reason = "role_purpose"};
        cdp_access_audit(env, audit_region, actor, "admin.stats", NULL, NULL, &answer,
                         CDP_AUDIT_DENY, NULL, 0, NULL);
        cdp_access_count("role_purpose", 1);
        return cdp_err_set(err, CDP_FORBIDDEN,
                           "role: %s may not read store statistics (admin or dpo)",
                           cdp_role_name(actor->role));
    }
    region_stats *stats = cdp_calloc(env->region_count ? env->region_count : 1, sizeof *stats);
    region_stats total;
    memset(&total, 0, sizeof total);
    json_t *root = NULL, *regions = NULL;
    cdp_status status = CDP_OK;
    if (stats == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "stats: out of memory");
        goto done;
    }
    for (size_t r = 0; status == CDP_OK && r < env->region_count; r++) {
        cdp_region *region = cdp_vault_region(env->vaults[r]);
        for (size_t i = 0; status == CDP_OK && i < COUNTED; i++)
            status = count_keys(region, counted[i].cf, &stats[r].counts[i], err);
        cdp_audit_info info;
        cdp_audit_log_info(env->audit_logs[r], &info);
        stats[r].audit_records = info.tree_size - info.start;
        if (status == CDP_OK)
            status = disk_bytes(cdp_region_path(region), 0, &stats[r].bytes_on_disk, err);
    }
    if (status == CDP_OK && env->ledger != NULL) {
        ledger_count context = {env, stats};
        status = cdp_ledger_foreach(env->ledger, 0, count_erasure, &context, err);
    }
    if (status != CDP_OK)
        goto done;
    root = json_object();
    regions = json_array();
    if (root == NULL || regions == NULL || json_object_set_new(root, "exact", json_true()) != 0) {
        status = cdp_err_set(err, CDP_NOMEM, "stats: out of memory");
        goto done;
    }
    for (size_t r = 0; r < env->region_count; r++) {
        for (size_t i = 0; i < COUNTED; i++)
            total.counts[i] += stats[r].counts[i];
        total.erasures += stats[r].erasures;
        total.audit_records += stats[r].audit_records;
        total.bytes_on_disk += stats[r].bytes_on_disk;
        if (json_array_append_new(regions, stats_object(env->region_ids[r], &stats[r])) != 0) {
            status = cdp_err_set(err, CDP_NOMEM, "stats: out of memory");
            goto done;
        }
    }
    if (json_object_set(root, "regions", regions) != 0 ||
        json_object_set_new(root, "totals", stats_object(NULL, &total)) != 0) {
        status = cdp_err_set(err, CDP_NOMEM, "stats: out of memory");
        goto done;
    }
    /* Recorded like the other admin actions (no person, no personal data in the answer). */
    cdp_access_answer answer = {.kind = CDP_DECISION_ALLOW, .reason = "allowed"};
    status = cdp_access_audit(env, audit_region, actor, "admin.stats", NULL, NULL, &answer,
                              CDP_AUDIT_ALLOW, NULL, 0, err);
    if (status != CDP_OK)
        goto done;
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    *json = text != NULL ? cdp_strdup(text) : NULL;
    free(text);
    if (*json == NULL)
        status = cdp_err_set(err, CDP_NOMEM, "stats: out of memory");
done:
    json_decref(regions);
    json_decref(root);
    cdp_free(stats);
    return status;
}

unsigned long long cdp_access_memtable_bytes(const cdp_identity_env *env) {
    unsigned long long total = 0;
    for (size_t r = 0; env != NULL && r < env->region_count; r++) {
        cdp_region *region = cdp_vault_region(env->vaults[r]);
        for (int cf = 0; cf < CDP_CF_COUNT; cf++) {
            uint64_t bytes = 0;
            cdp_err err = {0};
            if (cdp_region_property(region, (cdp_cf)cf, "rocksdb.cur-size-all-mem-tables", &bytes,
                                    &err) == CDP_OK)
                total += bytes;
        }
    }
    return total;
}
