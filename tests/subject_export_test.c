/* Data-subject access / portability export (cdp_subject_export): a merged person's export holds
 * everything of all the profiles merged into them, nothing of anyone else; it streams in bounded
 * memory; only the dpo role may run it; every refusal writes nothing and audits nothing; the
 * export is audited before any data leaves, even when writing fails midway. */
#include <avro.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handle.h"
#include "audit/log.h"
#include "support/testutil.h"
#include "util/alloc.h"

static char *base;
static char data_dir[1024];
static cdp_t *db;

static void open_db(int create) {
    cr_assert_eq(test_store_open(data_dir, create, &db), CDP_OK, "%s", cdp_errmsg(db));
}

static void setup(void) {
    unsetenv("CDP_ROOT_KEY");
    base = test_tempdir("subject-export");
    snprintf(data_dir, sizeof data_dir, "%s/data", base);
    open_db(1);
}

static void teardown(void) {
    cdp_close(db);
    test_rmtree(base);
    free(base);
}

TestSuite(subject_export, .init = setup, .fini = teardown);

static cdp_actor actor_for(cdp_role role, const char *source) {
    cdp_actor actor;
    memset(&actor, 0, sizeof actor);
    snprintf(actor.key_id, sizeof actor.key_id, "test-%s", cdp_role_name(role));
    actor.role = role;
    snprintf(actor.region, sizeof actor.region, "eu");
    snprintf(actor.source, sizeof actor.source, "%s", source ? source : "");
    return actor;
}

static void send_ok(const char *source, const char *json) {
    cdp_actor actor = actor_for(CDP_ROLE_INGEST, source);
    cdp_ingest_result result;
    cdp_status status = cdp_ingest(db, &actor, NULL, json, strlen(json), 0, &result);
    cr_assert_eq(status, CDP_OK, "%s: %s", json, cdp_errmsg(db));
    cr_assert_eq(result.rejected, 0, "%s: %s", json, result.errors_json);
    cdp_ingest_result_clear(&result);
}

/* Runs an export as `role` into memory; *text (caller frees with free()) and *len. */
static cdp_status export_to_memory(cdp_role role, const char *ref, const char *format, char **text,
                                   size_t *len) {
    cdp_actor actor = actor_for(role, NULL);
    FILE *out = open_memstream(text, len);
    cr_assert_not_null(out);
    cdp_status status = cdp_subject_export(db, &actor, ref, format, out);
    fclose(out);
    return status;
}

static json_t *export_json(const char *ref) {
    char *text = NULL;
    size_t len = 0;
    cdp_status status = export_to_memory(CDP_ROLE_DPO, ref, "json", &text, &len);
    cr_assert_eq(status, CDP_OK, "%s: %s", ref, cdp_errmsg(db));
    json_error_t error;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    cr_assert_not_null(doc, "export does not parse: %s at %d", error.text, error.position);
    free(text);
    return doc;
}

static uint64_t audit_tree_size(void) {
    cdp_audit_info info;
    cdp_audit_log_info(cdp_handle_audit_log(db, "eu"), &info);
    return info.tree_size;
}

static size_t count_where(json_t *array, const char *key, const char *value) {
    size_t index, count = 0;
    json_t *item;
    json_array_foreach(array, index, item) {
        const char *text = json_string_value(json_object_get(item, key));
        count += text != NULL && strcmp(text, value) == 0;
    }
    return count;
}

