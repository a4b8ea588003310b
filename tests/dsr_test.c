/* Data-subject requests through the public API: every type end to end, restart survival, due
 * dates (GDPR 30 days, CCPA 45), the overdue metric with a fake clock, cancel rules, duplicate
 * ids, every validation refusal with its field, rectification and objection. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp/cdp.h"
#include "support/testutil.h"

static char *base;
static char data_dir[1024];
static cdp_t *db;

static void open_db(int create) {
    cr_assert_eq(test_store_open(data_dir, create, &db), CDP_OK, "open: %s", cdp_errmsg(db));
}

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    base = test_tempdir("dsr");
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    open_db(1);
}

static void teardown(void) {
    cdp_close(db);
    db = NULL;
    test_rmtree(base);
    free(base);
}

TestSuite(dsr, .init = setup, .fini = teardown);

static cdp_actor actor_for(cdp_role role) {
    cdp_actor actor;
    memset(&actor, 0, sizeof actor);
    snprintf(actor.key_id, sizeof actor.key_id, "test");
    actor.role = role;
    snprintf(actor.region, sizeof actor.region, "eu");
    snprintf(actor.source, sizeof actor.source, "web");
    return actor;
}

static void send_ok(const char *type, const char *json) {
    cdp_actor actor = actor_for(CDP_ROLE_INGEST);
    cdp_ingest_result result;
    cdp_status status = cdp_ingest(db, &actor, type, json, strlen(json), 0, &result);
    cdp_ingest_result_clear(&result);
    cr_assert_eq(status, CDP_OK, "%s: %s", json, cdp_errmsg(db));
}

static void alice(void) {
    send_ok("identify", "{\"type\":\"identify\",\"userId\":\"u-alice\",\"messageId\":\"m1\","
                        "\"traits\":{\"email\":\"Alice@Example.com\",\"first_name\":\"Alicia\","
                        "\"last_name\":\"Smith\"},\"context\":{\"location\":{\"country\":\"DE\"}}}");
    send_ok("track", "{\"type\":\"track\",\"userId\":\"u-alice\",\"messageId\":\"m2\","
                     "\"event\":\"Order Completed\",\"traits\":{\"last_name\":\"Smith\"},"
                     "\"properties\":{\"total\":10}}");
}

static json_t *parse(const char *text) {
    json_t *root = json_loads(text, 0, NULL);
    cr_assert_not_null(root, "not JSON: %s", text);
    return root;
}

static char body[4096];

static const char *opengdpr(const char *id, const char *type, const char *identities,
                            const char *extra) {
    snprintf(body, sizeof body,
             "{\"subject_request_id\":\"%s\",\"subject_request_type\":\"%s\","
             "\"submitted_time\":\"2024-05-01T10:00:00Z\",\"subject_identities\":%s,"
             "\"api_version\":\"0.1\"%s}",
             id, type, identities, extra ? extra : "");
    return body;
}

#define ALICE_EMAIL                                                                               \
    "[{\"identity_type\":\"email\",\"identity_value\":\"alice@example.com\","                     \
    "\"identity_format\":\"raw\"}]"

static cdp_status submit(const char *text, char **json) {
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    *json = NULL;
    return cdp_dsr_submit(db, &dpo, text, strlen(text), json, NULL);
}

static void submit_ok(const char *text) {
    char *json = NULL;
    cr_assert_eq(submit(text, &json), CDP_OK, "%s: %s", text, cdp_errmsg(db));
    cdp_free(json);
}

static char *status_field(const char *id, const char *field) {
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    char *json = NULL;
    cr_assert_eq(cdp_dsr_status(db, &dpo, id, &json), CDP_OK, "status: %s", cdp_errmsg(db));
    json_t *root = parse(json);
    const char *value = json_string_value(json_object_get(root, field));
    char *copy = value ? strdup(value) : NULL;
    json_decref(root);
    cdp_free(json);
    return copy;
}

static void assert_state(const char *id, const char *state) {
    char *value = status_field(id, "request_status");
    cr_assert_str_eq(value, state);
    free(value);
}

/* The result as text (caller frees). */
static char *result_of(const char *id, const char *format, cdp_status *status) {
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    *status = cdp_dsr_result(db, &dpo, id, format, out);
    fclose(out);
    return text;
}

