/* Backups and restores: the round trip (profiles, events, consent), a person erased after the
 * backup stays erased after the restore (not found, suppressed, no byte of theirs in the restored
 * directory, the stored receipt kept), a region copied back by hand is caught at open, the
 * epoch the backup was made under is closed by the restore, a kill -9 between the erasure and
 * its ledger line still ends with exactly one line, and every refusal changes nothing. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/handle.h"
#include "cdp/cdp.h"
#include "crypto/keystore.h"
#include "store/region.h"
#include "support/testutil.h"

static char *base;
static char data_dir[1024], backup_dir[1100];
static cdp_t *db;

static void open_db(const char *dir, int create) {
    cr_assert_eq(test_store_open(dir, create, &db), CDP_OK, "open %s: %s", dir, cdp_errmsg(db));
}

static void close_db(void) {
    cdp_close(db);
    db = NULL;
}

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    unsetenv("CDP_TEST_CRASH_AT");
    base = test_tempdir("backup");
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    snprintf(backup_dir, sizeof backup_dir, "%s/backup", base);
    open_db(data_dir, 1);
}

static void teardown(void) {
    close_db();
    test_rmtree(base);
    free(base);
}

TestSuite(backup, .init = setup, .fini = teardown);

static cdp_actor actor_for(cdp_role role) {
    cdp_actor actor;
    memset(&actor, 0, sizeof actor);
    snprintf(actor.key_id, sizeof actor.key_id, "test");
    actor.role = role;
    snprintf(actor.region, sizeof actor.region, "eu");
    snprintf(actor.source, sizeof actor.source, "web");
    return actor;
}

static cdp_status send(const char *type, const char *json) {
    cdp_actor actor = actor_for(CDP_ROLE_INGEST);
    cdp_ingest_result result;
    cdp_status status = cdp_ingest(db, &actor, type, json, strlen(json), 0, &result);
    cdp_ingest_result_clear(&result);
    return status;
}

static void make_person(const char *name) {
    char json[2048];
    snprintf(json, sizeof json,
             "{\"userId\":\"%s\",\"messageId\":\"id-%s\",\"timestamp\":\"2026-11-01T10:00:00Z\","
             "\"traits\":{\"email\":\"%s@example.org\",\"first_name\":\"Name%s\"}}",
             name, name, name, name);
    cr_assert_eq(send("identify", json), CDP_OK, "%s", cdp_errmsg(db));
    snprintf(json, sizeof json,
             "{\"userId\":\"%s\",\"event\":\"Order Completed\",\"messageId\":\"tr-%s\","
             "\"timestamp\":\"2026-11-02T10:00:00Z\",\"properties\":{\"note\":\"NOTE-%s\"}}",
             name, name, name);
    cr_assert_eq(send("track", json), CDP_OK, "%s", cdp_errmsg(db));
    snprintf(json, sizeof json,
             "{\"identity\": {\"type\": \"user_id\", \"value\": \"%s\"}, \"purposes\": "
             "{\"marketing\": \"granted\"}, \"source\": \"web_banner\", \"timestamp\": "
             "\"2026-11-01T10:00:00Z\"}",
             name);
    cdp_actor actor = actor_for(CDP_ROLE_INGEST);
    char *answer = NULL;
    cr_assert_eq(cdp_consent_set(db, &actor, json, strlen(json), 0, &answer), CDP_OK, "%s",
                 cdp_errmsg(db));
    cdp_free(answer);
}

/* The profile JSON of a ref (caller frees with cdp_free), or NULL when nobody. */
static char *profile_of(const char *ref) {
    cdp_actor reader = actor_for(CDP_ROLE_DPO);
    char *text = NULL;
    cdp_status status = cdp_profile_get(db, &reader, "legal_obligation", ref, &text);
    if (status == CDP_NOT_FOUND)
        return NULL;
    cr_assert_eq(status, CDP_OK, "%s: %s", ref, cdp_errmsg(db));
    return text;
}

static char *erase_ok(const char *ref, const char *request_id) {
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    char *receipt = NULL;
    cr_assert_eq(cdp_erase(db, &dpo, ref, request_id, &receipt), CDP_OK, "%s", cdp_errmsg(db));
    return receipt;
}

static void backup_ok(void) {
    cr_assert_eq(cdp_backup(db, backup_dir), CDP_OK, "backup: %s", cdp_errmsg(db));
}

static void restore_ok(const char *target) {
    cr_assert_eq(cdp_restore(backup_dir, target), CDP_OK, "restore: %s", cdp_errmsg(NULL));
}

static size_t scan(const char *root, const char *needle) {
    return test_scan_tree(root, (const uint8_t *)needle, strlen(needle), NULL, 0);
}

