/* The walk cache behind consent reads: a repeated read is replayed from it (the same records
 * opened), any consent write for the person ends the entry before the writer returns, writes to
 * other column families or other people do not, a range delete ends every entry, an entry read
 * before a racing write is never stored, and through the public API a withdrawal, a merge and
 * an erasure are seen by the very next read. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handle.h"
#include "cdp/cdp.h"
#include "consent/consent.h"
#include "store/vault.h"
#include "store/walk_cache.h"
#include "support/testutil.h"
#include "util/alloc.h"

static char *base;
static cdp_t *db;
static cdp_vault *vault;
static cdp_walk_cache *cache;

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    base = test_tempdir("walkcache");
    char data_dir[1024];
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    cr_assert_eq(test_store_open(data_dir, 1, &db), CDP_OK, "%s", cdp_errmsg(db));
    vault = cdp_handle_vault(db, "eu");
    cr_assert_not_null(vault);
    cache = cdp_region_walk_cache(cdp_vault_region(vault));
    cr_assert_not_null(cache);
}

static void teardown(void) {
    cdp_close(db);
    test_rmtree(base);
    free(base);
}

TestSuite(walk_cache, .init = setup, .fini = teardown);

static void new_person(cdp_person *person) {
    cdp_batch *batch = cdp_batch_new();
    cdp_err err = {0};
    cr_assert_eq(cdp_vault_create_person(vault, batch, person, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_region_write(cdp_vault_region(vault), batch, 0, &err), CDP_OK);
    cdp_vault_remember_person(vault, person);
    cdp_batch_free(batch);
}

static void record(const cdp_person *person, const char *purpose, cdp_consent_state state,
                   int64_t time_ms) {
    cdp_batch *batch = cdp_batch_new();
    cdp_err err = {0};
    cdp_consent_entry entry = {
        .purpose = purpose, .state = state, .time_ms = time_ms, .source = "web"};
    cr_assert_eq(cdp_consent_put(vault, batch, person, &entry, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_region_write(cdp_vault_region(vault), batch, 0, &err), CDP_OK);
    cdp_batch_free(batch);
}

/* The state of purpose now, and whether the read was a cache hit. */
static cdp_consent_state state_of(const cdp_person *owner, const char *const *merged,
                                  size_t merged_count, const char *purpose, int *hit,
                                  size_t *records_read) {
    uint64_t hits_before = 0, hits_after = 0, misses = 0;
    cdp_walk_cache_counts(cache, &hits_before, &misses);
    cdp_consent_view view = {0};
    cdp_err err = {0};
    cr_assert_eq(cdp_consent_current(vault, owner, merged, merged_count, &view, &err), CDP_OK,
                 "%s", err.message);
    cdp_walk_cache_counts(cache, &hits_after, &misses);
    if (hit != NULL)
        *hit = hits_after > hits_before;
    if (records_read != NULL)
        *records_read = view.records_read;
    const cdp_consent_record *found = cdp_consent_view_find(&view, purpose);
    cdp_consent_state state = found != NULL ? found->state : CDP_CONSENT_STATE_NONE;
    cdp_consent_view_clear(&view);
    return state;
}

Test(walk_cache, a_repeated_read_replays_the_same_records_and_a_write_ends_it) {
    cdp_person person;
    new_person(&person);
    record(&person, "marketing", CDP_CONSENT_STATE_GRANTED, 1000);
    record(&person, "marketing", CDP_CONSENT_STATE_DENIED, 2000);
    record(&person, "analytics", CDP_CONSENT_STATE_GRANTED, 1500);
    int hit = 0;
    size_t first_read = 0, second_read = 0;
    cr_assert_eq(state_of(&person, NULL, 0, "marketing", &hit, &first_read),
                 CDP_CONSENT_STATE_DENIED);
    cr_assert_not(hit);
    cr_assert_eq(state_of(&person, NULL, 0, "marketing", &hit, &second_read),
                 CDP_CONSENT_STATE_DENIED);
    cr_assert(hit, "the second read walked again");
    cr_assert_eq(first_read, 2);
    cr_assert_eq(second_read, first_read, "a replay opens the same records");
    cr_assert_eq(state_of(&person, NULL, 0, "analytics", &hit, NULL), CDP_CONSENT_STATE_GRANTED);
    cr_assert(hit);
    /* A later grant: the next read must see it, not the cached denial. */
    record(&person, "marketing", CDP_CONSENT_STATE_GRANTED, 3000);
    cr_assert_eq(state_of(&person, NULL, 0, "marketing", &hit, NULL), CDP_CONSENT_STATE_GRANTED);
    cr_assert_not(hit, "a consent write left the old entry in use");
    cdp_person_wipe(&person);
}

