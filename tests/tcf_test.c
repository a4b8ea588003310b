/* The TCF v2.2 decoder against the IAB reference encoder's strings (tests/data/tcf_vectors.json,
 * made by tests/clients/tcf_vectors.mjs with @iabtcf/core; CDP_TCF_VECTORS names another file,
 * which tests/tcf_vectors_test.sh uses for freshly generated ones), hand-built malformed
 * strings, every truncation and every single-character change of the valid ones. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consent/tcf.h"
#include "consent/tcf_map.h"
#include "policy/policy.h"

static json_t *load_vectors(void) {
    const char *path = getenv("CDP_TCF_VECTORS");
    char buffer[4096];
    if (path == NULL || *path == '\0') {
        const char *source = getenv("CDP_SOURCE_DIR");
        snprintf(buffer, sizeof buffer, "%s/tests/data/tcf_vectors.json", source ? source : ".");
        path = buffer;
    }
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    cr_assert_not_null(root, "cannot read %s: %s", path, error.text);
    json_t *vectors = json_object_get(root, "vectors");
    cr_assert(json_is_array(vectors) && json_array_size(vectors) >= 5, "%s: too few vectors", path);
    json_incref(vectors);
    json_decref(root);
    return vectors;
}

static cdp_policy *load_policy(void) {
    const char *source = getenv("CDP_SOURCE_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/policies", source ? source : ".");
    cdp_policy *policy = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_policy_load(dir, &policy, &err), CDP_OK, "%s", err.message);
    return policy;
}

/* Decodes from an exactly sized heap copy (no NUL after it), so ASan sees any over-read. */
static cdp_status decode_exact(const char *text, size_t len, cdp_tcf *out, cdp_err *err) {
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    cdp_status status = cdp_tcf_decode(copy, len, out, err);
    free(copy);
    return status;
}

static uint32_t bits_of(json_t *array) {
    uint32_t bits = 0;
    size_t index;
    json_t *item;
    json_array_foreach(array, index, item) bits |= 1u << (json_integer_value(item) - 1);
    return bits;
}

static void check_vendors(const char *name, const char *field, const cdp_tcf_vendors *got,
                          json_t *want) {
    cr_expect_eq(got->max_vendor_id, json_integer_value(json_object_get(want, "max_vendor_id")),
                 "%s: %s.max_vendor_id %u", name, field, got->max_vendor_id);
    cr_expect_eq(got->range_encoded, json_is_true(json_object_get(want, "range_encoded")),
                 "%s: %s.range_encoded", name, field);
    json_t *ids = json_object_get(want, "ids");
    cr_expect_eq(got->count, json_array_size(ids), "%s: %s: %zu vendors, want %zu", name, field,
                 got->count, json_array_size(ids));
    /* Every listed id is in the set; with the count equal, nothing else is. */
    size_t index;
    json_t *item;
    json_array_foreach(ids, index, item) {
        unsigned id = (unsigned)json_integer_value(item);
        cr_expect(cdp_tcf_vendor_has(got, id), "%s: %s: vendor %u missing", name, field, id);
    }
    cr_expect(!cdp_tcf_vendor_has(got, 0) && !cdp_tcf_vendor_has(got, got->max_vendor_id + 1));
}

