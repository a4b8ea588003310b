/* Tests of the record codec: schema fingerprints and canonical forms, typed round trips, and
 * refusal of truncated, hostile and damaged bytes without crashes, leaks or allocation. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"
#include "store/records.h"
#include "util/alloc.h"
#include "util/embedded.h"

#define S(text) ((char *)(text))

/* ---- helpers ------------------------------------------------------------------------------ */

static void assert_same_string(const char *got, const char *want, const char *what) {
    if (want == NULL)
        cr_assert_null(got, "%s: want NULL, got \"%s\"", what, got);
    else {
        cr_assert_not_null(got, "%s: want \"%s\", got NULL", what, want);
        cr_assert_str_eq(got, want, "%s", what);
    }
}

static void assert_same_profile(const cdp_profile_record *got, const cdp_profile_record *want) {
    assert_same_string(got->profile_id, want->profile_id, "profile_id");
    assert_same_string(got->region, want->region, "region");
    cr_assert_eq(got->created_at, want->created_at);
    cr_assert_eq(got->updated_at, want->updated_at);
    cr_assert_eq(!!got->restricted, !!want->restricted);
    cr_assert_eq(got->identity_count, want->identity_count);
    for (size_t i = 0; i < want->identity_count; i++) {
        const cdp_identity_entry *a = &got->identities[i], *b = &want->identities[i];
        assert_same_string(a->type, b->type, "identity type");
        assert_same_string(a->value, b->value, "identity value");
        cr_assert_eq(a->added_at, b->added_at);
        assert_same_string(a->source, b->source, "identity source");
        assert_same_string(a->message_id, b->message_id, "identity message_id");
    }
    cr_assert_eq(got->trait_count, want->trait_count);
    for (size_t i = 0; i < want->trait_count; i++) {
        const cdp_trait_entry *a = &got->traits[i], *b = &want->traits[i];
        assert_same_string(a->name, b->name, "trait name");
        assert_same_string(a->value_json, b->value_json, "trait value_json");
        assert_same_string(a->source, b->source, "trait source");
        assert_same_string(a->channel, b->channel, "trait channel");
        cr_assert_eq(a->updated_at, b->updated_at);
        assert_same_string(a->category, b->category, "trait category");
    }
    cr_assert_eq(got->channel_count, want->channel_count);
    for (size_t i = 0; i < want->channel_count; i++) {
        const cdp_channel_entry *a = &got->channels[i], *b = &want->channels[i];
        assert_same_string(a->channel, b->channel, "channel");
        cr_assert_eq(a->first_seen, b->first_seen);
        cr_assert_eq(a->last_seen, b->last_seen);
        cr_assert_eq(a->event_count, b->event_count);
    }
    cr_assert_eq(got->merged_from_count, want->merged_from_count);
    for (size_t i = 0; i < want->merged_from_count; i++)
        assert_same_string(got->merged_from[i], want->merged_from[i], "merged_from");
}

static void assert_same_event(const cdp_event_record *got, const cdp_event_record *want) {
    assert_same_string(got->event_id, want->event_id, "event_id");
    assert_same_string(got->message_id, want->message_id, "message_id");
    assert_same_string(got->type, want->type, "type");
    assert_same_string(got->name, want->name, "name");
    cr_assert_eq(got->timestamp, want->timestamp);
    cr_assert_eq(got->received_at, want->received_at);
    assert_same_string(got->source, want->source, "source");
    assert_same_string(got->channel, want->channel, "channel");
    assert_same_string(got->properties_json, want->properties_json, "properties_json");
    assert_same_string(got->context_json, want->context_json, "context_json");
}

static cdp_identity_entry full_identities[] = {
    {S("email"), S("ana.müller@example.com"), 1700000000000, S("web"), S("msg-0001")},
    {S("phone"), S("+4915112345678"), -1, NULL, NULL},
    {S("user_id"), S("用户-42"), INT64_MAX, S("pos"), NULL},
};
static cdp_trait_entry full_traits[] = {
    {S("first_name"), S("\"Ana\""), S("web"), S("web"), 1700000000001, S("contact")},
    {S("address.city"), S("\"Zürich 🏔\""), NULL, NULL, INT64_MIN, NULL},
    {S("loyalty"), S("{\"tier\":\"gold\",\"points\":1200}"), S("ios"), NULL, 0, S("commercial")},
};
static cdp_channel_entry full_channels[] = {
    {S("web"), 1600000000000, 1700000000000, 42},
    {S("pos"), 0, 0, 0},
    {S("call_centre"), INT64_MIN, INT64_MAX, INT64_MAX},
};
static char *full_merged_from[] = {S("0123456789abcdef0123456789abcdef"),
                                   S("fedcba9876543210fedcba9876543210")};

static cdp_profile_record full_profile(void) {
    return (cdp_profile_record){
        .profile_id = S("5f2b7c0e9a3d4e1f8b6a2c4d0e9f1a3b"),
        .region = S("eu"),
        .created_at = 1600000000000,
        .updated_at = 1700000000123,
        .restricted = 1,
        .identities = full_identities,
        .identity_count = 3,
        .traits = full_traits,
        .trait_count = 3,
        .channels = full_channels,
        .channel_count = 3,
        .merged_from = full_merged_from,
        .merged_from_count = 2,
    };
}

static cdp_event_record full_event(void) {
    return (cdp_event_record){
        .event_id = S("00112233445566778899aabbccddeeff"),
        .message_id = S("ajs-next-1700000000000-4f2b"),
        .type = S("track"),
        .name = S("Order Completed"),
        .timestamp = 1700000000000,
        .received_at = 1700000000456,
        .source = S("web"),
        .channel = S("web"),
        .properties_json = S("{\"total\":99.5,\"currency\":\"EUR\",\"note\":\"ça va\"}"),
        .context_json = S("{\"location\":{\"country\":\"DE\"}}"),
    };
}

static cdp_buf encode_full_profile(void) {
    cdp_buf buf = {0};
    cdp_profile_record profile = full_profile();
    cdp_err err = {0};
    cr_assert_eq(cdp_profile_record_encode(&profile, &buf, &err), CDP_OK, "%s", err.message);
    return buf;
}

/* A hand-made datum, for bytes our encoder would never write. */
typedef struct datum {
    uint8_t bytes[512];
    size_t len;
} datum;

static void put_raw(datum *d, const void *bytes, size_t len) {
    cr_assert(d->len + len <= sizeof d->bytes);
    memcpy(d->bytes + d->len, bytes, len);
    d->len += len;
}

static void put_varint(datum *d, int64_t value) {
    uint64_t n = ((uint64_t)value << 1) ^ (value < 0 ? UINT64_MAX : 0);
    while (n & ~UINT64_C(0x7f)) {
        uint8_t byte = (uint8_t)((n & 0x7f) | 0x80);
        put_raw(d, &byte, 1);
        n >>= 7;
    }
    uint8_t last = (uint8_t)n;
    put_raw(d, &last, 1);
}

static void put_text(datum *d, const char *text) {
    put_varint(d, (int64_t)strlen(text));
    put_raw(d, text, strlen(text));
}

static void put_header(datum *d, uint64_t fingerprint) {
    uint8_t header[CDP_SINGLE_OBJECT_HEADER_BYTES] = {0xc3, 0x01};
    for (int i = 0; i < 8; i++)
        header[2 + i] = (uint8_t)(fingerprint >> (8 * i));
    put_raw(d, header, sizeof header);
}

/* A minimal valid event up to (not including) the name union. */
static void put_event_start(datum *d) {
    put_header(d, cdp_codec_fingerprint(CDP_SCHEMA_EVENT));
    put_text(d, "e");
    put_text(d, "m");
    put_text(d, "track");
}

/* The rest of a minimal valid event after the name union. */
static void put_event_end(datum *d) {
    put_varint(d, 1700000000000); /* timestamp */
    put_varint(d, 1700000000001); /* received_at */
    put_varint(d, 0);             /* source: null */
    put_varint(d, 0);             /* channel: null */
    put_text(d, "{}");
    put_text(d, "{}");
    put_varint(d, 0); /* traits_json: null */
    put_varint(d, 0); /* identifiers_json: null */
}

