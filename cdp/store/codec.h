/* Records at rest: Avro binary in single-object encoding — 0xC3 0x01, the 8-byte little-endian
 * CRC-64-AVRO (Rabin) fingerprint of the writer schema's Parsing Canonical Form, then the datum —
 * so stored records name their schema and can be migrated when schemas/ evolves.
 * The schemas are compiled in (cmake/embed.cmake). Decoding validates every declared length,
 * count and union branch against the bytes left before Avro C allocates anything (its own string
 * reader does not), so hostile or truncated bytes are CDP_CORRUPT, never a crash. */
#ifndef CDP_STORE_CODEC_H
#define CDP_STORE_CODEC_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#include "util/bytes.h"
#include "util/err.h"

typedef enum cdp_schema_id {
    CDP_SCHEMA_PROFILE = 0,      /* schemas/profile.avsc */
    CDP_SCHEMA_EVENT,            /* schemas/event.avsc */
    CDP_SCHEMA_CONSENT,          /* schemas/consent_record.avsc */
    CDP_SCHEMA_MERGE,            /* schemas/merge_record.avsc */
    CDP_SCHEMA_AUDIT_RECORD,     /* schemas/audit_record.avsc */
    CDP_SCHEMA_ERASURE_RECEIPT,  /* schemas/erasure_receipt.avsc */
    CDP_SCHEMA_COUNT
} cdp_schema_id;

#define CDP_SINGLE_OBJECT_HEADER_BYTES 10

/* Parses the embedded schemas and computes their fingerprints, once; thread-safe and idempotent
 * (pthread_once). Every other function calls it. */
cdp_status cdp_codec_init(cdp_err *err);

/* Borrowed for the life of the process. */
avro_schema_t cdp_codec_schema(cdp_schema_id id);
const char *cdp_codec_schema_name(cdp_schema_id id); /* "profile", "event", ... */
uint64_t cdp_codec_fingerprint(cdp_schema_id id);

/* CRC-64-AVRO (Rabin) as the Avro specification defines it. */
uint64_t cdp_codec_rabin(const uint8_t *bytes, size_t len);

/* Appends the Parsing Canonical Form of a JSON schema text to out. */
cdp_status cdp_codec_canonical_form(const char *schema_json, cdp_buf *out, cdp_err *err);

/* Appends header + Avro binary of value (an avro_value of the schema id) to out. */
cdp_status cdp_codec_encode(cdp_schema_id id, avro_value_t *value, cdp_buf *out, cdp_err *err);

/* Checks header and fingerprint (CDP_CORRUPT naming an unknown fingerprint), validates the datum
 * against the schema (cdp_codec_validate), then reads it into *value, which the caller created
 * from cdp_codec_schema(id) with avro_generic_class_from_schema/avro_generic_value_new. Trailing
 * bytes after the datum are CDP_CORRUPT too. */
cdp_status cdp_codec_decode(cdp_schema_id id, const uint8_t *bytes, size_t len,
                            avro_value_t *value, cdp_err *err);

/* Walks an Avro binary datum against a schema without allocating: every varint well-formed,
 * every string/bytes length and block count within the bytes left, every union branch and enum
 * symbol in range, fixed sizes present; *used gets the datum's length. CDP_CORRUPT with the
 * field path on the first violation. */
cdp_status cdp_codec_validate(avro_schema_t schema, const uint8_t *datum, size_t len,
                              size_t *used, cdp_err *err);

#endif
