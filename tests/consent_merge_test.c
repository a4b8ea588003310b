/* Consent across merges and unmerges, through the public API: a refusal on any side survives a
 * merge (no "newest grant wins"), later decisions still win, history is kept, GPC opt-outs
 * survive, and an unmerge gives each side its own consent back. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "api/handle.h"
#include "cdp/cdp.h"
#include "consent/consent.h"
#include "support/testutil.h"

static char *base;
static char data_dir[1024];
static cdp_t *db;

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    base = test_tempdir("consent_merge");
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    cr_assert_eq(test_store_open(data_dir, 1, &db), CDP_OK, "%s", cdp_errmsg(db));
}

static void teardown(void) {
    cdp_close(db);
    test_rmtree(base);
    free(base);
}

TestSuite(consent_merge, .init = setup, .fini = teardown);

static cdp_actor actor_for(cdp_role role, const char *region) {
    cdp_actor actor;
    memset(&actor, 0, sizeof actor);
    snprintf(actor.key_id, sizeof actor.key_id, "test");
    actor.role = role;
    snprintf(actor.region, sizeof actor.region, "%s", region);
    snprintf(actor.source, sizeof actor.source, "web");
    return actor;
}

/* Records purposes (a JSON object text) for TYPE:VALUE at time (NULL: now). */
static void consent(const char *region, const char *type, const char *value,
                    const char *purposes, const char *time) {
    char body[1024], stamp[96] = "";
    if (time != NULL)
        snprintf(stamp, sizeof stamp, ", \"timestamp\": \"%s\"", time);
    snprintf(body, sizeof body,
             "{\"identity\": {\"type\": \"%s\", \"value\": \"%s\"}, \"purposes\": %s%s}", type,
             value, purposes, stamp);
    cdp_actor actor = actor_for(CDP_ROLE_INGEST, region);
    char *json = NULL;
    cr_assert_eq(cdp_consent_set(db, &actor, body, strlen(body), 0, &json), CDP_OK, "%s: %s",
                 body, cdp_errmsg(db));
    cdp_free(json);
}

static void ingest(const char *region, int gpc, const char *body) {
    cdp_actor actor = actor_for(CDP_ROLE_INGEST, region);
    cdp_ingest_result result;
    cr_assert_eq(cdp_ingest(db, &actor, NULL, body, strlen(body), gpc, &result), CDP_OK, "%s: %s",
                 body, cdp_errmsg(db));
    cdp_ingest_result_clear(&result);
}

static json_t *view_of(const char *ref) {
    cdp_actor actor = actor_for(CDP_ROLE_PERSONALIZATION, "eu");
    char *json = NULL;
    cr_assert_eq(cdp_profile_consent(db, &actor, "analytics", ref, &json), CDP_OK, "%s: %s", ref,
                 cdp_errmsg(db));
    json_t *view = json_loads(json, 0, NULL);
    cdp_free(json);
    cr_assert_not_null(view);
    return view;
}

static json_t *purpose_in(json_t *view, const char *purpose) {
    return json_object_get(json_object_get(view, "purposes"), purpose);
}

/* The state of purpose for ref now ("none" when nothing is recorded). */
static char state_text[16];
static const char *state_of(const char *ref, const char *purpose) {
    json_t *view = view_of(ref);
    const char *state = json_string_value(json_object_get(purpose_in(view, purpose), "state"));
    snprintf(state_text, sizeof state_text, "%s", state ? state : "none");
    json_decref(view);
    return state_text;
}

static cdp_status profile_read(const char *ref, const char *purpose) {
    cdp_actor actor = actor_for(CDP_ROLE_PERSONALIZATION, "eu");
    char *json = NULL;
    cdp_status status = cdp_profile_get(db, &actor, purpose, ref, &json);
    cdp_free(json);
    return status;
}

static json_t *history_of(const char *ref) {
    cdp_actor actor = actor_for(CDP_ROLE_DPO, "eu");
    cdp_access_person opened;
    cdp_err err = {0};
    cr_assert_eq(cdp_access_resolve(cdp_handle_identity_env(db), &actor, ref, &opened, &err),
                 CDP_OK, "%s", err.message);
    char *json = NULL;
    cr_assert_eq(cdp_consent_history_json(opened.vault, &opened.person,
                                          (const char *const *)opened.profile.merged_from,
                                          opened.profile.merged_from_count, &json, &err),
                 CDP_OK, "%s", err.message);
    json_t *history = json_loads(json, 0, NULL);
    cdp_free(json);
    cdp_access_person_clear(&opened);
    return history;
}

