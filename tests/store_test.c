/* Store and vault: partitions, batches, iteration, sealed records bound to (region, column
 * family, key), the no-plaintext scan of a whole data directory, root-key refusals, purge,
 * and key-epoch closing that leaves old copies undecryptable. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/handle.h"
#include "store/records.h"
#include "store/region.h"
#include "store/vault.h"
#include "support/testutil.h"
#include "util/bytes.h"

static char *base;
static char data_dir[1024];

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    base = test_tempdir("store");
    cr_assert_not_null(base);
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
}

static void teardown(void) {
    test_rmtree(base);
    free(base);
}

static const char *policy_dir(void) {
    static char path[1024];
    const char *source = getenv("CDP_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/policies", source ? source : ".");
    return path;
}

static cdp_t *create_db(void) {
    cdp_options options;
    cdp_options_default(&options);
    options.create = 1;
    options.policy_dir = policy_dir();
    options.block_cache_bytes = 8u << 20;
    cdp_t *db = NULL;
    cdp_status status = cdp_open(data_dir, &options, &db);
    cr_assert_eq(status, CDP_OK, "create: %s", cdp_errmsg(db));
    return db;
}

static cdp_t *open_db(const char *dir) {
    cdp_t *db = NULL;
    cdp_status status = cdp_open(dir, NULL, &db);
    cr_assert_eq(status, CDP_OK, "open: %s", cdp_errmsg(db));
    return db;
}

/* A person with a profile holding identities and traits; writes key + profile + index. */
static void store_person(cdp_vault *vault, size_t index, cdp_person *person_out,
                         const char *email, const char *phone, const char *name) {
    cdp_err err = {0};
    cdp_batch *batch = cdp_batch_new();
    cdp_person person;
    cr_assert_eq(cdp_vault_create_person(vault, batch, &person, &err), CDP_OK, "%s", err.message);
    char id_hex[33], name_json[128];
    cdp_hex_encode(id_hex, person.profile_id, CDP_PROFILE_ID_BYTES);
    snprintf(name_json, sizeof name_json, "\"%s\"", name);
    cdp_identity_entry identities[2] = {
        {"email", (char *)email, 1700000000000LL + (int64_t)index, "web", NULL},
        {"phone", (char *)phone, 1700000000000LL, "pos", NULL},
    };
    cdp_trait_entry traits[1] = {
        {"name", name_json, "web", "web", 1700000000000LL, "contact"},
    };
    cdp_profile_record profile = {
        .profile_id = id_hex,
        .region = (char *)cdp_region_name(cdp_vault_region(vault)),
        .created_at = 1700000000000LL,
        .updated_at = 1700000000000LL,
        .identities = identities,
        .identity_count = 2,
        .traits = traits,
        .trait_count = 1,
    };
    cdp_buf encoded = {0};
    cr_assert_eq(cdp_profile_record_encode(&profile, &encoded, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_vault_put(vault, batch, &person, CDP_CF_PROFILES, person.profile_id,
                               CDP_PROFILE_ID_BYTES, encoded.data, encoded.len, &err),
                 CDP_OK);
    /* An event that carries the e-mail and name in its properties too. */
    char properties[256];
    snprintf(properties, sizeof properties, "{\"email\":\"%s\",\"name\":\"%s\"}", email, name);
    cdp_event_record event = {.event_id = id_hex, .message_id = "m", .type = "track",
                              .name = "Order Completed", .timestamp = 1700000000000LL,
                              .received_at = 1700000000000LL, .properties_json = properties,
                              .context_json = "{}"};
    cdp_buf_reset(&encoded);
    cr_assert_eq(cdp_event_record_encode(&event, &encoded, &err), CDP_OK, "%s", err.message);
    uint8_t event_key[CDP_PROFILE_ID_BYTES + 8];
    memcpy(event_key, person.profile_id, CDP_PROFILE_ID_BYTES);
    cdp_store_be64(event_key + CDP_PROFILE_ID_BYTES, 1700000000000ULL);
    cr_assert_eq(cdp_vault_put(vault, batch, &person, CDP_CF_EVENTS, event_key, sizeof event_key,
                               encoded.data, encoded.len, &err),
                 CDP_OK);
    const char *values[2] = {email, phone};
    const char *types[2] = {"email", "phone"};
    for (int i = 0; i < 2; i++) {
        uint8_t blind[CDP_BLIND_BYTES];
        cr_assert_eq(cdp_vault_blind(vault, types[i], (const uint8_t *)values[i],
                                     strlen(values[i]), blind, &err),
                     CDP_OK);
        cdp_batch_put(batch, cdp_vault_region(vault), CDP_CF_IDENTITY, blind, sizeof blind,
                      person.profile_id, CDP_PROFILE_ID_BYTES);
    }
    cr_assert_eq(cdp_region_write(cdp_vault_region(vault), batch, 0, &err), CDP_OK, "%s",
                 err.message);
    cdp_buf_free(&encoded);
    cdp_batch_free(batch);
    if (person_out != NULL)
        *person_out = person;
    cdp_person_wipe(&person);
}

static cdp_status lookup(cdp_vault *vault, const char *type, const char *value,
                         uint8_t profile_id[CDP_PROFILE_ID_BYTES]) {
    uint8_t blind[CDP_BLIND_BYTES], *found = NULL;
    size_t found_len = 0;
    cdp_err err = {0};
    cdp_status status =
        cdp_vault_blind(vault, type, (const uint8_t *)value, strlen(value), blind, &err);
    if (status == CDP_OK)
        status = cdp_region_get(cdp_vault_region(vault), CDP_CF_IDENTITY, blind, sizeof blind,
                                &found, &found_len, &err);
    if (status == CDP_OK) {
        cr_assert_eq(found_len, CDP_PROFILE_ID_BYTES);
        memcpy(profile_id, found, CDP_PROFILE_ID_BYTES);
        cdp_region_free_value(found);
    }
    return status;
}

TestSuite(store, .init = setup, .fini = teardown);

Test(store, batch_is_atomic_across_column_families_and_reads_back) {
    cdp_t *db = create_db();
    cdp_region *region = cdp_vault_region(cdp_handle_vault(db, "eu"));
    cdp_err err = {0};
    cdp_batch *batch = cdp_batch_new();
    cdp_batch_put(batch, region, CDP_CF_META, (const uint8_t *)"a", 1, (const uint8_t *)"1", 1);
    cdp_batch_put(batch, region, CDP_CF_AUDIT, (const uint8_t *)"b", 1, (const uint8_t *)"2", 1);
    cr_assert_eq(cdp_batch_count(batch), 2);
    cr_assert_eq(cdp_region_write(region, batch, 1, &err), CDP_OK);
    uint8_t *value = NULL;
    size_t len = 0;
    cr_assert_eq(cdp_region_get(region, CDP_CF_AUDIT, (const uint8_t *)"b", 1, &value, &len, &err),
                 CDP_OK);
    cr_assert(len == 1 && value[0] == '2');
    cdp_region_free_value(value);
    /* The same key in another column family is another record. */
    cr_assert_eq(cdp_region_get(region, CDP_CF_META, (const uint8_t *)"b", 1, &value, &len, &err),
                 CDP_NOT_FOUND);
    cdp_batch_free(batch);
    cdp_close(db);
}

Test(store, prefix_iteration_stays_in_prefix_and_runs_newest_first) {
    cdp_t *db = create_db();
    cdp_region *region = cdp_vault_region(cdp_handle_vault(db, "eu"));
    cdp_err err = {0};
    cdp_batch *batch = cdp_batch_new();
    uint8_t key[24];
    /* Three people, four events each; the middle person's id ends in 0xff to test the bound. */
    for (int person = 0; person < 3; person++) {
        for (int t = 0; t < 4; t++) {
            memset(key, person == 1 ? 0xff : person, 16);
            key[0] = (uint8_t)person;
            cdp_store_be64(key + 16, (uint64_t)(1000 + t));
            uint8_t v = (uint8_t)(person * 10 + t);
            cdp_batch_put(batch, region, CDP_CF_EVENTS, key, sizeof key, &v, 1);
        }
    }
    cr_assert_eq(cdp_region_write(region, batch, 0, &err), CDP_OK);
    uint8_t prefix[16];
    memset(prefix, 0xff, 16);
    prefix[0] = 1;
    cdp_iter *iter = NULL;
    cr_assert_eq(cdp_region_iter(region, CDP_CF_EVENTS, prefix, 16, &iter, &err), CDP_OK);
    int count = 0;
    for (; cdp_iter_valid(iter); cdp_iter_next(iter)) {
        size_t len;
        const uint8_t *value = cdp_iter_value(iter, &len);
        cr_assert_eq(value[0], 10 + count);
        count++;
    }
    cr_assert_eq(count, 4);
    cdp_iter_seek_last(iter);
    count = 0;
    for (; cdp_iter_valid(iter); cdp_iter_prev(iter)) {
        size_t len;
        cr_assert_eq(cdp_iter_value(iter, &len)[0], 13 - count);
        count++;
    }
    cr_assert_eq(count, 4);
    cr_assert_eq(cdp_iter_status(iter, &err), CDP_OK);
    cdp_iter_free(iter);
    cdp_batch_free(batch);
    cdp_close(db);
}

Test(store, partition_opened_as_another_region_is_refused) {
    cdp_t *db = create_db();
    cdp_close(db);
    char path[1200];
    snprintf(path, sizeof path, "%s/regions/eu", data_dir);
    cdp_region *region = NULL;
    cdp_err err = {0};
    cdp_region_options options = {0};
    cr_assert_eq(cdp_region_open(path, "us", &options, &region, &err), CDP_CORRUPT);
    cr_assert(strstr(err.message, "another region") != NULL, "%s", err.message);
}

Test(store, sealed_record_moved_to_another_person_column_family_or_region_fails) {
    cdp_t *db = create_db();
    cdp_vault *eu = cdp_handle_vault(db, "eu"), *us = cdp_handle_vault(db, "us");
    cdp_err err = {0};
    cdp_person alice, bob;
    store_person(eu, 0, &alice, "alice@example.com", "+4722000001", "Alice");
    store_person(eu, 1, &bob, "bob@example.com", "+4722000002", "Bob");
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    cr_assert_eq(cdp_region_get(cdp_vault_region(eu), CDP_CF_PROFILES, alice.profile_id, 16,
                                &sealed, &sealed_len, &err),
                 CDP_OK);
    cdp_buf plain = {0};
    cdp_person alice_key;
    cr_assert_eq(cdp_vault_load_person(eu, alice.profile_id, &alice_key, &err), CDP_OK);
    /* Control: where it belongs, it opens. */
    cr_assert_eq(cdp_vault_open(eu, &alice_key, CDP_CF_PROFILES, alice.profile_id, 16, sealed,
                                sealed_len, &plain, &err),
                 CDP_OK);
    /* Under Bob's record key, with Alice's data key: the binding fails. */
    cr_assert_eq(cdp_vault_open(eu, &alice_key, CDP_CF_PROFILES, bob.profile_id, 16, sealed,
                                sealed_len, &plain, &err),
                 CDP_CRYPTO);
    /* Another column family. */
    cr_assert_eq(cdp_vault_open(eu, &alice_key, CDP_CF_CONSENT, alice.profile_id, 16, sealed,
                                sealed_len, &plain, &err),
                 CDP_CRYPTO);
    /* Another region, same key bytes. */
    cr_assert_eq(cdp_vault_open(us, &alice_key, CDP_CF_PROFILES, alice.profile_id, 16, sealed,
                                sealed_len, &plain, &err),
                 CDP_CRYPTO);
    /* Physically copied into Bob's slot: Bob's read fails rather than serving Alice. */
    cdp_batch *batch = cdp_batch_new();
    cdp_batch_put(batch, cdp_vault_region(eu), CDP_CF_PROFILES, bob.profile_id, 16, sealed,
                  sealed_len);
    cr_assert_eq(cdp_region_write(cdp_vault_region(eu), batch, 0, &err), CDP_OK);
    cdp_person bob_key;
    cr_assert_eq(cdp_vault_get_person_record(eu, bob.profile_id, CDP_CF_PROFILES, bob.profile_id,
                                             16, &bob_key, &plain, &err),
                 CDP_CRYPTO);
    /* Alice's wrapped data key copied to Bob does not unwrap either. */
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    cr_assert_eq(cdp_region_get(cdp_vault_region(eu), CDP_CF_KEYS, alice.profile_id, 16, &wrapped,
                                &wrapped_len, &err),
                 CDP_OK);
    cdp_batch_clear(batch);
    cdp_batch_put(batch, cdp_vault_region(eu), CDP_CF_KEYS, bob.profile_id, 16, wrapped,
                  wrapped_len);
    cr_assert_eq(cdp_region_write(cdp_vault_region(eu), batch, 0, &err), CDP_OK);
    cr_assert_eq(cdp_vault_load_person(eu, bob.profile_id, &bob_key, &err), CDP_CRYPTO);
    cdp_region_free_value(wrapped);
    cdp_region_free_value(sealed);
    cdp_batch_free(batch);
    cdp_buf_free_secret(&plain);
    cdp_person_wipe(&alice_key);
    cdp_close(db);
}

Test(store, every_flipped_byte_of_a_stored_record_fails_to_open) {
    cdp_t *db = create_db();
    cdp_vault *eu = cdp_handle_vault(db, "eu");
    cdp_err err = {0};
    cdp_person alice;
    store_person(eu, 0, &alice, "alice@example.com", "+4722000001", "Alice");
    cdp_person key;
    cr_assert_eq(cdp_vault_load_person(eu, alice.profile_id, &key, &err), CDP_OK);
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    cr_assert_eq(cdp_region_get(cdp_vault_region(eu), CDP_CF_PROFILES, alice.profile_id, 16,
                                &sealed, &sealed_len, &err),
                 CDP_OK);
    cdp_buf plain = {0};
    for (size_t i = 0; i < sealed_len; i++) {
        sealed[i] ^= 0x01;
        cr_assert_eq(cdp_vault_open(eu, &key, CDP_CF_PROFILES, alice.profile_id, 16, sealed,
                                    sealed_len, &plain, &err),
                     CDP_CRYPTO, "byte %zu", i);
        sealed[i] ^= 0x01;
    }
    cr_assert_eq(cdp_vault_open(eu, &key, CDP_CF_PROFILES, alice.profile_id, 16, sealed, 10,
                                &plain, &err),
                 CDP_CORRUPT);
    cdp_region_free_value(sealed);
    cdp_buf_free_secret(&plain);
    cdp_person_wipe(&key);
    cdp_close(db);
}

/* The scanner itself must see WAL and SST contents, or a zero-hit result proves nothing. */
static void write_canary(cdp_region *region, const char *canary) {
    cdp_err err = {0};
    cdp_batch *batch = cdp_batch_new();
    cdp_batch_put(batch, region, CDP_CF_META, (const uint8_t *)"canary", 6,
                  (const uint8_t *)canary, strlen(canary));
    cr_assert_eq(cdp_region_write(region, batch, 1, &err), CDP_OK);
    cdp_batch_free(batch);
}

static size_t scan(const char *needle, char *where, size_t where_cap) {
    return test_scan_tree(data_dir, (const uint8_t *)needle, strlen(needle), where, where_cap);
}

Test(store, no_plaintext_anywhere_in_the_data_dir_after_1000_profiles, .timeout = 300) {
    cdp_t *db = create_db();
    cdp_vault *eu = cdp_handle_vault(db, "eu");
    char email[64], phone[32], name[64];
    for (size_t i = 0; i < 1000; i++) {
        snprintf(email, sizeof email, "shopper.%04zu@retail-example.com", i);
        snprintf(phone, sizeof phone, "+47229%05zu", i);
        snprintf(name, sizeof name, "Ingrid Solberg-%04zu", i);
        store_person(eu, i, NULL, email, phone, name);
    }
    write_canary(cdp_vault_region(eu), "CANARY-IN-WAL-7f3a");
    cdp_close(db);
    char where[4096] = "";
    /* Control: plaintext written outside the vault is found in the WAL by the same scan. */
    cr_assert_gt(scan("CANARY-IN-WAL-7f3a", where, sizeof where), 0, "scanner misses the WAL");

    /* Half the check against the WAL, half after a flush to SST files. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < 1000; i++) {
            snprintf(email, sizeof email, "shopper.%04zu@retail-example.com", i);
            snprintf(phone, sizeof phone, "+47229%05zu", i);
            snprintf(name, sizeof name, "Ingrid Solberg-%04zu", i);
            cr_assert_eq(scan(email, where, sizeof where), 0, "e-mail %s found in %s", email,
                         where);
            cr_assert_eq(scan(phone, where, sizeof where), 0, "phone %s found in %s", phone,
                         where);
            cr_assert_eq(scan(name, where, sizeof where), 0, "name %s found in %s", name, where);
            if (i == 20 && pass == 0)
                break; /* the WAL pass samples; the SST pass checks all 1,000 */
        }
        cr_assert_eq(scan("retail-example.com", where, sizeof where), 0, "domain in %s", where);
        cr_assert_eq(scan("Solberg", where, sizeof where), 0, "surname in %s", where);
        if (pass == 0) {
            db = open_db(data_dir);
            cdp_err err = {0};
            cr_assert_eq(cdp_region_purge(cdp_vault_region(cdp_handle_vault(db, "eu")), &err),
                         CDP_OK);
            write_canary(cdp_vault_region(cdp_handle_vault(db, "eu")), "CANARY-IN-SST-91bc");
            cr_assert_eq(cdp_region_flush(cdp_vault_region(cdp_handle_vault(db, "eu")), &err),
                         CDP_OK);
            cdp_close(db);
            cr_assert_gt(scan("CANARY-IN-SST-91bc", where, sizeof where), 0,
                         "scanner misses SST files");
        }
    }
    /* And the data is all there: look one up by blind index and read it back. */
    db = open_db(data_dir);
    eu = cdp_handle_vault(db, "eu");
    uint8_t profile_id[16];
    cr_assert_eq(lookup(eu, "email", "shopper.0777@retail-example.com", profile_id), CDP_OK);
    cdp_person person;
    cdp_buf plain = {0};
    cdp_err err = {0};
    cr_assert_eq(cdp_vault_get_person_record(eu, profile_id, CDP_CF_PROFILES, profile_id, 16,
                                             &person, &plain, &err),
                 CDP_OK, "%s", err.message);
    cdp_profile_record profile = {0};
    cr_assert_eq(cdp_profile_record_decode(plain.data, plain.len, &profile, &err), CDP_OK);
    cr_assert_str_eq(profile.identities[0].value, "shopper.0777@retail-example.com");
    cr_assert_str_eq(profile.traits[0].value_json, "\"Ingrid Solberg-0777\"");
    cdp_profile_record_clear(&profile);
    cdp_buf_free_secret(&plain);
    cdp_person_wipe(&person);
    cdp_close(db);
}

