/* Erasure through the public API and cdpctl: every identifier type, a person merged from three
 * profiles, suppression and its lifting, the signed receipt, the byte scan of every file for the
 * wrapped key, ciphertext and plaintext, copies made before the erasure after the key epoch is
 * closed, refusals that change nothing, and kill -9 at each step of the erasure. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/handle.h"
#include "cdp/cdp.h"
#include "crypto/datakey.h"
#include "store/region.h"
#include "support/testutil.h"

static char *base;
static char data_dir[1024];
static cdp_t *db;

static void open_db(const char *dir, int create) {
    cr_assert_eq(test_store_open(dir, create, &db), CDP_OK, "open %s: %s", dir, cdp_errmsg(db));
}

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    unsetenv("CDP_TEST_CRASH_AT");
    base = test_tempdir("erase");
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    open_db(data_dir, 1);
}

static void teardown(void) {
    cdp_close(db);
    db = NULL;
    test_rmtree(base);
    free(base);
}

TestSuite(erase, .init = setup, .fini = teardown);

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

static void send_ok(const char *type, const char *json) {
    cdp_status status = send(type, json);
    cr_assert_eq(status, CDP_OK, "%s: %s (%s)", json, cdp_errmsg(db), cdp_status_code(status));
}

/* The profile id a reference resolves to, or NULL when nobody. Caller frees. */
static char *profile_id_of(const char *ref) {
    cdp_actor reader = actor_for(CDP_ROLE_DPO);
    char *text = NULL;
    cdp_status status = cdp_profile_get(db, &reader, "legal_obligation", ref, &text);
    if (status == CDP_NOT_FOUND)
        return NULL;
    cr_assert_eq(status, CDP_OK, "%s: %s", ref, cdp_errmsg(db));
    json_t *profile = json_loads(text, 0, NULL);
    cdp_free(text);
    char *id = strdup(json_string_value(json_object_get(profile, "profile_id")));
    json_decref(profile);
    return id;
}

static cdp_region *eu_region(void) { return cdp_vault_region(cdp_handle_vault(db, "eu")); }

static size_t count_cf(cdp_cf cf, const uint8_t *prefix, size_t prefix_len) {
    cdp_iter *iter = NULL;
    cr_assert_eq(cdp_region_iter(eu_region(), cf, prefix, prefix_len, &iter, NULL), CDP_OK);
    size_t count = 0;
    for (; cdp_iter_valid(iter); cdp_iter_next(iter))
        count++;
    cdp_iter_free(iter);
    return count;
}

static void decode_id(const char *hex, uint8_t id[CDP_PROFILE_ID_BYTES]) {
    cr_assert_eq(cdp_hex_decode(id, CDP_PROFILE_ID_BYTES, hex, strlen(hex)), 0);
}

/* The raw value of a key in a family of eu (caller frees with free), or NULL. */
static uint8_t *raw_get(cdp_cf cf, const uint8_t *key, size_t key_len, size_t *len) {
    uint8_t *value = NULL;
    if (cdp_region_get(eu_region(), cf, key, key_len, &value, len, NULL) != CDP_OK)
        return NULL;
    uint8_t *copy = malloc(*len);
    memcpy(copy, value, *len);
    cdp_region_free_value(value);
    return copy;
}

static char *erase_ok(const char *ref, const char *request_id) {
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    char *receipt = NULL;
    cdp_status status = cdp_erase(db, &dpo, ref, request_id, &receipt);
    cr_assert_eq(status, CDP_OK, "erase %s: %s (%s)", ref, cdp_errmsg(db),
                 cdp_status_code(status));
    cr_assert_not_null(receipt);
    return receipt;
}

static void pubkey(char hex[65]) {
    cr_assert_eq(cdp_audit_pubkey(db, "eu", hex), CDP_OK, "%s", cdp_errmsg(db));
}

/* One person with every kind of identifier and two events. */
static void make_person(int n) {
    char json[2048];
    snprintf(json, sizeof json,
             "{\"userId\":\"user-%d\",\"anonymousId\":\"anon-%d\",\"messageId\":\"id-%d\","
             "\"timestamp\":\"2026-11-01T10:00:00Z\",\"context\":{\"device\":{\"id\":\"dev-%d\"},"
             "\"externalIds\":[{\"id\":\"L-%d\",\"type\":\"loyalty_id\",\"collection\":\"users\","
             "\"encoding\":\"none\"}]},\"traits\":{\"email\":\"person%d@example.org\","
             "\"phone\":\"+47223344%02d\",\"first_name\":\"Kari%d\"}}",
             n, n, n, n, n, n, n, n);
    send_ok("identify", json);
    snprintf(json, sizeof json,
             "{\"userId\":\"user-%d\",\"event\":\"Order Completed\",\"messageId\":\"tr-%d\","
             "\"timestamp\":\"2026-11-02T10:00:00Z\",\"properties\":{\"revenue\":99}}",
             n, n);
    send_ok("track", json);
}

