/* Admin actions that happen outside the store, brought into the audit log: API keys are created
 * and revoked in DIR/apikeys by `cdpctl keys` (which works while a server holds the store), so
 * the next process that opens the store, and the running server every few seconds, records each
 * key's creation and revocation once. Which changes were recorded is kept in the region's meta
 * column family ("apikey/<id>"), written in the same batch as the audit records. */
#ifndef CDP_AUDIT_ADMIN_H
#define CDP_AUDIT_ADMIN_H

#include <stddef.h>

#include "audit/log.h"

typedef struct cdp_audit_key_state {
    const char *key_id; /* 16 hex */
    const char *role;   /* "ingest", ... */
    int revoked;
} cdp_audit_key_state;

/* Appends "apikey.create" / "apikey.revoke" records (actor "local", role admin, request id
 * "apikey:<id>", reason "key_role:<role>") for every change not recorded yet, synced. *recorded
 * (may be NULL) counts the records. Thread-safe; idempotent. */
cdp_status cdp_audit_record_key_changes(cdp_audit_log *log, const cdp_audit_key_state *keys,
                                        size_t count, size_t *recorded, cdp_err *err);

/* One admin action of the local operator ("admin.backup", "admin.restore"), synced. reason: a
 * token or NULL. */
cdp_status cdp_audit_record_admin(cdp_audit_log *log, const char *operation, const char *reason,
                                  cdp_err *err);

#endif
