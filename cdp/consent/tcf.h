/* IAB TCF v2.2 Transparency and Consent strings: the core segment decoded into a typed view.
 * The input is hostile (it arrives from browsers through POST /v1/consent): the decoder reads a
 * bit stream with explicit bounds, never past the bytes given, allocates only what the declared
 * vendor ranges need (at most 8 KiB per vendor section) and refuses anything malformed with
 * CDP_BAD_REQUEST and a precise reason ("created: after last_updated", "vendor_consents: range
 * entry 3 starts at 17, before the end of entry 2 (20)", ...). Other segments (disclosed
 * vendors, allowed vendors, publisher TC) are checked for a known segment type and valid
 * base64url, then ignored. Thread-safe (no shared state). */
#ifndef CDP_CONSENT_TCF_H
#define CDP_CONSENT_TCF_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CDP_TCF_MAX_BYTES (64u * 1024u) /* longest TC string accepted (all segments) */
#define CDP_TCF_PURPOSES 24             /* bits of the purpose vectors (TCF uses 1..11) */
#define CDP_TCF_SPECIAL_FEATURES 12

/* A set of vendor ids 1..max_vendor_id. */
typedef struct cdp_tcf_vendors {
    unsigned max_vendor_id; /* MaxVendorId (0..65535) */
    int range_encoded;      /* 1: IsRangeEncoding was set */
    size_t entry_count;     /* range entries (range encoding only) */
    size_t count;           /* vendors in the set */
    uint8_t *bits;          /* bit (id - 1), (max_vendor_id + 7) / 8 bytes; NULL when empty */
} cdp_tcf_vendors;

typedef struct cdp_tcf {
    unsigned version;             /* always 2 */
    int64_t created_ms;           /* Created (deciseconds in the string) as ms since the epoch */
    int64_t last_updated_ms;      /* LastUpdated, >= created_ms */
    unsigned cmp_id;
    unsigned cmp_version;
    unsigned consent_screen;
    char consent_language[3];     /* two upper-case letters ("EN") */
    unsigned vendor_list_version;
    unsigned policy_version;      /* TcfPolicyVersion, >= 2 (4: TCF v2.2) */
    int is_service_specific;
    int use_non_standard_texts;
    uint32_t special_feature_optins;        /* bit (n - 1): special feature n (1..12) */
    uint32_t purpose_consents;              /* bit (n - 1): purpose n (1..24) */
    uint32_t purpose_legitimate_interests;  /* bit (n - 1): purpose n */
    int purpose_one_treatment;
    char publisher_cc[3];         /* two upper-case letters ("AA" when unknown) */
    cdp_tcf_vendors vendor_consents;
    cdp_tcf_vendors vendor_legitimate_interests;
    size_t publisher_restriction_count; /* NumPubRestrictions (entries validated, not kept) */
    size_t segment_count;         /* segments in the string, core included */
    size_t core_bits;             /* bits of the core segment the fields used (the rest is
                                     padding to a character boundary) */
} cdp_tcf;

/* Decodes text[0..len) (need not be NUL-terminated). On success *out holds the core segment;
 * caller owns it (free with cdp_tcf_clear). On failure *out is cleared and err says why:
 * CDP_BAD_REQUEST "<field>: <reason>" for anything malformed, CDP_PAYLOAD_TOO_LARGE over
 * CDP_TCF_MAX_BYTES, CDP_NOMEM. */
cdp_status cdp_tcf_decode(const char *text, size_t len, cdp_tcf *out, cdp_err *err);

void cdp_tcf_clear(cdp_tcf *tcf); /* accepts a zeroed struct */

/* 1 if the bit is set; 0 for ids outside the vector (0, > 24 or > max_vendor_id). */
int cdp_tcf_purpose_consent(const cdp_tcf *tcf, unsigned purpose);
int cdp_tcf_purpose_legitimate_interest(const cdp_tcf *tcf, unsigned purpose);
int cdp_tcf_special_feature_optin(const cdp_tcf *tcf, unsigned feature);
int cdp_tcf_vendor_has(const cdp_tcf_vendors *vendors, unsigned vendor_id);

#endif