/* Three profiles (web visitor, app user, in-store shopper) that two later messages merge. */
static void make_merged_person(void) {
    send_ok("web", "{\"type\":\"identify\",\"anonymousId\":\"web-anna\",\"messageId\":\"w1\","
                   "\"traits\":{\"email\":\"anna@example.org\",\"first_name\":\"Anna\"}}");
    send_ok("web", "{\"type\":\"track\",\"anonymousId\":\"web-anna\",\"messageId\":\"w2\","
                   "\"event\":\"Product Viewed\",\"properties\":{\"sku\":\"A-1\"}}");
    send_ok("ios", "{\"type\":\"identify\",\"userId\":\"anna-1\",\"messageId\":\"i1\","
                   "\"traits\":{\"phone\":\"+4791234567\"}}");
    send_ok("ios", "{\"type\":\"track\",\"userId\":\"anna-1\",\"messageId\":\"i2\","
                   "\"event\":\"App Opened\"}");
    send_ok("pos", "{\"type\":\"identify\",\"anonymousId\":\"pos-77\",\"messageId\":\"p1\","
                   "\"traits\":{\"loyalty_tier\":\"gold\"}}");
    send_ok("pos", "{\"type\":\"track\",\"anonymousId\":\"pos-77\",\"messageId\":\"p2\","
                   "\"event\":\"Order Completed\",\"properties\":{\"revenue\":42.5,"
                   "\"currency\":\"eur\"}}");
    /* Signing in on the web links the web visitor to the app user; the loyalty card at the till
     * links the in-store shopper. */
    send_ok("web", "{\"type\":\"track\",\"userId\":\"anna-1\",\"messageId\":\"m1\","
                   "\"event\":\"Signed In\",\"context\":{\"traits\":"
                   "{\"email\":\"anna@example.org\"}}}");
    send_ok("pos", "{\"type\":\"track\",\"userId\":\"anna-1\",\"anonymousId\":\"pos-77\","
                   "\"messageId\":\"m2\",\"event\":\"Loyalty Card Scanned\"}");
    /* Someone else, who must not appear in Anna's export. */
    send_ok("web", "{\"type\":\"identify\",\"userId\":\"bo-2\",\"messageId\":\"b1\","
                   "\"traits\":{\"email\":\"bo@example.net\",\"first_name\":\"Bo\"}}");
}

Test(subject_export, a_merged_persons_json_export_holds_everything_of_all_three_profiles) {
    make_merged_person();
    json_t *doc = export_json("email:Anna@Example.org");
    json_t *subject = json_object_get(doc, "subject");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "format")), "cdp-subject-export");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "region")), "eu");
    cr_assert(json_integer_value(json_object_get(doc, "generated_at")) > 0);
    cr_assert_eq(json_array_size(json_object_get(subject, "merged_from")), 2,
                 "three profiles became one");
    cr_assert_not_null(json_object_get(json_object_get(subject, "channels"), "pos"));

    /* Every event of the three former profiles and the two linking ones. */
    json_t *events = json_object_get(doc, "events");
    static const char *const sent[] = {"w1", "w2", "i1", "i2", "p1", "p2", "m1", "m2"};
    cr_assert_eq(json_array_size(events), 8, "%zu events", json_array_size(events));
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq(count_where(events, "message_id", sent[i]), 1, "event %s", sent[i]);
    char ref[64];
    snprintf(ref, sizeof ref, "profile:%s", json_string_value(json_object_get(doc, "profile_id")));
    json_t *order = NULL;
    size_t index;
    json_t *event;
    json_array_foreach(events, index, event) {
        if (strcmp(json_string_value(json_object_get(event, "message_id")), "p2") == 0)
            order = event;
    }
    cr_assert_float_eq(
        json_number_value(json_object_get(json_object_get(order, "properties"), "revenue")), 42.5,
        1e-9);
    cr_assert_str_eq(json_string_value(json_object_get(order, "channel")), "pos");
    /* The events are found under all three profile ids. */
    const char *profile_id = json_string_value(json_object_get(doc, "profile_id"));
    size_t under_self = count_where(events, "profile_id", profile_id);
    cr_assert(under_self > 0 && under_self < 8, "events under the surviving id: %zu", under_self);
    json_t *merged_from = json_object_get(subject, "merged_from");
    for (size_t m = 0; m < 2; m++)
        cr_assert(count_where(events, "profile_id",
                              json_string_value(json_array_get(merged_from, m))) > 0,
                  "no events of merged profile %zu", m);

    /* Identities with their provenance, traits with theirs. */
    json_t *identities = json_object_get(doc, "identities");
    cr_assert_eq(count_where(identities, "value", "anna@example.org"), 1);
    cr_assert_eq(count_where(identities, "value", "+4791234567"), 1);
    cr_assert_eq(count_where(identities, "value", "anna-1"), 1);
    cr_assert_eq(count_where(identities, "value", "pos-77"), 1);
    cr_assert_eq(count_where(identities, "value", "web-anna"), 1);
    json_array_foreach(identities, index, event) {
        cr_assert(json_integer_value(json_object_get(event, "added_at")) > 0);
        cr_assert_not_null(json_string_value(json_object_get(event, "source")));
    }
    json_t *traits = json_object_get(doc, "traits");
    cr_assert_eq(count_where(traits, "name", "first_name"), 1);
    json_array_foreach(traits, index, event) {
        if (strcmp(json_string_value(json_object_get(event, "name")), "loyalty_tier") == 0) {
            cr_assert_str_eq(json_string_value(json_object_get(event, "value")), "gold");
            cr_assert_str_eq(json_string_value(json_object_get(event, "source")), "pos");
        }
    }

    /* Two merges recorded; no blind index plaintext, only hashes. */
    json_t *merges = json_object_get(doc, "merges");
    cr_assert(count_where(merges, "kind", "merge") >= 2, "%zu merge records",
              count_where(merges, "kind", "merge"));

    /* The audit entries about the person, the export itself among them. */
    json_t *audit = json_object_get(doc, "audit");
    cr_assert_eq(count_where(audit, "operation", "subject.export"), 1);
    cr_assert(count_where(audit, "operation", "event.identify") >= 3);
    cr_assert(json_is_array(json_object_get(doc, "consent")));

    /* The counts agree with the sections. */
    json_t *counts = json_object_get(doc, "counts");
    cr_assert_eq(json_integer_value(json_object_get(counts, "events")), 8);
    cr_assert_eq((size_t)json_integer_value(json_object_get(counts, "identities")),
                 json_array_size(identities));
    cr_assert_eq((size_t)json_integer_value(json_object_get(counts, "audit")),
                 json_array_size(audit));
    cr_assert_eq((size_t)json_integer_value(json_object_get(counts, "merges")),
                 json_array_size(merges));

    /* Nothing of Bo: not his e-mail, name, user id or event. */
    char *text = json_dumps(doc, JSON_COMPACT);
    cr_assert_null(strstr(text, "bo@example.net"));
    cr_assert_null(strstr(text, "\"Bo\""));
    cr_assert_null(strstr(text, "bo-2"));
    cr_assert_eq(count_where(events, "message_id", "b1"), 0);
    free(text);
    json_decref(doc);

    /* Any of Anna's identifiers, and her profile id, name the same person. */
    json_t *again = export_json("anonymous_id:pos-77");
    cr_assert_str_eq(json_string_value(json_object_get(again, "profile_id")), ref + 8);
    json_decref(again);
    again = export_json(ref);
    cr_assert_eq(json_array_size(json_object_get(again, "events")), 8);
    json_decref(again);
}