/* The wrapped data key of a person (raw bytes of the keys family), copied. */
static uint8_t *wrapped_key_of(const char *ref, size_t *len) {
    char *profile = profile_of(ref);
    cr_assert_not_null(profile);
    json_t *parsed = json_loads(profile, 0, NULL);
    const char *hex = json_string_value(json_object_get(parsed, "profile_id"));
    uint8_t id[CDP_PROFILE_ID_BYTES], *value = NULL;
    cr_assert_eq(cdp_hex_decode(id, sizeof id, hex, strlen(hex)), 0);
    cdp_region *region = cdp_vault_region(cdp_handle_vault(db, "eu"));
    cr_assert_eq(cdp_region_get(region, CDP_CF_KEYS, id, sizeof id, &value, len, NULL), CDP_OK);
    uint8_t *copy = malloc(*len);
    memcpy(copy, value, *len);
    cdp_region_free_value(value);
    json_decref(parsed);
    cdp_free(profile);
    return copy;
}

static size_t count_ledger_lines(const char *needle) {
    char path[1200];
    snprintf(path, sizeof path, "%s/erasures.ledger", data_dir);
    size_t len = 0, count = 0;
    uint8_t *bytes = test_read_file(path, &len);
    cr_assert_not_null(bytes, "no ledger at %s", path);
    for (const char *at = (const char *)bytes;
         (at = memmem(at, len - (size_t)(at - (const char *)bytes), needle, strlen(needle)));
         at++)
        count++;
    free(bytes);
    return count;
}

