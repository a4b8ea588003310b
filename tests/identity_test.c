/* Identity resolution through the public API: normalization, merges and every refusal rule,
 * dedupe, batches, trait strategies, computed traits, order independence, and precision/recall
 * on a generated 1,000-person, 4-channel dataset with ground truth. */
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

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    base = test_tempdir("identity");
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    cdp_options options;
    cdp_options_default(&options);
    options.create = 1;
    char policies[1024];
    snprintf(policies, sizeof policies, "%s/policies",
             getenv("CDP_SOURCE_DIR") ? getenv("CDP_SOURCE_DIR") : ".");
    options.policy_dir = policies;
    options.block_cache_bytes = 8u << 20;
    cr_assert_eq(cdp_open(data_dir, &options, &db), CDP_OK, "%s", cdp_errmsg(db));
}

static void teardown(void) {
    cdp_close(db);
    test_rmtree(base);
    free(base);
}

static cdp_actor actor_for(cdp_role role, const char *region, const char *source) {
    cdp_actor actor;
    memset(&actor, 0, sizeof actor);
    snprintf(actor.key_id, sizeof actor.key_id, "test");
    actor.role = role;
    snprintf(actor.region, sizeof actor.region, "%s", region);
    snprintf(actor.source, sizeof actor.source, "%s", source ? source : "");
    return actor;
}

static cdp_status send(const char *source, const char *type, const char *json) {
    cdp_actor actor = actor_for(CDP_ROLE_INGEST, "eu", source);
    cdp_ingest_result result;
    cdp_status status = cdp_ingest(db, &actor, type, json, strlen(json), 0, &result);
    cdp_ingest_result_clear(&result);
    return status;
}

static void send_ok(const char *source, const char *type, const char *json) {
    cdp_status status = send(source, type, json);
    cr_assert_eq(status, CDP_OK, "%s: %s (%s)", json, cdp_errmsg(db), cdp_status_code(status));
}

/* The profile JSON for a reference; NULL when not found. Caller json_decref's. */
static json_t *profile(const char *ref) {
    cdp_actor reader = actor_for(CDP_ROLE_DPO, "eu", NULL); /* identity, not consent, is tested here */
    char *text = NULL;
    cdp_status status = cdp_profile_get(db, &reader, "legal_obligation", ref, &text);
    if (status == CDP_NOT_FOUND)
        return NULL;
    cr_assert_eq(status, CDP_OK, "%s: %s", ref, cdp_errmsg(db));
    json_t *out = json_loads(text, 0, NULL);
    cdp_free(text);
    return out;
}

static char *profile_id_of(const char *ref) {
    json_t *p = profile(ref);
    if (p == NULL)
        return NULL;
    char *id = strdup(json_string_value(json_object_get(p, "profile_id")));
    json_decref(p);
    return id;
}

static void assert_same_person(const char *a, const char *b) {
    char *x = profile_id_of(a), *y = profile_id_of(b);
    cr_assert(x != NULL && y != NULL, "%s or %s not found", a, b);
    cr_assert_str_eq(x, y, "%s and %s are different profiles", a, b);
    free(x);
    free(y);
}

static void assert_different_people(const char *a, const char *b) {
    char *x = profile_id_of(a), *y = profile_id_of(b);
    cr_assert(x != NULL && y != NULL, "%s or %s not found", a, b);
    cr_assert_str_neq(x, y, "%s and %s were merged", a, b);
    free(x);
    free(y);
}

TestSuite(identity, .init = setup, .fini = teardown);

Test(identity, identify_then_track_from_another_channel_builds_one_profile) {
    send_ok("web", "identify",
            "{\"userId\":\"u-1\",\"anonymousId\":\"a-1\",\"messageId\":\"m1\","
            "\"timestamp\":\"2026-11-01T10:00:00Z\",\"traits\":{\"email\":\"Kari@Example.NO\","
            "\"first_name\":\"Kari\"}}");
    send_ok("pos", "track",
            "{\"userId\":\"u-1\",\"event\":\"Order Completed\",\"messageId\":\"m2\","
            "\"timestamp\":\"2026-11-02T10:00:00Z\",\"properties\":{\"revenue\":120.5,"
            "\"currency\":\"nok\"}}");
    json_t *p = profile("email:kari@example.no");
    cr_assert_not_null(p);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "traits"),
                                                       "first_name")),
                     "Kari");
    json_t *channels = json_object_get(p, "channels");
    cr_assert_not_null(json_object_get(channels, "web"));
    cr_assert_not_null(json_object_get(channels, "pos"));
    json_t *orders = json_object_get(json_object_get(p, "computed"), "orders");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(orders, "NOK"), "count")), 1);
    cr_assert_float_eq(
        json_number_value(json_object_get(json_object_get(orders, "NOK"), "revenue")), 120.5,
        1e-9);
    cr_assert_str_eq(json_string_value(json_object_get(p, "region")), "eu");
    json_decref(p);
    assert_same_person("user_id:u-1", "anonymous_id:a-1");
}

