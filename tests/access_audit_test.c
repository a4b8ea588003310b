/* Every ingest and every profile read leaves an audit record about the person (pseudonymous
 * id only), written with the data change itself; the region's export then verifies offline. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handle.h"
#include "audit/export.h"
#include "api/apikeys.h"
#include "audit/log.h"
#include "support/testutil.h"

static char *base;
static cdp_t *db;

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    base = test_tempdir("access-audit");
    char data_dir[1024];
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    cr_assert_eq(test_store_open(data_dir, 1, &db), CDP_OK, "%s", cdp_errmsg(db));
}

static void teardown(void) {
    cdp_close(db);
    test_rmtree(base);
    free(base);
}

typedef struct seen {
    char operations[8][32];
    char purposes[8][32];
    size_t count;
} seen;

static cdp_status collect(void *context, const cdp_audit_record *record) {
    seen *s = context;
    if (s->count < 8) {
        snprintf(s->operations[s->count], 32, "%s", record->operation);
        snprintf(s->purposes[s->count], 32, "%s", record->purpose ? record->purpose : "");
        s->count++;
    }
    return CDP_OK;
}

TestSuite(access_audit, .init = setup, .fini = teardown);

Test(access_audit, ingest_and_reads_are_audited_and_the_export_verifies) {
    cdp_actor ingest = {.role = CDP_ROLE_INGEST, .key_id = "k1", .region = "eu", .source = "web",
                        .request_id = "req-1"};
    const char *message = "{\"userId\":\"audited-1\",\"traits\":{\"email\":\"ada@example.org\"}}";
    cdp_ingest_result result;
    cr_assert_eq(cdp_ingest(db, &ingest, "identify", message, strlen(message), 0, &result), CDP_OK,
                 "%s", cdp_errmsg(db));
    cdp_ingest_result_clear(&result);
    cdp_actor reader = {.role = CDP_ROLE_DPO, .key_id = "k2", .region = "eu"};
    char *json = NULL;
    cr_assert_eq(cdp_profile_get(db, &reader, "support", "email:ada@example.org", &json),
                 CDP_OK);
    /* The person's pseudonymous id, from the profile. */
    const char *start = strstr(json, "\"profile_id\":\"") + 14;
    uint8_t profile_id[16];
    cr_assert_eq(cdp_hex_decode(profile_id, 16, start, 32), 0);
    cdp_free(json);

    cdp_audit_log *log = cdp_handle_audit_log(db, "eu");
    seen s = {0};
    cdp_err err = {0};
    cr_assert_eq(cdp_audit_list_person(log, profile_id, collect, &s, &err), CDP_OK, "%s",
                 err.message);
    cr_assert_eq(s.count, 2);
    cr_assert_str_eq(s.operations[0], "event.identify");
    cr_assert_str_eq(s.operations[1], "profile.read");
    cr_assert_str_eq(s.purposes[1], "support");

    /* The export verifies with the public key alone and holds no personal data. */
    char path[1200];
    snprintf(path, sizeof path, "%s/audit.jsonl", base);
    FILE *out = fopen(path, "wb");
    cr_assert_eq(cdp_audit_checkpoint_now(log, NULL, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_audit_export_file(log, NULL, CDP_AUDIT_FORMAT_JSONL, out, NULL, &err),
                 CDP_OK, "%s", err.message);
    fclose(out);
    uint8_t public_key[32];
    cr_assert_eq(cdp_audit_log_public_key(log, public_key, &err), CDP_OK);
    cdp_audit_verify_report report;
    cr_assert_eq(cdp_audit_verify_export_path(path, public_key, &report, &err), CDP_OK, "%s",
                 err.message);
    const char *needles[] = {"ada@example.org", "audited-1", "example.org"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(test_scan_tree(base, (const uint8_t *)needles[i], strlen(needles[i]), NULL, 0),
                     0, "%s found in the data dir or export", needles[i]);
}

Test(access_audit, maintenance_checkpoints_and_retention_keep_the_log_verifiable) {
    cdp_actor ingest = {.role = CDP_ROLE_INGEST, .key_id = "k1", .region = "eu"};
    for (int i = 0; i < 5; i++) {
        char message[128];
        snprintf(message, sizeof message, "{\"userId\":\"kept-%d\"}", i);
        cdp_ingest_result result;
        cr_assert_eq(cdp_ingest(db, &ingest, "identify", message, strlen(message), 0, &result),
                     CDP_OK);
        cdp_ingest_result_clear(&result);
    }
    cdp_audit_log *log = cdp_handle_audit_log(db, "eu");
    cdp_audit_info before;
    cdp_audit_log_info(log, &before);
    /* Now + 2 minutes: a checkpoint is due (60 s), nothing is old enough to go. */
    int64_t now = before.last_checkpoint_ms > 0 ? before.last_checkpoint_ms : 1800000000000LL;
    cr_assert_eq(cdp_maintain(db, now + 120000), CDP_OK, "%s", cdp_errmsg(db));
    cdp_audit_info after;
    cdp_audit_log_info(log, &after);
    cr_assert(after.has_checkpoint && after.last_checkpoint_size == after.tree_size);
    cr_assert_eq(after.start, 0);
    /* Ten years on: retention (7 years) removes the old segments; the rest still verifies. */
    cdp_ingest_result result;
    const char *late = "{\"userId\":\"late\"}";
    cr_assert_eq(cdp_ingest(db, &ingest, "identify", late, strlen(late), 0, &result), CDP_OK);
    cdp_ingest_result_clear(&result);
    cr_assert_eq(cdp_maintain(db, now + 10LL * 366 * 86400000LL), CDP_OK, "%s", cdp_errmsg(db));
    cdp_audit_log_info(log, &after);
    cr_assert_gt(after.start, 0, "retention removed nothing");
    char path[1200];
    snprintf(path, sizeof path, "%s/retained.jsonl", base);
    FILE *out = fopen(path, "wb");
    cdp_err err = {0};
    cr_assert_eq(cdp_audit_export_file(log, NULL, CDP_AUDIT_FORMAT_JSONL, out, NULL, &err),
                 CDP_OK, "%s", err.message);
    fclose(out);
    uint8_t public_key[32];
    cr_assert_eq(cdp_audit_log_public_key(log, public_key, &err), CDP_OK);
    cdp_audit_verify_report report;
    cr_assert_eq(cdp_audit_verify_export_path(path, public_key, &report, &err), CDP_OK, "%s",
                 err.message);
}

Test(access_audit, a_bad_audit_policy_refuses_to_open) {
    char data_dir[1024], file[1100];
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    snprintf(file, sizeof file, "%s/policies/audit.json", data_dir);
    cdp_close(db);
    db = NULL;
    const char *bad = "{\"version\": 1, \"retention_dayz\": 3, \"checkpoint_every\": 0}";
    cr_assert_eq(test_write_file(file, bad, strlen(bad), 0644), 0);
    cr_assert_eq(cdp_open(data_dir, NULL, &db), CDP_BAD_POLICY);
    cr_assert(strstr(cdp_errmsg(db), "audit.json: top level: unknown key \"retention_dayz\"") !=
                  NULL,
              "%s", cdp_errmsg(db));
    cr_assert(strstr(cdp_errmsg(db), "audit.json: checkpoint_every:") != NULL, "%s",
              cdp_errmsg(db));
}

/* API keys are created and revoked outside the store (`cdpctl keys` works while a server runs):
 * each creation and revocation still becomes one audit record, once. */
typedef struct key_records {
    size_t created, revoked;
    char key_id[32];
} key_records;

static cdp_status collect_key_record(void *context, const cdp_audit_record *record) {
    key_records *seen = context;
    char wanted[48];
    snprintf(wanted, sizeof wanted, "apikey:%s", seen->key_id);
    if (record->request_id == NULL || strcmp(record->request_id, wanted) != 0)
        return CDP_OK;
    cr_assert_str_eq(record->actor_role, "admin");
    seen->created += strcmp(record->operation, "apikey.create") == 0;
    seen->revoked += strcmp(record->operation, "apikey.revoke") == 0;
    return CDP_OK;
}

static key_records count_key_records(const char *key_id) {
    key_records seen = {0};
    snprintf(seen.key_id, sizeof seen.key_id, "%s", key_id);
    cdp_audit_log *log = cdp_handle_audit_log(db, cdp_policy_default_region(cdp_handle_policy(db)));
    cdp_audit_info info;
    cdp_audit_log_info(log, &info);
    cdp_err err = {0};
    for (uint64_t seq = info.start; seq < info.tree_size; seq++)
        cr_assert_eq(cdp_audit_get(log, seq, collect_key_record, &seen, &err), CDP_OK, "%s",
                     err.message);
    return seen;
}

Test(access_audit, api_key_creation_and_revocation_are_audited_once) {
    char *secret = NULL;
    cdp_actor info;
    cr_assert_eq(cdp_apikey_create(db, CDP_ROLE_PERSONALIZATION, "eu", NULL, "marketing", &secret,
                                   &info),
                 CDP_OK, "%s", cdp_errmsg(db));
    cdp_free(secret);
    key_records seen = count_key_records(info.key_id);
    cr_assert_eq(seen.created, 1);
    cr_assert_eq(seen.revoked, 0);
    cr_assert_eq(cdp_apikey_revoke(db, info.key_id), CDP_OK);
    cr_assert_eq(cdp_maintain(db, 0), CDP_OK, "%s", cdp_errmsg(db));
    seen = count_key_records(info.key_id);
    cr_assert_eq(seen.created, 1, "recorded once, however often maintenance runs");
    cr_assert_eq(seen.revoked, 1);
    /* A key made by another process (as `cdpctl keys create` does, without the store): the
     * next maintenance records it; so does the next open. */
    cdp_err err = {0};
    cr_assert_eq(cdp_apikeys_create_at(cdp_handle_data_dir(db), cdp_handle_policy(db),
                                       CDP_ROLE_AUDITOR, NULL, NULL, NULL, &secret, &info, &err),
                 CDP_OK, "%s", err.message);
    cdp_free(secret);
    cr_assert_eq(count_key_records(info.key_id).created, 0);
    cr_assert_eq(cdp_maintain(db, 0), CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_eq(count_key_records(info.key_id).created, 1);
}
