/* Data-subject requests: body validation (OpenGDPR 0.1 and OpenDSR v3 shapes) and the request
 * records in the meta column family. No identifier value is ever stored here: only types. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity/segment.h"
#include "privacy/dsr.h"
#include "util/alloc.h"

#define RECORD_PREFIX "dsr/req/"

static pthread_mutex_t dsr_mutex = PTHREAD_MUTEX_INITIALIZER;

void cdp_dsr_lock(void) { pthread_mutex_lock(&dsr_mutex); }
void cdp_dsr_unlock(void) { pthread_mutex_unlock(&dsr_mutex); }

static const char *const type_names[CDP_DSR_TYPE_COUNT] = {
    "erasure", "access", "portability", "rectification", "restriction", "objection"};
static const char *const state_names[] = {"pending", "in_progress", "completed", "cancelled"};

const char *cdp_dsr_type_name(cdp_dsr_type type) {
    return (unsigned)type < CDP_DSR_TYPE_COUNT ? type_names[type] : "unknown";
}

const char *cdp_dsr_state_name(cdp_dsr_state state) {
    return (unsigned)state < sizeof state_names / sizeof *state_names ? state_names[state]
                                                                      : "unknown";
}

static int type_parse(const char *text, cdp_dsr_type *out) {
    for (int i = 0; i < CDP_DSR_TYPE_COUNT; i++)
        if (strcmp(text, type_names[i]) == 0) {
            *out = (cdp_dsr_type)i;
            return 0;
        }
    if (strcmp(text, "deletion") == 0 || strcmp(text, "erasure_request") == 0) { /* OpenDSR v3 */
        *out = CDP_DSR_ERASURE;
        return 0;
    }
    return -1;
}

static int state_parse(const char *text, cdp_dsr_state *out) {
    for (size_t i = 0; i < sizeof state_names / sizeof *state_names; i++)
        if (strcmp(text, state_names[i]) == 0) {
            *out = (cdp_dsr_state)i;
            return 0;
        }
    return -1;
}

void cdp_dsr_format_time(int64_t ms, char out[32]) {
    time_t seconds = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int millis = (int)(ms - (int64_t)seconds * 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", base, millis);
}

int64_t cdp_dsr_due_ms(const char *regulation, int64_t submitted_ms) {
    int days = strcmp(regulation, "ccpa") == 0 ? 45 : 30;
    return submitted_ms + days * CDP_DSR_DAY_MS;
}

/* The string's text; NULL for a non-string or one with an embedded NUL. */
static const char *plain_string(json_t *value) {
    const char *text = json_string_value(value);
    return text != NULL && strlen(text) == json_string_length(value) ? text : NULL;
}

/* 8-4-4-4-12 hexadecimal digits. */
static int uuid_valid(const char *text) {
    static const int dashes[] = {8, 13, 18, 23};
    if (strlen(text) != 36)
        return 0;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dashes[d]) {
            if (text[i] != '-')
                return 0;
            d++;
        } else if (!isxdigit((unsigned char)text[i])) {
            return 0;
        }
    }
    return 1;
}

static int hex64(const char *text, size_t len) {
    if (len != 64)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)text[i]))
            return 0;
    return 1;
}

/* A type the identity rules configure, or an external id type (loyalty_id, pos_customer_id:
 * "[a-z][a-z0-9_]*_id"), as ingestion takes them from context.externalIds. */
static int known_type(const cdp_identity_rules *rules, const char *type) {
    if (cdp_identity_rule(rules, type) != cdp_identity_rule(rules, "\x01"))
        return 1;
    size_t len = strlen(type);
    if (len < 4 || len > 32 || strcmp(type + len - 3, "_id") != 0 || !islower((unsigned char)type[0]))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)type[i]) && !isdigit((unsigned char)type[i]) && type[i] != '_')
            return 0;
    return 1;
}

