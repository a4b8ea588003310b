/* Erasure receipts: what an erasure removed, signed with the region's Ed25519 audit key so the
 * requester (or anyone holding the region's audit public key) can check it offline.
 *
 * The receipt is one JSON object, holding no personal data:
 *   {"version": 1, "request_id", "time" (ms since the epoch), "region", "profile_id" (32 hex),
 *    "removed": {"profiles", "events", "identities", "consent", "merges", "keys"},
 *    "suppressed": [64-hex blind indexes of the identifiers, keyed with the region's
 *                   suppression key: never an unkeyed hash an outsider could test guesses on],
 *    "audit_seq" (the erasure's record in the region's audit log),
 *    "public_key" (64 hex, Ed25519), "signature" (128 hex)}
 * Canonical form (what is signed): the object without "signature", serialized by jansson with
 * keys sorted, compact separators and ASCII-only escapes (JSON_COMPACT | JSON_SORT_KEYS |
 * JSON_ENSURE_ASCII). The signature is Ed25519 over "cdp.erasure-receipt.v1\n" followed by the
 * canonical form. Verification re-derives the canonical form from the parsed object, so the
 * layout of the file (whitespace, key order) does not matter; every value does.
 * Pure functions; thread-safe. */
#ifndef CDP_PRIVACY_RECEIPT_H
#define CDP_PRIVACY_RECEIPT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CDP_RECEIPT_VERSION 1
#define CDP_RECEIPT_DOMAIN "cdp.erasure-receipt.v1\n"

typedef struct cdp_erase_counts {
    uint64_t profiles;   /* profile records */
    uint64_t events;     /* event records of every member profile */
    uint64_t identities; /* identity index entries (identifiers and message markers excluded) */
    uint64_t consent;    /* consent records */
    uint64_t merges;     /* merge-history records */
    uint64_t keys;       /* wrapped data keys (one per member profile) */
} cdp_erase_counts;

/* The receipt's body without audit_seq, public_key and signature (as the erasure journal keeps it
 * until the audit sequence is known). suppressed_hex: count strings of 64 lowercase hex.
 * NULL when out of memory. Caller owns (json_decref). */
json_t *cdp_receipt_body(const char *request_id, int64_t time_ms, const char *region,
                         const char *profile_hex, const cdp_erase_counts *counts,
                         const char *const *suppressed_hex, size_t count);

/* Sets audit_seq, public_key and signature on body (replacing any) and gives the receipt text
 * (compact, keys sorted). Caller owns *text (free with cdp_free). */
cdp_status cdp_receipt_sign(json_t *body, uint64_t audit_seq, const uint8_t secret_key[64],
                            const uint8_t public_key[32], char **text, cdp_err *err);

/* Checks a receipt: strict shape (exactly the fields above, each of its type and format,
 * duplicates refused: CDP_CORRUPT naming the field; CDP_INVALID_JSON when it does not parse),
 * its public_key equal to public_key (CDP_CRYPTO otherwise), and the signature (CDP_CRYPTO). */
cdp_status cdp_receipt_check(const char *text, size_t len, const uint8_t public_key[32],
                             cdp_err *err);

#endif
