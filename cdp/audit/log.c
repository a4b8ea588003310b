/* The per-region audit log: appends in the caller's write batch, the persisted compact range,
 * checkpoints, proofs over stored subtree hashes, the person index, and retention. */
#include "audit/log_internal.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/codec.h"
#include "util/alloc.h"
#include "util/bytes.h"

#define KEY_RECORD 0x00
#define KEY_PERSON 0x01
#define KEY_CHECKPOINT 0x02
#define KEY_NODE 0x03
#define RECORD_KEY_BYTES 9
#define PERSON_KEY_BYTES (1 + CDP_PROFILE_ID_BYTES + 8)
#define CHECKPOINT_KEY_BYTES 9
#define NODE_KEY_BYTES 10

#define STATE_KEY "audit.state"
#define ANCHOR_KEY "audit.anchor"
#define STATE_VERSION 1
#define ANCHOR_VERSION 1
#define CHECKPOINT_VERSION 1
#define STATE_BYTES (1 + 8 + 8 + 8 + 1 + 8)
#define ANCHOR_MAX_BYTES (1 + 8 + 1 + CDP_MERKLE_MAX_HASHES * 32)
#define CHECKPOINT_VALUE_MAX (1 + 8 + CDP_NOTE_MAX)

#define DEFAULT_CHECKPOINT_EVERY 1000
#define DEFAULT_CHECKPOINT_INTERVAL_MS 60000
/* Records per iterator when scanning: the key prefix fixes all but the last seq byte. */
#define SCAN_CHUNK 256
/* Index deletions per batch during retention. */
#define RETAIN_BATCH 4096

/* Everything an append changes in memory; copied before and restored when the write fails. */
typedef struct log_state {
    cdp_merkle_frontier frontier; /* frontier.size is the tree size */
    uint64_t last_checkpoint_size;
    int64_t last_checkpoint_ms;
    int has_checkpoint;
    int64_t last_time_ms;
} log_state;

struct cdp_audit_log {
    cdp_region *region;
    cdp_keystore *keystore;
    char region_id[CDP_REGION_NAME_MAX + 1];
    char origin[CDP_CHECKPOINT_ORIGIN_MAX + 1];
    cdp_audit_options options;
    pthread_mutex_t lock;        /* appends, checkpoints, state */
    pthread_rwlock_t prune_lock; /* readers shared, retention exclusive */
    log_state state;             /* under lock */
    cdp_buf leaf;                /* under lock: the leaf being staged (head || body) */
    cdp_batch *group_batch;      /* under lock: the batch of a group commit, reused */
    /* Group commit of appends without a caller batch (audited reads, refusals): appenders
     * queue under queue_lock; one of them (the leader) takes the queue, writes it as one batch
     * under lock, then marks every member done and wakes them. */
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_done;
    struct audit_waiter *queue_head, *queue_tail; /* under queue_lock */
    int leader_active;                            /* under queue_lock */
    audit_group_stats group_stats;                /* under queue_lock */
    uint64_t start;             /* under prune_lock (and lock when written) */
    cdp_merkle_frontier anchor; /* compact range of [0, start) */
    cdp_audit_log *next_open;
};

/* Logs open in this process, so a second log on the same region is refused. */
static pthread_mutex_t open_logs_lock = PTHREAD_MUTEX_INITIALIZER;
static cdp_audit_log *open_logs;

cdp_region *cdp_audit_log_store(cdp_audit_log *log) { return log->region; }

void cdp_audit_options_default(cdp_audit_options *options) {
    options->checkpoint_every = DEFAULT_CHECKPOINT_EVERY;
    options->checkpoint_interval_ms = DEFAULT_CHECKPOINT_INTERVAL_MS;
}

static int64_t now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void record_key(uint8_t key[RECORD_KEY_BYTES], uint64_t seq) {
    key[0] = KEY_RECORD;
    cdp_store_be64(key + 1, seq);
}

static void person_key(uint8_t key[PERSON_KEY_BYTES], const uint8_t *profile_id, uint64_t seq) {
    key[0] = KEY_PERSON;
    memcpy(key + 1, profile_id, CDP_PROFILE_ID_BYTES);
    cdp_store_be64(key + 1 + CDP_PROFILE_ID_BYTES, seq);
}

static void checkpoint_key(uint8_t key[CHECKPOINT_KEY_BYTES], uint64_t size) {
    key[0] = KEY_CHECKPOINT;
    cdp_store_be64(key + 1, size);
}

static void node_key(uint8_t key[NODE_KEY_BYTES], unsigned level, uint64_t index) {
    key[0] = KEY_NODE;
    key[1] = (uint8_t)level;
    cdp_store_be64(key + 2, index);
}

/* ---- persisted state ---------------------------------------------------------------------- */

static size_t put_hashes(uint8_t *out, const cdp_merkle_frontier *frontier) {
    out[0] = (uint8_t)frontier->count;
    memcpy(out + 1, frontier->hashes, frontier->count * 32);
    return 1 + frontier->count * 32;
}

/* The frontier is not stored: every hash in it is a completed subtree the batches stored, so
 * open reads it back (O(log n)) and each append writes 34 bytes of state, not 34 + n * 32. */
static size_t encode_state(uint8_t out[STATE_BYTES], const log_state *state) {
    out[0] = STATE_VERSION;
    cdp_store_be64(out + 1, state->frontier.size);
    cdp_store_be64(out + 9, state->last_checkpoint_size);
    cdp_store_be64(out + 17, (uint64_t)state->last_checkpoint_ms);
    out[25] = (uint8_t)(state->has_checkpoint != 0);
    cdp_store_be64(out + 26, (uint64_t)state->last_time_ms);
    return STATE_BYTES;
}

static cdp_status decode_hashes(const uint8_t *in, size_t len, cdp_merkle_frontier *frontier,
                                cdp_err *err, const char *what) {
    if (len < 1 || in[0] > CDP_MERKLE_MAX_HASHES || len != 1 + (size_t)in[0] * 32)
        return cdp_err_set(err, CDP_CORRUPT, "audit: %s: bad frontier length", what);
    frontier->count = in[0];
    memcpy(frontier->hashes, in + 1, frontier->count * 32);
    if (!cdp_merkle_frontier_well_formed(frontier))
        return cdp_err_set(err, CDP_CORRUPT, "audit: %s: frontier does not match size %" PRIu64,
                           what, frontier->size);
    return CDP_OK;
}

static cdp_status decode_state(const uint8_t *in, size_t len, log_state *state, cdp_err *err) {
    if (len != STATE_BYTES || in[0] != STATE_VERSION)
        return cdp_err_set(err, CDP_CORRUPT, "audit: state: unknown version or length");
    memset(state, 0, sizeof *state);
    state->frontier.size = cdp_load_be64(in + 1);
    state->last_checkpoint_size = cdp_load_be64(in + 9);
    state->last_checkpoint_ms = (int64_t)cdp_load_be64(in + 17);
    state->has_checkpoint = in[25];
    state->last_time_ms = (int64_t)cdp_load_be64(in + 26);
    if (state->last_checkpoint_size > state->frontier.size)
        return cdp_err_set(err, CDP_CORRUPT, "audit: state: checkpoint beyond the tree");
    return CDP_OK;
}