static void check_vector(const cdp_policy *policy, json_t *vector) {
    const char *name = json_string_value(json_object_get(vector, "name"));
    const char *text = json_string_value(json_object_get(vector, "tc_string"));
    cdp_tcf tcf;
    cdp_err err = {0};
    cr_assert_eq(decode_exact(text, strlen(text), &tcf, &err), CDP_OK, "%s: %s", name,
                 err.message);
#define WANT_INT(key) json_integer_value(json_object_get(vector, key))
#define WANT_BOOL(key) json_is_true(json_object_get(vector, key))
#define WANT_STR(key) json_string_value(json_object_get(vector, key))
    cr_expect_eq(tcf.version, WANT_INT("version"), "%s: version", name);
    cr_expect_eq(tcf.created_ms, WANT_INT("created_ms"), "%s: created %lld", name,
                 (long long)tcf.created_ms);
    cr_expect_eq(tcf.last_updated_ms, WANT_INT("last_updated_ms"), "%s: last_updated", name);
    cr_expect_eq(tcf.cmp_id, WANT_INT("cmp_id"), "%s: cmp_id", name);
    cr_expect_eq(tcf.cmp_version, WANT_INT("cmp_version"), "%s: cmp_version", name);
    cr_expect_eq(tcf.consent_screen, WANT_INT("consent_screen"), "%s: consent_screen", name);
    cr_expect_str_eq(tcf.consent_language, WANT_STR("consent_language"), "%s", name);
    cr_expect_eq(tcf.vendor_list_version, WANT_INT("vendor_list_version"), "%s", name);
    cr_expect_eq(tcf.policy_version, WANT_INT("policy_version"), "%s: policy_version", name);
    cr_expect_eq(tcf.is_service_specific, WANT_BOOL("is_service_specific"), "%s", name);
    cr_expect_eq(tcf.use_non_standard_texts, WANT_BOOL("use_non_standard_texts"), "%s", name);
    cr_expect_eq(tcf.special_feature_optins,
                 bits_of(json_object_get(vector, "special_feature_optins")), "%s", name);
    cr_expect_eq(tcf.purpose_consents, bits_of(json_object_get(vector, "purpose_consents")),
                 "%s: purpose_consents %x", name, tcf.purpose_consents);
    cr_expect_eq(tcf.purpose_legitimate_interests,
                 bits_of(json_object_get(vector, "purpose_legitimate_interests")), "%s", name);
    cr_expect_eq(tcf.purpose_one_treatment, WANT_BOOL("purpose_one_treatment"), "%s", name);
    cr_expect_str_eq(tcf.publisher_cc, WANT_STR("publisher_cc"), "%s", name);
    check_vendors(name, "vendor_consents", &tcf.vendor_consents,
                  json_object_get(vector, "vendor_consents"));
    check_vendors(name, "vendor_legitimate_interests", &tcf.vendor_legitimate_interests,
                  json_object_get(vector, "vendor_legitimate_interests"));
    cr_expect_eq(tcf.publisher_restriction_count, WANT_INT("publisher_restriction_count"),
                 "%s: publisher restrictions", name);
    cr_expect_eq(tcf.segment_count, WANT_INT("segment_count"), "%s: segments", name);
    /* Our purposes as the TC string decides them. */
    cdp_consent_tcf_state mapped[CDP_CONSENT_TCF_MAPPED_MAX];
    size_t count = 0;
    cdp_consent_map_tcf(policy, &tcf, mapped, CDP_CONSENT_TCF_MAPPED_MAX, &count);
    json_t *want_map = json_object_get(vector, "mapped");
    cr_expect_eq(count, json_object_size(want_map), "%s: %zu mapped purposes", name, count);
    for (size_t i = 0; i < count; i++) {
        const char *want = json_string_value(json_object_get(want_map, mapped[i].purpose));
        cr_expect_not_null(want, "%s: unexpected purpose %s", name, mapped[i].purpose);
        if (want != NULL)
            cr_expect_str_eq(mapped[i].state == CDP_CONSENT_STATE_GRANTED ? "granted" : "denied", want,
                             "%s: %s", name, mapped[i].purpose);
    }
#undef WANT_INT
#undef WANT_BOOL
#undef WANT_STR
    cdp_tcf_clear(&tcf);
}

Test(tcf, reference_vectors_decode_to_every_field) {
    json_t *vectors = load_vectors();
    cdp_policy *policy = load_policy();
    size_t index, range_encoded = 0, bitfield = 0, multi_segment = 0;
    json_t *vector;
    json_array_foreach(vectors, index, vector) {
        check_vector(policy, vector);
        json_t *consents = json_object_get(vector, "vendor_consents");
        if (json_is_true(json_object_get(consents, "range_encoded")))
            range_encoded++;
        else if (json_integer_value(json_object_get(consents, "max_vendor_id")) > 0)
            bitfield++;
        multi_segment += json_integer_value(json_object_get(vector, "segment_count")) > 1;
    }
    /* The set covers both vendor encodings and strings with more than the core segment. */
    cr_expect(range_encoded >= 1 && bitfield >= 1 && multi_segment >= 1);
    cdp_policy_free(policy);
    json_decref(vectors);
}

