/* cdp_consent_current, the deciding record per purpose: the latest time wins, a tie at the
 * latest time goes to the stricter state, only the records at each purpose's latest time are
 * opened (records_read), history walks every record, merged members decide together, and a
 * purpose group is never mistaken for its neighbour's (several purposes, interleaved writes). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handle.h"
#include "cdp/cdp.h"
#include "consent/consent.h"
#include "store/vault.h"
#include "support/testutil.h"
#include "util/alloc.h"

static char *base;
static cdp_t *db;
static cdp_vault *vault;

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    base = test_tempdir("consentcur");
    char data_dir[1024], policies[1024];
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    snprintf(policies, sizeof policies, "%s/policies",
             getenv("CDP_SOURCE_DIR") ? getenv("CDP_SOURCE_DIR") : ".");
    cdp_options options;
    cdp_options_default(&options);
    options.create = 1;
    options.policy_dir = policies;
    options.block_cache_bytes = 8u << 20;
    options.key_cache_entries = 64;
    cr_assert_eq(cdp_open(data_dir, &options, &db), CDP_OK, "%s", cdp_errmsg(db));
    vault = cdp_handle_vault(db, "eu");
    cr_assert_not_null(vault);
}

static void teardown(void) {
    cdp_close(db);
    test_rmtree(base);
    free(base);
}

TestSuite(consent_current, .init = setup, .fini = teardown);

static void new_person(cdp_person *person) {
    cdp_batch *batch = cdp_batch_new();
    cdp_err err = {0};
    cr_assert_eq(cdp_vault_create_person(vault, batch, person, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_region_write(cdp_vault_region(vault), batch, 0, &err), CDP_OK);
    cdp_vault_remember_person(vault, person);
    cdp_batch_free(batch);
}

/* One record per call, each in its own write (so every one gets its own sequence). */
static void record(const cdp_person *person, const char *purpose, cdp_consent_state state,
                   int64_t time_ms, const char *source) {
    cdp_batch *batch = cdp_batch_new();
    cdp_err err = {0};
    cdp_consent_entry entry = {
        .purpose = purpose, .state = state, .time_ms = time_ms, .source = source};
    cr_assert_eq(cdp_consent_put(vault, batch, person, &entry, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_region_write(cdp_vault_region(vault), batch, 0, &err), CDP_OK);
    cdp_batch_free(batch);
}

static void current(const cdp_person *owner, const char *const *merged, size_t merged_count,
                    cdp_consent_view *view) {
    cdp_err err = {0};
    cr_assert_eq(cdp_consent_current(vault, owner, merged, merged_count, view, &err), CDP_OK,
                 "%s", err.message);
}

Test(consent_current, latest_time_decides_and_only_it_is_opened) {
    cdp_person person;
    new_person(&person);
    /* Interleaved purposes, written out of time order. */
    record(&person, "marketing", CDP_CONSENT_STATE_GRANTED, 3000, "web");
    record(&person, "analytics", CDP_CONSENT_STATE_DENIED, 1000, "web");
    record(&person, "marketing", CDP_CONSENT_STATE_DENIED, 1000, "ios");
    record(&person, "analytics", CDP_CONSENT_STATE_GRANTED, 5000, "pos");
    record(&person, "marketing", CDP_CONSENT_STATE_WITHDRAWN, 2000, "call_center");
    record(&person, "personalization", CDP_CONSENT_STATE_GRANTED, 7000, "web");
    record(&person, "analytics", CDP_CONSENT_STATE_DENIED, 4000, "web");
    cdp_consent_view view = {0};
    current(&person, NULL, 0, &view);
    cr_assert_eq(view.count, 3);
    const cdp_consent_record *marketing = cdp_consent_view_find(&view, "marketing");
    const cdp_consent_record *analytics = cdp_consent_view_find(&view, "analytics");
    const cdp_consent_record *personalization = cdp_consent_view_find(&view, "personalization");
    cr_assert(marketing && analytics && personalization);
    cr_assert_eq(marketing->state, CDP_CONSENT_STATE_GRANTED);
    cr_assert_eq(marketing->time_ms, 3000);
    cr_assert_str_eq(marketing->source, "web");
    cr_assert_eq(analytics->state, CDP_CONSENT_STATE_GRANTED);
    cr_assert_eq(analytics->time_ms, 5000);
    cr_assert_str_eq(analytics->source, "pos");
    cr_assert_eq(personalization->time_ms, 7000);
    cr_assert_eq(view.records_read, 3, "one record per purpose opened, not %zu",
                 view.records_read);
    /* Sorted by purpose. */
    cr_assert_str_eq(view.current[0].purpose, "analytics");
    cr_assert_str_eq(view.current[2].purpose, "personalization");
    cdp_consent_view_clear(&view);

    char *history = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_consent_history_json(vault, &person, NULL, 0, &history, &err), CDP_OK);
    size_t items = 0;
    for (const char *at = history; (at = strstr(at, "\"purpose\"")) != NULL; at++)
        items++;
    cr_assert_eq(items, 7, "history keeps every record: %s", history);
    cdp_free(history);
    cdp_person_wipe(&person);
}