static int profile_exists(const char *ref) {
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    char *json = NULL;
    cdp_status status = cdp_profile_get(db, &dpo, "legal_obligation", ref, &json);
    cdp_free(json);
    return status == CDP_OK;
}

#define ID1 "7a5e3b6c-1f2d-4c3b-9a8e-0123456789ab"
#define ID2 "8b6f4c7d-2a3e-4d4c-8b9f-123456789abc"

Test(dsr, erasure_end_to_end_stores_the_signed_receipt) {
    alice();
    submit_ok(opengdpr(ID1, "erasure", ALICE_EMAIL, NULL));
    assert_state(ID1, "pending");
    cr_assert(profile_exists("email:alice@example.com"));
    cr_assert_eq(cdp_dsr_process(db, 0, 0), CDP_OK, "%s", cdp_errmsg(db));
    assert_state(ID1, "completed");
    cr_assert(!profile_exists("email:alice@example.com"));
    cdp_status status;
    char *receipt = result_of(ID1, NULL, &status);
    cr_assert_eq(status, CDP_OK, "%s", cdp_errmsg(db));
    char pubkey[65];
    cr_assert_eq(cdp_audit_pubkey(db, "eu", pubkey), CDP_OK);
    cr_assert_eq(cdp_receipt_verify(receipt, strlen(receipt), pubkey), CDP_OK, "%s: %s", receipt,
                 cdp_errmsg(NULL));
    cr_assert_null(strstr(receipt, "alice"), "the receipt holds no personal data");
    free(receipt);
}