/* Records of purpose in history with the given source and state. */
static size_t count_records(json_t *history, const char *purpose, const char *source,
                            const char *state) {
    size_t index, count = 0;
    json_t *record;
    json_array_foreach(history, index, record) {
        const char *p = json_string_value(json_object_get(record, "purpose"));
        const char *s = json_string_value(json_object_get(record, "source"));
        const char *t = json_string_value(json_object_get(record, "state"));
        count += strcmp(p, purpose) == 0 && (source == NULL || strcmp(s, source) == 0) &&
                 (state == NULL || strcmp(t, state) == 0);
    }
    return count;
}

static char *profile_id_of(const char *ref) {
    json_t *view = view_of(ref);
    char *id = strdup(json_string_value(json_object_get(view, "profile_id")));
    json_decref(view);
    return id;
}

static void unmerge_ok(const char *ref, const char *type, const char *value) {
    cdp_actor dpo = actor_for(CDP_ROLE_DPO, "eu");
    char *json = NULL;
    cr_assert_eq(cdp_unmerge(db, &dpo, ref, type, value, &json), CDP_OK, "%s", cdp_errmsg(db));
    cdp_free(json);
}

/* The person on two channels: e-mail (Anna's web sign-up) and user id (her app login). */
static void merge_anna(const char *time) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"type\": \"identify\", \"messageId\": \"merge-anna\", \"userId\": \"anna-1\", "
             "\"traits\": {\"email\": \"anna@example.se\"}, \"timestamp\": \"%s\"}",
             time);
    ingest("eu", 0, body);
}

Test(consent_merge, a_denial_on_one_side_beats_a_newer_grant_on_the_other) {
    consent("eu", "email", "anna@example.se", "{\"marketing\": \"denied\"}",
            "2024-01-01T00:00:00Z");
    consent("eu", "user_id", "anna-1", "{\"marketing\": \"granted\", \"analytics\": \"granted\"}",
            "2024-02-01T00:00:00Z");
    cr_expect_eq(profile_read("user_id:anna-1", "marketing"), CDP_OK, "%s", cdp_errmsg(db));
    merge_anna("2024-03-01T00:00:00Z");
    char *a = profile_id_of("email:anna@example.se"), *b = profile_id_of("user_id:anna-1");
    cr_assert_str_eq(a, b, "one message with both identifiers merges them");
    cr_expect_str_eq(state_of("user_id:anna-1", "marketing"), "denied");
    cr_expect_str_eq(state_of("email:anna@example.se", "marketing"), "denied");
    /* The decision follows the merged state. */
    cr_expect_eq(profile_read("user_id:anna-1", "marketing"), CDP_CONSENT_DENIED);
    cr_expect_eq(profile_read("email:anna@example.se", "marketing"), CDP_CONSENT_DENIED);
    /* A grant beside silence carries: the same person granted it, nobody refused. */
    cr_expect_str_eq(state_of("user_id:anna-1", "analytics"), "granted");
    cr_expect_eq(profile_read("user_id:anna-1", "analytics"), CDP_OK, "%s", cdp_errmsg(db));
    /* The pinned record: source merge, the merge's message id, dated after both records. */
    json_t *view = view_of("user_id:anna-1");
    json_t *marketing = purpose_in(view, "marketing");
    cr_expect_str_eq(json_string_value(json_object_get(marketing, "source")), "merge");
    cr_expect_str_eq(
        json_string_value(json_object_get(json_object_get(marketing, "proof"), "request_id")),
        "merge-anna");
    cr_expect_eq(json_integer_value(json_object_get(marketing, "time")), 1709251200000);
    json_decref(view);
    free(a);
    free(b);
}

Test(consent_merge, an_older_withdrawal_is_not_undone_by_a_newer_grant) {
    consent("eu", "email", "anna@example.se", "{\"marketing\": \"granted\"}",
            "2024-01-01T00:00:00Z");
    consent("eu", "email", "anna@example.se", "{\"marketing\": \"withdrawn\"}",
            "2024-01-10T00:00:00Z");
    consent("eu", "user_id", "anna-1", "{\"marketing\": \"granted\"}", "2024-02-01T00:00:00Z");
    merge_anna("2024-03-01T00:00:00Z");
    cr_expect_str_eq(state_of("user_id:anna-1", "marketing"), "withdrawn");
    cr_expect_eq(profile_read("user_id:anna-1", "marketing"), CDP_CONSENT_DENIED);
    /* History of both members is kept: the grant, the withdrawal, the other grant, the pin. */
    json_t *history = history_of("user_id:anna-1");
    cr_expect_eq(json_array_size(history), 4);
    cr_expect_eq(count_records(history, "marketing", "web", "withdrawn"), 1);
    cr_expect_eq(count_records(history, "marketing", "web", "granted"), 2);
    cr_expect_eq(count_records(history, "marketing", "merge", "withdrawn"), 1);
    json_decref(history);
}

