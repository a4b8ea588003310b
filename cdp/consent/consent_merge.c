/* Consent-safe merges and per-side restoration on unmerge. Both only ADD records (history is
 * kept, withdrawals stay as dated records); the ordinary "latest record decides" read then gives
 * the merged or split state, and later decisions win because they are newer. */
#include "consent/consent_merge.h"

#include <jansson.h>
#include <string.h>

#include "util/alloc.h"

int cdp_consent_rank(cdp_consent_state state) {
    switch (state) {
    case CDP_CONSENT_STATE_GRANTED:
        return 1;
    case CDP_CONSENT_STATE_DENIED:
        return 2;
    case CDP_CONSENT_STATE_WITHDRAWN:
        return 3;
    default:
        return 0;
    }
}

static int64_t later(int64_t a, int64_t b) { return a > b ? a : b; }

/* ---- merge ----------------------------------------------------------------------------------- */

cdp_status cdp_consent_merge(cdp_vault *vault, cdp_batch *batch,
                             const cdp_consent_member *members, size_t member_count,
                             int64_t time_ms, const char *request_id, size_t *written,
                             cdp_err *err) {
    if (written != NULL)
        *written = 0;
    if (member_count < 2)
        return CDP_OK;
    cdp_consent_view *views = cdp_calloc(member_count, sizeof *views);
    if (views == NULL)
        return cdp_err_set(err, CDP_NOMEM, "consent merge: out of memory");
    cdp_status status = CDP_OK;
    int64_t after = time_ms;
    for (size_t m = 0; m < member_count && status == CDP_OK; m++) {
        status = cdp_consent_current(vault, members[m].person, members[m].merged_from,
                                     members[m].merged_count, &views[m], err);
        for (size_t i = 0; status == CDP_OK && i < views[m].count; i++)
            after = later(after, views[m].current[i].time_ms + 1);
    }
    /* Each purpose once: decided when first met in member order. */
    for (size_t m = 0; m < member_count && status == CDP_OK; m++) {
        for (size_t i = 0; i < views[m].count && status == CDP_OK; i++) {
            const char *purpose = views[m].current[i].purpose;
            int seen = 0;
            for (size_t earlier = 0; earlier < m && !seen; earlier++)
                seen = cdp_consent_view_find(&views[earlier], purpose) != NULL;
            if (seen)
                continue;
            /* The deciding record: the strictest state; among equals, a GPC opt-out (its signal
             * must stay visible), then the newest. */
            const cdp_consent_record *decide = NULL;
            for (size_t k = m; k < member_count; k++) {
                const cdp_consent_record *held = cdp_consent_view_find(&views[k], purpose);
                if (held == NULL)
                    continue;
                int rank = cdp_consent_rank(held->state);
                int best = decide ? cdp_consent_rank(decide->state) : -1;
                if (rank > best || (rank == best && held->gpc > decide->gpc) ||
                    (rank == best && held->gpc == decide->gpc && held->time_ms > decide->time_ms))
                    decide = held;
            }
            /* Grants (alone or beside silence) are what the latest-record read already gives:
             * nothing to pin. A refusal anywhere is pinned, so no grant can outrank it. */
            if (decide == NULL || cdp_consent_rank(decide->state) < 2)
                continue;
            cdp_consent_entry entry = {
                .purpose = purpose,
                .state = decide->state,
                .time_ms = after,
                .source = "merge",
                .notice_version = decide->notice_version,
                .tcf = decide->tcf,
                .gpc = decide->gpc,
                .request_id = request_id,
                .basis = decide->basis,
            };
            status = cdp_consent_put(vault, batch, members[0].person, &entry, err);
            if (status == CDP_OK && written != NULL)
                (*written)++;
        }
    }
    for (size_t m = 0; m < member_count; m++)
        cdp_consent_view_clear(&views[m]);
    cdp_free(views);
    if (status != CDP_OK)
        cdp_err_prefix(err, "consent merge");
    return status;
}

/* ---- unmerge --------------------------------------------------------------------------------- */