Test(store, init_refuses_an_existing_directory_and_changes_nothing) {
    cdp_t *db = create_db();
    cdp_close(db);
    char path[1200];
    snprintf(path, sizeof path, "%s/keystore", data_dir);
    size_t before_len = 0;
    uint8_t *before = test_read_file(path, &before_len);
    cdp_options options;
    cdp_options_default(&options);
    options.create = 1;
    options.policy_dir = policy_dir();
    cr_assert_eq(cdp_open(data_dir, &options, &db), CDP_EXISTS);
    cr_assert(strstr(cdp_errmsg(db), "already exists") != NULL, "%s", cdp_errmsg(db));
    cdp_close(db);
    size_t after_len = 0;
    uint8_t *after = test_read_file(path, &after_len);
    cr_assert(before_len == after_len && memcmp(before, after, before_len) == 0);
    free(before);
    free(after);
    db = open_db(data_dir); /* still opens */
    cdp_close(db);
}

Test(store, init_with_a_bad_policy_bundle_creates_nothing) {
    char bad[1200];
    snprintf(bad, sizeof bad, "%s/bad-policies", base);
    mkdir(bad, 0700);
    char file[1300];
    snprintf(file, sizeof file, "%s/regions.json", bad);
    const char *json = "{\"version\": 1, \"default_region\": \"eu\", \"regions\": ["
                       "{\"id\": \"eu\", \"name\": \"EU\", \"regime\": \"gdpr\", "
                       "\"default_country\": \"DE\", \"localised\": false, "
                       "\"countries\": [\"DE\", \"XQ\"], \"subdivisions\": {}}]}";
    cr_assert_eq(test_write_file(file, json, strlen(json), 0644), 0);
    cdp_options options;
    cdp_options_default(&options);
    options.create = 1;
    options.policy_dir = bad;
    cdp_t *db = NULL;
    cr_assert_eq(cdp_open(data_dir, &options, &db), CDP_BAD_POLICY);
    cr_assert(strstr(cdp_errmsg(db), "XQ") != NULL, "%s", cdp_errmsg(db));
    cdp_close(db);
    struct stat info;
    cr_assert_neq(stat(data_dir, &info), 0, "a refused init left a directory behind");
}

