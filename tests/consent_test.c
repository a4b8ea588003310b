/* Consent through the public API: set/get, history, merges, GPC by regime (API and ingest),
 * TCF-derived purposes, refusals that write nothing, and no plaintext of a consent on disk. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handle.h"
#include "access/access.h"
#include "cdp/cdp.h"
#include "consent/consent.h"
#include "support/testutil.h"

static char *base;
static char data_dir[1024];
static cdp_t *db;

static void open_db(int create) {
    cr_assert_eq(test_store_open(data_dir, create, &db), CDP_OK, "%s", cdp_errmsg(db));
}

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    base = test_tempdir("consent");
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    open_db(1);
}

static void teardown(void) {
    cdp_close(db);
    test_rmtree(base);
    free(base);
}

TestSuite(consent, .init = setup, .fini = teardown);

static cdp_actor actor_for(cdp_role role, const char *region, const char *source) {
    cdp_actor actor;
    memset(&actor, 0, sizeof actor);
    snprintf(actor.key_id, sizeof actor.key_id, "test");
    actor.role = role;
    snprintf(actor.region, sizeof actor.region, "%s", region);
    snprintf(actor.source, sizeof actor.source, "%s", source ? source : "");
    return actor;
}

static json_t *set_ok(const char *region, int gpc_header, const char *body) {
    cdp_actor actor = actor_for(CDP_ROLE_INGEST, region, "web");
    char *json = NULL;
    cdp_status status = cdp_consent_set(db, &actor, body, strlen(body), gpc_header, &json);
    cr_assert_eq(status, CDP_OK, "%s: %s", body, cdp_errmsg(db));
    json_t *answer = json_loads(json, 0, NULL);
    cr_assert_not_null(answer, "%s", json);
    cdp_free(json);
    return answer;
}

static json_t *view_of(const char *ref) {
    cdp_actor actor = actor_for(CDP_ROLE_PERSONALIZATION, "eu", NULL);
    char *json = NULL;
    cdp_status status = cdp_profile_consent(db, &actor, "analytics", ref, &json);
    cr_assert_eq(status, CDP_OK, "%s: %s", ref, cdp_errmsg(db));
    json_t *view = json_loads(json, 0, NULL);
    cdp_free(json);
    return view;
}

static const char *state_in(json_t *view, const char *purpose) {
    return json_string_value(
        json_object_get(json_object_get(json_object_get(view, "purposes"), purpose), "state"));
}

static void ingest_ok(const char *region, int gpc, const char *body) {
    cdp_actor actor = actor_for(CDP_ROLE_INGEST, region, "web");
    cdp_ingest_result result;
    cdp_status status = cdp_ingest(db, &actor, NULL, body, strlen(body), gpc, &result);
    cr_assert_eq(status, CDP_OK, "%s: %s", body, cdp_errmsg(db));
    cdp_ingest_result_clear(&result);
}

/* Entries in every region's consent column family. */
static size_t consent_entries(void) {
    size_t count = 0;
    for (size_t r = 0; r < cdp_region_count(db); r++) {
        cdp_vault *vault = cdp_handle_vault(db, cdp_region_id(db, r));
        cdp_iter *iter = NULL;
        cr_assert_eq(cdp_region_iter(cdp_vault_region(vault), CDP_CF_CONSENT, NULL, 0, &iter,
                                     NULL),
                     CDP_OK);
        for (; cdp_iter_valid(iter); cdp_iter_next(iter))
            count++;
        cdp_iter_free(iter);
    }
    return count;
}