/* One identity: type (OpenGDPR name or ours), value and format, checked. index names it. */
static cdp_status add_identity(const cdp_identity_rules *rules, cdp_dsr_parsed *out,
                               const char *field, const char *type, json_t *value,
                               json_t *format, cdp_err *err) {
    if (out->identity_count == CDP_DSR_IDENTITIES_MAX)
        return cdp_err_set(err, CDP_BAD_REQUEST, "subject_identities: more than %d identities",
                           CDP_DSR_IDENTITIES_MAX);
    if (type == NULL || *type == '\0')
        return cdp_err_set(err, CDP_BAD_REQUEST, "%s.identity_type: required string", field);
    const char *ours = strcmp(type, "controller_customer_id") == 0 ? "user_id" : type;
    if (strlen(ours) >= sizeof out->identities[0].type || strcmp(ours, "profile") == 0 ||
        !known_type(rules, ours))
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "%s.identity_type: unknown identity type \"%.40s\" (see /discovery)",
                           field, type);
    const char *text = plain_string(value);
    if (text == NULL || *text == '\0')
        return cdp_err_set(err, CDP_BAD_REQUEST, "%s.identity_value: required string", field);
    const char *format_text = "raw";
    if (format != NULL && !json_is_null(format)) {
        format_text = plain_string(format);
        if (format_text == NULL || (strcmp(format_text, "raw") != 0 &&
                                    strcmp(format_text, "sha256") != 0))
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "%s.identity_format: must be \"raw\" or \"sha256\"", field);
    }
    cdp_dsr_identity *identity = &out->identities[out->identity_count];
    snprintf(identity->type, sizeof identity->type, "%s", ours);
    identity->sha256 = strcmp(format_text, "sha256") == 0;
    identity->value = text;
    identity->len = strlen(text);
    if (identity->sha256 && !hex64(text, identity->len))
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "%s.identity_value: a sha256 identity is 64 hexadecimal characters",
                           field);
    out->identity_count++;
    return CDP_OK;
}

static cdp_status parse_identities(const cdp_identity_rules *rules, json_t *identities,
                                   cdp_dsr_parsed *out, cdp_err *err) {
    char field[96];
    if (json_is_array(identities)) { /* OpenGDPR 0.1 */
        size_t index;
        json_t *item;
        json_array_foreach(identities, index, item) {
            snprintf(field, sizeof field, "subject_identities[%zu]", index);
            if (!json_is_object(item))
                return cdp_err_set(err, CDP_BAD_REQUEST,
                                   "%s: must be an object {identity_type, identity_value, "
                                   "identity_format}",
                                   field);
            cdp_status status = add_identity(
                rules, out, field, plain_string(json_object_get(item, "identity_type")),
                json_object_get(item, "identity_value"), json_object_get(item, "identity_format"),
                err);
            if (status != CDP_OK)
                return status;
        }
    } else if (json_is_object(identities)) { /* OpenDSR v3: {type: value | {value, format}} */
        const char *type;
        json_t *item;
        json_object_foreach(identities, type, item) {
            snprintf(field, sizeof field, "subject_identities.%.40s", type);
            json_t *value = item, *format = NULL;
            if (json_is_object(item)) {
                value = json_object_get(item, "value");
                if (value == NULL)
                    value = json_object_get(item, "identity_value");
                format = json_object_get(item, "format");
                if (format == NULL)
                    format = json_object_get(item, "identity_format");
                if (format == NULL)
                    format = json_object_get(item, "encoding");
            }
            cdp_status status = add_identity(rules, out, field, type, value, format, err);
            if (status != CDP_OK)
                return status;
        }
    } else {
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "subject_identities: required, a list (OpenGDPR) or an object "
                           "(OpenDSR v3)");
    }
    if (out->identity_count == 0)
        return cdp_err_set(err, CDP_BAD_REQUEST, "subject_identities: at least one identity");
    return CDP_OK;
}

