/* The one door (cdp/access) end to end through the public API: what each purpose may see of a
 * person under their regime, consent and restriction, residency between regions, minimisation
 * at ingest, and that every refusal is audited. The model-based test drives random sequences of
 * consent changes, restrictions and reads and compares what the store returns with a small
 * in-memory model of what each purpose may see. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/handle.h"
#include "audit/log.h"
#include "policy/privacy.h"
#include "support/testutil.h"

static char *base;
static cdp_t *db;

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    base = test_tempdir("access");
    char data_dir[1024];
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    cr_assert_eq(test_store_open(data_dir, 1, &db), CDP_OK, "%s", cdp_errmsg(db));
}

static void teardown(void) {
    cdp_close(db);
    test_rmtree(base);
    free(base);
}

TestSuite(access, .init = setup, .fini = teardown);

static cdp_actor actor_of(cdp_role role, const char *region, const char *key_id) {
    cdp_actor actor = {.role = role};
    snprintf(actor.region, sizeof actor.region, "%s", region);
    snprintf(actor.key_id, sizeof actor.key_id, "%s", key_id);
    if (role == CDP_ROLE_INGEST)
        snprintf(actor.source, sizeof actor.source, "web");
    return actor;
}

static void ingest(const cdp_actor *actor, const char *message, cdp_ingest_result *result) {
    cr_assert_eq(cdp_ingest(db, actor, "identify", message, strlen(message), 0, result), CDP_OK,
                 "%s", cdp_errmsg(db));
}

static void ingest_plain(const cdp_actor *actor, const char *message) {
    cdp_ingest_result result;
    ingest(actor, message, &result);
    cdp_ingest_result_clear(&result);
}

static void set_consent(const char *email, const char *purpose, const char *state,
                        const char *region) {
    cdp_actor dpo = actor_of(CDP_ROLE_DPO, region, "dpo-key");
    char body[512];
    snprintf(body, sizeof body,
             "{\"identity\":{\"type\":\"email\",\"value\":\"%s\"},\"purposes\":{\"%s\":\"%s\"},"
             "\"source\":\"web\"}",
             email, purpose, state);
    char *json = NULL;
    cr_assert_eq(cdp_consent_set(db, &dpo, body, strlen(body), 0, &json), CDP_OK, "%s",
                 cdp_errmsg(db));
    cdp_free(json);
}

/* The traits a read returned (NULL on refusal), and its status. */
static cdp_status read_traits(const cdp_actor *actor, const char *purpose, const char *ref,
                              json_t **traits, long *withheld) {
    char *text = NULL;
    cdp_status status = cdp_profile_get(db, actor, purpose, ref, &text);
    *traits = NULL;
    *withheld = -1;
    if (status == CDP_OK) {
        json_t *root = json_loads(text, 0, NULL);
        cr_assert_not_null(root);
        *traits = json_incref(json_object_get(root, "traits"));
        *withheld = (long)json_integer_value(json_object_get(root, "withheld"));
        json_decref(root);
    }
    cdp_free(text);
    return status;
}

/* ---- focused rows ------------------------------------------------------------------------- */

Test(access, no_purpose_no_read_and_the_refusal_is_audited) {
    cdp_actor web = actor_of(CDP_ROLE_INGEST, "eu", "ing");
    ingest_plain(&web, "{\"userId\":\"np-1\",\"traits\":{\"email\":\"np@example.org\","
                       "\"address\":{\"country\":\"DE\"}}}");
    cdp_actor reader = actor_of(CDP_ROLE_PERSONALIZATION, "eu", "rd");
    json_t *traits;
    long withheld;
    cr_assert_eq(read_traits(&reader, NULL, "email:np@example.org", &traits, &withheld),
                 CDP_PURPOSE_REQUIRED);
    cr_assert_eq(read_traits(&reader, "", "email:np@example.org", &traits, &withheld),
                 CDP_PURPOSE_REQUIRED);
    cr_assert_eq(read_traits(&reader, "astrology", "email:np@example.org", &traits, &withheld),
                 CDP_FORBIDDEN);
    /* personalization keys may not state support (a DPO purpose). */
    cr_assert_eq(read_traits(&reader, "support", "email:np@example.org", &traits, &withheld),
                 CDP_FORBIDDEN);
    cdp_actor narrowed = reader;
    snprintf(narrowed.purposes, sizeof narrowed.purposes, "analytics");
    cr_assert_eq(read_traits(&narrowed, "marketing", "email:np@example.org", &traits, &withheld),
                 CDP_FORBIDDEN);
    cr_assert(strstr(cdp_errmsg(db), "this key may not state") != NULL, "%s", cdp_errmsg(db));
    char *metrics = NULL;
    cr_assert_eq(cdp_metrics_text(db, &metrics), CDP_OK);
    cr_assert(strstr(metrics, "cdp_access_denials_total{reason=\"purpose_required\"} 2") != NULL,
              "%s", metrics);
    cr_assert(strstr(metrics, "cdp_access_denials_total{reason=\"key_purpose\"} 1") != NULL);
    cdp_free(metrics);
}