static void assert_person_gone(int n) {
    char ref[128];
    const char *formats[] = {"email:person%d@example.org", "phone:+47223344%02d", "user_id:user-%d",
                             "anonymous_id:anon-%d", "device_id:dev-%d", "loyalty_id:L-%d"};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        snprintf(ref, sizeof ref, formats[i], n);
        char *id = profile_id_of(ref);
        cr_assert_null(id, "%s still resolves to %s", ref, id);
    }
}

Test(erase, erases_through_every_identifier_type) {
    const char *formats[] = {"email:Person%d@Example.org", "phone:+47223344%02d",
                             "user_id:user-%d",           "anonymous_id:anon-%d",
                             "device_id:dev-%d",          "loyalty_id:L-%d",
                             "profile:%s"};
    size_t n_types = sizeof formats / sizeof formats[0];
    char key_hex[65];
    pubkey(key_hex);
    for (size_t i = 0; i < n_types; i++)
        make_person((int)i);
    size_t keys_before = count_cf(CDP_CF_KEYS, NULL, 0);
    cr_assert_eq(keys_before, n_types);
    for (size_t i = 0; i < n_types; i++) {
        char ref[128], probe[64];
        snprintf(probe, sizeof probe, "user_id:user-%zu", i);
        char *id = profile_id_of(probe);
        cr_assert_not_null(id);
        if (i == n_types - 1)
            snprintf(ref, sizeof ref, formats[i], id);
        else
            snprintf(ref, sizeof ref, formats[i], (int)i);
        char *receipt = erase_ok(ref, NULL);
        cr_assert_eq(cdp_receipt_verify(receipt, strlen(receipt), key_hex), CDP_OK, "%s",
                     cdp_errmsg(NULL));
        json_t *parsed = json_loads(receipt, 0, NULL);
        cr_assert_str_eq(json_string_value(json_object_get(parsed, "profile_id")), id);
        cr_assert_str_eq(json_string_value(json_object_get(parsed, "region")), "eu");
        json_t *removed = json_object_get(parsed, "removed");
        cr_assert_eq(json_integer_value(json_object_get(removed, "profiles")), 1);
        cr_assert_eq(json_integer_value(json_object_get(removed, "keys")), 1);
        cr_assert_eq(json_integer_value(json_object_get(removed, "events")), 2, "%s", receipt);
        cr_assert_eq(json_integer_value(json_object_get(removed, "identities")), 6, "%s", receipt);
        cr_assert_eq(json_array_size(json_object_get(parsed, "suppressed")), 6);
        /* The receipt holds no identifier in the clear. */
        cr_assert_null(strstr(receipt, "example.org"));
        cr_assert_null(strstr(receipt, "user-"));
        json_decref(parsed);
        assert_person_gone((int)i);
        cr_assert_eq(count_cf(CDP_CF_KEYS, NULL, 0), keys_before - i - 1);
        uint8_t raw[CDP_PROFILE_ID_BYTES];
        decode_id(id, raw);
        cr_assert_eq(count_cf(CDP_CF_EVENTS, raw, sizeof raw), 0);
        cr_assert_eq(count_cf(CDP_CF_PROFILES, raw, sizeof raw), 0);
        free(id);
        cdp_free(receipt);
    }
    /* Only the other people were left, until the last: then no index entry at all. */
    cr_assert_eq(count_cf(CDP_CF_IDENTITY, NULL, 0), 0, "identity entries (or markers) remain");
    cr_assert_eq(count_cf(CDP_CF_SUPPRESS, NULL, 0), 6 * n_types);
    cr_assert_eq(cdp_erase_purge(db), CDP_OK, "%s", cdp_errmsg(db));
    char *metrics = NULL;
    cr_assert_eq(cdp_metrics_text(db, &metrics), CDP_OK);
    char expected[64];
    snprintf(expected, sizeof expected, "cdp_erasures_total %zu\n", n_types);
    cr_assert_not_null(strstr(metrics, expected), "%s", metrics);
    cdp_free(metrics);
}

