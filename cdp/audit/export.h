/* Audit log exports and their offline verification (format: audit/format.h).
 *
 * An export streams in constant memory (one record, one proof at a time) as JSON Lines or an
 * Avro object container file (deflate; readable by any Avro reader). It holds no personal data:
 * records carry only what cdp_audit_entry can carry (tokens and a pseudonymous profile id).
 * Verification needs nothing but the file and the region's audit public key: it recomputes the
 * Merkle tree (or checks each record's inclusion proof in a filtered export), checks every
 * checkpoint signature and their consistency, the final checkpoint and the export's seal against
 * the given key, and names the first bad line (and record seq) on failure. */
#ifndef CDP_AUDIT_EXPORT_H
#define CDP_AUDIT_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "audit/log.h"
#include "util/err.h"

typedef enum cdp_audit_format {
    CDP_AUDIT_FORMAT_JSONL = 0,
    CDP_AUDIT_FORMAT_AVRO = 1,
} cdp_audit_format;

/* "jsonl" or "avro"; CDP_BAD_REQUEST otherwise. */
cdp_status cdp_audit_format_parse(const char *name, cdp_audit_format *out);

/* Which records to export. Without actor, profile, operation and decision the export is a
 * contiguous range ("range" mode: the tree is recomputed from it); with any of them it is
 * "filtered" (each record carries its inclusion proof). */
typedef struct cdp_audit_filter {
    int64_t from_ms;           /* records at or after this time; 0: from the first held */
    int64_t to_ms;             /* records at or before this time; 0: to the last */
    const char *actor_key_id;  /* NULL: any */
    const uint8_t *profile_id; /* CDP_PROFILE_ID_BYTES bytes; NULL: any */
    const char *operation;     /* NULL: any */
    int decision;              /* -1: any; else a cdp_audit_decision */
} cdp_audit_filter;

void cdp_audit_filter_init(cdp_audit_filter *filter); /* everything: all -1/0/NULL */

/* Receives the export's bytes in order. A status other than CDP_OK stops the export. */
typedef cdp_status (*cdp_audit_sink)(void *context, const void *bytes, size_t len);

typedef struct cdp_audit_export_stats {
    uint64_t records;
    uint64_t checkpoints;
    uint64_t first_seq; /* the range exported: [first_seq, end_seq) */
    uint64_t end_seq;
    uint64_t tree_size; /* of the final checkpoint */
    int filtered;
} cdp_audit_export_stats;

/* Exports the log: first it signs (or refreshes) the checkpoint of the whole tree, so the export
 * ends with a checkpoint signed by the current key; records appended meanwhile are left out.
 * CDP_BAD_REQUEST for a bad filter (a string that is not a token, from after to). stats may be
 * NULL. On failure the sink has received a partial export, which fails verification. */
cdp_status cdp_audit_export(cdp_audit_log *log, const cdp_audit_filter *filter,
                            cdp_audit_format format, cdp_audit_sink sink, void *context,
                            cdp_audit_export_stats *stats, cdp_err *err);
/* The same into a stdio stream (borrowed; not closed). */
cdp_status cdp_audit_export_file(cdp_audit_log *log, const cdp_audit_filter *filter,
                                 cdp_audit_format format, FILE *out, cdp_audit_export_stats *stats,
                                 cdp_err *err);

typedef struct cdp_audit_verify_report {
    cdp_audit_format format; /* detected from the first bytes */
    char region[CDP_REGION_NAME_MAX + 1];
    char mode[16];      /* "range" or "filtered" */
    uint64_t tree_size; /* of the final checkpoint */
    uint8_t root[32];   /* its root */
    uint64_t first_seq; /* range: [first_seq, end_seq) */
    uint64_t end_seq;
    uint64_t records;     /* records verified */
    uint64_t checkpoints; /* checkpoint items verified (the final one in the header aside) */
    uint64_t line;        /* on failure: 1-based line (JSON Lines) or item (Avro); 0 if none */
    int64_t seq;          /* on failure: the seq of the bad record, -1 when not one record */
    char message[CDP_ERR_MESSAGE_MAX];
} cdp_audit_verify_report;

/* Verifies an export read from in (borrowed; read to its end) against public_key. CDP_OK only
 * when intact; CDP_CRYPTO when a hash, proof, signature or seal does not check (tampered, wrong
 * key); CDP_CORRUPT when it is malformed or truncated; CDP_IO on a read error. report (may be
 * NULL) says what was verified or where it failed; err's message names the line and seq. */
cdp_status cdp_audit_verify_export(FILE *in, const uint8_t public_key[32],
                                   cdp_audit_verify_report *report, cdp_err *err);
/* The same for a file by path; CDP_NOT_FOUND when it cannot be opened. */
cdp_status cdp_audit_verify_export_path(const char *path, const uint8_t public_key[32],
                                        cdp_audit_verify_report *report, cdp_err *err);

#endif