Test(store, root_key_readable_by_others_is_refused) {
    cdp_t *db = create_db();
    cdp_close(db);
    char path[1200];
    snprintf(path, sizeof path, "%s/root.key", data_dir);
    struct stat info;
    cr_assert_eq(stat(path, &info), 0);
    cr_assert_eq(info.st_mode & 0777, 0600);
    cr_assert_eq(chmod(path, 0644), 0);
    cr_assert_eq(cdp_open(data_dir, NULL, &db), CDP_INSECURE);
    cr_assert(strstr(cdp_errmsg(db), "root.key") != NULL, "%s", cdp_errmsg(db));
    cdp_close(db);
}

Test(store, wrong_root_key_cannot_open_the_regions) {
    cdp_t *db = create_db();
    cdp_close(db);
    char path[1200];
    snprintf(path, sizeof path, "%s/root.key", data_dir);
    uint8_t other[32];
    randombytes_buf(other, sizeof other);
    cr_assert_eq(test_write_file(path, other, sizeof other, 0600), 0);
    cr_assert_eq(cdp_open(data_dir, NULL, &db), CDP_BAD_KEY);
    cr_assert(strstr(cdp_errmsg(db), "keystore") != NULL, "%s", cdp_errmsg(db));
    cdp_close(db);
    /* The same through the environment. */
    char hex[65];
    cdp_hex_encode(hex, other, sizeof other);
    setenv("CDP_ROOT_KEY", hex, 1);
    cr_assert_eq(cdp_open(data_dir, NULL, &db), CDP_BAD_KEY);
    cdp_close(db);
    unsetenv("CDP_ROOT_KEY");
}