Test(erase, erases_a_person_merged_from_three_profiles) {
    send_ok("track", "{\"anonymousId\":\"a-1\",\"event\":\"Viewed\",\"messageId\":\"m1\","
                     "\"timestamp\":\"2026-11-01T10:00:00Z\"}");
    send_ok("identify", "{\"anonymousId\":\"a-2\",\"messageId\":\"m2\","
                        "\"timestamp\":\"2026-11-01T11:00:00Z\",\"traits\":{\"email\":\"b@x.io\"}}");
    send_ok("identify", "{\"anonymousId\":\"a-3\",\"messageId\":\"m3\","
                        "\"timestamp\":\"2026-11-01T12:00:00Z\",\"traits\":{\"phone\":"
                        "\"+4722334455\"}}");
    char *ids[3] = {profile_id_of("anonymous_id:a-1"), profile_id_of("anonymous_id:a-2"),
                    profile_id_of("anonymous_id:a-3")};
    cr_assert(strcmp(ids[0], ids[1]) != 0 && strcmp(ids[1], ids[2]) != 0);
    send_ok("identify", "{\"anonymousId\":\"a-1\",\"messageId\":\"m4\","
                        "\"timestamp\":\"2026-11-01T13:00:00Z\",\"traits\":{\"email\":\"b@x.io\","
                        "\"phone\":\"+4722334455\"}}");
    char *merged = profile_id_of("phone:+4722334455");
    char *other = profile_id_of("email:b@x.io");
    cr_assert_str_eq(merged, other);
    free(other);
    other = profile_id_of("anonymous_id:a-3");
    cr_assert_str_eq(merged, other, "the three profiles did not merge");
    free(other);
    /* Someone else, who must survive. */
    send_ok("identify", "{\"userId\":\"bystander\",\"messageId\":\"m9\","
                        "\"timestamp\":\"2026-11-01T13:00:00Z\",\"traits\":{\"email\":"
                        "\"by@x.io\"}}");
    size_t events_of_members = 0;
    for (int i = 0; i < 3; i++) {
        uint8_t raw[CDP_PROFILE_ID_BYTES];
        decode_id(ids[i], raw);
        events_of_members += count_cf(CDP_CF_EVENTS, raw, sizeof raw);
        cr_assert_eq(count_cf(CDP_CF_KEYS, raw, sizeof raw), 1);
    }
    cr_assert_eq(events_of_members, 4);

    char *receipt = erase_ok("anonymous_id:a-2", "req-merged-1");
    json_t *parsed = json_loads(receipt, 0, NULL);
    json_t *removed = json_object_get(parsed, "removed");
    cr_assert_eq(json_integer_value(json_object_get(removed, "keys")), 3, "%s", receipt);
    cr_assert_eq(json_integer_value(json_object_get(removed, "events")), 4, "%s", receipt);
    cr_assert_eq(json_integer_value(json_object_get(removed, "profiles")), 1, "%s", receipt);
    cr_assert_eq(json_integer_value(json_object_get(removed, "identities")), 5, "%s", receipt);
    json_decref(parsed);
    for (int i = 0; i < 3; i++) {
        uint8_t raw[CDP_PROFILE_ID_BYTES];
        decode_id(ids[i], raw);
        cr_assert_eq(count_cf(CDP_CF_EVENTS, raw, sizeof raw), 0, "member %d keeps events", i);
        cr_assert_eq(count_cf(CDP_CF_KEYS, raw, sizeof raw), 0, "member %d keeps its key", i);
        cr_assert_eq(count_cf(CDP_CF_MERGES, raw, sizeof raw), 0, "member %d keeps merges", i);
        char ref[64];
        snprintf(ref, sizeof ref, "profile:%s", ids[i]);
        cr_assert_null(profile_id_of(ref));
        free(ids[i]);
    }
    cr_assert_null(profile_id_of("anonymous_id:a-1"));
    cr_assert_null(profile_id_of("anonymous_id:a-3"));
    cr_assert_null(profile_id_of("email:b@x.io"));
    char *bystander = profile_id_of("email:by@x.io");
    cr_assert_not_null(bystander, "the bystander was erased too");
    free(bystander);
    free(merged);
    cdp_free(receipt);
}

