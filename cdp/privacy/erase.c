/* Erasure of a merged person: the atomic logical erase, the receipt, the batched physical purge
 * and crash recovery through the journal in `meta` (see erase.h for the layout). */
#include "privacy/erase.h"
#include "crypto/blind_sha256.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "audit/log.h"
#include "crypto/blind.h"
#include "privacy/backup.h"
#include "store/records.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/crashpoint.h"

#define JOURNAL_PREFIX "erasure/"
#define PENDING_PREFIX "erasure.pending/"
#define BY_PROFILE_PREFIX "erasure.profile/"
#define MESSAGE_MARKER_TYPE "$message" /* as identity/resolve.c marks stored messageIds */
#define MAX_EPOCHS 64
#define META_KEY_MAX 96

typedef struct member {
    uint8_t id[CDP_PROFILE_ID_BYTES];
    cdp_person person;
    int has_key;
} member;

/* Everything one logical erase gathers before its batch is written. */
typedef struct erase_work {
    member *members;
    size_t member_count;
    char **suppressed_hex; /* 64 hex each */
    size_t suppressed_count;
    cdp_erase_counts counts;
    const uint8_t *blind_keys[MAX_EPOCHS]; /* every live epoch's blind-index key */
    size_t epoch_count;
} erase_work;

static void work_clear(erase_work *work) {
    for (size_t i = 0; i < work->member_count; i++)
        cdp_person_wipe(&work->members[i].person);
    cdp_free(work->members);
    for (size_t i = 0; i < work->suppressed_count; i++)
        cdp_free(work->suppressed_hex[i]);
    cdp_free(work->suppressed_hex);
    memset(work, 0, sizeof *work);
}

static void meta_key(char out[META_KEY_MAX], const char *prefix, const char *name) {
    snprintf(out, META_KEY_MAX, "%s%s", prefix, name);
}

/* The smallest key after every key starting with the 16-byte id (the id plus one, as a number);
 * 0 when the id is all 0xff (then the range is open-ended: the caller uses a longer bound). */
static int id_successor(const uint8_t id[CDP_PROFILE_ID_BYTES], uint8_t out[CDP_PROFILE_ID_BYTES]) {
    memcpy(out, id, CDP_PROFILE_ID_BYTES);
    for (int i = CDP_PROFILE_ID_BYTES - 1; i >= 0; i--)
        if (++out[i] != 0)
            return 1;
    return 0;
}

static cdp_status meta_get_text(cdp_region *region, const char *key, char **text, cdp_err *err) {
    uint8_t *value = NULL;
    size_t len = 0;
    *text = NULL;
    cdp_status status =
        cdp_region_get(region, CDP_CF_META, (const uint8_t *)key, strlen(key), &value, &len, err);
    if (status != CDP_OK)
        return status;
    *text = cdp_strndup((const char *)value, len);
    cdp_region_free_value(value);
    return *text != NULL ? CDP_OK : cdp_err_set(err, CDP_NOMEM, "out of memory");
}

static cdp_status meta_get_json(cdp_region *region, const char *key, json_t **out, cdp_err *err) {
    char *text = NULL;
    *out = NULL;
    cdp_status status = meta_get_text(region, key, &text, err);
    if (status != CDP_OK)
        return status;
    *out = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    cdp_free(text);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return cdp_err_set(err, CDP_CORRUPT, "meta %s: erasure journal entry does not parse", key);
    }
    return CDP_OK;
}

static cdp_status batch_put_json(cdp_batch *batch, cdp_region *region, cdp_cf cf,
                                 const uint8_t *key, size_t key_len, json_t *value, cdp_err *err) {
    char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    cdp_batch_put(batch, region, cf, key, key_len, (const uint8_t *)text, strlen(text));
    free(text);
    return CDP_OK;
}

/* ---- finding the person ------------------------------------------------------------------ */

static cdp_status find_profile_region(const cdp_identity_env *env,
                                      const uint8_t id[CDP_PROFILE_ID_BYTES], size_t *region_index,
                                      cdp_err *err) {
    for (size_t r = 0; r < env->region_count; r++) {
        uint8_t *value = NULL;
        size_t len = 0;
        cdp_status status = cdp_region_get(cdp_vault_region(env->vaults[r]), CDP_CF_PROFILES, id,
                                           CDP_PROFILE_ID_BYTES, &value, &len, err);
        cdp_region_free_value(value);
        if (status == CDP_OK) {
            *region_index = r;
            return CDP_OK;
        }
        if (status != CDP_NOT_FOUND)
            return status;
    }
    return cdp_err_set(err, CDP_NOT_FOUND, "no profile with this id");
}

static cdp_status find_person(const cdp_identity_env *env, const char *type, const char *value,
                              size_t *region_index, uint8_t id[CDP_PROFILE_ID_BYTES],
                              cdp_err *err) {
    if (strcmp(type, "profile") == 0) {
        if (cdp_hex_decode(id, CDP_PROFILE_ID_BYTES, value, strlen(value)) != 0)
            return cdp_err_set(err, CDP_INVALID_IDENTIFIER,
                               "ref: a profile id is 32 hexadecimal characters");
        return find_profile_region(env, id, region_index, err);
    }
    return cdp_identity_lookup(env, type, value, region_index, id, err);
}