static size_t encode_anchor(uint8_t out[ANCHOR_MAX_BYTES], const cdp_merkle_frontier *anchor) {
    out[0] = ANCHOR_VERSION;
    cdp_store_be64(out + 1, anchor->size);
    return 9 + put_hashes(out + 9, anchor);
}

static cdp_status decode_anchor(const uint8_t *in, size_t len, cdp_merkle_frontier *anchor,
                                cdp_err *err) {
    if (len < 10 || in[0] != ANCHOR_VERSION)
        return cdp_err_set(err, CDP_CORRUPT, "audit: anchor: unknown version or too short");
    anchor->size = cdp_load_be64(in + 1);
    return decode_hashes(in + 9, len - 9, anchor, err, "anchor");
}

static void put_state(cdp_audit_log *log, cdp_batch *batch, const log_state *state) {
    uint8_t value[STATE_BYTES];
    size_t len = encode_state(value, state);
    cdp_batch_put(batch, log->region, CDP_CF_META, (const uint8_t *)STATE_KEY, strlen(STATE_KEY),
                  value, len);
}

/* ---- checkpoints -------------------------------------------------------------------------- */

static cdp_status parse_checkpoint_value(uint64_t size, const uint8_t *value, size_t len,
                                         cdp_audit_checkpoint *out, cdp_err *err) {
    if (len < 10 || value[0] != CHECKPOINT_VERSION || len - 9 > CDP_NOTE_MAX)
        return cdp_err_set(err, CDP_CORRUPT, "audit: checkpoint %" PRIu64 ": malformed", size);
    out->tree_size = size;
    out->time_ms = (int64_t)cdp_load_be64(value + 1);
    memcpy(out->note, value + 9, len - 9);
    out->note[len - 9] = '\0';
    size_t text_len = 0;
    cdp_checkpoint_body body;
    cdp_status status = cdp_note_text_length(out->note, len - 9, &text_len, err);
    if (status == CDP_OK)
        status = cdp_checkpoint_parse(out->note, text_len, &body, err);
    if (status != CDP_OK) {
        cdp_err_prefix(err, "audit: checkpoint %" PRIu64, size);
        return status;
    }
    if (body.tree_size != size)
        return cdp_err_set(err, CDP_CORRUPT, "audit: checkpoint %" PRIu64 " says size %" PRIu64,
                           size, body.tree_size);
    memcpy(out->root, body.root, 32);
    return CDP_OK;
}

static void put_checkpoint(cdp_audit_log *log, cdp_batch *batch, const cdp_audit_checkpoint *cp) {
    uint8_t key[CHECKPOINT_KEY_BYTES], value[CHECKPOINT_VALUE_MAX];
    size_t note_len = strlen(cp->note);
    checkpoint_key(key, cp->tree_size);
    value[0] = CHECKPOINT_VERSION;
    cdp_store_be64(value + 1, (uint64_t)cp->time_ms);
    memcpy(value + 9, cp->note, note_len);
    cdp_batch_put(batch, log->region, CDP_CF_AUDIT, key, sizeof key, value, 9 + note_len);
}

static cdp_status current_keys(cdp_audit_log *log, const cdp_region_keys **keys, cdp_err *err) {
    cdp_status status = cdp_keystore_current(log->keystore, log->region_id, keys, err);
    if (status != CDP_OK)
        cdp_err_prefix(err, "audit: no signing key for region %s", log->region_id);
    return status;
}

/* Signs a new checkpoint of the tree in state (no allocation). */
static cdp_status sign_checkpoint(cdp_audit_log *log, const log_state *state, int64_t time_ms,
                                  cdp_audit_checkpoint *out, cdp_err *err) {
    const cdp_region_keys *keys = NULL;
    cdp_status status = current_keys(log, &keys, err);
    if (status != CDP_OK)
        return status;
    char text[256];
    out->tree_size = state->frontier.size;
    out->time_ms = time_ms;
    cdp_merkle_frontier_root(&state->frontier, out->root);
    status = cdp_checkpoint_format(text, sizeof text, log->origin, out->tree_size, out->root, err);
    if (status == CDP_OK)
        status = cdp_note_sign(text, log->origin, keys->audit_secret_key, keys->audit_public_key,
                               out->note, sizeof out->note, err);
    return status;
}

cdp_status cdp_audit_checkpoint_get(cdp_audit_log *log, uint64_t tree_size,
                                    cdp_audit_checkpoint *out, cdp_err *err) {
    uint8_t key[CHECKPOINT_KEY_BYTES];
    uint8_t *value = NULL;
    size_t len = 0;
    checkpoint_key(key, tree_size);
    cdp_status status =
        cdp_region_get(log->region, CDP_CF_AUDIT, key, sizeof key, &value, &len, err);
    if (status == CDP_NOT_FOUND)
        return cdp_err_set(err, CDP_NOT_FOUND, "audit: no checkpoint of size %" PRIu64, tree_size);
    if (status == CDP_OK)
        status = parse_checkpoint_value(tree_size, value, len, out, err);
    cdp_region_free_value(value);
    return status;
}

cdp_status cdp_audit_checkpoint_now(cdp_audit_log *log, cdp_audit_checkpoint *out, cdp_err *err) {
    if (log == NULL)
        return cdp_err_set(err, CDP_MISUSE, "audit: NULL log");
    cdp_audit_checkpoint local = {0};
    cdp_audit_checkpoint *checkpoint = out != NULL ? out : &local;
    cdp_batch *batch = cdp_batch_new();
    if (batch == NULL)
        return cdp_err_set(err, CDP_NOMEM, "audit: out of memory");
    pthread_mutex_lock(&log->lock);
    log_state saved = log->state;
    log_state *state = &log->state;
    cdp_status status = CDP_OK;
    if (state->has_checkpoint && state->last_checkpoint_size == state->frontier.size) {
        /* Up to date; after a key rotation the new key cosigns it. */
        const cdp_region_keys *keys = NULL;
        status = cdp_audit_checkpoint_get(log, state->frontier.size, checkpoint, err);
        if (status == CDP_NOT_FOUND)
            status = cdp_err_set(err, CDP_CORRUPT, "audit: the last checkpoint is missing");
        if (status == CDP_OK)
            status = current_keys(log, &keys, err);
        if (status == CDP_OK)
            status = cdp_note_verify(checkpoint->note, strlen(checkpoint->note), log->origin,
                                     keys->audit_public_key, err);
        if (status == CDP_NOT_FOUND && keys != NULL) {
            cdp_err_clear(err);
            status = cdp_note_cosign(checkpoint->note, sizeof checkpoint->note, log->origin,
                                     keys->audit_secret_key, keys->audit_public_key, err);
            if (status == CDP_OK)
                put_checkpoint(log, batch, checkpoint);
        }
    } else {
        status = sign_checkpoint(log, state, now_ms(), checkpoint, err);
        if (status == CDP_OK) {
            put_checkpoint(log, batch, checkpoint);
            state->last_checkpoint_size = checkpoint->tree_size;
            state->last_checkpoint_ms = checkpoint->time_ms;
            state->has_checkpoint = 1;
        }
    }
    /* Always a synced write: the checkpoint may be published next, so every record it covers
     * must be durable first (a synced write syncs the whole WAL before it). */
    if (status == CDP_OK) {
        put_state(log, batch, state);
        status = cdp_region_write(log->region, batch, 1, err);
    }
    if (status != CDP_OK)
        log->state = saved;
    pthread_mutex_unlock(&log->lock);
    cdp_batch_free(batch);
    return status;
}