/* The person's full consent history (all members), as the access export will show it. */
static json_t *history_of(const char *ref) {
    cdp_actor actor = actor_for(CDP_ROLE_DPO, "eu", NULL);
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

Test(consent, set_then_get_round_trip) {
    json_t *answer = set_ok("eu", 0,
                            "{\"identity\": {\"type\": \"email\", \"value\": \"Alice@Example.com\"},"
                            " \"purposes\": {\"marketing\": \"granted\", \"analytics\": \"denied\"},"
                            " \"source\": \"web_banner\", \"notice_version\": \"2024-05\","
                            " \"timestamp\": \"2024-05-01T10:00:00Z\"}");
    cr_expect_str_eq(json_string_value(json_object_get(answer, "gpc")), "absent");
    json_t *recorded = json_object_get(answer, "recorded");
    cr_expect_str_eq(json_string_value(json_object_get(recorded, "marketing")), "granted");
    cr_expect_str_eq(json_string_value(json_object_get(recorded, "analytics")), "denied");
    const char *profile_id = json_string_value(json_object_get(answer, "profile_id"));
    cr_assert_not_null(profile_id);

    json_t *view = view_of("email:alice@example.com");
    cr_expect_str_eq(json_string_value(json_object_get(view, "profile_id")), profile_id);
    cr_expect_str_eq(state_in(view, "marketing"), "granted");
    cr_expect_str_eq(state_in(view, "analytics"), "denied");
    json_t *marketing = json_object_get(json_object_get(view, "purposes"), "marketing");
    cr_expect_eq(json_integer_value(json_object_get(marketing, "time")), 1714557600000);
    cr_expect_str_eq(json_string_value(json_object_get(marketing, "source")), "web_banner");
    cr_expect_str_eq(json_string_value(json_object_get(marketing, "notice_version")), "2024-05");
    cr_expect(json_is_false(json_object_get(json_object_get(marketing, "proof"), "gpc")));
    cr_expect_null(state_in(view, "advertising"));
    cr_expect_str_eq(json_string_value(json_object_get(view, "regime")), "gdpr");
    /* The same view by profile id; consent came before any event and made the person. */
    char ref[64];
    snprintf(ref, sizeof ref, "profile:%s", profile_id);
    json_t *by_id = view_of(ref);
    cr_expect_str_eq(state_in(by_id, "marketing"), "granted");
    cr_expect_eq(consent_entries(), 2);
    json_decref(by_id);
    json_decref(view);
    json_decref(answer);
}

Test(consent, history_is_kept_and_the_latest_decides) {
    const char *times[3] = {"2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z",
                            "2024-03-01T00:00:00Z"};
    const char *states[3] = {"granted", "withdrawn", "granted"};
    for (int i = 0; i < 3; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"identity\": {\"type\": \"user_id\", \"value\": \"u-hist\"}, \"purposes\": "
                 "{\"marketing\": \"%s\"}, \"timestamp\": \"%s\"}",
                 states[i], times[i]);
        json_decref(set_ok("eu", 0, body));
    }
    json_t *view = view_of("user_id:u-hist");
    cr_expect_str_eq(state_in(view, "marketing"), "granted");
    json_t *history = history_of("user_id:u-hist");
    cr_assert_eq(json_array_size(history), 3);
    for (size_t i = 0; i < 3; i++)
        cr_expect_str_eq(json_string_value(json_object_get(json_array_get(history, i), "state")),
                         states[i]);
    /* A decision made earlier but sent later is kept in the history and does not win. */
    json_decref(set_ok("eu", 0,
                       "{\"identity\": {\"type\": \"user_id\", \"value\": \"u-hist\"}, "
                       "\"purposes\": {\"marketing\": \"denied\"}, "
                       "\"timestamp\": \"2024-02-15T00:00:00Z\"}"));
    json_t *after = view_of("user_id:u-hist");
    cr_expect_str_eq(state_in(after, "marketing"), "granted");
    json_t *history4 = history_of("user_id:u-hist");
    cr_expect_eq(json_array_size(history4), 4);
    /* The same time twice: the stricter state decides. */
    json_decref(set_ok("eu", 0,
                       "{\"identity\": {\"type\": \"user_id\", \"value\": \"u-hist\"}, "
                       "\"purposes\": {\"marketing\": \"withdrawn\"}, "
                       "\"timestamp\": \"2024-03-01T00:00:00Z\"}"));
    json_decref(set_ok("eu", 0,
                       "{\"identity\": {\"type\": \"user_id\", \"value\": \"u-hist\"}, "
                       "\"purposes\": {\"marketing\": \"granted\"}, "
                       "\"timestamp\": \"2024-03-01T00:00:00Z\"}"));
    json_t *tie = view_of("user_id:u-hist");
    cr_expect_str_eq(state_in(tie, "marketing"), "withdrawn");
    json_decref(tie);
    json_decref(history4);
    json_decref(after);
    json_decref(history);
    json_decref(view);
}

