/* The web console's questions through the one door (see access/console.h): the DSR queue and
 * timeliness from the stored request records (metadata only), the DPO's person view built from
 * the subject export of cdp/privacy, and the suppression list. Every answer and every refusal by
 * role is audited before anything leaves. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access_internal.h"
#include "access/console.h"
#include "privacy/dsr.h"
#include "privacy/erase.h"
#include "privacy/subject_export.h"
#include "util/alloc.h"
#include "util/bytes.h"

const char *const cdp_access_lift_reasons[] = {
    "fresh_consent",         /* the person came back and consented again */
    "erased_in_error",       /* the erasure named the wrong person */
    "identifier_reassigned", /* the identifier now belongs to someone else (recycled number) */
    "legal_requirement",     /* a court or regulator requires processing to resume */
    NULL,
};

/* Requests and the console's own records live in the default region's log. */
static size_t default_index(const cdp_identity_env *env) {
    const char *name = cdp_policy_default_region(env->policy);
    for (size_t r = 0; name != NULL && r < env->region_count; r++)
        if (strcmp(env->region_ids[r], name) == 0)
            return r;
    return 0;
}

static size_t actor_index(const cdp_identity_env *env, const cdp_actor *actor) {
    for (size_t r = 0; r < env->region_count; r++)
        if (strcmp(env->region_ids[r], actor->region) == 0)
            return r;
    return default_index(env);
}

/* One console decision into the log of region_index. Refusals are synced like every refusal
 * the door writes for writes; reads of metadata reach the WAL now. */
static cdp_status console_audit(const cdp_identity_env *env, size_t region_index,
                                const cdp_actor *actor, const char *operation,
                                const uint8_t *profile_id, cdp_audit_decision decision,
                                const char *reason, const char *const *categories,
                                size_t category_count, int sync, cdp_err *err) {
    if (env->audit_disabled)
        return CDP_OK;
    cdp_audit_entry entry = {
        .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
        .actor_role = cdp_role_name(actor->role),
        .operation = operation,
        .lawful_basis = decision == CDP_AUDIT_DENY ? NULL : "legal_obligation",
        .profile_id = profile_id,
        .categories = categories,
        .category_count = category_count,
        .decision = decision,
        .reason = reason,
        .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
    };
    return cdp_audit_write(env->audit_logs[region_index], NULL, &entry, 1, sync, NULL, err);
}

/* The role check of every console function: a refusal is audited (deny, reason "role") and
 * returned as CDP_FORBIDDEN naming the roles that may. */
static cdp_status require_role(const cdp_identity_env *env, const cdp_actor *actor,
                               unsigned allowed, const char *operation, const char *what,
                               const char *who, cdp_err *err) {
    if (allowed & (1u << actor->role))
        return CDP_OK;
    cdp_err scratch = {0};
    if (console_audit(env, actor_index(env, actor), actor, operation, NULL, CDP_AUDIT_DENY, "role",
                      NULL, 0, 1, &scratch) != CDP_OK)
        return cdp_err_set(err, scratch.status, "%s", scratch.message);
    cdp_access_count("other", 1);
    return cdp_err_set(err, CDP_FORBIDDEN, "role %s may not %s (%s)", cdp_role_name(actor->role),
                       what, who);
}

