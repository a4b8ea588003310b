/* The audit log of one region (DESIGN.md principle 5): every access decision is a leaf of an
 * RFC 6962 Merkle tree, appended in the same RocksDB write batch as the data change it records,
 * with Ed25519-signed C2SP checkpoints every N records or T seconds, inclusion and consistency
 * proofs, a per-person index, and retention that drops whole signed segments from the start.
 *
 * Layout (column family `audit` unless noted; integers big-endian):
 *   0x00 || seq(8)                      -> record: Avro single object (the leaf bytes)
 *   0x01 || profile_id(16) || seq(8)    -> empty (records about one person)
 *   0x02 || tree_size(8)                -> checkpoint: u8 version 1, i64 time ms, signed note
 *   0x03 || level(1) || index(8)        -> hash of the perfect subtree (level >= 1), for proofs
 *   meta "audit.state"  -> u8 version 1, u64 tree size, u64 last checkpoint size, i64 its time,
 *                          u8 has checkpoint, i64 last record time (written by every append)
 *   meta "audit.anchor" -> u8 version 1, u64 first kept seq, u8 n, n hashes: the compact range
 *                          of the removed prefix, which proofs and exports start from.
 * The compact range of the tree (its frontier) is kept in memory and read back at open from the
 * stored subtree hashes, so an append is O(log n): no old leaf is read, and 34 bytes of state
 * are written per batch.
 *
 * One cdp_audit_log per region per process: opening a second one on the same cdp_region is
 * CDP_CONFLICT (two in-memory tree states would hand out the same seq).
 * Thread-safe: appends and checkpoints are serialised by the log's mutex (held across the
 * RocksDB write). Appends without a caller batch are group-committed: concurrent appenders
 * queue, one of them writes every queued entry in one batch and wakes the others, so N
 * concurrent audited reads cost one RocksDB write; each still returns only once its own entry
 * is written and in the tree. Records are encoded (all but seq and time) before the mutex is
 * taken. Reads, proofs and exports run concurrently with appends; retention waits for
 * running reads. The keystore is only read (cdp_keystore_current / _audit_public_key): callers
 * hold the handle's shared lock as for any keystore lookup. */
#ifndef CDP_AUDIT_LOG_H
#define CDP_AUDIT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "audit/record.h"
#include "crypto/keystore.h"
#include "store/region.h"
#include "util/err.h"

#define CDP_AUDIT_MAX_ENTRIES 10000 /* per cdp_audit_write */
#define CDP_AUDIT_MAX_PROOF CDP_MERKLE_MAX_HASHES

typedef struct cdp_audit_options {
    uint64_t checkpoint_every;      /* records between automatic checkpoints; 0: 1000 */
    int64_t checkpoint_interval_ms; /* an append this long after the last checkpoint adds one
                                       (the server's timer calls cdp_audit_checkpoint_now for
                                       idle logs); 0: 60000; negative: never */
} cdp_audit_options;

void cdp_audit_options_default(cdp_audit_options *options);

typedef struct cdp_audit_log cdp_audit_log;

/* Opens the log of the region (reading its state; creating nothing until the first append).
 * region and keystore are borrowed and must outlive the log; region_id names the region in the
 * keystore and the records ("eu"). options NULL: defaults. CDP_CORRUPT when the stored state
 * disagrees with the records; CDP_CONFLICT when a log is already open on this region.
 * Caller owns *out (free with cdp_audit_log_close). */
cdp_status cdp_audit_log_open(cdp_region *region, const char *region_id, cdp_keystore *keystore,
                              const cdp_audit_options *options, cdp_audit_log **out, cdp_err *err);
void cdp_audit_log_close(cdp_audit_log *log); /* accepts NULL */

/* Appends entries to batch (seqs assigned, leaves, person index, subtree hashes, tree state, a
 * checkpoint if one is due), writes the batch to the region — the caller's data change and the
 * audit in one atomic write — and gives the first seq (the rest follow). batch NULL: the log
 * writes the entries alone. Serialised per log by a mutex held across the write; when anything
 * fails (bad entry: CDP_BAD_REQUEST naming the field; memory; the write) no seq is used, the
 * in-memory state is as before, and nothing was written: the batch then holds some of the
 * log's puts besides the caller's, so clear or free it rather than write it. 1..10000 entries.
 * sync: as cdp_region_write. */
cdp_status cdp_audit_write(cdp_audit_log *log, cdp_batch *batch, const cdp_audit_entry *entries,
                           size_t count, int sync, uint64_t *first_seq, cdp_err *err);

