/* The audit export schema, item-to-JSON conversion, and the seal's canonical text. */
#include "audit/format.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/checkpoint.h"
#include "util/alloc.h"
#include "util/embedded.h"

/* %s is schemas/audit_record.avsc, inlined so that any Avro reader sees the fields by name. */
static const char export_schema_template[] =
    "{\"type\": \"record\", \"name\": \"AuditExportItem\", \"namespace\": \"cdp.export\","
    " \"doc\": \"One item of a cdp audit log export: a header, a record, a checkpoint or the "
    "end.\","
    " \"fields\": ["
    "  {\"name\": \"kind\", \"type\": {\"type\": \"enum\", \"name\": \"Kind\","
    "   \"symbols\": [\"header\", \"record\", \"checkpoint\", \"end\"]}},"
    "  {\"name\": \"header\", \"type\": [\"null\", {\"type\": \"record\", \"name\": \"Header\","
    "   \"fields\": ["
    "    {\"name\": \"format\", \"type\": \"string\"},"
    "    {\"name\": \"version\", \"type\": \"int\"},"
    "    {\"name\": \"region\", \"type\": \"string\"},"
    "    {\"name\": \"origin\", \"type\": \"string\"},"
    "    {\"name\": \"public_key\", \"type\": \"string\"},"
    "    {\"name\": \"keys\", \"type\": {\"type\": \"array\", \"items\": {\"type\": \"record\","
    "     \"name\": \"Key\", \"fields\": [{\"name\": \"epoch\", \"type\": \"int\"},"
    "     {\"name\": \"public_key\", \"type\": \"string\"},"
    "     {\"name\": \"key_id\", \"type\": \"string\"}]}}},"
    "    {\"name\": \"mode\", \"type\": \"string\"},"
    "    {\"name\": \"filter\", \"type\": {\"type\": \"record\", \"name\": \"Filter\", \"fields\": "
    "["
    "     {\"name\": \"from\", \"type\": [\"null\", \"long\"]},"
    "     {\"name\": \"to\", \"type\": [\"null\", \"long\"]},"
    "     {\"name\": \"actor_key_id\", \"type\": [\"null\", \"string\"]},"
    "     {\"name\": \"profile_id\", \"type\": [\"null\", \"string\"]},"
    "     {\"name\": \"operation\", \"type\": [\"null\", \"string\"]},"
    "     {\"name\": \"decision\", \"type\": [\"null\", \"string\"]}]}},"
    "    {\"name\": \"first_seq\", \"type\": \"long\"},"
    "    {\"name\": \"end_seq\", \"type\": \"long\"},"
    "    {\"name\": \"tree_size\", \"type\": \"long\"},"
    "    {\"name\": \"checkpoint\", \"type\": \"string\"},"
    "    {\"name\": \"start_frontier\", \"type\": {\"type\": \"array\", \"items\": \"bytes\"}},"
    "    {\"name\": \"exported_at\", \"type\": \"long\"}]}]},"
    "  {\"name\": \"record\", \"type\": [\"null\", {\"type\": \"record\", \"name\": \"Record\","
    "   \"fields\": ["
    "    {\"name\": \"seq\", \"type\": \"long\"},"
    "    {\"name\": \"leaf\", \"type\": \"bytes\"},"
    "    {\"name\": \"record\", \"type\": %s},"
    "    {\"name\": \"proof\", \"type\": {\"type\": \"array\", \"items\": \"bytes\"}}]}]},"
    "  {\"name\": \"checkpoint\", \"type\": [\"null\", {\"type\": \"record\","
    "   \"name\": \"Checkpoint\", \"fields\": ["
    "    {\"name\": \"tree_size\", \"type\": \"long\"},"
    "    {\"name\": \"time\", \"type\": \"long\"},"
    "    {\"name\": \"note\", \"type\": \"string\"},"
    "    {\"name\": \"proof\", \"type\": {\"type\": \"array\", \"items\": \"bytes\"}}]}]},"
    "  {\"name\": \"end\", \"type\": [\"null\", {\"type\": \"record\", \"name\": \"End\","
    "   \"fields\": ["
    "    {\"name\": \"records\", \"type\": \"long\"},"
    "    {\"name\": \"checkpoints\", \"type\": \"long\"},"
    "    {\"name\": \"consistency\", \"type\": {\"type\": \"array\", \"items\": \"bytes\"}},"
    "    {\"name\": \"seal\", \"type\": \"string\"}]}]}"
    " ]}";