/* A minimal valid profile up to (not including) the identities array. */
static void put_profile_start(datum *d) {
    put_header(d, cdp_codec_fingerprint(CDP_SCHEMA_PROFILE));
    put_text(d, "p");
    put_text(d, "eu");
    put_varint(d, 1);
    put_varint(d, 2);
    uint8_t restricted = 0;
    put_raw(d, &restricted, 1);
}

static cdp_status decode_event_datum(const datum *d, cdp_err *err) {
    cdp_event_record event;
    cdp_status status = cdp_event_record_decode(d->bytes, d->len, &event, err);
    cdp_event_record_clear(&event);
    return status;
}

static cdp_status decode_profile_datum(const datum *d, cdp_err *err) {
    cdp_profile_record profile;
    cdp_status status = cdp_profile_record_decode(d->bytes, d->len, &profile, err);
    cdp_profile_record_clear(&profile);
    return status;
}

/* Counts Avro C's allocations, to prove that hostile lengths are refused before any. */
static size_t avro_allocations;

static void *counting_allocator(void *user_data, void *pointer, size_t old_size, size_t new_size) {
    (void)user_data;
    (void)old_size;
    if (new_size == 0) {
        free(pointer);
        return NULL;
    }
    avro_allocations++;
    return realloc(pointer, new_size);
}

/* Decodes the datum into a generic value with Avro C's and cdp's allocators both watched:
 * returns the status; *allocations gets how many Avro allocations the decode made. */
static cdp_status decode_generic_counting(cdp_schema_id id, const datum *d, size_t *allocations,
                                          cdp_err *err) {
    avro_value_iface_t *class = avro_generic_class_from_schema(cdp_codec_schema(id));
    avro_value_t value;
    cr_assert_not_null(class);
    cr_assert_eq(avro_generic_value_new(class, &value), 0);
    struct avro_allocator_state saved = AVRO_CURRENT_ALLOCATOR;
    avro_set_allocator(counting_allocator, NULL);
    avro_allocations = 0;
    cdp_alloc_fail_after(0);
    cdp_status status = cdp_codec_decode(id, d->bytes, d->len, &value, err);
    cdp_alloc_fail_reset();
    avro_set_allocator(saved.alloc, saved.user_data);
    *allocations = avro_allocations;
    avro_value_decref(&value);
    avro_value_iface_decref(class);
    return status;
}

/* ---- schemas, canonical form, fingerprints ----------------------------------------------- */

Test(codec, every_embedded_schema_parses_with_a_distinct_fingerprint) {
    cdp_err err = {0};
    cr_assert_eq(cdp_codec_init(&err), CDP_OK, "%s", err.message);
    for (int id = 0; id < CDP_SCHEMA_COUNT; id++) {
        const char *name = cdp_codec_schema_name((cdp_schema_id)id);
        cr_assert_not_null(name);
        avro_schema_t schema = cdp_codec_schema((cdp_schema_id)id);
        cr_assert_not_null(schema, "%s", name);
        cr_assert(is_avro_record(schema), "%s is a record", name);
        cr_assert_str_eq(avro_schema_namespace(schema), "cdp", "%s namespace", name);
        uint64_t fingerprint = cdp_codec_fingerprint((cdp_schema_id)id);
        cr_assert_neq(fingerprint, 0, "%s", name);
        for (int other = 0; other < id; other++)
            cr_assert_neq(fingerprint, cdp_codec_fingerprint((cdp_schema_id)other), "%s vs %s",
                          name, cdp_codec_schema_name((cdp_schema_id)other));
    }
    cr_assert_null(cdp_codec_schema(CDP_SCHEMA_COUNT));
    cr_assert_null(cdp_codec_schema_name(CDP_SCHEMA_COUNT));
    cr_assert_eq(cdp_codec_fingerprint(CDP_SCHEMA_COUNT), 0);
    cr_assert_eq(cdp_codec_init(&err), CDP_OK, "init is idempotent");
}

Test(codec, fingerprints_are_the_rabin_of_the_canonical_form_and_stable) {
    for (int id = 0; id < CDP_SCHEMA_COUNT; id++) {
        const char *name = cdp_codec_schema_name((cdp_schema_id)id);
        const char *json = NULL;
        for (size_t i = 0; i < cdp_embedded_schema_count; i++)
            if (strcmp(cdp_embedded_schemas[i].name, name) == 0)
                json = cdp_embedded_schemas[i].json;
        cr_assert_not_null(json, "%s embedded", name);
        cdp_buf canonical = {0};
        cdp_err err = {0};
        cr_assert_eq(cdp_codec_canonical_form(json, &canonical, &err), CDP_OK, "%s", err.message);
        uint64_t fingerprint = cdp_codec_rabin(canonical.data, canonical.len);
        cr_assert_eq(fingerprint, cdp_codec_fingerprint((cdp_schema_id)id), "%s", name);
        cr_assert_eq(fingerprint, cdp_codec_fingerprint((cdp_schema_id)id), "stable");
        /* Avro C reads the canonical form as the same schema. */
        char *text = strndup((const char *)canonical.data, canonical.len);
        avro_schema_t reparsed = NULL;
        cr_assert_eq(avro_schema_from_json_length(text, strlen(text), &reparsed), 0, "%s: %s", name,
                     avro_strerror());
        cr_assert(avro_schema_equal(reparsed, cdp_codec_schema((cdp_schema_id)id)), "%s", name);
        avro_schema_decref(reparsed);
        free(text);
        cdp_buf_free(&canonical);
    }
}

/* Changing a schema changes its fingerprint, and records stored under the old one then need a
 * migration step (LIBRARIES.md: Avro C cannot resolve reader defaults). Update these pins only
 * together with that migration. */
Test(codec, schema_fingerprints_are_pinned) {
    static const struct {
        cdp_schema_id id;
        uint64_t fingerprint;
    } pins[] = {
        {CDP_SCHEMA_PROFILE, UINT64_C(0x2650b2104da36194)},
        {CDP_SCHEMA_EVENT, UINT64_C(0x8025330e0106e215)},
        {CDP_SCHEMA_CONSENT, UINT64_C(0x04ebdd29771cee6d)},
        {CDP_SCHEMA_MERGE, UINT64_C(0xb37be67a929c1131)},
        {CDP_SCHEMA_AUDIT_RECORD, UINT64_C(0xb52f1ec75d06f9be)},
        {CDP_SCHEMA_ERASURE_RECEIPT, UINT64_C(0x883960f828aa1a23)},
    };
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++)
        cr_expect_eq(cdp_codec_fingerprint(pins[i].id), pins[i].fingerprint,
                     "%s: fingerprint %016" PRIx64 ", pinned %016" PRIx64,
                     cdp_codec_schema_name(pins[i].id), cdp_codec_fingerprint(pins[i].id),
                     pins[i].fingerprint);
}

Test(codec, rabin_matches_the_avro_spec_constants) {
    cr_assert_eq(cdp_codec_rabin(NULL, 0), UINT64_C(0xc15d213aa4d7a795), "EMPTY");
    cr_assert_eq(cdp_codec_rabin((const uint8_t *)"\"int\"", 5), UINT64_C(0x7275d51a3f395c8f));
}

/* The test vectors of Apache Avro's share/test/data/schema-tests.txt (canonical forms and
 * 64-bit Rabin fingerprints, the latter printed there as signed decimals). */