Test(store, root_key_from_the_environment_writes_no_key_file) {
    uint8_t key[32];
    char hex[65];
    randombytes_buf(key, sizeof key);
    cdp_hex_encode(hex, key, sizeof key);
    setenv("CDP_ROOT_KEY", hex, 1);
    cdp_t *db = create_db();
    cdp_close(db);
    char path[1200];
    snprintf(path, sizeof path, "%s/root.key", data_dir);
    struct stat info;
    cr_assert_neq(stat(path, &info), 0, "root.key written although the key came from env");
    db = open_db(data_dir);
    cdp_close(db);
    unsetenv("CDP_ROOT_KEY");
    cr_assert_neq(cdp_open(data_dir, NULL, &db), CDP_OK);
    cdp_close(db);
}

Test(store, purge_removes_deleted_wrapped_keys_and_ciphertext_from_every_file) {
    cdp_t *db = create_db();
    cdp_vault *eu = cdp_handle_vault(db, "eu");
    cdp_region *region = cdp_vault_region(eu);
    cdp_err err = {0};
    cdp_person alice;
    for (size_t i = 0; i < 50; i++) {
        char email[64];
        snprintf(email, sizeof email, "p%zu@example.com", i);
        store_person(eu, i, i == 7 ? &alice : NULL, email, "+4722000000", "P");
    }
    cr_assert_eq(cdp_region_flush(region, &err), CDP_OK); /* now in SST and old WAL */
    uint8_t *wrapped = NULL, *sealed = NULL;
    size_t wrapped_len = 0, sealed_len = 0;
    cr_assert_eq(cdp_region_get(region, CDP_CF_KEYS, alice.profile_id, 16, &wrapped, &wrapped_len,
                                &err),
                 CDP_OK);
    cr_assert_eq(cdp_region_get(region, CDP_CF_PROFILES, alice.profile_id, 16, &sealed,
                                &sealed_len, &err),
                 CDP_OK);
    cr_assert_gt(test_scan_tree(data_dir, wrapped, wrapped_len, NULL, 0), 0, "control");
    cdp_batch *batch = cdp_batch_new();
    cdp_batch_delete(batch, region, CDP_CF_KEYS, alice.profile_id, 16);
    cdp_batch_delete(batch, region, CDP_CF_PROFILES, alice.profile_id, 16);
    cr_assert_eq(cdp_region_write(region, batch, 1, &err), CDP_OK);
    cr_assert_eq(cdp_region_purge(region, &err), CDP_OK);
    cdp_close(db);
    char where[4096] = "";
    cr_assert_eq(test_scan_tree(data_dir, wrapped, wrapped_len, where, sizeof where), 0,
                 "wrapped key still in %s", where);
    cr_assert_eq(test_scan_tree(data_dir, sealed + 24, 32, where, sizeof where), 0,
                 "ciphertext still in %s", where);
    cdp_region_free_value(wrapped);
    cdp_region_free_value(sealed);
    cdp_batch_free(batch);
}