Test(identity, email_is_found_in_any_case_and_spacing_and_never_by_raw_form) {
    send_ok("web", "identify",
            "{\"userId\":\"u-2\",\"traits\":{\"email\":\"  Ola.Nordmann@Example.COM \"}}");
    assert_same_person("email:ola.nordmann@example.com", "email:OLA.NORDMANN@EXAMPLE.com");
    assert_same_person("email:ola.nordmann@example.com", "user_id:u-2");
}

Test(identity, three_norwegian_phone_forms_are_one_number) {
    send_ok("call_center", "identify",
            "{\"userId\":\"u-3\",\"traits\":{\"phone\":\"+47 22 33 44 55\"}}");
    send_ok("pos", "identify",
            "{\"anonymousId\":\"pos-9\",\"context\":{\"location\":{\"country\":\"NO\"}},"
            "\"traits\":{\"phone\":\"22 33 44 55\"}}");
    send_ok("chat", "identify",
            "{\"anonymousId\":\"chat-9\",\"traits\":{\"phone\":\"0047 22334455\","
            "\"address\":{\"country\":\"NO\"}}}");
    assert_same_person("phone:+4722334455", "anonymous_id:pos-9");
    assert_same_person("phone:+4722334455", "anonymous_id:chat-9");
    assert_same_person("user_id:u-3", "anonymous_id:chat-9");
}

Test(identity, an_event_linking_two_profiles_merges_them_with_everything) {
    send_ok("web", "identify", "{\"anonymousId\":\"a-10\",\"traits\":{\"email\":\"x@shop.example\"}}");
    send_ok("ios", "identify", "{\"userId\":\"u-10\",\"traits\":{\"phone\":\"+4791234567\"}}");
    assert_different_people("anonymous_id:a-10", "user_id:u-10");
    send_ok("web", "track",
            "{\"userId\":\"u-10\",\"event\":\"Signed In\",\"context\":{\"traits\":"
            "{\"email\":\"x@shop.example\"}}}");
    assert_same_person("anonymous_id:a-10", "user_id:u-10");
    assert_same_person("phone:+4791234567", "email:x@shop.example");
    json_t *p = profile("user_id:u-10");
    cr_assert_eq(json_integer_value(json_object_get(p, "merged_profiles")), 1);
    json_decref(p);
    /* The merged person's timeline holds the events of both former profiles. */
    cdp_actor reader = actor_for(CDP_ROLE_DPO, "eu", NULL); /* identity, not consent, is tested here */
    char *text = NULL;
    cr_assert_eq(cdp_profile_events(db, &reader, "legal_obligation", "user_id:u-10", 10, NULL,
                                    &text),
                 CDP_OK, "%s", cdp_errmsg(db));
    json_t *events = json_loads(text, 0, NULL);
    cr_assert_eq(json_array_size(json_object_get(events, "events")), 3, "%s", text);
    json_decref(events);
    cdp_free(text);
}

Test(identity, login_id_guard_never_merges_two_user_ids) {
    send_ok("web", "identify",
            "{\"userId\":\"parent\",\"traits\":{\"email\":\"family@home.example\"}}");
    /* Another logged-in person with the family e-mail: a different person, not a merge. */
    send_ok("web", "identify",
            "{\"userId\":\"teenager\",\"traits\":{\"email\":\"family@home.example\"}}");
    assert_different_people("user_id:parent", "user_id:teenager");
    assert_same_person("email:family@home.example", "user_id:parent");
    /* And two profiles that each hold a user id are not merged through anonymous ids either. */
    send_ok("web", "identify", "{\"userId\":\"p1\",\"anonymousId\":\"x1\"}");
    send_ok("web", "identify", "{\"userId\":\"p2\",\"anonymousId\":\"y1\"}");
    send_ok("web", "track", "{\"anonymousId\":\"x1\",\"event\":\"e\",\"context\":{\"device\":"
                            "{\"id\":\"tablet-1\"}}}");
    send_ok("web", "track", "{\"anonymousId\":\"y1\",\"event\":\"e\",\"context\":{\"device\":"
                            "{\"id\":\"tablet-1\"}}}");
    assert_different_people("user_id:p1", "user_id:p2");
}