/* What one side ends with for one purpose. Records borrowed from the parsed histories. */
typedef struct side_state {
    json_t *latest;    /* the side's own latest record (ties: stricter) */
    json_t *shared;    /* split side only: strictest restriction made while merged */
} side_state;

typedef struct purpose_slot {
    const char *purpose; /* borrowed from a history record */
    side_state kept, split;
} purpose_slot;

typedef struct split_work {
    purpose_slot *slots;
    size_t count;
    int64_t newest; /* of every record read */
} split_work;

static cdp_consent_state record_state(json_t *record) {
    cdp_consent_state state = CDP_CONSENT_STATE_NONE;
    if (cdp_consent_state_from_text(json_string_value(json_object_get(record, "state")),
                                    &state) != 0)
        return CDP_CONSENT_STATE_NONE;
    return state;
}

static int64_t record_time(json_t *record) {
    return (int64_t)json_integer_value(json_object_get(record, "time"));
}

static int from_merge(json_t *record) {
    const char *source = json_string_value(json_object_get(record, "source"));
    return source != NULL && strcmp(source, "merge") == 0;
}

static int newer(json_t *record, json_t *held) {
    if (held == NULL)
        return 1;
    int64_t a = record_time(record), b = record_time(held);
    return a > b || (a == b && cdp_consent_rank(record_state(record)) >
                                   cdp_consent_rank(record_state(held)));
}

static purpose_slot *slot_for(split_work *work, const char *purpose) {
    for (size_t i = 0; i < work->count; i++)
        if (strcmp(work->slots[i].purpose, purpose) == 0)
            return &work->slots[i];
    purpose_slot *grown = cdp_realloc(work->slots, (work->count + 1) * sizeof *grown);
    if (grown == NULL)
        return NULL;
    work->slots = grown;
    memset(&grown[work->count], 0, sizeof *grown);
    grown[work->count].purpose = purpose;
    return &grown[work->count++];
}

/* The full history of owner and members, parsed; caller owns it (json_decref). */
static cdp_status history_of(cdp_vault *vault, const cdp_person *owner,
                             const char *const *members, size_t member_count, json_t **out,
                             cdp_err *err) {
    char *text = NULL;
    *out = NULL;
    cdp_status status = cdp_consent_history_json(vault, owner, members, member_count, &text, err);
    if (status == CDP_OK && (*out = json_loads(text, 0, NULL)) == NULL)
        status = cdp_err_set(err, CDP_NOMEM, "consent: history does not parse");
    cdp_free(text);
    return status;
}

/* Offers every record of one side's history. */
static cdp_status take_side(split_work *work, json_t *history, int kept_side, int64_t joined_ms,
                            cdp_err *err) {
    size_t index;
    json_t *record;
    json_array_foreach(history, index, record) {
        const char *purpose = json_string_value(json_object_get(record, "purpose"));
        if (purpose == NULL || record_state(record) == CDP_CONSENT_STATE_NONE)
            return cdp_err_set(err, CDP_CORRUPT, "consent: history record without a state");
        work->newest = later(work->newest, record_time(record));
        purpose_slot *slot = slot_for(work, purpose);
        if (slot == NULL)
            return cdp_err_set(err, CDP_NOMEM, "consent unmerge: out of memory");
        int shared_period = record_time(record) >= joined_ms;
        if (!kept_side) {
            if (newer(record, slot->split.latest))
                slot->split.latest = record;
            continue;
        }
        /* Records a merge wrote while the sides were one person speak for the split side too:
         * not for the kept side alone. */
        if (from_merge(record) && shared_period)
            continue;
        if (newer(record, slot->kept.latest))
            slot->kept.latest = record;
        if (shared_period && cdp_consent_rank(record_state(record)) >= 2 &&
            (slot->split.shared == NULL || cdp_consent_rank(record_state(record)) >
                                               cdp_consent_rank(record_state(slot->split.shared))))
            slot->split.shared = record;
    }
    return CDP_OK;
}