/* ---- open and close ------------------------------------------------------------------------ */

static cdp_status load_state(cdp_audit_log *log, cdp_err *err) {
    uint8_t *value = NULL;
    size_t len = 0;
    cdp_status status = cdp_region_get(log->region, CDP_CF_META, (const uint8_t *)STATE_KEY,
                                       strlen(STATE_KEY), &value, &len, err);
    if (status == CDP_NOT_FOUND) {
        /* A new log: the column family must be empty too. */
        cdp_err_clear(err);
        cdp_iter *iter = NULL;
        status = cdp_region_iter(log->region, CDP_CF_AUDIT, NULL, 0, &iter, err);
        if (status == CDP_OK && cdp_iter_valid(iter))
            status = cdp_err_set(err, CDP_CORRUPT,
                                 "audit: region %s has audit entries but no audit state",
                                 log->region_id);
        if (status == CDP_OK)
            status = cdp_iter_status(iter, err);
        cdp_iter_free(iter);
        cdp_merkle_frontier_init(&log->state.frontier);
        log->state.last_checkpoint_ms = now_ms();
        return status;
    }
    if (status == CDP_OK)
        status = decode_state(value, len, &log->state, err);
    cdp_region_free_value(value);
    if (status != CDP_OK)
        return status;

    value = NULL;
    status = cdp_region_get(log->region, CDP_CF_META, (const uint8_t *)ANCHOR_KEY,
                            strlen(ANCHOR_KEY), &value, &len, err);
    if (status == CDP_NOT_FOUND) {
        cdp_err_clear(err);
        status = CDP_OK;
    } else if (status == CDP_OK) {
        status = decode_anchor(value, len, &log->anchor, err);
        log->start = log->anchor.size;
    }
    cdp_region_free_value(value);
    if (status == CDP_OK && log->start > log->state.frontier.size)
        status =
            cdp_err_set(err, CDP_CORRUPT, "audit: anchor %" PRIu64 " beyond tree size %" PRIu64,
                        log->start, log->state.frontier.size);
    /* The records must end exactly where the state says the tree does. */
    uint64_t size = log->state.frontier.size;
    if (status == CDP_OK)
        status = cdp_merkle_frontier_at(audit_log_node, log, size, &log->state.frontier, err);
    uint8_t key[RECORD_KEY_BYTES];
    uint8_t *leaf = NULL;
    size_t leaf_len = 0;
    if (status == CDP_OK && size > log->start) {
        record_key(key, size - 1);
        status = cdp_region_get(log->region, CDP_CF_AUDIT, key, sizeof key, &leaf, &leaf_len, err);
        cdp_region_free_value(leaf);
        if (status == CDP_NOT_FOUND)
            status =
                cdp_err_set(err, CDP_CORRUPT, "audit: record %" PRIu64 " is missing", size - 1);
    }
    if (status == CDP_OK) {
        leaf = NULL;
        record_key(key, size);
        status = cdp_region_get(log->region, CDP_CF_AUDIT, key, sizeof key, &leaf, &leaf_len, err);
        cdp_region_free_value(leaf);
        if (status == CDP_OK)
            status = cdp_err_set(err, CDP_CORRUPT,
                                 "audit: record %" PRIu64 " exists beyond the tree state", size);
        else if (status == CDP_NOT_FOUND) {
            cdp_err_clear(err);
            status = CDP_OK;
        }
    }
    return status;
}

cdp_status cdp_audit_log_open(cdp_region *region, const char *region_id, cdp_keystore *keystore,
                              const cdp_audit_options *options, cdp_audit_log **out, cdp_err *err) {
    if (out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "audit: NULL out");
    *out = NULL;
    if (region == NULL || region_id == NULL || keystore == NULL)
        return cdp_err_set(err, CDP_MISUSE, "audit: NULL region or keystore");
    if (strlen(region_id) > CDP_REGION_NAME_MAX)
        return cdp_err_set(err, CDP_MISUSE, "audit: region name too long");
    if (sodium_init() < 0)
        return cdp_err_set(err, CDP_CRYPTO, "audit: libsodium failed to initialise");
    cdp_audit_log *log = cdp_calloc(1, sizeof *log);
    if (log == NULL)
        return cdp_err_set(err, CDP_NOMEM, "audit: out of memory");
    log->region = region;
    log->keystore = keystore;
    snprintf(log->region_id, sizeof log->region_id, "%s", region_id);
    cdp_audit_options_default(&log->options);
    if (options != NULL) {
        if (options->checkpoint_every > 0)
            log->options.checkpoint_every = options->checkpoint_every;
        if (options->checkpoint_interval_ms != 0)
            log->options.checkpoint_interval_ms = options->checkpoint_interval_ms;
    }
    cdp_merkle_frontier_init(&log->anchor);
    cdp_status status = cdp_checkpoint_origin(log->origin, region_id, err);
    if (status == CDP_OK)
        status = load_state(log, err);
    if (status != CDP_OK) {
        cdp_free(log);
        return status;
    }
    log->group_batch = cdp_batch_new();
    if (log->group_batch == NULL) {
        cdp_free(log);
        return cdp_err_set(err, CDP_NOMEM, "audit: out of memory");
    }
    pthread_mutex_lock(&open_logs_lock);
    for (cdp_audit_log *other = open_logs; other != NULL; other = other->next_open)
        if (other->region == region)
            status = cdp_err_set(err, CDP_CONFLICT,
                                 "audit: the log of region %s is already open in this process",
                                 region_id);
    if (status == CDP_OK) {
        log->next_open = open_logs;
        open_logs = log;
    }
    pthread_mutex_unlock(&open_logs_lock);
    if (status != CDP_OK) {
        cdp_batch_free(log->group_batch);
        cdp_free(log);
        return status;
    }
    pthread_mutex_init(&log->lock, NULL);
    pthread_rwlock_init(&log->prune_lock, NULL);
    pthread_mutex_init(&log->queue_lock, NULL);
    pthread_cond_init(&log->queue_done, NULL);
    *out = log;
    return CDP_OK;
}