/* The journal entry (and its region) of a request id, in any region. CDP_NOT_FOUND if none. */
static cdp_status find_journal(const cdp_identity_env *env, const char *request_id,
                               size_t *region_index, json_t **entry, cdp_err *err) {
    char key[META_KEY_MAX];
    meta_key(key, JOURNAL_PREFIX, request_id);
    for (size_t r = 0; r < env->region_count; r++) {
        cdp_status status = meta_get_json(cdp_vault_region(env->vaults[r]), key, entry, err);
        if (status == CDP_OK) {
            *region_index = r;
            return CDP_OK;
        }
        if (status != CDP_NOT_FOUND)
            return status;
    }
    return cdp_err_set(err, CDP_NOT_FOUND, "no erasure with request id %s", request_id);
}

/* ---- the receipt ------------------------------------------------------------------------- */

typedef struct seq_search {
    const char *request_id;
    uint64_t seq;
    int found;
} seq_search;

static cdp_status match_erasure_record(void *context, const cdp_audit_record *record) {
    seq_search *search = context;
    if (record->operation != NULL && strcmp(record->operation, "erasure") == 0 &&
        record->request_id != NULL && strcmp(record->request_id, search->request_id) == 0) {
        search->seq = record->seq;
        search->found = 1;
    }
    return CDP_OK;
}

/* Signs the receipt of a journal entry whose audit record is written (state "receipt_pending"):
 * the audit sequence is given, or found through the audit log's person index after a crash.
 * Stores the signed receipt (state "purge_pending") and gives its text (may be NULL). */
static cdp_status finish_receipt(const cdp_identity_env *env, size_t region_index,
                                 const char *request_id, json_t *entry, const uint64_t *known_seq,
                                 char **receipt_out, cdp_err *err) {
    cdp_vault *vault = env->vaults[region_index];
    cdp_region *region = cdp_vault_region(vault);
    const char *region_id = env->region_ids[region_index];
    json_t *body = json_object_get(entry, "body");
    char *text = NULL;
    cdp_batch *batch = NULL;
    if (!json_is_object(body))
        return cdp_err_set(err, CDP_CORRUPT, "erasure %s: journal entry has no receipt body",
                           request_id);
    seq_search search = {.request_id = request_id};
    if (known_seq != NULL) {
        search.seq = *known_seq;
        search.found = 1;
    } else {
        uint8_t profile_id[CDP_PROFILE_ID_BYTES];
        const char *profile_hex = json_string_value(json_object_get(body, "profile_id"));
        if (profile_hex == NULL ||
            cdp_hex_decode(profile_id, sizeof profile_id, profile_hex, strlen(profile_hex)) != 0)
            return cdp_err_set(err, CDP_CORRUPT, "erasure %s: journal: bad profile_id",
                               request_id);
        cdp_status status = cdp_audit_list_person(env->audit_logs[region_index], profile_id,
                                                  match_erasure_record, &search, err);
        if (status != CDP_OK)
            return status;
        if (!search.found)
            return cdp_err_set(err, CDP_CORRUPT,
                               "erasure %s: the audit log has no erasure record for it",
                               request_id);
    }
    const cdp_region_keys *keys = NULL;
    cdp_status status = cdp_keystore_current(cdp_vault_keystore(vault), region_id, &keys, err);
    if (status == CDP_OK)
        status = cdp_receipt_sign(body, search.seq, keys->audit_secret_key, keys->audit_public_key,
                                  &text, err);
    if (status != CDP_OK)
        goto done;
    json_t *signed_entry = json_pack("{s:s, s:O, s:s}", "state", "purge_pending", "members",
                                     json_object_get(entry, "members"), "receipt", text);
    batch = cdp_batch_new();
    if (signed_entry == NULL || batch == NULL) {
        json_decref(signed_entry);
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        goto done;
    }
    char key[META_KEY_MAX];
    meta_key(key, JOURNAL_PREFIX, request_id);
    status = batch_put_json(batch, region, CDP_CF_META, (const uint8_t *)key, strlen(key),
                            signed_entry, err);
    json_decref(signed_entry);
    /* Not synced: lost in a crash, the entry is still "receipt_pending" and recovery signs it
     * again — the same bytes, since the body, the sequence and the key are the same and Ed25519
     * signatures are deterministic. One fsync per erasure instead of two. */
    if (status == CDP_OK)
        status = cdp_region_write(region, batch, 0, err);
done:
    cdp_batch_free(batch);
    if (status == CDP_OK && receipt_out != NULL)
        *receipt_out = text;
    else
        cdp_free(text);
    return status;
}

/* The signed receipt of a journal entry, signing it first if a crash left it unsigned. */
static cdp_status stored_receipt(const cdp_identity_env *env, size_t region_index,
                                 const char *request_id, json_t *entry, char **receipt_json,
                                 cdp_err *err) {
    const char *text = json_string_value(json_object_get(entry, "receipt"));
    if (text == NULL)
        return finish_receipt(env, region_index, request_id, entry, NULL, receipt_json, err);
    *receipt_json = cdp_strdup(text);
    return *receipt_json != NULL ? CDP_OK : cdp_err_set(err, CDP_NOMEM, "out of memory");
}

/* ---- the logical erase ------------------------------------------------------------------- */