/* Stores an opaque consent value under (profile id, purpose), as the consent module will. */
static void set_consent(const char *ref_type, const char *value, const char *purpose,
                        const char *state) {
    cdp_actor dpo = {.role = CDP_ROLE_DPO, .key_id = "dpo-key", .region = "eu"};
    char body[512], *json = NULL;
    snprintf(body, sizeof body,
             "{\"identity\":{\"type\":\"%s\",\"value\":\"%s\"},\"purposes\":{\"%s\":"
             "\"%s\"},\"source\":\"web_banner\",\"notice_version\":\"2026-01\"}",
             ref_type, value, purpose, state);
    cr_assert_eq(cdp_consent_set(db, &dpo, body, strlen(body), 0, &json), CDP_OK, "%s",
                 cdp_errmsg(db));
    cdp_free(json);
}

Test(subject_export, consent_history_of_the_person_and_merged_profiles_is_exported) {
    /* A grant recorded on the web visitor before the merge, a denial after it. */
    send_ok("web", "{\"type\":\"identify\",\"anonymousId\":\"web-anna\",\"messageId\":\"w1\","
                   "\"traits\":{\"email\":\"anna@example.org\",\"first_name\":\"Anna\"}}");
    set_consent("email", "anna@example.org", "marketing", "granted");
    make_merged_person();
    set_consent("user_id", "anna-1", "analytics", "denied");
    set_consent("user_id", "anna-1", "marketing", "withdrawn");
    json_t *doc = export_json("user_id:anna-1");
    json_t *counts = json_object_get(doc, "counts");
    json_t *consent = json_object_get(doc, "consent");
    cr_assert_eq(json_integer_value(json_object_get(counts, "consent_records_held")), 3);
    cr_assert_eq(json_array_size(consent), 3, "the whole history, withdrawal included");
    int granted = 0, denied = 0, withdrawn = 0;
    size_t i;
    json_t *item;
    json_array_foreach(consent, i, item) {
        const char *state = json_string_value(json_object_get(item, "state"));
        granted += strcmp(state, "granted") == 0;
        denied += strcmp(state, "denied") == 0;
        withdrawn += strcmp(state, "withdrawn") == 0;
        cr_assert_str_eq(json_string_value(json_object_get(item, "notice_version")), "2026-01");
    }
    cr_assert(granted == 1 && denied == 1 && withdrawn == 1);
    json_decref(doc);
    /* Bo's consent is not Anna's. */
    json_t *bo = export_json("user_id:bo-2");
    cr_assert_eq(json_array_size(json_object_get(bo, "consent")), 0);
    json_decref(bo);
}