Test(erase, reingesting_old_identifiers_is_refused_until_lifted) {
    make_person(1);
    char *old_id = profile_id_of("user_id:user-1");
    cdp_free(erase_ok("email:person1@example.org", "req-reingest"));
    size_t keys = count_cf(CDP_CF_KEYS, NULL, 0), events = count_cf(CDP_CF_EVENTS, NULL, 0);
    cr_assert_eq(keys, 0);
    /* The same messages again (same messageIds), and new ones carrying one old identifier. */
    cr_assert_eq(send("identify", "{\"userId\":\"user-1\",\"anonymousId\":\"anon-1\","
                                  "\"messageId\":\"id-1\",\"timestamp\":\"2026-11-01T10:00:00Z\"}"),
                 CDP_SUPPRESSED, "%s", cdp_errmsg(db));
    cr_assert_eq(send("track", "{\"anonymousId\":\"fresh\",\"event\":\"x\",\"messageId\":\"n1\","
                               "\"timestamp\":\"2026-11-03T10:00:00Z\",\"context\":{\"device\":"
                               "{\"id\":\"dev-1\"}}}"),
                 CDP_SUPPRESSED);
    cr_assert_eq(send("identify", "{\"anonymousId\":\"fresh2\",\"messageId\":\"n2\","
                                  "\"timestamp\":\"2026-11-03T10:00:00Z\",\"traits\":{\"email\":"
                                  "\" PERSON1@example.org \"}}"),
                 CDP_SUPPRESSED, "normalization must not get around the suppression");
    cr_assert_eq(count_cf(CDP_CF_KEYS, NULL, 0), keys, "a refused message created a person");
    cr_assert_eq(count_cf(CDP_CF_EVENTS, NULL, 0), events);
    cr_assert_eq(count_cf(CDP_CF_PROFILES, NULL, 0), 0);

    /* Lifting: dpo only, one identifier at a time, audited. */
    cdp_actor admin = actor_for(CDP_ROLE_ADMIN), dpo = actor_for(CDP_ROLE_DPO);
    cr_assert_eq(cdp_suppression_lift(db, &admin, "email:person1@example.org"), CDP_FORBIDDEN);
    cr_assert_eq(cdp_suppression_lift(db, &dpo, "email:nobody@example.org"), CDP_NOT_FOUND);
    cr_assert_eq(cdp_suppression_lift(db, &dpo, "profile:00000000000000000000000000000000"),
                 CDP_INVALID_IDENTIFIER);
    cr_assert_eq(cdp_suppression_lift(db, &dpo, "email:Person1@Example.org"), CDP_OK, "%s",
                 cdp_errmsg(db));
    send_ok("identify", "{\"anonymousId\":\"back-1\",\"messageId\":\"n3\","
                        "\"timestamp\":\"2026-11-04T10:00:00Z\",\"traits\":{\"email\":"
                        "\"person1@example.org\"}}");
    char *new_id = profile_id_of("email:person1@example.org");
    cr_assert_not_null(new_id);
    cr_assert_str_neq(new_id, old_id, "the erased profile came back");
    /* The other identifiers stay suppressed. */
    cr_assert_eq(send("identify", "{\"userId\":\"user-1\",\"messageId\":\"n4\","
                                  "\"timestamp\":\"2026-11-04T10:00:00Z\"}"),
                 CDP_SUPPRESSED);
    free(new_id);
    free(old_id);
}

/* Every file under the data directory: WAL, SST, MANIFEST, OPTIONS, LOG, keystore, ... */
static size_t scan(const uint8_t *needle, size_t len, char *hit, size_t hit_cap) {
    return test_scan_tree(data_dir, needle, len, hit, hit_cap);
}

