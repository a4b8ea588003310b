/* Fuzzes the decoding of records at rest (cdp/store/codec.h, cdp/store/records.h) with hostile
 * and truncated bytes, for every schema. Input byte 0 picks the schema; byte 1 bit 0 set means
 * the harness writes the schema's correct single-object header in front of the rest (so the
 * fuzzer reaches the datum walker without guessing a fingerprint), else the rest is taken as is.
 * Invariants: a refusal is CDP_CORRUPT (or NOMEM) with a reason; a datum that decodes
 * re-encodes to bytes that decode to an equal value, encoding is stable, every prefix of the
 * re-encoded bytes is refused (truncation is detected), and the typed profile/event decoders
 * agree with the codec and round-trip through their encoders. */
#include <avro.h>
#include <string.h>

#include "fuzz_util.h"
#include "store/codec.h"
#include "store/records.h"

static int new_value(cdp_schema_id id, avro_value_iface_t **iface, avro_value_t *value) {
    *iface = avro_generic_class_from_schema(cdp_codec_schema(id));
    if (*iface == NULL)
        return -1;
    if (avro_generic_value_new(*iface, value) != 0) {
        avro_value_iface_decref(*iface);
        *iface = NULL;
        return -1;
    }
    return 0;
}

static void free_value(avro_value_iface_t *iface, avro_value_t *value) {
    if (iface == NULL)
        return;
    avro_value_decref(value);
    avro_value_iface_decref(iface);
}

static void check_refusal(const char *what, cdp_status status, const cdp_err *err) {
    FUZZ_CHECK(status == CDP_CORRUPT || status == CDP_NOMEM, "%s: status %d (%s)", what,
               (int)status, err->message);
    FUZZ_CHECK(err->message[0] != '\0', "%s: refusal without a reason", what);
}

static void check_profile(const uint8_t *bytes, size_t len, int codec_ok) {
    cdp_profile_record record, again;
    memset(&again, 0, sizeof again);
    cdp_err err = {0};
    cdp_status status = cdp_profile_record_decode(bytes, len, &record, &err);
    if (status != CDP_OK) {
        check_refusal("profile record", status, &err);
        /* The typed decoder may refuse more than the codec (field rules), never less. */
        return;
    }
    FUZZ_CHECK(codec_ok, "profile record decoded where the codec refused");
    cdp_buf encoded = {0};
    status = cdp_profile_record_encode(&record, &encoded, &err);
    if (status == CDP_OK) {
        status = cdp_profile_record_decode(encoded.data, encoded.len, &again, &err);
        FUZZ_CHECK(status == CDP_OK || status == CDP_NOMEM, "re-encoded profile refused: %s",
                   err.message);
        if (status == CDP_OK)
            FUZZ_CHECK(strcmp(again.profile_id, record.profile_id) == 0 &&
                           again.identity_count == record.identity_count &&
                           again.trait_count == record.trait_count &&
                           again.channel_count == record.channel_count &&
                           again.merged_from_count == record.merged_from_count &&
                           again.updated_at == record.updated_at &&
                           again.restricted == record.restricted,
                       "profile round trip differs");
    } else {
        /* The encoder may refuse what it would never write; it must say why. */
        FUZZ_CHECK(err.message[0] != '\0', "profile encode refused without a reason");
    }
    cdp_buf_free(&encoded);
    cdp_profile_record_clear(&again);
    cdp_profile_record_clear(&record);
}