/* Reads an Avro export with Avro C's own reader: items per kind and the end item's counts. */
typedef struct avro_summary {
    size_t kinds[9];
    int64_t end_events, end_identities, end_audit;
    size_t items;
} avro_summary;

static void read_avro(const char *path, avro_summary *summary) {
    memset(summary, 0, sizeof *summary);
    avro_file_reader_t reader;
    cr_assert_eq(avro_file_reader(path, &reader), 0, "%s", avro_strerror());
    avro_schema_t schema = avro_file_reader_get_writer_schema(reader);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t item, field, branch;
    avro_generic_value_new(iface, &item);
    while (avro_file_reader_read_value(reader, &item) == 0) {
        int kind = -1;
        avro_value_get_by_name(&item, "kind", &field, NULL);
        avro_value_get_enum(&field, &kind);
        cr_assert(kind >= 0 && kind < 9);
        summary->kinds[kind]++;
        summary->items++;
        if (kind == 8) {
            avro_value_get_by_name(&item, "end", &field, NULL);
            avro_value_get_current_branch(&field, &branch);
            avro_value_get_by_name(&branch, "events", &field, NULL);
            avro_value_get_long(&field, &summary->end_events);
            avro_value_get_by_name(&branch, "identities", &field, NULL);
            avro_value_get_long(&field, &summary->end_identities);
            avro_value_get_by_name(&branch, "audit", &field, NULL);
            avro_value_get_long(&field, &summary->end_audit);
        }
    }
    avro_value_decref(&item);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    avro_file_reader_close(reader);
}

Test(subject_export, the_avro_export_holds_the_same_items_and_ends_with_the_counts) {
    make_merged_person();
    char path[1200];
    snprintf(path, sizeof path, "%s/anna.avro", base);
    FILE *out = fopen(path, "wb");
    cdp_actor dpo = actor_for(CDP_ROLE_DPO, NULL);
    cr_assert_eq(cdp_subject_export(db, &dpo, "user_id:anna-1", "avro", out), CDP_OK, "%s",
                 cdp_errmsg(db));
    fclose(out);
    avro_summary summary;
    read_avro(path, &summary);
    cr_assert_eq(summary.kinds[0], 1, "one header");
    cr_assert_eq(summary.kinds[1], 1, "one subject");
    cr_assert_eq(summary.kinds[2], 5, "five identities");
    cr_assert_eq(summary.kinds[4], 8, "eight events");
    cr_assert(summary.kinds[5] >= 2, "merges");
    cr_assert(summary.kinds[7] >= 8, "audit entries");
    cr_assert_eq(summary.kinds[8], 1, "one end");
    cr_assert_eq(summary.end_events, 8);
    cr_assert_eq(summary.end_identities, 5);
    cr_assert_eq((size_t)summary.end_audit, summary.kinds[7]);
    /* Bo is in no byte of it (deflate aside: his e-mail would be readable in a null-codec
     * file, so check the decoded JSON export instead, above). */
}

