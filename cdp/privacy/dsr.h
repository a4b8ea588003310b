/* Data-subject requests (OpenGDPR 0.1 / OpenDSR v3): the validated request body and the stored
 * request record. A record holds metadata only (id, type, regulation, times, due date, status,
 * the pseudonymous profile id and region, the identity TYPES) and never an identifier: it lives
 * in the default region's meta column family under "dsr/req/<id>", so it survives restarts.
 * The flow (who may do what, resolution, the worker) is cdp/access/dsr.c. */
#ifndef CDP_PRIVACY_DSR_H
#define CDP_PRIVACY_DSR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "identity/rules.h"
#include "store/region.h"
#include "util/err.h"

#define CDP_DSR_ID_MAX 36 /* a UUID */
#define CDP_DSR_IDENTITIES_MAX 16
#define CDP_DSR_DAY_MS 86400000LL

typedef enum cdp_dsr_type {
    CDP_DSR_ERASURE = 0,
    CDP_DSR_ACCESS,
    CDP_DSR_PORTABILITY,
    CDP_DSR_RECTIFICATION,
    CDP_DSR_RESTRICTION,
    CDP_DSR_OBJECTION, /* extension: a consent withdrawal for extensions.cdp.purpose */
    CDP_DSR_TYPE_COUNT
} cdp_dsr_type;

typedef enum cdp_dsr_state {
    CDP_DSR_PENDING = 0,
    CDP_DSR_IN_PROGRESS,
    CDP_DSR_COMPLETED,
    CDP_DSR_CANCELLED,
} cdp_dsr_state;

/* "erasure", "access", ... / "pending", "in_progress", ... Static. */
const char *cdp_dsr_type_name(cdp_dsr_type type);
const char *cdp_dsr_state_name(cdp_dsr_state state);

/* One subject identity of a request. value borrowed from the parsed JSON. */
typedef struct cdp_dsr_identity {
    char type[33]; /* our identifier type (controller_customer_id is user_id) */
    int sha256;    /* identity_format "sha256": value is 64 lowercase hex */
    const char *value;
    size_t len;
} cdp_dsr_identity;

/* A validated POST body; borrowed from root until it is freed. */
typedef struct cdp_dsr_parsed {
    char id[CDP_DSR_ID_MAX + 1]; /* lowercase */
    cdp_dsr_type type;
    char regulation[8];   /* "gdpr" | "ccpa" */
    char api_version[8];  /* "0.1" (OpenGDPR) | "3.0" (OpenDSR v3) */
    int64_t submitted_ms;
    cdp_dsr_identity identities[CDP_DSR_IDENTITIES_MAX];
    size_t identity_count;
    json_t *traits;      /* rectification: extensions.cdp.traits (an object) */
    const char *purpose; /* objection: extensions.cdp.purpose */
} cdp_dsr_parsed;

/* Validates everything of a POST body (both shapes). known_purpose(ctx, p) says whether a purpose
 * exists. CDP_BAD_REQUEST naming the field and the reason. */
cdp_status cdp_dsr_parse(const cdp_identity_rules *rules, json_t *root,
                         int (*known_purpose)(const void *ctx, const char *purpose),
                         const void *ctx, cdp_dsr_parsed *out, cdp_err *err);

/* The due date: submitted + 30 days (GDPR: one month) or + 45 days (CCPA). */
int64_t cdp_dsr_due_ms(const char *regulation, int64_t submitted_ms);

/* A stored request. */
typedef struct cdp_dsr_record {
    char id[CDP_DSR_ID_MAX + 1];
    cdp_dsr_type type;
    char regulation[8];
    char api_version[8];
    int64_t submitted_ms, received_ms, due_ms, updated_ms;
    cdp_dsr_state state;
    int found; /* the identities resolved to a person */
    char profile_id[33];
    char region[17];
    char identity_types[192]; /* comma-separated, "sha256:" before hashed ones */
    char fingerprint[65];     /* keyed hash of the body: an identical resubmission */
    char actor_key_id[33];
    char purpose[65]; /* objection */
    char outcome[32]; /* "", "done", "not_found", "unchanged", ... */
    char *result_json; /* erasure: the signed receipt; caller owns (cdp_dsr_record_clear) */
} cdp_dsr_record;

void cdp_dsr_record_clear(cdp_dsr_record *record); /* accepts a zeroed record */

/* Reads the record of id. CDP_NOT_FOUND when none. */
cdp_status cdp_dsr_record_get(cdp_region *region, const char *id, cdp_dsr_record *out,
                              cdp_err *err);
/* Adds the put of record to batch. */
cdp_status cdp_dsr_record_put(cdp_batch *batch, cdp_region *region, const cdp_dsr_record *record,
                              cdp_err *err);
/* Calls fn for each stored record in id order; fn returns non-zero to stop. */
cdp_status cdp_dsr_record_each(cdp_region *region,
                               int (*fn)(void *ctx, const cdp_dsr_record *record), void *ctx,
                               cdp_err *err);

/* The record as the status answer: {"subject_request_id", "request_status", ...}. New ref. */
json_t *cdp_dsr_record_json(const cdp_dsr_record *record);

/* ISO-8601 UTC with milliseconds. */
void cdp_dsr_format_time(int64_t ms, char out[32]);

/* Serialises request state changes (duplicate check, cancel, the worker's claims). */
void cdp_dsr_lock(void);
void cdp_dsr_unlock(void);

#endif
