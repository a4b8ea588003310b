/* API keys: the key format, verification in every refusal case (malformed, unknown, tampered,
 * revoked), the key file (hash only, mode 0600), attribute validation, local actors, changes
 * made by another writer picked up by a running verifier, concurrent creation, a corrupt file,
 * and creation under failing allocations. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/apikeys.h"
#include "cdp/cdp.h"
#include "support/testutil.h"
#include "util/alloc.h"

static char *base;
static char data_dir[1024];
static char key_file[1100];
static cdp_t *db;

static const char *policy_dir(void) {
    static char path[1024];
    const char *source = getenv("CDP_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/policies", source ? source : ".");
    return path;
}

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    base = test_tempdir("apikeys");
    cr_assert_not_null(base);
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    snprintf(key_file, sizeof key_file, "%s/apikeys", data_dir);
    cdp_options options;
    cdp_options_default(&options);
    options.create = 1;
    options.policy_dir = policy_dir();
    options.block_cache_bytes = 8u << 20;
    cr_assert_eq(cdp_open(data_dir, &options, &db), CDP_OK, "create: %s", cdp_errmsg(db));
}

static void teardown(void) {
    cdp_alloc_fail_reset();
    cdp_close(db);
    db = NULL;
    test_rmtree(base);
    free(base);
}

TestSuite(apikeys, .init = setup, .fini = teardown);

/* Creates a key and returns it (caller frees with cdp_free). */
static char *create(cdp_role role, const char *region, const char *source, const char *purposes,
                    cdp_actor *info) {
    char *secret = NULL;
    cdp_status status = cdp_apikey_create(db, role, region, source, purposes, &secret, info);
    cr_assert_eq(status, CDP_OK, "create: %s", cdp_errmsg(db));
    cr_assert_not_null(secret);
    return secret;
}

/* The key file as a NUL-terminated string; caller frees with free(). */
static char *read_key_file(void) {
    size_t len = 0;
    uint8_t *bytes = test_read_file(key_file, &len);
    cr_assert_not_null(bytes);
    char *text = malloc(len + 1);
    memcpy(text, bytes, len);
    text[len] = '\0';
    free(bytes);
    return text;
}

static cdp_status verify(const char *secret, cdp_actor *actor) {
    cdp_actor ignored;
    return cdp_apikey_verify(db, secret, strlen(secret), actor ? actor : &ignored);
}

Test(apikeys, role_names_round_trip) {
    const char *names[] = {"ingest", "personalization", "dpo", "auditor", "admin"};
    for (size_t i = 0; i < 5; i++) {
        cdp_role role;
        cr_assert_eq(cdp_role_parse(names[i], &role), CDP_OK);
        cr_assert_str_eq(cdp_role_name(role), names[i]);
    }
    cdp_role role;
    cr_assert_eq(cdp_role_parse("root", &role), CDP_BAD_REQUEST);
    cr_assert_eq(cdp_role_parse("Admin", &role), CDP_BAD_REQUEST);
    cr_assert_eq(cdp_role_parse(NULL, &role), CDP_BAD_REQUEST);
    cr_assert_str_eq(cdp_role_name((cdp_role)0), "unknown");
    cr_assert_str_eq(cdp_role_name((cdp_role)99), "unknown");
}