static cdp_status finish(json_t *object, char **json, cdp_err *err) {
    char *text = object ? json_dumps(object, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(object);
    if (text == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    *json = cdp_strdup(text);
    free(text);
    return *json ? CDP_OK : cdp_err_set(err, CDP_NOMEM, "out of memory");
}

/* ---- the DSR queue and timeliness ----------------------------------------------------------- */

static int is_open(const cdp_dsr_record *record) {
    return record->state == CDP_DSR_PENDING || record->state == CDP_DSR_IN_PROGRESS;
}

/* Whole days from now until due, rounded down (so -1 as soon as it is overdue). */
static int64_t days_left(int64_t due_ms, int64_t now_ms) {
    int64_t diff = due_ms - now_ms;
    return diff >= 0 ? diff / CDP_DSR_DAY_MS : -((-diff + CDP_DSR_DAY_MS - 1) / CDP_DSR_DAY_MS);
}

typedef struct queue_walk {
    const char *region, *type, *status;
    int64_t now_ms;
    json_t *items;
    size_t open, overdue;
    int failed;
} queue_walk;

static int queue_one(void *context, const cdp_dsr_record *record) {
    queue_walk *walk = context;
    if ((walk->region && strcmp(walk->region, record->region) != 0) ||
        (walk->type && strcmp(walk->type, cdp_dsr_type_name(record->type)) != 0) ||
        (walk->status && strcmp(walk->status, cdp_dsr_state_name(record->state)) != 0))
        return 0;
    json_t *item = cdp_dsr_record_json(record);
    int open = is_open(record);
    int overdue = open && walk->now_ms > record->due_ms;
    if (item == NULL ||
        json_object_set_new(item, "due_ms", json_integer(record->due_ms)) != 0 ||
        json_object_set_new(item, "days_left",
                            open ? json_integer(days_left(record->due_ms, walk->now_ms))
                                 : json_null()) != 0 ||
        json_object_set_new(item, "overdue", json_boolean(overdue)) != 0 ||
        json_object_set_new(item, "on_time",
                            record->state == CDP_DSR_COMPLETED
                                ? json_boolean(record->updated_ms <= record->due_ms)
                                : json_null()) != 0 ||
        json_array_append_new(walk->items, item) != 0) {
        walk->failed = 1;
        return 1;
    }
    walk->open += (size_t)open;
    walk->overdue += (size_t)overdue;
    return 0;
}

/* "" is no filter; otherwise the value must be one of names[0..count). */
static cdp_status check_choice(const char *field, const char **value, const char *const *names,
                               size_t count, cdp_err *err) {
    if (*value == NULL || **value == '\0') {
        *value = NULL;
        return CDP_OK;
    }
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], *value) == 0)
            return CDP_OK;
    char list[256] = "";
    for (size_t i = 0; i < count; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
    }
    return cdp_err_set(err, CDP_BAD_REQUEST, "%s: unknown value \"%.40s\" (one of %s)", field,
                       *value, list);
}

cdp_status cdp_access_dsr_queue(const cdp_identity_env *env, const cdp_actor *actor,
                                const char *region, const char *type, const char *status_filter,
                                int64_t now_ms, char **json, cdp_err *err) {
    cdp_status status =
        require_role(env, actor, 1u << CDP_ROLE_DPO, "dsr.queue",
                     "list data-subject requests", "the dpo role handles them", err);
    const char *types[CDP_DSR_TYPE_COUNT], *states[4];
    for (int t = 0; t < CDP_DSR_TYPE_COUNT; t++)
        types[t] = cdp_dsr_type_name((cdp_dsr_type)t);
    for (int s = 0; s < 4; s++)
        states[s] = cdp_dsr_state_name((cdp_dsr_state)s);
    if (status == CDP_OK)
        status = check_choice("region", &region, env->region_ids, env->region_count, err);
    if (status == CDP_OK)
        status = check_choice("type", &type, types, CDP_DSR_TYPE_COUNT, err);
    if (status == CDP_OK)
        status = check_choice("status", &status_filter, states, 4, err);
    if (status != CDP_OK)
        return status;
    queue_walk walk = {region, type, status_filter, now_ms, json_array(), 0, 0, 0};
    if (walk.items == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    size_t home = default_index(env);
    status = cdp_dsr_record_each(cdp_vault_region(env->vaults[home]), queue_one, &walk, err);
    if (status == CDP_OK && walk.failed)
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
    static const char *const categories[] = {"dsr_metadata"};
    if (status == CDP_OK)
        status = console_audit(env, home, actor, "dsr.queue", NULL, CDP_AUDIT_ALLOW, NULL,
                               categories, 1, 0, err);
    if (status != CDP_OK) {
        json_decref(walk.items);
        return status;
    }
    size_t total = json_array_size(walk.items);
    return finish(json_pack("{s:I, s:o, s:{s:I, s:I, s:I}}", "now_ms", (json_int_t)now_ms,
                            "requests", walk.items, "counts", "total", (json_int_t)total, "open",
                            (json_int_t)walk.open, "overdue", (json_int_t)walk.overdue),
                  json, err);
}

typedef struct timeliness {
    unsigned long long on_time, late, within_due, overdue, cancelled;
} timeliness;

typedef struct timeliness_walk {
    int64_t now_ms;
    timeliness all, by_type[CDP_DSR_TYPE_COUNT];
} timeliness_walk;

static void count_into(timeliness *counts, const cdp_dsr_record *record, int64_t now_ms) {
    if (record->state == CDP_DSR_COMPLETED) {
        if (record->updated_ms <= record->due_ms)
            counts->on_time++;
        else
            counts->late++;
    } else if (record->state == CDP_DSR_CANCELLED) {
        counts->cancelled++;
    } else if (now_ms > record->due_ms) {
        counts->overdue++;
    } else {
        counts->within_due++;
    }
}

static int timeliness_one(void *context, const cdp_dsr_record *record) {
    timeliness_walk *walk = context;
    count_into(&walk->all, record, walk->now_ms);
    if ((int)record->type >= 0 && record->type < CDP_DSR_TYPE_COUNT)
        count_into(&walk->by_type[record->type], record, walk->now_ms);
    return 0;
}

static json_t *timeliness_json(const timeliness *counts) {
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "completed_on_time", (json_int_t)counts->on_time,
                     "completed_late", (json_int_t)counts->late, "open_within_due",
                     (json_int_t)counts->within_due, "open_overdue", (json_int_t)counts->overdue,
                     "cancelled", (json_int_t)counts->cancelled);
}

