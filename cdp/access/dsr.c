/* Data-subject requests through the one door (role dpo): submission (validated whole, identities
 * resolved to the person at once, only metadata persisted), status, result, cancel, the worker
 * that carries them out (erasure, restriction, rectification, objection; access and portability
 * are generated at GET /result), and rectification and objection as direct calls. Every step is
 * audited as "dsr.<type>" in the default region, in the same write as the request record. */
#include <ctype.h>
#include <sodium.h>
#include <time.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access_internal.h"
#include "access/dsr.h"
#include "consent/consent.h"
#include "identity/normalize.h"
#include "privacy/dsr.h"
#include "privacy/rectify.h"
#include "util/alloc.h"

#define TRAITS_PREFIX "dsr/traits/"

static int64_t dsr_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cdp_status require_dpo(const cdp_actor *actor, const char *what, cdp_err *err) {
    if (actor->role != CDP_ROLE_DPO)
        return cdp_err_set(err, CDP_FORBIDDEN,
                           "role %s may not %s (data-subject requests are for the dpo role)",
                           cdp_role_name(actor->role), what);
    return CDP_OK;
}

static size_t region_index_of(const cdp_identity_env *env, const char *region) {
    for (size_t r = 0; region != NULL && r < env->region_count; r++)
        if (strcmp(env->region_ids[r], region) == 0)
            return r;
    return env->region_count;
}

/* Requests live in the default region. */
static size_t home_index(const cdp_identity_env *env) {
    size_t index = region_index_of(env, cdp_policy_default_region(env->policy));
    return index < env->region_count ? index : 0;
}

static cdp_region *home_region(const cdp_identity_env *env) {
    return cdp_vault_region(env->vaults[home_index(env)]);
}