static const char *optional_text(json_t *record, const char *name) {
    return json_string_value(json_object_get(record, name));
}

static cdp_status put_restored(cdp_vault *vault, cdp_batch *batch, const cdp_person *person,
                               const char *purpose, json_t *record, int64_t time_ms,
                               const char *request_id, size_t *written, cdp_err *err) {
    json_t *proof = json_object_get(record, "proof");
    cdp_consent_entry entry = {
        .purpose = purpose,
        .state = record_state(record),
        .time_ms = time_ms,
        .source = "unmerge",
        .notice_version = optional_text(record, "notice_version"),
        .tcf = optional_text(proof, "tcf"),
        .gpc = json_is_true(json_object_get(proof, "gpc")),
        .request_id = request_id,
        .basis = optional_text(record, "basis"),
    };
    cdp_status status = cdp_consent_put(vault, batch, person, &entry, err);
    if (status == CDP_OK && written != NULL)
        (*written)++;
    return status;
}

cdp_status cdp_consent_unmerge(cdp_vault *vault, cdp_batch *batch, const cdp_consent_split *split,
                               size_t *written, cdp_err *err) {
    if (written != NULL)
        *written = 0;
    split_work work = {0};
    json_t *kept_history = NULL;
    json_t **split_histories = NULL;
    size_t split_loaded = 0;
    cdp_status status = history_of(vault, split->kept, split->kept_members,
                                   split->kept_member_count, &kept_history, err);
    if (status == CDP_OK && split->split_member_count > 0) {
        split_histories = cdp_calloc(split->split_member_count, sizeof *split_histories);
        if (split_histories == NULL)
            status = cdp_err_set(err, CDP_NOMEM, "consent unmerge: out of memory");
    }
    for (size_t m = 0; status == CDP_OK && m < split->split_member_count; m++) {
        uint8_t member_id[CDP_PROFILE_ID_BYTES];
        const char *hex = split->split_members[m];
        if (hex == NULL || cdp_hex_decode(member_id, sizeof member_id, hex, strlen(hex)) != 0) {
            status = cdp_err_set(err, CDP_CORRUPT, "consent: merged profile id is not 32 hex");
            break;
        }
        cdp_person member;
        status = cdp_vault_load_person(vault, member_id, &member, err);
        if (status == CDP_NOT_FOUND) { /* erased member: nothing of it is left to restore */
            cdp_err_clear(err);
            status = CDP_OK;
            continue;
        }
        if (status == CDP_OK)
            status = history_of(vault, &member, NULL, 0, &split_histories[split_loaded++], err);
        cdp_person_wipe(&member);
    }
    if (status == CDP_OK)
        status = take_side(&work, kept_history, 1, split->joined_ms, err);
    for (size_t m = 0; status == CDP_OK && m < split_loaded; m++)
        status = take_side(&work, split_histories[m], 0, split->joined_ms, err);
    int64_t time_ms = later(split->time_ms, work.newest + 1);
    for (size_t i = 0; status == CDP_OK && i < work.count; i++) {
        purpose_slot *slot = &work.slots[i];
        json_t *split_record = slot->split.latest;
        if (slot->split.shared != NULL &&
            (split_record == NULL || cdp_consent_rank(record_state(slot->split.shared)) >
                                         cdp_consent_rank(record_state(split_record))))
            split_record = slot->split.shared;
        if (slot->kept.latest != NULL)
            status = put_restored(vault, batch, split->kept, slot->purpose, slot->kept.latest,
                                  time_ms, split->request_id, written, err);
        if (status == CDP_OK && split_record != NULL)
            status = put_restored(vault, batch, split->split, slot->purpose, split_record,
                                  time_ms, split->request_id, written, err);
    }
    for (size_t m = 0; m < split_loaded; m++)
        json_decref(split_histories[m]);
    cdp_free(split_histories);
    json_decref(kept_history);
    cdp_free(work.slots);
    if (status != CDP_OK)
        cdp_err_prefix(err, "consent unmerge");
    return status;
}
