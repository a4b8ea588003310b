/* Writes the seed corpus of fuzz_avro: one file per record schema, in fuzz_avro's input format
 * (byte 0: schema id, byte 1: 0 = the bytes carry their own single-object header), encoded by
 * our own encoders: realistic profile and event records through cdp/store/records.h, and every
 * other schema filled field by field (each union on its last branch, one item per array and map)
 * through cdp_codec_encode. Used by tests/fuzz/make_seeds.sh:  fuzz_avro_seeds OUT_DIR */
#include <avro.h>
#include <stdio.h>
#include <string.h>

#include "store/codec.h"
#include "store/records.h"

static int fill(avro_value_t *value, int depth) {
    avro_value_t child;
    size_t count;
    switch (avro_value_get_type(value)) {
    case AVRO_STRING:
        return avro_value_set_string(value, depth % 2 ? "seed" : "0123456789abcdef");
    case AVRO_BYTES:
        return avro_value_set_bytes(value, (void *)"\x01\x02\x03", 3);
    case AVRO_INT32:
        return avro_value_set_int(value, 7);
    case AVRO_INT64:
        return avro_value_set_long(value, 1714557600000LL);
    case AVRO_FLOAT:
        return avro_value_set_float(value, 1.5f);
    case AVRO_DOUBLE:
        return avro_value_set_double(value, 2.5);
    case AVRO_BOOLEAN:
        return avro_value_set_boolean(value, 1);
    case AVRO_NULL:
        return avro_value_set_null(value);
    case AVRO_ENUM:
        return avro_value_set_enum(value, 0);
    case AVRO_FIXED: {
        avro_schema_t schema = avro_value_get_schema(value);
        size_t size = (size_t)avro_schema_fixed_size(schema);
        char bytes[64] = {0};
        return size <= sizeof bytes ? avro_value_set_fixed(value, bytes, size) : -1;
    }
    case AVRO_RECORD:
        if (avro_value_get_size(value, &count) != 0)
            return -1;
        for (size_t i = 0; i < count; i++)
            if (avro_value_get_by_index(value, i, &child, NULL) != 0 || fill(&child, depth + 1))
                return -1;
        return 0;
    case AVRO_ARRAY:
        return avro_value_append(value, &child, NULL) || fill(&child, depth + 1);
    case AVRO_MAP:
        return avro_value_add(value, "key", &child, NULL, NULL) || fill(&child, depth + 1);
    case AVRO_UNION: {
        avro_schema_t schema = avro_value_get_schema(value);
        int branch = (int)avro_schema_union_size(schema) - 1;
        return avro_value_set_branch(value, branch, &child) || fill(&child, depth + 1);
    }
    default:
        return -1;
    }
}

static int write_seed(const char *dir, const char *name, int schema, const cdp_buf *bytes) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "wb");
    if (file == NULL)
        return -1;
    uint8_t prefix[2] = {(uint8_t)schema, 0};
    int failed = fwrite(prefix, 1, 2, file) != 2 || fwrite(bytes->data, 1, bytes->len, file) != bytes->len;
    return fclose(file) != 0 || failed ? -1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_avro_seeds OUT_DIR\n");
        return 2;
    }
    cdp_err err = {0};
    cdp_buf bytes = {0};
    int failed = 0;

    cdp_identity_entry identities[2] = {
        {"email", "alice@example.com", 1714557600000LL, "web", "m1"},
        {"phone", "+4722334455", 1714557600001LL, NULL, NULL}};
    cdp_trait_entry traits[2] = {
        {"first_name", "\"Alice\"", "web", "web", 1714557600000LL, "contact"},
        {"address.city", "\"Oslo\"", NULL, NULL, 1714557600002LL, NULL}};
    cdp_channel_entry channels[1] = {{"web", 1714557600000LL, 1714557600005LL, 3}};
    char *merged[1] = {"fedcba9876543210fedcba9876543210"};
    cdp_profile_record profile = {"0123456789abcdef0123456789abcdef", "eu", 1714557600000LL,
                                  1714557600005LL, 0, identities, 2, traits, 2, channels, 1,
                                  merged, 1, "{\"orders\":3}"};
    if (cdp_profile_record_encode(&profile, &bytes, &err) != CDP_OK ||
        write_seed(argv[1], "profile", CDP_SCHEMA_PROFILE, &bytes) != 0)
        failed = fprintf(stderr, "profile: %s\n", err.message);
    cdp_buf_reset(&bytes);

    cdp_event_record event = {"00112233445566778899aabbccddeeff", "m1", "track", "Order Completed",
                              1714557600000LL, 1714557600100LL, "pos", "pos",
                              "{\"revenue\":42}", "{\"locale\":\"nb-NO\"}", NULL,
                              "[[\"user_id\",\"u1\"]]"};
    if (cdp_event_record_encode(&event, &bytes, &err) != CDP_OK ||
        write_seed(argv[1], "event", CDP_SCHEMA_EVENT, &bytes) != 0)
        failed = fprintf(stderr, "event: %s\n", err.message);
    cdp_buf_reset(&bytes);

    if (cdp_codec_init(&err) != CDP_OK) {
        fprintf(stderr, "codec: %s\n", err.message);
        return 1;
    }
    for (int id = 0; id < CDP_SCHEMA_COUNT; id++) {
        avro_value_iface_t *iface = avro_generic_class_from_schema(cdp_codec_schema(id));
        avro_value_t value;
        if (iface == NULL || avro_generic_value_new(iface, &value) != 0)
            return 1;
        char name[64];
        snprintf(name, sizeof name, "%s-filled", cdp_codec_schema_name(id));
        if (fill(&value, 0) != 0 || cdp_codec_encode(id, &value, &bytes, &err) != CDP_OK ||
            write_seed(argv[1], name, id, &bytes) != 0)
            failed = fprintf(stderr, "%s: %s\n", name, err.message);
        cdp_buf_reset(&bytes);
        avro_value_decref(&value);
        avro_value_iface_decref(iface);
    }
    cdp_buf_free(&bytes);
    return failed ? 1 : 0;
}