static cdp_status finish_json(json_t *object, char **json, cdp_err *err) {
    char *text = object ? json_dumps(object, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(object);
    if (text == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    *json = cdp_strdup(text);
    free(text);
    return *json ? CDP_OK : cdp_err_set(err, CDP_NOMEM, "out of memory");
}

/* Writes the record and its audit entry (operation "dsr.<type>", reason step) atomically. */
static cdp_status save_record(const cdp_identity_env *env, const cdp_actor *actor,
                              const cdp_dsr_record *record, const char *step, cdp_err *err) {
    size_t home = home_index(env);
    cdp_batch *batch = cdp_batch_new();
    if (batch == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    cdp_status status = cdp_dsr_record_put(batch, cdp_vault_region(env->vaults[home]), record,
                                           err);
    char operation[32];
    snprintf(operation, sizeof operation, "dsr.%s", cdp_dsr_type_name(record->type));
    uint8_t profile_id[CDP_PROFILE_ID_BYTES];
    int has_profile = record->found &&
                      cdp_hex_decode(profile_id, sizeof profile_id, record->profile_id,
                                     strlen(record->profile_id)) == 0;
    if (status == CDP_OK) {
        cdp_audit_entry entry = {
            .time_ms = record->updated_ms,
            .actor_key_id = actor != NULL && cdp_audit_token_ok(actor->key_id) ? actor->key_id
                            : cdp_audit_token_ok(record->actor_key_id) ? record->actor_key_id
                                                                        : "unknown",
            .actor_role = "dpo",
            .operation = operation,
            .lawful_basis = "legal_obligation",
            .profile_id = has_profile ? profile_id : NULL,
            .decision = CDP_AUDIT_ALLOW,
            .reason = step,
            .request_id = record->id,
        };
        status = cdp_audit_write(env->audit_logs[home], batch, &entry, 1, 1, NULL, err);
    }
    cdp_batch_free(batch);
    return status;
}

/* ---- submission ------------------------------------------------------------------------------ */

static int known_purpose(const void *ctx, const char *purpose) {
    return cdp_policy_purpose((const cdp_policy *)ctx, purpose) != NULL;
}

/* Resolves every identity; they must all name the same person (or nobody). */
static cdp_status resolve_identities(const cdp_identity_env *env, const cdp_actor *actor,
                                     const cdp_dsr_parsed *parsed, int *found,
                                     size_t *region_index, uint8_t profile_id[16], cdp_err *err) {
    *found = 0;
    const cdp_region_policy *home = cdp_policy_region(env->policy, actor->region);
    for (size_t i = 0; i < parsed->identity_count; i++) {
        const cdp_dsr_identity *identity = &parsed->identities[i];
        char type[48];
        cdp_buf value = {0};
        cdp_status status;
        if (identity->sha256) {
            /* Already a hash: only its case is normalized. The index holds lowercase hex. */
            snprintf(type, sizeof type, "sha256:%s", identity->type);
            status = cdp_buf_append(&value, identity->value, identity->len + 1);
            for (size_t k = 0; status == CDP_OK && k < identity->len; k++)
                value.data[k] = (uint8_t)tolower(value.data[k]);
            if (status != CDP_OK)
                status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        } else {
            snprintf(type, sizeof type, "%s", identity->type);
            status = cdp_normalize_identifier(identity->type, identity->value, identity->len,
                                              home ? home->default_country : NULL, &value, err);
            if (status != CDP_OK)
                cdp_err_prefix(err, "subject_identities.%s", identity->type);
        }
        size_t r = 0;
        uint8_t id[CDP_PROFILE_ID_BYTES];
        if (status == CDP_OK)
            status = cdp_identity_lookup(env, type, (const char *)value.data, &r, id, err);
        cdp_buf_free_secret(&value);
        if (status == CDP_NOT_FOUND) {
            cdp_err_clear(err);
            continue;
        }
        if (status != CDP_OK)
            return status;
        if (*found && (r != *region_index || memcmp(id, profile_id, sizeof id) != 0))
            return cdp_err_set(err, CDP_BAD_REQUEST,
                               "subject_identities: the identities name different people; send "
                               "one request per person");
        *found = 1;
        *region_index = r;
        memcpy(profile_id, id, sizeof id);
    }
    return CDP_OK;
}

static json_t *accepted_json(const cdp_dsr_record *record) {
    char received[32], due[32];
    cdp_dsr_format_time(record->received_ms, received);
    cdp_dsr_format_time(record->due_ms, due);
    return json_pack("{s:s, s:s, s:s, s:s}", "subject_request_id", record->id, "received_time",
                     received, "expected_completion_time", due, "request_status",
                     cdp_dsr_state_name(record->state));
}

/* Seals the corrected traits of a rectification under the person's own data key (they are
 * personal data), in their home region, until the worker applies them. */
static cdp_status seal_traits(const cdp_identity_env *env, size_t region_index,
                              const uint8_t profile_id[16], const char *id, json_t *traits,
                              cdp_err *err) {
    cdp_vault *vault = env->vaults[region_index];
    cdp_person person;
    char key[64];
    snprintf(key, sizeof key, TRAITS_PREFIX "%s", id);
    char *text = json_dumps(traits, JSON_COMPACT);
    cdp_batch *batch = cdp_batch_new();
    cdp_status status = text && batch ? CDP_OK : cdp_err_set(err, CDP_NOMEM, "out of memory");
    memset(&person, 0, sizeof person);
    if (status == CDP_OK)
        status = cdp_vault_load_person(vault, profile_id, &person, err);
    if (status == CDP_OK)
        status = cdp_vault_put(vault, batch, &person, CDP_CF_META, (const uint8_t *)key,
                               strlen(key), (const uint8_t *)text, strlen(text), err);
    if (status == CDP_OK)
        status = cdp_region_write(cdp_vault_region(vault), batch, 1, err);
    cdp_person_wipe(&person);
    cdp_batch_free(batch);
    if (text != NULL) {
        sodium_memzero(text, strlen(text));
        free(text);
    }
    return status;
}

static cdp_status open_traits(const cdp_identity_env *env, size_t region_index,
                              const uint8_t profile_id[16], const char *id, json_t **traits,
                              cdp_err *err) {
    cdp_vault *vault = env->vaults[region_index];
    cdp_person person;
    cdp_buf plain = {0};
    char key[64];
    snprintf(key, sizeof key, TRAITS_PREFIX "%s", id);
    *traits = NULL;
    cdp_status status = cdp_vault_get_person_record(vault, profile_id, CDP_CF_META,
                                                    (const uint8_t *)key, strlen(key), &person,
                                                    &plain, err);
    if (status == CDP_OK) {
        *traits = json_loadb((const char *)plain.data, plain.len, 0, NULL);
        if (*traits == NULL)
            status = cdp_err_set(err, CDP_CORRUPT, "rectification traits do not decode");
    }
    cdp_buf_free_secret(&plain);
    cdp_person_wipe(&person);
    return status;
}

cdp_status cdp_access_dsr_submit(const cdp_identity_env *env, const cdp_actor *actor,
                                 const char *body, size_t len, int64_t now_ms, char **json,
                                 int *created, cdp_err *err) {
    *created = 0;
    cdp_status status = require_dpo(actor, "submit data-subject requests", err);
    if (status != CDP_OK)
        return status;
    json_error_t json_error;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL)
        return cdp_err_set(err, CDP_INVALID_JSON, "body: line %d column %d: %s", json_error.line,
                           json_error.column, json_error.text);
    cdp_dsr_parsed parsed;
    cdp_dsr_record record, existing;
    memset(&record, 0, sizeof record);
    memset(&existing, 0, sizeof existing);
    status = cdp_dsr_parse(env->rules, root, known_purpose, env->policy, &parsed, err);
    if (status == CDP_OK && parsed.traits != NULL) {
        status = cdp_rectify_check(parsed.traits, err);
        if (status != CDP_OK)
            cdp_err_prefix(err, "extensions.cdp");
    }
    int found = 0;
    size_t region_index = 0;
    uint8_t profile_id[CDP_PROFILE_ID_BYTES];
    if (status == CDP_OK)
        status = resolve_identities(env, actor, &parsed, &found, &region_index, profile_id, err);
    /* The fingerprint of the whole body, keyed (blind-index key): tells an identical resubmission
     * from another request with the same id without storing anything personal. */
    if (status == CDP_OK) {
        char *canonical = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
        uint8_t blind[CDP_BLIND_BYTES];
        status = canonical ? cdp_vault_blind(env->vaults[home_index(env)], "dsr.request",
                                             (const uint8_t *)canonical, strlen(canonical),
                                             blind, err)
                           : cdp_err_set(err, CDP_NOMEM, "out of memory");
        if (canonical != NULL) {
            sodium_memzero(canonical, strlen(canonical));
            free(canonical);
        }
        if (status == CDP_OK)
            cdp_hex_encode(record.fingerprint, blind, sizeof blind);
    }
    if (status == CDP_OK) {
        memcpy(record.id, parsed.id, sizeof record.id);
        record.type = parsed.type;
        snprintf(record.regulation, sizeof record.regulation, "%s", parsed.regulation);
        snprintf(record.api_version, sizeof record.api_version, "%s", parsed.api_version);
        record.submitted_ms = parsed.submitted_ms;
        record.received_ms = now_ms;
        record.updated_ms = now_ms;
        record.due_ms = cdp_dsr_due_ms(parsed.regulation, parsed.submitted_ms);
        record.found = found;
        record.state = found ? CDP_DSR_PENDING : CDP_DSR_COMPLETED;
        snprintf(record.outcome, sizeof record.outcome, "%s", found ? "" : "not_found");
        if (found) {
            cdp_hex_encode(record.profile_id, profile_id, sizeof profile_id);
            snprintf(record.region, sizeof record.region, "%s", env->region_ids[region_index]);
        }
        snprintf(record.actor_key_id, sizeof record.actor_key_id, "%s", actor->key_id);
        if (parsed.purpose != NULL)
            snprintf(record.purpose, sizeof record.purpose, "%s", parsed.purpose);
        size_t used = 0;
        for (size_t i = 0; i < parsed.identity_count; i++) {
            int n = snprintf(record.identity_types + used, sizeof record.identity_types - used,
                             "%s%s%s", i ? "," : "", parsed.identities[i].sha256 ? "sha256:" : "",
                             parsed.identities[i].type);
            if (n < 0 || (size_t)n >= sizeof record.identity_types - used)
                break;
            used += (size_t)n;
        }
    }
    if (status == CDP_OK) {
        cdp_dsr_lock();
        status = cdp_dsr_record_get(home_region(env), record.id, &existing, err);
        if (status == CDP_OK) {
            if (strcmp(existing.fingerprint, record.fingerprint) == 0)
                status = finish_json(accepted_json(&existing), json, err);
            else
                status = cdp_err_set(err, CDP_CONFLICT,
                                     "subject_request_id: already used by another request");
        } else if (status == CDP_NOT_FOUND) {
            cdp_err_clear(err);
            status = CDP_OK;
            if (found && parsed.traits != NULL)
                status = seal_traits(env, region_index, profile_id, record.id, parsed.traits,
                                     err);
            if (status == CDP_OK)
                status = save_record(env, actor, &record, found ? "received" : "not_found", err);
            if (status == CDP_OK) {
                *created = 1;
                status = finish_json(accepted_json(&record), json, err);
            }
        }
        cdp_dsr_unlock();
    }
    cdp_dsr_record_clear(&existing);
    cdp_dsr_record_clear(&record);
    json_decref(root);
    return status;
}

/* ---- status, list, cancel, result ------------------------------------------------------------ */

static cdp_status load(const cdp_identity_env *env, const char *id, cdp_dsr_record *out,
                       cdp_err *err) {
    char lower[CDP_DSR_ID_MAX + 1];
    memset(out, 0, sizeof *out);
    if (id == NULL || strlen(id) != CDP_DSR_ID_MAX)
        return cdp_err_set(err, CDP_NOT_FOUND, "subject_request_id: no request with this id");
    for (size_t i = 0; i <= CDP_DSR_ID_MAX; i++)
        lower[i] = (char)tolower((unsigned char)id[i]);
    return cdp_dsr_record_get(home_region(env), lower, out, err);
}

cdp_status cdp_access_dsr_status(const cdp_identity_env *env, const cdp_actor *actor,
                                 const char *id, char **json, cdp_err *err) {
    cdp_status status = require_dpo(actor, "read data-subject requests", err);
    cdp_dsr_record record = {0};
    if (status == CDP_OK)
        status = load(env, id, &record, err);
    if (status == CDP_OK)
        status = finish_json(cdp_dsr_record_json(&record), json, err);
    cdp_dsr_record_clear(&record);
    return status;
}

static int list_one(void *ctx, const cdp_dsr_record *record) {
    json_array_append_new(ctx, cdp_dsr_record_json(record));
    return 0;
}

cdp_status cdp_access_dsr_list(const cdp_identity_env *env, const cdp_actor *actor, char **json,
                               cdp_err *err) {
    cdp_status status = require_dpo(actor, "list data-subject requests", err);
    if (status != CDP_OK)
        return status;
    json_t *items = json_array();
    if (items == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    status = cdp_dsr_record_each(home_region(env), list_one, items, err);
    if (status != CDP_OK) {
        json_decref(items);
        return status;
    }
    return finish_json(json_pack("{s:o}", "requests", items), json, err);
}

cdp_status cdp_access_dsr_cancel(const cdp_identity_env *env, const cdp_actor *actor,
                                 const char *id, int64_t now_ms, char **json, cdp_err *err) {
    cdp_status status = require_dpo(actor, "cancel data-subject requests", err);
    if (status != CDP_OK)
        return status;
    cdp_dsr_record record = {0};
    cdp_dsr_lock();
    status = load(env, id, &record, err);
    if (status == CDP_OK && record.state != CDP_DSR_PENDING)
        status = cdp_err_set(err, CDP_CONFLICT,
                             "request_status: %s; only a pending request can be cancelled",
                             cdp_dsr_state_name(record.state));
    if (status == CDP_OK) {
        record.state = CDP_DSR_CANCELLED;
        record.updated_ms = now_ms;
        snprintf(record.outcome, sizeof record.outcome, "cancelled");
        status = save_record(env, actor, &record, "cancelled", err);
    }
    cdp_dsr_unlock();
    if (status == CDP_OK)
        status = finish_json(cdp_dsr_record_json(&record), json, err);
    cdp_dsr_record_clear(&record);
    return status;
}

static cdp_status write_text(FILE *out, const char *text, cdp_err *err) {
    if (fputs(text, out) < 0 || fputc('\n', out) < 0 || fflush(out) != 0)
        return cdp_err_set(err, CDP_IO, "result: write failed");
    return CDP_OK;
}

cdp_status cdp_access_dsr_result(const cdp_identity_env *env, const cdp_actor *actor,
                                 const char *id, const char *format, FILE *out, cdp_err *err) {
    cdp_status status = require_dpo(actor, "read data-subject request results", err);
    cdp_dsr_record record = {0};
    if (status == CDP_OK)
        status = load(env, id, &record, err);
    if (status != CDP_OK)
        goto done;
    int export = record.found && (record.type == CDP_DSR_ACCESS ||
                                  record.type == CDP_DSR_PORTABILITY);
    if (format != NULL && strcmp(format, "json") != 0 &&
        !(strcmp(format, "avro") == 0 && record.type == CDP_DSR_PORTABILITY)) {
        status = cdp_err_set(err, CDP_BAD_REQUEST,
                             "format: \"json\"%s", record.type == CDP_DSR_PORTABILITY
                                                       ? " or \"avro\""
                                                       : " (avro is for portability requests)");
        goto done;
    }
    if (record.state != CDP_DSR_COMPLETED) {
        status = cdp_err_set(err, CDP_CONFLICT,
                             "request_status: %s; the result is there once the request is "
                             "completed",
                             cdp_dsr_state_name(record.state));
        goto done;
    }
    if (export) {
        cdp_actor exporter = *actor;
        snprintf(exporter.request_id, sizeof exporter.request_id, "%s", record.id);
        char ref[48];
        snprintf(ref, sizeof ref, "profile:%s", record.profile_id);
        status = cdp_access_subject_export(env, &exporter, ref, format ? format : "json", out,
                                           err);
        if (status == CDP_NOT_FOUND)
            cdp_err_prefix(err, "result: the person is no longer held");
    } else if (record.result_json != NULL) {
        status = write_text(out, record.result_json, err);
    } else {
        json_t *answer = json_pack("{s:s, s:s, s:s}", "subject_request_id", record.id,
                                   "subject_request_type", cdp_dsr_type_name(record.type),
                                   "outcome", record.outcome[0] ? record.outcome : "done");
        char *text = NULL;
        status = finish_json(answer, &text, err);
        if (status == CDP_OK)
            status = write_text(out, text, err);
        cdp_free(text);
    }
done:
    cdp_dsr_record_clear(&record);
    return status;
}

/* ---- the worker ------------------------------------------------------------------------------ */

typedef struct due_list {
    char ids[64][CDP_DSR_ID_MAX + 1];
    size_t count, max;
} due_list;

static int collect_open(void *ctx, const cdp_dsr_record *record) {
    due_list *list = ctx;
    if (record->state == CDP_DSR_PENDING || record->state == CDP_DSR_IN_PROGRESS)
        memcpy(list->ids[list->count++], record->id, CDP_DSR_ID_MAX + 1);
    return list->count >= list->max;
}

/* Carries out one claimed request; fills outcome and result (owned) of record. */
static cdp_status carry_out(const cdp_identity_env *env, cdp_dsr_record *record, int64_t now_ms,
                            cdp_err *err) {
    cdp_actor actor;
    memset(&actor, 0, sizeof actor);
    snprintf(actor.key_id, sizeof actor.key_id, "%s",
             cdp_audit_token_ok(record->actor_key_id) ? record->actor_key_id : "dsr");
    actor.role = CDP_ROLE_DPO;
    snprintf(actor.region, sizeof actor.region, "%s", record->region);
    snprintf(actor.source, sizeof actor.source, "dsr");
    snprintf(actor.request_id, sizeof actor.request_id, "%s", record->id);
    char ref[48];
    snprintf(ref, sizeof ref, "profile:%s", record->profile_id);
    size_t region_index = region_index_of(env, record->region);
    uint8_t profile_id[CDP_PROFILE_ID_BYTES];
    if (region_index >= env->region_count ||
        cdp_hex_decode(profile_id, sizeof profile_id, record->profile_id,
                       strlen(record->profile_id)) != 0)
        return cdp_err_set(err, CDP_CORRUPT, "request %s: bad profile id or region", record->id);
    char *json = NULL;
    cdp_status status = CDP_OK;
    switch (record->type) {
    case CDP_DSR_ERASURE:
        status = cdp_access_erase(env, &actor, "profile", record->profile_id, record->id, now_ms,
                                  &json, err);
        break;
    case CDP_DSR_RESTRICTION:
        status = cdp_access_restrict(env, &actor, ref, 1, &json, err);
        break;
    case CDP_DSR_ACCESS:
    case CDP_DSR_PORTABILITY:
        break; /* generated at GET /result: nothing personal is kept for it */
    case CDP_DSR_RECTIFICATION: {
        json_t *traits = NULL;
        status = open_traits(env, region_index, profile_id, record->id, &traits, err);
        if (status == CDP_OK)
            status = cdp_access_rectify_traits(env, &actor, ref, traits, &json, err);
        json_decref(traits);
        if (status == CDP_OK) {
            char key[64];
            snprintf(key, sizeof key, TRAITS_PREFIX "%s", record->id);
            cdp_batch *batch = cdp_batch_new();
            if (batch == NULL)
                status = cdp_err_set(err, CDP_NOMEM, "out of memory");
            if (status == CDP_OK) {
                cdp_region *region = cdp_vault_region(env->vaults[region_index]);
                cdp_batch_delete(batch, region, CDP_CF_META, (const uint8_t *)key, strlen(key));
                status = cdp_region_write(region, batch, 1, err);
            }
            cdp_batch_free(batch);
        }
        break;
    }
    case CDP_DSR_OBJECTION:
        status = cdp_access_object(env, &actor, ref, record->purpose, &json, err);
        break;
    default:
        status = cdp_err_set(err, CDP_CORRUPT, "request %s: unknown type", record->id);
    }
    if (status == CDP_NOT_FOUND) { /* erased (or gone) since it was submitted */
        cdp_err_clear(err);
        snprintf(record->outcome, sizeof record->outcome, "not_found");
        cdp_free(json);
        return CDP_OK;
    }
    if (status != CDP_OK) {
        cdp_free(json);
        return status;
    }
    snprintf(record->outcome, sizeof record->outcome, "%s",
             record->type == CDP_DSR_ACCESS || record->type == CDP_DSR_PORTABILITY ? "ready"
                                                                                     : "done");
    cdp_free(record->result_json);
    record->result_json = json;
    return CDP_OK;
}

static cdp_status process_one(const cdp_identity_env *env, const char *id, int64_t now_ms,
                              int *done, cdp_err *err) {
    cdp_dsr_record record = {0};
    *done = 0;
    cdp_dsr_lock();
    cdp_status status = cdp_dsr_record_get(home_region(env), id, &record, err);
    int claim = status == CDP_OK &&
                (record.state == CDP_DSR_PENDING || record.state == CDP_DSR_IN_PROGRESS);
    if (claim && record.state == CDP_DSR_PENDING) {
        record.state = CDP_DSR_IN_PROGRESS;
        record.updated_ms = now_ms;
        status = save_record(env, NULL, &record, "in_progress", err);
    }
    cdp_dsr_unlock();
    if (status != CDP_OK || !claim)
        goto done;
    /* Outside the lock: an erasure flushes and may take a while. Interrupted here, the request
     * stays in progress and runs again (every action is idempotent). */
    status = carry_out(env, &record, now_ms, err);
    if (status != CDP_OK)
        goto done;
    cdp_dsr_lock();
    record.state = CDP_DSR_COMPLETED;
    record.updated_ms = now_ms;
    status = save_record(env, NULL, &record, "completed", err);
    cdp_dsr_unlock();
    *done = status == CDP_OK;
done:
    cdp_dsr_record_clear(&record);
    return status;
}

cdp_status cdp_access_dsr_process(const cdp_identity_env *env, int64_t now_ms, size_t max,
                                  size_t *processed, cdp_err *err) {
    *processed = 0;
    due_list *list = cdp_malloc(sizeof *list);
    if (list == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    list->count = 0;
    list->max = max == 0 || max > 64 ? 64 : max;
    cdp_status status = cdp_dsr_record_each(home_region(env), collect_open, list, err);
    for (size_t i = 0; status == CDP_OK && i < list->count; i++) {
        int done = 0;
        status = process_one(env, list->ids[i], now_ms, &done, err);
        *processed += (size_t)done;
    }
    cdp_free(list);
    return status;
}

typedef struct dsr_counts {
    cdp_access_dsr_counts *stats;
    int64_t now_ms;
} dsr_counts;

static int count_one(void *ctx, const cdp_dsr_record *record) {
    dsr_counts *counts = ctx;
    counts->stats->total[record->type]++;
    int open = record->state == CDP_DSR_PENDING || record->state == CDP_DSR_IN_PROGRESS;
    if (record->state == CDP_DSR_PENDING)
        counts->stats->pending++;
    if (record->state == CDP_DSR_IN_PROGRESS)
        counts->stats->in_progress++;
    if (open && counts->now_ms > record->due_ms)
        counts->stats->overdue++;
    return 0;
}

cdp_status cdp_access_dsr_stats(const cdp_identity_env *env, int64_t now_ms,
                                cdp_access_dsr_counts *stats, cdp_err *err) {
    memset(stats, 0, sizeof *stats);
    dsr_counts counts = {stats, now_ms};
    return cdp_dsr_record_each(home_region(env), count_one, &counts, err);
}

const char *cdp_access_dsr_type_name(size_t type) {
    return cdp_dsr_type_name((cdp_dsr_type)type);
}

/* ---- discovery ------------------------------------------------------------------------------- */

cdp_status cdp_access_dsr_discovery(const cdp_identity_env *env, char **json, cdp_err *err) {
    static const char *const candidates[] = {"email",     "phone",        "user_id",
                                             "anonymous_id", "device_id", "controller_customer_id"};
    (void)env;
    json_t *identities = json_array();
    json_t *types = json_array();
    for (size_t i = 0; identities && i < sizeof candidates / sizeof *candidates; i++) {
        json_array_append_new(identities, json_pack("{s:s, s:s}", "identity_type", candidates[i],
                                                    "identity_format", "raw"));
        json_array_append_new(identities, json_pack("{s:s, s:s}", "identity_type", candidates[i],
                                                    "identity_format", "sha256"));
    }
    for (int t = 0; types && t < CDP_DSR_TYPE_COUNT; t++)
        json_array_append_new(types, json_string(cdp_dsr_type_name((cdp_dsr_type)t)));
    return finish_json(json_pack("{s:s, s:[s,s], s:[s,s], s:o, s:o, s:n}", "api_version", "0.1",
                                 "supported_api_versions", "0.1", "3.0", "supported_regulations",
                                 "gdpr", "ccpa", "supported_identities",
                                 identities ? identities : json_array(),
                                 "supported_subject_request_types", types ? types : json_array(),
                                 "processor_certificate"),
                       json, err);
}

/* ---- rectification and objection ------------------------------------------------------------- */

cdp_status cdp_access_rectify_traits(const cdp_identity_env *env, const cdp_actor *actor,
                                     const char *ref, json_t *traits, char **json, cdp_err *err) {
    cdp_status status = require_dpo(actor, "rectify data", err);
    if (status == CDP_OK)
        status = cdp_rectify_check(traits, err);
    if (status != CDP_OK)
        return status;
    cdp_access_person person;
    status = cdp_access_resolve(env, actor, ref, &person, err);
    size_t rewritten = 0;
    if (status == CDP_OK)
        status = cdp_rectify_apply(env, person.region_index, actor, person.person.profile_id,
                                   traits, dsr_now_ms(), &rewritten, err);
    if (status == CDP_OK) {
        json_t *names = json_array();
        const char *name;
        json_t *value;
        json_object_foreach(traits, name, value) json_array_append_new(names, json_string(name));
        status = finish_json(json_pack("{s:s, s:o, s:I}", "profile_id", person.profile.profile_id,
                                       "rectified", names ? names : json_array(),
                                       "events_rewritten", (json_int_t)rewritten),
                             json, err);
    }
    cdp_access_person_clear(&person);
    return status;
}

cdp_status cdp_access_rectify(const cdp_identity_env *env, const cdp_actor *actor,
                              const char *ref, const char *traits_json, char **json,
                              cdp_err *err) {
    cdp_status status = require_dpo(actor, "rectify data", err);
    if (status != CDP_OK)
        return status;
    json_error_t json_error;
    json_t *traits = json_loads(traits_json ? traits_json : "", JSON_REJECT_DUPLICATES,
                                &json_error);
    if (traits == NULL)
        return cdp_err_set(err, CDP_INVALID_JSON, "traits: line %d column %d: %s",
                           json_error.line, json_error.column, json_error.text);
    status = cdp_access_rectify_traits(env, actor, ref, traits, json, err);
    json_decref(traits);
    return status;
}

cdp_status cdp_access_object(const cdp_identity_env *env, const cdp_actor *actor,
                             const char *ref, const char *purpose, char **json, cdp_err *err) {
    cdp_status status = require_dpo(actor, "record an objection", err);
    if (status != CDP_OK)
        return status;
    if (purpose == NULL || *purpose == '\0' || cdp_policy_purpose(env->policy, purpose) == NULL)
        return cdp_err_set(err, CDP_BAD_REQUEST, "purpose: unknown purpose \"%.64s\"",
                           purpose ? purpose : "");
    cdp_access_person person;
    status = cdp_access_resolve(env, actor, ref, &person, err);
    if (status != CDP_OK)
        return status;
    size_t region_index = person.region_index;
    cdp_vault *vault = env->vaults[region_index];
    cdp_batch *batch = cdp_batch_new();
    int64_t now = dsr_now_ms();
    if (batch == NULL)
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
    pthread_mutex_lock(&env->region_locks[region_index]);
    if (status == CDP_OK) {
        /* Art. 21: an objection is a withdrawal of the purpose, with the DSR as its source. */
        cdp_consent_entry entry = {
            .purpose = cdp_policy_purpose(env->policy, purpose)->id,
            .state = CDP_CONSENT_STATE_WITHDRAWN,
            .time_ms = now,
            .source = "dsr",
            .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
            .basis = "objection",
        };
        status = cdp_consent_put(vault, batch, &person.person, &entry, err);
    }
    if (status == CDP_OK) {
        static const char *const categories[] = {"consent"};
        cdp_audit_entry audit = {
            .time_ms = now,
            .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
            .actor_role = cdp_role_name(actor->role),
            .operation = "dsr.objection",
            .purpose = cdp_policy_purpose(env->policy, purpose)->id,
            .lawful_basis = "legal_obligation",
            .profile_id = person.person.profile_id,
            .categories = categories,
            .category_count = 1,
            .decision = CDP_AUDIT_ALLOW,
            .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
        };
        status = cdp_audit_write(env->audit_logs[region_index], batch, &audit, 1, 1, NULL, err);
    }
    pthread_mutex_unlock(&env->region_locks[region_index]);
    cdp_batch_free(batch);
    if (status == CDP_OK)
        status = finish_json(json_pack("{s:s, s:s, s:s, s:s}", "profile_id",
                                       person.profile.profile_id, "purpose", purpose, "state",
                                       "withdrawn", "source", "dsr"),
                             json, err);
    cdp_access_person_clear(&person);
    return status;
}
