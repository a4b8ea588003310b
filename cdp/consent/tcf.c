/* TCF v2.2 core segment decoder. The string is base64url without padding; each character is six
 * bits of one big-endian bit stream per segment, read here straight from the text through a
 * bounded reader (no decoded copy), so a field that runs past the end is "truncated", never an
 * out-of-bounds read. Field order and widths: IAB Tech Lab, "Consent string and vendor list
 * formats v2", core segment. */
#include "consent/tcf.h"

#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

/* 0..63 for the base64url alphabet, 0xff for anything else. */
static uint8_t sextet_of(unsigned char c) {
    if (c >= 'A' && c <= 'Z')
        return (uint8_t)(c - 'A');
    if (c >= 'a' && c <= 'z')
        return (uint8_t)(c - 'a' + 26);
    if (c >= '0' && c <= '9')
        return (uint8_t)(c - '0' + 52);
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return 0xff;
}

typedef struct bit_reader {
    const char *text; /* one segment, already checked to be base64url */
    size_t bits;      /* 6 * characters */
    size_t at;        /* next bit */
    cdp_err *err;
} bit_reader;

/* Reads width (<= 36) bits as an unsigned big-endian integer. */
static cdp_status read_bits(bit_reader *reader, unsigned width, const char *field,
                            uint64_t *out) {
    if (width > reader->bits || reader->at > reader->bits - width)
        return cdp_err_set(reader->err, CDP_BAD_REQUEST,
                           "tcf: %s: truncated (needs %u bits at bit %zu of %zu)", field, width,
                           reader->at, reader->bits);
    uint64_t value = 0;
    for (unsigned i = 0; i < width; i++, reader->at++) {
        uint8_t sextet = sextet_of((unsigned char)reader->text[reader->at / 6]);
        value = (value << 1) | ((sextet >> (5 - reader->at % 6)) & 1u);
    }
    *out = value;
    return CDP_OK;
}

static cdp_status read_unsigned(bit_reader *reader, unsigned width, const char *field,
                                unsigned *out) {
    uint64_t value = 0;
    cdp_status status = read_bits(reader, width, field, &value);
    *out = (unsigned)value;
    return status;
}

/* Two letters of six bits each, 0 = 'A' .. 25 = 'Z'. */
static cdp_status read_letters(bit_reader *reader, const char *field, char out[3]) {
    uint64_t value = 0;
    cdp_status status = read_bits(reader, 12, field, &value);
    if (status != CDP_OK)
        return status;
    unsigned first = (unsigned)(value >> 6), second = (unsigned)(value & 63);
    if (first > 25 || second > 25)
        return cdp_err_set(reader->err, CDP_BAD_REQUEST,
                           "tcf: %s: not two letters A-Z (codes %u and %u)", field, first,
                           second);
    out[0] = (char)('A' + first);
    out[1] = (char)('A' + second);
    out[2] = '\0';
    return CDP_OK;
}

static void vendors_set(cdp_tcf_vendors *vendors, unsigned id) {
    uint8_t mask = (uint8_t)(1u << ((id - 1) % 8));
    uint8_t *byte = &vendors->bits[(id - 1) / 8];
    if (!(*byte & mask)) {
        *byte |= mask;
        vendors->count++;
    }
}

/* MaxVendorId, IsRangeEncoding, then MaxVendorId bits or NumEntries range entries. Range entries
 * must be ascending, not overlapping and within 1..MaxVendorId: a string that says otherwise was
 * not written by a conforming CMP, and guessing what it meant could grant consent nobody gave. */