Test(subject_export, only_the_dpo_role_may_export_and_refusals_write_and_audit_nothing) {
    make_merged_person();
    static const cdp_role others[] = {CDP_ROLE_INGEST, CDP_ROLE_PERSONALIZATION, CDP_ROLE_AUDITOR,
                                      CDP_ROLE_ADMIN};
    uint64_t before = audit_tree_size();
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char *text = NULL;
        size_t len = 0;
        cr_assert_eq(export_to_memory(others[i], "email:anna@example.org", "json", &text, &len),
                     CDP_FORBIDDEN, "role %s", cdp_role_name(others[i]));
        cr_assert_eq(len, 0, "role %s got %zu bytes", cdp_role_name(others[i]), len);
        cr_assert_not_null(strstr(cdp_errmsg(db), cdp_role_name(others[i])), "%s", cdp_errmsg(db));
        free(text);
    }
    struct {
        const char *ref, *format;
        cdp_status status;
        const char *message;
    } cases[] = {
        {"email:anna@example.org", "xml", CDP_BAD_REQUEST, "format:"},
        {"email:anna@example.org", NULL, CDP_BAD_REQUEST, "format:"},
        {"email:nobody@example.org", "json", CDP_NOT_FOUND, "ref:"},
        {"profile:00000000000000000000000000000000", "avro", CDP_NOT_FOUND, "ref:"},
        {"anna@example.org", "json", CDP_INVALID_IDENTIFIER, "ref:"},
        {"profile:xyz", "json", CDP_INVALID_IDENTIFIER, "ref:"},
        {"email:not-an-email", "json", CDP_INVALID_IDENTIFIER, "ref"},
        {NULL, "json", CDP_INVALID_IDENTIFIER, "ref:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = NULL;
        size_t len = 0;
        cdp_status status =
            export_to_memory(CDP_ROLE_DPO, cases[i].ref, cases[i].format, &text, &len);
        cr_assert_eq(status, cases[i].status, "case %zu: %s (%s)", i, cdp_status_code(status),
                     cdp_errmsg(db));
        cr_assert_eq(strncmp(cdp_errmsg(db), cases[i].message, strlen(cases[i].message)), 0,
                     "case %zu: %s", i, cdp_errmsg(db));
        cr_assert_eq(len, 0, "case %zu wrote %zu bytes", i, len);
        free(text);
    }
    cr_assert_eq(audit_tree_size(), before, "a refusal appended to the audit log");
    cdp_actor dpo = actor_for(CDP_ROLE_DPO, NULL);
    cr_assert_eq(cdp_subject_export(NULL, &dpo, "user_id:anna-1", "json", stdout), CDP_MISUSE);
    cr_assert_eq(cdp_subject_export(db, NULL, "user_id:anna-1", "json", stdout), CDP_MISUSE);
    cr_assert_eq(cdp_subject_export(db, &dpo, "user_id:anna-1", "json", NULL), CDP_MISUSE);
}

typedef struct audit_seen {
    size_t exports;
    char role[32], basis[64], decision[16], request_id[64];
} audit_seen;

static cdp_status find_export(void *context, const cdp_audit_record *record) {
    audit_seen *seen = context;
    if (strcmp(record->operation, "subject.export") == 0) {
        seen->exports++;
        snprintf(seen->role, sizeof seen->role, "%s", record->actor_role);
        snprintf(seen->basis, sizeof seen->basis, "%s",
                 record->lawful_basis ? record->lawful_basis : "");
        snprintf(seen->decision, sizeof seen->decision, "%s",
                 cdp_audit_decision_name(record->decision));
        snprintf(seen->request_id, sizeof seen->request_id, "%s",
                 record->request_id ? record->request_id : "");
    }
    return CDP_OK;
}

static audit_seen exports_audited(const char *profile_hex) {
    uint8_t id[16];
    cr_assert_eq(cdp_hex_decode(id, sizeof id, profile_hex, strlen(profile_hex)), 0);
    audit_seen seen = {0};
    cdp_err err = {0};
    cr_assert_eq(
        cdp_audit_list_person(cdp_handle_audit_log(db, "eu"), id, find_export, &seen, &err), CDP_OK,
        "%s", err.message);
    return seen;
}

