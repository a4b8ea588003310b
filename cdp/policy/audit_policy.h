/* policies/audit.json: how long the audit log keeps records (whole signed segments are removed
 * from its start, the first kept checkpoint becoming the anchor) and how often it checkpoints. */
#ifndef CDP_POLICY_AUDIT_POLICY_H
#define CDP_POLICY_AUDIT_POLICY_H

#include <stdint.h>

#include "util/err.h"

typedef struct cdp_audit_policy {
    int64_t retention_days;         /* 0: keep forever */
    uint64_t checkpoint_every;      /* records between checkpoints */
    int64_t checkpoint_interval_ms; /* an idle log is checkpointed this long after a record */
} cdp_audit_policy;

/* Loads dir/audit.json; a missing file gives the defaults (7 years, 1000 records, 60 s).
 * CDP_BAD_POLICY naming every problem as "audit.json: field: reason". */
cdp_status cdp_audit_policy_load(const char *dir, cdp_audit_policy *out, cdp_err *err);

#endif