static cdp_status read_vendors(bit_reader *reader, const char *field, cdp_tcf_vendors *out) {
    char name[64];
    uint64_t value = 0;
    snprintf(name, sizeof name, "%s.max_vendor_id", field);
    cdp_status status = read_bits(reader, 16, name, &value);
    if (status != CDP_OK)
        return status;
    out->max_vendor_id = (unsigned)value;
    snprintf(name, sizeof name, "%s.is_range_encoding", field);
    if ((status = read_bits(reader, 1, name, &value)) != CDP_OK)
        return status;
    out->range_encoded = (int)value;
    if (out->max_vendor_id > 0) {
        out->bits = cdp_calloc((out->max_vendor_id + 7) / 8, 1);
        if (out->bits == NULL)
            return cdp_err_set(reader->err, CDP_NOMEM, "tcf: out of memory");
    }
    if (!out->range_encoded) {
        snprintf(name, sizeof name, "%s.bitfield", field);
        if (out->max_vendor_id > reader->bits || reader->at > reader->bits - out->max_vendor_id)
            return cdp_err_set(reader->err, CDP_BAD_REQUEST,
                               "tcf: %s: truncated (needs %u bits at bit %zu of %zu)", name,
                               out->max_vendor_id, reader->at, reader->bits);
        for (unsigned id = 1; id <= out->max_vendor_id; id++) {
            (void)read_bits(reader, 1, name, &value); /* in bounds: checked above */
            if (value)
                vendors_set(out, id);
        }
        return CDP_OK;
    }
    snprintf(name, sizeof name, "%s.num_entries", field);
    unsigned entries = 0;
    if ((status = read_unsigned(reader, 12, name, &entries)) != CDP_OK)
        return status;
    out->entry_count = entries;
    unsigned previous_end = 0;
    for (unsigned i = 0; i < entries; i++) {
        unsigned is_range = 0, start = 0, end = 0;
        snprintf(name, sizeof name, "%s.entries[%u]", field, i);
        status = read_unsigned(reader, 1, name, &is_range);
        if (status == CDP_OK)
            status = read_unsigned(reader, 16, name, &start);
        end = start;
        if (status == CDP_OK && is_range)
            status = read_unsigned(reader, 16, name, &end);
        if (status != CDP_OK)
            return status;
        if (start == 0)
            return cdp_err_set(reader->err, CDP_BAD_REQUEST,
                               "tcf: %s: vendor id 0 (ids start at 1)", name);
        if (end < start)
            return cdp_err_set(reader->err, CDP_BAD_REQUEST,
                               "tcf: %s: range ends at %u, before its start %u", name, end,
                               start);
        if (end > out->max_vendor_id)
            return cdp_err_set(reader->err, CDP_BAD_REQUEST,
                               "tcf: %s: vendor id %u is above max_vendor_id %u", name, end,
                               out->max_vendor_id);
        if (start <= previous_end)
            return cdp_err_set(reader->err, CDP_BAD_REQUEST,
                               "tcf: %s: starts at %u, not after the previous entry's end %u "
                               "(entries must be ascending and not overlap)",
                               name, start, previous_end);
        for (unsigned id = start; id <= end; id++)
            vendors_set(out, id);
        previous_end = end;
    }
    return CDP_OK;
}

/* NumPubRestrictions, each PurposeId, RestrictionType, NumEntries and range entries: validated
 * for length and shape, not kept (we record consent, we do not run an ad auction). */
static cdp_status skip_publisher_restrictions(bit_reader *reader, size_t *count) {
    unsigned restrictions = 0;
    cdp_status status = read_unsigned(reader, 12, "publisher_restrictions.count", &restrictions);
    if (status != CDP_OK)
        return status;
    *count = restrictions;
    for (unsigned i = 0; i < restrictions; i++) {
        char name[64];
        unsigned purpose = 0, type = 0, entries = 0;
        snprintf(name, sizeof name, "publisher_restrictions[%u]", i);
        status = read_unsigned(reader, 6, name, &purpose);
        if (status == CDP_OK)
            status = read_unsigned(reader, 2, name, &type);
        if (status == CDP_OK)
            status = read_unsigned(reader, 12, name, &entries);
        if (status != CDP_OK)
            return status;
        if (purpose == 0 || purpose > CDP_TCF_PURPOSES)
            return cdp_err_set(reader->err, CDP_BAD_REQUEST,
                               "tcf: %s: purpose id %u is not 1..24", name, purpose);
        for (unsigned e = 0; e < entries; e++) {
            unsigned is_range = 0, start = 0, end = 0;
            snprintf(name, sizeof name, "publisher_restrictions[%u].entries[%u]", i, e);
            status = read_unsigned(reader, 1, name, &is_range);
            if (status == CDP_OK)
                status = read_unsigned(reader, 16, name, &start);
            end = start;
            if (status == CDP_OK && is_range)
                status = read_unsigned(reader, 16, name, &end);
            if (status != CDP_OK)
                return status;
            if (start == 0 || end < start)
                return cdp_err_set(reader->err, CDP_BAD_REQUEST,
                                   "tcf: %s: bad vendor range %u..%u", name, start, end);
        }
    }
    return CDP_OK;
}