Test(identity, per_type_limit_keeps_a_shared_tablet_from_gluing_a_household) {
    /* device_id: at most 5 new per 7 days and 10 overall (policies/identity.json). */
    char json[256];
    for (int i = 0; i < 7; i++) {
        snprintf(json, sizeof json,
                 "{\"userId\":\"collector\",\"event\":\"e\",\"timestamp\":"
                 "\"2026-11-0%dT10:00:00Z\",\"context\":{\"device\":{\"id\":\"dev-%d\"}}}",
                 i + 1, i);
        send_ok("ios", "track", json);
    }
    char *text = NULL;
    cdp_actor reader = actor_for(CDP_ROLE_DPO, "eu", NULL); /* identity, not consent, is tested here */
    cr_assert_eq(cdp_profile_identities(db, &reader, "support", "user_id:collector", &text),
                 CDP_OK);
    json_t *root = json_loads(text, 0, NULL);
    json_t *ids = json_object_get(root, "identities");
    size_t devices = 0;
    for (size_t i = 0; i < json_array_size(ids); i++)
        devices += strcmp(json_string_value(json_object_get(json_array_get(ids, i), "type")),
                          "device_id") == 0;
    cr_assert_eq(devices, 5, "window limit: %zu devices in 7 days (%s)", devices, text);
    json_decref(root);
    cdp_free(text);
}

Test(identity, blocked_placeholder_values_never_link_people) {
    send_ok("web", "identify",
            "{\"userId\":\"b1\",\"traits\":{\"email\":\"test@test.com\"}}");
    send_ok("web", "identify",
            "{\"userId\":\"b2\",\"traits\":{\"email\":\"TEST@test.com\"}}");
    assert_different_people("user_id:b1", "user_id:b2");
    cr_assert_null(profile("email:test@test.com"));
    /* A message whose only identifiers are placeholders is refused. */
    cr_assert_eq(send("web", "track", "{\"userId\":\"undefined\",\"event\":\"e\"}"),
                 CDP_INVALID_IDENTIFIER);
    cr_assert(strstr(cdp_errmsg(db), "blocked") != NULL, "%s", cdp_errmsg(db));
}

Test(identity, same_message_id_twice_is_stored_once) {
    const char *message = "{\"userId\":\"d1\",\"event\":\"Viewed\",\"messageId\":\"dup-1\"}";
    cdp_actor actor = actor_for(CDP_ROLE_INGEST, "eu", "web");
    cdp_ingest_result result;
    cr_assert_eq(cdp_ingest(db, &actor, "track", message, strlen(message), 0, &result), CDP_OK);
    cr_assert_eq(result.accepted, 1);
    cdp_ingest_result_clear(&result);
    cr_assert_eq(cdp_ingest(db, &actor, "track", message, strlen(message), 0, &result), CDP_OK);
    cr_assert_eq(result.duplicates, 1);
    cr_assert_eq(result.accepted, 0);
    cdp_ingest_result_clear(&result);
    json_t *p = profile("user_id:d1");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(p, "channels"),
                                                                    "web"),
                                                    "events")),
                 1);
    json_decref(p);
}