Test(subject_export, the_export_is_audited_before_data_leaves_even_when_writing_fails) {
    make_merged_person();
    json_t *doc = export_json("user_id:anna-1");
    char profile_id[33];
    snprintf(profile_id, sizeof profile_id, "%s",
             json_string_value(json_object_get(doc, "profile_id")));
    json_decref(doc);
    audit_seen seen = exports_audited(profile_id);
    cr_assert_eq(seen.exports, 1);
    cr_assert_str_eq(seen.role, "dpo");
    cr_assert_str_eq(seen.decision, "allow");
    cr_assert_str_eq(seen.basis, "legal_obligation");

    /* A full disk: the export fails with CDP_IO and the audit record is there all the same. */
    FILE *full = fopen("/dev/full", "w");
    cr_assert_not_null(full);
    cdp_actor dpo = actor_for(CDP_ROLE_DPO, NULL);
    snprintf(dpo.request_id, sizeof dpo.request_id, "dsr-42");
    cr_assert_eq(cdp_subject_export(db, &dpo, "user_id:anna-1", "avro", full), CDP_IO, "%s",
                 cdp_errmsg(db));
    cr_assert_not_null(strstr(cdp_errmsg(db), "writing"), "%s", cdp_errmsg(db));
    fclose(full);
    seen = exports_audited(profile_id);
    cr_assert_eq(seen.exports, 2);
    cr_assert_str_eq(seen.request_id, "dsr-42");

    /* The record is durable: it survives closing and reopening the data directory. */
    cdp_close(db);
    db = NULL;
    open_db(0);
    seen = exports_audited(profile_id);
    cr_assert_eq(seen.exports, 2);
}

Test(subject_export, failing_allocations_never_let_data_out_unaudited_or_report_success) {
    make_merged_person();
    int succeeded = 0;
    for (long n = 0; n < 2000 && !succeeded; n++) {
        for (int f = 0; f < 2; f++) {
            uint64_t before = audit_tree_size();
            char *text = NULL;
            size_t len = 0;
            cdp_actor dpo = actor_for(CDP_ROLE_DPO, NULL);
            FILE *out = open_memstream(&text, &len);
            cdp_alloc_fail_after(n);
            cdp_status status =
                cdp_subject_export(db, &dpo, "user_id:anna-1", f == 0 ? "json" : "avro", out);
            cdp_alloc_fail_reset();
            fclose(out);
            cr_assert(status == CDP_OK || status == CDP_NOMEM, "n=%ld: %s (%s)", n,
                      cdp_status_code(status), cdp_errmsg(db));
            if (len > 0)
                cr_assert(audit_tree_size() > before, "n=%ld: %zu bytes out, not audited", n, len);
            if (f == 0 && status != CDP_OK)
                cr_assert_null(json_loadb(text, len, 0, NULL), "n=%ld: a failed export parses", n);
            if (f == 0 && status == CDP_OK) {
                json_t *doc = json_loadb(text, len, 0, NULL);
                cr_assert_not_null(doc, "n=%ld", n);
                cr_assert_eq(json_array_size(json_object_get(doc, "events")), 8);
                json_decref(doc);
                succeeded = 1;
            }
            free(text);
        }
    }
    cr_assert(succeeded, "the export never succeeded with up to 2000 allocations");
}

/* Peak resident memory since the last reset, in KiB (/proc/self/status VmHWM). */
static long peak_rss_kib(void) {
    FILE *status = fopen("/proc/self/status", "r");
    cr_assert_not_null(status);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, status))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(status);
    return kib;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0); 0 on success. */