cdp_status cdp_dsr_parse(const cdp_identity_rules *rules, json_t *root,
                         int (*known_purpose)(const void *ctx, const char *purpose),
                         const void *ctx, cdp_dsr_parsed *out, cdp_err *err) {
    memset(out, 0, sizeof *out);
    if (!json_is_object(root))
        return cdp_err_set(err, CDP_BAD_REQUEST, "body: must be a JSON object");
    const char *id = plain_string(json_object_get(root, "subject_request_id"));
    if (id == NULL || !uuid_valid(id))
        return cdp_err_set(err, CDP_BAD_REQUEST, "subject_request_id: required, a UUID");
    for (size_t i = 0; i < CDP_DSR_ID_MAX; i++)
        out->id[i] = (char)tolower((unsigned char)id[i]);
    const char *type = plain_string(json_object_get(root, "subject_request_type"));
    if (type == NULL || type_parse(type, &out->type) != 0)
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "subject_request_type: required, one of erasure, access, portability, "
                           "rectification, restriction, objection");
    const char *submitted = plain_string(json_object_get(root, "submitted_time"));
    if (submitted == NULL || cdp_segment_parse_time(submitted, &out->submitted_ms) != 0 ||
        out->submitted_ms < 0)
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "submitted_time: required, an ISO-8601 time (2024-05-01T10:00:00Z)");
    json_t *api_version = json_object_get(root, "api_version");
    json_t *regulation = json_object_get(root, "regulation");
    if (regulation != NULL) { /* OpenDSR v3 */
        const char *text = plain_string(regulation);
        if (text == NULL || (strcmp(text, "gdpr") != 0 && strcmp(text, "ccpa") != 0))
            return cdp_err_set(err, CDP_BAD_REQUEST, "regulation: must be \"gdpr\" or \"ccpa\"");
        snprintf(out->regulation, sizeof out->regulation, "%s", text);
        const char *version = api_version != NULL ? plain_string(api_version) : "3.0";
        if (version == NULL || (strcmp(version, "0.1") != 0 && strncmp(version, "3", 1) != 0))
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "api_version: \"0.1\" (OpenGDPR) or \"3.0\" (OpenDSR)");
        snprintf(out->api_version, sizeof out->api_version, "%s",
                 strcmp(version, "0.1") == 0 ? "0.1" : "3.0");
    } else {
        const char *version = plain_string(api_version);
        if (version == NULL || strcmp(version, "0.1") != 0)
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "api_version: required \"0.1\" (OpenGDPR), or give \"regulation\" "
                               "(OpenDSR v3)");
        snprintf(out->regulation, sizeof out->regulation, "gdpr");
        snprintf(out->api_version, sizeof out->api_version, "0.1");
    }
    cdp_status status = parse_identities(rules, json_object_get(root, "subject_identities"), out,
                                         err);
    if (status != CDP_OK)
        return status;
    json_t *extensions = json_object_get(root, "extensions");
    if (extensions != NULL && !json_is_object(extensions))
        return cdp_err_set(err, CDP_BAD_REQUEST, "extensions: must be an object");
    json_t *ours = json_object_get(extensions, "cdp");
    if (ours != NULL && !json_is_object(ours))
        return cdp_err_set(err, CDP_BAD_REQUEST, "extensions.cdp: must be an object");
    if (out->type == CDP_DSR_RECTIFICATION) {
        out->traits = json_object_get(ours, "traits");
        if (!json_is_object(out->traits) || json_object_size(out->traits) == 0)
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "extensions.cdp.traits: a rectification needs the corrected "
                               "traits, a non-empty object");
    }
    if (out->type == CDP_DSR_OBJECTION) {
        out->purpose = plain_string(json_object_get(ours, "purpose"));
        if (out->purpose == NULL || strlen(out->purpose) > 64 || !known_purpose(ctx, out->purpose))
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "extensions.cdp.purpose: an objection needs a known purpose");
    }
    return CDP_OK;
}

void cdp_dsr_record_clear(cdp_dsr_record *record) {
    if (record == NULL)
        return;
    cdp_free(record->result_json);
    memset(record, 0, sizeof *record);
}

static void record_key(const char *id, char *out, size_t cap) {
    snprintf(out, cap, RECORD_PREFIX "%s", id);
}

static json_t *record_store_json(const cdp_dsr_record *r) {
    json_t *result = NULL;
    if (r->result_json != NULL)
        result = json_loads(r->result_json, 0, NULL);
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:b, s:s, s:s, s:s, s:s, s:s, "
                     "s:s, s:s, s:o}",
                     "id", r->id, "type", cdp_dsr_type_name(r->type), "regulation", r->regulation,
                     "api_version", r->api_version, "submitted_ms", (json_int_t)r->submitted_ms,
                     "received_ms", (json_int_t)r->received_ms, "due_ms", (json_int_t)r->due_ms,
                     "updated_ms", (json_int_t)r->updated_ms, "status",
                     cdp_dsr_state_name(r->state), "found", r->found, "profile_id", r->profile_id,
                     "region", r->region, "identity_types", r->identity_types, "fingerprint",
                     r->fingerprint, "actor", r->actor_key_id, "purpose", r->purpose, "outcome",
                     r->outcome, "result", result != NULL ? result : json_null());
}

static int copy_field(json_t *root, const char *name, char *out, size_t cap) {
    const char *text = plain_string(json_object_get(root, name));
    if (text == NULL || strlen(text) >= cap)
        return -1;
    memcpy(out, text, strlen(text) + 1);
    return 0;
}