/* Every prefix of a valid string either fails with a reason, or (when it only lost padding
 * after the last field) decodes to the same fields. Prefixes that cut into a field must fail. */
Test(tcf, every_truncation_fails_cleanly) {
    json_t *vectors = load_vectors();
    size_t index;
    json_t *vector;
    json_array_foreach(vectors, index, vector) {
        const char *text = json_string_value(json_object_get(vector, "tc_string"));
        size_t len = strlen(text);
        cdp_tcf full;
        cdp_err err = {0};
        cr_assert_eq(cdp_tcf_decode(text, len, &full, &err), CDP_OK);
        const char *dot = strchr(text, '.');
        size_t core_len = dot ? (size_t)(dot - text) : len;
        for (size_t cut = 0; cut < len; cut++) {
            cdp_tcf tcf;
            cdp_err cut_err = {0};
            cdp_status status = decode_exact(text, cut, &tcf, &cut_err);
            int loses_fields = cut < core_len && cut * 6 < full.core_bits;
            if (loses_fields) {
                cr_expect_eq(status, CDP_BAD_REQUEST, "%s cut at %zu: status %d", text, cut,
                             status);
            } else if (status == CDP_OK) {
                cr_expect_eq(tcf.purpose_consents, full.purpose_consents);
                cr_expect_eq(tcf.vendor_consents.count, full.vendor_consents.count);
                cr_expect_eq(tcf.last_updated_ms, full.last_updated_ms);
            }
            if (status != CDP_OK) {
                cr_expect_eq(status, CDP_BAD_REQUEST);
                cr_expect(strncmp(cut_err.message, "tcf: ", 5) == 0, "%s", cut_err.message);
            }
            cdp_tcf_clear(&tcf);
        }
        cdp_tcf_clear(&full);
    }
    json_decref(vectors);
}

Test(tcf, changed_characters_never_crash) {
    json_t *vectors = load_vectors();
    static const char replacements[] = "AB_-z9.=+/ \x01\xff";
    size_t index, failures = 0, trials = 0;
    json_t *vector;
    json_array_foreach(vectors, index, vector) {
        const char *text = json_string_value(json_object_get(vector, "tc_string"));
        size_t len = strlen(text);
        char *copy = malloc(len);
        for (size_t at = 0; at < len; at++) {
            for (size_t r = 0; r < sizeof replacements - 1; r++) {
                memcpy(copy, text, len);
                copy[at] = replacements[r];
                /* Also flip single bits of the character's value. */
                cdp_tcf tcf;
                cdp_err err = {0};
                cdp_status status = cdp_tcf_decode(copy, len, &tcf, &err);
                cr_expect(status == CDP_OK || status == CDP_BAD_REQUEST, "status %d", status);
                failures += status != CDP_OK;
                trials++;
                cdp_tcf_clear(&tcf);
            }
            for (int bit = 0; bit < 8; bit++) {
                memcpy(copy, text, len);
                copy[at] = (char)(copy[at] ^ (1 << bit));
                cdp_tcf tcf;
                cdp_status status = cdp_tcf_decode(copy, len, &tcf, NULL);
                cr_expect(status == CDP_OK || status == CDP_BAD_REQUEST);
                cdp_tcf_clear(&tcf);
            }
        }
        free(copy);
    }
    cr_expect(failures > 0 && failures < trials);
    json_decref(vectors);
}

/* ---- hand-built strings: a bit writer ---------------------------------------------------- */

typedef struct bits {
    char b[4096];
    size_t n;
} bits;

static void put(bits *w, unsigned width, uint64_t value) {
    for (unsigned i = 0; i < width; i++)
        w->b[w->n++] = (value >> (width - 1 - i)) & 1 ? '1' : '0';
}