Test(identity, batch_stores_the_good_messages_and_reports_each_bad_one) {
    const char *body =
        "{\"batch\":[{\"type\":\"identify\",\"userId\":\"ok-1\"},"
        "{\"type\":\"track\",\"userId\":\"ok-1\"},"
        "{\"type\":\"identify\",\"userId\":\"ok-2\",\"traits\":{\"email\":\"not-an-email\"}},"
        "{\"type\":\"track\",\"userId\":\"ok-2\",\"event\":\"Clicked\"}]}";
    cdp_actor actor = actor_for(CDP_ROLE_INGEST, "eu", "web");
    cdp_ingest_result result;
    cr_assert_eq(cdp_ingest(db, &actor, "batch", body, strlen(body), 0, &result), CDP_OK,
                 "%s", cdp_errmsg(db));
    cr_assert_eq(result.accepted, 2);
    cr_assert_eq(result.rejected, 2);
    json_t *errors = json_loads(result.errors_json, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(errors, 0), "index")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "code")),
                     "bad_request");
    cr_assert(strstr(json_string_value(json_object_get(json_array_get(errors, 0), "message")),
                     "event") != NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 1), "code")),
                     "invalid_identifier");
    cr_assert(strstr(json_string_value(json_object_get(json_array_get(errors, 1), "message")),
                     "traits.email") != NULL, "%s", result.errors_json);
    json_decref(errors);
    cdp_ingest_result_clear(&result);
    /* Nothing of the bad e-mail message was stored: ok-2 exists only through message 4. */
    json_t *p = profile("user_id:ok-2");
    cr_assert_null(json_object_get(json_object_get(p, "traits"), "email"));
    json_decref(p);
}

Test(identity, refusals_change_nothing_and_name_the_field) {
    cr_assert_eq(send("web", "track", "{\"userId\":\"r1\"}"), CDP_BAD_REQUEST);
    cr_assert(strstr(cdp_errmsg(db), "event") != NULL);
    cr_assert_eq(send("web", "identify", "{\"userId\":\"r1\""), CDP_INVALID_JSON);
    cr_assert_eq(send("web", "identify", "{\"traits\":{}}"), CDP_BAD_REQUEST);
    cr_assert_eq(send("web", "identify", "{\"userId\":\"r1\",\"traits\":{\"$x\":1}}"),
                 CDP_BAD_REQUEST);
    cr_assert_eq(send("web", "identify",
                      "{\"userId\":\"r1\",\"traits\":{\"phone\":\"call me maybe\"}}"),
                 CDP_INVALID_IDENTIFIER);
    cr_assert_null(profile("user_id:r1"), "a refused message stored something");
    cdp_actor reader = actor_for(CDP_ROLE_PERSONALIZATION, "eu", NULL);
    cdp_ingest_result result;
    cr_assert_eq(cdp_ingest(db, &reader, "track", "{}", 2, 0, &result), CDP_FORBIDDEN);
}

Test(identity, a_message_linking_too_many_profiles_is_quarantined_not_merged) {
    char json[256];
    for (int i = 0; i < 6; i++) {
        snprintf(json, sizeof json, "{\"anonymousId\":\"kiosk-visitor-%d\",\"traits\":"
                                    "{\"email\":\"v%d@example.org\"}}",
                 i, i);
        send_ok("pos", "identify", json);
    }
    /* One junk message naming six people's e-mails through external ids. */
    send_ok("pos", "identify",
            "{\"anonymousId\":\"kiosk\",\"context\":{\"externalIds\":["
            "{\"id\":\"v0@example.org\",\"type\":\"email\"},"
            "{\"id\":\"v1@example.org\",\"type\":\"email\"},"
            "{\"id\":\"v2@example.org\",\"type\":\"email\"},"
            "{\"id\":\"v3@example.org\",\"type\":\"email\"},"
            "{\"id\":\"v4@example.org\",\"type\":\"email\"},"
            "{\"id\":\"v5@example.org\",\"type\":\"email\"}]}}");
    assert_different_people("email:v0@example.org", "email:v5@example.org");
    assert_different_people("email:v1@example.org", "email:v2@example.org");
}

Test(identity, newest_trait_wins_whatever_the_arrival_order) {
    send_ok("web", "identify", "{\"userId\":\"t1\",\"timestamp\":\"2026-11-05T00:00:00Z\","
                               "\"traits\":{\"plan\":\"gold\"}}");
    send_ok("web", "identify", "{\"userId\":\"t1\",\"timestamp\":\"2026-11-01T00:00:00Z\","
                               "\"traits\":{\"plan\":\"silver\"}}");
    send_ok("web", "identify", "{\"userId\":\"t2\",\"timestamp\":\"2026-11-01T00:00:00Z\","
                               "\"traits\":{\"plan\":\"silver\"}}");
    send_ok("web", "identify", "{\"userId\":\"t2\",\"timestamp\":\"2026-11-05T00:00:00Z\","
                               "\"traits\":{\"plan\":\"gold\"}}");
    for (int i = 1; i <= 2; i++) {
        char ref[32];
        snprintf(ref, sizeof ref, "user_id:t%d", i);
        json_t *p = profile(ref);
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "traits"), "plan")),
                         "gold", "%s", ref);
        json_decref(p);
    }
}