void cdp_audit_log_close(cdp_audit_log *log) {
    if (log == NULL)
        return;
    pthread_mutex_lock(&open_logs_lock);
    for (cdp_audit_log **link = &open_logs; *link != NULL; link = &(*link)->next_open)
        if (*link == log) {
            *link = log->next_open;
            break;
        }
    pthread_mutex_unlock(&open_logs_lock);
    pthread_mutex_destroy(&log->lock);
    pthread_rwlock_destroy(&log->prune_lock);
    pthread_mutex_destroy(&log->queue_lock);
    pthread_cond_destroy(&log->queue_done);
    cdp_batch_free(log->group_batch);
    cdp_buf_free(&log->leaf);
    cdp_free(log);
}

const char *cdp_audit_log_region(const cdp_audit_log *log) { return log->region_id; }
const char *cdp_audit_log_origin(const cdp_audit_log *log) { return log->origin; }

cdp_status cdp_audit_log_public_key(cdp_audit_log *log, uint8_t out[32], cdp_err *err) {
    const cdp_region_keys *keys = NULL;
    cdp_status status = current_keys(log, &keys, err);
    if (status == CDP_OK)
        memcpy(out, keys->audit_public_key, 32);
    return status;
}

void cdp_audit_log_info(cdp_audit_log *log, cdp_audit_info *out) {
    pthread_mutex_lock(&log->lock);
    out->tree_size = log->state.frontier.size;
    out->start = log->start;
    out->last_checkpoint_size = log->state.last_checkpoint_size;
    out->last_checkpoint_ms = log->state.last_checkpoint_ms;
    out->has_checkpoint = log->state.has_checkpoint;
    cdp_merkle_frontier_root(&log->state.frontier, out->root);
    pthread_mutex_unlock(&log->lock);
}

size_t audit_log_epoch_keys(cdp_audit_log *log, audit_epoch_key *out, size_t cap) {
    const cdp_region_keys *keys = NULL;
    if (cdp_keystore_current(log->keystore, log->region_id, &keys, NULL) != CDP_OK)
        return 0;
    size_t count = 0;
    for (uint32_t epoch = 1; epoch <= keys->epoch && count < cap; epoch++)
        if (cdp_keystore_audit_public_key(log->keystore, log->region_id, epoch,
                                          out[count].public_key, NULL) == CDP_OK)
            out[count++].epoch = epoch;
    return count;
}

cdp_status audit_log_sign(cdp_audit_log *log, const char *text, char *out, size_t cap,
                          cdp_err *err) {
    const cdp_region_keys *keys = NULL;
    cdp_status status = current_keys(log, &keys, err);
    if (status == CDP_OK)
        status = cdp_note_sign(text, log->origin, keys->audit_secret_key, keys->audit_public_key,
                               out, cap, err);
    return status;
}

/* ---- append -------------------------------------------------------------------------------- */

/* One appender: its entries, their record bodies (encoded before any lock is taken), and, in
 * a group commit, the outcome the leader hands back. */
typedef struct audit_waiter {
    const cdp_audit_entry *entries;
    size_t count;
    int sync;
    cdp_buf bodies;  /* the record bodies, one after the other */
    uint8_t one_body[4096]; /* bodies.data for a single entry that fits (no allocation) */
    size_t *ends;    /* ends[i]: where body i ends in bodies */
    size_t one_end;  /* ends for a single entry (no allocation) */
    uint64_t first_seq;
    cdp_status status;
    cdp_err *err;
    int done; /* under queue_lock */
    struct audit_waiter *next;
} audit_waiter;

/* Phase 1, outside every lock: all the encoding and every allocation of the entries. */
static cdp_status encode_bodies(cdp_audit_log *log, audit_waiter *waiter, cdp_err *err) {
    cdp_status status = cdp_codec_init(err);
    if (status != CDP_OK)
        return status;
    waiter->ends = &waiter->one_end;
    if (waiter->count == 1 &&
        cdp_audit_record_body_bound(&waiter->entries[0]) <= sizeof waiter->one_body)
        waiter->bodies = (cdp_buf){.data = waiter->one_body, .cap = sizeof waiter->one_body};
    if (waiter->count > 1 &&
        (waiter->ends = cdp_malloc(waiter->count * sizeof *waiter->ends)) == NULL)
        return cdp_err_set(err, CDP_NOMEM, "audit: out of memory");
    for (size_t i = 0; i < waiter->count; i++) {
        status = cdp_audit_record_encode_body(log->region_id, &waiter->entries[i],
                                              &waiter->bodies, err);
        if (status != CDP_OK)
            return status;
        waiter->ends[i] = waiter->bodies.len;
    }
    return CDP_OK;
}

static void waiter_clear(audit_waiter *waiter) {
    if (waiter->ends != &waiter->one_end)
        cdp_free(waiter->ends);
    if (waiter->bodies.data != waiter->one_body)
        cdp_buf_free(&waiter->bodies);
}

/* Phase 2, under lock: seq and time of each entry, its leaf, index and subtree hashes into the
 * batch. The leaf buffer was reserved by the caller, so nothing here allocates. */
static cdp_status stage_waiter(cdp_audit_log *log, cdp_batch *batch, audit_waiter *waiter,
                               log_state *state, int64_t now, cdp_err *err) {
    size_t offset = 0;
    waiter->first_seq = state->frontier.size;
    for (size_t i = 0; i < waiter->count; i++) {
        const cdp_audit_entry *entry = &waiter->entries[i];
        int64_t time_ms = entry->time_ms != 0 ? entry->time_ms : now;
        if (time_ms < state->last_time_ms) /* times never go back along seq */
            time_ms = state->last_time_ms;
        state->last_time_ms = time_ms;
        uint64_t seq = state->frontier.size;
        size_t body_len = waiter->ends[i] - offset;
        cdp_buf_reset(&log->leaf);
        if (cdp_buf_reserve(&log->leaf, CDP_AUDIT_RECORD_HEAD_MAX + body_len) != CDP_OK)
            return cdp_err_set(err, CDP_NOMEM, "audit: out of memory");
        log->leaf.len = cdp_audit_record_head(log->leaf.data, seq, time_ms);
        memcpy(log->leaf.data + log->leaf.len, waiter->bodies.data + offset, body_len);
        log->leaf.len += body_len;
        offset = waiter->ends[i];

        uint8_t hash[32], key[PERSON_KEY_BYTES];
        cdp_merkle_node completed[CDP_MERKLE_MAX_HASHES];
        size_t completed_count = 0;
        cdp_merkle_leaf_hash(hash, log->leaf.data, log->leaf.len);
        if (cdp_merkle_frontier_append(&state->frontier, hash, completed, &completed_count) !=
            CDP_OK)
            return cdp_err_set(err, CDP_MISUSE, "audit: the log is full");
        record_key(key, seq);
        cdp_batch_put(batch, log->region, CDP_CF_AUDIT, key, RECORD_KEY_BYTES, log->leaf.data,
                      log->leaf.len);
        if (entry->profile_id != NULL) {
            person_key(key, entry->profile_id, seq);
            cdp_batch_put(batch, log->region, CDP_CF_AUDIT, key, PERSON_KEY_BYTES, NULL, 0);
        }
        for (size_t n = 0; n < completed_count; n++) {
            node_key(key, completed[n].level, completed[n].index);
            cdp_batch_put(batch, log->region, CDP_CF_AUDIT, key, NODE_KEY_BYTES, completed[n].hash,
                          32);
        }
    }
    return CDP_OK;
}