static void encode(const bits *w, char *out) {
    static const char dict[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = 0;
    for (size_t i = 0; i < w->n; i += 6) {
        unsigned v = 0;
        for (size_t k = 0; k < 6; k++)
            v = (v << 1) | (i + k < w->n && w->b[i + k] == '1');
        out[n++] = dict[v];
    }
    out[n] = '\0';
}

typedef struct core_spec {
    unsigned version, policy_version;
    uint64_t created, updated; /* deciseconds */
    unsigned language;         /* 12 bits */
} core_spec;

/* Core fields up to and including the publisher CC. */
static void core_head(bits *w, const core_spec *s) {
    put(w, 6, s->version);
    put(w, 36, s->created);
    put(w, 36, s->updated);
    put(w, 12, 300); /* cmp id */
    put(w, 12, 2);
    put(w, 6, 1);
    put(w, 12, s->language);
    put(w, 12, 140);
    put(w, 6, s->policy_version);
    put(w, 1, 0);
    put(w, 1, 0);
    put(w, 12, 0);
    put(w, 24, 0xFFE000); /* purposes 1..11 */
    put(w, 24, 0);
    put(w, 1, 0);
    put(w, 12, (3u << 6) | 4u); /* "DE" */
}

static const core_spec good = {2, 4, 17000000000ull, 17000000001ull, (4u << 6) | 13u};

static void empty_vendors(bits *w) {
    put(w, 16, 0);
    put(w, 1, 0);
}

static void range_vendors(bits *w, unsigned max, unsigned n, const unsigned (*entries)[2]) {
    put(w, 16, max);
    put(w, 1, 1);
    put(w, 12, n);
    for (unsigned i = 0; i < n; i++) {
        int is_range = entries[i][0] != entries[i][1];
        put(w, 1, (uint64_t)is_range);
        put(w, 16, entries[i][0]);
        if (is_range)
            put(w, 16, entries[i][1]);
    }
}

static cdp_status decode_bits(const bits *w, cdp_err *err) {
    char text[1024];
    encode(w, text);
    cdp_tcf tcf;
    cdp_status status = decode_exact(text, strlen(text), &tcf, err);
    cdp_tcf_clear(&tcf);
    return status;
}

static void expect_refused(const bits *w, const char *reason_part) {
    cdp_err err = {0};
    cr_expect_eq(decode_bits(w, &err), CDP_BAD_REQUEST, "want refusal \"%s\"", reason_part);
    cr_expect(strstr(err.message, reason_part) != NULL, "message \"%s\" lacks \"%s\"", err.message,
              reason_part);
}

Test(tcf, hand_built_valid_string_decodes) {
    bits w = {0};
    core_head(&w, &good);
    static const unsigned entries[][2] = {{1, 5}, {9, 9}, {20, 30}};
    range_vendors(&w, 30, 3, entries);
    empty_vendors(&w);
    put(&w, 12, 0);
    char text[1024];
    encode(&w, text);
    cdp_tcf tcf;
    cdp_err err = {0};
    cr_assert_eq(cdp_tcf_decode(text, strlen(text), &tcf, &err), CDP_OK, "%s", err.message);
    cr_expect_eq(tcf.vendor_consents.count, 5 + 1 + 11);
    cr_expect(cdp_tcf_vendor_has(&tcf.vendor_consents, 9));
    cr_expect(!cdp_tcf_vendor_has(&tcf.vendor_consents, 10));
    cr_expect_eq(tcf.created_ms, 1700000000000);
    cr_expect_str_eq(tcf.consent_language, "EN");
    cr_expect_str_eq(tcf.publisher_cc, "DE");
    cr_expect(cdp_tcf_purpose_consent(&tcf, 11) && !cdp_tcf_purpose_consent(&tcf, 12));
    cdp_tcf_clear(&tcf);
}

Test(tcf, refuses_other_versions_and_policies) {
    for (unsigned version = 0; version < 64; version++) {
        if (version == 2)
            continue;
        bits w = {0};
        core_spec s = good;
        s.version = version;
        core_head(&w, &s);
        empty_vendors(&w);
        empty_vendors(&w);
        put(&w, 12, 0);
        expect_refused(&w, "tcf: version: ");
    }
    for (unsigned policy = 0; policy < 2; policy++) {
        bits w = {0};
        core_spec s = good;
        s.policy_version = policy;
        core_head(&w, &s);
        empty_vendors(&w);
        empty_vendors(&w);
        put(&w, 12, 0);
        expect_refused(&w, "tcf: policy_version: ");
    }
}

Test(tcf, refuses_created_after_updated) {
    bits w = {0};
    core_spec s = good;
    s.created = s.updated + 1;
    core_head(&w, &s);
    empty_vendors(&w);
    empty_vendors(&w);
    put(&w, 12, 0);
    expect_refused(&w, "tcf: created: ");
}

Test(tcf, refuses_bad_language_letters) {
    bits w = {0};
    core_spec s = good;
    s.language = (26u << 6) | 1u;
    core_head(&w, &s);
    empty_vendors(&w);
    empty_vendors(&w);
    put(&w, 12, 0);
    expect_refused(&w, "tcf: consent_language: not two letters");
}

Test(tcf, refuses_bad_range_entries) {
    static const unsigned out_of_order[][2] = {{10, 12}, {5, 6}};
    static const unsigned overlapping[][2] = {{10, 12}, {12, 14}};
    static const unsigned above_max[][2] = {{10, 31}};
    static const unsigned backwards[][2] = {{10, 9}};
    static const unsigned zero[][2] = {{0, 0}};
    struct {
        const unsigned (*entries)[2];
        unsigned n;
        const char *reason;
    } cases[] = {
        {out_of_order, 2, "vendor_consents.entries[1]: starts at 5, not after"},
        {overlapping, 2, "vendor_consents.entries[1]: starts at 12, not after"},
        {above_max, 1, "vendor_consents.entries[0]: vendor id 31 is above max_vendor_id 30"},
        {backwards, 1, "range ends at 9, before its start 10"},
        {zero, 1, "vendor id 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bits w = {0};
        core_head(&w, &good);
        range_vendors(&w, 30, cases[i].n, cases[i].entries);
        empty_vendors(&w);
        put(&w, 12, 0);
        expect_refused(&w, cases[i].reason);
        /* The same fault in the legitimate-interest section. */
        bits v = {0};
        core_head(&v, &good);
        empty_vendors(&v);
        range_vendors(&v, 30, cases[i].n, cases[i].entries);
        put(&v, 12, 0);
        expect_refused(&v, "vendor_legitimate_interests");
    }
}

Test(tcf, refuses_truncated_publisher_restrictions) {
    bits w = {0};
    core_head(&w, &good);
    empty_vendors(&w);
    empty_vendors(&w);
    put(&w, 12, 3); /* three restrictions announced, one given */
    put(&w, 6, 2);
    put(&w, 2, 0);
    put(&w, 12, 1);
    put(&w, 1, 0);
    put(&w, 16, 7);
    expect_refused(&w, "tcf: publisher_restrictions[1]: truncated");
}

Test(tcf, refuses_bad_text) {
    struct {
        const char *text;
        const char *reason;
    } cases[] = {
        {"", "tcf: empty string"},
        {"CP+Xw", "not base64url: byte 0x2b at offset 2"},
        {"CPXw==", "(padding is not allowed)"},
        {"CPXw AAA", "byte 0x20"},
        {"CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA..IAA", "segment 2 is empty"},
        {"CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA.", "segment 2 is empty"},
        {".CPXx", "segment 1 is empty"},
        {"CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA.AAAA", "segment type 0 is not 1..3"},
        {"CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA.gAAA", "segment type 4 is not 1..3"},
        {"CPXx", "truncated"},
        {"BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA", "version: 1 is not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdp_tcf tcf;
        cdp_err err = {0};
        cr_expect_eq(decode_exact(cases[i].text, strlen(cases[i].text), &tcf, &err),
                     CDP_BAD_REQUEST, "%s", cases[i].text);
        cr_expect(strstr(err.message, cases[i].reason) != NULL, "%s: \"%s\" lacks \"%s\"",
                  cases[i].text, err.message, cases[i].reason);
        cdp_tcf_clear(&tcf);
    }
}

Test(tcf, refuses_oversized_input) {
    size_t len = CDP_TCF_MAX_BYTES + 1;
    char *text = malloc(len);
    memset(text, 'A', len);
    cdp_tcf tcf;
    cdp_err err = {0};
    cr_expect_eq(cdp_tcf_decode(text, len, &tcf, &err), CDP_PAYLOAD_TOO_LARGE);
    cr_expect(strstr(err.message, "longer than 65536 bytes") != NULL, "%s", err.message);
    free(text);
}

Test(tcf, largest_vendor_ids_are_bounded) {
    /* MaxVendorId 65535 as a bitfield with no bits after it: truncated, not a 8 KiB over-read. */
    bits w = {0};
    core_head(&w, &good);
    put(&w, 16, 65535);
    put(&w, 1, 0);
    expect_refused(&w, "vendor_consents.bitfield: truncated");
    /* ... and as a range covering everything: fine. */
    bits r = {0};
    core_head(&r, &good);
    static const unsigned all[][2] = {{1, 65535}};
    range_vendors(&r, 65535, 1, all);
    empty_vendors(&r);
    put(&r, 12, 0);
    char text[1024];
    encode(&r, text);
    cdp_tcf tcf;
    cdp_err err = {0};
    cr_assert_eq(cdp_tcf_decode(text, strlen(text), &tcf, &err), CDP_OK, "%s", err.message);
    cr_expect_eq(tcf.vendor_consents.count, 65535);
    cr_expect(cdp_tcf_vendor_has(&tcf.vendor_consents, 65535));
    cdp_tcf_clear(&tcf);
}

Test(tcf, map_needs_every_mapped_purpose) {
    /* Consent to 2, 3, 4 but not 7: advertising is denied; LI for 7 grants it (allowed), LI for
     * 3 does not replace consent (not allowed since TCF v2.2). */
    cdp_policy *policy = load_policy();
    cdp_tcf tcf;
    memset(&tcf, 0, sizeof tcf);
    tcf.purpose_consents = (1u << 1) | (1u << 2) | (1u << 3);
    cdp_consent_tcf_state out[CDP_CONSENT_TCF_MAPPED_MAX];
    size_t count = 0;
    cdp_consent_map_tcf(policy, &tcf, out, CDP_CONSENT_TCF_MAPPED_MAX, &count);
    cr_assert_eq(count, 3);
    for (size_t i = 0; i < count; i++)
        cr_expect_eq(out[i].state, CDP_CONSENT_STATE_DENIED, "%s", out[i].purpose);
    tcf.purpose_legitimate_interests = 1u << 6;
    cdp_consent_map_tcf(policy, &tcf, out, CDP_CONSENT_TCF_MAPPED_MAX, &count);
    cr_expect_str_eq(out[0].purpose, "advertising");
    cr_expect_eq(out[0].state, CDP_CONSENT_STATE_GRANTED);
    tcf.purpose_consents &= ~(1u << 2);
    tcf.purpose_legitimate_interests |= 1u << 2;
    cdp_consent_map_tcf(policy, &tcf, out, CDP_CONSENT_TCF_MAPPED_MAX, &count);
    cr_expect_eq(out[0].state, CDP_CONSENT_STATE_DENIED);
    cdp_policy_free(policy);
}

/* Found by fuzz_tcf (tests/fuzz/regressions/tcf/): a string refused for a bad character in a
 * later segment left the segments counted before it in *out, which the header says is cleared. */
Test(tcf, refusal_after_a_counted_segment_leaves_out_cleared) {
    const char *text = "CP99LpAP99LpAEsACBENCMEMAP_gAEPgAAYgAROkICABAAdVAAAA.IAUP______AA.I!";
    cdp_tcf tcf;
    memset(&tcf, 0xff, sizeof tcf);
    cdp_err err = {0};
    cr_assert_eq(cdp_tcf_decode(text, strlen(text), &tcf, &err), CDP_BAD_REQUEST);
    cr_expect(strstr(err.message, "not base64url") != NULL, "%s", err.message);
    cr_expect_eq(tcf.segment_count, 0);
    cr_expect_null(tcf.vendor_consents.bits);
    cr_expect_null(tcf.vendor_legitimate_interests.bits);
}