Test(apikeys, key_has_the_documented_format) {
    cdp_actor info;
    char *secret = create(CDP_ROLE_INGEST, NULL, "web", NULL, &info);
    cr_assert_eq(strlen(secret), 64, "%s", secret);
    cr_assert_eq(strncmp(secret, "cdp_", 4), 0);
    cr_assert_eq(strncmp(secret + 4, info.key_id, 16), 0, "key id inside the key");
    cr_assert_eq(strlen(info.key_id), 16);
    cr_assert_eq(strspn(info.key_id, "0123456789abcdef"), 16);
    cr_assert_eq(secret[20], '_');
    cr_assert_eq(
        strspn(secret + 21, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        43);
    char *other = create(CDP_ROLE_INGEST, NULL, "web", NULL, NULL);
    cr_assert_str_neq(secret, other);
    cdp_free(secret);
    cdp_free(other);
}

Test(apikeys, created_key_verifies_with_its_attributes) {
    cdp_actor info, actor;
    char *secret = create(CDP_ROLE_PERSONALIZATION, "eu", "pos", "analytics,marketing", &info);
    cr_assert_eq(verify(secret, &actor), CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_str_eq(actor.key_id, info.key_id);
    cr_assert_eq(actor.role, CDP_ROLE_PERSONALIZATION);
    cr_assert_str_eq(actor.region, "eu");
    cr_assert_str_eq(actor.source, "pos");
    cr_assert_str_eq(actor.purposes, "analytics,marketing");
    cr_assert_str_eq(actor.request_id, "");
    cdp_free(secret);
}

Test(apikeys, region_defaults_to_the_policy_default) {
    cdp_actor info;
    char *secret = create(CDP_ROLE_PERSONALIZATION, NULL, NULL, NULL, &info);
    cr_assert_str_eq(info.region, "us"); /* policies/regions.json: "default_region": "us" */
    cr_assert_str_eq(info.source, "");
    cr_assert_str_eq(info.purposes, "");
    cdp_free(secret);
}

Test(apikeys, file_holds_a_hash_never_the_secret) {
    char *secret = create(CDP_ROLE_ADMIN, NULL, NULL, NULL, NULL);
    struct stat info;
    cr_assert_eq(stat(key_file, &info), 0);
    cr_assert_eq(info.st_mode & 0777, 0600, "mode %o", info.st_mode & 0777);
    /* Neither the whole key nor its random part is anywhere in the data directory. */
    cr_assert_eq(test_scan_tree(data_dir, (const uint8_t *)secret + 21, 43, NULL, 0), 0);
    char *text = read_key_file();
    cr_assert_not_null(strstr(text, "\"hash\""));
    free(text);
    cdp_free(secret);
}

Test(apikeys, malformed_keys_are_unauthorized) {
    char *secret = create(CDP_ROLE_ADMIN, NULL, NULL, NULL, NULL);
    char bad[128];
    const char *cases[] = {
        "",
        "cdp_",
        "not-a-key",
        "Bearer x",
        "cdp_0123456789ABCDEF_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* upper-case id */
        "cdp_0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* separator */
        "cdp_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  /* 42 chars */
        "cdp_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", /* padding */
        "cdp_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", /* not url-safe */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(verify(cases[i], NULL), CDP_UNAUTHORIZED, "%s", cases[i]);
    /* The real key with one more character, or cut short. */
    snprintf(bad, sizeof bad, "%sA", secret);
    cr_assert_eq(verify(bad, NULL), CDP_UNAUTHORIZED);
    cdp_actor actor;
    cr_assert_eq(cdp_apikey_verify(db, secret, 63, &actor), CDP_UNAUTHORIZED);
    cr_assert_eq(cdp_apikey_verify(db, NULL, 0, &actor), CDP_UNAUTHORIZED);
    /* A NUL inside the presented bytes is not the key either. */
    memcpy(bad, secret, 65);
    bad[30] = '\0';
    cr_assert_eq(cdp_apikey_verify(db, bad, 64, &actor), CDP_UNAUTHORIZED);
    cdp_free(secret);
}

Test(apikeys, refusals_do_not_say_which_check_failed) {
    char *secret = create(CDP_ROLE_ADMIN, NULL, NULL, NULL, NULL);
    char message[3][256];
    char tampered[65];
    memcpy(tampered, secret, 65);
    tampered[40] = tampered[40] == 'A' ? 'B' : 'A';
    cr_assert_eq(verify(tampered, NULL), CDP_UNAUTHORIZED);
    snprintf(message[0], sizeof message[0], "%s", cdp_errmsg(db));
    cr_assert_eq(verify("cdp_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL),
                 CDP_UNAUTHORIZED);
    snprintf(message[1], sizeof message[1], "%s", cdp_errmsg(db));
    cr_assert_eq(verify("garbage", NULL), CDP_UNAUTHORIZED);
    snprintf(message[2], sizeof message[2], "%s", cdp_errmsg(db));
    cr_assert_str_eq(message[0], message[1]);
    cr_assert_str_eq(message[1], message[2]);
    cdp_free(secret);
}

Test(apikeys, tampered_secret_with_a_known_id_is_unauthorized) {
    char *secret = create(CDP_ROLE_DPO, NULL, NULL, NULL, NULL);
    for (size_t position = 21; position < 64; position += 7) {
        char tampered[65];
        memcpy(tampered, secret, 65);
        tampered[position] = tampered[position] == 'x' ? 'y' : 'x';
        cr_assert_eq(verify(tampered, NULL), CDP_UNAUTHORIZED, "position %zu", position);
    }
    cr_assert_eq(verify(secret, NULL), CDP_OK);
    cdp_free(secret);
}

Test(apikeys, revoked_key_is_unauthorized) {
    cdp_actor info;
    char *secret = create(CDP_ROLE_INGEST, NULL, NULL, NULL, &info);
    char *other = create(CDP_ROLE_INGEST, NULL, NULL, NULL, NULL);
    cr_assert_eq(verify(secret, NULL), CDP_OK);
    cr_assert_eq(cdp_apikey_revoke(db, info.key_id), CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_eq(verify(secret, NULL), CDP_UNAUTHORIZED);
    cr_assert_eq(verify(other, NULL), CDP_OK, "revoking one key leaves the others");
    cr_assert_eq(cdp_apikey_revoke(db, info.key_id), CDP_OK, "revoking twice is not an error");
    cdp_free(secret);
    cdp_free(other);
}

Test(apikeys, revoking_an_unknown_id_is_not_found) {
    cr_assert_eq(cdp_apikey_revoke(db, "0123456789abcdef"), CDP_NOT_FOUND);
    cr_assert_not_null(strstr(cdp_errmsg(db), "0123456789abcdef"), "%s", cdp_errmsg(db));
    char *secret = create(CDP_ROLE_INGEST, NULL, NULL, NULL, NULL);
    cr_assert_eq(cdp_apikey_revoke(db, "fedcba9876543210"), CDP_NOT_FOUND);
    cdp_free(secret);
}

Test(apikeys, list_shows_attributes_never_secrets_or_hashes) {
    char *json = NULL;
    cr_assert_eq(cdp_apikey_list(db, &json), CDP_OK);
    cr_assert_str_eq(json, "[]", "no file yet: no keys");
    cdp_free(json);
    cdp_actor info;
    char *secret = create(CDP_ROLE_PERSONALIZATION, "eu", "web", "analytics", &info);
    cr_assert_eq(cdp_apikey_revoke(db, info.key_id), CDP_OK);
    char *second = create(CDP_ROLE_AUDITOR, NULL, NULL, NULL, NULL);
    cr_assert_eq(cdp_apikey_list(db, &json), CDP_OK);
    const char *expected[] = {
        info.key_id,           "\"role\": \"personalization\"",        "\"region\": \"eu\"",
        "\"source\": \"web\"", "\"purposes\": \"analytics\"", "\"created_at\": \"20",
        "\"revoked\": true",   "\"revoked\": false",          "\"role\": \"auditor\""};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        cr_assert_not_null(strstr(json, expected[i]), "%s not in %s", expected[i], json);
    cr_assert_null(strstr(json, "hash"));
    cr_assert_null(strstr(json, secret + 21));
    cr_assert_null(strstr(json, second + 21));
    cdp_free(json);
    cdp_free(secret);
    cdp_free(second);
}

Test(apikeys, bad_attributes_are_refused_and_change_nothing) {
    char *secret = NULL;
    struct {
        const char *region, *source, *purposes, *field;
    } cases[] = {
        {"mars", NULL, NULL, "region"},
        {"EU", NULL, NULL, "region"},
        {NULL, "Web", NULL, "source"},
        {NULL, "web site", NULL, "source"},
        {NULL, "a_very_long_source_name_over_32_c", NULL, "source"},
        {NULL, NULL, "analytics,", "purposes"},
        {NULL, NULL, ",analytics", "purposes"},
        {NULL, NULL, "ads2", "purposes"},
        {NULL, NULL, "Marketing", "purposes"},
        {NULL, NULL, "a_purpose_name_that_is_over_32_ch", "purposes"},
        {NULL, NULL, "astrology", "purposes"}, /* not in policies/purposes.json */
        {NULL, NULL, "analytics", "purposes"}, /* an ingest key reads for no purpose */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdp_status status = cdp_apikey_create(db, CDP_ROLE_INGEST, cases[i].region, cases[i].source,
                                              cases[i].purposes, &secret, NULL);
        cr_assert_eq(status, CDP_BAD_REQUEST, "case %zu", i);
        cr_assert_null(secret);
        cr_assert_not_null(strstr(cdp_errmsg(db), cases[i].field), "case %zu: %s", i,
                           cdp_errmsg(db));
    }
    cr_assert_eq(cdp_apikey_create(db, (cdp_role)0, NULL, NULL, NULL, &secret, NULL), CDP_MISUSE);
    cr_assert_eq(access(key_file, F_OK), -1, "no key file written");
    char long_purposes[CDP_PURPOSES_MAX + 8];
    memset(long_purposes, 'a', sizeof long_purposes - 1);
    long_purposes[sizeof long_purposes - 1] = '\0';
    for (size_t i = 10; i < sizeof long_purposes - 1; i += 11)
        long_purposes[i] = ',';
    cr_assert_eq(cdp_apikey_create(db, CDP_ROLE_INGEST, NULL, NULL, long_purposes, &secret, NULL),
                 CDP_BAD_REQUEST);
}

Test(apikeys, local_actor_is_the_operator) {
    cdp_actor actor;
    cr_assert_eq(cdp_actor_local(db, CDP_ROLE_DPO, NULL, NULL, &actor), CDP_OK);
    cr_assert_str_eq(actor.key_id, "local");
    cr_assert_eq(actor.role, CDP_ROLE_DPO);
    cr_assert_str_eq(actor.region, "us");
    cr_assert_str_eq(actor.source, "");
    cr_assert_str_eq(actor.purposes, "");
    cr_assert_eq(cdp_actor_local(db, CDP_ROLE_INGEST, "eu", "call_center", &actor), CDP_OK);
    cr_assert_str_eq(actor.region, "eu");
    cr_assert_str_eq(actor.source, "call_center");
    cr_assert_eq(cdp_actor_local(db, CDP_ROLE_INGEST, "atlantis", NULL, &actor), CDP_BAD_REQUEST);
    cr_assert_eq(cdp_actor_local(db, CDP_ROLE_INGEST, NULL, "Bad Source", &actor), CDP_BAD_REQUEST);
    cr_assert_eq(cdp_actor_local(db, (cdp_role)42, NULL, NULL, &actor), CDP_MISUSE);
    cr_assert_eq(cdp_actor_local(NULL, CDP_ROLE_DPO, NULL, NULL, &actor), CDP_MISUSE);
}

/* Rewrites the key file the way another process would: a new file renamed into place. */
static void replace_key_file(const char *from, const char *to) {
    char *text = read_key_file();
    size_t len = strlen(text);
    cr_assert_not_null(text);
    char *found = strstr(text, from);
    cr_assert_not_null(found, "%s not in the key file", from);
    char *edited = malloc(len + strlen(to) + 1);
    size_t head = (size_t)(found - text);
    memcpy(edited, text, head);
    strcpy(edited + head, to);
    strcat(edited, found + strlen(from));
    char temp[1200];
    snprintf(temp, sizeof temp, "%s.other", key_file);
    cr_assert_eq(test_write_file(temp, edited, strlen(edited), 0600), 0);
    cr_assert_eq(rename(temp, key_file), 0);
    free(edited);
    free(text);
}

Test(apikeys, verify_sees_changes_made_by_another_writer) {
    char *secret = create(CDP_ROLE_INGEST, NULL, NULL, NULL, NULL);
    cr_assert_eq(verify(secret, NULL), CDP_OK); /* loads and caches the table */
    replace_key_file("\"revoked\": false", "\"revoked\": true");
    cr_assert_eq(verify(secret, NULL), CDP_UNAUTHORIZED, "revocation by another writer");
    replace_key_file("\"revoked\": true", "\"revoked\": false");
    cr_assert_eq(verify(secret, NULL), CDP_OK);
    /* Keys created through the directory path (as `cdpctl keys create` does while a server
     * runs) verify on the open handle at once. */
    cdp_policy *policy = NULL;
    cdp_err err = {0};
    char policies[1100];
    snprintf(policies, sizeof policies, "%s/policies", data_dir);
    cr_assert_eq(cdp_policy_load(policies, &policy, &err), CDP_OK, "%s", err.message);
    char *outside = NULL;
    cdp_actor info;
    cr_assert_eq(cdp_apikeys_create_at(data_dir, policy, CDP_ROLE_ADMIN, NULL, NULL, NULL, &outside,
                                       &info, &err),
                 CDP_OK, "%s", err.message);
    cr_assert_eq(verify(outside, NULL), CDP_OK);
    cr_assert_eq(cdp_apikeys_revoke_at(data_dir, info.key_id, &err), CDP_OK);
    cr_assert_eq(verify(outside, NULL), CDP_UNAUTHORIZED);
    cdp_policy_free(policy);
    cdp_free(outside);
    cdp_free(secret);
}

Test(apikeys, a_deleted_key_file_means_no_keys) {
    char *secret = create(CDP_ROLE_INGEST, NULL, NULL, NULL, NULL);
    cr_assert_eq(verify(secret, NULL), CDP_OK);
    cr_assert_eq(unlink(key_file), 0);
    cr_assert_eq(verify(secret, NULL), CDP_UNAUTHORIZED);
    cdp_free(secret);
}

Test(apikeys, corrupt_key_file_is_an_error_not_a_refusal) {
    char *secret = create(CDP_ROLE_INGEST, NULL, NULL, NULL, NULL);
    replace_key_file("\"hash\": \"", "\"hash\": \"zz");
    cr_assert_eq(verify(secret, NULL), CDP_CORRUPT, "a broken store is not 'unknown key'");
    cr_assert_not_null(strstr(cdp_errmsg(db), "apikeys"), "%s", cdp_errmsg(db));
    char *other = NULL;
    cr_assert_eq(cdp_apikey_create(db, CDP_ROLE_ADMIN, NULL, NULL, NULL, &other, NULL), CDP_CORRUPT,
                 "create refuses to overwrite a file it cannot read");
    cr_assert_null(other);
    char *text = read_key_file();
    cr_assert_not_null(strstr(text, "\"hash\": \"zz"), "the file is left for the operator");
    free(text);
    cr_assert_eq(test_write_file(key_file, "{\"version\": 1, \"keys\": [", 25, 0600), 0);
    cr_assert_eq(verify(secret, NULL), CDP_CORRUPT);
    cdp_free(secret);
}

typedef struct creator {
    char *secrets[5];
} creator;

static void *create_five(void *argument) {
    creator *self = argument;
    for (size_t i = 0; i < 5; i++)
        if (cdp_apikey_create(db, CDP_ROLE_INGEST, NULL, NULL, NULL, &self->secrets[i], NULL) !=
            CDP_OK)
            self->secrets[i] = NULL;
    return NULL;
}

Test(apikeys, concurrent_creates_all_land) {
    creator creators[8];
    pthread_t threads[8];
    memset(creators, 0, sizeof creators);
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, create_five, &creators[i]), 0);
    for (size_t i = 0; i < 8; i++)
        pthread_join(threads[i], NULL);
    char *json = NULL;
    cr_assert_eq(cdp_apikey_list(db, &json), CDP_OK);
    size_t listed = 0;
    for (const char *cursor = json; (cursor = strstr(cursor, "\"key_id\"")) != NULL; cursor++)
        listed++;
    cr_assert_eq(listed, 40, "%zu keys listed", listed);
    cdp_free(json);
    for (size_t i = 0; i < 8; i++)
        for (size_t k = 0; k < 5; k++) {
            cr_assert_not_null(creators[i].secrets[k]);
            cr_assert_eq(verify(creators[i].secrets[k], NULL), CDP_OK);
            cdp_free(creators[i].secrets[k]);
        }
}

Test(apikeys, create_under_failing_allocations_fails_cleanly) {
    char *first = create(CDP_ROLE_ADMIN, NULL, NULL, NULL, NULL);
    int succeeded = 0;
    for (long allowed = 0; allowed < 200 && !succeeded; allowed++) {
        char *secret = NULL;
        cdp_alloc_fail_after(allowed);
        cdp_status status =
            cdp_apikey_create(db, CDP_ROLE_INGEST, NULL, "web", NULL, &secret, NULL);
        cdp_alloc_fail_reset();
        if (status == CDP_OK) {
            succeeded = 1;
            cr_assert_eq(verify(secret, NULL), CDP_OK);
        } else {
            /* cdp_file_write_atomic reports its own failed allocation as an I/O error. */
            cr_assert(status == CDP_NOMEM || status == CDP_IO, "after %ld allocations: %s", allowed,
                      cdp_errmsg(db));
            cr_assert_null(secret);
        }
        /* Whatever happened, the store is intact and the first key still works. */
        cr_assert_eq(verify(first, NULL), CDP_OK, "after %ld allocations", allowed);
        cdp_free(secret);
    }
    cr_assert(succeeded, "create never succeeded within 200 allocations");
    cdp_free(first);
}