/* ---- generated dataset ------------------------------------------------------------------ */

#define PEOPLE 1000

typedef struct person_truth {
    char user_id[32], email[64], phone[24], anon[32], device[32], loyalty[32];
    int logged_in, has_phone;
} person_truth;

static void make_people(person_truth *people, unsigned seed) {
    srand(seed);
    for (int i = 0; i < PEOPLE; i++) {
        person_truth *p = &people[i];
        memset(p, 0, sizeof *p);
        p->logged_in = rand() % 10 < 7;
        p->has_phone = rand() % 10 < 7;
        snprintf(p->user_id, sizeof p->user_id, "user-%04d", i);
        snprintf(p->email, sizeof p->email, "person%04d@mail.example", i);
        snprintf(p->phone, sizeof p->phone, "+4791%06d", i * 7 + 100000);
        snprintf(p->anon, sizeof p->anon, "anon-%04d", i);
        /* 3% of households share a tablet with the next person. */
        snprintf(p->device, sizeof p->device, "device-%04d", (i % 33 == 1) ? i - 1 : i);
        snprintf(p->loyalty, sizeof p->loyalty, "L%06d", i);
    }
}

/* Each person's messages across web, ios, pos and call_center. */
typedef struct message_spec {
    char source[16], type[16], json[512];
} message_spec;

static size_t make_messages(const person_truth *people, message_spec *out) {
    size_t n = 0;
    for (int i = 0; i < PEOPLE; i++) {
        const person_truth *p = &people[i];
        message_spec *m;
        m = &out[n++];
        snprintf(m->source, sizeof m->source, "web");
        snprintf(m->type, sizeof m->type, "page");
        snprintf(m->json, sizeof m->json, "{\"anonymousId\":\"%s\",\"name\":\"Home\"}", p->anon);
        m = &out[n++];
        snprintf(m->source, sizeof m->source, "web");
        snprintf(m->type, sizeof m->type, "identify");
        if (p->logged_in)
            snprintf(m->json, sizeof m->json,
                     "{\"anonymousId\":\"%s\",\"userId\":\"%s\",\"traits\":{\"email\":\"%s\"}}",
                     p->anon, p->user_id, p->email);
        else
            snprintf(m->json, sizeof m->json,
                     "{\"anonymousId\":\"%s\",\"traits\":{\"email\":\"%s\"}}", p->anon, p->email);
        m = &out[n++];
        snprintf(m->source, sizeof m->source, "ios");
        snprintf(m->type, sizeof m->type, "track");
        if (p->logged_in)
            snprintf(m->json, sizeof m->json,
                     "{\"userId\":\"%s\",\"event\":\"App Opened\",\"context\":{\"device\":"
                     "{\"id\":\"%s\"}}}",
                     p->user_id, p->device);
        else
            snprintf(m->json, sizeof m->json,
                     "{\"anonymousId\":\"ios-%s\",\"event\":\"App Opened\",\"context\":{\"device\""
                     ":{\"id\":\"%s\"},\"traits\":{\"email\":\"%s\"}}}",
                     p->anon, p->device, p->email);
        m = &out[n++];
        snprintf(m->source, sizeof m->source, "pos");
        snprintf(m->type, sizeof m->type, "track");
        snprintf(m->json, sizeof m->json,
                 "{\"anonymousId\":\"pos-%s\",\"event\":\"Order Completed\",\"properties\":"
                 "{\"revenue\":10},\"context\":{\"externalIds\":[{\"id\":\"%s\",\"type\":"
                 "\"loyalty_id\"}],\"traits\":{\"email\":\"%s\"}}}",
                 p->anon, p->loyalty, p->email);
        if (p->has_phone) {
            m = &out[n++];
            snprintf(m->source, sizeof m->source, "call_center");
            snprintf(m->type, sizeof m->type, "identify");
            snprintf(m->json, sizeof m->json,
                     "{\"anonymousId\":\"cc-%s\",\"traits\":{\"phone\":\"%s\",\"email\":\"%s\"}}",
                     p->anon, p->phone, p->email);
        }
    }
    return n;
}