Test(consent, merged_profiles_decide_together) {
    json_decref(set_ok("eu", 0,
                       "{\"identity\": {\"type\": \"email\", \"value\": \"bob@example.com\"}, "
                       "\"purposes\": {\"marketing\": \"granted\", \"personalization\": "
                       "\"granted\"}, \"timestamp\": \"2024-01-01T00:00:00Z\"}"));
    json_decref(set_ok("eu", 0,
                       "{\"identity\": {\"type\": \"user_id\", \"value\": \"bob-1\"}, "
                       "\"purposes\": {\"marketing\": \"denied\", \"analytics\": \"granted\"}, "
                       "\"timestamp\": \"2024-02-01T00:00:00Z\"}"));
    json_t *before = view_of("email:bob@example.com");
    cr_expect_null(state_in(before, "analytics"));
    /* One message with both identifiers merges the two people. */
    ingest_ok("eu", 0,
              "{\"type\": \"identify\", \"userId\": \"bob-1\", \"traits\": {\"email\": "
              "\"bob@example.com\"}, \"timestamp\": \"2024-03-01T00:00:00Z\"}");
    json_t *view = view_of("email:bob@example.com");
    cr_expect_str_eq(state_in(view, "marketing"), "denied"); /* the later decision */
    cr_expect_str_eq(state_in(view, "analytics"), "granted");
    cr_expect_str_eq(state_in(view, "personalization"), "granted");
    json_t *by_user = view_of("user_id:bob-1");
    cr_expect_str_eq(json_string_value(json_object_get(by_user, "profile_id")),
                     json_string_value(json_object_get(view, "profile_id")));
    json_t *history = history_of("user_id:bob-1");
    /* The four decisions and the merge's pinned denial of marketing (consent_merge_test). */
    cr_expect_eq(json_array_size(history), 5);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(history, 4), "source")),
                     "merge");
    /* A new decision after the merge wins over both members' records. */
    json_decref(set_ok("eu", 0,
                       "{\"identity\": {\"type\": \"email\", \"value\": \"bob@example.com\"}, "
                       "\"purposes\": {\"marketing\": \"granted\"}, "
                       "\"timestamp\": \"2024-04-01T00:00:00Z\"}"));
    json_t *latest = view_of("user_id:bob-1");
    cr_expect_str_eq(state_in(latest, "marketing"), "granted");
    json_decref(latest);
    json_decref(history);
    json_decref(by_user);
    json_decref(view);
    json_decref(before);
}

Test(consent, gpc_honoured_for_a_californian) {
    ingest_ok("us", 0,
              "{\"type\": \"identify\", \"userId\": \"cal-1\", \"traits\": {\"address\": "
              "{\"state\": \"CA\", \"country\": \"US\"}}}");
    json_t *answer = set_ok("us", 0,
                            "{\"identity\": {\"type\": \"user_id\", \"value\": \"cal-1\"}, "
                            "\"purposes\": {\"analytics\": \"granted\", \"advertising\": "
                            "\"granted\"}, \"gpc\": true}");
    cr_expect_str_eq(json_string_value(json_object_get(answer, "gpc")), "honoured");
    json_t *recorded = json_object_get(answer, "recorded");
    cr_expect_str_eq(json_string_value(json_object_get(recorded, "advertising")), "denied");
    /* GPC never limits first-party purposes. */
    cr_expect_str_eq(json_string_value(json_object_get(recorded, "analytics")), "granted");
    json_t *view = view_of("user_id:cal-1");
    cr_expect_str_eq(state_in(view, "advertising"), "denied");
    json_t *advertising = json_object_get(json_object_get(view, "purposes"), "advertising");
    cr_expect(json_is_true(json_object_get(json_object_get(advertising, "proof"), "gpc")));
    json_t *gpc = json_object_get(view, "gpc");
    cr_expect(json_is_true(json_object_get(gpc, "signal")));
    cr_expect(json_is_true(json_object_get(gpc, "honoured")));
    cr_expect_str_eq(json_string_value(json_object_get(gpc, "regime")), "ccpa");
    json_decref(view);
    json_decref(answer);
}