static int checkpoint_due(const cdp_audit_log *log, const log_state *state, int64_t now) {
    uint64_t since = state->frontier.size - state->last_checkpoint_size;
    if (since == 0)
        return 0;
    if (since >= log->options.checkpoint_every)
        return 1;
    return log->options.checkpoint_interval_ms >= 0 &&
           now - state->last_checkpoint_ms >= log->options.checkpoint_interval_ms;
}

/* Under lock: stages the entries of every waiter of the list (in list order), a checkpoint if
 * one is due and the state, and writes the batch once. On failure the in-memory state is as
 * before and no seq is used. */
static cdp_status commit_locked(cdp_audit_log *log, cdp_batch *batch, audit_waiter *group,
                                int sync, cdp_err *err) {
    log_state saved = log->state;
    log_state *state = &log->state;
    int64_t now = now_ms();
    cdp_status status = CDP_OK;
    for (audit_waiter *waiter = group; waiter != NULL && status == CDP_OK; waiter = waiter->next)
        status = stage_waiter(log, batch, waiter, state, now, err);
    if (status == CDP_OK && checkpoint_due(log, state, now)) {
        cdp_audit_checkpoint checkpoint;
        status = sign_checkpoint(log, state, now, &checkpoint, err);
        if (status == CDP_OK) {
            put_checkpoint(log, batch, &checkpoint);
            state->last_checkpoint_size = checkpoint.tree_size;
            state->last_checkpoint_ms = now;
            state->has_checkpoint = 1;
        }
    }
    if (status == CDP_OK) {
        put_state(log, batch, state);
        status = cdp_region_write(log->region, batch, sync, err);
    }
    if (status != CDP_OK)
        log->state = saved; /* no seq skipped or reused */
    return status;
}

/* The group commit: queue, and either wait for a leader to write this waiter's entries or
 * become the leader and write the whole queue in one batch. A lone appender is its own leader.
 * Returns only once the waiter's entries are written (or failed): none is dropped. */
static cdp_status commit_grouped(cdp_audit_log *log, audit_waiter *self) {
    pthread_mutex_lock(&log->queue_lock);
    if (log->queue_tail != NULL)
        log->queue_tail->next = self;
    else
        log->queue_head = self;
    log->queue_tail = self;
    while (!self->done && log->leader_active)
        pthread_cond_wait(&log->queue_done, &log->queue_lock);
    if (self->done) {
        pthread_mutex_unlock(&log->queue_lock);
        return self->status;
    }
    /* Leader: take up to CDP_AUDIT_MAX_ENTRIES entries from the front of the queue (self is in
     * it, since nobody else took it). */
    log->leader_active = 1;
    audit_waiter *group = log->queue_head, *last = group;
    size_t total = last->count;
    int sync = last->sync;
    while (last->next != NULL && total + last->next->count <= CDP_AUDIT_MAX_ENTRIES) {
        last = last->next;
        total += last->count;
        sync |= last->sync;
    }
    log->queue_head = last->next;
    if (log->queue_head == NULL)
        log->queue_tail = NULL;
    last->next = NULL;
    pthread_mutex_unlock(&log->queue_lock);

    cdp_err group_err = {0};
    pthread_mutex_lock(&log->lock);
    cdp_batch_clear(log->group_batch);
    cdp_status status = commit_locked(log, log->group_batch, group, sync, &group_err);
    pthread_mutex_unlock(&log->lock);

    pthread_mutex_lock(&log->queue_lock);
    size_t group_size = 0;
    for (audit_waiter *waiter = group, *next = NULL; waiter != NULL; waiter = next) {
        next = waiter->next; /* a follower's frame is gone once it sees done */
        group_size++;
        waiter->status = status;
        if (status != CDP_OK && waiter->err != NULL)
            *waiter->err = group_err;
        waiter->done = 1;
    }
    log->leader_active = 0;
    log->group_stats.writes++;
    log->group_stats.appends += (uint64_t)(group_size);
    pthread_cond_broadcast(&log->queue_done);
    pthread_mutex_unlock(&log->queue_lock);
    return status;
}

void audit_log_group_stats(cdp_audit_log *log, audit_group_stats *out) {
    pthread_mutex_lock(&log->queue_lock);
    *out = log->group_stats;
    pthread_mutex_unlock(&log->queue_lock);
}

size_t audit_log_queued(cdp_audit_log *log) {
    size_t count = 0;
    pthread_mutex_lock(&log->queue_lock);
    for (audit_waiter *waiter = log->queue_head; waiter != NULL; waiter = waiter->next)
        count++;
    pthread_mutex_unlock(&log->queue_lock);
    return count;
}

void audit_log_hold(cdp_audit_log *log, int hold) {
    if (hold)
        pthread_mutex_lock(&log->lock);
    else
        pthread_mutex_unlock(&log->lock);
}

cdp_status cdp_audit_write(cdp_audit_log *log, cdp_batch *batch, const cdp_audit_entry *entries,
                           size_t count, int sync, uint64_t *first_seq, cdp_err *err) {
    if (log == NULL || entries == NULL || count == 0 || count > CDP_AUDIT_MAX_ENTRIES)
        return cdp_err_set(err, CDP_MISUSE, "audit write: NULL log, or not 1..%d entries",
                           CDP_AUDIT_MAX_ENTRIES);
    for (size_t i = 0; i < count; i++) {
        cdp_status status = cdp_audit_entry_check(&entries[i], err);
        if (status != CDP_OK) {
            cdp_err_prefix(err, "entries[%zu]", i);
            return status;
        }
    }
    audit_waiter self; /* not zeroed whole: one_body is 4 KB of scratch */
    self.entries = entries;
    self.count = count;
    self.sync = sync;
    self.bodies = (cdp_buf){0};
    self.ends = NULL;
    self.one_end = 0;
    self.first_seq = 0;
    self.status = CDP_OK;
    self.err = err;
    self.done = 0;
    self.next = NULL;
    cdp_status status = encode_bodies(log, &self, err);
    if (status == CDP_OK && batch == NULL) {
        status = commit_grouped(log, &self);
    } else if (status == CDP_OK) {
        /* The caller's data change rides in its own batch: no grouping with others. */
        pthread_mutex_lock(&log->lock);
        status = commit_locked(log, batch, &self, sync, err);
        pthread_mutex_unlock(&log->lock);
    }
    if (status == CDP_OK && first_seq != NULL)
        *first_seq = self.first_seq;
    waiter_clear(&self);
    return status;
}

/* ---- reads ----------------------------------------------------------------------------------- */

static uint64_t tree_size_now(cdp_audit_log *log) {
    pthread_mutex_lock(&log->lock);
    uint64_t size = log->state.frontier.size;
    pthread_mutex_unlock(&log->lock);
    return size;
}