static int reset_peak_rss(void) {
    FILE *clear = fopen("/proc/self/clear_refs", "w");
    if (clear == NULL)
        return -1;
    int failed = fputs("5", clear) == EOF;
    failed |= fclose(clear) != 0;
    return failed ? -1 : 0;
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

#define MANY_EVENTS 50000
#define BATCH 500

Test(subject_export, fifty_thousand_events_export_completely_in_bounded_memory, .timeout = 300) {
    /* One person, many events, each with a 300-byte property so the export is far larger than
     * the memory bound below. */
    char padding[301];
    memset(padding, 'x', 300);
    padding[300] = '\0';
    size_t cap = (size_t)BATCH * 600 + 64;
    char *body = malloc(cap);
    cdp_actor ingest = actor_for(CDP_ROLE_INGEST, "web");
    for (int first = 0; first < MANY_EVENTS; first += BATCH) {
        size_t len = (size_t)snprintf(body, cap, "{\"batch\":[");
        for (int i = first; i < first + BATCH; i++)
            len += (size_t)snprintf(body + len, cap - len,
                                    "%s{\"type\":\"track\",\"userId\":\"many-1\",\"messageId\":"
                                    "\"e%d\",\"event\":\"Page Scrolled\","
                                    "\"properties\":{\"index\":%d,\"pad\":\"%s\"}}",
                                    i == first ? "" : ",", i, i, padding);
        len += (size_t)snprintf(body + len, cap - len, "]}");
        cdp_ingest_result result;
        cr_assert_eq(cdp_ingest(db, &ingest, "batch", body, len, 0, &result), CDP_OK, "%s",
                     cdp_errmsg(db));
        cr_assert_eq(result.accepted, BATCH, "%s", result.errors_json);
        cdp_ingest_result_clear(&result);
    }
    free(body);
    /* Start the measurement from a quiet process: memtables gone, freed memory returned. */
    cdp_close(db);
    db = NULL;
    open_db(0);
    malloc_trim(0);
    if (reset_peak_rss() != 0)
        cr_skip_test("/proc/self/clear_refs is not writable here: cannot reset VmHWM");
    long before = peak_rss_kib();

    char path[1200];
    snprintf(path, sizeof path, "%s/many.json", base);
    FILE *out = fopen(path, "wb");
    cdp_actor dpo = actor_for(CDP_ROLE_DPO, NULL);
    cr_assert_eq(cdp_subject_export(db, &dpo, "user_id:many-1", "json", out), CDP_OK, "%s",
                 cdp_errmsg(db));
    cr_assert_eq(fclose(out), 0);
    long growth_kib = peak_rss_kib() - before;
    size_t size = 0;
    uint8_t *bytes = test_read_file(path, &size);
    cr_assert_not_null(bytes);
    free(bytes);
    /* Bound: 20 MiB covers the 8 MiB block cache, RocksDB's read buffers and stdio; holding the
     * events (as text or as JSON values) would take at least the file's size, which the
     * assertion below keeps well above the bound. */
    long bound_kib = 20 * 1024; /* measured here: about 11 MiB */
    fprintf(stderr, "subject export: %d events, %zu bytes, peak RSS growth %ld KiB\n", MANY_EVENTS,
            size, growth_kib);
    cr_assert(size > (size_t)bound_kib * 1024 * 2, "export of %zu bytes is too small to tell",
              size);
    /* AddressSanitizer keeps freed memory in quarantine (256 MiB): RSS says nothing there. */
    if (!SANITIZED)
        cr_assert(growth_kib < bound_kib, "peak RSS grew %ld KiB exporting %zu bytes", growth_kib,
                  size);

    /* Complete and correct: every event once, with the properties it was sent with. */
    json_error_t error;
    json_t *doc = json_load_file(path, 0, &error);
    cr_assert_not_null(doc, "%s", error.text);
    json_t *events = json_object_get(doc, "events");
    cr_assert_eq(json_array_size(events), MANY_EVENTS);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(doc, "counts"), "events")),
                 MANY_EVENTS);
    unsigned char *seen = calloc(MANY_EVENTS, 1);
    size_t index;
    json_t *event;
    json_array_foreach(events, index, event) {
        const char *message_id = json_string_value(json_object_get(event, "message_id"));
        json_t *properties = json_object_get(event, "properties");
        int number = atoi(message_id + 1);
        cr_assert(message_id[0] == 'e' && number >= 0 && number < MANY_EVENTS, "%s", message_id);
        cr_assert_eq(seen[number], 0, "%s twice", message_id);
        seen[number] = 1;
        cr_assert_eq(json_integer_value(json_object_get(properties, "index")), number);
        cr_assert_str_eq(json_string_value(json_object_get(properties, "pad")), padding);
        cr_assert_str_eq(json_string_value(json_object_get(event, "name")), "Page Scrolled");
    }
    free(seen);
    json_decref(doc);

    /* The Avro export streams too. */
    malloc_trim(0);
    cr_assert_eq(reset_peak_rss(), 0);
    before = peak_rss_kib();
    snprintf(path, sizeof path, "%s/many.avro", base);
    out = fopen(path, "wb");
    cr_assert_eq(cdp_subject_export(db, &dpo, "user_id:many-1", "avro", out), CDP_OK, "%s",
                 cdp_errmsg(db));
    cr_assert_eq(fclose(out), 0);
    growth_kib = peak_rss_kib() - before;
    if (!SANITIZED)
        cr_assert(growth_kib < bound_kib, "Avro: peak RSS grew %ld KiB", growth_kib);
    avro_summary summary;
    read_avro(path, &summary);
    cr_assert_eq(summary.kinds[4], MANY_EVENTS);
    cr_assert_eq(summary.end_events, MANY_EVENTS);
}