Test(backup, round_trip_restores_profiles_events_and_consent) {
    make_person("alice");
    backup_ok();
    make_person("later"); /* after the backup: not in it */
    close_db();
    restore_ok(data_dir);
    open_db(data_dir, 0);
    char *profile = profile_of("email:alice@example.org");
    cr_assert_not_null(profile, "alice was not restored");
    cr_assert_not_null(strstr(profile, "Namealice"), "%s", profile);
    cdp_free(profile);
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    char *json = NULL;
    cr_assert_eq(cdp_profile_events(db, &dpo, "legal_obligation", "user_id:alice", 0, NULL, &json),
                 CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_not_null(strstr(json, "Order Completed"), "%s", json);
    cdp_free(json);
    cr_assert_eq(cdp_profile_consent(db, &dpo, "legal_obligation", "user_id:alice", &json),
                 CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_not_null(strstr(json, "\"granted\""), "%s", json);
    cdp_free(json);
    cr_assert_null(profile_of("user_id:later"), "a person from after the backup came back");
    /* The root key is not in the backup; the backup opens only with it. */
    char path[1300];
    snprintf(path, sizeof path, "%s/root.key", backup_dir);
    struct stat info;
    cr_assert_neq(stat(path, &info), 0, "the backup holds root.key");
}

Test(backup, a_person_erased_after_the_backup_stays_erased_after_restore) {
    make_person("bob");
    make_person("carol");
    size_t wrapped_len = 0;
    uint8_t *wrapped = wrapped_key_of("user_id:bob", &wrapped_len);
    backup_ok();
    cr_assert_gt(test_scan_tree(backup_dir, wrapped, wrapped_len, NULL, 0), 0,
                 "the scan cannot see bob's wrapped key in the backup");
    char *receipt = erase_ok("email:bob@example.org", "dsr-bob");
    close_db();
    restore_ok(data_dir);
    open_db(data_dir, 0);
    cr_assert_null(profile_of("user_id:bob"), "bob came back with the backup");
    cr_assert_null(profile_of("email:bob@example.org"));
    char *carol = profile_of("user_id:carol");
    cr_assert_not_null(carol, "the bystander is gone");
    cdp_free(carol);
    cr_assert_eq(send("identify", "{\"userId\":\"bob\",\"messageId\":\"again\","
                                  "\"timestamp\":\"2026-11-05T10:00:00Z\"}"),
                 CDP_SUPPRESSED);
    cr_assert_eq(send("identify", "{\"userId\":\"someone\",\"messageId\":\"again2\","
                                  "\"timestamp\":\"2026-11-05T10:00:00Z\",\"traits\":{\"email\":"
                                  "\"bob@example.org\"}}"),
                 CDP_SUPPRESSED);
    /* Erasing again gives the same stored receipt: the journal came back with the replay. */
    char *again = erase_ok("email:bob@example.org", NULL);
    cr_assert_str_eq(again, receipt);
    cdp_free(again);
    cdp_free(receipt);
    char hit[1024] = "";
    cr_assert_eq(test_scan_tree(data_dir, wrapped, wrapped_len, hit, sizeof hit), 0,
                 "bob's wrapped key in %s", hit);
    cr_assert_eq(scan(data_dir, "bob@example.org"), 0);
    cr_assert_eq(scan(data_dir, "Namebob"), 0);
    cr_assert_eq(scan(data_dir, "NOTE-bob"), 0);
    free(wrapped);
}

Test(backup, restore_closes_the_epoch_the_backup_was_made_under) {
    make_person("dave");
    backup_ok();
    close_db();
    restore_ok(data_dir);
    open_db(data_dir, 0);
    cdp_keystore *keystore = cdp_vault_keystore(cdp_handle_vault(db, "eu"));
    const cdp_region_keys *keys = NULL;
    cr_assert_eq(cdp_keystore_current(keystore, "eu", &keys, NULL), CDP_OK);
    cr_assert_gt(keys->epoch, 1);
    cr_assert_eq(cdp_keystore_epoch(keystore, "eu", 1, &keys, NULL), CDP_CRYPTO,
                 "the backup's epoch is still live in the restored keystore");
    char *profile = profile_of("user_id:dave");
    cr_assert_not_null(profile, "dave does not open under the new epoch");
    cdp_free(profile);
}

Test(backup, a_region_copied_back_by_hand_is_caught_at_open) {
    make_person("erin");
    backup_ok();
    cdp_free(erase_ok("user_id:erin", "dsr-erin"));
    close_db();
    /* No restore: the operator copies the old region directory over the live one. */
    char live[1200], copy[1300], command[4000];
    snprintf(live, sizeof live, "%s/regions/eu", data_dir);
    snprintf(copy, sizeof copy, "%s/regions/eu", backup_dir);
    snprintf(command, sizeof command, "rm -rf '%s' && cp -r '%s' '%s'", live, copy, live);
    cr_assert_eq(system(command), 0);
    open_db(data_dir, 0);
    cr_assert_null(profile_of("user_id:erin"), "the copied-back region brought erin back");
    cr_assert_eq(send("identify", "{\"userId\":\"erin\",\"messageId\":\"back\","
                                  "\"timestamp\":\"2026-11-05T10:00:00Z\"}"),
                 CDP_SUPPRESSED);
}

/* Runs `cdpctl erase` in a child with the crash point set; returns its exit status. */
static int run_cdpctl_erase(const char *ref, const char *crash_at) {
    char cdpctl[1024];
    snprintf(cdpctl, sizeof cdpctl, "%s/cdpctl",
             getenv("CDP_BUILD_DIR") ? getenv("CDP_BUILD_DIR") : "build");
    fflush(NULL);
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        setenv("CDP_TEST_CRASH_AT", crash_at, 1);
        FILE *redirect = freopen("/dev/null", "w", stdout);
        (void)redirect;
        execl(cdpctl, cdpctl, "erase", "--data", data_dir, "--id", ref, "--request-id",
              "req-crash", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    cr_assert_eq(waitpid(child, &status, 0), child);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(backup, a_crash_before_the_ledger_line_is_completed_at_open_once) {
    make_person("frank");
    backup_ok();
    close_db();
    cr_assert_eq(run_cdpctl_erase("user_id:frank", "erase.before_ledger"), 137);
    cr_assert_eq(count_ledger_lines("\"request_id\":\"req-crash\""), 0,
                 "the line was written before the crash point");
    open_db(data_dir, 0); /* recovery appends it */
    close_db();
    cr_assert_eq(count_ledger_lines("\"request_id\":\"req-crash\""), 1);
    open_db(data_dir, 0);
    close_db();
    cr_assert_eq(count_ledger_lines("\"request_id\":\"req-crash\""), 1, "appended twice");
    /* And the line does its job: the backup from before the erasure restores without frank. */
    restore_ok(data_dir);
    open_db(data_dir, 0);
    cr_assert_null(profile_of("user_id:frank"));
}

Test(backup, a_torn_last_ledger_line_is_cut_and_written_again) {
    make_person("gina");
    close_db();
    cr_assert_eq(run_cdpctl_erase("user_id:gina", "erase.before_ledger"), 137);
    char path[1200];
    snprintf(path, sizeof path, "%s/erasures.ledger", data_dir);
    FILE *file = fopen(path, "a");
    fputs("{\"seq\":1,\"region\":\"eu\",\"request_id\":\"TORN-", file); /* torn mid-append */
    fclose(file);
    open_db(data_dir, 0);
    close_db();
    cr_assert_eq(count_ledger_lines("\"request_id\":\"req-crash\""), 1);
    cr_assert_eq(count_ledger_lines("TORN-"), 0, "the torn line stayed");
}

Test(backup, refusals_change_nothing) {
    make_person("hank");
    char path[1400];
    /* An existing, non-empty backup directory. */
    cr_assert_eq(mkdir(backup_dir, 0700), 0);
    snprintf(path, sizeof path, "%s/precious.txt", backup_dir);
    cr_assert_eq(test_write_file(path, "keep", 4, 0600), 0);
    cr_assert_eq(cdp_backup(db, backup_dir), CDP_EXISTS);
    cr_assert_not_null(strstr(cdp_errmsg(db), "backup_dir"), "%s", cdp_errmsg(db));
    size_t len = 0;
    uint8_t *kept = test_read_file(path, &len);
    cr_assert(kept != NULL && len == 4);
    free(kept);
    test_rmtree(backup_dir);
    backup_ok();
    /* Restoring into a data directory that is open. */
    cr_assert_eq(cdp_restore(backup_dir, data_dir), CDP_CONFLICT, "%s", cdp_errmsg(NULL));
    cr_assert_not_null(strstr(cdp_errmsg(NULL), "in use"), "%s", cdp_errmsg(NULL));
    cdp_free(erase_ok("user_id:hank", "dsr-hank"));
    close_db();

    char copy[1300];
    snprintf(copy, sizeof copy, "%s/copy", base);
    char command[8192];
    /* A missing manifest. */
    snprintf(command, sizeof command, "cp -r '%s' '%s' && rm '%s/manifest.json'", backup_dir,
             copy, copy);
    cr_assert_eq(system(command), 0);
    cr_assert_eq(cdp_restore(copy, data_dir), CDP_NOT_FOUND, "%s", cdp_errmsg(NULL));
    cr_assert_not_null(strstr(cdp_errmsg(NULL), "manifest"), "%s", cdp_errmsg(NULL));
    /* A manifest that does not parse. */
    snprintf(path, sizeof path, "%s/manifest.json", copy);
    cr_assert_eq(test_write_file(path, "{\"format\": ", 11, 0600), 0);
    cr_assert_eq(cdp_restore(copy, data_dir), CDP_CORRUPT, "%s", cdp_errmsg(NULL));
    /* A manifest changed to skip the erasure (position raised): the MAC catches it. */
    snprintf(path, sizeof path, "%s/manifest.json", backup_dir);
    size_t manifest_len = 0;
    char *manifest = (char *)test_read_file(path, &manifest_len);
    json_t *parsed = json_loadb(manifest, manifest_len, 0, NULL);
    json_object_set_new(json_object_get(parsed, "ledger"), "position", json_integer(99));
    char *altered = json_dumps(parsed, JSON_INDENT(2) | JSON_SORT_KEYS);
    snprintf(path, sizeof path, "%s/manifest.json", copy);
    cr_assert_eq(test_write_file(path, altered, strlen(altered), 0600), 0);
    cr_assert_eq(cdp_restore(copy, data_dir), CDP_CORRUPT, "%s", cdp_errmsg(NULL));
    cr_assert_not_null(strstr(cdp_errmsg(NULL), "mac"), "%s", cdp_errmsg(NULL));
    free(altered);
    json_decref(parsed);
    free(manifest);
    /* Another root key: into a new directory holding only that key. */
    char other[1300];
    snprintf(other, sizeof other, "%s/other", base);
    cr_assert_eq(mkdir(other, 0700), 0);
    snprintf(path, sizeof path, "%s/root.key", other);
    uint8_t key[32];
    memset(key, 7, sizeof key);
    cr_assert_eq(test_write_file(path, key, sizeof key, 0600), 0);
    cr_assert_eq(cdp_restore(backup_dir, other), CDP_BAD_KEY, "%s", cdp_errmsg(NULL));
    snprintf(command, sizeof command, "test \"$(ls -A '%s')\" = root.key", other);
    cr_assert_eq(system(command), 0, "a refused restore left files behind");
    /* A ledger of another data directory in the target. */
    char stranger[1300];
    snprintf(stranger, sizeof stranger, "%s/stranger", base);
    snprintf(command, sizeof command,
             "mkdir -m 700 '%s' && cp '%s/root.key' '%s/' && printf '%%s\\n' "
             "'{\"created\":1,\"id\":\"00000000000000000000000000000000\",\"ledger\":\"cdp-"
             "erasures 1\"}' > '%s/erasures.ledger'",
             stranger, data_dir, stranger, stranger);
    cr_assert_eq(system(command), 0);
    cr_assert_eq(cdp_restore(backup_dir, stranger), CDP_CONFLICT, "%s", cdp_errmsg(NULL));
    cr_assert_not_null(strstr(cdp_errmsg(NULL), "another data directory"), "%s",
                       cdp_errmsg(NULL));
    /* After all that, the live directory is as it was: hank still erased, opens fine. */
    open_db(data_dir, 0);
    cr_assert_null(profile_of("user_id:hank"));
}