/* Which profile each person's identifiers ended in. */
static void predicted(const person_truth *people, char (*ids)[4][33]) {
    for (int i = 0; i < PEOPLE; i++) {
        char ref[96];
        const char *refs[4];
        char r0[96], r1[96], r2[96], r3[96];
        snprintf(r0, sizeof r0, "email:%s", people[i].email);
        snprintf(r1, sizeof r1, "anonymous_id:%s", people[i].anon);
        snprintf(r2, sizeof r2, "loyalty_id:%s", people[i].loyalty);
        snprintf(r3, sizeof r3, "anonymous_id:pos-%s", people[i].anon);
        refs[0] = r0, refs[1] = r1, refs[2] = r2, refs[3] = r3;
        (void)ref;
        for (int k = 0; k < 4; k++) {
            char *id = profile_id_of(refs[k]);
            snprintf(ids[i][k], 33, "%s", id ? id : "none");
            free(id);
        }
    }
}

static void shuffle(message_spec *messages, size_t n, unsigned seed) {
    srand(seed);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1);
        message_spec swap = messages[i];
        messages[i] = messages[j];
        messages[j] = swap;
    }
}

static void ingest_all(message_spec *messages, size_t n) {
    for (size_t i = 0; i < n; i++)
        send_ok(messages[i].source, messages[i].type, messages[i].json);
}

Test(identity, generated_people_across_four_channels_resolve_with_high_precision_and_recall,
     .timeout = 300) {
    person_truth *people = calloc(PEOPLE, sizeof *people);
    message_spec *messages = calloc(PEOPLE * 5, sizeof *messages);
    make_people(people, 7);
    size_t n = make_messages(people, messages);
    shuffle(messages, n, 11);
    ingest_all(messages, n);
    char (*ids)[4][33] = calloc(PEOPLE, sizeof *ids);
    predicted(people, ids);
    /* Pairwise over the identifiers: true pairs are same-person pairs. */
    unsigned long long true_pairs = 0, predicted_pairs = 0, both = 0;
    size_t total = PEOPLE * 4;
    for (size_t a = 0; a < total; a++)
        for (size_t b = a + 1; b < total; b++) {
            int same_truth = a / 4 == b / 4;
            int same_predicted = strcmp(ids[a / 4][a % 4], ids[b / 4][b % 4]) == 0 &&
                                 strcmp(ids[a / 4][a % 4], "none") != 0;
            true_pairs += same_truth;
            predicted_pairs += same_predicted;
            both += same_truth && same_predicted;
        }
    double precision = predicted_pairs ? (double)both / (double)predicted_pairs : 0;
    double recall = true_pairs ? (double)both / (double)true_pairs : 0;
    printf("identity resolution on %d people, %zu events, 4 channels: pairwise precision %.4f, "
           "recall %.4f\n",
           PEOPLE, n, precision, recall);
    cr_assert_geq(precision, 0.99, "precision %.4f", precision);
    cr_assert_geq(recall, 0.95, "recall %.4f", recall);
    free(ids);
    free(messages);
    free(people);
}

Test(identity, shuffled_replays_give_the_same_people, .timeout = 300) {
    person_truth *people = calloc(PEOPLE, sizeof *people);
    message_spec *messages = calloc(PEOPLE * 5, sizeof *messages);
    make_people(people, 3);
    size_t n = make_messages(people, messages);
    /* Use a fifth of the people to keep the test quick; replay the same events three ways. */
    size_t subset = n / 5;
    char (*first)[4][33] = calloc(PEOPLE, sizeof *first);
    char (*again)[4][33] = calloc(PEOPLE, sizeof *again);
    for (int round = 0; round < 3; round++) {
        if (round > 0) {
            cdp_close(db);
            test_rmtree(data_dir);
            cdp_options options;
            cdp_options_default(&options);
            options.create = 1;
            char policies[1024];
            snprintf(policies, sizeof policies, "%s/policies",
                     getenv("CDP_SOURCE_DIR") ? getenv("CDP_SOURCE_DIR") : ".");
            options.policy_dir = policies;
            options.block_cache_bytes = 8u << 20;
            cr_assert_eq(cdp_open(data_dir, &options, &db), CDP_OK, "%s", cdp_errmsg(db));
        }
        message_spec *copy = calloc(subset, sizeof *copy);
        memcpy(copy, messages, subset * sizeof *copy);
        if (round > 0)
            shuffle(copy, subset, 100u + (unsigned)round);
        ingest_all(copy, subset);
        free(copy);
        predicted(people, round == 0 ? first : again);
        if (round == 0)
            continue;
        /* Same partition: two identifiers share a profile in one replay iff in the other. */
        size_t total = PEOPLE * 4;
        for (size_t a = 0; a < total; a += 3)
            for (size_t b = a + 1; b < total && b < a + 40; b++) {
                int x = strcmp(first[a / 4][a % 4], first[b / 4][b % 4]) == 0;
                int y = strcmp(again[a / 4][a % 4], again[b / 4][b % 4]) == 0;
                cr_assert_eq(x, y, "replay %d differs for identifiers %zu and %zu", round, a, b);
            }
    }
    free(first);
    free(again);
    free(messages);
    free(people);
}

