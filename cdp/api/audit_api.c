/* Public audit-log calls: the region's public key and streamed exports. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api/handle.h"
#include "audit/export.h"
#include "identity/segment.h"
#include "util/bytes.h"

cdp_status cdp_audit_pubkey(cdp_t *db, const char *region, char hex[65]) {
    cdp_err err = {0};
    if (db == NULL || hex == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "audit_pubkey: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    if (region == NULL || *region == '\0')
        region = cdp_policy_default_region(cdp_handle_policy(db));
    cdp_audit_log *log = cdp_handle_audit_log(db, region);
    if (log == NULL) {
        cdp_err_set(&err, CDP_NOT_FOUND, "region: unknown region \"%.32s\"", region);
        return cdp_handle_fail(db, &err);
    }
    uint8_t key[32];
    cdp_status status = cdp_audit_log_public_key(log, key, &err);
    if (status != CDP_OK)
        return cdp_handle_fail(db, &err);
    cdp_hex_encode(hex, key, sizeof key);
    return CDP_OK;
}

/* ISO-8601 or milliseconds; 0 for NULL/empty. */
static int parse_bound(const char *text, int64_t *out) {
    *out = 0;
    if (text == NULL || *text == '\0')
        return 0;
    int digits = 1;
    for (const char *c = text; *c; c++)
        digits &= isdigit((unsigned char)*c) != 0;
    if (digits && strlen(text) <= 15) {
        *out = strtoll(text, NULL, 10);
        return 0;
    }
    return cdp_segment_parse_time(text, out);
}

static const char *nonempty(const char *text) { return text != NULL && *text ? text : NULL; }

cdp_status cdp_audit_export_to(cdp_t *db, const cdp_actor *actor, const cdp_audit_query *query,
                               FILE *out) {
    cdp_err err = {0};
    if (db == NULL || actor == NULL || query == NULL || out == NULL) {
        cdp_err_set(&err, CDP_MISUSE, "audit_export: NULL argument");
        return cdp_handle_fail(db, &err);
    }
    if (actor->role != CDP_ROLE_AUDITOR && actor->role != CDP_ROLE_ADMIN) {
        cdp_err_set(&err, CDP_FORBIDDEN, "role %s may not export the audit log",
                    cdp_role_name(actor->role));
        return cdp_handle_fail(db, &err);
    }
    const char *region = query->region, *format = nonempty(query->format);
    cdp_audit_format export_format;
    if (format == NULL || strcmp(format, "jsonl") == 0)
        export_format = CDP_AUDIT_FORMAT_JSONL;
    else if (strcmp(format, "avro") == 0)
        export_format = CDP_AUDIT_FORMAT_AVRO;
    else {
        cdp_err_set(&err, CDP_BAD_REQUEST, "format: jsonl or avro");
        return cdp_handle_fail(db, &err);
    }
    cdp_audit_filter filter = {.decision = -1};
    uint8_t profile_id[16];
    filter.actor_key_id = nonempty(query->actor);
    filter.operation = nonempty(query->operation);
    if (nonempty(query->profile) != NULL) {
        if (cdp_hex_decode(profile_id, sizeof profile_id, query->profile,
                           strlen(query->profile)) != 0) {
            cdp_err_set(&err, CDP_BAD_REQUEST, "profile: a profile id is 32 hexadecimal digits");
            return cdp_handle_fail(db, &err);
        }
        filter.profile_id = profile_id;
    }
    if (nonempty(query->decision) != NULL) {
        cdp_audit_decision decision;
        if (cdp_audit_decision_parse(query->decision, &decision) != CDP_OK) {
            cdp_err_set(&err, CDP_BAD_REQUEST, "decision: allow, withhold or deny");
            return cdp_handle_fail(db, &err);
        }
        filter.decision = (int)decision;
    }
    if ((filter.actor_key_id && !cdp_audit_token_ok(filter.actor_key_id)) ||
        (filter.operation && !cdp_audit_token_ok(filter.operation))) {
        cdp_err_set(&err, CDP_BAD_REQUEST, "actor or operation: not a valid name");
        return cdp_handle_fail(db, &err);
    }
    if (parse_bound(query->from, &filter.from_ms) != 0) {
        cdp_err_set(&err, CDP_BAD_REQUEST, "from: not an ISO-8601 time or milliseconds");
        return cdp_handle_fail(db, &err);
    }
    if (parse_bound(query->to, &filter.to_ms) != 0) {
        cdp_err_set(&err, CDP_BAD_REQUEST, "to: not an ISO-8601 time or milliseconds");
        return cdp_handle_fail(db, &err);
    }
    if (filter.from_ms && filter.to_ms && filter.from_ms > filter.to_ms) {
        cdp_err_set(&err, CDP_BAD_REQUEST, "from: after to");
        return cdp_handle_fail(db, &err);
    }
    if (region == NULL || *region == '\0')
        region = cdp_policy_default_region(cdp_handle_policy(db));
    cdp_audit_log *log = cdp_handle_audit_log(db, region);
    if (log == NULL) {
        cdp_err_set(&err, CDP_NOT_FOUND, "region: unknown region \"%.32s\"", region);
        return cdp_handle_fail(db, &err);
    }
    /* The export is an access to the log: recorded first, then covered by a fresh checkpoint. */
    static const char *const categories[] = {"audit"};
    cdp_audit_entry entry = {
        .actor_key_id = cdp_audit_token_ok(actor->key_id) ? actor->key_id : "unknown",
        .actor_role = cdp_role_name(actor->role),
        .operation = "audit.export",
        .categories = categories,
        .category_count = 1,
        .decision = CDP_AUDIT_ALLOW,
        .request_id = cdp_audit_token_ok(actor->request_id) ? actor->request_id : NULL,
    };
    cdp_handle_lock_shared(db);
    cdp_status status = cdp_audit_write(log, NULL, &entry, 1, 1, NULL, &err);
    if (status == CDP_OK)
        status = cdp_audit_checkpoint_now(log, NULL, &err);
    if (status == CDP_OK)
        status = cdp_audit_export_file(log, &filter, export_format, out, NULL, &err);
    cdp_handle_unlock(db);
    return status == CDP_OK ? CDP_OK : cdp_handle_fail(db, &err);
}