cdp_status cdp_access_dsr_timeliness(const cdp_identity_env *env, const cdp_actor *actor,
                                     int64_t now_ms, char **json, cdp_err *err) {
    cdp_status status = require_role(
        env, actor, (1u << CDP_ROLE_AUDITOR) | (1u << CDP_ROLE_DPO) | (1u << CDP_ROLE_ADMIN),
        "dsr.timeliness", "read DSR timeliness", "auditor, dpo or admin", err);
    if (status != CDP_OK)
        return status;
    timeliness_walk walk;
    memset(&walk, 0, sizeof walk);
    walk.now_ms = now_ms;
    size_t home = default_index(env);
    status = cdp_dsr_record_each(cdp_vault_region(env->vaults[home]), timeliness_one, &walk, err);
    static const char *const categories[] = {"dsr_metadata"};
    if (status == CDP_OK)
        status = console_audit(env, home, actor, "dsr.timeliness", NULL, CDP_AUDIT_ALLOW, NULL,
                               categories, 1, 0, err);
    if (status != CDP_OK)
        return status;
    json_t *answer = timeliness_json(&walk.all);
    json_t *by_type = json_object();
    for (int t = 0; answer && by_type && t < CDP_DSR_TYPE_COUNT; t++)
        json_object_set_new(by_type, cdp_dsr_type_name((cdp_dsr_type)t),
                            timeliness_json(&walk.by_type[t]));
    if (answer == NULL || by_type == NULL ||
        json_object_set_new(answer, "now_ms", json_integer(now_ms)) != 0 ||
        json_object_set_new(answer, "by_type", by_type) != 0) {
        json_decref(answer);
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    }
    return finish(answer, json, err);
}

/* ---- the person view -------------------------------------------------------------------------- */