/* ---- unmerge ------------------------------------------------------------------------------ */

static cdp_status unmerge(cdp_role role, const char *ref, const char *type, const char *value,
                          char **split) {
    cdp_actor dpo = actor_for(role, "eu", NULL);
    char *text = NULL;
    cdp_status status = cdp_unmerge(db, &dpo, ref, type, value, &text);
    if (status == CDP_OK && split != NULL) {
        json_t *out = json_loads(text, 0, NULL);
        *split = strdup(json_string_value(json_object_get(out, "split_profile_id")));
        json_decref(out);
    }
    cdp_free(text);
    return status;
}

Test(identity, unmerge_splits_the_identifier_with_its_events_and_traits) {
    send_ok("web", "identify", "{\"anonymousId\":\"shared-pc\",\"timestamp\":"
                               "\"2026-11-01T00:00:00Z\",\"traits\":{\"email\":\"anna@example.se\","
                               "\"first_name\":\"Anna\"}}");
    send_ok("call_center", "identify",
            "{\"userId\":\"erik\",\"timestamp\":\"2026-11-02T00:00:00Z\",\"traits\":{"
            "\"phone\":\"+46701234567\",\"city\":\"Lund\"}}");
    /* A wrong link: Erik's call centre event carrying Anna's e-mail merges them. */
    send_ok("call_center", "track",
            "{\"userId\":\"erik\",\"event\":\"Called\",\"timestamp\":\"2026-11-03T00:00:00Z\","
            "\"context\":{\"traits\":{\"email\":\"anna@example.se\"}}}");
    assert_same_person("user_id:erik", "anonymous_id:shared-pc");
    char *split = NULL;
    cr_assert_eq(unmerge(CDP_ROLE_DPO, "user_id:erik", "anonymous_id", "shared-pc", &split),
                 CDP_OK, "%s", cdp_errmsg(db));
    char *anna = profile_id_of("anonymous_id:shared-pc");
    cr_assert_str_eq(anna, split);
    assert_different_people("user_id:erik", "anonymous_id:shared-pc");
    /* The split side has Anna's trait and her page of the timeline; Erik keeps his. */
    json_t *p = profile("anonymous_id:shared-pc");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "traits"),
                                                       "first_name")),
                     "Anna");
    cr_assert_null(json_object_get(json_object_get(p, "traits"), "city"));
    json_decref(p);
    p = profile("user_id:erik");
    cr_assert_null(json_object_get(json_object_get(p, "traits"), "first_name"));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "traits"), "city")),
                     "Lund");
    json_decref(p);
    /* The same two are not glued back together by the next event that links them. */
    send_ok("web", "identify",
            "{\"userId\":\"erik\",\"anonymousId\":\"shared-pc\",\"traits\":{}}");
    assert_different_people("user_id:erik", "anonymous_id:shared-pc");
    free(anna);
    free(split);
}