static cdp_status add_member(erase_work *work, const uint8_t id[CDP_PROFILE_ID_BYTES], cdp_err *err) {
    for (size_t i = 0; i < work->member_count; i++)
        if (memcmp(work->members[i].id, id, CDP_PROFILE_ID_BYTES) == 0)
            return CDP_OK;
    member *grown = cdp_realloc(work->members, (work->member_count + 1) * sizeof *grown);
    if (grown == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    work->members = grown;
    memset(&grown[work->member_count], 0, sizeof *grown);
    memcpy(grown[work->member_count].id, id, CDP_PROFILE_ID_BYTES);
    work->member_count++;
    return CDP_OK;
}

static int is_member(const erase_work *work, const uint8_t *id, size_t len) {
    if (len != CDP_PROFILE_ID_BYTES)
        return 0;
    for (size_t i = 0; i < work->member_count; i++)
        if (memcmp(work->members[i].id, id, CDP_PROFILE_ID_BYTES) == 0)
            return 1;
    return 0;
}

/* Deletes the index entry of (type, value) under every live blind-index key. */
static void delete_index_entries(const erase_work *work, cdp_batch *batch, cdp_region *region,
                                 const char *type, const char *value) {
    char sha_type[CDP_SHA256_TYPE_MAX], sha_hex[65];
    cdp_blind_sha256_companion(type, value, strlen(value), sha_type, sha_hex);
    for (size_t e = 0; e < work->epoch_count; e++) {
        uint8_t blind[CDP_BLIND_BYTES];
        cdp_blind_index(blind, work->blind_keys[e], type, (const uint8_t *)value, strlen(value));
        cdp_batch_delete(batch, region, CDP_CF_IDENTITY, blind, sizeof blind);
        cdp_blind_index(blind, work->blind_keys[e], sha_type, (const uint8_t *)sha_hex, 64);
        cdp_batch_delete(batch, region, CDP_CF_IDENTITY, blind, sizeof blind);
    }
}

/* Deletes a member's records in a profile-keyed family, counting them. For events, also deletes
 * the message markers (found inside the events, so only with the data key).
 * Point deletes of the keys found, not a range delete over the prefix: RocksDB 7.8 re-fragments
 * every range tombstone of a memtable for each new iterator, so thousands of erasures between
 * two flushes made every later scan slower (quadratic). The region lock keeps the prefix from
 * growing between the scan and the write: every writer of these families takes it. */
static cdp_status erase_prefix(erase_work *work, cdp_vault *vault, cdp_batch *batch,
                               const member *m, cdp_cf cf, uint64_t *count, cdp_err *err) {
    cdp_region *region = cdp_vault_region(vault);
    cdp_iter *iter = NULL;
    cdp_buf plain = {0};
    cdp_status status = cdp_region_iter(region, cf, m->id, CDP_PROFILE_ID_BYTES, &iter, err);
    for (; status == CDP_OK && cdp_iter_valid(iter); cdp_iter_next(iter)) {
        size_t key_len = 0, sealed_len = 0;
        const uint8_t *key = cdp_iter_key(iter, &key_len);
        (*count)++;
        cdp_batch_delete(batch, region, cf, key, key_len);
        if (cf != CDP_CF_EVENTS || !m->has_key)
            continue;
        const uint8_t *sealed = cdp_iter_value(iter, &sealed_len);
        cdp_event_record event = {0};
        /* An event that does not open or decode is still deleted; only its marker stays. */
        if (cdp_vault_open(vault, &m->person, cf, key, key_len, sealed, sealed_len, &plain,
                           NULL) == CDP_OK &&
            cdp_event_record_decode(plain.data, plain.len, &event, NULL) == CDP_OK &&
            event.message_id != NULL)
            delete_index_entries(work, batch, region, MESSAGE_MARKER_TYPE, event.message_id);
        cdp_event_record_clear(&event);
    }
    if (status == CDP_OK)
        status = cdp_iter_status(iter, err);
    cdp_iter_free(iter);
    cdp_buf_free_secret(&plain);
    return status;
}

static cdp_status add_suppressed(erase_work *work, const uint8_t blind[CDP_BLIND_BYTES],
                                 cdp_err *err) {
    char hex[2 * CDP_BLIND_BYTES + 1];
    cdp_hex_encode(hex, blind, CDP_BLIND_BYTES);
    for (size_t i = 0; i < work->suppressed_count; i++)
        if (strcmp(work->suppressed_hex[i], hex) == 0)
            return CDP_OK;
    char **grown =
        cdp_realloc(work->suppressed_hex, (work->suppressed_count + 1) * sizeof *grown);
    if (grown == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    work->suppressed_hex = grown;
    grown[work->suppressed_count] = cdp_strdup(hex);
    if (grown[work->suppressed_count] == NULL)
        return cdp_err_set(err, CDP_NOMEM, "out of memory");
    work->suppressed_count++;
    return CDP_OK;
}

/* Builds and writes the erase batch of the person whose profile is loaded; *seq gets the audit
 * record's sequence. Runs under the region lock. */
static cdp_status erase_locked(const cdp_identity_env *env, size_t region_index,
                               const cdp_actor *actor, const cdp_profile_record *profile,
                               erase_work *work, const char *request_id, int64_t now_ms,
                               uint64_t *seq, cdp_err *err) {
    cdp_vault *vault = env->vaults[region_index];
    cdp_region *region = cdp_vault_region(vault);
    const char *region_id = env->region_ids[region_index];
    cdp_keystore *keystore = cdp_vault_keystore(vault);
    json_t *members_json = json_array(), *reference = NULL, *body = NULL, *entry = NULL;
    cdp_batch *batch = cdp_batch_new();
    cdp_status status = CDP_OK;
    if (batch == NULL || members_json == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        goto done;
    }
    uint32_t epochs[MAX_EPOCHS];
    size_t live = cdp_keystore_live_epochs(keystore, region_id, epochs, MAX_EPOCHS);
    for (size_t e = 0; e < live && e < MAX_EPOCHS; e++) {
        const cdp_region_keys *keys = NULL;
        if (cdp_keystore_epoch(keystore, region_id, epochs[e], &keys, NULL) == CDP_OK)
            work->blind_keys[work->epoch_count++] = keys->blind_key;
    }

    /* Every member profile: wrapped key, profile record, events, consent, merges. */
    for (size_t i = 0; i < work->member_count && status == CDP_OK; i++) {
        member *m = &work->members[i];
        if (i > 0) {
            status = cdp_vault_load_person(vault, m->id, &m->person, err);
            m->has_key = status == CDP_OK;
            if (status == CDP_NOT_FOUND || status == CDP_CRYPTO)
                status = CDP_OK; /* nothing to open: its records are deleted all the same */
            if (status != CDP_OK)
                break;
        }
        uint8_t *value = NULL;
        size_t len = 0;
        status = cdp_region_get(region, CDP_CF_KEYS, m->id, CDP_PROFILE_ID_BYTES, &value, &len,
                                err);
        cdp_region_free_value(value);
        if (status == CDP_OK)
            work->counts.keys++;
        if (status == CDP_OK || status == CDP_NOT_FOUND)
            status = cdp_region_get(region, CDP_CF_PROFILES, m->id, CDP_PROFILE_ID_BYTES, &value,
                                    &len, err);
        cdp_region_free_value(value);
        if (status == CDP_OK)
            work->counts.profiles++;
        if (status != CDP_OK && status != CDP_NOT_FOUND)
            break;
        status = CDP_OK;
        cdp_batch_delete(batch, region, CDP_CF_KEYS, m->id, CDP_PROFILE_ID_BYTES);
        cdp_batch_delete(batch, region, CDP_CF_PROFILES, m->id, CDP_PROFILE_ID_BYTES);
        status = erase_prefix(work, vault, batch, m, CDP_CF_EVENTS, &work->counts.events, err);
        if (status == CDP_OK)
            status =
                erase_prefix(work, vault, batch, m, CDP_CF_CONSENT, &work->counts.consent, err);
        if (status == CDP_OK)
            status = erase_prefix(work, vault, batch, m, CDP_CF_MERGES, &work->counts.merges, err);
        char hex[33];
        cdp_hex_encode(hex, m->id, CDP_PROFILE_ID_BYTES);
        if (status == CDP_OK && json_array_append_new(members_json, json_string(hex)) != 0)
            status = cdp_err_set(err, CDP_NOMEM, "out of memory");
    }
    if (status != CDP_OK)
        goto done;

    /* Identifiers: index entries go, suppression entries come. An identifier whose index entry
     * names someone else (not one of the members) is left alone: suppressing it would refuse
     * that other person's events. */
    reference = json_pack("{s:s, s:I}", "request_id", request_id, "time", (json_int_t)now_ms);
    if (reference == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < profile->identity_count && status == CDP_OK; i++) {
        const cdp_identity_entry *identity = &profile->identities[i];
        uint8_t blind[CDP_BLIND_BYTES], suppress_blind[CDP_BLIND_BYTES], *owner = NULL;
        size_t owner_len = 0;
        status = cdp_vault_blind(vault, identity->type, (const uint8_t *)identity->value,
                                 strlen(identity->value), blind, err);
        if (status == CDP_OK)
            status = cdp_region_get(region, CDP_CF_IDENTITY, blind, sizeof blind, &owner,
                                    &owner_len, err);
        int elsewhere = status == CDP_OK && !is_member(work, owner, owner_len);
        if (status == CDP_OK && !elsewhere)
            work->counts.identities++;
        cdp_region_free_value(owner);
        if (status != CDP_OK && status != CDP_NOT_FOUND)
            break;
        status = CDP_OK;
        if (elsewhere)
            continue;
        delete_index_entries(work, batch, region, identity->type, identity->value);
        status = cdp_vault_suppress_blind(vault, identity->type, (const uint8_t *)identity->value,
                                          strlen(identity->value), suppress_blind, err);
        if (status == CDP_OK)
            status = batch_put_json(batch, region, CDP_CF_SUPPRESS, suppress_blind,
                                    sizeof suppress_blind, reference, err);
        if (status == CDP_OK)
            status = add_suppressed(work, suppress_blind, err);
    }
    if (status != CDP_OK)
        goto done;

    /* The journal: the receipt body (signed once the audit sequence is known), pending purge. */
    char profile_hex[33], key[META_KEY_MAX];
    cdp_hex_encode(profile_hex, work->members[0].id, CDP_PROFILE_ID_BYTES);
    body = cdp_receipt_body(request_id, now_ms, region_id, profile_hex, &work->counts,
                            (const char *const *)work->suppressed_hex, work->suppressed_count);
    entry = body ? json_pack("{s:s, s:O, s:O}", "state", "receipt_pending", "members",
                             members_json, "body", body)
                 : NULL;
    if (entry == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        goto done;
    }
    meta_key(key, JOURNAL_PREFIX, request_id);
    status = batch_put_json(batch, region, CDP_CF_META, (const uint8_t *)key, strlen(key), entry,
                            err);
    if (status != CDP_OK)
        goto done;
    meta_key(key, PENDING_PREFIX, request_id);
    cdp_batch_put(batch, region, CDP_CF_META, (const uint8_t *)key, strlen(key),
                  (const uint8_t *)"", 0);
    meta_key(key, BY_PROFILE_PREFIX, profile_hex);
    cdp_batch_put(batch, region, CDP_CF_META, (const uint8_t *)key, strlen(key),
                  (const uint8_t *)request_id, strlen(request_id));

    static const char *const categories[] = {"keys",    "profile", "event",
                                             "consent", "merges",  "identity"};
    cdp_audit_entry audit = {
        .time_ms = now_ms,
        .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
        .actor_role = cdp_role_name(actor->role),
        .operation = "erasure",
        .profile_id = work->members[0].id,
        .categories = categories,
        .category_count = sizeof categories / sizeof categories[0],
        .decision = CDP_AUDIT_ALLOW,
        .request_id = request_id,
    };
    /* One atomic write: keys, records, index, suppression, journal and audit, or nothing. Made
     * durable by the caller's WAL sync outside the region lock (group commit with other writers),
     * before any receipt leaves: a crash before the sync loses the whole erasure or none of it. */
    status = cdp_audit_write(env->audit_logs[region_index], batch, &audit, 1, 0, seq, err);
done:
    json_decref(entry);
    json_decref(body);
    json_decref(reference);
    json_decref(members_json);
    cdp_batch_free(batch);
    return status;
}

/* The receipt of an erasure already done for this identifier or profile, if any. */
static cdp_status previous_erasure(const cdp_identity_env *env, const char *type,
                                   const char *value, char **receipt_json, cdp_err *err) {
    char *request_id = NULL;
    size_t region_index = 0;
    cdp_status status = CDP_NOT_FOUND;
    if (strcmp(type, "profile") == 0) {
        char key[META_KEY_MAX];
        meta_key(key, BY_PROFILE_PREFIX, value);
        for (size_t r = 0; r < env->region_count && status == CDP_NOT_FOUND; r++)
            status = meta_get_text(cdp_vault_region(env->vaults[r]), key, &request_id, err);
    } else {
        for (size_t r = 0; r < env->region_count && status == CDP_NOT_FOUND; r++) {
            cdp_vault *vault = env->vaults[r];
            uint8_t blind[CDP_BLIND_BYTES], *reference = NULL;
            size_t len = 0;
            status = cdp_vault_suppress_blind(vault, type, (const uint8_t *)value, strlen(value),
                                              blind, err);
            if (status == CDP_OK)
                status = cdp_region_get(cdp_vault_region(vault), CDP_CF_SUPPRESS, blind,
                                        sizeof blind, &reference, &len, err);
            if (status == CDP_OK) {
                json_t *parsed = json_loadb((const char *)reference, len, 0, NULL);
                const char *id = json_string_value(json_object_get(parsed, "request_id"));
                request_id = id ? cdp_strdup(id) : NULL;
                json_decref(parsed);
                if (request_id == NULL)
                    status = cdp_err_set(err, CDP_CORRUPT, "suppress: entry does not parse");
            }
            cdp_region_free_value(reference);
        }
    }
    if (status != CDP_OK) {
        cdp_free(request_id);
        return status;
    }
    json_t *entry = NULL;
    status = find_journal(env, request_id, &region_index, &entry, err);
    if (status == CDP_NOT_FOUND) /* suppressed, but the journal is gone: say so, not "nobody" */
        status = cdp_err_set(err, CDP_CORRUPT, "erasure %s: suppressed without a journal entry",
                             request_id);
    if (status == CDP_OK)
        status = stored_receipt(env, region_index, request_id, entry, receipt_json, err);
    json_decref(entry);
    cdp_free(request_id);
    return status;
}

cdp_status cdp_privacy_erase(const cdp_identity_env *env, const cdp_actor *actor,
                             const char *type, const char *value, const char *request_id,
                             int64_t now_ms, char **receipt_json, cdp_err *err) {
    erase_work work;
    cdp_profile_record profile = {0};
    cdp_buf plain = {0};
    json_t *journal = NULL;
    size_t region_index = 0, journal_region = 0;
    uint8_t id[CDP_PROFILE_ID_BYTES];
    uint64_t seq = 0;
    memset(&work, 0, sizeof work);
    *receipt_json = NULL;
    if (!cdp_audit_token_ok(request_id) || strlen(request_id) > CDP_ERASE_REQUEST_ID_MAX)
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "request_id: 1..%d characters of [A-Za-z0-9_.:-] (it is kept in the "
                           "audit log and the suppression list, which hold no personal data)",
                           CDP_ERASE_REQUEST_ID_MAX);
    cdp_status status = find_person(env, type, value, &region_index, id, err);
    if (status == CDP_NOT_FOUND) {
        /* Erasing again: the stored receipt, not an error. */
        cdp_err previous_err = {0};
        status = previous_erasure(env, type, value, receipt_json, &previous_err);
        if (status == CDP_NOT_FOUND)
            return cdp_err_set(err, CDP_NOT_FOUND, "no person holds this %s (not found)", type);
        if (status != CDP_OK)
            *err = previous_err;
        return status;
    }
    if (status != CDP_OK)
        return status;
    status = find_journal(env, request_id, &journal_region, &journal, err);
    if (status == CDP_OK) {
        json_decref(journal);
        return cdp_err_set(err, CDP_CONFLICT,
                           "request_id: %s was used for another erasure; use a new one",
                           request_id);
    }
    if (status != CDP_NOT_FOUND)
        return status;
    cdp_err_clear(err);

    pthread_mutex_lock(&env->region_locks[region_index]);
    /* Again under the lock: a message may have merged the person into another meanwhile. */
    size_t locked_region = region_index;
    status = find_person(env, type, value, &locked_region, id, err);
    if (status == CDP_OK && locked_region != region_index)
        status = cdp_err_set(err, CDP_CONFLICT,
                             "the person moved region during the erasure; retry");
    if (status == CDP_NOT_FOUND) {
        /* Erased by another request meanwhile: its receipt, as for any repeated erasure. */
        pthread_mutex_unlock(&env->region_locks[region_index]);
        status = previous_erasure(env, type, value, receipt_json, err);
        goto done;
    }
    cdp_vault *vault = env->vaults[region_index];
    if (status == CDP_OK)
        status = add_member(&work, id, err);
    if (status == CDP_OK)
        status = cdp_vault_get_person_record(vault, id, CDP_CF_PROFILES, id, CDP_PROFILE_ID_BYTES,
                                             &work.members[0].person, &plain, err);
    if (status == CDP_OK) {
        work.members[0].has_key = 1;
        status = cdp_profile_record_decode(plain.data, plain.len, &profile, err);
    }
    for (size_t i = 0; status == CDP_OK && i < profile.merged_from_count; i++) {
        uint8_t merged[CDP_PROFILE_ID_BYTES];
        const char *hex = profile.merged_from[i];
        if (hex != NULL && cdp_hex_decode(merged, sizeof merged, hex, strlen(hex)) == 0)
            status = add_member(&work, merged, err);
    }
    if (status == CDP_OK) {
        cdp_crash_point("erase.before_batch");
        status = erase_locked(env, region_index, actor, &profile, &work, request_id, now_ms, &seq,
                              err);
    }
    if (status == CDP_OK) {
        /* After the write, never before only: a load in flight must not re-cache a key. */
        for (size_t i = 0; i < work.member_count; i++)
            cdp_vault_forget_person(vault, work.members[i].id);
        atomic_fetch_add(&env->counters->erasures, 1);
    }
    pthread_mutex_unlock(&env->region_locks[region_index]);
    if (status != CDP_OK)
        goto done;
    cdp_crash_point("erase.after_batch");

    status = find_journal(env, request_id, &journal_region, &journal, err);
    if (status == CDP_OK)
        status = finish_receipt(env, region_index, request_id, journal, &seq, receipt_json, err);
    /* One fsync for the erasure and its receipt (the erasure even if signing failed). */
    cdp_status synced = cdp_region_sync_wal(cdp_vault_region(vault), status == CDP_OK ? err : NULL);
    if (status == CDP_OK)
        status = synced;
    /* The erasure is durable: into the ledger outside the regions, so a restore of an older
     * copy applies it again. A crash before this line leaves the journal entry pending, and the
     * purge (at the latest at the next open) appends the line. */
    if (status == CDP_OK) {
        cdp_crash_point("erase.before_ledger");
        status = cdp_privacy_ledger_record(env, region_index, request_id,
                                           json_object_get(journal, "members"), *receipt_json, 0,
                                           err);
        if (status != CDP_OK) {
            cdp_free(*receipt_json);
            *receipt_json = NULL;
        }
    }
    if (status == CDP_OK)
        cdp_crash_point("erase.after_receipt");
done:
    json_decref(journal);
    cdp_profile_record_clear(&profile);
    cdp_buf_free_secret(&plain);
    work_clear(&work);
    return status;
}

/* ---- purge and recovery ------------------------------------------------------------------ */

typedef struct pending_list {
    char **request_ids;
    size_t count;
} pending_list;

static void pending_clear(pending_list *list) {
    for (size_t i = 0; i < list->count; i++)
        cdp_free(list->request_ids[i]);
    cdp_free(list->request_ids);
    memset(list, 0, sizeof *list);
}

static cdp_status list_pending(cdp_region *region, pending_list *list, cdp_err *err) {
    cdp_iter *iter = NULL;
    size_t prefix_len = strlen(PENDING_PREFIX), cap = 0;
    cdp_status status = cdp_region_iter(region, CDP_CF_META, (const uint8_t *)PENDING_PREFIX,
                                        prefix_len, &iter, err);
    for (; status == CDP_OK && cdp_iter_valid(iter); cdp_iter_next(iter)) {
        size_t key_len = 0;
        const uint8_t *key = cdp_iter_key(iter, &key_len);
        if (list->count == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = cdp_realloc(list->request_ids, cap * sizeof *grown);
            if (grown == NULL) {
                status = cdp_err_set(err, CDP_NOMEM, "out of memory");
                break;
            }
            list->request_ids = grown;
        }
        list->request_ids[list->count] =
            cdp_strndup((const char *)key + prefix_len, key_len - prefix_len);
        if (list->request_ids[list->count] == NULL)
            status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        else
            list->count++;
    }
    if (status == CDP_OK)
        status = cdp_iter_status(iter, err);
    cdp_iter_free(iter);
    return status;
}

/* Widens [low, high] to cover the journal entry's member ids. */
static void widen_range(json_t *entry, uint8_t low[CDP_PROFILE_ID_BYTES],
                        uint8_t high[CDP_PROFILE_ID_BYTES], int *any) {
    size_t index;
    json_t *item;
    json_array_foreach(json_object_get(entry, "members"), index, item) {
        uint8_t id[CDP_PROFILE_ID_BYTES];
        const char *hex = json_string_value(item);
        if (hex == NULL || cdp_hex_decode(id, sizeof id, hex, strlen(hex)) != 0)
            continue;
        if (!*any || memcmp(id, low, sizeof id) < 0)
            memcpy(low, id, sizeof id);
        if (!*any || memcmp(id, high, sizeof id) > 0)
            memcpy(high, id, sizeof id);
        *any = 1;
    }
}

/* recover: also sign receipts a crash left unsigned (at open, when no erasure is running).
 * Otherwise an unsigned entry belongs to an erasure in progress in another thread, which signs it
 * itself: it is left for the next purge, so this one never overwrites that thread's journal
 * write (or the other way round). */
static cdp_status purge_region(const cdp_identity_env *env, size_t region_index, int recover,
                               size_t *purged, cdp_err *err) {
    cdp_region *region = cdp_vault_region(env->vaults[region_index]);
    pending_list pending = {0};
    json_t **entries = NULL;
    cdp_batch *batch = NULL;
    uint8_t low[CDP_PROFILE_ID_BYTES], high[CDP_PROFILE_ID_BYTES];
    int any_member = 0;
    cdp_status status = list_pending(region, &pending, err);
    if (status != CDP_OK || pending.count == 0)
        goto done;
    entries = cdp_calloc(pending.count, sizeof *entries);
    batch = cdp_batch_new();
    if (entries == NULL || batch == NULL) {
        status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        goto done;
    }
    size_t ready = 0;
    for (size_t i = 0; i < pending.count && status == CDP_OK; i++) {
        char key[META_KEY_MAX];
        meta_key(key, JOURNAL_PREFIX, pending.request_ids[i]);
        status = meta_get_json(region, key, &entries[i], err);
        if (status == CDP_OK && !recover && json_object_get(entries[i], "receipt") == NULL) {
            json_decref(entries[i]);
            entries[i] = NULL;
            continue;
        }
        if (status == CDP_OK && json_object_get(entries[i], "receipt") == NULL) {
            /* A crash between the erase batch and its receipt: sign it now. */
            status = finish_receipt(env, region_index, pending.request_ids[i], entries[i], NULL,
                                    NULL, err);
            json_decref(entries[i]);
            entries[i] = NULL;
            if (status == CDP_OK)
                status = meta_get_json(region, key, &entries[i], err);
        }
        /* A crash between the erasure and its ledger line: append it now (once). */
        if (status == CDP_OK)
            status = cdp_privacy_ledger_record(
                env, region_index, pending.request_ids[i], json_object_get(entries[i], "members"),
                json_string_value(json_object_get(entries[i], "receipt")), 1, err);
        if (status == CDP_OK) {
            widen_range(entries[i], low, high, &any_member);
            ready++;
        }
    }
    if (status != CDP_OK || ready == 0)
        goto done;

    /* The memtables go to SST: the WAL files holding the person's writes become obsolete and
     * RocksDB deletes them (recycling is off, see region.c). */
    status = cdp_region_flush(region, err);
    if (status != CDP_OK)
        goto done;
    cdp_crash_point("purge.after_flush");
    static const cdp_cf by_profile[] = {CDP_CF_KEYS, CDP_CF_PROFILES, CDP_CF_EVENTS,
                                        CDP_CF_CONSENT, CDP_CF_MERGES};
    uint8_t end[CDP_PROFILE_ID_BYTES];
    int bounded = any_member && id_successor(high, end);
    for (size_t i = 0; status == CDP_OK && i < sizeof by_profile / sizeof by_profile[0]; i++)
        status = cdp_region_compact(region, by_profile[i], any_member ? low : NULL,
                                    CDP_PROFILE_ID_BYTES, bounded ? end : NULL,
                                    CDP_PROFILE_ID_BYTES, err);
    /* Identity entries are keyed by blind indexes, spread over the whole family. */
    if (status == CDP_OK)
        status = cdp_region_compact(region, CDP_CF_IDENTITY, NULL, 0, NULL, 0, err);
    if (status != CDP_OK)
        goto done;
    cdp_crash_point("purge.after_compact");

    for (size_t i = 0; i < pending.count && status == CDP_OK; i++) {
        char key[META_KEY_MAX];
        if (entries[i] == NULL)
            continue; /* left for the next purge */
        meta_key(key, JOURNAL_PREFIX, pending.request_ids[i]);
        if (json_object_set_new(entries[i], "state", json_string("done")) != 0)
            status = cdp_err_set(err, CDP_NOMEM, "out of memory");
        if (status == CDP_OK)
            status = batch_put_json(batch, region, CDP_CF_META, (const uint8_t *)key, strlen(key),
                                    entries[i], err);
        meta_key(key, PENDING_PREFIX, pending.request_ids[i]);
        cdp_batch_delete(batch, region, CDP_CF_META, (const uint8_t *)key, strlen(key));
    }
    if (status == CDP_OK)
        status = cdp_region_write(region, batch, 1, err);
    if (status == CDP_OK && purged != NULL)
        *purged += ready;
done:
    for (size_t i = 0; entries != NULL && i < pending.count; i++)
        json_decref(entries[i]);
    cdp_free(entries);
    cdp_batch_free(batch);
    pending_clear(&pending);
    return status;
}

static cdp_status purge_all(const cdp_identity_env *env, int recover, size_t *purged,
                            cdp_err *err) {
    cdp_status status = CDP_OK;
    if (purged != NULL)
        *purged = 0;
    for (size_t r = 0; r < env->region_count && status == CDP_OK; r++)
        status = purge_region(env, r, recover, purged, err);
    return status;
}

cdp_status cdp_privacy_purge(const cdp_identity_env *env, size_t *purged, cdp_err *err) {
    return purge_all(env, 0, purged, err);
}

cdp_status cdp_privacy_recover(const cdp_identity_env *env, cdp_err *err) {
    return purge_all(env, 1, NULL, err);
}

/* ---- suppression ------------------------------------------------------------------------- */

int cdp_privacy_is_suppressed(const cdp_identity_env *env, const char *type, const char *value) {
    for (size_t r = 0; r < env->region_count; r++) {
        uint8_t blind[CDP_BLIND_BYTES], *reference = NULL;
        size_t len = 0;
        if (cdp_vault_suppress_blind(env->vaults[r], type, (const uint8_t *)value, strlen(value),
                                     blind, NULL) != CDP_OK)
            continue;
        cdp_status status = cdp_region_get(cdp_vault_region(env->vaults[r]), CDP_CF_SUPPRESS,
                                           blind, sizeof blind, &reference, &len, NULL);
        cdp_region_free_value(reference);
        if (status == CDP_OK)
            return 1;
    }
    return 0;
}

cdp_status cdp_privacy_lift(const cdp_identity_env *env, const cdp_actor *actor, const char *type,
                            const char *value, int64_t now_ms, cdp_err *err) {
    return cdp_privacy_lift_with_reason(env, actor, type, value, NULL, now_ms, err);
}

cdp_status cdp_privacy_lift_with_reason(const cdp_identity_env *env, const cdp_actor *actor,
                                        const char *type, const char *value, const char *reason,
                                        int64_t now_ms, cdp_err *err) {
    cdp_status status = CDP_OK;
    int lifted = 0;
    for (size_t r = 0; r < env->region_count && status == CDP_OK; r++) {
        cdp_vault *vault = env->vaults[r];
        cdp_region *region = cdp_vault_region(vault);
        uint8_t blind[CDP_BLIND_BYTES], *reference = NULL;
        size_t len = 0;
        status = cdp_vault_suppress_blind(vault, type, (const uint8_t *)value, strlen(value),
                                          blind, err);
        if (status == CDP_OK)
            status = cdp_region_get(region, CDP_CF_SUPPRESS, blind, sizeof blind, &reference,
                                    &len, err);
        cdp_region_free_value(reference);
        if (status == CDP_NOT_FOUND) {
            status = CDP_OK;
            continue;
        }
        if (status != CDP_OK)
            break;
        cdp_batch *batch = cdp_batch_new();
        if (batch == NULL) {
            status = cdp_err_set(err, CDP_NOMEM, "out of memory");
            break;
        }
        cdp_batch_delete(batch, region, CDP_CF_SUPPRESS, blind, sizeof blind);
        static const char *const categories[] = {"identity"};
        cdp_audit_entry audit = {
            .time_ms = now_ms,
            .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
            .actor_role = cdp_role_name(actor->role),
            .operation = "suppression.lift",
            .categories = categories,
            .category_count = 1,
            .decision = CDP_AUDIT_ALLOW,
            .reason = reason != NULL && cdp_audit_token_ok(reason) ? reason : NULL,
            .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
        };
        /* Under the region lock, so no message is half-way between its suppression check and
         * its write while the entry goes. */
        pthread_mutex_lock(&env->region_locks[r]);
        status = cdp_audit_write(env->audit_logs[r], batch, &audit, 1, 1, NULL, err);
        pthread_mutex_unlock(&env->region_locks[r]);
        cdp_batch_free(batch);
        lifted += status == CDP_OK;
    }
    if (status == CDP_OK && !lifted)
        status = cdp_err_set(err, CDP_NOT_FOUND, "%s: this identifier is not suppressed", type);
    return status;
}