Test(consent, gpc_not_applicable_outside_gpc_regimes) {
    /* A US person with no state (us_default) and an EU person: nothing recorded for GPC. */
    ingest_ok("us", 0, "{\"type\": \"identify\", \"userId\": \"us-1\", \"traits\": "
                       "{\"address\": {\"country\": \"US\"}}}");
    ingest_ok("eu", 0, "{\"type\": \"identify\", \"userId\": \"eu-1\", \"traits\": "
                       "{\"address\": {\"country\": \"DE\"}}}");
    const char *people[2][2] = {{"us", "us-1"}, {"eu", "eu-1"}};
    for (int i = 0; i < 2; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"identity\": {\"type\": \"user_id\", \"value\": \"%s\"}, \"gpc\": true}",
                 people[i][1]);
        json_t *answer = set_ok(people[i][0], 0, body);
        cr_expect_str_eq(json_string_value(json_object_get(answer, "gpc")), "not_applicable",
                         "%s", people[i][1]);
        cr_expect_eq(json_object_size(json_object_get(answer, "recorded")), 0);
        json_decref(answer);
        char ref[64];
        snprintf(ref, sizeof ref, "user_id:%s", people[i][1]);
        json_t *view = view_of(ref);
        cr_expect_null(state_in(view, "advertising"));
        cr_expect(json_is_false(json_object_get(json_object_get(view, "gpc"), "honoured")));
        json_decref(view);
    }
    cr_expect_eq(consent_entries(), 0);
    /* The Sec-GPC header counts as the body's gpc. */
    ingest_ok("us", 0, "{\"type\": \"identify\", \"userId\": \"cal-2\", \"traits\": "
                       "{\"address\": {\"state\": \"ca\", \"country\": \"us\"}}}");
    json_t *answer = set_ok("us", 1, "{\"identity\": {\"type\": \"user_id\", \"value\": "
                                     "\"cal-2\"}}");
    cr_expect_str_eq(json_string_value(json_object_get(answer, "gpc")), "honoured");
    json_decref(answer);
}

Test(consent, sec_gpc_on_ingest_records_the_opt_out_once) {
    ingest_ok("us", 1,
              "{\"type\": \"identify\", \"userId\": \"cal-3\", \"traits\": {\"address\": "
              "{\"state\": \"CA\", \"country\": \"US\"}}}");
    json_t *view = view_of("user_id:cal-3");
    cr_expect_str_eq(state_in(view, "advertising"), "denied");
    json_t *advertising = json_object_get(json_object_get(view, "purposes"), "advertising");
    cr_expect(json_is_true(json_object_get(json_object_get(advertising, "proof"), "gpc")));
    cr_expect_eq(consent_entries(), 1);
    /* More events with the header: no new record. */
    for (int i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"type\": \"track\", \"userId\": \"cal-3\", \"event\": \"Viewed\", "
                 "\"messageId\": \"m-%d\"}",
                 i);
        ingest_ok("us", 1, body);
    }
    cr_expect_eq(consent_entries(), 1);
    /* After an explicit opt-in, the browser's GPC opts out again. */
    json_decref(set_ok("us", 0, "{\"identity\": {\"type\": \"user_id\", \"value\": \"cal-3\"}, "
                                "\"purposes\": {\"advertising\": \"granted\"}}"));
    ingest_ok("us", 1, "{\"type\": \"track\", \"userId\": \"cal-3\", \"event\": \"Viewed\", "
                       "\"messageId\": \"m-after-grant\"}");
    json_t *again = view_of("user_id:cal-3");
    cr_expect_str_eq(state_in(again, "advertising"), "denied");
    cr_expect_eq(consent_entries(), 3);
    /* A person whose regime does not honour GPC: the header stores nothing. */
    ingest_ok("us", 1, "{\"type\": \"identify\", \"userId\": \"us-2\"}");
    ingest_ok("eu", 1, "{\"type\": \"identify\", \"userId\": \"eu-2\"}");
    cr_expect_eq(consent_entries(), 3);
    json_decref(again);
    json_decref(view);
}

static const char *first_vector_tc_string(char *out, size_t cap, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/tcf_vectors.json",
             getenv("CDP_SOURCE_DIR") ? getenv("CDP_SOURCE_DIR") : ".");
    json_t *root = json_load_file(path, 0, NULL);
    cr_assert_not_null(root);
    size_t index;
    json_t *vector;
    out[0] = '\0';
    json_array_foreach(json_object_get(root, "vectors"), index, vector) {
        if (strcmp(json_string_value(json_object_get(vector, "name")), name) == 0)
            snprintf(out, cap, "%s", json_string_value(json_object_get(vector, "tc_string")));
    }
    json_decref(root);
    cr_assert(out[0] != '\0', "no vector %s", name);
    return out;
}