Test(consent_current, a_tie_at_the_latest_time_goes_to_the_stricter_state) {
    cdp_person person;
    new_person(&person);
    record(&person, "marketing", CDP_CONSENT_STATE_GRANTED, 1000, "web");
    record(&person, "marketing", CDP_CONSENT_STATE_GRANTED, 9000, "web");
    record(&person, "marketing", CDP_CONSENT_STATE_DENIED, 9000, "ios");
    record(&person, "marketing", CDP_CONSENT_STATE_GRANTED, 9000, "pos");
    /* Equal states at the tie: the one recorded last is kept. */
    record(&person, "analytics", CDP_CONSENT_STATE_GRANTED, 4000, "web");
    record(&person, "analytics", CDP_CONSENT_STATE_GRANTED, 4000, "pos");
    cdp_consent_view view = {0};
    current(&person, NULL, 0, &view);
    const cdp_consent_record *marketing = cdp_consent_view_find(&view, "marketing");
    cr_assert_not_null(marketing);
    cr_assert_eq(marketing->state, CDP_CONSENT_STATE_DENIED);
    cr_assert_str_eq(marketing->source, "ios");
    const cdp_consent_record *analytics = cdp_consent_view_find(&view, "analytics");
    cr_assert_not_null(analytics);
    cr_assert_str_eq(analytics->source, "pos");
    cr_assert_eq(view.records_read, 5, "the three tied marketing records and both analytics, "
                                       "not the older one: %zu",
                 view.records_read);
    cdp_consent_view_clear(&view);
    cdp_person_wipe(&person);
}

Test(consent_current, merged_members_decide_together) {
    cdp_person owner, member;
    new_person(&owner);
    new_person(&member);
    record(&owner, "marketing", CDP_CONSENT_STATE_GRANTED, 1000, "web");
    record(&member, "marketing", CDP_CONSENT_STATE_WITHDRAWN, 2000, "ios");
    record(&member, "analytics", CDP_CONSENT_STATE_GRANTED, 500, "ios");
    record(&owner, "analytics", CDP_CONSENT_STATE_DENIED, 500, "web");
    char member_hex[33];
    cdp_hex_encode(member_hex, member.profile_id, CDP_PROFILE_ID_BYTES);
    const char *merged[] = {member_hex};
    cdp_consent_view view = {0};
    current(&owner, merged, 1, &view);
    cr_assert_eq(view.count, 2);
    cr_assert_eq(cdp_consent_view_find(&view, "marketing")->state, CDP_CONSENT_STATE_WITHDRAWN);
    /* Same time across members: the stricter (denied) decides. */
    cr_assert_eq(cdp_consent_view_find(&view, "analytics")->state, CDP_CONSENT_STATE_DENIED);
    cr_assert_eq(view.records_read, 4);
    cdp_consent_view_clear(&view);
    cdp_person_wipe(&owner);
    cdp_person_wipe(&member);
}

Test(consent_current, nobody_recorded_nothing) {
    cdp_person person;
    new_person(&person);
    cdp_consent_view view = {0};
    current(&person, NULL, 0, &view);
    cr_assert_eq(view.count, 0);
    cr_assert_eq(view.records_read, 0);
    cdp_consent_view_clear(&view);
    cdp_person_wipe(&person);
}