Test(identity, unmerge_refusals_change_nothing) {
    send_ok("web", "identify", "{\"userId\":\"solo\",\"anonymousId\":\"solo-a\"}");
    cr_assert_eq(unmerge(CDP_ROLE_PERSONALIZATION, "user_id:solo", "anonymous_id", "solo-a",
                         NULL),
                 CDP_FORBIDDEN);
    cr_assert_eq(unmerge(CDP_ROLE_DPO, "user_id:solo", "email", "nobody@example.com", NULL),
                 CDP_NOT_FOUND);
    cr_assert_eq(unmerge(CDP_ROLE_DPO, "user_id:nobody", "anonymous_id", "solo-a", NULL),
                 CDP_NOT_FOUND);
    cr_assert_eq(unmerge(CDP_ROLE_DPO, "nonsense", "anonymous_id", "solo-a", NULL),
                 CDP_INVALID_IDENTIFIER);
    cr_assert_eq(unmerge(CDP_ROLE_DPO, "user_id:solo", "", "", NULL), CDP_BAD_REQUEST);
    send_ok("web", "identify", "{\"userId\":\"alone\"}");
    cr_assert_eq(unmerge(CDP_ROLE_DPO, "user_id:alone", "user_id", "alone", NULL), CDP_CONFLICT);
    assert_same_person("user_id:solo", "anonymous_id:solo-a");
}

Test(identity, profile_reads_need_a_purpose_and_a_reader_role) {
    send_ok("web", "identify", "{\"userId\":\"p-1\"}");
    cdp_actor reader = actor_for(CDP_ROLE_DPO, "eu", NULL); /* identity, not consent, is tested here */
    char *text = NULL;
    cr_assert_eq(cdp_profile_get(db, &reader, NULL, "user_id:p-1", &text), CDP_PURPOSE_REQUIRED);
    cr_assert_eq(cdp_profile_get(db, &reader, "", "user_id:p-1", &text), CDP_PURPOSE_REQUIRED);
    cdp_actor ingest = actor_for(CDP_ROLE_INGEST, "eu", "web");
    cr_assert_eq(cdp_profile_get(db, &ingest, "marketing", "user_id:p-1", &text), CDP_FORBIDDEN);
    snprintf(reader.purposes, sizeof reader.purposes, "personalization,support");
    cr_assert_eq(cdp_profile_get(db, &reader, "advertising", "user_id:p-1", &text),
                 CDP_FORBIDDEN);
    cr_assert_eq(cdp_profile_get(db, &reader, "support", "user_id:p-1", &text), CDP_OK);
    cdp_free(text);
    cr_assert_eq(cdp_profile_get(db, &reader, "support", "email:not an email", &text),
                 CDP_INVALID_IDENTIFIER);
    cr_assert_eq(cdp_profile_get(db, &reader, "support", "profile:xyz", &text),
                 CDP_INVALID_IDENTIFIER);
    cr_assert_eq(cdp_profile_get(db, &reader, "support", "user_id:nobody", &text), CDP_NOT_FOUND);
}

Test(identity, events_page_newest_first_with_a_cursor) {
    char json[256];
    for (int i = 0; i < 7; i++) {
        snprintf(json, sizeof json, "{\"userId\":\"pager\",\"event\":\"E%d\",\"timestamp\":"
                                    "\"2026-11-0%dT00:00:00Z\"}",
                 i, i + 1);
        send_ok("web", "track", json);
    }
    cdp_actor reader = actor_for(CDP_ROLE_DPO, "eu", NULL); /* identity, not consent, is tested here */
    char *text = NULL, cursor[128] = "";
    const char *expected[] = {"E6", "E5", "E4", "E3", "E2", "E1", "E0"};
    size_t seen = 0;
    for (int page = 0; page < 4; page++) {
        cr_assert_eq(cdp_profile_events(db, &reader, "legal_obligation", "user_id:pager", 3,
                                        cursor[0] ? cursor : NULL, &text),
                     CDP_OK, "%s", cdp_errmsg(db));
        json_t *out = json_loads(text, 0, NULL);
        json_t *events = json_object_get(out, "events");
        for (size_t i = 0; i < json_array_size(events); i++, seen++)
            cr_assert_str_eq(
                json_string_value(json_object_get(json_array_get(events, i), "name")),
                expected[seen]);
        json_t *next = json_object_get(out, "next");
        int more = json_is_string(next);
        if (more)
            snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(out);
        cdp_free(text);
        if (!more)
            break;
    }
    cr_assert_eq(seen, 7);
    cr_assert_eq(cdp_profile_events(db, &reader, "legal_obligation", "user_id:pager", 3, "zz", &text),
                 CDP_BAD_REQUEST);
}