static void check_event(const uint8_t *bytes, size_t len, int codec_ok) {
    cdp_event_record record, again;
    memset(&again, 0, sizeof again);
    cdp_err err = {0};
    cdp_status status = cdp_event_record_decode(bytes, len, &record, &err);
    if (status != CDP_OK) {
        check_refusal("event record", status, &err);
        return;
    }
    FUZZ_CHECK(codec_ok, "event record decoded where the codec refused");
    cdp_buf encoded = {0};
    status = cdp_event_record_encode(&record, &encoded, &err);
    if (status == CDP_OK) {
        status = cdp_event_record_decode(encoded.data, encoded.len, &again, &err);
        FUZZ_CHECK(status == CDP_OK || status == CDP_NOMEM, "re-encoded event refused: %s",
                   err.message);
        if (status == CDP_OK)
            FUZZ_CHECK(strcmp(again.event_id, record.event_id) == 0 &&
                           strcmp(again.type, record.type) == 0 &&
                           again.timestamp == record.timestamp &&
                           strcmp(again.properties_json, record.properties_json) == 0,
                       "event round trip differs");
    } else {
        FUZZ_CHECK(err.message[0] != '\0', "event encode refused without a reason");
    }
    cdp_buf_free(&encoded);
    cdp_event_record_clear(&again);
    cdp_event_record_clear(&record);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2)
        return 0;
    cdp_err err = {0};
    if (cdp_codec_init(&err) != CDP_OK)
        return 0;
    cdp_schema_id id = (cdp_schema_id)(data[0] % CDP_SCHEMA_COUNT);
    cdp_buf bytes = {0};
    if (data[1] & 1) {
        uint8_t header[CDP_SINGLE_OBJECT_HEADER_BYTES] = {0xC3, 0x01};
        uint64_t fingerprint = cdp_codec_fingerprint(id);
        for (int i = 0; i < 8; i++)
            header[2 + i] = (uint8_t)(fingerprint >> (8 * i));
        if (cdp_buf_append(&bytes, header, sizeof header) != CDP_OK)
            goto done;
    }
    if (cdp_buf_append(&bytes, data + 2, size - 2) != CDP_OK)
        goto done;

    avro_value_iface_t *iface = NULL, *iface2 = NULL;
    avro_value_t value, value2;
    if (new_value(id, &iface, &value) != 0)
        goto done;
    cdp_status status = cdp_codec_decode(id, bytes.data, bytes.len, &value, &err);
    if (status != CDP_OK) {
        check_refusal(cdp_codec_schema_name(id), status, &err);
    } else if (new_value(id, &iface2, &value2) == 0) {
        cdp_buf encoded = {0}, encoded2 = {0};
        cdp_err encode_err = {0};
        if (cdp_codec_encode(id, &value, &encoded, &encode_err) == CDP_OK) {
            cdp_status again = cdp_codec_decode(id, encoded.data, encoded.len, &value2, &err);
            FUZZ_CHECK(again == CDP_OK || again == CDP_NOMEM, "%s: re-encoded bytes refused: %s",
                       cdp_codec_schema_name(id), err.message);
            if (again == CDP_OK) {
                FUZZ_CHECK(avro_value_equal(&value, &value2), "%s: round trip changed the value",
                           cdp_codec_schema_name(id));
                if (cdp_codec_encode(id, &value2, &encoded2, &encode_err) == CDP_OK)
                    FUZZ_CHECK(encoded2.len == encoded.len &&
                                   memcmp(encoded2.data, encoded.data, encoded.len) == 0,
                               "%s: encoding is not stable", cdp_codec_schema_name(id));
            }
            /* Truncation is always detected (a few cut points: the walker is linear). */
            size_t cuts[3] = {encoded.len - 1, CDP_SINGLE_OBJECT_HEADER_BYTES + 1,
                              encoded.len / 2};
            for (int c = 0; c < 3; c++) {
                if (cuts[c] >= encoded.len)
                    continue;
                avro_value_reset(&value2);
                cdp_status cut = cdp_codec_decode(id, encoded.data, cuts[c], &value2, &err);
                FUZZ_CHECK(cut != CDP_OK, "%s: %zu of %zu bytes accepted",
                           cdp_codec_schema_name(id), cuts[c], encoded.len);
            }
        } else {
            FUZZ_CHECK(encode_err.status == CDP_NOMEM, "%s: a decoded value does not encode: %s",
                       cdp_codec_schema_name(id), encode_err.message);
        }
        cdp_buf_free(&encoded);
        cdp_buf_free(&encoded2);
        free_value(iface2, &value2);
    }
    free_value(iface, &value);
    if (id == CDP_SCHEMA_PROFILE)
        check_profile(bytes.data, bytes.len, status == CDP_OK);
    else if (id == CDP_SCHEMA_EVENT)
        check_event(bytes.data, bytes.len, status == CDP_OK);
done:
    cdp_buf_free(&bytes);
    return 0;
}