Test(erase, leaves_no_wrapped_key_ciphertext_or_plaintext_on_disk) {
    const char *email = "scan.person@example.org";
    char json[1024];
    for (int i = 0; i < 3; i++) {
        snprintf(json, sizeof json,
                 "{\"userId\":\"scan-user\",\"event\":\"Viewed\",\"messageId\":\"s-%d\","
                 "\"timestamp\":\"2026-11-0%dT10:00:00Z\",\"properties\":{\"note\":"
                 "\"SECRET-NOTE-%d\"},\"context\":{\"traits\":{\"email\":\"%s\"}}}",
                 i, i + 1, i, email);
        send_ok("track", json);
        send_ok("identify", "{\"userId\":\"scan-user\",\"messageId\":\"s-id\","
                            "\"timestamp\":\"2026-11-01T10:00:00Z\",\"traits\":{\"email\":"
                            "\"scan.person@example.org\",\"first_name\":\"Scanny\"}}");
        /* Some of it in SST files, the rest only in the WAL and the memtable. */
        if (i == 1)
            cr_assert_eq(cdp_region_flush(eu_region(), NULL), CDP_OK);
    }
    send_ok("identify", "{\"userId\":\"survivor\",\"messageId\":\"sv\","
                        "\"timestamp\":\"2026-11-01T10:00:00Z\",\"traits\":{\"email\":"
                        "\"survivor@example.org\"}}");
    char *id = profile_id_of("user_id:scan-user");
    uint8_t raw_id[CDP_PROFILE_ID_BYTES];
    decode_id(id, raw_id);
    size_t wrapped_len = 0, profile_len = 0;
    uint8_t *wrapped = raw_get(CDP_CF_KEYS, raw_id, sizeof raw_id, &wrapped_len);
    uint8_t *profile = raw_get(CDP_CF_PROFILES, raw_id, sizeof raw_id, &profile_len);
    cr_assert_eq(wrapped_len, CDP_WRAPPED_KEY_BYTES);
    cr_assert(profile_len > 64);
    /* Slices of every event's ciphertext (past the nonce). */
    uint8_t event_slices[3][32];
    size_t slices = 0;
    cdp_iter *iter = NULL;
    cr_assert_eq(cdp_region_iter(eu_region(), CDP_CF_EVENTS, raw_id, sizeof raw_id, &iter, NULL),
                 CDP_OK);
    for (; cdp_iter_valid(iter) && slices < 3; cdp_iter_next(iter)) {
        size_t len = 0;
        const uint8_t *value = cdp_iter_value(iter, &len);
        cr_assert(len > 64);
        memcpy(event_slices[slices++], value + 30, 32);
    }
    cdp_iter_free(iter);
    cr_assert_eq(slices, 3);
    /* The scan sees what is there: the wrapped key and the first events are on disk now. */
    cr_assert_gt(scan(wrapped, wrapped_len, NULL, 0), 0, "the scan cannot see the wrapped key");
    cr_assert_gt(scan(event_slices[0], 32, NULL, 0), 0, "the scan cannot see an event");
    cr_assert_eq(scan((const uint8_t *)email, strlen(email), NULL, 0), 0,
                 "plaintext e-mail stored before any erasure");

    cdp_free(erase_ok("user_id:scan-user", "req-scan"));
    cr_assert_eq(cdp_erase_purge(db), CDP_OK, "%s", cdp_errmsg(db));

    char hit[1024] = "";
    cr_assert_eq(scan(wrapped, wrapped_len, hit, sizeof hit), 0, "wrapped key bytes in %s", hit);
    cr_assert_eq(scan(profile + 30, 32, hit, sizeof hit), 0, "profile ciphertext in %s", hit);
    for (size_t i = 0; i < slices; i++)
        cr_assert_eq(scan(event_slices[i], 32, hit, sizeof hit), 0, "event %zu ciphertext in %s",
                     i, hit);
    cr_assert_eq(scan((const uint8_t *)email, strlen(email), hit, sizeof hit), 0, "e-mail in %s",
                 hit);
    cr_assert_eq(scan((const uint8_t *)"SECRET-NOTE", 11, hit, sizeof hit), 0, "note in %s", hit);
    char *survivor = profile_id_of("email:survivor@example.org");
    cr_assert_not_null(survivor, "the purge lost another person");
    free(survivor);
    /* Closed and reopened: nothing comes back from a WAL replay. */
    cdp_close(db);
    open_db(data_dir, 0);
    cr_assert_null(profile_id_of("user_id:scan-user"));
    cr_assert_eq(scan(wrapped, wrapped_len, hit, sizeof hit), 0, "wrapped key bytes in %s", hit);
    free(wrapped);
    free(profile);
    free(id);
}

static void copy_tree(const char *from, const char *to) {
    char command[4096];
    snprintf(command, sizeof command, "cp -a '%s' '%s'", from, to);
    cr_assert_eq(system(command), 0, "%s", command);
}