/* The subject export of the person, parsed: the view takes what a DPO looks at from it. */
static cdp_status export_parsed(cdp_subject *subject, int64_t now_ms, json_t **out, cdp_err *err) {
    char *text = NULL;
    size_t len = 0;
    FILE *stream = open_memstream(&text, &len);
    if (stream == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    cdp_status status =
        cdp_subject_export_write(subject, CDP_SUBJECT_FORMAT_JSON, now_ms, stream, NULL, err);
    if (fclose(stream) != 0 && status == CDP_OK)
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
    if (status == CDP_OK) {
        json_error_t error;
        *out = json_loadb(text, len, 0, &error);
        if (*out == NULL)
            status = cdp_err_set(err, CDP_INTERNAL, "subject view: export does not parse: %s",
                                 error.text);
    }
    if (text != NULL) {
        sodium_memzero(text, len); /* it held the person's data */
        free(text);
    }
    return status;
}

static int by_time(const void *a, const void *b) {
    json_int_t ta = json_integer_value(json_object_get(*(json_t *const *)a, "time"));
    json_int_t tb = json_integer_value(json_object_get(*(json_t *const *)b, "time"));
    return ta < tb ? -1 : ta > tb;
}

/* A copy of array sorted by "time" (stable enough: records of one member are oldest first). */
static json_t *sorted_by_time(json_t *array) {
    size_t count = json_array_size(array);
    json_t **items = count ? cdp_malloc(count * sizeof *items) : NULL;
    json_t *out = json_array();
    if (out == NULL || (count && items == NULL)) {
        cdp_free(items);
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        items[i] = json_array_get(array, i);
    if (count > 1) /* qsort of no items would be passed NULL */
        qsort(items, count, sizeof *items, by_time);
    for (size_t i = 0; i < count; i++)
        json_array_append(out, items[i]);
    cdp_free(items);
    return out;
}

/* {purpose: {"state", ...details of the newest record in that state}} from the states the
 * door decides with (they already merge the members). */
static json_t *current_consent(const cdp_policy *policy, const cdp_consent_state *states,
                               json_t *history) {
    json_t *current = json_object();
    size_t purposes = cdp_policy_purpose_count(policy);
    for (size_t p = 0; current && p < purposes && p < CDP_ACCESS_PURPOSES_MAX; p++) {
        const char *purpose = cdp_policy_purpose_at(policy, p)->id;
        const char *state = cdp_consent_state_name(states[p]);
        json_t *entry = json_pack("{s:s}", "state", state);
        for (size_t i = json_array_size(history); entry && i-- > 0;) {
            json_t *record = json_array_get(history, i);
            const char *rp = json_string_value(json_object_get(record, "purpose"));
            const char *rs = json_string_value(json_object_get(record, "state"));
            if (rp && rs && strcmp(rp, purpose) == 0 && strcmp(rs, state) == 0) {
                static const char *const copied[] = {"time", "source", "notice_version",
                                                     "proof", "basis"};
                for (size_t k = 0; k < sizeof copied / sizeof *copied; k++) {
                    json_t *value = json_object_get(record, copied[k]);
                    if (value != NULL)
                        json_object_set(entry, copied[k], value);
                }
                break;
            }
        }
        if (entry != NULL)
            json_object_set_new(current, purpose, entry);
    }
    return current;
}

cdp_status cdp_access_subject_view(const cdp_identity_env *env, const cdp_actor *actor,
                                   const char *ref, int64_t now_ms, char **json, cdp_err *err) {
    cdp_status status =
        require_role(env, actor, 1u << CDP_ROLE_DPO, "subject.view", "view a data subject",
                     "personal data is shown to the dpo role only", err);
    if (status != CDP_OK)
        return status;
    cdp_subject subject = {0};
    cdp_access_person opened;
    cdp_consent_state states[CDP_ACCESS_PURPOSES_MAX];
    const char *regime = NULL;
    json_t *exported = NULL, *answer = NULL;
    status = cdp_access_resolve(env, actor, ref, &opened, err);
    if (status == CDP_OK) {
        memcpy(states, opened.consent, sizeof states);
        regime = opened.regime;
        subject.region_index = opened.region_index;
        subject.vault = opened.vault;
        subject.audit_log = env->audit_logs[opened.region_index];
        subject.person = opened.person;
        subject.profile = opened.profile;
        memset(&opened.person, 0, sizeof opened.person);
        memset(&opened.profile, 0, sizeof opened.profile);
    }
    cdp_access_person_clear(&opened);
    if (status != CDP_OK)
        goto done;
    /* Durable before any of the person's data is read out. */
    static const char *const categories[] = {"identity", "consent", "merges"};
    status = console_audit(env, subject.region_index, actor, "subject.view",
                           subject.person.profile_id, CDP_AUDIT_ALLOW, NULL, categories,
                           sizeof categories / sizeof *categories, 1, err);
    if (status == CDP_OK)
        status = export_parsed(&subject, now_ms, &exported, err);
    if (status != CDP_OK)
        goto done;
    json_t *history = sorted_by_time(json_object_get(exported, "consent"));
    json_t *current = history ? current_consent(env->policy, states, history) : NULL;
    json_t *identities = json_object_get(exported, "identities");
    json_t *merges = json_object_get(exported, "merges");
    json_t *counts = json_object_get(exported, "counts");
    answer = json_pack("{s:O, s:s, s:s, s:b, s:O, s:{s:o, s:o}, s:O, s:O}", "profile_id",
                       json_object_get(exported, "profile_id"), "region",
                       env->region_ids[subject.region_index], "regime", regime ? regime : "unknown",
                       "restricted", subject.profile.restricted, "identities",
                       identities ? identities : json_null(), "consent", "current",
                       current ? current : json_object(), "history",
                       history ? history : json_array(), "merges", merges ? merges : json_null(),
                       "counts", counts ? counts : json_null());
    status = answer ? finish(answer, json, err) : cdp_err_set(err, CDP_NOMEM, "out of memory");
done:
    json_decref(exported);
    cdp_subject_clear(&subject);
    return status;
}

/* ---- suppressions ------------------------------------------------------------------------------ */

cdp_status cdp_access_suppression_list(const cdp_identity_env *env, const cdp_actor *actor,
                                       char **json, cdp_err *err) {
    cdp_status status =
        require_role(env, actor, 1u << CDP_ROLE_DPO, "suppression.list", "list suppressions",
                     "dpo only", err);
    if (status != CDP_OK)
        return status;
    json_t *items = json_array();
    if (items == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    for (size_t r = 0; r < env->region_count && status == CDP_OK; r++) {
        cdp_iter *iter = NULL;
        status = cdp_region_iter(cdp_vault_region(env->vaults[r]), CDP_CF_SUPPRESS, NULL, 0, &iter,
                                 err);
        for (; status == CDP_OK && cdp_iter_valid(iter); cdp_iter_next(iter)) {
            size_t key_len = 0, value_len = 0;
            const uint8_t *key = cdp_iter_key(iter, &key_len);
            const uint8_t *value = cdp_iter_value(iter, &value_len);
            char entry[17] = "";
            cdp_hex_encode(entry, key, key_len < 8 ? key_len : 8);
            json_t *reference = json_loadb((const char *)value, value_len, 0, NULL);
            const char *request_id = json_string_value(json_object_get(reference, "request_id"));
            json_t *time = json_object_get(reference, "time");
            json_t *item = json_pack("{s:s, s:s, s:s?, s:I}", "region", env->region_ids[r],
                                     "entry", entry, "request_id", request_id, "time",
                                     (json_int_t)(json_is_integer(time) ? json_integer_value(time)
                                                                        : 0));
            json_decref(reference);
            if (item == NULL || json_array_append_new(items, item) != 0)
                status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        }
        if (status == CDP_OK && iter != NULL)
            status = cdp_iter_status(iter, err);
        cdp_iter_free(iter);
    }
    json_t *sorted = status == CDP_OK ? sorted_by_time(items) : NULL;
    json_decref(items);
    if (status == CDP_OK && sorted == NULL)
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
    static const char *const categories[] = {"suppression"};
    if (status == CDP_OK)
        status = console_audit(env, default_index(env), actor, "suppression.list", NULL,
                               CDP_AUDIT_ALLOW, NULL, categories, 1, 0, err);
    if (status != CDP_OK) {
        json_decref(sorted);
        return status;
    }
    return finish(json_pack("{s:o}", "suppressions", sorted), json, err);
}

cdp_status cdp_access_lift_suppression_reason(const cdp_identity_env *env, const cdp_actor *actor,
                                              const char *type, const char *value,
                                              const char *reason, int64_t now_ms, cdp_err *err) {
    cdp_status status = require_role(env, actor, 1u << CDP_ROLE_DPO, "suppression.lift",
                                     "lift a suppression", "dpo only", err);
    if (status != CDP_OK)
        return status;
    size_t known = 0;
    while (cdp_access_lift_reasons[known] != NULL)
        known++;
    if (reason == NULL || *reason == '\0')
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "reason: required (fresh_consent, erased_in_error, "
                           "identifier_reassigned or legal_requirement)");
    status = check_choice("reason", &reason, cdp_access_lift_reasons, known, err);
    if (status != CDP_OK)
        return status;
    return cdp_privacy_lift_with_reason(env, actor, type, value, reason, now_ms, err);
}