static cdp_status record_decode(const uint8_t *bytes, size_t len, cdp_dsr_record *out,
                                cdp_err *err) {
    memset(out, 0, sizeof *out);
    json_t *root = json_loadb((const char *)bytes, len, 0, NULL);
    const char *type = root ? plain_string(json_object_get(root, "type")) : NULL;
    const char *state = root ? plain_string(json_object_get(root, "status")) : NULL;
    int bad = root == NULL || type == NULL || type_parse(type, &out->type) != 0 ||
              state == NULL || state_parse(state, &out->state) != 0 ||
              copy_field(root, "id", out->id, sizeof out->id) != 0 ||
              copy_field(root, "regulation", out->regulation, sizeof out->regulation) != 0 ||
              copy_field(root, "api_version", out->api_version, sizeof out->api_version) != 0 ||
              copy_field(root, "profile_id", out->profile_id, sizeof out->profile_id) != 0 ||
              copy_field(root, "region", out->region, sizeof out->region) != 0 ||
              copy_field(root, "identity_types", out->identity_types,
                         sizeof out->identity_types) != 0 ||
              copy_field(root, "fingerprint", out->fingerprint, sizeof out->fingerprint) != 0 ||
              copy_field(root, "actor", out->actor_key_id, sizeof out->actor_key_id) != 0 ||
              copy_field(root, "purpose", out->purpose, sizeof out->purpose) != 0 ||
              copy_field(root, "outcome", out->outcome, sizeof out->outcome) != 0;
    if (!bad) {
        out->submitted_ms = json_integer_value(json_object_get(root, "submitted_ms"));
        out->received_ms = json_integer_value(json_object_get(root, "received_ms"));
        out->due_ms = json_integer_value(json_object_get(root, "due_ms"));
        out->updated_ms = json_integer_value(json_object_get(root, "updated_ms"));
        out->found = json_is_true(json_object_get(root, "found"));
        json_t *result = json_object_get(root, "result");
        if (json_is_object(result)) {
            char *text = json_dumps(result, JSON_COMPACT | JSON_PRESERVE_ORDER);
            out->result_json = text ? cdp_strdup(text) : NULL;
            free(text);
            if (out->result_json == NULL) {
                json_decref(root);
                return cdp_err_set(err, CDP_NOMEM, "out of memory");
            }
        }
    }
    json_decref(root);
    if (bad) {
        cdp_dsr_record_clear(out);
        return cdp_err_set(err, CDP_CORRUPT, "data-subject request record does not decode");
    }
    return CDP_OK;
}

cdp_status cdp_dsr_record_get(cdp_region *region, const char *id, cdp_dsr_record *out,
                              cdp_err *err) {
    char key[64];
    uint8_t *value = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    record_key(id, key, sizeof key);
    cdp_status status =
        cdp_region_get(region, CDP_CF_META, (const uint8_t *)key, strlen(key), &value, &len, err);
    if (status == CDP_NOT_FOUND)
        return cdp_err_set(err, CDP_NOT_FOUND, "subject_request_id: no request with this id");
    if (status == CDP_OK)
        status = record_decode(value, len, out, err);
    cdp_region_free_value(value);
    return status;
}

cdp_status cdp_dsr_record_put(cdp_batch *batch, cdp_region *region, const cdp_dsr_record *record,
                              cdp_err *err) {
    char key[64];
    record_key(record->id, key, sizeof key);
    json_t *root = record_store_json(record);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (text == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    cdp_batch_put(batch, region, CDP_CF_META, (const uint8_t *)key, strlen(key),
                  (const uint8_t *)text, strlen(text));
    free(text);
    return CDP_OK;
}

cdp_status cdp_dsr_record_each(cdp_region *region,
                               int (*fn)(void *ctx, const cdp_dsr_record *record), void *ctx,
                               cdp_err *err) {
    cdp_iter *iter = NULL;
    cdp_status status = cdp_region_iter(region, CDP_CF_META, (const uint8_t *)RECORD_PREFIX,
                                        strlen(RECORD_PREFIX), &iter, err);
    for (; status == CDP_OK && cdp_iter_valid(iter); cdp_iter_next(iter)) {
        size_t len = 0;
        const uint8_t *value = cdp_iter_value(iter, &len);
        cdp_dsr_record record;
        status = record_decode(value, len, &record, err);
        if (status != CDP_OK)
            break;
        int stop = fn(ctx, &record);
        cdp_dsr_record_clear(&record);
        if (stop)
            break;
    }
    if (status == CDP_OK && iter != NULL)
        status = cdp_iter_status(iter, err);
    cdp_iter_free(iter);
    return status;
}

json_t *cdp_dsr_record_json(const cdp_dsr_record *r) {
    char submitted[32], received[32], due[32], updated[32];
    cdp_dsr_format_time(r->submitted_ms, submitted);
    cdp_dsr_format_time(r->received_ms, received);
    cdp_dsr_format_time(r->due_ms, due);
    cdp_dsr_format_time(r->updated_ms, updated);
    json_t *types = json_array();
    char copy[sizeof r->identity_types];
    snprintf(copy, sizeof copy, "%s", r->identity_types);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL && types; t = strtok_r(NULL, ",", &save))
        json_array_append_new(types, json_string(t));
    json_t *answer = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "subject_request_id",
        r->id, "subject_request_type", cdp_dsr_type_name(r->type), "request_status",
        cdp_dsr_state_name(r->state), "regulation", r->regulation, "api_version", r->api_version,
        "submitted_time", submitted, "received_time", received, "expected_completion_time", due,
        "updated_time", updated, "identity_types", types ? types : json_array(), "profile_id",
        r->found ? json_string(r->profile_id) : json_null(), "outcome",
        r->outcome[0] ? json_string(r->outcome) : json_null());
    if (answer != NULL && r->region[0])
        json_object_set_new(answer, "region", json_string(r->region));
    return answer;
}