Test(codec, canonical_form_and_fingerprint_match_the_avro_test_vectors) {
    static const struct {
        const char *input;
        const char *canonical;
        int64_t fingerprint; /* 0: none given */
    } vectors[] = {
        {"\"null\"", "\"null\"", INT64_C(7195948357588979594)},
        {"{\"type\":\"null\"}", "\"null\"", 0},
        {"\"boolean\"", "\"boolean\"", INT64_C(-6970731678124411036)},
        {"{\"type\":\"boolean\"}", "\"boolean\"", 0},
        {"\"int\"", "\"int\"", INT64_C(8247732601305521295)},
        {"{\"type\":\"int\"}", "\"int\"", 0},
        {"\"long\"", "\"long\"", INT64_C(-3434872931120570953)},
        {"{\"type\":\"long\"}", "\"long\"", 0},
        {"\"float\"", "\"float\"", INT64_C(5583340709985441680)},
        {"{\"type\":\"float\"}", "\"float\"", 0},
        {"\"double\"", "\"double\"", INT64_C(-8181574048448539266)},
        {"{\"type\":\"double\"}", "\"double\"", 0},
        {"\"bytes\"", "\"bytes\"", INT64_C(5746618253357095269)},
        {"{\"type\":\"bytes\"}", "\"bytes\"", 0},
        {"\"string\"", "\"string\"", INT64_C(-8142146995180207161)},
        {"{\"type\":\"string\"}", "\"string\"", 0},
        {"[  ]", "[]", INT64_C(-1241056759729112623)},
        {"[ \"int\"  ]", "[\"int\"]", INT64_C(-5232228896498058493)},
        {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]",
         INT64_C(5392556393470105090)},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(-4824392279771201922)},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
         "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(5916914534497305771)},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
         "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(-4616218487480524110)},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"Useful info\"}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(-4824392279771201922)},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"aliases\":[\"foo\",\"bar\"]}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(-4824392279771201922)},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"foo\", "
         "\"aliases\":[\"foo\",\"bar\"]}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", INT64_C(-4824392279771201922)},
        {"{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], \"type\":\"record\", "
         "\"name\":\"foo\"}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"}]"
         "}",
         INT64_C(7843277075252814651)},
        {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", "
         "\"default\":\"true\"},\n"
         "            "
         "{\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\",\"type\":\"int\"}],\n"
         "  \"type\":\"record\", \"name\":\"foo\"\n}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"},"
         "{"
         "\"name\":\"f2\",\"type\":\"int\"}]}",
         INT64_C(-4860222112080293046)},
        {"{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
         "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}",
         INT64_C(-6342190197741309591)},
        {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo bar\", "
         "\"symbols\":[\"A1\", \"A2\"]}",
         "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
         INT64_C(-4448647247586288245)},
        {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
         "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}", INT64_C(1756455273707447556)},
        {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo bar\", "
         "\"size\":32}",
         "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}", INT64_C(-3064184465700546786)},
        {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
         "{\"type\":\"array\",\"items\":\"null\"}", INT64_C(-589620603366471059)},
        {"{ \"values\":\"string\", \"type\":\"map\"}", "{\"type\":\"map\",\"values\":\"string\"}",
         INT64_C(-8732877298790414990)},
        {"  {\"name\":\"PigValue\",\"type\":\"record\",\n"
         "   \"fields\":[{\"name\":\"value\", \"type\":[\"null\", \"int\", \"long\", "
         "\"PigValue\"]}]}",
         "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":["
         "\"null\",\"int\",\"long\",\"PigValue\"]}]}",
         INT64_C(-1759257747318642341)},
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        cdp_buf canonical = {0};
        cdp_err err = {0};
        cr_assert_eq(cdp_codec_canonical_form(vectors[i].input, &canonical, &err), CDP_OK,
                     "vector %03zu: %s", i, err.message);
        cr_assert_eq(canonical.len, strlen(vectors[i].canonical), "vector %03zu: %.*s", i,
                     (int)canonical.len, (const char *)canonical.data);
        cr_assert(memcmp(canonical.data, vectors[i].canonical, canonical.len) == 0,
                  "vector %03zu: %.*s", i, (int)canonical.len, (const char *)canonical.data);
        if (vectors[i].fingerprint != 0)
            cr_assert_eq(cdp_codec_rabin(canonical.data, canonical.len),
                         (uint64_t)vectors[i].fingerprint, "vector %03zu fingerprint", i);
        cdp_buf_free(&canonical);
    }
}