Test(consent_merge, a_decision_after_the_merge_wins) {
    consent("eu", "email", "anna@example.se", "{\"marketing\": \"denied\"}",
            "2024-01-01T00:00:00Z");
    consent("eu", "user_id", "anna-1", "{\"marketing\": \"granted\"}", "2024-02-01T00:00:00Z");
    merge_anna("2024-03-01T00:00:00Z");
    cr_expect_str_eq(state_of("user_id:anna-1", "marketing"), "denied");
    /* Sent later but decided before the merge: kept, does not win. */
    consent("eu", "user_id", "anna-1", "{\"marketing\": \"granted\"}", "2024-02-15T00:00:00Z");
    cr_expect_str_eq(state_of("user_id:anna-1", "marketing"), "denied");
    consent("eu", "email", "anna@example.se", "{\"marketing\": \"granted\"}",
            "2024-04-01T00:00:00Z");
    cr_expect_str_eq(state_of("user_id:anna-1", "marketing"), "granted");
    cr_expect_eq(profile_read("user_id:anna-1", "marketing"), CDP_OK, "%s", cdp_errmsg(db));
}

Test(consent_merge, withdrawn_outranks_denied) {
    consent("eu", "email", "anna@example.se", "{\"marketing\": \"withdrawn\"}",
            "2024-01-01T00:00:00Z");
    consent("eu", "user_id", "anna-1", "{\"marketing\": \"denied\"}", "2024-02-01T00:00:00Z");
    merge_anna("2024-03-01T00:00:00Z");
    cr_expect_str_eq(state_of("user_id:anna-1", "marketing"), "withdrawn");
}

Test(consent_merge, agreeing_grants_write_nothing) {
    consent("eu", "email", "anna@example.se", "{\"marketing\": \"granted\"}",
            "2024-01-01T00:00:00Z");
    consent("eu", "user_id", "anna-1", "{\"marketing\": \"granted\"}", "2024-02-01T00:00:00Z");
    merge_anna("2024-03-01T00:00:00Z");
    json_t *history = history_of("user_id:anna-1");
    cr_expect_eq(json_array_size(history), 2);
    cr_expect_eq(count_records(history, "marketing", "merge", NULL), 0);
    json_decref(history);
    cr_expect_str_eq(state_of("user_id:anna-1", "marketing"), "granted");
}

Test(consent_merge, a_gpc_opt_out_survives_the_merge) {
    /* A Californian's app sends Sec-GPC; her web e-mail sign-up grants advertising later. */
    ingest("us", 1,
           "{\"type\": \"identify\", \"userId\": \"cal-7\", \"traits\": {\"address\": "
           "{\"state\": \"CA\", \"country\": \"US\"}}}");
    cr_assert_str_eq(state_of("user_id:cal-7", "advertising"), "denied");
    consent("us", "email", "cal7@example.com", "{\"advertising\": \"granted\"}", NULL);
    cr_assert_str_eq(state_of("email:cal7@example.com", "advertising"), "granted");
    ingest("us", 0,
           "{\"type\": \"identify\", \"userId\": \"cal-7\", \"traits\": {\"email\": "
           "\"cal7@example.com\"}}");
    json_t *view = view_of("email:cal7@example.com");
    json_t *advertising = purpose_in(view, "advertising");
    cr_expect_str_eq(json_string_value(json_object_get(advertising, "state")), "denied");
    cr_expect(json_is_true(json_object_get(json_object_get(advertising, "proof"), "gpc")));
    cr_expect(json_is_true(json_object_get(json_object_get(view, "gpc"), "honoured")));
    json_decref(view);
}

Test(consent_merge, three_profiles_merge_to_the_strictest) {
    consent("eu", "email", "anna@example.se", "{\"marketing\": \"granted\"}",
            "2024-01-01T00:00:00Z");
    consent("eu", "phone", "+46701234567",
            "{\"marketing\": \"denied\", \"personalization\": \"granted\"}",
            "2024-01-15T00:00:00Z");
    consent("eu", "user_id", "anna-1", "{\"marketing\": \"granted\", \"analytics\": \"withdrawn\"}",
            "2024-02-01T00:00:00Z");
    consent("eu", "email", "anna@example.se", "{\"analytics\": \"granted\"}",
            "2024-02-20T00:00:00Z");
    ingest("eu", 0,
           "{\"type\": \"identify\", \"userId\": \"anna-1\", \"traits\": {\"email\": "
           "\"anna@example.se\", \"phone\": \"+46701234567\"}, "
           "\"timestamp\": \"2024-03-01T00:00:00Z\"}");
    char *a = profile_id_of("email:anna@example.se"), *b = profile_id_of("phone:+46701234567");
    cr_assert_str_eq(a, b);
    cr_expect_str_eq(state_of("user_id:anna-1", "marketing"), "denied");
    cr_expect_str_eq(state_of("user_id:anna-1", "analytics"), "withdrawn");
    cr_expect_str_eq(state_of("user_id:anna-1", "personalization"), "granted");
    cr_expect_eq(profile_read("phone:+46701234567", "analytics"), CDP_CONSENT_DENIED);
    json_t *history = history_of("user_id:anna-1");
    cr_expect_eq(json_array_size(history), 8); /* six decisions, two pins */
    json_decref(history);
    free(a);
    free(b);
}

