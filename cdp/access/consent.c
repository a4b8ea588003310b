/* The consent API: POST /v1/consent (cdp_consent_set) and GET /v1/profiles/REF/consent
 * (cdp_profile_consent). A consent request is validated whole before anything is written; its
 * records (explicit purposes, TCF-derived purposes, the GPC opt-out) and its audit entry go into
 * one synced batch in the person's home region. */
#include <jansson.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "access/access_internal.h"
#include "consent/consent.h"
#include "consent/tcf.h"
#include "consent/tcf_map.h"
#include "identity/normalize.h"
#include "identity/resolve.h"
#include "identity/segment.h"
#include "util/alloc.h"

#define PURPOSES_MAX 32
#define NOTICE_VERSION_MAX 128
#define SOURCE_MAX 64
#define FUTURE_SKEW_MS (5 * 60 * 1000) /* a consent time may run this far ahead of our clock */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The time of a consent the request did not date: our clock, but never equal to or before the
 * last one this process stamped. Two choices made in the same millisecond (denied, then granted)
 * must keep their order: on equal times the stricter choice wins (a rule meant for records dated
 * by their sources), which would otherwise lose the later grant. */
static int64_t stamp_ms(void) {
    static _Atomic int64_t last;
    int64_t now = now_ms();
    int64_t seen = atomic_load(&last);
    for (;;) {
        int64_t stamp = now > seen ? now : seen + 1;
        if (atomic_compare_exchange_weak(&last, &seen, stamp))
            return stamp;
    }
}

/* A validated POST /v1/consent body. Strings borrowed from the JSON. */
typedef struct consent_request {
    const char *identity_type;
    const char *identity_value;
    size_t identity_len;
    struct {
        const char *purpose; /* static, from the policy */
        cdp_consent_state state;
        int from_tcf;
    } purposes[PURPOSES_MAX];
    size_t purpose_count;
    const char *source;
    const char *notice_version;
    const char *tcf_text;
    cdp_tcf tcf;
    int gpc;
    const char *timestamp_text;
    int64_t time_ms;
} consent_request;

/* The string's text; NULL for a non-string or one with an embedded NUL. */
static const char *plain_string(json_t *value) {
    const char *text = json_string_value(value);
    return text != NULL && strlen(text) == json_string_length(value) ? text : NULL;
}

static int printable(const char *text) {
    for (; *text; text++)
        if ((unsigned char)*text < 0x20 || *text == 0x7f)
            return 0;
    return 1;
}

