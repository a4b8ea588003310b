/* What the exporter needs from the log beyond its public functions: a consistent read view
 * (tree size, start and anchor, the final checkpoint), subtree hashes, and ordered scans of
 * records, checkpoints and the person index. Private to cdp/audit. */
#ifndef CDP_AUDIT_LOG_INTERNAL_H
#define CDP_AUDIT_LOG_INTERNAL_H

#include "audit/log.h"

/* A consistent view for a long read: nothing in it changes until audit_log_end_read. */
typedef struct audit_view {
    uint64_t tree_size;
    uint64_t start;
    cdp_merkle_frontier anchor;      /* compact range of [0, start) */
    cdp_audit_checkpoint checkpoint; /* of tree_size, signed by the current key */
} audit_view;

/* Makes (or refreshes) the checkpoint of the whole tree, then holds off retention until
 * audit_log_end_read. On failure nothing is held. */
cdp_status audit_log_begin_read(cdp_audit_log *log, audit_view *view, cdp_err *err);
void audit_log_end_read(cdp_audit_log *log);

/* A cdp_merkle_node_source over the log (context: the log). Valid under a read view. */
cdp_status audit_log_node(void *context, unsigned level, uint64_t index, uint8_t out[32],
                          cdp_err *err);

/* Calls fn for every record with begin <= seq < end in order; a missing one is CDP_CORRUPT. */
typedef cdp_status (*audit_leaf_fn)(void *context, uint64_t seq, const uint8_t *leaf, size_t len);
cdp_status audit_log_scan(cdp_audit_log *log, uint64_t begin, uint64_t end, audit_leaf_fn fn,
                          void *context, cdp_err *err);
/* One record's bytes; caller owns *leaf (free with cdp_region_free_value). */
cdp_status audit_log_read_leaf(cdp_audit_log *log, uint64_t seq, uint8_t **leaf, size_t *len,
                               cdp_err *err);
/* The first seq in [begin, end) whose record time is >= time_ms (end when none): binary search,
 * record times being non-decreasing along seq. */
cdp_status audit_log_seq_at_time(cdp_audit_log *log, uint64_t begin, uint64_t end, int64_t time_ms,
                                 uint64_t *out, cdp_err *err);

/* An ordered cursor over stored checkpoints (ascending size) or person index seqs. */
typedef struct audit_cursor audit_cursor;
cdp_status audit_cursor_checkpoints(cdp_audit_log *log, audit_cursor **out, cdp_err *err);
cdp_status audit_cursor_person(cdp_audit_log *log, const uint8_t profile_id[16], audit_cursor **out,
                               cdp_err *err);
/* 1 and *value (a size or a seq) when there is a current entry; 0 at the end. */
int audit_cursor_peek(audit_cursor *cursor, uint64_t *value);
void audit_cursor_next(audit_cursor *cursor);
/* For a checkpoint cursor: parses the current entry. */
cdp_status audit_cursor_checkpoint(audit_cursor *cursor, cdp_audit_checkpoint *out, cdp_err *err);
cdp_status audit_cursor_status(audit_cursor *cursor, cdp_err *err);
void audit_cursor_free(audit_cursor *cursor);

/* The public keys of every epoch of the region, destroyed ones included (epoch 1 first). */
typedef struct audit_epoch_key {
    uint32_t epoch;
    uint8_t public_key[32];
} audit_epoch_key;
size_t audit_log_epoch_keys(cdp_audit_log *log, audit_epoch_key *out, size_t cap);

/* Signs text as a C2SP note with the region's current audit key (key name: the origin). */
cdp_status audit_log_sign(cdp_audit_log *log, const char *text, char *out, size_t cap,
                          cdp_err *err);

/* Group commit, for tests: how many RocksDB writes the grouped appends (those without a caller
 * batch) took and how many appends they carried; the number of appenders queued behind the
 * current leader; and holding the log's mutex (hold 1 locks, 0 unlocks) so appenders queue. */
typedef struct audit_group_stats {
    uint64_t writes;
    uint64_t appends;
} audit_group_stats;
void audit_log_group_stats(cdp_audit_log *log, audit_group_stats *out);
size_t audit_log_queued(cdp_audit_log *log);
void audit_log_hold(cdp_audit_log *log, int hold);

#endif