Test(walk_cache, no_consent_is_cached_too_and_a_first_record_ends_it) {
    cdp_person person;
    new_person(&person);
    int hit = 0;
    cr_assert_eq(state_of(&person, NULL, 0, "marketing", &hit, NULL), CDP_CONSENT_STATE_NONE);
    cr_assert_eq(state_of(&person, NULL, 0, "marketing", &hit, NULL), CDP_CONSENT_STATE_NONE);
    cr_assert(hit);
    record(&person, "marketing", CDP_CONSENT_STATE_GRANTED, 1000);
    cr_assert_eq(state_of(&person, NULL, 0, "marketing", &hit, NULL), CDP_CONSENT_STATE_GRANTED);
    cr_assert_not(hit);
    cdp_person_wipe(&person);
}

Test(walk_cache, other_column_families_and_other_people_keep_the_entry) {
    cdp_person person, other;
    new_person(&person);
    new_person(&other);
    record(&person, "marketing", CDP_CONSENT_STATE_GRANTED, 1000);
    int hit = 0;
    state_of(&person, NULL, 0, "marketing", &hit, NULL);
    /* A profile write for the person, and a consent write for someone else (whose profile id
     * falls in another stripe, as almost every other id does). */
    cdp_batch *batch = cdp_batch_new();
    cdp_batch_put(batch, cdp_vault_region(vault), CDP_CF_PROFILES, person.profile_id,
                  CDP_PROFILE_ID_BYTES, (const uint8_t *)"x", 1);
    cdp_err err = {0};
    cr_assert_eq(cdp_region_write(cdp_vault_region(vault), batch, 0, &err), CDP_OK);
    cdp_batch_free(batch);
    uint64_t before = cdp_walk_cache_generation(cache, person.profile_id);
    record(&other, "marketing", CDP_CONSENT_STATE_DENIED, 1000);
    if (cdp_walk_cache_generation(cache, person.profile_id) == before) {
        cr_assert_eq(state_of(&person, NULL, 0, "marketing", &hit, NULL),
                     CDP_CONSENT_STATE_GRANTED);
        cr_assert(hit, "an unrelated write ended the entry");
    }
    cdp_person_wipe(&person);
    cdp_person_wipe(&other);
}

Test(walk_cache, a_range_delete_ends_every_entry) {
    cdp_person person;
    new_person(&person);
    record(&person, "marketing", CDP_CONSENT_STATE_GRANTED, 1000);
    int hit = 0;
    state_of(&person, NULL, 0, "marketing", &hit, NULL);
    uint8_t start[CDP_PROFILE_ID_BYTES] = {0}, end[CDP_PROFILE_ID_BYTES] = {0};
    end[15] = 1; /* a range that holds nobody's records */
    cdp_batch *batch = cdp_batch_new();
    cdp_batch_delete_range(batch, cdp_vault_region(vault), CDP_CF_CONSENT, start, sizeof start,
                           end, sizeof end);
    cdp_err err = {0};
    cr_assert_eq(cdp_region_write(cdp_vault_region(vault), batch, 0, &err), CDP_OK);
    cdp_batch_free(batch);
    cr_assert_eq(state_of(&person, NULL, 0, "marketing", &hit, NULL), CDP_CONSENT_STATE_GRANTED);
    cr_assert_not(hit);
    cdp_person_wipe(&person);
}

Test(walk_cache, a_walk_read_before_a_racing_write_is_never_stored) {
    uint8_t id[16];
    memset(id, 0x5a, sizeof id);
    /* The reader reads the count, then (while it walks) a write lands. */
    uint64_t generation = cdp_walk_cache_generation(cache, id);
    cdp_batch *batch = cdp_batch_new();
    uint8_t key[20] = {0};
    memcpy(key, id, sizeof id);
    cdp_batch_put(batch, cdp_vault_region(vault), CDP_CF_CONSENT, key, sizeof key,
                  (const uint8_t *)"v", 1);
    cdp_err err = {0};
    cr_assert_eq(cdp_region_write(cdp_vault_region(vault), batch, 0, &err), CDP_OK);
    cdp_batch_free(batch);
    cdp_walk_cache_put(cache, id, generation, (const uint8_t *)"stale", 5);
    cdp_buf out = {0};
    cr_assert_eq(cdp_walk_cache_get(cache, id, &out), 0, "a stale walk was stored");
    /* With the count after the write, it is kept. */
    cdp_walk_cache_put(cache, id, cdp_walk_cache_generation(cache, id), (const uint8_t *)"fresh",
                       5);
    cr_assert_eq(cdp_walk_cache_get(cache, id, &out), 1);
    cr_assert_eq(out.len, 5);
    cr_assert_eq(memcmp(out.data, "fresh", 5), 0);
    cdp_buf_free(&out);
}