Test(consent, tcf_string_grants_the_mapped_purposes) {
    char tcf[512], body[1024];
    first_vector_tc_string(tcf, sizeof tcf, "all_purposes_few_vendors_bitfield");
    snprintf(body, sizeof body,
             "{\"identity\": {\"type\": \"email\", \"value\": \"tcf@example.com\"}, \"tcf\": "
             "\"%s\", \"purposes\": {\"analytics\": \"denied\"}}",
             tcf);
    json_t *answer = set_ok("eu", 0, body);
    json_t *recorded = json_object_get(answer, "recorded");
    cr_expect_str_eq(json_string_value(json_object_get(recorded, "advertising")), "granted");
    cr_expect_str_eq(json_string_value(json_object_get(recorded, "personalization")), "granted");
    /* The explicit entry wins over the TC string for the same purpose. */
    cr_expect_str_eq(json_string_value(json_object_get(recorded, "analytics")), "denied");
    json_t *view = view_of("email:tcf@example.com");
    json_t *advertising = json_object_get(json_object_get(view, "purposes"), "advertising");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(advertising, "proof"),
                                                       "tcf")),
                     tcf);
    json_t *analytics = json_object_get(json_object_get(view, "purposes"), "analytics");
    cr_expect(json_is_null(json_object_get(json_object_get(analytics, "proof"), "tcf")));
    json_decref(view);
    json_decref(answer);
    /* A string without consent denies them. */
    first_vector_tc_string(tcf, sizeof tcf, "nothing_consented");
    snprintf(body, sizeof body,
             "{\"identity\": {\"type\": \"email\", \"value\": \"tcf@example.com\"}, \"tcf\": "
             "\"%s\"}",
             tcf);
    json_decref(set_ok("eu", 0, body));
    json_t *after = view_of("email:tcf@example.com");
    cr_expect_str_eq(state_in(after, "advertising"), "denied");
    cr_expect_str_eq(state_in(after, "personalization"), "denied");
    json_decref(after);
}

