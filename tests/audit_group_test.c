/* Group commit of audit appends: appenders that queue behind a leader are written in one
 * RocksDB batch, yet each one gets back the seq of its own record, the record at that seq is
 * its own, every record is in the tree, and a lone appender is its own leader. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/log.h"
#include "audit/log_internal.h"
#include "audit/merkle.h"
#include "audit/record.h"
#include "crypto/keystore.h"
#include "crypto/rootkey.h"
#include "store/region.h"
#include "support/testutil.h"
#include "util/alloc.h"

static char *base;
static cdp_rootkey *rootkey;
static cdp_keystore *keystore;
static cdp_region *region;

static void setup(void) {
    cr_assert_eq(sodium_init() >= 0, 1);
    base = test_tempdir("audit-group");
    cr_assert_not_null(base);
    char region_path[1024], keystore_path[1024];
    snprintf(region_path, sizeof region_path, "%s/eu", base);
    snprintf(keystore_path, sizeof keystore_path, "%s/keystore", base);
    uint8_t key[CDP_ROOT_KEY_BYTES];
    randombytes_buf(key, sizeof key);
    cdp_err err = {0};
    cr_assert_eq(cdp_rootkey_from_bytes(key, &rootkey, &err), CDP_OK, "%s", err.message);
    const char *regions[] = {"eu"};
    cr_assert_eq(cdp_keystore_create(keystore_path, rootkey, regions, 1, &err), CDP_OK, "%s",
                 err.message);
    cr_assert_eq(cdp_keystore_open(keystore_path, rootkey, &keystore, &err), CDP_OK, "%s",
                 err.message);
    cdp_region_options options = {.create = 1};
    cr_assert_eq(cdp_region_open(region_path, "eu", &options, &region, &err), CDP_OK, "%s",
                 err.message);
}

static void teardown(void) {
    cdp_region_close(region);
    region = NULL;
    cdp_keystore_close(keystore);
    keystore = NULL;
    cdp_rootkey_free(rootkey);
    rootkey = NULL;
    test_rmtree(base);
    free(base);
}

static cdp_audit_log *open_log(void) {
    cdp_audit_options options;
    cdp_audit_options_default(&options);
    options.checkpoint_every = 50;
    options.checkpoint_interval_ms = -1;
    cdp_audit_log *log = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_audit_log_open(region, "eu", keystore, &options, &log, &err), CDP_OK, "%s",
                 err.message);
    return log;
}

/* One appender's entries: request ids "t<thread>-<i>" name whose record each one is. */
typedef struct appender {
    cdp_audit_log *log;
    int thread;
    int appends;
    uint64_t seqs[400];
    cdp_status status;
} appender;

static void *append_thread(void *context) {
    appender *self = context;
    for (int i = 0; i < self->appends; i++) {
        char request_id[32];
        snprintf(request_id, sizeof request_id, "t%d-%d", self->thread, i);
        uint8_t profile[CDP_PROFILE_ID_BYTES] = {0xb0, (uint8_t)self->thread};
        cdp_audit_entry entry = {.actor_key_id = "k1",
                                 .actor_role = "personalization",
                                 .operation = "profile.read",
                                 .purpose = "personalization",
                                 .profile_id = profile,
                                 .decision = CDP_AUDIT_ALLOW,
                                 .request_id = request_id};
        cdp_err err = {0};
        cdp_status status = cdp_audit_write(self->log, NULL, &entry, 1, 0, &self->seqs[i], &err);
        if (status != CDP_OK) {
            self->status = status;
            return NULL;
        }
    }
    return NULL;
}

typedef struct expect_record {
    const char *request_id;
    uint64_t seq;
    int matched;
} expect_record;

static cdp_status check_record(void *context, const cdp_audit_record *record) {
    expect_record *expect = context;
    expect->matched = record->seq == expect->seq && record->request_id != NULL &&
                      strcmp(record->request_id, expect->request_id) == 0;
    return CDP_OK;
}

/* Every appender's seqs are its own records, no seq twice, and the tree holds exactly them. */
static void assert_each_seq_is_its_own(cdp_audit_log *log, appender *appenders, int threads,
                                       uint64_t total) {
    uint8_t *seen = calloc(total, 1);
    for (int t = 0; t < threads; t++)
        for (int i = 0; i < appenders[t].appends; i++) {
            uint64_t seq = appenders[t].seqs[i];
            cr_assert_lt(seq, total, "seq %lu beyond the tree", (unsigned long)seq);
            cr_assert_eq(seen[seq], 0, "seq %lu handed out twice", (unsigned long)seq);
            seen[seq] = 1;
            char request_id[32];
            snprintf(request_id, sizeof request_id, "t%d-%d", t, i);
            expect_record expect = {request_id, seq, 0};
            cdp_err err = {0};
            cr_assert_eq(cdp_audit_get(log, seq, check_record, &expect, &err), CDP_OK, "%s",
                         err.message);
            cr_assert(expect.matched, "record %lu is not %s's", (unsigned long)seq, request_id);
            uint8_t proof[CDP_AUDIT_MAX_PROOF][CDP_MERKLE_HASH_BYTES];
            size_t count = 0;
            cr_assert_eq(cdp_audit_inclusion_proof(log, seq, 0, proof, &count, &err), CDP_OK,
                         "%s", err.message);
        }
    free(seen);
    cdp_audit_info info;
    cdp_audit_log_info(log, &info);
    cr_assert_eq(info.tree_size, total);
}

