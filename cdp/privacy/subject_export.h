/* Data-subject access and portability export (GDPR Art. 15 and 20, CCPA right to know):
 * everything held on one person — profile, identities, traits with provenance, computed traits,
 * channels, every event of the profile and of the profiles merged into it, merge history,
 * consent records and the audit entries about them — written as one JSON document or as an
 * Avro object container file of schemas/subject_export.avsc items.
 *
 * Streams in constant memory: events, merges and audit entries are read one at a time from
 * their column family or index and written out at once, so a person with a million events
 * exports without holding them. The caller (cdp/api/subject_api.c) checks the role and writes
 * the audit record before calling in here. */
#ifndef CDP_PRIVACY_SUBJECT_EXPORT_H
#define CDP_PRIVACY_SUBJECT_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/log.h"
#include "identity/resolve.h"
#include "store/records.h"
#include "store/vault.h"
#include "util/err.h"

typedef enum cdp_subject_format {
    CDP_SUBJECT_FORMAT_JSON = 0, /* one JSON document, written incrementally */
    CDP_SUBJECT_FORMAT_AVRO = 1, /* Avro object container file (deflate) */
} cdp_subject_format;

/* "json" or "avro"; CDP_BAD_REQUEST naming the field "format" otherwise (also for NULL). */
cdp_status cdp_subject_format_parse(const char *name, cdp_subject_format *out, cdp_err *err);

/* A resolved person (cdp/access fills it from cdp_access_resolve); clear with
 * cdp_subject_clear. */
typedef struct cdp_subject {
    size_t region_index;        /* home region, an index into the identity env's regions */
    cdp_vault *vault;           /* borrowed from the handle */
    cdp_audit_log *audit_log;   /* borrowed from the handle */
    cdp_person person;          /* the profile's unwrapped data key: wiped by cdp_subject_clear */
    cdp_profile_record profile; /* decoded profile: freed by cdp_subject_clear */
} cdp_subject;

void cdp_subject_clear(cdp_subject *subject); /* accepts a zeroed or cleared subject */

/* How many items of each kind an export wrote. */
typedef struct cdp_subject_counts {
    uint64_t identities;
    uint64_t traits;
    uint64_t events;
    uint64_t merges;
    uint64_t consent;              /* consent items written */
    uint64_t consent_records_held; /* consent records stored for the person (raw count) */
    uint64_t audit;
} cdp_subject_counts;

/* Writes the export of subject to out (borrowed; flushed, not closed). generated_at: the
 * export's time, ms since the epoch. counts (may be NULL) receives what was written. CDP_IO
 * when out fails; on any failure out holds a partial export: the JSON document does not parse
 * and the Avro file has no end item. Holds no lock: the caller holds the handle's shared lock.
 * Thread-safe for different outputs. */
cdp_status cdp_subject_export_write(const cdp_subject *subject, cdp_subject_format format,
                                    int64_t generated_at, FILE *out, cdp_subject_counts *counts,
                                    cdp_err *err);

#endif
