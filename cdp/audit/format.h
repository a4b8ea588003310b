/* The audit export format shared by the writer (export.c) and the verifier (verify.c).
 *
 * An export is a sequence of items: one header, then records and checkpoints in seq order, then
 * one end item. The Avro object container file holds them as cdp.export.AuditExportItem (a kind
 * enum and one non-null branch); JSON Lines holds each as one object whose "type" is the kind and
 * whose other keys are the branch's fields, bytes in standard base64. Both carry the same data:
 *
 *   header     format "cdp-audit-export", version 1, region, origin, public_key (hex, current
 *              epoch), keys (every epoch's public key), mode ("range": every record of
 *              [first_seq, end_seq); "filtered": the records of that range matching filter),
 *              filter, first_seq, end_seq, tree_size and checkpoint (the signed note of the whole
 *              tree when exported: what everything is verified against), start_frontier (range
 *              mode: the compact range of [0, first_seq), which makes the tree recomputable from
 *              the first exported record), exported_at.
 *   record     seq, leaf (the canonical Avro bytes: the Merkle leaf), record (the same fields
 *              decoded, readable; verify checks they agree with leaf), proof (filtered mode: the
 *              inclusion proof against tree_size).
 *   checkpoint tree_size, time, note (the stored signed checkpoint), proof (filtered mode: the
 *              consistency proof to tree_size; range mode recomputes the root instead).
 *   end        records, checkpoints (counts), consistency (range mode: proof from end_seq to
 *              tree_size), seal: a signed note by the region's key over the export's parameters,
 *              counts and a SHA-256 over every item before it (audit_format_digest_item), so
 *              that dropping, reordering, adding or editing anything — even in a filtered
 *              export, even a field no other check covers — fails. */
#ifndef CDP_AUDIT_FORMAT_H
#define CDP_AUDIT_FORMAT_H

#include <avro.h>
#include <jansson.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CDP_AUDIT_EXPORT_FORMAT "cdp-audit-export"
#define CDP_AUDIT_EXPORT_VERSION 1
#define CDP_AUDIT_SEAL_PREFIX "cdp.audit.export/"
/* Bounds a verifier enforces on untrusted input. */
#define CDP_AUDIT_MAX_LINE (1u << 20)
#define CDP_AUDIT_MAX_LEAF 65536
#define CDP_AUDIT_MAX_KEYS 64

/* Kinds, in the order of the Avro enum. */
typedef enum audit_item_kind {
    AUDIT_ITEM_HEADER = 0,
    AUDIT_ITEM_RECORD,
    AUDIT_ITEM_CHECKPOINT,
    AUDIT_ITEM_END,
} audit_item_kind;

/* The export schema (cdp.export.AuditExportItem, embedding cdp.AuditRecord from
 * schemas/audit_record.avsc) and its generic value class; parsed once, borrowed for the life of
 * the process. */
cdp_status audit_format_schema(avro_schema_t *schema, avro_value_iface_t **iface, cdp_err *err);

/* The JSON line of an item value: {"type": kind, ...fields of the branch}; bytes as base64,
 * enums as symbols, unions as null or the value. NULL when out of memory or malformed.
 * Caller owns (json_decref). */
json_t *audit_format_item_json(avro_value_t *item);

/* Adds an item to the seal's digest: SHA-256 over the canonical JSON (compact, keys sorted)
 * of every item before the end, each followed by a newline. So any change to any field of the
 * header, a record or a checkpoint — whichever format carried it — breaks the seal. */
cdp_status audit_format_digest_item(crypto_hash_sha256_state *digest, json_t *line);

/* Canonical one-line form of a filter for the seal ("from=1700000000000 to=* actor=* ..."). */
typedef struct audit_filter_text {
    char text[512];
} audit_filter_text;
void audit_format_filter_text(audit_filter_text *out, int has_from, int64_t from_ms, int has_to,
                              int64_t to_ms, const char *actor_key_id, const char *profile_hex,
                              const char *operation, const char *decision);

/* The text of an export's seal note. */
cdp_status audit_format_seal_text(char *out, size_t cap, const char *region, const char *mode,
                                  const char *filter_text, uint64_t first_seq, uint64_t end_seq,
                                  uint64_t tree_size, const uint8_t root[32], uint64_t records,
                                  uint64_t checkpoints, const uint8_t digest[32], cdp_err *err);

#endif