Test(erase, a_copy_made_before_is_unreadable_once_the_epoch_is_closed) {
    make_person(7);
    make_person(8);
    char *id = profile_id_of("user_id:user-7");
    uint8_t raw_id[CDP_PROFILE_ID_BYTES];
    decode_id(id, raw_id);
    size_t wrapped_len = 0;
    uint8_t *wrapped = raw_get(CDP_CF_KEYS, raw_id, sizeof raw_id, &wrapped_len);
    cr_assert_not_null(wrapped);
    cdp_close(db);
    char copy[1024], ref[128];
    snprintf(copy, sizeof copy, "%s/copy", base);
    copy_tree(data_dir, copy); /* a backup taken before the erasure */
    open_db(data_dir, 0);
    cdp_free(erase_ok("user_id:user-7", "req-copy"));
    uint32_t epoch = 0;
    size_t rewrapped = 0;
    cr_assert_eq(cdp_close_epoch(db, "eu", &epoch, &rewrapped), CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_eq(rewrapped, 1, "only the survivor is re-wrapped");
    /* Still suppressed after the blind-index key rotated, and the survivor still found. */
    cr_assert_eq(send("identify", "{\"userId\":\"user-7\",\"messageId\":\"again\","
                                  "\"timestamp\":\"2026-11-05T10:00:00Z\"}"),
                 CDP_SUPPRESSED, "closing the epoch lifted the suppression");
    char *survivor = profile_id_of("email:person8@example.org");
    cr_assert_not_null(survivor);
    free(survivor);
    char live_keystore[1100], copy_keystore[1100];
    snprintf(live_keystore, sizeof live_keystore, "%s/keystore", data_dir);
    snprintf(copy_keystore, sizeof copy_keystore, "%s/keystore", copy);
    cdp_close(db);

    /* Sanity: with its own (old) keystore the copy does hold the person. */
    open_db(copy, 0);
    char *found = profile_id_of("user_id:user-7");
    cr_assert_not_null(found, "the copy never held the person: the test proves nothing");
    free(found);
    cdp_close(db);

    /* With the live keystore, nothing of the person opens from the copy. */
    size_t keystore_len = 0;
    uint8_t *keystore = test_read_file(live_keystore, &keystore_len);
    cr_assert_not_null(keystore);
    cr_assert_eq(test_write_file(copy_keystore, keystore, keystore_len, 0600), 0);
    free(keystore);
    open_db(copy, 0);
    cr_assert_null(profile_id_of("user_id:user-7"));
    cr_assert_null(profile_id_of("email:person7@example.org"));
    cdp_actor reader = actor_for(CDP_ROLE_DPO);
    char *text = NULL;
    snprintf(ref, sizeof ref, "profile:%s", id);
    cdp_status status = cdp_profile_get(db, &reader, "legal_obligation", ref, &text);
    cr_assert_neq(status, CDP_OK, "the copy served the erased person: %s", text);
    uint8_t data_key[CDP_DATA_KEY_BYTES];
    cdp_vault *vault = cdp_handle_vault(db, "eu");
    cr_assert_eq(cdp_datakey_unwrap(cdp_vault_keystore(vault), "eu", raw_id, sizeof raw_id,
                                    wrapped, wrapped_len, data_key, NULL, NULL),
                 CDP_CRYPTO, "the old wrapped key still unwraps with the live keystore");
    cdp_close(db);
    db = NULL;
    open_db(data_dir, 0);
    free(wrapped);
    free(id);
}

Test(erase, receipt_verifies_offline_and_any_flipped_byte_fails) {
    make_person(3);
    char *receipt = erase_ok("phone:+4722334403", "req-flip");
    char key_hex[65];
    pubkey(key_hex);
    size_t len = strlen(receipt);
    cr_assert_eq(cdp_receipt_verify(receipt, len, key_hex), CDP_OK, "%s", cdp_errmsg(NULL));
    json_t *parsed = json_loads(receipt, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(parsed, "public_key")), key_hex);
    cr_assert_str_eq(json_string_value(json_object_get(parsed, "request_id")), "req-flip");
    json_int_t seq = json_integer_value(json_object_get(parsed, "audit_seq"));
    json_decref(parsed);
    for (size_t i = 0; i < len; i++) {
        receipt[i] ^= 0x01;
        cr_assert_neq(cdp_receipt_verify(receipt, len, key_hex), CDP_OK,
                      "flipping byte %zu (%c) still verifies", i, receipt[i]);
        receipt[i] ^= 0x01;
    }
    char other_key[65];
    memcpy(other_key, key_hex, sizeof other_key);
    other_key[0] = other_key[0] == '0' ? '1' : '0';
    cr_assert_eq(cdp_receipt_verify(receipt, len, other_key), CDP_CRYPTO);
    cr_assert_eq(cdp_receipt_verify(receipt, len, "xyz"), CDP_BAD_REQUEST);
    /* Pretty-printed or reordered, it still verifies: the signature covers the values. */
    json_t *again = json_loads(receipt, 0, NULL);
    char *pretty = json_dumps(again, JSON_INDENT(2));
    json_decref(again);
    cr_assert_eq(cdp_receipt_verify(pretty, strlen(pretty), key_hex), CDP_OK, "%s",
                 cdp_errmsg(NULL));
    free(pretty);
    /* The audit record it names is the erasure. */
    cr_assert_gt(seq, 0);
    /* Erasing again gives the same receipt, by identifier, profile or the same request. */
    char *second = erase_ok("email:person3@example.org", "req-other");
    cr_assert_str_eq(second, receipt);
    cdp_free(second);
    cdp_free(receipt);
}

