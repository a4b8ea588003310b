/* Data-subject requests (OpenGDPR / OpenDSR), rectification and objection through the one door.
 * Every function is for role dpo (CDP_FORBIDDEN otherwise) except the worker, the statistics and
 * discovery, which the library itself calls. Thread-safe (the caller holds the handle shared).
 * JSON answers: caller owns *json (free with cdp_free). */
#ifndef CDP_ACCESS_DSR_H
#define CDP_ACCESS_DSR_H

#include <jansson.h>
#include <stdio.h>

#include "access/access.h"

/* Validates a POST body, resolves its identities, persists the request. *created 0 when the
 * identical request was submitted before (the same answer is returned). See cdp_dsr_submit. */
cdp_status cdp_access_dsr_submit(const cdp_identity_env *env, const cdp_actor *actor,
                                 const char *body, size_t len, int64_t now_ms, char **json,
                                 int *created, cdp_err *err);
cdp_status cdp_access_dsr_status(const cdp_identity_env *env, const cdp_actor *actor,
                                 const char *id, char **json, cdp_err *err);
cdp_status cdp_access_dsr_list(const cdp_identity_env *env, const cdp_actor *actor, char **json,
                               cdp_err *err);
cdp_status cdp_access_dsr_cancel(const cdp_identity_env *env, const cdp_actor *actor,
                                 const char *id, int64_t now_ms, char **json, cdp_err *err);
/* Writes the result of a completed request to out (format NULL: json). */
cdp_status cdp_access_dsr_result(const cdp_identity_env *env, const cdp_actor *actor,
                                 const char *id, const char *format, FILE *out, cdp_err *err);
/* The worker: carries out up to max (1..64; 0: 64) pending or in-progress requests. */
cdp_status cdp_access_dsr_process(const cdp_identity_env *env, int64_t now_ms, size_t max,
                                  size_t *processed, cdp_err *err);

#define CDP_ACCESS_DSR_TYPES 6
typedef struct cdp_access_dsr_stats {
    unsigned long long total[CDP_ACCESS_DSR_TYPES]; /* by type, indexed as cdp_dsr_type */
    unsigned long long pending, in_progress, overdue;
} cdp_access_dsr_counts;
cdp_status cdp_access_dsr_stats(const cdp_identity_env *env, int64_t now_ms,
                                cdp_access_dsr_counts *stats, cdp_err *err);
const char *cdp_access_dsr_type_name(size_t type);

cdp_status cdp_access_dsr_discovery(const cdp_identity_env *env, char **json, cdp_err *err);

/* Rectification (Art. 16): traits_json is a JSON object of corrected traits. */
cdp_status cdp_access_rectify(const cdp_identity_env *env, const cdp_actor *actor,
                              const char *ref, const char *traits_json, char **json,
                              cdp_err *err);
cdp_status cdp_access_rectify_traits(const cdp_identity_env *env, const cdp_actor *actor,
                                     const char *ref, json_t *traits, char **json, cdp_err *err);
/* Objection (Art. 21): a consent withdrawal of purpose with source "dsr". */
cdp_status cdp_access_object(const cdp_identity_env *env, const cdp_actor *actor,
                             const char *ref, const char *purpose, char **json, cdp_err *err);

#endif