Test(access, gdpr_needs_consent_and_sees_only_the_purposes_categories) {
    cdp_actor web = actor_of(CDP_ROLE_INGEST, "eu", "ing");
    ingest_plain(&web, "{\"userId\":\"g-1\",\"traits\":{\"email\":\"g1@example.org\","
                       "\"first_name\":\"Grete\",\"lifetime_value\":420,\"shoe_size\":43,"
                       "\"address\":{\"country\":\"DE\",\"city\":\"Berlin\"}}}");
    cdp_actor reader = actor_of(CDP_ROLE_PERSONALIZATION, "eu", "rd");
    json_t *traits;
    long withheld;
    cr_assert_eq(read_traits(&reader, "marketing", "email:g1@example.org", &traits, &withheld),
                 CDP_CONSENT_DENIED, "no consent recorded under GDPR");
    set_consent("g1@example.org", "marketing", "granted", "eu");
    set_consent("g1@example.org", "analytics", "granted", "eu");
    cr_assert_eq(read_traits(&reader, "marketing", "email:g1@example.org", &traits, &withheld),
                 CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_not_null(json_object_get(traits, "email"));
    cr_assert_not_null(json_object_get(traits, "lifetime_value"));
    cr_assert_null(json_object_get(traits, "shoe_size"), "unclassified is not for marketing");
    cr_assert_eq(withheld, 1);
    json_decref(traits);
    /* analytics may not see contact data or financial data */
    cr_assert_eq(read_traits(&reader, "analytics", "email:g1@example.org", &traits, &withheld),
                 CDP_OK);
    cr_assert_null(json_object_get(traits, "email"));
    cr_assert_null(json_object_get(traits, "lifetime_value"));
    cr_assert_not_null(json_object_get(traits, "address"));
    json_decref(traits);
    set_consent("g1@example.org", "marketing", "withdrawn", "eu");
    cr_assert_eq(read_traits(&reader, "marketing", "email:g1@example.org", &traits, &withheld),
                 CDP_CONSENT_DENIED);
    cr_assert(strstr(cdp_errmsg(db), "consent_withdrawn") != NULL, "%s", cdp_errmsg(db));
}

Test(access, restriction_serves_only_legal_obligation_and_the_dpo) {
    cdp_actor web = actor_of(CDP_ROLE_INGEST, "us", "ing");
    ingest_plain(&web, "{\"userId\":\"r-1\",\"traits\":{\"email\":\"r1@example.com\","
                       "\"address\":{\"country\":\"US\",\"state\":\"WA\"}}}");
    cdp_actor reader = actor_of(CDP_ROLE_PERSONALIZATION, "us", "rd");
    cdp_actor dpo = actor_of(CDP_ROLE_DPO, "us", "dpo");
    json_t *traits;
    long withheld;
    cr_assert_eq(read_traits(&reader, "personalization", "email:r1@example.com", &traits,
                             &withheld),
                 CDP_OK, "opt-out regime: allowed without a recorded choice: %s", cdp_errmsg(db));
    json_decref(traits);
    char *json = NULL;
    cr_assert_eq(cdp_restrict(db, &reader, "email:r1@example.com", 1, &json), CDP_FORBIDDEN);
    cr_assert_eq(cdp_restrict(db, &dpo, "email:r1@example.com", 1, &json), CDP_OK, "%s",
                 cdp_errmsg(db));
    cr_assert(strstr(json, "\"changed\":true") != NULL, "%s", json);
    cdp_free(json);
    cr_assert_eq(read_traits(&reader, "personalization", "email:r1@example.com", &traits,
                             &withheld),
                 CDP_RESTRICTED);
    cr_assert_eq(read_traits(&dpo, "legal_obligation", "email:r1@example.com", &traits,
                             &withheld),
                 CDP_OK);
    cr_assert_not_null(json_object_get(traits, "email"));
    json_decref(traits);
    cr_assert_eq(read_traits(&dpo, "support", "email:r1@example.com", &traits, &withheld), CDP_OK,
                 "the DPO's own access");
    json_decref(traits);
    cr_assert_eq(cdp_restrict(db, &dpo, "email:r1@example.com", 0, &json), CDP_OK);
    cdp_free(json);
    cr_assert_eq(read_traits(&reader, "personalization", "email:r1@example.com", &traits,
                             &withheld),
                 CDP_OK);
    json_decref(traits);
}

typedef struct decisions {
    size_t denied_no_transfer, allowed_support;
} decisions;

static cdp_status collect_decisions(void *context, const cdp_audit_record *record) {
    decisions *seen = context;
    if (record->decision == CDP_AUDIT_DENY && record->reason != NULL &&
        strcmp(record->reason, "no_transfer_rule") == 0)
        seen->denied_no_transfer++;
    if (record->decision != CDP_AUDIT_DENY && record->purpose != NULL &&
        strcmp(record->purpose, "support") == 0)
        seen->allowed_support++;
    return CDP_OK;
}

Test(access, a_cross_region_read_without_a_transfer_rule_is_refused_and_audited) {
    cdp_actor web = actor_of(CDP_ROLE_INGEST, "eu", "ing");
    ingest_plain(&web, "{\"userId\":\"x-1\",\"traits\":{\"email\":\"x1@example.org\","
                       "\"address\":{\"country\":\"FR\"}}}");
    set_consent("x1@example.org", "marketing", "granted", "eu");
    cdp_actor us_reader = actor_of(CDP_ROLE_PERSONALIZATION, "us", "us-rd");
    json_t *traits;
    long withheld;
    cr_assert_eq(read_traits(&us_reader, "marketing", "email:x1@example.org", &traits,
                             &withheld),
                 CDP_RESIDENCY_DENIED);
    cr_assert(strstr(cdp_errmsg(db), "no_transfer_rule") != NULL, "%s", cdp_errmsg(db));
    /* allowed for a purpose a transfer rule lists (eu -> us: support, by the DPO) */
    cdp_actor us_dpo = actor_of(CDP_ROLE_DPO, "us", "us-dpo");
    char *text = NULL;
    cr_assert_eq(cdp_profile_get(db, &us_dpo, "support", "email:x1@example.org", &text), CDP_OK,
                 "%s", cdp_errmsg(db));
    const char *start = strstr(text, "\"profile_id\":\"") + 14;
    uint8_t profile_id[16];
    cr_assert_eq(cdp_hex_decode(profile_id, 16, start, 32), 0);
    cdp_free(text);
    /* both outcomes are in the person's home log (eu), not the reader's */
    decisions seen = {0};
    cdp_err err = {0};
    cr_assert_eq(cdp_audit_list_person(cdp_handle_audit_log(db, "eu"), profile_id,
                                       collect_decisions, &seen, &err),
                 CDP_OK, "%s", err.message);
    cr_assert_eq(seen.denied_no_transfer, 1);
    cr_assert_eq(seen.allowed_support, 1);
    char *metrics = NULL;
    cr_assert_eq(cdp_metrics_text(db, &metrics), CDP_OK);
    cr_assert(strstr(metrics, "cdp_access_denials_total{reason=\"no_transfer_rule\"} 1") != NULL,
              "%s", metrics);
    cdp_free(metrics);
}

Test(access, china_data_never_leaves) {
    cdp_actor web = actor_of(CDP_ROLE_INGEST, "cn", "ing");
    ingest_plain(&web, "{\"userId\":\"cn-1\",\"traits\":{\"email\":\"li@example.cn\","
                       "\"address\":{\"country\":\"CN\"}}}");
    json_t *traits;
    long withheld;
    const char *elsewhere[] = {"eu", "us", "br", "in"};
    for (int i = 0; i < 4; i++) {
        cdp_actor dpo = actor_of(CDP_ROLE_DPO, elsewhere[i], "dpo");
        cr_assert_eq(read_traits(&dpo, "legal_obligation", "email:li@example.cn", &traits,
                                 &withheld),
                     CDP_RESIDENCY_DENIED, "from %s", elsewhere[i]);
        cr_assert(strstr(cdp_errmsg(db), "localised") != NULL, "%s", cdp_errmsg(db));
    }
    cdp_actor home = actor_of(CDP_ROLE_DPO, "cn", "dpo");
    cr_assert_eq(read_traits(&home, "legal_obligation", "email:li@example.cn", &traits,
                             &withheld),
                 CDP_OK, "%s", cdp_errmsg(db));
    json_decref(traits);
}

Test(access, sensitive_data_without_consent_is_not_stored_and_the_drop_is_reported) {
    cdp_actor web = actor_of(CDP_ROLE_INGEST, "eu", "ing");
    cdp_ingest_result result;
    const char *secret = "Type-AB-negative-7731";
    char message[512];
    snprintf(message, sizeof message,
             "{\"userId\":\"s-1\",\"traits\":{\"email\":\"s1@example.org\",\"health.blood_type\":"
             "\"%s\",\"address\":{\"country\":\"DE\"}}}",
             secret);
    ingest(&web, message, &result);
    cr_assert_eq(result.accepted, 1);
    cr_assert_eq(result.dropped, 1);
    cr_assert(strstr(result.dropped_json, "\"field\":\"traits.health.blood_type\"") != NULL, "%s",
              result.dropped_json);
    cr_assert(strstr(result.dropped_json, "sensitive_needs_consent") != NULL, "%s",
              result.dropped_json);
    cr_assert(strstr(result.dropped_json, secret) == NULL, "the report never holds the value");
    cdp_ingest_result_clear(&result);
    cdp_actor dpo = actor_of(CDP_ROLE_DPO, "eu", "dpo");
    json_t *traits;
    long withheld;
    cr_assert_eq(read_traits(&dpo, "legal_obligation", "email:s1@example.org", &traits,
                             &withheld),
                 CDP_OK);
    cr_assert_null(json_object_get(traits, "health.blood_type"), "not stored at all");
    json_decref(traits);
    /* With explicit consent for personalization, the same trait is stored and served to it. */
    set_consent("s1@example.org", "personalization", "granted", "eu");
    snprintf(message, sizeof message,
             "{\"userId\":\"s-1\",\"messageId\":\"s-again\",\"traits\":{\"email\":"
             "\"s1@example.org\",\"health.blood_type\":\"%s\"}}",
             secret);
    ingest(&web, message, &result);
    cr_assert_eq(result.accepted, 1, "not a duplicate");
    cr_assert_eq(result.dropped, 0, "%s", result.dropped_json ? result.dropped_json : "");
    cdp_ingest_result_clear(&result);
    cdp_actor reader = actor_of(CDP_ROLE_PERSONALIZATION, "eu", "rd");
    cr_assert_eq(read_traits(&reader, "personalization", "email:s1@example.org", &traits,
                             &withheld),
                 CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_not_null(json_object_get(traits, "health.blood_type"));
    json_decref(traits);
    /* the plaintext never reaches the disk unencrypted */
    cr_assert_eq(test_scan_tree(base, (const uint8_t *)secret, strlen(secret), NULL, 0), 0);
}

/* ---- the model ---------------------------------------------------------------------------- */

/* What the test knows of a person, independently of the store. */
typedef struct model_person {
    const char *email;
    const char *home;     /* region */
    const char *regime;   /* expected regime */
    cdp_consent_state consent[16];
    int restricted;
} model_person;

static const char *const model_purposes[] = {"personalization", "marketing", "analytics",
                                             "advertising", "support", "legal_obligation"};
#define MODEL_PURPOSES (sizeof model_purposes / sizeof model_purposes[0])

/* The traits every model person has, with the category the test expects for each. */
static const struct {
    const char *name;
    const char *category;
} model_traits[] = {{"email", "contact"},
                    {"lifetime_value", "financial"},
                    {"address", "location"},
                    {"shoe_size", "unclassified"},
                    {"gender", "demographic"}};
#define MODEL_TRAITS (sizeof model_traits / sizeof model_traits[0])

static int purpose_has_category(const cdp_policy *policy, const char *purpose,
                                const char *category) {
    const cdp_purpose_policy *p = cdp_policy_purpose(policy, purpose);
    for (size_t i = 0; i < p->category_count; i++)
        if (strcmp(p->categories[i], category) == 0 || strcmp(p->categories[i], "*") == 0)
            return 1;
    return 0;
}

static int purpose_rests_on_consent(const cdp_policy *policy, const char *purpose) {
    const cdp_purpose_policy *p = cdp_policy_purpose(policy, purpose);
    for (size_t i = 0; i < p->basis_count; i++)
        if (strcmp(p->bases[i], "consent") != 0)
            return 0;
    return 1;
}

/* The model's answer: the expected status, and which traits are visible. */
static cdp_status model_read(const cdp_policy *policy, const model_person *person, int dpo,
                             size_t purpose, const char *reader_region, int visible[]) {
    const char *name = model_purposes[purpose];
    int personalization_may = purpose < 4;
    if (!dpo && !personalization_may)
        return CDP_FORBIDDEN;
    if (person->restricted && !dpo && strcmp(name, "legal_obligation") != 0)
        return CDP_RESTRICTED;
    if (strcmp(person->home, reader_region) != 0 &&
        !cdp_policy_transfer_allowed(policy, person->home, reader_region, name, NULL))
        return CDP_RESIDENCY_DENIED;
    if (purpose_rests_on_consent(policy, name)) {
        cdp_consent_state state = person->consent[purpose];
        int opt_in = cdp_policy_regime_by_id(policy, person->regime)->model == CDP_MODEL_OPT_IN;
        if (state == CDP_CONSENT_STATE_DENIED || state == CDP_CONSENT_STATE_WITHDRAWN ||
            (opt_in && state != CDP_CONSENT_STATE_GRANTED))
            return CDP_CONSENT_DENIED;
    }
    for (size_t t = 0; t < MODEL_TRAITS; t++)
        visible[t] = purpose_has_category(policy, name, model_traits[t].category);
    return CDP_OK;
}

Test(access, random_consent_restriction_and_reads_match_the_model, .timeout = 120) {
    const cdp_policy *policy = cdp_handle_policy(db);
    model_person people[] = {
        {"m-eu@example.org", "eu", "gdpr", {0}, 0},
        {"m-ca@example.com", "us", "ccpa", {0}, 0},
        {"m-wa@example.com", "us", "us_default", {0}, 0},
        {"m-br@example.com.br", "br", "lgpd", {0}, 0},
    };
    const char *countries[] = {"DE", "US", "US", "BR"};
    const char *states[] = {"", "CA", "WA", ""};
    size_t people_count = sizeof people / sizeof people[0];
    for (size_t i = 0; i < people_count; i++) {
        cdp_actor web = actor_of(CDP_ROLE_INGEST, people[i].home, "ing");
        char message[512];
        snprintf(message, sizeof message,
                 "{\"userId\":\"model-%zu\",\"traits\":{\"email\":\"%s\",\"lifetime_value\":7,"
                 "\"shoe_size\":41,\"gender\":\"f\",\"address\":{\"country\":\"%s\"%s%s%s}}}",
                 i, people[i].email, countries[i], states[i][0] ? ",\"state\":\"" : "",
                 states[i], states[i][0] ? "\"" : "");
        ingest_plain(&web, message);
    }
    const char *regions[] = {"eu", "us", "br", "in"};
    const char *states_names[] = {"granted", "denied", "withdrawn"};
    unsigned seed = 20261123u;
    size_t reads = 0, allowed = 0;
    for (int step = 0; step < 400; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned roll = (seed >> 16) % 10;
        model_person *person = &people[(seed >> 8) % people_count];
        seed = seed * 1103515245u + 12345u;
        if (roll < 3) { /* a consent change */
            size_t purpose = (seed >> 16) % 4;
            unsigned state = (seed >> 8) % 3;
            set_consent(person->email, model_purposes[purpose], states_names[state],
                        person->home);
            person->consent[purpose] = state == 0   ? CDP_CONSENT_STATE_GRANTED
                                       : state == 1 ? CDP_CONSENT_STATE_DENIED
                                                    : CDP_CONSENT_STATE_WITHDRAWN;
        } else if (roll < 4) { /* restriction set or lifted */
            cdp_actor dpo = actor_of(CDP_ROLE_DPO, person->home, "dpo");
            char ref[128], *json = NULL;
            snprintf(ref, sizeof ref, "email:%s", person->email);
            int restrict_now = (seed >> 16) % 2;
            cr_assert_eq(cdp_restrict(db, &dpo, ref, restrict_now, &json), CDP_OK);
            cdp_free(json);
            person->restricted = restrict_now;
        } else { /* a read */
            size_t purpose = (seed >> 16) % MODEL_PURPOSES;
            int dpo = (seed >> 10) % 2;
            const char *region =
                (seed >> 4) % 3 == 0 ? regions[(seed >> 12) % 4] : person->home;
            cdp_actor reader =
                actor_of(dpo ? CDP_ROLE_DPO : CDP_ROLE_PERSONALIZATION, region, "reader");
            char ref[128];
            snprintf(ref, sizeof ref, "email:%s", person->email);
            int visible[MODEL_TRAITS] = {0};
            cdp_status expected =
                model_read(policy, person, dpo, purpose, region, visible);
            json_t *traits;
            long withheld;
            cdp_status got = read_traits(&reader, model_purposes[purpose], ref, &traits,
                                         &withheld);
            reads++;
            cr_assert_eq(got, expected,
                         "step %d: %s reading %s (%s, home %s, restricted %d) for %s from %s: "
                         "got %s, model says %s (%s)",
                         step, dpo ? "dpo" : "personalization", person->email, person->regime,
                         person->home, person->restricted, model_purposes[purpose], region,
                         cdp_status_code(got), cdp_status_code(expected), cdp_errmsg(db));
            if (got != CDP_OK)
                continue;
            allowed++;
            long hidden = 0;
            for (size_t t = 0; t < MODEL_TRAITS; t++) {
                cr_assert_eq(json_object_get(traits, model_traits[t].name) != NULL, visible[t],
                             "step %d: trait %s for %s", step, model_traits[t].name,
                             model_purposes[purpose]);
                hidden += !visible[t];
            }
            cr_assert_eq(withheld, hidden, "step %d", step);
            json_decref(traits);
        }
    }
    cr_assert_gt(allowed, 20, "the sequence must exercise allowed reads (%zu of %zu)", allowed,
                 reads);
    cr_assert_gt(reads - allowed, 20, "and refusals");
}

Test(access, expired_events_are_unreadable_at_once_and_swept_later) {
    cdp_actor web = actor_of(CDP_ROLE_INGEST, "us", "ing");
    ingest_plain(&web, "{\"userId\":\"ret-1\",\"timestamp\":\"2024-01-05T10:00:00Z\","
                       "\"traits\":{\"email\":\"ret@example.com\"}}");
    const char *old_track = "{\"userId\":\"ret-1\",\"event\":\"Viewed\","
                            "\"timestamp\":\"2024-01-05T10:00:00Z\"}";
    const char *new_track = "{\"userId\":\"ret-1\",\"event\":\"Bought\"}";
    cdp_ingest_result result;
    cr_assert_eq(cdp_ingest(db, &web, "track", old_track, strlen(old_track), 0, &result), CDP_OK);
    cdp_ingest_result_clear(&result);
    cr_assert_eq(cdp_ingest(db, &web, "track", new_track, strlen(new_track), 0, &result), CDP_OK);
    cdp_ingest_result_clear(&result);
    cdp_actor dpo = actor_of(CDP_ROLE_DPO, "us", "dpo");
    char *json = NULL;
    cr_assert_eq(cdp_profile_events(db, &dpo, "legal_obligation", "email:ret@example.com", 50,
                                    NULL, &json),
                 CDP_OK, "%s", cdp_errmsg(db));
    cr_assert(strstr(json, "Bought") != NULL, "%s", json);
    cr_assert(strstr(json, "Viewed") == NULL, "a behavioural event of 2024 is past 13 months");
    cr_assert(strstr(json, "\"identify\"") != NULL, "contact data has no retention limit");
    cdp_free(json);
    size_t deleted = 0;
    cr_assert_eq(cdp_retention_sweep(db, (int64_t)time(NULL) * 1000, &deleted), CDP_OK, "%s",
                 cdp_errmsg(db));
    cr_assert_eq(deleted, 1);
    cr_assert_eq(cdp_retention_sweep(db, (int64_t)time(NULL) * 1000, &deleted), CDP_OK);
    cr_assert_eq(deleted, 0, "idempotent");
}