cdp_status audit_log_read_leaf(cdp_audit_log *log, uint64_t seq, uint8_t **leaf, size_t *len,
                               cdp_err *err) {
    uint8_t key[RECORD_KEY_BYTES];
    record_key(key, seq);
    cdp_status status = cdp_region_get(log->region, CDP_CF_AUDIT, key, sizeof key, leaf, len, err);
    if (status == CDP_NOT_FOUND)
        cdp_err_set(err, CDP_NOT_FOUND, "audit: no record %" PRIu64, seq);
    return status;
}

cdp_status audit_log_node(void *context, unsigned level, uint64_t index, uint8_t out[32],
                          cdp_err *err) {
    cdp_audit_log *log = context;
    if (level >= 64 || index > (UINT64_MAX >> level) - 1)
        return cdp_err_set(err, CDP_MISUSE, "audit: subtree (%u, %" PRIu64 ") out of range", level,
                           index);
    uint64_t begin = index << level, end = begin + (UINT64_C(1) << level);
    if (end <= log->start) {
        /* Removed by retention: only the anchor's own subtrees are left. */
        uint64_t position = 0;
        size_t k = 0;
        for (int bit = 63; bit >= 0; bit--) {
            if (!(log->start & (UINT64_C(1) << bit)))
                continue;
            if ((unsigned)bit == level && position == begin) {
                memcpy(out, log->anchor.hashes[k], 32);
                return CDP_OK;
            }
            position += UINT64_C(1) << bit;
            k++;
        }
        return cdp_err_set(err, CDP_NOT_FOUND,
                           "audit: records before %" PRIu64 " were removed by retention",
                           log->start);
    }
    if (level == 0) {
        uint8_t *leaf = NULL;
        size_t len = 0;
        cdp_status status = audit_log_read_leaf(log, index, &leaf, &len, err);
        if (status == CDP_OK)
            cdp_merkle_leaf_hash(out, leaf, len);
        else if (status == CDP_NOT_FOUND)
            status = cdp_err_set(err, CDP_CORRUPT, "audit: record %" PRIu64 " is missing", index);
        cdp_region_free_value(leaf);
        return status;
    }
    uint8_t key[NODE_KEY_BYTES];
    uint8_t *value = NULL;
    size_t len = 0;
    node_key(key, level, index);
    cdp_status status =
        cdp_region_get(log->region, CDP_CF_AUDIT, key, sizeof key, &value, &len, err);
    if (status == CDP_OK && len == 32)
        memcpy(out, value, 32);
    else if (status == CDP_OK || status == CDP_NOT_FOUND)
        status = cdp_err_set(err, CDP_CORRUPT,
                             "audit: subtree hash (%u, %" PRIu64 ") is missing or malformed", level,
                             index);
    cdp_region_free_value(value);
    return status;
}

cdp_status audit_log_begin_read(cdp_audit_log *log, audit_view *view, cdp_err *err) {
    pthread_rwlock_rdlock(&log->prune_lock);
    cdp_status status = cdp_audit_checkpoint_now(log, &view->checkpoint, err);
    if (status != CDP_OK) {
        pthread_rwlock_unlock(&log->prune_lock);
        return status;
    }
    view->tree_size = view->checkpoint.tree_size;
    view->start = log->start;
    view->anchor = log->anchor;
    return CDP_OK;
}

void audit_log_end_read(cdp_audit_log *log) { pthread_rwlock_unlock(&log->prune_lock); }

/* Checks a tree size against the log; holds nothing. */
static cdp_status check_size(cdp_audit_log *log, uint64_t size, const char *what, cdp_err *err) {
    uint64_t tree_size = tree_size_now(log);
    if (size > tree_size)
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "audit: %s %" PRIu64 " is beyond the tree size %" PRIu64, what, size,
                           tree_size);
    if (size < log->start)
        return cdp_err_set(err, CDP_NOT_FOUND,
                           "audit: %s %" PRIu64 " is before the retention start %" PRIu64, what,
                           size, log->start);
    return CDP_OK;
}

cdp_status cdp_audit_root(cdp_audit_log *log, uint64_t tree_size, uint8_t root[32], cdp_err *err) {
    pthread_rwlock_rdlock(&log->prune_lock);
    cdp_status status = check_size(log, tree_size, "tree size", err);
    if (status == CDP_OK)
        status = cdp_merkle_range_hash(audit_log_node, log, 0, tree_size, root, err);
    pthread_rwlock_unlock(&log->prune_lock);
    return status;
}

cdp_status cdp_audit_inclusion_proof(cdp_audit_log *log, uint64_t seq, uint64_t tree_size,
                                     uint8_t proof[CDP_AUDIT_MAX_PROOF][CDP_MERKLE_HASH_BYTES],
                                     size_t *count, cdp_err *err) {
    *count = 0;
    pthread_rwlock_rdlock(&log->prune_lock);
    if (tree_size == 0)
        tree_size = tree_size_now(log);
    cdp_status status = check_size(log, tree_size, "tree size", err);
    if (status == CDP_OK && seq >= tree_size)
        status = cdp_err_set(err, CDP_BAD_REQUEST,
                             "audit: record %" PRIu64 " is not in the tree of size %" PRIu64, seq,
                             tree_size);
    if (status == CDP_OK && seq < log->start)
        status = cdp_err_set(err, CDP_NOT_FOUND,
                             "audit: record %" PRIu64 " was removed by retention", seq);
    if (status == CDP_OK)
        status = cdp_merkle_inclusion_proof(audit_log_node, log, seq, tree_size, proof, count, err);
    pthread_rwlock_unlock(&log->prune_lock);
    return status;
}

cdp_status cdp_audit_consistency_proof(cdp_audit_log *log, uint64_t size1, uint64_t size2,
                                       uint8_t proof[CDP_AUDIT_MAX_PROOF][CDP_MERKLE_HASH_BYTES],
                                       size_t *count, cdp_err *err) {
    *count = 0;
    pthread_rwlock_rdlock(&log->prune_lock);
    cdp_status status =
        size1 > size2
            ? cdp_err_set(err, CDP_BAD_REQUEST,
                          "audit: consistency from %" PRIu64 " back to %" PRIu64, size1, size2)
            : check_size(log, size2, "tree size", err);
    if (status == CDP_OK)
        status = check_size(log, size1, "tree size", err);
    if (status == CDP_OK)
        status = cdp_merkle_consistency_proof(audit_log_node, log, size1, size2, proof, count, err);
    pthread_rwlock_unlock(&log->prune_lock);
    return status;
}