static cdp_status decode_core(bit_reader *reader, cdp_tcf *out) {
    cdp_err *err = reader->err;
    uint64_t value = 0;
    cdp_status status = read_unsigned(reader, 6, "version", &out->version);
    if (status != CDP_OK)
        return status;
    if (out->version != 2)
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "tcf: version: %u is not supported (TCF v2 strings have version 2)",
                           out->version);
    if ((status = read_bits(reader, 36, "created", &value)) != CDP_OK)
        return status;
    out->created_ms = (int64_t)value * 100;
    if ((status = read_bits(reader, 36, "last_updated", &value)) != CDP_OK)
        return status;
    out->last_updated_ms = (int64_t)value * 100;
    if ((status = read_unsigned(reader, 12, "cmp_id", &out->cmp_id)) != CDP_OK ||
        (status = read_unsigned(reader, 12, "cmp_version", &out->cmp_version)) != CDP_OK ||
        (status = read_unsigned(reader, 6, "consent_screen", &out->consent_screen)) != CDP_OK ||
        (status = read_letters(reader, "consent_language", out->consent_language)) != CDP_OK ||
        (status = read_unsigned(reader, 12, "vendor_list_version",
                                &out->vendor_list_version)) != CDP_OK ||
        (status = read_unsigned(reader, 6, "policy_version", &out->policy_version)) != CDP_OK)
        return status;
    if (out->policy_version < 2)
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "tcf: policy_version: %u is unknown (TCF v2 policy versions start at "
                           "2; 4 is TCF v2.2)",
                           out->policy_version);
    unsigned flag = 0;
    if ((status = read_unsigned(reader, 1, "is_service_specific", &flag)) != CDP_OK)
        return status;
    out->is_service_specific = (int)flag;
    if ((status = read_unsigned(reader, 1, "use_non_standard_texts", &flag)) != CDP_OK)
        return status;
    out->use_non_standard_texts = (int)flag;
    if ((status = read_bits(reader, 12, "special_feature_optins", &value)) != CDP_OK)
        return status;
    /* Stored with feature 1 in bit 0: the string puts feature 1 first (most significant). */
    for (unsigned i = 0; i < CDP_TCF_SPECIAL_FEATURES; i++)
        if (value & (1ull << (CDP_TCF_SPECIAL_FEATURES - 1 - i)))
            out->special_feature_optins |= 1u << i;
    if ((status = read_bits(reader, 24, "purpose_consents", &value)) != CDP_OK)
        return status;
    for (unsigned i = 0; i < CDP_TCF_PURPOSES; i++)
        if (value & (1ull << (CDP_TCF_PURPOSES - 1 - i)))
            out->purpose_consents |= 1u << i;
    if ((status = read_bits(reader, 24, "purpose_legitimate_interests", &value)) != CDP_OK)
        return status;
    for (unsigned i = 0; i < CDP_TCF_PURPOSES; i++)
        if (value & (1ull << (CDP_TCF_PURPOSES - 1 - i)))
            out->purpose_legitimate_interests |= 1u << i;
    if ((status = read_unsigned(reader, 1, "purpose_one_treatment", &flag)) != CDP_OK)
        return status;
    out->purpose_one_treatment = (int)flag;
    if ((status = read_letters(reader, "publisher_cc", out->publisher_cc)) != CDP_OK ||
        (status = read_vendors(reader, "vendor_consents", &out->vendor_consents)) != CDP_OK ||
        (status = read_vendors(reader, "vendor_legitimate_interests",
                               &out->vendor_legitimate_interests)) != CDP_OK ||
        (status = skip_publisher_restrictions(reader, &out->publisher_restriction_count)) !=
            CDP_OK)
        return status;
    /* Checked last: a truncated string reports its truncation rather than a date. */
    if (out->created_ms > out->last_updated_ms)
        return cdp_err_set(err, CDP_BAD_REQUEST,
                           "tcf: created: %lld is after last_updated %lld",
                           (long long)out->created_ms, (long long)out->last_updated_ms);
    out->core_bits = reader->at;
    return CDP_OK;
}