Test(erase, refusals_change_nothing) {
    make_person(4);
    make_person(5);
    size_t keys = count_cf(CDP_CF_KEYS, NULL, 0), audit = count_cf(CDP_CF_AUDIT, NULL, 0);
    char *receipt = NULL;
    cdp_role refused[] = {CDP_ROLE_INGEST, CDP_ROLE_PERSONALIZATION, CDP_ROLE_AUDITOR};
    for (size_t i = 0; i < 3; i++) {
        cdp_actor actor = actor_for(refused[i]);
        cr_assert_eq(cdp_erase(db, &actor, "email:person4@example.org", NULL, &receipt),
                     CDP_FORBIDDEN);
        cr_assert_null(receipt);
        cr_assert_not_null(strstr(cdp_errmsg(db), "may not erase"), "%s", cdp_errmsg(db));
    }
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    cr_assert_eq(cdp_erase(db, &dpo, "email-without-colon", NULL, &receipt),
                 CDP_INVALID_IDENTIFIER);
    cr_assert_eq(cdp_erase(db, &dpo, "email:not-an-email", NULL, &receipt),
                 CDP_INVALID_IDENTIFIER);
    cr_assert_eq(cdp_erase(db, &dpo, "profile:abc", NULL, &receipt), CDP_INVALID_IDENTIFIER);
    cr_assert_eq(cdp_erase(db, &dpo, "email:nobody@example.org", NULL, &receipt), CDP_NOT_FOUND);
    cr_assert_not_null(strstr(cdp_errmsg(db), "not found"), "%s", cdp_errmsg(db));
    cr_assert_eq(cdp_erase(db, &dpo, "email:person4@example.org", "alice@example.org", &receipt),
                 CDP_BAD_REQUEST, "a request id may not carry personal data");
    cr_assert_not_null(strstr(cdp_errmsg(db), "request_id"), "%s", cdp_errmsg(db));
    cr_assert_eq(cdp_erase(db, &dpo, "email:person4@example.org", "", &receipt),
                 CDP_BAD_REQUEST);
    cr_assert_eq(cdp_erase(NULL, &dpo, "email:person4@example.org", NULL, &receipt), CDP_MISUSE);
    cr_assert_eq(cdp_erase(db, NULL, "email:person4@example.org", NULL, &receipt), CDP_MISUSE);
    cr_assert_null(receipt);
    cr_assert_eq(count_cf(CDP_CF_KEYS, NULL, 0), keys);
    cr_assert_eq(count_cf(CDP_CF_SUPPRESS, NULL, 0), 0);
    cr_assert_eq(count_cf(CDP_CF_AUDIT, NULL, 0), audit, "a refusal wrote to the audit log");
    char *id = profile_id_of("email:person4@example.org");
    cr_assert_not_null(id);
    free(id);
    /* A request id names one erasure. */
    cdp_free(erase_ok("email:person4@example.org", "req-once"));
    cr_assert_eq(cdp_erase(db, &dpo, "email:person5@example.org", "req-once", &receipt),
                 CDP_CONFLICT);
    id = profile_id_of("email:person5@example.org");
    cr_assert_not_null(id, "a conflicting request erased someone");
    free(id);
}

/* ---- kill -9 at each step ------------------------------------------------------------------ */