cdp_status audit_log_scan(cdp_audit_log *log, uint64_t begin, uint64_t end, audit_leaf_fn fn,
                          void *context, cdp_err *err) {
    uint64_t seq = begin;
    cdp_status status = CDP_OK;
    while (status == CDP_OK && seq < end) {
        uint8_t prefix[RECORD_KEY_BYTES];
        record_key(prefix, seq);
        cdp_iter *iter = NULL;
        /* The prefix fixes all but the last byte of seq: SCAN_CHUNK records per iterator. */
        status =
            cdp_region_iter(log->region, CDP_CF_AUDIT, prefix, RECORD_KEY_BYTES - 1, &iter, err);
        uint64_t chunk_end = (seq | (SCAN_CHUNK - 1)) + 1;
        for (; status == CDP_OK && seq < end && cdp_iter_valid(iter); cdp_iter_next(iter)) {
            size_t key_len = 0, len = 0;
            const uint8_t *key = cdp_iter_key(iter, &key_len);
            if (key_len != RECORD_KEY_BYTES)
                continue;
            uint64_t found = cdp_load_be64(key + 1);
            if (found < seq)
                continue;
            if (found != seq)
                break;
            const uint8_t *leaf = cdp_iter_value(iter, &len);
            status = fn(context, seq, leaf, len);
            seq++;
        }
        if (status == CDP_OK)
            status = cdp_iter_status(iter, err);
        cdp_iter_free(iter);
        if (status == CDP_OK && seq < end && seq < chunk_end)
            status = cdp_err_set(err, CDP_CORRUPT, "audit: record %" PRIu64 " is missing", seq);
    }
    return status;
}

cdp_status audit_log_seq_at_time(cdp_audit_log *log, uint64_t begin, uint64_t end, int64_t time_ms,
                                 uint64_t *out, cdp_err *err) {
    cdp_audit_decoder decoder = {0};
    cdp_status status = CDP_OK;
    uint64_t lo = begin, hi = end;
    while (status == CDP_OK && lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        uint8_t *leaf = NULL;
        size_t len = 0;
        const cdp_audit_record *record = NULL;
        status = audit_log_read_leaf(log, mid, &leaf, &len, err);
        if (status == CDP_OK)
            status = cdp_audit_decode(&decoder, leaf, len, &record, err);
        if (status == CDP_OK) {
            if (record->time_ms >= time_ms)
                hi = mid;
            else
                lo = mid + 1;
        }
        cdp_region_free_value(leaf);
    }
    cdp_audit_decoder_clear(&decoder);
    *out = lo;
    return status;
}

cdp_status cdp_audit_get(cdp_audit_log *log, uint64_t seq, cdp_audit_record_fn fn, void *context,
                         cdp_err *err) {
    uint8_t *leaf = NULL;
    size_t len = 0;
    cdp_audit_decoder decoder = {0};
    const cdp_audit_record *record = NULL;
    pthread_rwlock_rdlock(&log->prune_lock);
    cdp_status status = seq < log->start
                            ? cdp_err_set(err, CDP_NOT_FOUND,
                                          "audit: record %" PRIu64 " was removed by retention", seq)
                            : audit_log_read_leaf(log, seq, &leaf, &len, err);
    if (status == CDP_OK)
        status = cdp_audit_decode(&decoder, leaf, len, &record, err);
    if (status == CDP_OK)
        status = fn(context, record);
    pthread_rwlock_unlock(&log->prune_lock);
    cdp_region_free_value(leaf);
    cdp_audit_decoder_clear(&decoder);
    return status;
}

/* ---- cursors ----------------------------------------------------------------------------------
 */

struct audit_cursor {
    cdp_iter *iter;
    size_t key_len; /* keys of other lengths are skipped */
    cdp_status status;
};

static cdp_status cursor_open(cdp_audit_log *log, const uint8_t *prefix, size_t prefix_len,
                              size_t key_len, audit_cursor **out, cdp_err *err) {
    *out = NULL;
    audit_cursor *cursor = cdp_calloc(1, sizeof *cursor);
    if (cursor == NULL)
        return cdp_err_set(err, CDP_NOMEM, "audit: out of memory");
    cdp_status status =
        cdp_region_iter(log->region, CDP_CF_AUDIT, prefix, prefix_len, &cursor->iter, err);
    if (status != CDP_OK) {
        cdp_free(cursor);
        return status;
    }
    cursor->key_len = key_len;
    *out = cursor;
    return CDP_OK;
}

cdp_status audit_cursor_checkpoints(cdp_audit_log *log, audit_cursor **out, cdp_err *err) {
    static const uint8_t prefix[1] = {KEY_CHECKPOINT};
    return cursor_open(log, prefix, 1, CHECKPOINT_KEY_BYTES, out, err);
}

cdp_status audit_cursor_person(cdp_audit_log *log, const uint8_t profile_id[16], audit_cursor **out,
                               cdp_err *err) {
    uint8_t prefix[1 + CDP_PROFILE_ID_BYTES];
    prefix[0] = KEY_PERSON;
    memcpy(prefix + 1, profile_id, CDP_PROFILE_ID_BYTES);
    return cursor_open(log, prefix, sizeof prefix, PERSON_KEY_BYTES, out, err);
}

int audit_cursor_peek(audit_cursor *cursor, uint64_t *value) {
    while (cursor != NULL && cdp_iter_valid(cursor->iter)) {
        size_t len = 0;
        const uint8_t *key = cdp_iter_key(cursor->iter, &len);
        if (len == cursor->key_len) {
            *value = cdp_load_be64(key + len - 8);
            return 1;
        }
        cdp_iter_next(cursor->iter);
    }
    return 0;
}

void audit_cursor_next(audit_cursor *cursor) {
    if (cursor != NULL)
        cdp_iter_next(cursor->iter);
}

cdp_status audit_cursor_checkpoint(audit_cursor *cursor, cdp_audit_checkpoint *out, cdp_err *err) {
    uint64_t size = 0;
    if (cursor == NULL || !audit_cursor_peek(cursor, &size))
        return cdp_err_set(err, CDP_MISUSE, "audit: cursor at its end");
    size_t len = 0;
    const uint8_t *value = cdp_iter_value(cursor->iter, &len);
    return parse_checkpoint_value(size, value, len, out, err);
}

cdp_status audit_cursor_status(audit_cursor *cursor, cdp_err *err) {
    if (cursor == NULL)
        return cdp_err_set(err, CDP_MISUSE, "audit: no cursor");
    return cdp_iter_status(cursor->iter, err);
}

void audit_cursor_free(audit_cursor *cursor) {
    if (cursor != NULL) {
        cdp_iter_free(cursor->iter);
        cdp_free(cursor);
    }
}