Test(consent, refusals_write_nothing) {
    cdp_actor ingest = actor_for(CDP_ROLE_INGEST, "eu", "web");
    cdp_actor reader = actor_for(CDP_ROLE_PERSONALIZATION, "eu", NULL);
    json_decref(set_ok("eu", 0, "{\"identity\": {\"type\": \"email\", \"value\": "
                                "\"known@example.com\"}, \"purposes\": {\"marketing\": "
                                "\"granted\"}}"));
    size_t before = consent_entries();
    struct {
        const cdp_actor *actor;
        const char *body;
        cdp_status status;
        const char *message;
    } cases[] = {
        {&ingest, "{\"identity\": {\"type\": \"email\", \"value\": \"new@example.com\"}, "
                  "\"purposes\": {\"foo\": \"granted\"}}",
         CDP_BAD_REQUEST, "purposes.foo: unknown purpose"},
        {&ingest, "{\"identity\": {\"type\": \"email\", \"value\": \"new@example.com\"}, "
                  "\"purposes\": {\"marketing\": \"maybe\"}}",
         CDP_BAD_REQUEST, "purposes.marketing: state must be"},
        {&ingest, "{\"identity\": {\"type\": \"email\", \"value\": \"new@example.com\"}, "
                  "\"tcf\": \"CPXw==\"}",
         CDP_BAD_REQUEST, "tcf: not base64url"},
        {&ingest, "{\"identity\": {\"type\": \"email\", \"value\": \"new@example.com\"}, "
                  "\"tcf\": \"BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA\"}",
         CDP_BAD_REQUEST, "tcf: version: 1 is not supported"},
        {&ingest, "{\"identity\": {\"type\": \"email\", \"value\": \"new@example.com\"}, "
                  "\"purposes\": {\"marketing\": \"granted\"}, \"timestamp\": \"yesterday\"}",
         CDP_BAD_REQUEST, "timestamp: not an ISO-8601 time"},
        {&ingest, "{\"identity\": {\"type\": \"email\", \"value\": \"new@example.com\"}, "
                  "\"purposes\": {\"marketing\": \"granted\"}, \"timestamp\": "
                  "\"2099-01-01T00:00:00Z\"}",
         CDP_BAD_REQUEST, "timestamp: more than 5 minutes in the future"},
        {&ingest, "{\"purposes\": {\"marketing\": \"granted\"}}", CDP_BAD_REQUEST,
         "identity: required"},
        {&ingest, "{\"identity\": {\"type\": \"email\"}, \"purposes\": {\"marketing\": "
                  "\"granted\"}}",
         CDP_BAD_REQUEST, "identity.value: required"},
        {&ingest, "{\"identity\": {\"type\": \"email\", \"value\": \"not-an-email\"}, "
                  "\"purposes\": {\"marketing\": \"granted\"}}",
         CDP_INVALID_IDENTIFIER, "identity"},
        {&ingest, "{\"identity\": {\"type\": \"email\", \"value\": \"new@example.com\"}}",
         CDP_BAD_REQUEST, "purposes: required"},
        {&ingest, "{\"identity\": {\"type\": \"email\", \"value\": \"new@example.com\"}, "
                  "\"purposes\": {\"marketing\": \"granted\"}, \"gpc\": \"yes\"}",
         CDP_BAD_REQUEST, "gpc: must be true or false"},
        {&ingest, "{\"identity\": {\"type\": \"email\", \"value\": \"new@example.com\"}, "
                  "\"purposes\": {\"marketing\": \"granted\"}, \"colour\": 1}",
         CDP_BAD_REQUEST, "colour: unknown field"},
        {&ingest, "{\"identity\": ", CDP_INVALID_JSON, ""},
        /* A refusal after some valid purposes: still nothing written. */
        {&ingest, "{\"identity\": {\"type\": \"email\", \"value\": \"known@example.com\"}, "
                  "\"purposes\": {\"marketing\": \"denied\", \"analytics\": \"granted\", "
                  "\"bar\": \"granted\"}}",
         CDP_BAD_REQUEST, "purposes.bar: unknown purpose"},
        {&reader, "{\"identity\": {\"type\": \"email\", \"value\": \"known@example.com\"}, "
                  "\"purposes\": {\"marketing\": \"denied\"}}",
         CDP_FORBIDDEN, "may not record consent"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *json = NULL;
        cdp_status status = cdp_consent_set(db, cases[i].actor, cases[i].body,
                                            strlen(cases[i].body), 0, &json);
        cr_expect_eq(status, cases[i].status, "%s: %s (%s)", cases[i].body,
                     cdp_status_code(status), cdp_errmsg(db));
        cr_expect(strstr(cdp_errmsg(db), cases[i].message) != NULL, "\"%s\" lacks \"%s\"",
                  cdp_errmsg(db), cases[i].message);
        cr_expect_null(json);
    }
    cr_expect_eq(consent_entries(), before);
    /* Nobody was created for the refused identity, and the known person is unchanged. */
    char *json = NULL;
    cr_expect_eq(cdp_profile_consent(db, &reader, "analytics", "email:new@example.com", &json),
                 CDP_NOT_FOUND);
    json_t *view = view_of("email:known@example.com");
    cr_expect_str_eq(state_in(view, "marketing"), "granted");
    cr_expect_null(state_in(view, "analytics"));
    json_decref(view);
    /* The read side refuses too. */
    cr_expect_eq(cdp_profile_consent(db, &ingest, "analytics", "email:known@example.com", &json),
                 CDP_FORBIDDEN);
    cr_expect_eq(cdp_profile_consent(db, &reader, NULL, "email:known@example.com", &json),
                 CDP_PURPOSE_REQUIRED);
    cr_expect_eq(cdp_profile_consent(db, &reader, "analytics", "nonsense", &json),
                 CDP_INVALID_IDENTIFIER);
}

Test(consent, no_plaintext_consent_on_disk) {
    char tcf[512], body[1024];
    first_vector_tc_string(tcf, sizeof tcf, "many_vendors_range_encoded");
    snprintf(body, sizeof body,
             "{\"identity\": {\"type\": \"email\", \"value\": \"secret.person@example.com\"}, "
             "\"tcf\": \"%s\", \"purposes\": {\"marketing\": \"withdrawn\"}, \"source\": "
             "\"kiosk_zeta\", \"notice_version\": \"notice-v77\"}",
             tcf);
    json_decref(set_ok("eu", 0, body));
    /* Flush everything to files (and keep the WAL that held it, if any). */
    cdp_close(db);
    db = NULL;
    char regions[1100];
    snprintf(regions, sizeof regions, "%s/regions", data_dir);
    const char *needles[] = {tcf, "secret.person@example.com", "kiosk_zeta", "notice-v77",
                             "withdrawn", "marketing", "personalization"};
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        char hit[1024] = "";
        size_t hits = test_scan_tree(regions, (const uint8_t *)needles[i], strlen(needles[i]),
                                     hit, sizeof hit);
        cr_expect_eq(hits, 0, "\"%.40s\" in plaintext in %s", needles[i], hit);
    }
    /* A prefix of the TC string is enough to identify it: none either. */
    cr_expect_eq(test_scan_tree(regions, (const uint8_t *)tcf, 24, NULL, 0), 0);
    open_db(0);
    json_t *view = view_of("email:secret.person@example.com");
    cr_expect_str_eq(state_in(view, "marketing"), "withdrawn");
    json_decref(view);
}