static pthread_mutex_t schema_lock = PTHREAD_MUTEX_INITIALIZER;
static avro_schema_t export_schema;
static avro_value_iface_t *export_iface;

cdp_status audit_format_schema(avro_schema_t *schema, avro_value_iface_t **iface, cdp_err *err) {
    cdp_status status = CDP_OK;
    pthread_mutex_lock(&schema_lock);
    if (export_schema == NULL) {
        const char *record_json = NULL;
        for (size_t i = 0; i < cdp_embedded_schema_count; i++)
            if (strcmp(cdp_embedded_schemas[i].name, "audit_record") == 0)
                record_json = cdp_embedded_schemas[i].json;
        size_t cap = sizeof export_schema_template + (record_json ? strlen(record_json) : 0);
        char *json = record_json ? cdp_malloc(cap) : NULL;
        avro_schema_t parsed = NULL;
        if (json == NULL) {
            status = cdp_err_set(err, record_json ? CDP_NOMEM : CDP_INTERNAL,
                                 "audit export: no audit_record schema or no memory");
        } else {
            snprintf(json, cap, export_schema_template, record_json);
            if (avro_schema_from_json_length(json, strlen(json), &parsed) != 0)
                status = cdp_err_set(err, CDP_INTERNAL, "audit export schema: %s", avro_strerror());
            cdp_free(json);
        }
        avro_value_iface_t *made = status == CDP_OK ? avro_generic_class_from_schema(parsed) : NULL;
        if (status == CDP_OK && made == NULL)
            status = cdp_err_set(err, CDP_NOMEM, "audit export schema: %s", avro_strerror());
        if (status == CDP_OK) {
            export_schema = parsed;
            export_iface = made;
        } else if (parsed != NULL) {
            avro_schema_decref(parsed);
        }
    }
    *schema = export_schema;
    *iface = export_iface;
    pthread_mutex_unlock(&schema_lock);
    return status;
}

static json_t *value_json(avro_value_t *value, int depth);

static json_t *record_json(avro_value_t *value, int depth) {
    size_t count = 0;
    json_t *object = json_object();
    if (object == NULL || avro_value_get_size(value, &count) != 0) {
        json_decref(object);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        avro_value_t field;
        const char *name = NULL;
        json_t *member = NULL;
        if (avro_value_get_by_index(value, i, &field, &name) != 0 ||
            (member = value_json(&field, depth + 1)) == NULL ||
            json_object_set_new(object, name, member) != 0) {
            json_decref(object);
            return NULL;
        }
    }
    return object;
}

static json_t *value_json(avro_value_t *value, int depth) {
    if (depth > 8)
        return NULL;
    switch (avro_value_get_type(value)) {
    case AVRO_NULL:
        return json_null();
    case AVRO_INT32: {
        int32_t number = 0;
        return avro_value_get_int(value, &number) == 0 ? json_integer(number) : NULL;
    }
    case AVRO_INT64: {
        int64_t number = 0;
        return avro_value_get_long(value, &number) == 0 ? json_integer(number) : NULL;
    }
    case AVRO_STRING: {
        const char *text = NULL;
        size_t size = 0;
        if (avro_value_get_string(value, &text, &size) != 0 || size == 0)
            return NULL;
        return json_stringn(text, size - 1); /* size counts the NUL */
    }
    case AVRO_BYTES: {
        const void *bytes = NULL;
        size_t size = 0;
        if (avro_value_get_bytes(value, &bytes, &size) != 0 || size > CDP_AUDIT_MAX_LEAF)
            return NULL;
        size_t cap = sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL);
        char *text = cdp_malloc(cap);
        if (text == NULL)
            return NULL;
        sodium_bin2base64(text, cap, bytes, size, sodium_base64_VARIANT_ORIGINAL);
        json_t *string = json_string(text);
        cdp_free(text);
        return string;
    }
    case AVRO_ENUM: {
        int symbol = 0;
        if (avro_value_get_enum(value, &symbol) != 0)
            return NULL;
        const char *name = avro_schema_enum_get(avro_value_get_schema(value), symbol);
        return name ? json_string(name) : NULL;
    }
    case AVRO_ARRAY: {
        size_t count = 0;
        json_t *array = json_array();
        if (array == NULL || avro_value_get_size(value, &count) != 0) {
            json_decref(array);
            return NULL;
        }
        for (size_t i = 0; i < count; i++) {
            avro_value_t element;
            json_t *member = NULL;
            if (avro_value_get_by_index(value, i, &element, NULL) != 0 ||
                (member = value_json(&element, depth + 1)) == NULL ||
                json_array_append_new(array, member) != 0) {
                json_decref(array);
                return NULL;
            }
        }
        return array;
    }
    case AVRO_UNION: {
        avro_value_t branch;
        if (avro_value_get_current_branch(value, &branch) != 0)
            return NULL;
        return value_json(&branch, depth + 1);
    }
    case AVRO_RECORD:
        return record_json(value, depth);
    default:
        return NULL;
    }
}

