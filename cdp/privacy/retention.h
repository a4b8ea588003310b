/* Retention sweep of expired events (see retention.c). Called by cdp/access and maintenance. */
#ifndef CDP_PRIVACY_RETENTION_H
#define CDP_PRIVACY_RETENTION_H

#include "identity/resolve.h"
#include "policy/privacy.h"

/* Deletes the region's events whose category's retention has run out at now_ms; *deleted
 * counts them. Writes in synced batches; safe to interrupt and run again. */
cdp_status cdp_retention_sweep_region(const cdp_identity_env *env, size_t region_index,
                                      int64_t now_ms, size_t *deleted, cdp_err *err);

#endif