cdp_status cdp_audit_list_person(cdp_audit_log *log, const uint8_t profile_id[CDP_PROFILE_ID_BYTES],
                                 cdp_audit_record_fn fn, void *context, cdp_err *err) {
    if (log == NULL || profile_id == NULL || fn == NULL)
        return cdp_err_set(err, CDP_MISUSE, "audit: NULL argument");
    audit_cursor *cursor = NULL;
    cdp_audit_decoder decoder = {0};
    pthread_rwlock_rdlock(&log->prune_lock);
    cdp_status status = audit_cursor_person(log, profile_id, &cursor, err);
    uint64_t seq = 0;
    while (status == CDP_OK && audit_cursor_peek(cursor, &seq)) {
        uint8_t *leaf = NULL;
        size_t len = 0;
        const cdp_audit_record *record = NULL;
        if (seq >= log->start) { /* index entries left by an interrupted retention: skipped */
            status = audit_log_read_leaf(log, seq, &leaf, &len, err);
            if (status == CDP_NOT_FOUND)
                status = cdp_err_set(
                    err, CDP_CORRUPT,
                    "audit: person index names record %" PRIu64 ", which is missing", seq);
            if (status == CDP_OK)
                status = cdp_audit_decode(&decoder, leaf, len, &record, err);
            if (status == CDP_OK &&
                (!record->has_profile_id ||
                 memcmp(record->profile_id, profile_id, CDP_PROFILE_ID_BYTES) != 0))
                status =
                    cdp_err_set(err, CDP_CORRUPT,
                                "audit: record %" PRIu64 " is not about the indexed person", seq);
            if (status == CDP_OK)
                status = fn(context, record);
            cdp_region_free_value(leaf);
        }
        audit_cursor_next(cursor);
    }
    if (status == CDP_OK && cursor != NULL)
        status = audit_cursor_status(cursor, err);
    audit_cursor_free(cursor);
    pthread_rwlock_unlock(&log->prune_lock);
    cdp_audit_decoder_clear(&decoder);
    return status;
}

/* ---- retention ---------------------------------------------------------------------------- */

/* The largest checkpoint size in [low, high]; low when there is none. */
static cdp_status last_checkpoint_within(cdp_audit_log *log, uint64_t low, uint64_t high,
                                         uint64_t *out, cdp_err *err) {
    audit_cursor *cursor = NULL;
    *out = low;
    cdp_status status = audit_cursor_checkpoints(log, &cursor, err);
    uint64_t size = 0;
    while (status == CDP_OK && audit_cursor_peek(cursor, &size) && size <= high) {
        if (size >= low)
            *out = size;
        audit_cursor_next(cursor);
    }
    if (status == CDP_OK)
        status = audit_cursor_status(cursor, err);
    audit_cursor_free(cursor);
    return status;
}

/* Deletes the person index entries of the records before start, then those records, the subtree
 * hashes inside [0, start) and the checkpoints before it. Idempotent: it only reads what is
 * still there, so an interrupted run is finished by the next. */
static cdp_status remove_prefix(cdp_audit_log *log, uint64_t start, cdp_err *err) {
    static const uint8_t record_prefix[1] = {KEY_RECORD};
    cdp_batch *batch = cdp_batch_new();
    cdp_iter *iter = NULL;
    cdp_audit_decoder decoder = {0};
    if (batch == NULL)
        return cdp_err_set(err, CDP_NOMEM, "audit: out of memory");
    cdp_status status = cdp_region_iter(log->region, CDP_CF_AUDIT, record_prefix, 1, &iter, err);
    for (; status == CDP_OK && cdp_iter_valid(iter); cdp_iter_next(iter)) {
        size_t key_len = 0, len = 0;
        const uint8_t *key = cdp_iter_key(iter, &key_len);
        if (key_len != RECORD_KEY_BYTES)
            continue;
        uint64_t seq = cdp_load_be64(key + 1);
        if (seq >= start)
            break;
        const uint8_t *leaf = cdp_iter_value(iter, &len);
        const cdp_audit_record *record = NULL;
        if (cdp_audit_decode(&decoder, leaf, len, &record, NULL) == CDP_OK &&
            record->has_profile_id) {
            uint8_t index_key[PERSON_KEY_BYTES];
            person_key(index_key, record->profile_id, seq);
            cdp_batch_delete(batch, log->region, CDP_CF_AUDIT, index_key, sizeof index_key);
        }
        if (cdp_batch_count(batch) >= RETAIN_BATCH) {
            status = cdp_region_write(log->region, batch, 0, err);
            cdp_batch_clear(batch);
        }
    }
    if (status == CDP_OK && iter != NULL)
        status = cdp_iter_status(iter, err);
    cdp_iter_free(iter);
    cdp_audit_decoder_clear(&decoder);
    if (status == CDP_OK) {
        uint8_t begin[NODE_KEY_BYTES], end[NODE_KEY_BYTES];
        record_key(begin, 0);
        record_key(end, start);
        cdp_batch_delete_range(batch, log->region, CDP_CF_AUDIT, begin, RECORD_KEY_BYTES, end,
                               RECORD_KEY_BYTES);
        checkpoint_key(begin, 0);
        checkpoint_key(end, start); /* the anchor's own checkpoint stays */
        cdp_batch_delete_range(batch, log->region, CDP_CF_AUDIT, begin, CHECKPOINT_KEY_BYTES, end,
                               CHECKPOINT_KEY_BYTES);
        for (unsigned level = 1; level < 64 && (start >> level) > 0; level++) {
            node_key(begin, level, 0);
            node_key(end, level, start >> level); /* subtrees wholly before start */
            cdp_batch_delete_range(batch, log->region, CDP_CF_AUDIT, begin, NODE_KEY_BYTES, end,
                                   NODE_KEY_BYTES);
        }
        status = cdp_region_write(log->region, batch, 1, err);
    }
    cdp_batch_free(batch);
    return status;
}

cdp_status cdp_audit_retain(cdp_audit_log *log, int64_t before_ms, uint64_t *start, cdp_err *err) {
    if (log == NULL)
        return cdp_err_set(err, CDP_MISUSE, "audit: NULL log");
    pthread_rwlock_wrlock(&log->prune_lock);
    uint64_t tree_size = tree_size_now(log), old_start = log->start, cutoff = 0, new_start = 0;
    cdp_status status = audit_log_seq_at_time(log, old_start, tree_size, before_ms, &cutoff, err);
    if (status == CDP_OK)
        status = last_checkpoint_within(log, old_start, cutoff, &new_start, err);
    if (status == CDP_OK && new_start > old_start) {
        /* The anchor is made durable first: from then on the prefix counts as removed. */
        cdp_merkle_frontier anchor;
        status = cdp_merkle_frontier_at(audit_log_node, log, new_start, &anchor, err);
        cdp_batch *batch = status == CDP_OK ? cdp_batch_new() : NULL;
        if (status == CDP_OK && batch == NULL)
            status = cdp_err_set(err, CDP_NOMEM, "audit: out of memory");
        if (status == CDP_OK) {
            uint8_t value[ANCHOR_MAX_BYTES];
            size_t len = encode_anchor(value, &anchor);
            cdp_batch_put(batch, log->region, CDP_CF_META, (const uint8_t *)ANCHOR_KEY,
                          strlen(ANCHOR_KEY), value, len);
            status = cdp_region_write(log->region, batch, 1, err);
        }
        cdp_batch_free(batch);
        if (status == CDP_OK) {
            pthread_mutex_lock(&log->lock);
            log->start = new_start;
            log->anchor = anchor;
            pthread_mutex_unlock(&log->lock);
        }
    }
    if (status == CDP_OK && log->start > 0)
        status = remove_prefix(log, log->start, err);
    if (status == CDP_OK && start != NULL)
        *start = log->start;
    pthread_rwlock_unlock(&log->prune_lock);
    return status;
}