Test(walk_cache, merged_members_decide_together_after_each_write) {
    cdp_person owner, member;
    new_person(&owner);
    new_person(&member);
    char member_hex[2 * CDP_PROFILE_ID_BYTES + 1];
    cdp_hex_encode(member_hex, member.profile_id, CDP_PROFILE_ID_BYTES);
    const char *merged[] = {member_hex};
    record(&owner, "marketing", CDP_CONSENT_STATE_GRANTED, 1000);
    int hit = 0;
    cr_assert_eq(state_of(&owner, merged, 1, "marketing", &hit, NULL), CDP_CONSENT_STATE_GRANTED);
    cr_assert_eq(state_of(&owner, merged, 1, "marketing", &hit, NULL), CDP_CONSENT_STATE_GRANTED);
    cr_assert(hit);
    /* A later denial recorded on the member decides for the merged person at once. */
    record(&member, "marketing", CDP_CONSENT_STATE_DENIED, 2000);
    cr_assert_eq(state_of(&owner, merged, 1, "marketing", &hit, NULL), CDP_CONSENT_STATE_DENIED);
    cdp_person_wipe(&owner);
    cdp_person_wipe(&member);
}

/* ---- through the public API --------------------------------------------------------------- */

static cdp_actor actor_for(cdp_role role) {
    cdp_actor actor;
    memset(&actor, 0, sizeof actor);
    snprintf(actor.key_id, sizeof actor.key_id, "test");
    actor.role = role;
    snprintf(actor.region, sizeof actor.region, "eu");
    snprintf(actor.source, sizeof actor.source, "web");
    return actor;
}

static void ingest(const char *body) {
    cdp_actor actor = actor_for(CDP_ROLE_INGEST);
    cdp_ingest_result result;
    cr_assert_eq(cdp_ingest(db, &actor, NULL, body, strlen(body), 0, &result), CDP_OK, "%s",
                 cdp_errmsg(db));
    cr_assert_eq(result.rejected, 0);
    cdp_ingest_result_clear(&result);
}

static void consent_as(const char *type, const char *value, const char *state) {
    cdp_actor actor = actor_for(CDP_ROLE_DPO);
    char body[256], *json = NULL;
    snprintf(body, sizeof body,
             "{\"identity\":{\"type\":\"%s\",\"value\":\"%s\"},"
             "\"purposes\":{\"personalization\":\"%s\"},\"source\":\"web\"}",
             type, value, state);
    cr_assert_eq(cdp_consent_set(db, &actor, body, strlen(body), 0, &json), CDP_OK, "%s",
                 cdp_errmsg(db));
    cdp_free(json);
}

static void consent(const char *user, const char *state) { consent_as("user_id", user, state); }

static cdp_status read_profile(const char *ref) {
    cdp_actor actor = actor_for(CDP_ROLE_PERSONALIZATION);
    char *json = NULL;
    cdp_status status = cdp_profile_get(db, &actor, "personalization", ref, &json);
    cdp_free(json);
    return status;
}

Test(walk_cache, a_withdrawal_after_cached_reads_refuses_the_next_read) {
    ingest("{\"type\":\"identify\",\"userId\":\"u-1\",\"traits\":{\"email\":\"a@shop.example\","
           "\"address\":{\"country\":\"DE\"}}}");
    consent("u-1", "granted");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(read_profile("user_id:u-1"), CDP_OK, "%s", cdp_errmsg(db));
    uint64_t hits = 0, misses = 0;
    cdp_walk_cache_counts(cache, &hits, &misses);
    cr_assert_geq(hits, 2, "reads were not served from the cache: the test proves nothing");
    consent("u-1", "withdrawn");
    cr_assert_eq(read_profile("user_id:u-1"), CDP_CONSENT_DENIED,
                 "a cached grant outlived its withdrawal");
}

Test(walk_cache, a_merge_brings_the_members_refusal_into_the_next_read) {
    ingest("{\"type\":\"identify\",\"userId\":\"u-2\",\"traits\":{\"address\":{\"country\":"
           "\"DE\"}}}");
    consent("u-2", "granted");
    cr_assert_eq(read_profile("user_id:u-2"), CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_eq(read_profile("user_id:u-2"), CDP_OK, "%s", cdp_errmsg(db));
    ingest("{\"type\":\"track\",\"event\":\"Viewed\",\"anonymousId\":\"anon-3\","
           "\"context\":{\"location\":{\"country\":\"DE\"}}}");
    consent_as("anonymous_id", "anon-3", "denied");
    /* The visitor signs in as u-2: the two persons merge, and the visitor's denial holds. */
    ingest("{\"type\":\"identify\",\"userId\":\"u-2\",\"anonymousId\":\"anon-3\"}");
    cr_assert_neq(read_profile("user_id:u-2"), CDP_OK, "a merged refusal was not seen");
}

Test(walk_cache, an_erased_person_is_not_served_from_the_cache) {
    ingest("{\"type\":\"identify\",\"userId\":\"u-4\",\"traits\":{\"address\":{\"country\":"
           "\"DE\"}}}");
    consent("u-4", "granted");
    cr_assert_eq(read_profile("user_id:u-4"), CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_eq(read_profile("user_id:u-4"), CDP_OK, "%s", cdp_errmsg(db));
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    char *receipt = NULL;
    cr_assert_eq(cdp_erase(db, &dpo, "user_id:u-4", NULL, &receipt), CDP_OK, "%s",
                 cdp_errmsg(db));
    cdp_free(receipt);
    cr_assert_eq(read_profile("user_id:u-4"), CDP_NOT_FOUND);
}
