/* The erasure ledger: DATA/erasures.ledger, an append-only file of JSON lines OUTSIDE the region
 * stores, one per completed logical erasure, so that restoring an older copy of the regions (a
 * backup) cannot bring an erased person back: every erasure the ledger holds beyond the copy's
 * position is applied again before the restored store serves (cdp/privacy/backup.c).
 *
 * Layout: a header line {"ledger": "cdp-erasures 1", "id": <32 hex>, "created": ms}, then
 *   {"seq": n, "time": ms, "region": id, "request_id": id, "profiles": [32 hex, ...],
 *    "suppress": [64 hex, ...], "receipt": "<signed receipt JSON>"}
 * seq counts from 1 without gaps. No personal data: pseudonymous profile ids and the keyed
 * suppression blind indexes (keyed by a key derived from the root key), as the receipts hold.
 * Every append is fsync'd before it returns. A torn last line (a crash mid-append) is cut off
 * when the file is opened: its erasure is still pending in the region's journal, and recovery
 * appends it again.
 *
 * Thread-safe: appends are serialised by the ledger's mutex; reads open their own stream. */
#ifndef CDP_PRIVACY_LEDGER_H
#define CDP_PRIVACY_LEDGER_H

#include <jansson.h>
#include <stdint.h>

#include "util/err.h"

#define CDP_LEDGER_FILE "erasures.ledger"
#define CDP_LEDGER_FORMAT "cdp-erasures 1"
#define CDP_LEDGER_ID_HEX 32

typedef struct cdp_ledger cdp_ledger;

/* Opens the ledger at path, creating it (header line, fsync'd, directory fsync'd) when absent
 * and create is 1 (else CDP_NOT_FOUND). CDP_CORRUPT "path: line N: reason" for a malformed line
 * before the last, a seq out of order or a bad header. Caller owns *out (free with
 * cdp_ledger_close). */
cdp_status cdp_ledger_open(const char *path, int create, cdp_ledger **out, cdp_err *err);
void cdp_ledger_close(cdp_ledger *ledger); /* accepts NULL */

/* The last seq appended (0 when none) and the ledger's random id (32 hex, borrowed until
 * close). */
uint64_t cdp_ledger_position(cdp_ledger *ledger);
const char *cdp_ledger_id(const cdp_ledger *ledger);
const char *cdp_ledger_path(const cdp_ledger *ledger);

/* Appends one erasure (entry: an object without "seq"; the ledger adds it) and fsyncs.
 * *seq (may be NULL) gets its seq. */
cdp_status cdp_ledger_append(cdp_ledger *ledger, json_t *entry, uint64_t *seq, cdp_err *err);

/* 1 in *found when an entry has this request id. Reads the file. */
cdp_status cdp_ledger_contains(cdp_ledger *ledger, const char *request_id, int *found,
                               cdp_err *err);

/* Calls visit for each entry with seq > after, in order (the entry is borrowed for the call).
 * Stops at the first status visit returns other than CDP_OK and returns it. */
typedef cdp_status (*cdp_ledger_visit)(void *context, uint64_t seq, json_t *entry);
cdp_status cdp_ledger_foreach(cdp_ledger *ledger, uint64_t after, cdp_ledger_visit visit,
                              void *context, cdp_err *err);

/* Reads a ledger file without opening it for appends (backups, restore checks): its id and last
 * seq. CDP_NOT_FOUND when absent. */
cdp_status cdp_ledger_peek(const char *path, char id[CDP_LEDGER_ID_HEX + 1], uint64_t *position,
                           cdp_err *err);

#endif