cdp_status cdp_tcf_decode(const char *text, size_t len, cdp_tcf *out, cdp_err *err) {
    if (out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "tcf: NULL output");
    memset(out, 0, sizeof *out);
    if (text == NULL || len == 0)
        return cdp_err_set(err, CDP_BAD_REQUEST, "tcf: empty string");
    if (len > CDP_TCF_MAX_BYTES)
        return cdp_err_set(err, CDP_PAYLOAD_TOO_LARGE, "tcf: longer than %u bytes",
                           CDP_TCF_MAX_BYTES);
    /* Segments: every character base64url, none empty; the first is the core segment. A refusal
     * here clears *out too: segments counted before the bad one must not show (fuzz_tcf). */
    cdp_status status = CDP_OK;
    size_t segment_start = 0, core_len = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '.') {
            if (sextet_of((unsigned char)text[i]) == 0xff) {
                status = cdp_err_set(err, CDP_BAD_REQUEST,
                                     "tcf: not base64url: byte 0x%02x at offset %zu%s",
                                     (unsigned char)text[i], i,
                                     text[i] == '=' ? " (padding is not allowed)" : "");
                goto fail;
            }
            continue;
        }
        size_t segment_len = i - segment_start;
        if (segment_len == 0) {
            status = cdp_err_set(err, CDP_BAD_REQUEST, "tcf: segment %zu is empty",
                                 out->segment_count + 1);
            goto fail;
        }
        if (out->segment_count == 0) {
            core_len = segment_len;
        } else {
            /* SegmentType: the first three bits. 1 disclosed vendors, 2 allowed vendors,
             * 3 publisher TC; 0 would be a second core segment. */
            unsigned type = sextet_of((unsigned char)text[segment_start]) >> 3;
            if (type < 1 || type > 3) {
                status = cdp_err_set(err, CDP_BAD_REQUEST,
                                     "tcf: segment %zu: segment type %u is not 1..3",
                                     out->segment_count + 1, type);
                goto fail;
            }
        }
        out->segment_count++;
        segment_start = i + 1;
    }
    bit_reader reader = {.text = text, .bits = core_len * 6, .at = 0, .err = err};
    status = decode_core(&reader, out);
    if (status == CDP_OK)
        return CDP_OK;
fail:
    cdp_tcf_clear(out);
    return status;
}

void cdp_tcf_clear(cdp_tcf *tcf) {
    if (tcf == NULL)
        return;
    cdp_free(tcf->vendor_consents.bits);
    cdp_free(tcf->vendor_legitimate_interests.bits);
    memset(tcf, 0, sizeof *tcf);
}

int cdp_tcf_purpose_consent(const cdp_tcf *tcf, unsigned purpose) {
    return purpose >= 1 && purpose <= CDP_TCF_PURPOSES &&
           ((tcf->purpose_consents >> (purpose - 1)) & 1u);
}

int cdp_tcf_purpose_legitimate_interest(const cdp_tcf *tcf, unsigned purpose) {
    return purpose >= 1 && purpose <= CDP_TCF_PURPOSES &&
           ((tcf->purpose_legitimate_interests >> (purpose - 1)) & 1u);
}

int cdp_tcf_special_feature_optin(const cdp_tcf *tcf, unsigned feature) {
    return feature >= 1 && feature <= CDP_TCF_SPECIAL_FEATURES &&
           ((tcf->special_feature_optins >> (feature - 1)) & 1u);
}

int cdp_tcf_vendor_has(const cdp_tcf_vendors *vendors, unsigned vendor_id) {
    return vendor_id >= 1 && vendor_id <= vendors->max_vendor_id && vendors->bits != NULL &&
           ((vendors->bits[(vendor_id - 1) / 8] >> ((vendor_id - 1) % 8)) & 1u);
}