Test(dsr, access_and_portability_results_are_generated_on_demand) {
    alice();
    submit_ok(opengdpr(ID1, "access", ALICE_EMAIL, NULL));
    cdp_status status;
    char *early = result_of(ID1, NULL, &status);
    cr_assert_eq(status, CDP_CONFLICT, "no result before completion");
    free(early);
    cr_assert_eq(cdp_dsr_process(db, 0, 0), CDP_OK, "%s", cdp_errmsg(db));
    char *text = result_of(ID1, NULL, &status);
    cr_assert_eq(status, CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_not_null(strstr(text, "alice@example.com"), "the export holds the person's data");
    free(text);
    text = result_of(ID1, "avro", &status);
    cr_assert_eq(status, CDP_BAD_REQUEST, "avro is for portability");
    cr_assert_not_null(strstr(cdp_errmsg(db), "format"));
    free(text);

    submit_ok(opengdpr(ID2, "portability", ALICE_EMAIL, NULL));
    cr_assert_eq(cdp_dsr_process(db, 0, 0), CDP_OK);
    text = result_of(ID2, "avro", &status);
    cr_assert_eq(status, CDP_OK, "%s", cdp_errmsg(db));
    cr_assert_eq(memcmp(text, "Obj\x01", 4), 0, "an Avro object container file");
    free(text);
}

Test(dsr, restriction_request_restricts_the_person) {
    alice();
    submit_ok(opengdpr(ID1, "restriction", ALICE_EMAIL, NULL));
    cr_assert_eq(cdp_dsr_process(db, 0, 0), CDP_OK, "%s", cdp_errmsg(db));
    assert_state(ID1, "completed");
    cdp_actor reader = actor_for(CDP_ROLE_PERSONALIZATION);
    char *json = NULL;
    cr_assert_eq(cdp_profile_get(db, &reader, "personalization", "email:alice@example.com",
                                 &json),
                 CDP_RESTRICTED);
    cdp_free(json);
}

Test(dsr, rectification_request_replaces_old_value_in_profile_and_events) {
    alice();
    submit_ok(opengdpr(ID1, "rectification", ALICE_EMAIL,
                       ",\"extensions\":{\"cdp\":{\"traits\":{\"last_name\":\"Jones\"}}}"));
    cr_assert_eq(cdp_dsr_process(db, 0, 0), CDP_OK, "%s", cdp_errmsg(db));
    assert_state(ID1, "completed");
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cr_assert_eq(cdp_subject_export(db, &dpo, "email:alice@example.com", "json", out), CDP_OK);
    fclose(out);
    cr_assert_not_null(strstr(text, "Jones"));
    cr_assert_null(strstr(text, "Smith"), "the old value is gone from profile and events");
    free(text);
}

Test(dsr, rectify_direct_call_and_its_refusals) {
    alice();
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    cdp_actor reader = actor_for(CDP_ROLE_PERSONALIZATION);
    char *json = NULL;
    cr_assert_eq(cdp_rectify(db, &reader, "email:alice@example.com", "{\"last_name\":\"X\"}",
                             &json),
                 CDP_FORBIDDEN);
    cr_assert_eq(cdp_rectify(db, &dpo, "email:alice@example.com", "{\"last_name\":null}", &json),
                 CDP_BAD_REQUEST);
    cr_assert_not_null(strstr(cdp_errmsg(db), "traits.last_name"));
    cr_assert_eq(cdp_rectify(db, &dpo, "email:alice@example.com", "[1]", &json), CDP_BAD_REQUEST);
    cr_assert_eq(cdp_rectify(db, &dpo, "email:alice@example.com", "{", &json), CDP_INVALID_JSON);
    cr_assert_eq(cdp_rectify(db, &dpo, "email:nobody@example.com", "{\"a\":1}", &json),
                 CDP_NOT_FOUND);
    cr_assert_eq(cdp_rectify(db, &dpo, "email:alice@example.com", "{\"last_name\":\"Jones\"}",
                             &json),
                 CDP_OK, "%s", cdp_errmsg(db));
    json_t *root = parse(json);
    cr_assert_geq(json_integer_value(json_object_get(root, "events_rewritten")), 1);
    json_decref(root);
    cdp_free(json);
    cr_assert_eq(cdp_profile_get(db, &dpo, "legal_obligation", "email:alice@example.com", &json),
                 CDP_OK);
    cr_assert_not_null(strstr(json, "Jones"));
    cr_assert_null(strstr(json, "Smith"));
    cdp_free(json);
}

Test(dsr, objection_withdraws_the_purpose_with_source_dsr) {
    alice();
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    char *json = NULL;
    cr_assert_eq(cdp_object(db, &dpo, "email:alice@example.com", "no_such_purpose", &json),
                 CDP_BAD_REQUEST);
    cr_assert_not_null(strstr(cdp_errmsg(db), "purpose"));
    submit_ok(opengdpr(ID1, "objection", ALICE_EMAIL,
                       ",\"extensions\":{\"cdp\":{\"purpose\":\"marketing\"}}"));
    cr_assert_eq(cdp_dsr_process(db, 0, 0), CDP_OK, "%s", cdp_errmsg(db));
    assert_state(ID1, "completed");
    cr_assert_eq(cdp_profile_consent(db, &dpo, "legal_obligation", "email:alice@example.com",
                                     &json),
                 CDP_OK, "%s", cdp_errmsg(db));
    json_t *root = parse(json);
    json_t *marketing = json_object_get(json_object_get(root, "purposes"), "marketing");
    cr_assert_str_eq(json_string_value(json_object_get(marketing, "state")), "withdrawn", "%s",
                     json);
    cr_assert_str_eq(json_string_value(json_object_get(marketing, "source")), "dsr");
    json_decref(root);
    cdp_free(json);
}

Test(dsr, requests_survive_a_restart_and_are_processed_after) {
    alice();
    submit_ok(opengdpr(ID1, "erasure", ALICE_EMAIL, NULL));
    cdp_close(db);
    db = NULL;
    open_db(0);
    assert_state(ID1, "pending");
    cr_assert_eq(cdp_maintain(db, 0), CDP_OK, "%s", cdp_errmsg(db));
    assert_state(ID1, "completed");
    cr_assert(!profile_exists("email:alice@example.com"));
}

Test(dsr, due_dates_gdpr_one_month_ccpa_45_days) {
    alice();
    submit_ok(opengdpr(ID1, "access", ALICE_EMAIL, NULL));
    char *due = status_field(ID1, "expected_completion_time");
    cr_assert_str_eq(due, "2024-05-31T10:00:00.000Z");
    free(due);
    snprintf(body, sizeof body,
             "{\"subject_request_id\":\"%s\",\"subject_request_type\":\"access\","
             "\"submitted_time\":\"2024-05-01T10:00:00Z\",\"regulation\":\"ccpa\","
             "\"subject_identities\":{\"email\":{\"value\":\"alice@example.com\","
             "\"format\":\"raw\"}}}",
             ID2);
    submit_ok(body);
    due = status_field(ID2, "expected_completion_time");
    cr_assert_str_eq(due, "2024-06-15T10:00:00.000Z");
    free(due);
    char *regulation = status_field(ID2, "regulation");
    cr_assert_str_eq(regulation, "ccpa");
    free(regulation);
}

Test(dsr, overdue_metric_counts_open_requests_past_due) {
    alice();
    submit_ok(opengdpr(ID1, "access", ALICE_EMAIL, NULL));
    int64_t submitted = 1714557600000LL; /* 2024-05-01T10:00:00Z */
    char *text = NULL;
    cr_assert_eq(cdp_dsr_metrics_text(db, submitted + 29LL * 86400000, &text), CDP_OK);
    cr_assert_not_null(strstr(text, "cdp_dsr_overdue 0\n"), "%s", text);
    cr_assert_not_null(strstr(text, "cdp_dsr_pending 1\n"), "%s", text);
    cr_assert_not_null(strstr(text, "cdp_dsr_requests_total{type=\"access\"} 1\n"), "%s", text);
    cdp_free(text);
    cr_assert_eq(cdp_dsr_metrics_text(db, submitted + 31LL * 86400000, &text), CDP_OK);
    cr_assert_not_null(strstr(text, "cdp_dsr_overdue 1\n"), "%s", text);
    cdp_free(text);
    cr_assert_eq(cdp_dsr_process(db, submitted + 31LL * 86400000, 0), CDP_OK);
    cr_assert_eq(cdp_dsr_metrics_text(db, submitted + 31LL * 86400000, &text), CDP_OK);
    cr_assert_not_null(strstr(text, "cdp_dsr_overdue 0\n"), "completed is not overdue: %s", text);
    cdp_free(text);
    cr_assert_eq(cdp_metrics_text(db, &text), CDP_OK);
    cr_assert_not_null(strstr(text, "cdp_dsr_requests_total{type=\"access\"} 1"));
    cdp_free(text);
}

Test(dsr, cancel_only_while_pending) {
    alice();
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    char *json = NULL;
    submit_ok(opengdpr(ID1, "erasure", ALICE_EMAIL, NULL));
    cr_assert_eq(cdp_dsr_cancel(db, &dpo, ID1, &json), CDP_OK, "%s", cdp_errmsg(db));
    cdp_free(json);
    assert_state(ID1, "cancelled");
    cr_assert_eq(cdp_dsr_process(db, 0, 0), CDP_OK);
    assert_state(ID1, "cancelled");
    cr_assert(profile_exists("email:alice@example.com"), "a cancelled erasure erases nothing");
    cr_assert_eq(cdp_dsr_cancel(db, &dpo, ID1, &json), CDP_CONFLICT);
    submit_ok(opengdpr(ID2, "access", ALICE_EMAIL, NULL));
    cr_assert_eq(cdp_dsr_process(db, 0, 0), CDP_OK);
    cr_assert_eq(cdp_dsr_cancel(db, &dpo, ID2, &json), CDP_CONFLICT);
    cr_assert_not_null(strstr(cdp_errmsg(db), "completed"));
    cr_assert_eq(cdp_dsr_cancel(db, &dpo, "00000000-0000-4000-8000-000000000000", &json),
                 CDP_NOT_FOUND);
}

Test(dsr, duplicate_id_conflicts_unless_identical) {
    alice();
    char *first = NULL, *second = NULL;
    cr_assert_eq(submit(opengdpr(ID1, "access", ALICE_EMAIL, NULL), &first), CDP_OK);
    cr_assert_eq(submit(opengdpr(ID1, "access", ALICE_EMAIL, NULL), &second), CDP_OK,
                 "an identical resubmission: %s", cdp_errmsg(db));
    cr_assert_str_eq(first, second, "the same 202 answer");
    cdp_free(first);
    cdp_free(second);
    cr_assert_eq(submit(opengdpr(ID1, "erasure", ALICE_EMAIL, NULL), &second), CDP_CONFLICT);
    cr_assert_not_null(strstr(cdp_errmsg(db), "subject_request_id"));
    assert_state(ID1, "pending");
    char *type = status_field(ID1, "subject_request_type");
    cr_assert_str_eq(type, "access", "the conflicting body changed nothing");
    free(type);
}

Test(dsr, unknown_person_completes_with_empty_result) {
    submit_ok(opengdpr(ID1, "erasure",
                       "[{\"identity_type\":\"email\",\"identity_value\":\"nobody@example.com\"}]",
                       NULL));
    assert_state(ID1, "completed");
    char *outcome = status_field(ID1, "outcome");
    cr_assert_str_eq(outcome, "not_found");
    free(outcome);
    cdp_status status;
    char *text = result_of(ID1, NULL, &status);
    cr_assert_eq(status, CDP_OK);
    cr_assert_not_null(strstr(text, "not_found"));
    cr_assert_null(strstr(text, "nobody"));
    free(text);
}

Test(dsr, only_the_dpo_role) {
    cdp_actor admin = actor_for(CDP_ROLE_ADMIN);
    char *json = NULL;
    const char *text = opengdpr(ID1, "access", ALICE_EMAIL, NULL);
    cr_assert_eq(cdp_dsr_submit(db, &admin, text, strlen(text), &json, NULL), CDP_FORBIDDEN);
    cr_assert_eq(cdp_dsr_status(db, &admin, ID1, &json), CDP_FORBIDDEN);
    cr_assert_eq(cdp_dsr_cancel(db, &admin, ID1, &json), CDP_FORBIDDEN);
    cr_assert_eq(cdp_dsr_list(db, &admin, &json), CDP_FORBIDDEN);
}

static void refused(const char *text, cdp_status expected, const char *field) {
    char *json = NULL;
    cdp_status status = submit(text, &json);
    cr_assert_eq(status, expected, "%s: got %s (%s)", text, cdp_status_code(status),
                 cdp_errmsg(db));
    cr_assert_not_null(strstr(cdp_errmsg(db), field), "%s: message %s names %s", text,
                       cdp_errmsg(db), field);
    cdp_free(json);
}

Test(dsr, every_validation_refusal_names_its_field_and_stores_nothing) {
    alice();
    refused("{", CDP_INVALID_JSON, "body");
    refused("[]", CDP_BAD_REQUEST, "body");
    refused(opengdpr("not-a-uuid", "access", ALICE_EMAIL, NULL), CDP_BAD_REQUEST,
            "subject_request_id");
    refused(opengdpr(ID1, "delete_everything", ALICE_EMAIL, NULL), CDP_BAD_REQUEST,
            "subject_request_type");
    refused("{\"subject_request_id\":\"" ID1 "\",\"subject_request_type\":\"access\","
            "\"submitted_time\":\"yesterday\",\"subject_identities\":" ALICE_EMAIL
            ",\"api_version\":\"0.1\"}",
            CDP_BAD_REQUEST, "submitted_time");
    refused("{\"subject_request_id\":\"" ID1 "\",\"subject_request_type\":\"access\","
            "\"submitted_time\":\"2024-05-01T10:00:00Z\",\"subject_identities\":" ALICE_EMAIL
            ",\"api_version\":\"0.2\"}",
            CDP_BAD_REQUEST, "api_version");
    refused("{\"subject_request_id\":\"" ID1 "\",\"subject_request_type\":\"access\","
            "\"submitted_time\":\"2024-05-01T10:00:00Z\",\"subject_identities\":" ALICE_EMAIL
            ",\"regulation\":\"lgpd\"}",
            CDP_BAD_REQUEST, "regulation");
    refused(opengdpr(ID1, "access", "[]", NULL), CDP_BAD_REQUEST, "subject_identities");
    refused(opengdpr(ID1, "access", "\"alice\"", NULL), CDP_BAD_REQUEST, "subject_identities");
    refused(opengdpr(ID1, "access",
                     "[{\"identity_type\":\"shoe_size\",\"identity_value\":\"42\"}]", NULL),
            CDP_BAD_REQUEST, "subject_identities[0].identity_type");
    refused(opengdpr(ID1, "access", "[{\"identity_type\":\"email\"}]", NULL), CDP_BAD_REQUEST,
            "subject_identities[0].identity_value");
    refused(opengdpr(ID1, "access",
                     "[{\"identity_type\":\"email\",\"identity_value\":\"a@b.c\","
                     "\"identity_format\":\"md5\"}]",
                     NULL),
            CDP_BAD_REQUEST, "identity_format");
    refused(opengdpr(ID1, "access",
                     "[{\"identity_type\":\"email\",\"identity_value\":\"abc\","
                     "\"identity_format\":\"sha256\"}]",
                     NULL),
            CDP_BAD_REQUEST, "64 hexadecimal");
    refused(opengdpr(ID1, "access",
                     "[{\"identity_type\":\"email\",\"identity_value\":\"no-at-sign\"}]", NULL),
            CDP_INVALID_IDENTIFIER, "subject_identities.email");
    refused(opengdpr(ID1, "rectification", ALICE_EMAIL, NULL), CDP_BAD_REQUEST,
            "extensions.cdp.traits");
    refused(opengdpr(ID1, "objection", ALICE_EMAIL,
                     ",\"extensions\":{\"cdp\":{\"purpose\":\"nonsense\"}}"),
            CDP_BAD_REQUEST, "extensions.cdp.purpose");
    send_ok("identify", "{\"type\":\"identify\",\"userId\":\"u-bob\",\"messageId\":\"b1\","
                        "\"traits\":{\"email\":\"bob@example.com\"}}");
    refused(opengdpr(ID1, "access",
                     "[{\"identity_type\":\"email\",\"identity_value\":\"alice@example.com\"},"
                     "{\"identity_type\":\"email\",\"identity_value\":\"bob@example.com\"}]",
                     NULL),
            CDP_BAD_REQUEST, "different people");
    cdp_actor dpo = actor_for(CDP_ROLE_DPO);
    char *json = NULL;
    cr_assert_eq(cdp_dsr_list(db, &dpo, &json), CDP_OK);
    cr_assert_str_eq(json, "{\"requests\":[]}", "nothing was stored");
    cdp_free(json);
}

Test(dsr, opendsr_v3_body_and_controller_customer_id) {
    alice();
    snprintf(body, sizeof body,
             "{\"subject_request_id\":\"%s\",\"subject_request_type\":\"deletion\","
             "\"submitted_time\":\"2024-05-01T10:00:00Z\",\"regulation\":\"gdpr\","
             "\"subject_identities\":{\"controller_customer_id\":\"u-alice\"}}",
             ID1);
    submit_ok(body);
    char *type = status_field(ID1, "subject_request_type");
    cr_assert_str_eq(type, "erasure");
    free(type);
    char *profile = status_field(ID1, "profile_id");
    cr_assert_not_null(profile, "resolved through user_id");
    free(profile);
}

Test(dsr, discovery_lists_types_identities_and_formats) {
    char *json = NULL;
    cr_assert_eq(cdp_dsr_discovery(db, &json), CDP_OK);
    json_t *root = parse(json);
    cr_assert_str_eq(json_string_value(json_object_get(root, "api_version")), "0.1");
    cr_assert_eq(json_array_size(json_object_get(root, "supported_subject_request_types")), 6);
    cr_assert_not_null(strstr(json, "\"identity_format\":\"sha256\""));
    cr_assert(json_is_null(json_object_get(root, "processor_certificate")));
    json_decref(root);
    cdp_free(json);
}

/* sha256("alice@example.com"), the normalized e-mail alice() ingests. */
static void alice_sha256(char hex[65]) {
    FILE *pipe = popen("printf '%s' alice@example.com | sha256sum", "r");
    cr_assert_not_null(pipe);
    cr_assert_eq(fread(hex, 1, 64, pipe), 64);
    hex[64] = '\0';
    pclose(pipe);
}

static const char *by_sha256(const char *id, const char *type, const char *hex) {
    static char identities[512];
    snprintf(identities, sizeof identities,
             "[{\"identity_type\":\"email\",\"identity_value\":\"%s\","
             "\"identity_format\":\"sha256\"}]",
             hex);
    return opengdpr(id, type, identities, NULL);
}

Test(dsr, sha256_identity_finds_the_person_after_epoch_close_and_not_after_erasure) {
    alice();
    char hex[65], upper[65];
    alice_sha256(hex);
    submit_ok(by_sha256(ID1, "access", hex));
    char *profile = status_field(ID1, "profile_id");
    cr_assert_not_null(profile, "found by the sha256 of the e-mail");
    free(profile);
    /* The hash itself is never stored, in any case. */
    cdp_close(db);
    db = NULL;
    for (int i = 0; i < 64; i++)
        upper[i] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
    upper[64] = '\0';
    cr_assert_eq(test_scan_tree(data_dir, (const uint8_t *)hex, 64, NULL, 0), 0);
    cr_assert_eq(test_scan_tree(data_dir, (const uint8_t *)upper, 64, NULL, 0), 0);
    uint8_t raw[32];
    for (int i = 0; i < 32; i++) {
        unsigned byte;
        sscanf(hex + 2 * i, "%2x", &byte);
        raw[i] = (uint8_t)byte;
    }
    cr_assert_eq(test_scan_tree(data_dir, raw, sizeof raw, NULL, 0), 0, "nor its raw bytes");
    open_db(0);
    cr_assert_eq(cdp_close_epoch(db, "eu", NULL, NULL), CDP_OK, "%s", cdp_errmsg(db));
    submit_ok(by_sha256(ID2, "erasure", upper));
    profile = status_field(ID2, "profile_id");
    cr_assert_not_null(profile, "still found after the epoch closed (uppercase hex too)");
    free(profile);
    cr_assert_eq(cdp_dsr_process(db, 0, 0), CDP_OK, "%s", cdp_errmsg(db));
    assert_state(ID2, "completed");
    submit_ok(by_sha256("9c7a5d8e-3b4f-4e5d-9cae-23456789abcd", "access", hex));
    char *outcome = status_field("9c7a5d8e-3b4f-4e5d-9cae-23456789abcd", "outcome");
    cr_assert_str_eq(outcome, "not_found", "the sha256 entry went with the erasure");
    free(outcome);
}