typedef struct cdp_audit_checkpoint {
    uint64_t tree_size;
    int64_t time_ms; /* when it was made */
    uint8_t root[CDP_MERKLE_HASH_BYTES];
    char note[CDP_NOTE_MAX + 1]; /* the C2SP signed note, NUL-terminated */
} cdp_audit_checkpoint;

/* Signs a checkpoint of the whole tree now (the timer's "every T seconds"), unless the latest
 * one already covers it and bears the current epoch's key (after a key rotation it gets a
 * cosignature by the new key). The write is synced, so every record the checkpoint covers is
 * durable before it can be published. out (may be NULL) receives the checkpoint. */
cdp_status cdp_audit_checkpoint_now(cdp_audit_log *log, cdp_audit_checkpoint *out, cdp_err *err);
/* The stored checkpoint of exactly this size. CDP_NOT_FOUND when there is none. */
cdp_status cdp_audit_checkpoint_get(cdp_audit_log *log, uint64_t tree_size,
                                    cdp_audit_checkpoint *out, cdp_err *err);

typedef struct cdp_audit_info {
    uint64_t tree_size;            /* records ever appended: the next seq */
    uint64_t start;                /* first seq still held (retention removes those before) */
    uint64_t last_checkpoint_size; /* 0 with has_checkpoint 0: none yet */
    int64_t last_checkpoint_ms;
    int has_checkpoint;
    uint8_t root[CDP_MERKLE_HASH_BYTES]; /* of the whole tree now */
} cdp_audit_info;
void cdp_audit_log_info(cdp_audit_log *log, cdp_audit_info *out);

const char *cdp_audit_log_region(const cdp_audit_log *log); /* borrowed until close */
cdp_region *cdp_audit_log_store(cdp_audit_log *log);        /* the region it is kept in */
const char *cdp_audit_log_origin(const cdp_audit_log *log); /* "cdp.audit/<region>" */
/* The current epoch's audit public key: what auditors verify exports with. */
cdp_status cdp_audit_log_public_key(cdp_audit_log *log, uint8_t out[32], cdp_err *err);

/* The root of the tree of this size (start <= size <= tree size, or 0). */
cdp_status cdp_audit_root(cdp_audit_log *log, uint64_t tree_size,
                          uint8_t root[CDP_MERKLE_HASH_BYTES], cdp_err *err);
/* Inclusion proof of record seq in the tree of size tree_size (0: the whole tree now), leaf side
 * first, into proof; *count hashes. CDP_NOT_FOUND when retention removed the record;
 * CDP_BAD_REQUEST when seq >= tree_size or tree_size is beyond the log. */
cdp_status cdp_audit_inclusion_proof(cdp_audit_log *log, uint64_t seq, uint64_t tree_size,
                                     uint8_t proof[CDP_AUDIT_MAX_PROOF][CDP_MERKLE_HASH_BYTES],
                                     size_t *count, cdp_err *err);
/* Consistency proof between the trees of size1 <= size2 (e.g. two checkpoints). size1 must not
 * be before the retention start (CDP_NOT_FOUND), size2 not beyond the log (CDP_BAD_REQUEST). */
cdp_status cdp_audit_consistency_proof(cdp_audit_log *log, uint64_t size1, uint64_t size2,
                                       uint8_t proof[CDP_AUDIT_MAX_PROOF][CDP_MERKLE_HASH_BYTES],
                                       size_t *count, cdp_err *err);

/* Called per record; the record is borrowed for the call. A status other than CDP_OK stops the
 * listing and is returned. */
typedef cdp_status (*cdp_audit_record_fn)(void *context, const cdp_audit_record *record);
/* The record of this seq. CDP_NOT_FOUND when not in the log (or removed by retention). */
cdp_status cdp_audit_get(cdp_audit_log *log, uint64_t seq, cdp_audit_record_fn fn, void *context,
                         cdp_err *err);
/* Every held record about the person, in seq order, through the person index. */
cdp_status cdp_audit_list_person(cdp_audit_log *log, const uint8_t profile_id[CDP_PROFILE_ID_BYTES],
                                 cdp_audit_record_fn fn, void *context, cdp_err *err);

/* Retention: removes records older than before_ms in whole signed segments from the start: the
 * new start is the largest checkpoint size whose records before it are all older than
 * before_ms, that checkpoint stays as the anchor, and the compact range of the removed prefix
 * is kept so that proofs, exports and verification still work from there. Removes the records,
 * their person index entries, the subtree hashes and checkpoints inside the removed prefix.
 * Safe to run again after a crash. *start (may be NULL) receives the first kept seq. */
cdp_status cdp_audit_retain(cdp_audit_log *log, int64_t before_ms, uint64_t *start, cdp_err *err);

#endif