Test(consent_merge, unmerge_gives_each_side_its_own_consent_back) {
    consent("eu", "email", "anna@example.se",
            "{\"marketing\": \"denied\", \"analytics\": \"granted\"}", "2024-01-01T00:00:00Z");
    consent("eu", "user_id", "anna-1",
            "{\"marketing\": \"granted\", \"personalization\": \"granted\"}",
            "2024-02-01T00:00:00Z");
    merge_anna("2024-03-01T00:00:00Z");
    cr_assert_str_eq(state_of("user_id:anna-1", "marketing"), "denied");
    /* The link was wrong: the e-mail is someone else's. */
    unmerge_ok("user_id:anna-1", "email", "anna@example.se");
    char *kept = profile_id_of("user_id:anna-1"), *split = profile_id_of("email:anna@example.se");
    cr_assert_str_neq(kept, split);
    cr_expect_str_eq(state_of("user_id:anna-1", "marketing"), "granted");
    cr_expect_str_eq(state_of("user_id:anna-1", "personalization"), "granted");
    cr_expect_str_eq(state_of("user_id:anna-1", "analytics"), "none");
    cr_expect_str_eq(state_of("email:anna@example.se", "marketing"), "denied");
    cr_expect_str_eq(state_of("email:anna@example.se", "analytics"), "granted");
    cr_expect_str_eq(state_of("email:anna@example.se", "personalization"), "none");
    cr_expect_eq(profile_read("user_id:anna-1", "marketing"), CDP_OK, "%s", cdp_errmsg(db));
    cr_expect_eq(profile_read("email:anna@example.se", "marketing"), CDP_CONSENT_DENIED);
    /* Each side's history holds its own decisions and the restoring records; nothing went. */
    json_t *split_history = history_of("email:anna@example.se");
    cr_expect_eq(count_records(split_history, "marketing", "web", "denied"), 1);
    cr_expect_eq(count_records(split_history, "marketing", "unmerge", "denied"), 1);
    cr_expect_eq(count_records(split_history, "marketing", "web", "granted"), 0);
    json_t *kept_history = history_of("user_id:anna-1");
    cr_expect_eq(count_records(kept_history, "marketing", "merge", "denied"), 1);
    cr_expect_eq(count_records(kept_history, "marketing", "unmerge", "granted"), 1);
    cr_expect_eq(count_records(kept_history, "marketing", "web", "denied"), 0);
    json_decref(kept_history);
    json_decref(split_history);
    free(kept);
    free(split);
}

Test(consent_merge, unmerge_shares_only_the_restrictions_made_while_merged) {
    consent("eu", "email", "anna@example.se", "{\"analytics\": \"granted\"}",
            "2024-01-01T00:00:00Z");
    consent("eu", "user_id", "anna-1", "{\"marketing\": \"denied\"}", "2024-02-01T00:00:00Z");
    merge_anna("2024-03-01T00:00:00Z");
    /* While merged, someone (either person) withdraws analytics and grants marketing. */
    consent("eu", "user_id", "anna-1", "{\"analytics\": \"withdrawn\", \"marketing\": \"granted\"}",
            "2024-04-01T00:00:00Z");
    cr_assert_str_eq(state_of("email:anna@example.se", "analytics"), "withdrawn");
    unmerge_ok("user_id:anna-1", "email", "anna@example.se");
    /* The withdrawal may have been either person's: both sides keep it. */
    cr_expect_str_eq(state_of("email:anna@example.se", "analytics"), "withdrawn");
    cr_expect_str_eq(state_of("user_id:anna-1", "analytics"), "withdrawn");
    /* The grant stays with the profile that recorded it; no one is opted in on another's word. */
    cr_expect_str_eq(state_of("user_id:anna-1", "marketing"), "granted");
    cr_expect_str_eq(state_of("email:anna@example.se", "marketing"), "none");
}