json_t *audit_format_item_json(avro_value_t *item) {
    static const char *const kinds[] = {"header", "record", "checkpoint", "end"};
    avro_value_t kind_value, branch;
    int kind = 0;
    if (avro_value_get_by_name(item, "kind", &kind_value, NULL) != 0 ||
        avro_value_get_enum(&kind_value, &kind) != 0 || kind < 0 || kind > 3 ||
        avro_value_get_by_name(item, kinds[kind], &branch, NULL) != 0)
        return NULL;
    json_t *body = value_json(&branch, 0);
    if (!json_is_object(body)) {
        json_decref(body);
        return NULL;
    }
    /* "type" first, then the branch's fields in schema order. */
    json_t *line = json_object();
    const char *key = NULL;
    json_t *member = NULL;
    int failed = line == NULL || json_object_set_new(line, "type", json_string(kinds[kind])) != 0;
    json_object_foreach(body, key, member) {
        if (!failed)
            failed = json_object_set(line, key, member) != 0;
    }
    json_decref(body);
    if (failed) {
        json_decref(line);
        return NULL;
    }
    return line;
}

cdp_status audit_format_digest_item(crypto_hash_sha256_state *digest, json_t *line) {
    char *text = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return CDP_NOMEM;
    crypto_hash_sha256_update(digest, (const unsigned char *)text, strlen(text));
    crypto_hash_sha256_update(digest, (const unsigned char *)"\n", 1);
    free(text);
    return CDP_OK;
}

void audit_format_filter_text(audit_filter_text *out, int has_from, int64_t from_ms, int has_to,
                              int64_t to_ms, const char *actor_key_id, const char *profile_hex,
                              const char *operation, const char *decision) {
    char from[24] = "*", to[24] = "*";
    if (has_from)
        snprintf(from, sizeof from, "%" PRId64, from_ms);
    if (has_to)
        snprintf(to, sizeof to, "%" PRId64, to_ms);
    snprintf(out->text, sizeof out->text,
             "from=%s to=%s actor=%s profile=%s operation=%s decision=%s", from, to,
             actor_key_id ? actor_key_id : "*", profile_hex ? profile_hex : "*",
             operation ? operation : "*", decision ? decision : "*");
}

cdp_status audit_format_seal_text(char *out, size_t cap, const char *region, const char *mode,
                                  const char *filter_text, uint64_t first_seq, uint64_t end_seq,
                                  uint64_t tree_size, const uint8_t root[32], uint64_t records,
                                  uint64_t checkpoints, const uint8_t digest[32], cdp_err *err) {
    char root64[45], digest64[45];
    cdp_audit_base64_hash(root64, root);
    cdp_audit_base64_hash(digest64, digest);
    int written = snprintf(out, cap,
                           "%s%s\nmode %s\nfilter %s\nrange %" PRIu64 " %" PRIu64 "\ntree %" PRIu64
                           " %s\nrecords %" PRIu64 "\ncheckpoints %" PRIu64 "\ndigest %s\n",
                           CDP_AUDIT_SEAL_PREFIX, region, mode, filter_text, first_seq, end_seq,
                           tree_size, root64, records, checkpoints, digest64);
    if (written < 0 || (size_t)written >= cap)
        return cdp_err_set(err, CDP_INTERNAL, "audit export: seal text too long");
    return CDP_OK;
}