Test(audit_group, queued_appenders_share_one_write_and_keep_their_own_seqs, .init = setup,
     .fini = teardown, .timeout = 120) {
    cdp_audit_log *log = open_log();
    enum { THREADS = 6 };
    appender appenders[THREADS];
    pthread_t ids[THREADS];
    /* Hold the log: the first appender leads and waits for the mutex, the others queue. */
    audit_log_hold(log, 1);
    for (int t = 0; t < THREADS; t++) {
        appenders[t] = (appender){.log = log, .thread = t, .appends = 1};
        pthread_create(&ids[t], NULL, append_thread, &appenders[t]);
    }
    for (int spins = 0; audit_log_queued(log) < THREADS - 1 && spins < 20000; spins++)
        usleep(1000);
    cr_assert_eq(audit_log_queued(log), THREADS - 1, "the others did not queue");
    audit_log_hold(log, 0);
    for (int t = 0; t < THREADS; t++) {
        pthread_join(ids[t], NULL);
        cr_assert_eq(appenders[t].status, CDP_OK);
    }
    audit_group_stats stats;
    audit_log_group_stats(log, &stats);
    cr_assert_eq(stats.appends, THREADS);
    cr_assert_eq(stats.writes, 2, "%lu writes: the queued appends were not grouped",
                 (unsigned long)stats.writes);
    assert_each_seq_is_its_own(log, appenders, THREADS, THREADS);
    cdp_audit_log_close(log);
}

Test(audit_group, concurrent_appenders_lose_nothing_and_the_log_reopens, .init = setup,
     .fini = teardown, .timeout = 300) {
    cdp_audit_log *log = open_log();
    enum { THREADS = 6, EACH = 400 };
    appender *appenders = calloc(THREADS, sizeof *appenders);
    pthread_t ids[THREADS];
    for (int t = 0; t < THREADS; t++) {
        appenders[t] = (appender){.log = log, .thread = t, .appends = EACH};
        pthread_create(&ids[t], NULL, append_thread, &appenders[t]);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(ids[t], NULL);
        cr_assert_eq(appenders[t].status, CDP_OK);
    }
    audit_group_stats stats;
    audit_log_group_stats(log, &stats);
    cr_assert_eq(stats.appends, THREADS * EACH);
    cr_assert_leq(stats.writes, stats.appends);
    assert_each_seq_is_its_own(log, appenders, THREADS, THREADS * EACH);
    cdp_audit_info before;
    cdp_audit_log_info(log, &before);
    cdp_audit_log_close(log);
    /* What the group writes left on disk is a tree the log opens again, with the same root. */
    log = open_log();
    cdp_audit_info after;
    cdp_audit_log_info(log, &after);
    cr_assert_eq(after.tree_size, before.tree_size);
    cr_assert_eq(memcmp(after.root, before.root, sizeof after.root), 0);
    cr_assert(after.has_checkpoint, "a checkpoint falls due inside group writes");
    assert_each_seq_is_its_own(log, appenders, THREADS, THREADS * EACH);
    cdp_audit_log_close(log);
    free(appenders);
}

Test(audit_group, a_lone_appender_is_its_own_leader, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log();
    appender one = {.log = log, .thread = 0, .appends = 3};
    append_thread(&one);
    cr_assert_eq(one.status, CDP_OK);
    audit_group_stats stats;
    audit_log_group_stats(log, &stats);
    cr_assert_eq(stats.writes, 3);
    cr_assert_eq(stats.appends, 3);
    assert_each_seq_is_its_own(log, &one, 1, 3);
    cdp_audit_log_close(log);
}

Test(audit_group, an_allocation_failure_fails_only_that_append, .init = setup, .fini = teardown) {
    cdp_audit_log *log = open_log();
    appender one = {.log = log, .thread = 0, .appends = 1};
    cdp_alloc_fail_after(0);
    append_thread(&one);
    cdp_alloc_fail_reset();
    cr_assert_eq(one.status, CDP_NOMEM);
    cdp_audit_info info;
    cdp_audit_log_info(log, &info);
    cr_assert_eq(info.tree_size, 0, "a failed append used a seq");
    one = (appender){.log = log, .thread = 0, .appends = 2};
    append_thread(&one);
    cr_assert_eq(one.status, CDP_OK);
    assert_each_seq_is_its_own(log, &one, 1, 2);
    cdp_audit_log_close(log);
}