static cdp_status parse_request(const cdp_policy *policy, const cdp_actor *actor, json_t *root,
                                int header_gpc, int64_t now, consent_request *req,
                                cdp_err *err) {
    static const char *const known[] = {"identity", "purposes", "source", "notice_version",
                                        "tcf",      "gpc",      "timestamp"};
    if (!json_is_object(root))
        return cdp_err_set(err, CDP_BAD_REQUEST, "body: must be a JSON object");
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        size_t k = 0;
        while (k < sizeof known / sizeof *known && strcmp(known[k], key) != 0)
            k++;
        if (k == sizeof known / sizeof *known)
            return cdp_err_set(err, CDP_BAD_REQUEST, "%.64s: unknown field", key);
    }
    json_t *identity = json_object_get(root, "identity");
    if (!json_is_object(identity))
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "identity: required object {\"type\", \"value\"}");
    req->identity_type = plain_string(json_object_get(identity, "type"));
    req->identity_value = plain_string(json_object_get(identity, "value"));
    if (req->identity_type == NULL || *req->identity_type == '\0')
        return cdp_err_set(err, CDP_BAD_REQUEST, "identity.type: required string");
    if (strcmp(req->identity_type, "profile") == 0)
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "identity.type: a person's identifier (email, user_id, ...), not a "
                           "profile id");
    if (req->identity_value == NULL || *req->identity_value == '\0')
        return cdp_err_set(err, CDP_BAD_REQUEST, "identity.value: required string");
    req->identity_len = strlen(req->identity_value);

    json_t *source = json_object_get(root, "source");
    req->source = actor->source[0] ? actor->source : "api";
    if (source != NULL) {
        req->source = plain_string(source);
        if (req->source == NULL || *req->source == '\0' || strlen(req->source) > SOURCE_MAX ||
            !printable(req->source))
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "source: must be a string of 1 to %d printable bytes", SOURCE_MAX);
    }
    json_t *notice = json_object_get(root, "notice_version");
    if (notice != NULL && !json_is_null(notice)) {
        req->notice_version = plain_string(notice);
        if (req->notice_version == NULL || *req->notice_version == '\0' ||
            strlen(req->notice_version) > NOTICE_VERSION_MAX || !printable(req->notice_version))
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "notice_version: must be a string of 1 to %d printable bytes",
                               NOTICE_VERSION_MAX);
    }
    json_t *gpc = json_object_get(root, "gpc");
    if (gpc != NULL && !json_is_boolean(gpc))
        return cdp_err_set(err, CDP_BAD_REQUEST, "gpc: must be true or false");
    req->gpc = header_gpc || json_is_true(gpc);

    json_t *timestamp = json_object_get(root, "timestamp");
    req->time_ms = timestamp != NULL ? now : stamp_ms();
    if (timestamp != NULL) {
        req->timestamp_text = plain_string(timestamp);
        if (req->timestamp_text == NULL ||
            cdp_segment_parse_time(req->timestamp_text, &req->time_ms) != 0 || req->time_ms < 0)
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "timestamp: not an ISO-8601 time (e.g. 2024-05-01T10:00:00Z)");
        /* The latest decision wins: a time far ahead would pin a state against later ones. */
        if (req->time_ms > now + FUTURE_SKEW_MS)
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "timestamp: more than 5 minutes in the future");
    }

    json_t *purposes = json_object_get(root, "purposes");
    if (purposes != NULL && !json_is_object(purposes))
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "purposes: must be an object {purpose: \"granted\"|\"denied\"|"
                           "\"withdrawn\"}");
    json_object_foreach(purposes, key, value) {
        const char *canonical = NULL;
        if (!cdp_consent_purpose_known(policy, key, &canonical))
            return cdp_err_set(err, CDP_BAD_REQUEST, "purposes.%.64s: unknown purpose", key);
        const char *state_text = plain_string(value);
        cdp_consent_state state;
        if (state_text == NULL || cdp_consent_state_from_text(state_text, &state) != 0)
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "purposes.%s: state must be \"granted\", \"denied\" or "
                               "\"withdrawn\"",
                               canonical);
        if (req->purpose_count == PURPOSES_MAX)
            return cdp_err_set(err, CDP_BAD_REQUEST, "purposes: more than %d", PURPOSES_MAX);
        req->purposes[req->purpose_count].purpose = canonical;
        req->purposes[req->purpose_count].state = state;
        req->purposes[req->purpose_count].from_tcf = 0;
        req->purpose_count++;
    }

    json_t *tcf = json_object_get(root, "tcf");
    if (tcf != NULL && !json_is_null(tcf)) {
        req->tcf_text = plain_string(tcf);
        if (req->tcf_text == NULL)
            return cdp_err_set(err, CDP_BAD_REQUEST, "tcf: must be a TC string");
        cdp_status status = cdp_tcf_decode(req->tcf_text, strlen(req->tcf_text), &req->tcf, err);
        if (status == CDP_PAYLOAD_TOO_LARGE)
            status = cdp_err_set(err, CDP_BAD_REQUEST, "tcf: longer than %u bytes",
                                 CDP_TCF_MAX_BYTES);
        if (status != CDP_OK)
            return status; /* "tcf: <reason>" */
        cdp_consent_tcf_state mapped[CDP_CONSENT_TCF_MAPPED_MAX];
        size_t mapped_count = 0;
        cdp_consent_map_tcf(policy, &req->tcf, mapped, CDP_CONSENT_TCF_MAPPED_MAX, &mapped_count);
        for (size_t m = 0; m < mapped_count; m++) {
            /* Explicit entries win over what the TC string says for the same purpose. */
            size_t k = 0;
            while (k < req->purpose_count && strcmp(req->purposes[k].purpose, mapped[m].purpose))
                k++;
            if (k < req->purpose_count)
                continue;
            if (req->purpose_count == PURPOSES_MAX)
                return cdp_err_set(err, CDP_BAD_REQUEST, "purposes: more than %d", PURPOSES_MAX);
            req->purposes[k].purpose = mapped[m].purpose;
            req->purposes[k].state = mapped[m].state;
            req->purposes[k].from_tcf = 1;
            req->purpose_count++;
        }
    }
    if (req->purpose_count == 0 && !req->gpc)
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "purposes: required (at least one purpose, a tcf string or gpc)");
    return CDP_OK;
}