/* Runs `cdpctl erase` in a child with the crash point set; returns its exit status. */
static int run_cdpctl_erase(const char *ref, const char *crash_at, char *out, size_t out_cap) {
    char cdpctl[1024], out_path[1100];
    snprintf(cdpctl, sizeof cdpctl, "%s/cdpctl",
             getenv("CDP_BUILD_DIR") ? getenv("CDP_BUILD_DIR") : "build");
    snprintf(out_path, sizeof out_path, "%s/cdpctl.out", base);
    fflush(NULL);
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        if (crash_at != NULL)
            setenv("CDP_TEST_CRASH_AT", crash_at, 1);
        FILE *redirect = freopen(out_path, "w", stdout);
        (void)redirect;
        execl(cdpctl, cdpctl, "erase", "--data", data_dir, "--id", ref, "--request-id",
              "req-crash", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    cr_assert_eq(waitpid(child, &status, 0), child);
    size_t len = 0;
    uint8_t *bytes = test_read_file(out_path, &len);
    if (out != NULL) {
        size_t n = bytes && len < out_cap ? len : 0;
        memcpy(out, bytes ? (const char *)bytes : "", n);
        out[n] = '\0';
    }
    free(bytes);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static size_t count_meta_prefix(const char *prefix) {
    return count_cf(CDP_CF_META, (const uint8_t *)prefix, strlen(prefix));
}

static void crash_and_recover(const char *point, int completes) {
    make_person(6);
    make_person(9);
    char *id = profile_id_of("user_id:user-6");
    uint8_t raw_id[CDP_PROFILE_ID_BYTES];
    decode_id(id, raw_id);
    size_t wrapped_len = 0;
    uint8_t *wrapped = raw_get(CDP_CF_KEYS, raw_id, sizeof raw_id, &wrapped_len);
    cr_assert_not_null(wrapped);
    cdp_close(db);
    db = NULL;
    int code = run_cdpctl_erase("email:person6@example.org", point, NULL, 0);
    cr_assert_eq(code, 137, "%s: cdpctl exited %d, not at the crash point", point, code);
    open_db(data_dir, 0); /* recovery runs here */
    char *after = profile_id_of("user_id:user-6");
    if (!completes) {
        /* Crashed before the batch: nothing happened; the erasure is simply run again. */
        cr_assert_not_null(after, "%s: half an erasure", point);
        free(after);
        cr_assert_eq(count_cf(CDP_CF_SUPPRESS, NULL, 0), 0, "%s: suppressed, not erased", point);
        cdp_close(db);
        db = NULL;
        char receipt[8192];
        cr_assert_eq(run_cdpctl_erase("email:person6@example.org", NULL, receipt, sizeof receipt),
                     0);
        open_db(data_dir, 0);
        cr_assert_not_null(strstr(receipt, "\"request_id\":\"req-crash\""), "%s", receipt);
    } else {
        cr_assert_null(after, "%s: the person survived", point);
    }
    /* The final state equals a clean erasure's. */
    assert_person_gone(6);
    cr_assert_eq(count_cf(CDP_CF_KEYS, raw_id, sizeof raw_id), 0);
    cr_assert_eq(count_cf(CDP_CF_EVENTS, raw_id, sizeof raw_id), 0);
    cr_assert_eq(count_cf(CDP_CF_SUPPRESS, NULL, 0), 6, "%s", point);
    cr_assert_eq(count_meta_prefix("erasure.pending/"), 0, "%s: purge still pending", point);
    size_t journal_len = 0;
    uint8_t *journal =
        raw_get(CDP_CF_META, (const uint8_t *)"erasure/req-crash", 17, &journal_len);
    cr_assert_not_null(journal, "%s: no journal", point);
    cr_assert_not_null(memmem(journal, journal_len, "\"state\":\"done\"", 14), "%s: %.*s",
                       point, (int)journal_len, (const char *)journal);
    free(journal);
    char hit[1024] = "";
    cr_assert_eq(scan(wrapped, wrapped_len, hit, sizeof hit), 0, "%s: wrapped key in %s", point,
                 hit);
    char *survivor = profile_id_of("user_id:user-9");
    cr_assert_not_null(survivor, "%s: the bystander is gone", point);
    free(survivor);
    cr_assert_eq(send("identify", "{\"userId\":\"user-6\",\"messageId\":\"again\","
                                  "\"timestamp\":\"2026-11-05T10:00:00Z\"}"),
                 CDP_SUPPRESSED);
    /* The receipt is there, signed, with the audit record of the erasure. */
    char *receipt = erase_ok("email:person6@example.org", NULL);
    char key_hex[65];
    pubkey(key_hex);
    cr_assert_eq(cdp_receipt_verify(receipt, strlen(receipt), key_hex), CDP_OK, "%s: %s", point,
                 cdp_errmsg(NULL));
    cr_assert_not_null(strstr(receipt, "\"request_id\":\"req-crash\""), "%s", receipt);
    cdp_free(receipt);
    free(wrapped);
    free(id);
}

Test(erase, crash_before_the_batch_leaves_nothing) { crash_and_recover("erase.before_batch", 0); }
Test(erase, crash_after_the_batch_is_completed_on_open) {
    crash_and_recover("erase.after_batch", 1);
}
Test(erase, crash_after_the_receipt_is_completed_on_open) {
    crash_and_recover("erase.after_receipt", 1);
}
Test(erase, crash_after_the_flush_is_completed_on_open) {
    crash_and_recover("purge.after_flush", 1);
}
Test(erase, crash_after_the_compaction_is_completed_on_open) {
    crash_and_recover("purge.after_compact", 1);
}
Test(erase, crash_before_printing_the_receipt_is_complete) {
    crash_and_recover("before_receipt", 1);
}