Test(codec, canonical_form_ignores_docs_defaults_aliases_order_and_logical_types) {
    const char *plain =
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"cdp\",\"fields\":["
        "{\"name\":\"at\",\"type\":\"long\"},"
        "{\"name\":\"note\",\"type\":[\"null\",\"string\"]},"
        "{\"name\":\"items\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\","
        "\"name\":\"Item\",\"fields\":[{\"name\":\"k\",\"type\":{\"type\":\"enum\",\"name\":\"K\","
        "\"symbols\":[\"a\",\"b\"]}}]}}},"
        "{\"name\":\"again\",\"type\":{\"type\":\"map\",\"values\":\"Item\"}}]}";
    const char *decorated =
        "{\n  \"doc\": \"A record.\", \"namespace\": \"cdp\", \"aliases\": [\"Old\"],\n"
        "  \"fields\": [\n"
        "    {\"type\": {\"type\": \"long\", \"logicalType\": \"timestamp-millis\"}, \"name\": "
        "\"at\", \"doc\": \"when\", \"order\": \"descending\"},\n"
        "    {\"default\": null, \"name\": \"note\", \"type\": [\"null\", {\"type\": \"string\"}], "
        "\"doc\": \"maybe\"},\n"
        "    {\"name\": \"items\", \"default\": [], \"type\": {\"items\": {\"fields\": [{\"name\": "
        "\"k\", \"type\": {\"symbols\": [\"a\", \"b\"], \"type\": \"enum\", \"name\": \"cdp.K\", "
        "\"doc\": \"k\", "
        "\"default\": \"a\"}}], \"name\": \"Item\", \"type\": \"record\", \"doc\": \"item\"}, "
        "\"type\": \"array\"}},\n"
        "    {\"name\": \"again\", \"type\": {\"values\": \"cdp.Item\", \"type\": \"map\"}}\n"
        "  ],\n  \"type\": \"record\", \"name\": \"R\"\n}";
    cdp_buf a = {0}, b = {0};
    cdp_err err = {0};
    cr_assert_eq(cdp_codec_canonical_form(plain, &a, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_codec_canonical_form(decorated, &b, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(a.len, b.len, "%.*s\n%.*s", (int)a.len, (char *)a.data, (int)b.len,
                 (char *)b.data);
    cr_assert(memcmp(a.data, b.data, a.len) == 0);
    const char *want =
        "{\"name\":\"cdp.R\",\"type\":\"record\",\"fields\":[{\"name\":\"at\",\"type\":\"long\"},"
        "{\"name\":\"note\",\"type\":[\"null\",\"string\"]},{\"name\":\"items\",\"type\":{"
        "\"type\":\"array\",\"items\":{\"name\":\"cdp.Item\",\"type\":\"record\",\"fields\":[{"
        "\"name\":\"k\",\"type\":{\"name\":\"cdp.K\",\"type\":\"enum\",\"symbols\":[\"a\",\"b\"]"
        "}}]}}},{\"name\":\"again\",\"type\":{\"type\":\"map\",\"values\":\"cdp.Item\"}}]}";
    cr_assert_eq(a.len, strlen(want), "%.*s", (int)a.len, (char *)a.data);
    cr_assert(memcmp(a.data, want, a.len) == 0, "%.*s", (int)a.len, (char *)a.data);
    cdp_buf_free(&a);
    cdp_buf_free(&b);
}

Test(codec, canonical_form_appends_and_leaves_the_buffer_alone_on_error) {
    cdp_buf out = {0};
    cdp_err err = {0};
    cr_assert_eq(cdp_buf_append(&out, "x", 1), CDP_OK);
    cr_assert_eq(cdp_codec_canonical_form("\"int\"", &out, &err), CDP_OK);
    cr_assert_eq(out.len, 6);
    cr_assert(memcmp(out.data, "x\"int\"", 6) == 0);
    cr_assert_eq(cdp_codec_canonical_form("{\"type\":\"array\",\"items\":\"Nope\"}", &out, &err),
                 CDP_BAD_REQUEST);
    cr_assert_eq(out.len, 6);
    cdp_buf_free(&out);
}

Test(codec, canonical_form_refuses_invalid_schemas) {
    static const struct {
        const char *schema;
        cdp_status status;
        const char *message_part;
    } cases[] = {
        {"{\"type\":", CDP_INVALID_JSON, "line"},
        {"\"Unknown\"", CDP_BAD_REQUEST, "unknown type Unknown"},
        {"{\"type\":\"record\",\"fields\":[]}", CDP_BAD_REQUEST, "name"},
        {"{\"type\":\"record\",\"name\":\"R\"}", CDP_BAD_REQUEST, "fields"},
        {"{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}", CDP_BAD_REQUEST, "name"},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
         "{\"name\":\"a\",\"type\":\"int\"}]}",
         CDP_BAD_REQUEST, "two fields named a"},
        {"[{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"a\"]},"
         "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"b\"]}]",
         CDP_BAD_REQUEST, "defined twice"},
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"a\",\"a\"]}", CDP_BAD_REQUEST,
         "repeats symbol a"},
        {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", CDP_BAD_REQUEST, "size"},
        {"{\"type\":\"map\"}", CDP_BAD_REQUEST, "values"},
        {"{\"type\":7}", CDP_BAD_REQUEST, "string \"type\""},
        {"42", CDP_BAD_REQUEST, "a schema is"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdp_buf out = {0};
        cdp_err err = {0};
        cr_assert_eq(cdp_codec_canonical_form(cases[i].schema, &out, &err), cases[i].status,
                     "case %zu: %s", i, err.message);
        cr_assert(strstr(err.message, cases[i].message_part) != NULL, "case %zu: %s", i,
                  err.message);
        cr_assert_eq(out.len, 0);
        cdp_buf_free(&out);
    }
    /* Deep nesting is refused, not recursed into without bound. */
    char deep[4096] = "";
    for (int i = 0; i < 100; i++)
        strcat(deep, "{\"type\":\"array\",\"items\":");
    strcat(deep, "\"int\"");
    for (int i = 0; i < 100; i++)
        strcat(deep, "}");
    cdp_buf out = {0};
    cdp_err err = {0};
    cr_assert_eq(cdp_codec_canonical_form(deep, &out, &err), CDP_BAD_REQUEST);
    cr_assert(strstr(err.message, "deeper") != NULL, "%s", err.message);
    cdp_buf_free(&out);
}

Test(codec, codec_init_recovers_after_an_allocation_failure) {
    cdp_err err = {0};
    cdp_alloc_fail_after(0);
    cr_assert_eq(cdp_codec_init(&err), CDP_NOMEM, "%s", err.message);
    cdp_alloc_fail_reset();
    cr_assert_eq(cdp_codec_init(&err), CDP_OK, "%s", err.message);
    cr_assert_not_null(cdp_codec_schema(CDP_SCHEMA_PROFILE));
}

/* ---- typed round trips ------------------------------------------------------------------- */

Test(codec, profile_round_trips_with_every_field) {
    cdp_profile_record want = full_profile();
    cdp_buf buf = encode_full_profile();
    cr_assert_geq(buf.len, CDP_SINGLE_OBJECT_HEADER_BYTES);
    cr_assert_eq(buf.data[0], 0xc3);
    cr_assert_eq(buf.data[1], 0x01);
    uint64_t fingerprint = 0;
    for (int i = 7; i >= 0; i--)
        fingerprint = fingerprint << 8 | buf.data[2 + i];
    cr_assert_eq(fingerprint, cdp_codec_fingerprint(CDP_SCHEMA_PROFILE), "little-endian");

    cdp_profile_record got;
    cdp_err err = {0};
    cr_assert_eq(cdp_profile_record_decode(buf.data, buf.len, &got, &err), CDP_OK, "%s",
                 err.message);
    assert_same_profile(&got, &want);
    cdp_profile_record_clear(&got);
    cr_assert_null(got.profile_id);
    cr_assert_eq(got.identity_count, 0);
    cdp_buf_free(&buf);
}

Test(codec, empty_profile_round_trips_with_null_optionals_and_empty_arrays) {
    cdp_profile_record want = {.profile_id = S(""), .region = S("us")};
    cdp_identity_entry identity = {S("anonymous_id"), S(""), 0, NULL, NULL};
    cdp_buf buf = {0};
    cdp_err err = {0};
    cdp_profile_record got;
    cr_assert_eq(cdp_profile_record_encode(&want, &buf, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_profile_record_decode(buf.data, buf.len, &got, &err), CDP_OK, "%s",
                 err.message);
    assert_same_profile(&got, &want);
    cr_assert_null(got.identities);
    cr_assert_null(got.merged_from);
    cdp_profile_record_clear(&got);

    want.identities = &identity;
    want.identity_count = 1;
    cdp_buf_reset(&buf);
    cr_assert_eq(cdp_profile_record_encode(&want, &buf, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_profile_record_decode(buf.data, buf.len, &got, &err), CDP_OK, "%s",
                 err.message);
    assert_same_profile(&got, &want);
    cdp_profile_record_clear(&got);
    cdp_buf_free(&buf);
}

Test(codec, event_round_trips_with_and_without_optionals) {
    cdp_event_record want = full_event();
    cdp_buf buf = {0};
    cdp_err err = {0};
    cdp_event_record got;
    cr_assert_eq(cdp_event_record_encode(&want, &buf, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_event_record_decode(buf.data, buf.len, &got, &err), CDP_OK, "%s", err.message);
    assert_same_event(&got, &want);
    cdp_event_record_clear(&got);

    want.name = NULL;
    want.source = NULL;
    want.channel = NULL;
    want.timestamp = INT64_MIN;
    want.received_at = -1;
    want.properties_json = S("{}");
    cdp_buf_reset(&buf);
    cr_assert_eq(cdp_event_record_encode(&want, &buf, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(cdp_event_record_decode(buf.data, buf.len, &got, &err), CDP_OK, "%s", err.message);
    assert_same_event(&got, &want);
    cdp_event_record_clear(&got);
    cdp_buf_free(&buf);
}

Test(codec, encode_appends_to_what_the_buffer_holds) {
    cdp_event_record event = full_event();
    cdp_buf buf = {0};
    cdp_err err = {0};
    cr_assert_eq(cdp_buf_append(&buf, "prefix", 6), CDP_OK);
    cr_assert_eq(cdp_event_record_encode(&event, &buf, &err), CDP_OK, "%s", err.message);
    cr_assert(memcmp(buf.data, "prefix", 6) == 0);
    cdp_event_record got;
    cr_assert_eq(cdp_event_record_decode(buf.data + 6, buf.len - 6, &got, &err), CDP_OK, "%s",
                 err.message);
    assert_same_event(&got, &event);
    cdp_event_record_clear(&got);
    cdp_buf_free(&buf);
}

Test(codec, generic_records_round_trip_through_the_codec) {
    /* consent_record: an enum and a nested record. */
    avro_value_iface_t *class =
        avro_generic_class_from_schema(cdp_codec_schema(CDP_SCHEMA_CONSENT));
    avro_value_t value, field, proof, branch;
    cdp_buf buf = {0};
    cdp_err err = {0};
    cr_assert_eq(avro_generic_value_new(class, &value), 0);
    cr_assert_eq(avro_value_get_by_name(&value, "profile_id", &field, NULL), 0);
    cr_assert_eq(avro_value_set_string(&field, "5f2b7c0e9a3d4e1f8b6a2c4d0e9f1a3b"), 0);
    cr_assert_eq(avro_value_get_by_name(&value, "purpose", &field, NULL), 0);
    cr_assert_eq(avro_value_set_string(&field, "advertising"), 0);
    cr_assert_eq(avro_value_get_by_name(&value, "state", &field, NULL), 0);
    cr_assert_eq(avro_value_set_enum(&field, 2), 0);
    cr_assert_eq(avro_value_get_by_name(&value, "time", &field, NULL), 0);
    cr_assert_eq(avro_value_set_long(&field, 1700000000000), 0);
    cr_assert_eq(avro_value_get_by_name(&value, "source", &field, NULL), 0);
    cr_assert_eq(avro_value_set_string(&field, "web_banner"), 0);
    cr_assert_eq(avro_value_get_by_name(&value, "notice_version", &field, NULL), 0);
    cr_assert_eq(avro_value_set_branch(&field, 0, &branch), 0);
    cr_assert_eq(avro_value_get_by_name(&value, "proof", &proof, NULL), 0);
    cr_assert_eq(avro_value_get_by_name(&proof, "tcf", &field, NULL), 0);
    cr_assert_eq(avro_value_set_branch(&field, 1, &branch), 0);
    cr_assert_eq(avro_value_set_string(&branch, "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"), 0);
    cr_assert_eq(avro_value_get_by_name(&proof, "gpc", &field, NULL), 0);
    cr_assert_eq(avro_value_set_boolean(&field, 1), 0);
    cr_assert_eq(avro_value_get_by_name(&proof, "request_id", &field, NULL), 0);
    cr_assert_eq(avro_value_set_branch(&field, 0, &branch), 0);
    cr_assert_eq(avro_value_get_by_name(&value, "basis", &field, NULL), 0);
    cr_assert_eq(avro_value_set_branch(&field, 0, &branch), 0);
    cr_assert_eq(cdp_codec_encode(CDP_SCHEMA_CONSENT, &value, &buf, &err), CDP_OK, "%s",
                 err.message);

    avro_value_t decoded;
    cr_assert_eq(avro_generic_value_new(class, &decoded), 0);
    cr_assert_eq(cdp_codec_decode(CDP_SCHEMA_CONSENT, buf.data, buf.len, &decoded, &err), CDP_OK,
                 "%s", err.message);
    cr_assert(avro_value_equal(&value, &decoded));

    /* The enum symbol is checked against the schema: 3 is out of range. */
    size_t state_offset = CDP_SINGLE_OBJECT_HEADER_BYTES + 1 + 32 + 1 + 11;
    cr_assert_eq(buf.data[state_offset], 4, "zig-zag 2 where the enum is");
    buf.data[state_offset] = 6;
    cr_assert_eq(cdp_codec_decode(CDP_SCHEMA_CONSENT, buf.data, buf.len, &decoded, &err),
                 CDP_CORRUPT);
    cr_assert(strstr(err.message, "ConsentRecord.state") != NULL, "%s", err.message);
    cr_assert(strstr(err.message, "out of range") != NULL, "%s", err.message);

    /* A union left without a branch is misuse, and nothing is appended. */
    avro_value_t unset;
    size_t before = buf.len;
    cr_assert_eq(avro_generic_value_new(class, &unset), 0);
    cr_assert_eq(cdp_codec_encode(CDP_SCHEMA_CONSENT, &unset, &buf, &err), CDP_MISUSE);
    cr_assert(strstr(err.message, "no selected branch") != NULL, "%s", err.message);
    cr_assert_eq(buf.len, before);
    avro_value_decref(&unset);

    /* A value of another schema is misuse, not corruption. */
    buf.data[state_offset] = 4;
    cr_assert_eq(cdp_codec_encode(CDP_SCHEMA_EVENT, &value, &buf, &err), CDP_MISUSE);
    cr_assert_eq(cdp_codec_decode(CDP_SCHEMA_EVENT, buf.data, buf.len, &decoded, &err), CDP_MISUSE);

    avro_value_decref(&decoded);
    avro_value_decref(&value);
    avro_value_iface_decref(class);
    cdp_buf_free(&buf);
}

Test(codec, erasure_receipt_map_round_trips_and_hostile_map_counts_are_corrupt) {
    avro_value_iface_t *class =
        avro_generic_class_from_schema(cdp_codec_schema(CDP_SCHEMA_ERASURE_RECEIPT));
    avro_value_t value, field, entry;
    cdp_buf buf = {0};
    cdp_err err = {0};
    cr_assert_eq(avro_generic_value_new(class, &value), 0);
    const char *strings[][2] = {{"request_id", "dsr-1"}, {"region", "eu"}, {"profile_id", "p"}};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(avro_value_get_by_name(&value, strings[i][0], &field, NULL), 0);
        cr_assert_eq(avro_value_set_string(&field, strings[i][1]), 0);
    }
    cr_assert_eq(avro_value_get_by_name(&value, "time", &field, NULL), 0);
    cr_assert_eq(avro_value_set_long(&field, 1700000000000), 0);
    cr_assert_eq(avro_value_get_by_name(&value, "counts", &field, NULL), 0);
    cr_assert_eq(avro_value_add(&field, "events", &entry, NULL, NULL), 0);
    cr_assert_eq(avro_value_set_long(&entry, 120), 0);
    cr_assert_eq(avro_value_add(&field, "profiles", &entry, NULL, NULL), 0);
    cr_assert_eq(avro_value_set_long(&entry, 1), 0);
    cr_assert_eq(avro_value_get_by_name(&value, "suppressed_identifier_hashes", &field, NULL), 0);
    cr_assert_eq(avro_value_append(&field, &entry, NULL), 0);
    cr_assert_eq(avro_value_set_string(&entry, "9f86d081884c7d65"), 0);
    cr_assert_eq(avro_value_get_by_name(&value, "audit_seq", &field, NULL), 0);
    cr_assert_eq(avro_value_set_long(&field, 77), 0);
    cr_assert_eq(cdp_codec_encode(CDP_SCHEMA_ERASURE_RECEIPT, &value, &buf, &err), CDP_OK, "%s",
                 err.message);
    avro_value_t decoded;
    cr_assert_eq(avro_generic_value_new(class, &decoded), 0);
    cr_assert_eq(cdp_codec_decode(CDP_SCHEMA_ERASURE_RECEIPT, buf.data, buf.len, &decoded, &err),
                 CDP_OK, "%s", err.message);
    cr_assert(avro_value_equal(&value, &decoded));
    avro_value_decref(&decoded);
    avro_value_decref(&value);

    /* counts with a block count of 2^40. */
    datum d = {0};
    put_header(&d, cdp_codec_fingerprint(CDP_SCHEMA_ERASURE_RECEIPT));
    put_text(&d, "dsr-1");
    put_varint(&d, 1);
    put_text(&d, "eu");
    put_text(&d, "p");
    put_varint(&d, INT64_C(1) << 40);
    put_text(&d, "events");
    put_varint(&d, 1);
    size_t allocations = 0;
    cr_assert_eq(decode_generic_counting(CDP_SCHEMA_ERASURE_RECEIPT, &d, &allocations, &err),
                 CDP_CORRUPT);
    cr_assert(strstr(err.message, "ErasureReceipt.counts") != NULL, "%s", err.message);
    cr_assert_eq(allocations, 0);
    avro_value_iface_decref(class);
    cdp_buf_free(&buf);
}

/* ---- refusals: header -------------------------------------------------------------------- */

Test(codec, wrong_magic_is_corrupt) {
    cdp_buf buf = encode_full_profile();
    cdp_profile_record got;
    cdp_err err = {0};
    buf.data[0] = 0xc4;
    cr_assert_eq(cdp_profile_record_decode(buf.data, buf.len, &got, &err), CDP_CORRUPT);
    cr_assert(strstr(err.message, "marker") != NULL, "%s", err.message);
    buf.data[0] = 0xc3;
    buf.data[1] = 0x02;
    cr_assert_eq(cdp_profile_record_decode(buf.data, buf.len, &got, &err), CDP_CORRUPT);
    cr_assert_null(got.profile_id);
    cdp_buf_free(&buf);
}

Test(codec, unknown_fingerprint_is_corrupt) {
    cdp_buf buf = encode_full_profile();
    cdp_profile_record got;
    cdp_err err = {0};
    buf.data[9] ^= 0x5a;
    cr_assert_eq(cdp_profile_record_decode(buf.data, buf.len, &got, &err), CDP_CORRUPT);
    cr_assert(strstr(err.message, "unknown schema fingerprint") != NULL, "%s", err.message);
    cdp_buf_free(&buf);
}

Test(codec, profile_bytes_decoded_as_an_event_are_corrupt) {
    cdp_buf buf = encode_full_profile();
    cdp_event_record event;
    cdp_err err = {0};
    cr_assert_eq(cdp_event_record_decode(buf.data, buf.len, &event, &err), CDP_CORRUPT);
    cr_assert(strstr(err.message, "profile") != NULL, "%s", err.message);
    cr_assert_null(event.event_id);
    cdp_buf_free(&buf);
}

Test(codec, every_truncation_of_a_profile_is_an_error) {
    cdp_buf buf = encode_full_profile();
    for (size_t len = 0; len < buf.len; len++) {
        /* An exact-size copy, so ASan sees any read past the truncation. */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, buf.data, len);
        cdp_profile_record got;
        cdp_err err = {0};
        cr_assert_eq(cdp_profile_record_decode(copy, len, &got, &err), CDP_CORRUPT,
                     "length %zu of %zu: %s", len, buf.len, err.message);
        cr_assert_null(got.profile_id);
        free(copy);
    }
    cdp_buf_free(&buf);
}

Test(codec, trailing_bytes_are_corrupt) {
    cdp_buf buf = encode_full_profile();
    cdp_profile_record got;
    cdp_err err = {0};
    cr_assert_eq(cdp_buf_append(&buf, "\0", 1), CDP_OK);
    cr_assert_eq(cdp_profile_record_decode(buf.data, buf.len, &got, &err), CDP_CORRUPT);
    cr_assert(strstr(err.message, "1 trailing bytes") != NULL, "%s", err.message);
    cdp_buf_free(&buf);
}

/* ---- refusals: hostile datums ------------------------------------------------------------ */

Test(codec, minimal_hand_made_datums_decode) {
    datum event = {0}, profile = {0};
    cdp_err err = {0};
    put_event_start(&event);
    put_varint(&event, 0);
    put_event_end(&event);
    cr_assert_eq(decode_event_datum(&event, &err), CDP_OK, "%s", err.message);
    put_profile_start(&profile);
    for (int array = 0; array < 4; array++)
        put_varint(&profile, 0);
    put_varint(&profile, 0); /* computed_json: null */
    cr_assert_eq(decode_profile_datum(&profile, &err), CDP_OK, "%s", err.message);
}

Test(codec, string_length_of_2_pow_60_is_corrupt_before_any_allocation) {
    datum d = {0};
    cdp_err err = {0};
    size_t allocations = 1;
    put_header(&d, cdp_codec_fingerprint(CDP_SCHEMA_EVENT));
    put_varint(&d, INT64_C(1) << 60);
    put_raw(&d, "abc", 3);
    cr_assert_eq(decode_generic_counting(CDP_SCHEMA_EVENT, &d, &allocations, &err), CDP_CORRUPT);
    cr_assert_eq(allocations, 0, "Avro allocated %zu times", allocations);
    cr_assert(strstr(err.message, "Event.event_id") != NULL, "%s", err.message);
    cr_assert(strstr(err.message, "exceeds") != NULL, "%s", err.message);
    cr_assert_eq(decode_event_datum(&d, &err), CDP_CORRUPT);
}

Test(codec, negative_string_length_is_corrupt_before_any_allocation) {
    datum d = {0};
    cdp_err err = {0};
    size_t allocations = 1;
    put_event_start(&d);
    put_varint(&d, 1); /* name: string */
    put_varint(&d, -5);
    put_event_end(&d);
    cr_assert_eq(decode_generic_counting(CDP_SCHEMA_EVENT, &d, &allocations, &err), CDP_CORRUPT);
    cr_assert_eq(allocations, 0);
    cr_assert(strstr(err.message, "Event.name") != NULL, "%s", err.message);
    cr_assert(strstr(err.message, "negative length") != NULL, "%s", err.message);
}

Test(codec, block_count_of_2_pow_40_is_corrupt_before_any_allocation) {
    datum d = {0};
    cdp_err err = {0};
    size_t allocations = 1;
    put_profile_start(&d);
    put_varint(&d, INT64_C(1) << 40); /* identities */
    put_text(&d, "email");
    put_text(&d, "a@b.c");
    put_varint(&d, 0);
    cr_assert_eq(decode_generic_counting(CDP_SCHEMA_PROFILE, &d, &allocations, &err), CDP_CORRUPT);
    cr_assert_eq(allocations, 0);
    cr_assert(strstr(err.message, "Profile.identities") != NULL, "%s", err.message);
    cr_assert_eq(decode_profile_datum(&d, &err), CDP_CORRUPT);

    /* The same through the negative-count form, and INT64_MIN. */
    datum negative = {0};
    put_profile_start(&negative);
    put_varint(&negative, -(INT64_C(1) << 40));
    put_varint(&negative, 3);
    cr_assert_eq(decode_profile_datum(&negative, &err), CDP_CORRUPT);
    datum minimum = {0};
    put_profile_start(&minimum);
    put_varint(&minimum, INT64_MIN);
    put_varint(&minimum, 1);
    cr_assert_eq(decode_profile_datum(&minimum, &err), CDP_CORRUPT);
}

Test(codec, negative_block_counts_with_matching_sizes_decode) {
    datum d = {0};
    cdp_err err = {0};
    put_profile_start(&d);
    put_varint(&d, 0); /* identities */
    put_varint(&d, 0); /* traits */
    put_varint(&d, 0); /* channels */
    put_varint(&d, -2);
    put_varint(&d, 4); /* two one-byte strings, each with its length: 4 bytes */
    put_text(&d, "a");
    put_text(&d, "b");
    put_varint(&d, 1);
    put_text(&d, "c");
    put_varint(&d, 0);
    put_varint(&d, 0); /* computed_json: null */
    cdp_profile_record got;
    cr_assert_eq(cdp_profile_record_decode(d.bytes, d.len, &got, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(got.merged_from_count, 3);
    cr_assert_str_eq(got.merged_from[2], "c");
    cdp_profile_record_clear(&got);

    /* A block size that does not match its items is corrupt. */
    datum wrong = {0};
    put_profile_start(&wrong);
    put_varint(&wrong, 0);
    put_varint(&wrong, 0);
    put_varint(&wrong, 0);
    put_varint(&wrong, -1);
    put_varint(&wrong, 1);
    put_text(&wrong, "a");
    put_varint(&wrong, 0);
    cr_assert_eq(decode_profile_datum(&wrong, &err), CDP_CORRUPT);
    cr_assert(strstr(err.message, "declared size") != NULL, "%s", err.message);
}

Test(codec, union_index_7_is_corrupt) {
    datum d = {0};
    cdp_err err = {0};
    size_t allocations = 1;
    put_event_start(&d);
    put_varint(&d, 7);
    put_event_end(&d);
    cr_assert_eq(decode_generic_counting(CDP_SCHEMA_EVENT, &d, &allocations, &err), CDP_CORRUPT);
    cr_assert_eq(allocations, 0);
    cr_assert(strstr(err.message, "Event.name") != NULL, "%s", err.message);
    cr_assert(strstr(err.message, "union branch 7 out of range") != NULL, "%s", err.message);
    datum negative = {0};
    put_event_start(&negative);
    put_varint(&negative, -1);
    put_event_end(&negative);
    cr_assert_eq(decode_event_datum(&negative, &err), CDP_CORRUPT);
}

Test(codec, eleven_byte_varint_is_corrupt) {
    datum d = {0};
    cdp_err err = {0};
    put_header(&d, cdp_codec_fingerprint(CDP_SCHEMA_EVENT));
    for (int i = 0; i < 10; i++)
        put_raw(&d, "\x80", 1);
    put_raw(&d, "\x01", 1);
    put_raw(&d, "padding-padding-padding-padding", 31);
    cr_assert_eq(decode_event_datum(&d, &err), CDP_CORRUPT);
    cr_assert(strstr(err.message, "longer than 10 bytes") != NULL, "%s", err.message);

    /* Ten bytes whose last carries more than bit 63 overflow. */
    datum overflow = {0};
    put_event_start(&overflow);
    put_varint(&overflow, 0);
    for (int i = 0; i < 9; i++)
        put_raw(&overflow, "\xff", 1);
    put_raw(&overflow, "\x02", 1);
    put_event_end(&overflow);
    cr_assert_eq(decode_event_datum(&overflow, &err), CDP_CORRUPT);
    cr_assert(strstr(err.message, "overflows") != NULL, "%s", err.message);

    /* Ten bytes that fit (INT64_MIN, zig-zag 2^64-1) are fine. */
    datum fits = {0};
    put_event_start(&fits);
    put_varint(&fits, 0);
    put_varint(&fits, INT64_MIN);
    put_varint(&fits, INT64_MAX);
    put_varint(&fits, 0);
    put_varint(&fits, 0);
    put_text(&fits, "{}");
    put_text(&fits, "{}");
    put_varint(&fits, 0); /* traits_json: null */
    put_varint(&fits, 0); /* identifiers_json: null */
    cdp_event_record event;
    cr_assert_eq(cdp_event_record_decode(fits.bytes, fits.len, &event, &err), CDP_OK, "%s",
                 err.message);
    cr_assert_eq(event.timestamp, INT64_MIN);
    cr_assert_eq(event.received_at, INT64_MAX);
    cdp_event_record_clear(&event);
}

Test(codec, boolean_other_than_0_or_1_is_corrupt) {
    datum d = {0};
    cdp_err err = {0};
    put_header(&d, cdp_codec_fingerprint(CDP_SCHEMA_PROFILE));
    put_text(&d, "p");
    put_text(&d, "eu");
    put_varint(&d, 1);
    put_varint(&d, 2);
    put_raw(&d, "\x02", 1);
    for (int array = 0; array < 4; array++)
        put_varint(&d, 0);
    cr_assert_eq(decode_profile_datum(&d, &err), CDP_CORRUPT);
    cr_assert(strstr(err.message, "Profile.restricted") != NULL, "%s", err.message);
}

Test(codec, string_with_a_nul_byte_is_corrupt_in_typed_records) {
    datum d = {0};
    cdp_err err = {0};
    put_header(&d, cdp_codec_fingerprint(CDP_SCHEMA_EVENT));
    put_varint(&d, 3);
    put_raw(&d, "a\0b", 3);
    put_text(&d, "m");
    put_text(&d, "track");
    put_varint(&d, 0);
    put_event_end(&d);
    cr_assert_eq(decode_event_datum(&d, &err), CDP_CORRUPT);
    cr_assert(strstr(err.message, "event.event_id") != NULL, "%s", err.message);
    cr_assert(strstr(err.message, "NUL") != NULL, "%s", err.message);
}

Test(codec, nesting_deeper_than_64_is_corrupt) {
    const char *json = "{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                       "{\"name\":\"next\",\"type\":[\"null\",\"Node\"]}]}";
    avro_schema_t schema = NULL;
    cr_assert_eq(avro_schema_from_json_length(json, strlen(json), &schema), 0, "%s",
                 avro_strerror());
    uint8_t bytes[200];
    cdp_err err = {0};
    size_t used = 0;
    /* 20 levels: fine. */
    memset(bytes, 0x02, 20);
    bytes[20] = 0x00;
    cr_assert_eq(cdp_codec_validate(schema, bytes, 21, &used, &err), CDP_OK, "%s", err.message);
    cr_assert_eq(used, 21);
    /* 199 levels: refused at the limit, not by exhausting the stack. */
    memset(bytes, 0x02, 199);
    bytes[199] = 0x00;
    cr_assert_eq(cdp_codec_validate(schema, bytes, 200, &used, &err), CDP_CORRUPT);
    cr_assert(strstr(err.message, "deeper than 64") != NULL, "%s", err.message);
    avro_schema_decref(schema);
}

Test(codec, arrays_of_zero_byte_items_are_bounded) {
    const char *json = "{\"type\":\"array\",\"items\":\"null\"}";
    avro_schema_t schema = NULL;
    cr_assert_eq(avro_schema_from_json_length(json, strlen(json), &schema), 0);
    datum d = {0};
    cdp_err err = {0};
    size_t used = 0;
    put_varint(&d, 1000);
    put_varint(&d, 0);
    cr_assert_eq(cdp_codec_validate(schema, d.bytes, d.len, &used, &err), CDP_OK, "%s",
                 err.message);
    cr_assert_eq(used, d.len);
    datum huge = {0};
    put_varint(&huge, INT64_C(1) << 40);
    put_varint(&huge, 0);
    cr_assert_eq(cdp_codec_validate(schema, huge.bytes, huge.len, &used, &err), CDP_CORRUPT);
    /* Many small blocks add up to the same bound. */
    datum blocks = {0};
    for (int i = 0; i < 20; i++)
        put_varint(&blocks, INT64_C(1) << 16);
    put_varint(&blocks, 0);
    cr_assert_eq(cdp_codec_validate(schema, blocks.bytes, blocks.len, &used, &err), CDP_CORRUPT);
    avro_schema_decref(schema);
}

Test(codec, validate_checks_every_primitive_against_the_bytes_left) {
    static const struct {
        const char *schema;
        const char *bytes;
        size_t len;
        cdp_status status;
    } cases[] = {
        {"\"float\"", "\x00\x00\x80", 3, CDP_CORRUPT},
        {"\"float\"", "\x00\x00\x80\x3f", 4, CDP_OK},
        {"\"double\"", "\x00\x00\x00\x00\x00\x00\xf0", 7, CDP_CORRUPT},
        {"\"int\"", "\x80\x80\x80\x80\x10", 5, CDP_CORRUPT}, /* 2^31: out of int range */
        {"\"int\"", "\xfe\xff\xff\xff\x0f", 5, CDP_OK},      /* INT32_MAX */
        {"\"bytes\"", "\x06\x01\x02", 3, CDP_CORRUPT},
        {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}", "\x01\x02\x03", 3, CDP_CORRUPT},
        {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}", "\x01\x02\x03\x04", 4, CDP_OK},
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"a\",\"b\"]}", "\x04", 1, CDP_CORRUPT},
        {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"a\",\"b\"]}", "\x01", 1, CDP_CORRUPT},
        {"{\"type\":\"map\",\"values\":\"int\"}", "\x02\x02k\x02\x00", 5, CDP_OK},
        {"{\"type\":\"map\",\"values\":\"int\"}", "\x02\x09k\x02\x00", 5, CDP_CORRUPT},
        {"\"null\"", "", 0, CDP_OK},
        {"\"boolean\"", "", 0, CDP_CORRUPT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        avro_schema_t schema = NULL;
        cr_assert_eq(
            avro_schema_from_json_length(cases[i].schema, strlen(cases[i].schema), &schema), 0,
            "case %zu: %s", i, avro_strerror());
        uint8_t *copy = malloc(cases[i].len ? cases[i].len : 1);
        memcpy(copy, cases[i].bytes, cases[i].len);
        cdp_err err = {0};
        size_t used = 0;
        cr_assert_eq(cdp_codec_validate(schema, copy, cases[i].len, &used, &err), cases[i].status,
                     "case %zu: %s", i, err.message);
        if (cases[i].status == CDP_OK)
            cr_assert_eq(used, cases[i].len, "case %zu", i);
        free(copy);
        avro_schema_decref(schema);
    }
}

/* ---- refusals: damage and misuse --------------------------------------------------------- */

/* xorshift64*: a fixed seed makes any failure reproducible. */
static uint64_t next_random(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * UINT64_C(2685821657736338717);
}

Test(codec, random_byte_flips_decode_or_fail_cleanly) {
    cdp_buf original = encode_full_profile();
    uint8_t *copy = malloc(original.len);
    uint64_t seed = UINT64_C(0x5eed0f1e1dc0de);
    size_t decoded = 0, refused = 0;
    for (int round = 0; round < 4000; round++) {
        memcpy(copy, original.data, original.len);
        int flips = 1 + (int)(next_random(&seed) % 3);
        for (int f = 0; f < flips; f++) {
            /* Mostly in the datum, where the walker works; sometimes in the header. */
            size_t start = (next_random(&seed) % 8 == 0) ? 0 : CDP_SINGLE_OBJECT_HEADER_BYTES;
            size_t at = start + (size_t)(next_random(&seed) % (original.len - start));
            copy[at] ^= (uint8_t)(1 + next_random(&seed) % 255);
        }
        cdp_profile_record got;
        cdp_err err = {0};
        cdp_status status = cdp_profile_record_decode(copy, original.len, &got, &err);
        if (status == CDP_OK) {
            decoded++;
            cr_assert_not_null(got.profile_id);
        } else {
            refused++;
            cr_assert_eq(status, CDP_CORRUPT, "round %d: %s", round, err.message);
            cr_assert_null(got.profile_id);
        }
        cdp_profile_record_clear(&got);
    }
    cr_log_info("byte flips: %zu decoded, %zu refused", decoded, refused);
    cr_assert_gt(refused, 0);
    free(copy);
    cdp_buf_free(&original);
}

Test(codec, allocation_failures_in_encode_and_decode_fail_cleanly) {
    cdp_profile_record profile = full_profile();
    cdp_event_record event = full_event();
    cdp_err err = {0};
    cr_assert_eq(cdp_codec_init(&err), CDP_OK);
    cdp_buf reference = encode_full_profile();
    cdp_buf event_bytes = {0};
    cr_assert_eq(cdp_event_record_encode(&event, &event_bytes, &err), CDP_OK);

    int encode_succeeded = 0, decode_succeeded = 0;
    for (long n = 0; n < 200 && !(encode_succeeded && decode_succeeded); n++) {
        cdp_buf out = {0};
        cdp_alloc_fail_after(n);
        cdp_status status = cdp_profile_record_encode(&profile, &out, &err);
        cdp_alloc_fail_reset();
        if (status == CDP_OK) {
            encode_succeeded = 1;
            cr_assert_eq(out.len, reference.len);
            cr_assert(memcmp(out.data, reference.data, out.len) == 0);
        } else {
            cr_assert_eq(status, CDP_NOMEM, "n=%ld: %s", n, err.message);
        }
        cdp_buf_free(&out);

        cdp_profile_record got;
        cdp_alloc_fail_after(n);
        status = cdp_profile_record_decode(reference.data, reference.len, &got, &err);
        cdp_alloc_fail_reset();
        if (status == CDP_OK) {
            decode_succeeded = 1;
            assert_same_profile(&got, &profile);
        } else {
            cr_assert_eq(status, CDP_NOMEM, "n=%ld: %s", n, err.message);
            cr_assert_null(got.profile_id);
            cr_assert_null(got.identities);
        }
        cdp_profile_record_clear(&got);

        cdp_event_record got_event;
        cdp_alloc_fail_after(n);
        status = cdp_event_record_decode(event_bytes.data, event_bytes.len, &got_event, &err);
        cdp_alloc_fail_reset();
        cr_assert(status == CDP_OK || status == CDP_NOMEM, "n=%ld: %s", n, err.message);
        cdp_event_record_clear(&got_event);
    }
    cr_assert(encode_succeeded && decode_succeeded);
    cdp_buf_free(&reference);
    cdp_buf_free(&event_bytes);
}

/* Avro C's own allocations, made to fail one after another. Encode only: Avro C 1.11.1 leaks a
 * string it has read when the next allocation fails (value-read.c), which no caller can free. */
static long avro_allocations_left = -1;

static void *failing_allocator(void *user_data, void *pointer, size_t old_size, size_t new_size) {
    (void)user_data;
    (void)old_size;
    if (new_size == 0) {
        free(pointer);
        return NULL;
    }
    if (avro_allocations_left == 0)
        return NULL;
    if (avro_allocations_left > 0)
        avro_allocations_left--;
    return realloc(pointer, new_size);
}

Test(codec, avro_allocation_failures_in_encode_fail_cleanly) {
    cdp_profile_record profile = full_profile();
    cdp_event_record event = full_event();
    cdp_err err = {0};
    cr_assert_eq(cdp_codec_init(&err), CDP_OK);
    cdp_buf reference = encode_full_profile();
    struct avro_allocator_state saved = AVRO_CURRENT_ALLOCATOR;
    avro_set_allocator(failing_allocator, NULL);
    int profile_done = 0, event_done = 0;
    for (long n = 0; n < 500 && !(profile_done && event_done); n++) {
        cdp_buf out = {0};
        avro_allocations_left = n;
        cdp_status status = cdp_profile_record_encode(&profile, &out, &err);
        avro_allocations_left = -1;
        if (status == CDP_OK) {
            profile_done = 1;
            cr_assert_eq(out.len, reference.len);
            cr_assert(memcmp(out.data, reference.data, out.len) == 0);
        } else {
            cr_assert_eq(status, CDP_NOMEM, "n=%ld: %s", n, err.message);
            cr_assert_eq(out.len, 0, "n=%ld", n);
        }
        cdp_buf_reset(&out);
        avro_allocations_left = n;
        status = cdp_event_record_encode(&event, &out, &err);
        avro_allocations_left = -1;
        cr_assert(status == CDP_OK || status == CDP_NOMEM, "n=%ld: %s", n, err.message);
        event_done |= status == CDP_OK;
        cdp_buf_free(&out);
    }
    avro_set_allocator(saved.alloc, saved.user_data);
    cr_assert(profile_done && event_done);
    cdp_buf_free(&reference);
}

Test(codec, null_required_strings_are_misuse_naming_the_field) {
    cdp_profile_record profile = full_profile();
    cdp_identity_entry identities[2] = {full_identities[0], full_identities[1]};
    cdp_buf out = {0};
    cdp_err err = {0};
    profile.region = NULL;
    cr_assert_eq(cdp_profile_record_encode(&profile, &out, &err), CDP_MISUSE);
    cr_assert(strstr(err.message, "profile.region") != NULL, "%s", err.message);
    cr_assert_eq(out.len, 0, "nothing appended on error");

    profile = full_profile();
    identities[1].value = NULL;
    profile.identities = identities;
    profile.identity_count = 2;
    cr_assert_eq(cdp_profile_record_encode(&profile, &out, &err), CDP_MISUSE);
    cr_assert(strstr(err.message, "profile.identities[1].value") != NULL, "%s", err.message);

    profile = full_profile();
    profile.traits = NULL;
    cr_assert_eq(cdp_profile_record_encode(&profile, &out, &err), CDP_MISUSE);
    cr_assert(strstr(err.message, "profile.traits") != NULL, "%s", err.message);

    cdp_event_record event = full_event();
    event.context_json = NULL;
    cr_assert_eq(cdp_event_record_encode(&event, &out, &err), CDP_MISUSE);
    cr_assert(strstr(err.message, "event.context_json") != NULL, "%s", err.message);
    cr_assert_eq(out.len, 0);

    cr_assert_eq(cdp_profile_record_encode(NULL, &out, NULL), CDP_MISUSE);
    cr_assert_eq(cdp_event_record_decode(NULL, 0, NULL, NULL), CDP_MISUSE);
    cdp_buf_free(&out);
}

Test(codec, clear_accepts_zeroed_and_null_records) {
    cdp_profile_record profile = {0};
    cdp_event_record event = {0};
    cdp_profile_record_clear(&profile);
    cdp_event_record_clear(&event);
    cdp_profile_record_clear(NULL);
    cdp_event_record_clear(NULL);
}

Test(codec, errors_work_without_an_error_struct) {
    cdp_buf buf = encode_full_profile();
    cdp_profile_record got;
    buf.data[0] = 0;
    cr_assert_eq(cdp_profile_record_decode(buf.data, buf.len, &got, NULL), CDP_CORRUPT);
    buf.data[0] = 0xc3;
    cr_assert_eq(cdp_profile_record_decode(buf.data, buf.len - 1, &got, NULL), CDP_CORRUPT);
    cdp_buf_free(&buf);
}

/* Every thread races to initialise, then encodes and decodes on its own: the shared schemas and
 * classes are read-only after init, so the results agree. */
static void *round_trip_thread(void *argument) {
    (void)argument;
    cdp_profile_record want = full_profile();
    for (int i = 0; i < 300; i++) {
        cdp_buf buf = {0};
        cdp_profile_record got;
        cdp_err err = {0};
        if (cdp_profile_record_encode(&want, &buf, &err) != CDP_OK ||
            cdp_profile_record_decode(buf.data, buf.len, &got, &err) != CDP_OK) {
            cdp_buf_free(&buf);
            return (void *)1;
        }
        int same = strcmp(got.traits[1].value_json, want.traits[1].value_json) == 0 &&
                   got.channels[2].event_count == INT64_MAX;
        cdp_profile_record_clear(&got);
        cdp_buf_free(&buf);
        if (!same)
            return (void *)1;
    }
    return NULL;
}

Test(codec, threads_encode_and_decode_concurrently_from_a_cold_start) {
    pthread_t threads[6];
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, round_trip_thread, NULL), 0);
    for (size_t i = 0; i < 6; i++) {
        void *result = (void *)1;
        cr_assert_eq(pthread_join(threads[i], &result), 0);
        cr_assert_null(result, "thread %zu failed", i);
    }
}