/* A person for an identifier nobody holds yet, made through the ingest path (rules, blocked
 * values, suppression of erased people, audit) with a synthetic identify message, so consent
 * can come before any event. */
static cdp_status create_person(const cdp_identity_env *env, const cdp_actor *actor,
                                const consent_request *req, int64_t now,
                                cdp_ingest_outcome *outcome, cdp_err *err) {
    const char *type = req->identity_type, *value = req->identity_value;
    uint8_t random_id[16];
    char message_id[48];
    randombytes_buf(random_id, sizeof random_id);
    memcpy(message_id, "consent-", 8);
    cdp_hex_encode(message_id + 8, random_id, sizeof random_id);
    json_t *message = json_pack("{s:s, s:s}", "type", "identify", "messageId", message_id);
    int placeholder = 0;
    if (message == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    if (strcmp(type, "user_id") == 0) {
        json_object_set_new(message, "userId", json_string(value));
    } else if (strcmp(type, "anonymous_id") == 0) {
        json_object_set_new(message, "anonymousId", json_string(value));
    } else {
        /* Identify needs userId or anonymousId: a placeholder, dropped after parsing. */
        json_object_set_new(message, "anonymousId", json_string(message_id));
        placeholder = 1;
        if (strcmp(type, "email") == 0 || strcmp(type, "phone") == 0)
            json_object_set_new(message, "traits", json_pack("{s:s}", type, value));
        else if (strcmp(type, "device_id") == 0)
            json_object_set_new(message, "context", json_pack("{s:{s:s}}", "device", "id", value));
        else
            json_object_set_new(message, "context",
                                json_pack("{s:[{s:s, s:s}]}", "externalIds", "id", value, "type",
                                          type));
    }
    if (req->timestamp_text != NULL)
        json_object_set_new(message, "timestamp", json_string(req->timestamp_text));
    cdp_segment_message parsed;
    memset(&parsed, 0, sizeof parsed);
    cdp_status status = cdp_segment_parse(message, "identify", &parsed, err);
    if (status != CDP_OK)
        cdp_err_prefix(err, "identity");
    if (status == CDP_OK && placeholder) {
        /* Shift the entries, not their storage: pointers into identifier_text stay valid. */
        size_t kept = 0;
        for (size_t i = 0; i < parsed.identifier_count; i++)
            if (strcmp(parsed.identifiers[i].type, "anonymous_id") != 0)
                parsed.identifiers[kept++] = parsed.identifiers[i];
        parsed.identifier_count = kept;
    }
    if (status == CDP_OK)
        status = cdp_identity_ingest(env, actor, &parsed, 0, now, outcome, err);
    cdp_segment_message_clear(&parsed);
    json_decref(message);
    return status;
}

static cdp_status finish_json(json_t *object, char **json, cdp_err *err) {
    char *text = object ? json_dumps(object, JSON_COMPACT) : NULL;
    json_decref(object);
    if (text == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    *json = cdp_strdup(text);
    free(text);
    return *json ? CDP_OK : cdp_err_set(err, CDP_NOMEM, "out of memory");
}

static int sale_share(const cdp_policy *policy, const char *purpose) {
    size_t count = 0;
    const char *const *purposes = cdp_consent_sale_share_purposes(policy, &count);
    for (size_t i = 0; i < count; i++)
        if (strcmp(purposes[i], purpose) == 0)
            return 1;
    return 0;
}

/* Under the person's region lock: the records and the audit entry, one synced batch. */
static cdp_status write_consent(const cdp_identity_env *env, const cdp_actor *actor,
                                size_t region_index, const uint8_t profile_id[16],
                                const consent_request *req, json_t *recorded,
                                const char **gpc_answer, cdp_err *err) {
    cdp_vault *vault = env->vaults[region_index];
    cdp_person person;
    cdp_profile_record profile = {0};
    cdp_buf plain = {0};
    cdp_batch *batch = cdp_batch_new();
    memset(&person, 0, sizeof person);
    if (batch == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    cdp_status status = cdp_vault_get_person_record(vault, profile_id, CDP_CF_PROFILES, profile_id,
                                                    CDP_PROFILE_ID_BYTES, &person, &plain, err);
    if (status == CDP_OK)
        status = cdp_profile_record_decode(plain.data, plain.len, &profile, err);
    if (status == CDP_NOT_FOUND)
        status = cdp_err_set(err, CDP_CONFLICT,
                             "identity: the person changed during the request; try again");
    const char *request_id = actor->request_id[0] ? actor->request_id : NULL;
    int honoured = 0;
    if (status == CDP_OK && req->gpc)
        honoured = cdp_consent_regime_honours_gpc(env->policy,
                                                  cdp_consent_regime_of(env->policy, &profile));
    *gpc_answer = !req->gpc ? "absent" : honoured ? "honoured" : "not_applicable";
    for (size_t i = 0; status == CDP_OK && i < req->purpose_count; i++) {
        if (honoured && sale_share(env->policy, req->purposes[i].purpose))
            continue; /* the GPC opt-out below decides sale/share purposes */
        cdp_consent_entry entry = {
            .purpose = req->purposes[i].purpose,
            .state = req->purposes[i].state,
            .time_ms = req->time_ms,
            .source = req->source,
            .notice_version = req->notice_version,
            .tcf = req->purposes[i].from_tcf ? req->tcf_text : NULL,
            .request_id = request_id,
        };
        status = cdp_consent_put(vault, batch, &person, &entry, err);
        if (status == CDP_OK)
            json_object_set_new(recorded, entry.purpose,
                                json_string(cdp_consent_state_text(entry.state)));
    }
    if (status == CDP_OK && honoured) {
        size_t count = 0;
        const char *const *purposes = cdp_consent_sale_share_purposes(env->policy, &count);
        for (size_t i = 0; status == CDP_OK && i < count; i++) {
            cdp_consent_entry entry = {
                .purpose = purposes[i],
                .state = CDP_CONSENT_STATE_DENIED,
                .time_ms = req->time_ms,
                .source = req->source,
                .notice_version = req->notice_version,
                .tcf = req->tcf_text,
                .gpc = 1,
                .request_id = request_id,
            };
            status = cdp_consent_put(vault, batch, &person, &entry, err);
            if (status == CDP_OK)
                json_object_set_new(recorded, entry.purpose, json_string("denied"));
        }
    }
    if (status == CDP_OK) {
        static const char *const categories[] = {"consent"};
        cdp_audit_entry audit = {
            .time_ms = now_ms(),
            .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
            .actor_role = cdp_role_name(actor->role),
            .operation = "consent.set",
            .profile_id = person.profile_id,
            .categories = categories,
            .category_count = 1,
            .decision = CDP_AUDIT_ALLOW,
            .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
        };
        /* Synced: the consent is durable when the call returns. */
        status = cdp_audit_write(env->audit_logs[region_index], batch, &audit, 1, 1, NULL, err);
    }
    cdp_batch_free(batch);
    cdp_buf_free_secret(&plain);
    cdp_profile_record_clear(&profile);
    cdp_person_wipe(&person);
    return status;
}

cdp_status cdp_access_consent_set(const cdp_identity_env *env, const cdp_actor *actor,
                                  const char *body, size_t len, int gpc, char **json,
                                  cdp_err *caller_err) {
    cdp_err err = {0};
    if (actor->role != CDP_ROLE_INGEST && actor->role != CDP_ROLE_DPO)
        return cdp_err_set(caller_err, CDP_FORBIDDEN, "role %s may not record consent",
                           cdp_role_name(actor->role));
    json_t *root = NULL;
    consent_request req;
    memset(&req, 0, sizeof req);
    cdp_buf normalized = {0};
    json_t *recorded = NULL;
    int64_t now = now_ms();
    cdp_status status = cdp_segment_decode_json(body, len, &root, &err);
    if (status == CDP_OK && len > CDP_SEGMENT_EVENT_MAX)
        status = cdp_err_set(&err, CDP_PAYLOAD_TOO_LARGE, "body: more than %u bytes",
                             CDP_SEGMENT_EVENT_MAX);
    if (status == CDP_OK)
        status = parse_request(env->policy, actor, root, gpc, now, &req, &err);
    if (status == CDP_OK) {
        const cdp_region_policy *home = cdp_policy_region(env->policy, actor->region);
        status = cdp_normalize_identifier(req.identity_type, req.identity_value, req.identity_len,
                                          home ? home->default_country : NULL, &normalized, &err);
        if (status != CDP_OK)
            cdp_err_prefix(&err, "identity");
    }
    if (status == CDP_OK && (recorded = json_object()) == NULL)
        status = cdp_err_set(&err, CDP_NOMEM, "out of memory");
    size_t region_index = 0;
    uint8_t profile_id[CDP_PROFILE_ID_BYTES];
    const char *gpc_answer = "absent";
    if (status == CDP_OK) {
        status = cdp_identity_lookup(env, req.identity_type, (const char *)normalized.data,
                                     &region_index, profile_id, &err);
    }
    if (status == CDP_NOT_FOUND) {
        cdp_err_clear(&err);
        cdp_ingest_outcome outcome;
        status = create_person(env, actor, &req, now, &outcome, &err);
        if (status == CDP_OK) {
            region_index = outcome.region_index;
            if (cdp_hex_decode(profile_id, sizeof profile_id, outcome.profile_id,
                               strlen(outcome.profile_id)) != 0)
                status = cdp_err_set(&err, CDP_INTERNAL, "identity: no profile was made");
        }
    }
    if (status == CDP_OK) {
        pthread_mutex_lock(&env->region_locks[region_index]);
        status = write_consent(env, actor, region_index, profile_id, &req, recorded, &gpc_answer,
                               &err);
        pthread_mutex_unlock(&env->region_locks[region_index]);
    }
    if (status == CDP_OK) {
        char hex[2 * CDP_PROFILE_ID_BYTES + 1];
        cdp_hex_encode(hex, profile_id, sizeof profile_id);
        status = finish_json(json_pack("{s:s, s:O, s:s}", "profile_id", hex, "recorded", recorded,
                                       "gpc", gpc_answer),
                             json, &err);
    }
    json_decref(recorded);
    cdp_buf_free(&normalized);
    cdp_tcf_clear(&req.tcf);
    json_decref(root);
    if (status != CDP_OK)
        *caller_err = err;
    return status;
}

/* ---- GET /v1/profiles/REF/consent ------------------------------------------------------------ */

static json_t *optional_string(const char *text) {
    return text != NULL ? json_string(text) : json_null();
}

cdp_status cdp_access_profile_consent(const cdp_identity_env *env, const cdp_actor *actor,
                                      const char *purpose, const char *ref, char **json,
                                      cdp_err *err) {
    cdp_status status = cdp_access_precheck(env, actor, purpose, "profile.consent", err);
    if (status != CDP_OK)
        return status;
    cdp_access_person opened;
    cdp_consent_view view = {0};
    status = cdp_access_resolve(env, actor, ref, &opened, err);
    size_t region_index = opened.region_index;
    cdp_person person = opened.person;
    cdp_profile_record profile = opened.profile;
    if (status == CDP_OK && !env->enforcement_disabled) {
        /* The consent state is personal data: read from outside the person's home region it is
         * a transfer, allowed only where a transfer rule permits the purpose, like every other
         * read. (Consent itself does not gate it: the caller reads it to learn what it may do.) */
        cdp_access_question question =
            cdp_access_question_for(env, actor, purpose, &opened, NULL);
        question.consent = CDP_CONSENT_STATE_GRANTED;
        question.restricted = 0;
        cdp_access_answer answer = cdp_policy_decide(env->policy, &question);
        if (answer.kind == CDP_DECISION_DENY && answer.status == CDP_RESIDENCY_DENIED) {
            cdp_access_count(answer.reason, 1);
            status = cdp_access_audit(env, region_index, actor, "profile.consent", purpose,
                                      person.profile_id, &answer, CDP_AUDIT_DENY, NULL, 0, err);
            if (status == CDP_OK)
                status = cdp_err_set(err, CDP_RESIDENCY_DENIED,
                                     "residency: this person's data may not be read from this "
                                     "region for %s (%s)",
                                     purpose, answer.reason);
        }
    }
    if (status == CDP_OK && !env->audit_disabled) {
        /* Audited before any data leaves. */
        static const char *const categories[] = {"consent"};
        cdp_audit_entry audit = {
            .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
            .actor_role = cdp_role_name(actor->role),
            .operation = "profile.consent",
            .purpose = cdp_audit_token_ok(purpose) ? purpose : NULL,
            .profile_id = person.profile_id,
            .categories = categories,
            .category_count = 1,
            .decision = CDP_AUDIT_ALLOW,
            .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
        };
        status = cdp_audit_write(env->audit_logs[region_index], NULL, &audit, 1, 0, NULL, err);
    }
    if (status == CDP_OK)
        status = cdp_consent_current(env->vaults[region_index], &person,
                                     (const char *const *)profile.merged_from,
                                     profile.merged_from_count, &view, err);
    if (status == CDP_OK) {
        const char *regime = cdp_consent_regime_of(env->policy, &profile);
        int signal = 0;
        json_t *purposes = json_object();
        for (size_t i = 0; i < view.count; i++) {
            const cdp_consent_record *record = &view.current[i];
            signal |= record->gpc;
            json_object_set_new(
                purposes, record->purpose,
                json_pack("{s:s, s:I, s:s, s:o, s:{s:o, s:b, s:o}}", "state",
                          cdp_consent_state_text(record->state), "time",
                          (json_int_t)record->time_ms, "source", record->source,
                          "notice_version", optional_string(record->notice_version), "proof",
                          "tcf", optional_string(record->tcf), "gpc", record->gpc, "request_id",
                          optional_string(record->request_id)));
        }
        int honoured = signal && cdp_consent_regime_honours_gpc(env->policy, regime);
        status = finish_json(json_pack("{s:s, s:s, s:o, s:o, s:{s:b, s:b, s:o}}", "profile_id",
                                       profile.profile_id, "region", profile.region, "regime",
                                       optional_string(regime), "purposes", purposes, "gpc",
                                       "signal", signal, "honoured", honoured, "regime",
                                       optional_string(regime)),
                             json, err);
    }
    cdp_consent_view_clear(&view);
    cdp_access_person_clear(&opened);
    return status;
}