static void copy_tree(const char *from, const char *to) {
    char command[4096];
    snprintf(command, sizeof command, "cp -a '%s' '%s'", from, to);
    cr_assert_eq(system(command), 0);
}

Test(store, closing_an_epoch_leaves_a_copy_taken_before_undecryptable, .timeout = 120) {
    cdp_t *db = create_db();
    cdp_vault *eu = cdp_handle_vault(db, "eu");
    cdp_person people[20];
    for (size_t i = 0; i < 20; i++) {
        char email[64];
        snprintf(email, sizeof email, "epoch%zu@example.com", i);
        store_person(eu, i, &people[i], email, "+4722111111", "E");
    }
    cdp_close(db);
    char copy[1200];
    snprintf(copy, sizeof copy, "%s/copy-before", base);
    copy_tree(data_dir, copy); /* a backup taken before the rotation */

    db = open_db(data_dir);
    uint32_t epoch = 0;
    size_t rewrapped = 0;
    cr_assert_eq(cdp_close_epoch(db, "eu", &epoch, &rewrapped), CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_eq(epoch, 2);
    cr_assert_eq(rewrapped, 20);
    /* The live store still reads everyone, and finds them by identifier under the new key. */
    eu = cdp_handle_vault(db, "eu");
    cdp_err err = {0};
    for (size_t i = 0; i < 20; i++) {
        char email[64];
        uint8_t found[16];
        snprintf(email, sizeof email, "epoch%zu@example.com", i);
        cr_assert_eq(lookup(eu, "email", email, found), CDP_OK, "%s", email);
        cr_assert_eq(memcmp(found, people[i].profile_id, 16), 0);
        cdp_person person;
        cdp_buf plain = {0};
        cr_assert_eq(cdp_vault_get_person_record(eu, found, CDP_CF_PROFILES, found, 16, &person,
                                                 &plain, &err),
                     CDP_OK, "%s", err.message);
        cdp_person_wipe(&person);
        cdp_buf_free_secret(&plain);
    }
    cdp_close(db);

    /* The old copy with today's keystore: no data key unwraps, no identifier is found. */
    char from[1300], to[1300];
    snprintf(from, sizeof from, "%s/keystore", data_dir);
    snprintf(to, sizeof to, "%s/keystore", copy);
    size_t len = 0;
    uint8_t *keystore = test_read_file(from, &len);
    cr_assert_eq(test_write_file(to, keystore, len, 0600), 0);
    free(keystore);
    cdp_t *old = open_db(copy);
    cdp_vault *old_eu = cdp_handle_vault(old, "eu");
    for (size_t i = 0; i < 20; i++) {
        cdp_person person;
        cr_assert_eq(cdp_vault_load_person(old_eu, people[i].profile_id, &person, &err),
                     CDP_CRYPTO, "person %zu still decryptable from the old copy", i);
        char email[64];
        uint8_t found[16];
        snprintf(email, sizeof email, "epoch%zu@example.com", i);
        cr_assert_eq(lookup(old_eu, "email", email, found), CDP_NOT_FOUND);
    }
    cdp_close(old);
}

Test(store, keystore_files_and_root_key_are_private) {
    cdp_t *db = create_db();
    cdp_close(db);
    const char *names[] = {"root.key", "keystore"};
    for (int i = 0; i < 2; i++) {
        char path[1200];
        struct stat info;
        snprintf(path, sizeof path, "%s/%s", data_dir, names[i]);
        cr_assert_eq(stat(path, &info), 0);
        cr_assert_eq(info.st_mode & 077, 0, "%s mode %o", names[i], info.st_mode & 0777);
    }
    struct stat info;
    cr_assert_eq(stat(data_dir, &info), 0);
    cr_assert_eq(info.st_mode & 077, 0);
}
