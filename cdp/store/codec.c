/* The Avro codec of records at rest: the embedded schemas, their Parsing Canonical Form and
 * CRC-64-AVRO fingerprints, single-object framing, and a walker that checks untrusted bytes
 * against a schema before Avro C (which trusts declared lengths) reads them. */
#include "store/codec.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/embedded.h"

/* ---- schemas ---------------------------------------------------------------------------- */

static const char *const codec_schema_names[CDP_SCHEMA_COUNT] = {
    [CDP_SCHEMA_PROFILE] = "profile",           [CDP_SCHEMA_EVENT] = "event",
    [CDP_SCHEMA_CONSENT] = "consent_record",    [CDP_SCHEMA_MERGE] = "merge_record",
    [CDP_SCHEMA_AUDIT_RECORD] = "audit_record", [CDP_SCHEMA_ERASURE_RECEIPT] = "erasure_receipt",
};

/* Written once under codec_init_lock, then published by codec_ready (release/acquire), so
 * readers that saw codec_ready need no lock. A failed init publishes nothing and is retried by
 * the next caller: an allocation failure at start-up must not disable the codec for good. */
static pthread_mutex_t codec_init_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool codec_ready;
static avro_schema_t codec_schemas[CDP_SCHEMA_COUNT];
static uint64_t codec_fingerprints[CDP_SCHEMA_COUNT];

/* ---- CRC-64-AVRO ------------------------------------------------------------------------ */

#define RABIN_EMPTY UINT64_C(0xc15d213aa4d7a795)

static uint64_t rabin_table[256];
static pthread_once_t rabin_once = PTHREAD_ONCE_INIT;

static void rabin_init_table(void) {
    for (unsigned i = 0; i < 256; i++) {
        uint64_t fingerprint = i;
        for (int bit = 0; bit < 8; bit++)
            fingerprint = (fingerprint >> 1) ^ (RABIN_EMPTY & (0 - (fingerprint & 1)));
        rabin_table[i] = fingerprint;
    }
}

uint64_t cdp_codec_rabin(const uint8_t *bytes, size_t len) {
    pthread_once(&rabin_once, rabin_init_table);
    uint64_t fingerprint = RABIN_EMPTY;
    for (size_t i = 0; i < len; i++)
        fingerprint = (fingerprint >> 8) ^ rabin_table[(fingerprint ^ bytes[i]) & 0xff];
    return fingerprint;
}

/* ---- Parsing Canonical Form ------------------------------------------------------------- */

/* The spec's transformation: [PRIMITIVES] simple form, [FULLNAMES] everywhere, [STRIP] to
 * name/type/fields/symbols/items/values/size, [ORDER] in that order, [STRINGS] as UTF-8,
 * [INTEGERS] without quotes or leading zeros, [WHITESPACE] none. A named type is written in
 * full where it is defined and as its full name after that, as Avro's Java implementation does. */

#define PCF_MAX_DEPTH 64

typedef struct pcf_state {
    cdp_buf *out;
    char **names; /* full names defined so far (cdp_malloc'd) */
    size_t name_count;
    size_t name_cap;
    cdp_err *err;
} pcf_state;

static const char *const pcf_primitives[] = {"null",  "boolean", "int",   "long",
                                             "float", "double",  "bytes", "string"};

static bool pcf_is_primitive(const char *name) {
    for (size_t i = 0; i < sizeof pcf_primitives / sizeof pcf_primitives[0]; i++)
        if (strcmp(name, pcf_primitives[i]) == 0)
            return true;
    return false;
}

/* A name per the spec: [A-Za-z_][A-Za-z0-9_]*; dotted when `dotted` (a full name or a
 * namespace), each component a name. */
static bool pcf_valid_name(const char *name, bool dotted) {
    bool at_start = true;
    if (*name == '\0')
        return false;
    for (const char *c = name; *c != '\0'; c++) {
        bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_';
        bool digit = *c >= '0' && *c <= '9';
        if (*c == '.' && dotted && !at_start) {
            at_start = true;
            continue;
        }
        if (!(alpha || (digit && !at_start)))
            return false;
        at_start = false;
    }
    return !at_start;
}

static cdp_status pcf_nomem(pcf_state *state) {
    cdp_err_set(state->err, CDP_NOMEM, "canonical form: out of memory");
    return CDP_NOMEM;
}

/* An invalid schema: records the reason; pcf_fail() evaluates to CDP_BAD_REQUEST (a macro, so
 * that static analysis sees the status, which it cannot through a variadic call). */
__attribute__((format(printf, 2, 3))) static void pcf_report(pcf_state *state, const char *format,
                                                             ...) {
    char reason[CDP_ERR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(reason, sizeof reason, format, args);
    va_end(args);
    cdp_err_set(state->err, CDP_BAD_REQUEST, "canonical form: %s", reason);
}
#define pcf_fail(state, ...) (pcf_report((state), __VA_ARGS__), CDP_BAD_REQUEST)

static cdp_status pcf_raw(pcf_state *state, const char *text) {
    if (cdp_buf_append(state->out, text, strlen(text)) != CDP_OK)
        return pcf_nomem(state);
    return CDP_OK;
}

/* A JSON string literal. Only names, symbols and type keywords are written, all checked against
 * [A-Za-z0-9_.] first, so nothing needs escaping ([STRINGS] holds trivially). */
static cdp_status pcf_string(pcf_state *state, const char *text, size_t len) {
    if (cdp_buf_reserve(state->out, len + 2) != CDP_OK)
        return pcf_nomem(state);
    cdp_buf_append(state->out, "\"", 1);
    cdp_buf_append(state->out, text, len);
    cdp_buf_append(state->out, "\"", 1);
    return CDP_OK;
}

static bool pcf_defined(const pcf_state *state, const char *fullname) {
    for (size_t i = 0; i < state->name_count; i++)
        if (strcmp(state->names[i], fullname) == 0)
            return true;
    return false;
}

/* Records a newly defined full name; takes ownership of fullname. */
static cdp_status pcf_define(pcf_state *state, char *fullname) {
    if (pcf_defined(state, fullname)) {
        pcf_report(state, "type %s is defined twice", fullname);
        cdp_free(fullname);
        return CDP_BAD_REQUEST;
    }
    if (state->name_count == state->name_cap) {
        size_t cap = state->name_cap ? state->name_cap * 2 : 8;
        char **names = cdp_realloc(state->names, cap * sizeof *names);
        if (names == NULL) {
            cdp_free(fullname);
            return pcf_nomem(state);
        }
        state->names = names;
        state->name_cap = cap;
    }
    state->names[state->name_count++] = fullname;
    return CDP_OK;
}

/* Joins namespace and name ("" namespace: the name alone); caller owns the result. */
static char *pcf_join(const char *space, size_t space_len, const char *name) {
    size_t name_len = strlen(name);
    char *joined = cdp_malloc(space_len + 1 + name_len + 1);
    if (joined == NULL)
        return NULL;
    if (space_len > 0) {
        memcpy(joined, space, space_len);
        joined[space_len] = '.';
        memcpy(joined + space_len + 1, name, name_len + 1);
    } else {
        memcpy(joined, name, name_len + 1);
    }
    return joined;
}

/* A reference to a type by name: a primitive, or a named type defined earlier, looked up in
 * the enclosing namespace first, then in the null namespace (as Avro's Java Names.get). */
static cdp_status pcf_reference(pcf_state *state, const char *name, const char *space,
                                size_t space_len) {
    if (pcf_is_primitive(name))
        return pcf_string(state, name, strlen(name));
    if (!pcf_valid_name(name, true))
        return pcf_fail(state, "invalid type name \"%s\"", name);
    char *fullname = strchr(name, '.') ? cdp_strdup(name) : pcf_join(space, space_len, name);
    if (fullname == NULL)
        return pcf_nomem(state);
    cdp_status status;
    if (pcf_defined(state, fullname))
        status = pcf_string(state, fullname, strlen(fullname));
    else if (pcf_defined(state, name))
        status = pcf_string(state, name, strlen(name));
    else
        status = pcf_fail(state, "unknown type %s", fullname);
    cdp_free(fullname);
    return status;
}

static cdp_status pcf_schema(pcf_state *state, json_t *schema, const char *space, size_t space_len,
                             int depth);

/* The full name of a named type (record, enum, fixed) from its name and namespace attributes
 * and the enclosing namespace; caller owns *fullname. */
static cdp_status pcf_named(pcf_state *state, json_t *schema, const char *space, size_t space_len,
                            char **fullname) {
    json_t *name = json_object_get(schema, "name");
    json_t *own_space = json_object_get(schema, "namespace");
    *fullname = NULL;
    if (!json_is_string(name) || !pcf_valid_name(json_string_value(name), true))
        return pcf_fail(state, "a named type needs a valid \"name\"");
    const char *text = json_string_value(name);
    if (strchr(text, '.') != NULL) {
        *fullname = cdp_strdup(text);
    } else if (json_is_string(own_space)) {
        const char *own = json_string_value(own_space);
        if (*own != '\0' && !pcf_valid_name(own, true))
            return pcf_fail(state, "invalid namespace \"%s\"", own);
        *fullname = pcf_join(own, strlen(own), text);
    } else if (own_space != NULL && !json_is_null(own_space)) {
        return pcf_fail(state, "\"namespace\" of %s must be a string", text);
    } else {
        *fullname = pcf_join(space, space_len, text);
    }
    return *fullname == NULL ? pcf_nomem(state) : CDP_OK;
}

static cdp_status pcf_record_fields(pcf_state *state, json_t *schema, const char *fullname,
                                    const char *space, size_t space_len, int depth) {
    json_t *fields = json_object_get(schema, "fields");
    if (!json_is_array(fields))
        return pcf_fail(state, "record %s needs a \"fields\" array", fullname);
    cdp_status status = pcf_raw(state, ",\"fields\":[");
    for (size_t i = 0; status == CDP_OK && i < json_array_size(fields); i++) {
        json_t *field = json_array_get(fields, i);
        json_t *name = json_object_get(field, "name");
        json_t *type = json_object_get(field, "type");
        if (!json_is_string(name) || !pcf_valid_name(json_string_value(name), false) ||
            type == NULL)
            return pcf_fail(state, "%s field %zu needs a valid \"name\" and a \"type\"", fullname,
                            i);
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_object_get(json_array_get(fields, j), "name"), name))
                return pcf_fail(state, "%s has two fields named %s", fullname,
                                json_string_value(name));
        if (i > 0)
            status = pcf_raw(state, ",");
        if (status == CDP_OK)
            status = pcf_raw(state, "{\"name\":");
        if (status == CDP_OK)
            status = pcf_string(state, json_string_value(name), strlen(json_string_value(name)));
        if (status == CDP_OK)
            status = pcf_raw(state, ",\"type\":");
        if (status == CDP_OK)
            status = pcf_schema(state, type, space, space_len, depth + 1);
        if (status == CDP_OK)
            status = pcf_raw(state, "}");
    }
    return status == CDP_OK ? pcf_raw(state, "]") : status;
}

static cdp_status pcf_enum_symbols(pcf_state *state, json_t *schema, const char *fullname) {
    json_t *symbols = json_object_get(schema, "symbols");
    if (!json_is_array(symbols))
        return pcf_fail(state, "enum %s needs a \"symbols\" array", fullname);
    cdp_status status = pcf_raw(state, ",\"symbols\":[");
    for (size_t i = 0; status == CDP_OK && i < json_array_size(symbols); i++) {
        json_t *symbol = json_array_get(symbols, i);
        if (!json_is_string(symbol) || !pcf_valid_name(json_string_value(symbol), false))
            return pcf_fail(state, "enum %s symbol %zu is not a valid name", fullname, i);
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(symbols, j), symbol))
                return pcf_fail(state, "enum %s repeats symbol %s", fullname,
                                json_string_value(symbol));
        if (i > 0)
            status = pcf_raw(state, ",");
        if (status == CDP_OK)
            status =
                pcf_string(state, json_string_value(symbol), strlen(json_string_value(symbol)));
    }
    return status == CDP_OK ? pcf_raw(state, "]") : status;
}

static cdp_status pcf_fixed_size(pcf_state *state, json_t *schema, const char *fullname) {
    json_t *size = json_object_get(schema, "size");
    json_int_t value = -1;
    if (json_is_integer(size)) {
        value = json_integer_value(size);
    } else if (json_is_string(size)) { /* [INTEGERS]: "size":"016" is 16 */
        const char *digits = json_string_value(size);
        value = *digits != '\0' ? 0 : -1;
        for (; *digits != '\0' && value >= 0; digits++)
            value = (*digits >= '0' && *digits <= '9' && value < INT64_MAX / 10)
                        ? value * 10 + (*digits - '0')
                        : -1;
    }
    if (value < 0 || value > INT32_MAX)
        return pcf_fail(state, "fixed %s needs a non-negative integer \"size\"", fullname);
    char text[32];
    snprintf(text, sizeof text, ",\"size\":%" PRId64, (int64_t)value);
    return pcf_raw(state, text);
}

/* Record, enum or fixed: {"name":...,"type":...,<fields|symbols|size>}. */
static cdp_status pcf_named_type(pcf_state *state, json_t *schema, const char *type,
                                 const char *space, size_t space_len, int depth) {
    char *fullname = NULL;
    cdp_status status = pcf_named(state, schema, space, space_len, &fullname);
    if (status != CDP_OK)
        return status;
    /* Defined before its fields, so a record may refer to itself. */
    status = pcf_define(state, fullname);
    if (status != CDP_OK)
        return status;
    const char *dot = strrchr(fullname, '.');
    size_t own_space_len = dot != NULL ? (size_t)(dot - fullname) : 0;

    status = pcf_raw(state, "{\"name\":");
    if (status == CDP_OK)
        status = pcf_string(state, fullname, strlen(fullname));
    if (status == CDP_OK)
        status = pcf_raw(state, ",\"type\":");
    if (status == CDP_OK)
        status = pcf_string(state, type, strlen(type));
    if (status == CDP_OK) {
        if (strcmp(type, "enum") == 0)
            status = pcf_enum_symbols(state, schema, fullname);
        else if (strcmp(type, "fixed") == 0)
            status = pcf_fixed_size(state, schema, fullname);
        else /* the namespace of nested definitions is the record's own */
            status = pcf_record_fields(state, schema, fullname, fullname, own_space_len, depth);
    }
    return status == CDP_OK ? pcf_raw(state, "}") : status;
}

/* Array or map: {"type":"array","items":...} / {"type":"map","values":...}. */
static cdp_status pcf_container(pcf_state *state, json_t *schema, const char *type,
                                const char *space, size_t space_len, int depth) {
    const char *attribute = strcmp(type, "array") == 0 ? "items" : "values";
    json_t *child = json_object_get(schema, attribute);
    if (child == NULL)
        return pcf_fail(state, "%s needs \"%s\"", type, attribute);
    char head[48];
    snprintf(head, sizeof head, "{\"type\":\"%s\",\"%s\":", type, attribute);
    cdp_status status = pcf_raw(state, head);
    if (status == CDP_OK)
        status = pcf_schema(state, child, space, space_len, depth + 1);
    return status == CDP_OK ? pcf_raw(state, "}") : status;
}

static cdp_status pcf_schema(pcf_state *state, json_t *schema, const char *space, size_t space_len,
                             int depth) {
    if (depth > PCF_MAX_DEPTH)
        return pcf_fail(state, "schema nested deeper than %d levels", PCF_MAX_DEPTH);
    if (json_is_string(schema))
        return pcf_reference(state, json_string_value(schema), space, space_len);
    if (json_is_array(schema)) { /* a union */
        cdp_status status = pcf_raw(state, "[");
        for (size_t i = 0; status == CDP_OK && i < json_array_size(schema); i++) {
            if (i > 0)
                status = pcf_raw(state, ",");
            if (status == CDP_OK)
                status = pcf_schema(state, json_array_get(schema, i), space, space_len, depth + 1);
        }
        return status == CDP_OK ? pcf_raw(state, "]") : status;
    }
    if (!json_is_object(schema))
        return pcf_fail(state, "a schema is a string, an object or an array");
    json_t *type_node = json_object_get(schema, "type");
    if (!json_is_string(type_node))
        return pcf_fail(state, "a schema object needs a string \"type\"");
    const char *type = json_string_value(type_node);
    if (pcf_is_primitive(type)) /* [PRIMITIVES], and logicalType is stripped */
        return pcf_string(state, type, strlen(type));
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0 || strcmp(type, "enum") == 0 ||
        strcmp(type, "fixed") == 0)
        return pcf_named_type(state, schema, type, space, space_len, depth);
    if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0)
        return pcf_container(state, schema, type, space, space_len, depth);
    /* {"type":"cdp.Name"}: a reference to a named type. */
    return pcf_reference(state, type, space, space_len);
}

cdp_status cdp_codec_canonical_form(const char *schema_json, cdp_buf *out, cdp_err *err) {
    if (schema_json == NULL || out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "canonical form: NULL argument");
    json_error_t json_error;
    json_t *schema = json_loads(schema_json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &json_error);
    if (schema == NULL)
        return cdp_err_set(err, CDP_INVALID_JSON, "canonical form: line %d column %d: %s",
                           json_error.line, json_error.column, json_error.text);
    pcf_state state = {.out = out, .err = err};
    size_t original_len = out->len;
    cdp_status status = pcf_schema(&state, schema, "", 0, 0);
    if (status != CDP_OK)
        out->len = original_len;
    for (size_t i = 0; i < state.name_count; i++)
        cdp_free(state.names[i]);
    cdp_free(state.names);
    json_decref(schema);
    return status;
}

/* ---- initialisation --------------------------------------------------------------------- */

static const char *embedded_schema_json(const char *name) {
    for (size_t i = 0; i < cdp_embedded_schema_count; i++)
        if (strcmp(cdp_embedded_schemas[i].name, name) == 0)
            return cdp_embedded_schemas[i].json;
    return NULL;
}

static cdp_status codec_load(avro_schema_t *schemas, uint64_t *fingerprints, cdp_err *err) {
    cdp_buf canonical = {0};
    cdp_status status = CDP_OK;
    for (int id = 0; id < CDP_SCHEMA_COUNT; id++) {
        const char *name = codec_schema_names[id];
        const char *json = embedded_schema_json(name);
        if (json == NULL) {
            status = cdp_err_set(err, CDP_INTERNAL, "codec: schema %s.avsc is not embedded", name);
            goto done;
        }
        cdp_buf_reset(&canonical);
        status = cdp_codec_canonical_form(json, &canonical, err);
        if (status != CDP_OK) {
            if (status != CDP_NOMEM)
                status = CDP_INTERNAL;
            if (err != NULL)
                err->status = status;
            cdp_err_prefix(err, "codec: schema %s", name);
            goto done;
        }
        fingerprints[id] = cdp_codec_rabin(canonical.data, canonical.len);
        for (int other = 0; other < id; other++)
            if (fingerprints[other] == fingerprints[id]) {
                status = cdp_err_set(err, CDP_INTERNAL,
                                     "codec: schemas %s and %s have the same fingerprint",
                                     codec_schema_names[other], name);
                goto done;
            }
        if (avro_schema_from_json_length(json, strlen(json), &schemas[id]) != 0) {
            schemas[id] = NULL;
            status = cdp_err_set(err, CDP_INTERNAL, "codec: schema %s: %s", name, avro_strerror());
            goto done;
        }
    }
done:
    cdp_buf_free(&canonical);
    return status;
}

cdp_status cdp_codec_init(cdp_err *err) {
    if (atomic_load_explicit(&codec_ready, memory_order_acquire))
        return CDP_OK;
    cdp_status status = CDP_OK;
    pthread_mutex_lock(&codec_init_lock);
    if (!atomic_load_explicit(&codec_ready, memory_order_relaxed)) {
        /* Nothing reads the tables before codec_ready is set, so they are filled in place. */
        status = codec_load(codec_schemas, codec_fingerprints, err);
        if (status == CDP_OK) {
            atomic_store_explicit(&codec_ready, true, memory_order_release);
        } else {
            for (int id = 0; id < CDP_SCHEMA_COUNT; id++) {
                if (codec_schemas[id] != NULL)
                    avro_schema_decref(codec_schemas[id]);
                codec_schemas[id] = NULL;
            }
        }
    }
    pthread_mutex_unlock(&codec_init_lock);
    return status;
}

static bool codec_valid_id(cdp_schema_id id) { return (unsigned)id < CDP_SCHEMA_COUNT; }

avro_schema_t cdp_codec_schema(cdp_schema_id id) {
    if (!codec_valid_id(id) || cdp_codec_init(NULL) != CDP_OK)
        return NULL;
    return codec_schemas[id];
}

const char *cdp_codec_schema_name(cdp_schema_id id) {
    return codec_valid_id(id) ? codec_schema_names[id] : NULL;
}

uint64_t cdp_codec_fingerprint(cdp_schema_id id) {
    if (!codec_valid_id(id) || cdp_codec_init(NULL) != CDP_OK)
        return 0;
    return codec_fingerprints[id];
}

/* ---- validation ------------------------------------------------------------------------- */

#define VALIDATE_MAX_DEPTH 64
/* Items that take no bytes (null, empty records) are not bounded by the bytes left. */
#define VALIDATE_MAX_EMPTY_ITEMS (INT64_C(1) << 20)
#define VARINT_MAX_BYTES 10

typedef struct path_segment {
    const char *name; /* a field name, or NULL for an array index / map entry */
    int64_t index;
    char open; /* '[' for an array item, '{' for a map entry */
} path_segment;

typedef struct validator {
    const uint8_t *start;
    const uint8_t *cursor;
    const uint8_t *end;
    const char *root;
    int depth;
    size_t path_len;
    path_segment path[VALIDATE_MAX_DEPTH * 2 + 2];
    cdp_err *err;
} validator;

/* Records why the datum is corrupt; validator_fail() evaluates to CDP_CORRUPT (a macro, so that
 * static analysis sees the status). The message names the field path and the offset, never the
 * datum's bytes: they may be personal data. */
__attribute__((format(printf, 2, 3))) static void validator_report(validator *v, const char *format,
                                                                   ...) {
    if (v->err == NULL)
        return; /* the message would be dropped: skip formatting it */
    char path[512];
    char reason[384];
    int used = snprintf(path, sizeof path, "%s", v->root);
    for (size_t i = 0; i < v->path_len && used >= 0 && (size_t)used < sizeof path; i++) {
        const path_segment *segment = &v->path[i];
        if (segment->name != NULL)
            used += snprintf(path + used, sizeof path - (size_t)used, ".%s", segment->name);
        else
            used += snprintf(path + used, sizeof path - (size_t)used, "%c%" PRId64 "%c",
                             segment->open, segment->index, segment->open == '[' ? ']' : '}');
    }
    va_list args;
    va_start(args, format);
    vsnprintf(reason, sizeof reason, format, args);
    va_end(args);
    cdp_err_set(v->err, CDP_CORRUPT, "%s (datum offset %zu): %s", path,
                (size_t)(v->cursor - v->start), reason);
}
#define validator_fail(v, ...) (validator_report((v), __VA_ARGS__), CDP_CORRUPT)

static size_t validator_left(const validator *v) { return (size_t)(v->end - v->cursor); }

static void validator_push(validator *v, const char *name, int64_t index, char open) {
    v->path[v->path_len++] = (path_segment){.name = name, .index = index, .open = open};
}

static cdp_status validator_varint(validator *v, const char *what, int64_t *out) {
    uint64_t value = 0;
    for (int i = 0;; i++) {
        if (v->cursor == v->end)
            return validator_fail(v, "%s: truncated varint", what);
        uint8_t byte = *v->cursor;
        /* The tenth byte holds bit 63 only; more is overflow or an eleventh byte. */
        if (i == VARINT_MAX_BYTES - 1 && byte > 1)
            return validator_fail(v, "%s: varint %s", what,
                                  (byte & 0x80) ? "longer than 10 bytes" : "overflows 64 bits");
        v->cursor++;
        value |= (uint64_t)(byte & 0x7f) << (7 * i);
        if ((byte & 0x80) == 0)
            break;
    }
    *out = (int64_t)((value >> 1) ^ (0 - (value & 1)));
    return CDP_OK;
}

static cdp_status validator_skip(validator *v, const char *what, int64_t count) {
    if (count < 0)
        return validator_fail(v, "%s: negative length %" PRId64, what, count);
    if ((uint64_t)count > validator_left(v))
        return validator_fail(v, "%s: length %" PRId64 " exceeds the %zu bytes left", what, count,
                              validator_left(v));
    v->cursor += count;
    return CDP_OK;
}

static cdp_status validator_length_prefixed(validator *v, const char *what) {
    int64_t length;
    cdp_status status = validator_varint(v, what, &length);
    return status != CDP_OK ? status : validator_skip(v, what, length);
}

static avro_schema_t resolve_link(avro_schema_t schema) {
    return is_avro_link(schema) ? avro_schema_link_target(schema) : schema;
}

/* Whether an item of this schema can take zero bytes (null, zero-size fixed, a record of such
 * fields), so that a block count is not bounded by the bytes left. Conservative: answers true
 * when the nesting is too deep to tell. */
static bool schema_can_be_empty(avro_schema_t schema, int depth) {
    if (depth > VALIDATE_MAX_DEPTH)
        return true;
    schema = resolve_link(schema);
    switch (avro_typeof(schema)) {
    case AVRO_NULL:
        return true;
    case AVRO_FIXED:
        return avro_schema_fixed_size(schema) == 0;
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(schema); i++)
            if (!schema_can_be_empty(avro_schema_record_field_get_by_index(schema, (int)i),
                                     depth + 1))
                return false;
        return true;
    default:
        return false;
    }
}

static cdp_status validate_value(validator *v, avro_schema_t schema);

/* Arrays and maps: blocks of items ended by a zero count; a negative count is followed by the
 * block's size in bytes, which must match what its items take. */
static cdp_status validate_blocks(validator *v, avro_schema_t item_schema, bool is_map) {
    const char *what = is_map ? "map block" : "array block";
    bool items_can_be_empty = !is_map && schema_can_be_empty(item_schema, v->depth);
    int64_t total = 0;
    for (;;) {
        int64_t count, block_bytes = -1;
        cdp_status status = validator_varint(v, what, &count);
        if (status != CDP_OK)
            return status;
        if (count == 0)
            return CDP_OK;
        if (count < 0) {
            if (count == INT64_MIN)
                return validator_fail(v, "%s: count out of range", what);
            count = -count;
            status = validator_varint(v, what, &block_bytes);
            if (status != CDP_OK)
                return status;
            if (block_bytes < 0 || (uint64_t)block_bytes > validator_left(v))
                return validator_fail(v, "%s: size %" PRId64 " outside the %zu bytes left", what,
                                      block_bytes, validator_left(v));
        }
        if (items_can_be_empty ? count > VALIDATE_MAX_EMPTY_ITEMS - total
                               : (uint64_t)count > validator_left(v))
            return validator_fail(v, "%s: count %" PRId64 " is impossible with %zu bytes left",
                                  what, count, validator_left(v));
        const uint8_t *block_start = v->cursor;
        for (int64_t i = 0; i < count; i++) {
            validator_push(v, NULL, total + i, is_map ? '{' : '[');
            if (is_map) {
                status = validator_length_prefixed(v, "map key");
                if (status == CDP_OK)
                    status = validate_value(v, item_schema);
            } else {
                status = validate_value(v, item_schema);
            }
            v->path_len--;
            if (status != CDP_OK)
                return status;
        }
        if (block_bytes >= 0 && v->cursor - block_start != block_bytes)
            return validator_fail(v, "%s: declared size %" PRId64 " but items took %td bytes", what,
                                  block_bytes, v->cursor - block_start);
        total += count;
    }
}

static cdp_status validate_record(validator *v, avro_schema_t schema) {
    size_t field_count = avro_schema_record_size(schema);
    for (size_t i = 0; i < field_count; i++) {
        validator_push(v, avro_schema_record_field_name(schema, (int)i), 0, 0);
        cdp_status status =
            validate_value(v, avro_schema_record_field_get_by_index(schema, (int)i));
        v->path_len--;
        if (status != CDP_OK)
            return status;
    }
    return CDP_OK;
}

static cdp_status validate_complex(validator *v, avro_schema_t schema) {
    int64_t index;
    cdp_status status;
    switch (avro_typeof(schema)) {
    case AVRO_RECORD:
        return validate_record(v, schema);
    case AVRO_ARRAY:
        return validate_blocks(v, avro_schema_array_items(schema), false);
    case AVRO_MAP:
        return validate_blocks(v, avro_schema_map_values(schema), true);
    case AVRO_UNION:
        status = validator_varint(v, "union branch", &index);
        if (status != CDP_OK)
            return status;
        if (index < 0 || (uint64_t)index >= avro_schema_union_size(schema))
            return validator_fail(v, "union branch %" PRId64 " out of range (%zu branches)", index,
                                  avro_schema_union_size(schema));
        return validate_value(v, avro_schema_union_branch(schema, (int)index));
    default:
        return validator_fail(v, "unsupported schema type %d", (int)avro_typeof(schema));
    }
}

static cdp_status validate_value(validator *v, avro_schema_t schema) {
    int64_t number;
    cdp_status status;
    schema = resolve_link(schema);
    switch (avro_typeof(schema)) {
    case AVRO_NULL:
        return CDP_OK;
    case AVRO_BOOLEAN:
        if (v->cursor == v->end)
            return validator_fail(v, "boolean: truncated");
        if (*v->cursor > 1)
            return validator_fail(v, "boolean: byte %u is neither 0 nor 1", *v->cursor);
        v->cursor++;
        return CDP_OK;
    case AVRO_INT32:
        status = validator_varint(v, "int", &number);
        if (status == CDP_OK && (number < INT32_MIN || number > INT32_MAX))
            return validator_fail(v, "int: %" PRId64 " out of range", number);
        return status;
    case AVRO_INT64:
        return validator_varint(v, "long", &number);
    case AVRO_FLOAT:
        return validator_skip(v, "float", 4);
    case AVRO_DOUBLE:
        return validator_skip(v, "double", 8);
    case AVRO_STRING:
        return validator_length_prefixed(v, "string");
    case AVRO_BYTES:
        return validator_length_prefixed(v, "bytes");
    case AVRO_FIXED:
        return validator_skip(v, "fixed", avro_schema_fixed_size(schema));
    case AVRO_ENUM:
        status = validator_varint(v, "enum", &number);
        if (status == CDP_OK &&
            (number < 0 || number >= avro_schema_enum_number_of_symbols(schema)))
            return validator_fail(v, "enum: symbol %" PRId64 " out of range (%d symbols)", number,
                                  avro_schema_enum_number_of_symbols(schema));
        return status;
    default:
        break;
    }
    if (v->depth >= VALIDATE_MAX_DEPTH)
        return validator_fail(v, "nested deeper than %d levels", VALIDATE_MAX_DEPTH);
    v->depth++;
    status = validate_complex(v, schema);
    v->depth--;
    return status;
}

cdp_status cdp_codec_validate(avro_schema_t schema, const uint8_t *datum, size_t len, size_t *used,
                              cdp_err *err) {
    if (schema == NULL || (datum == NULL && len > 0))
        return cdp_err_set(err, CDP_MISUSE, "codec validate: NULL argument");
    static const uint8_t nothing[1];
    if (datum == NULL) /* len is 0: keep the pointer arithmetic defined */
        datum = nothing;
    validator v = {.start = datum, .cursor = datum, .end = datum + len, .err = err};
    avro_schema_t root = resolve_link(schema);
    v.root = is_avro_named_type(root) ? avro_schema_name(root) : avro_schema_type_name(root);
    if (v.root == NULL)
        v.root = "datum";
    cdp_status status = validate_value(&v, schema);
    if (status == CDP_OK && used != NULL)
        *used = (size_t)(v.cursor - v.start);
    return status;
}

/* ---- single-object encoding ------------------------------------------------------------- */

static const uint8_t single_object_magic[2] = {0xc3, 0x01};

/* Values must come from the schema's own class, or one of an equal schema. */
static bool value_has_schema(avro_value_t *value, avro_schema_t schema) {
    avro_schema_t value_schema = avro_value_get_schema(value);
    return value_schema == schema ||
           (value_schema != NULL && avro_schema_equal(value_schema, schema));
}

cdp_status cdp_codec_encode(cdp_schema_id id, avro_value_t *value, cdp_buf *out, cdp_err *err) {
    cdp_status status = cdp_codec_init(err);
    if (status != CDP_OK)
        return status;
    if (!codec_valid_id(id) || value == NULL || value->iface == NULL || out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "codec encode: bad schema id or NULL argument");
    const char *name = codec_schema_names[id];
    if (!value_has_schema(value, codec_schemas[id]))
        return cdp_err_set(err, CDP_MISUSE, "codec encode: value is not a %s", name);

    size_t size = 0;
    if (avro_value_sizeof(value, &size) != 0)
        return cdp_err_set(err, CDP_MISUSE, "codec encode: %s: %s", name, avro_strerror());
    if (size > INT64_MAX - CDP_SINGLE_OBJECT_HEADER_BYTES ||
        cdp_buf_reserve(out, CDP_SINGLE_OBJECT_HEADER_BYTES + size) != CDP_OK)
        return cdp_err_set(err, CDP_NOMEM, "codec encode: %s: no memory for %zu bytes", name, size);

    uint8_t *header = out->data + out->len;
    memcpy(header, single_object_magic, sizeof single_object_magic);
    uint64_t fingerprint = codec_fingerprints[id];
    for (int i = 0; i < 8; i++)
        header[2 + i] = (uint8_t)(fingerprint >> (8 * i));

    char *datum = (char *)header + CDP_SINGLE_OBJECT_HEADER_BYTES;
    avro_writer_t writer = avro_writer_memory(datum, (int64_t)size);
    if (writer == NULL)
        return cdp_err_set(err, CDP_NOMEM, "codec encode: %s: no memory for a writer", name);
    if (avro_value_write(writer, value) != 0)
        status = cdp_err_set(err, CDP_MISUSE, "codec encode: %s: %s", name, avro_strerror());
    else if (avro_writer_tell(writer) != (int64_t)size)
        status =
            cdp_err_set(err, CDP_INTERNAL, "codec encode: %s: wrote %" PRId64 " bytes, sized %zu",
                        name, avro_writer_tell(writer), size);
    avro_writer_free(writer);
    if (status == CDP_OK)
        out->len += CDP_SINGLE_OBJECT_HEADER_BYTES + size;
    return status;
}

static cdp_status codec_check_header(cdp_schema_id id, const uint8_t *bytes, size_t len,
                                     cdp_err *err) {
    const char *name = codec_schema_names[id];
    if (len < CDP_SINGLE_OBJECT_HEADER_BYTES)
        return cdp_err_set(err, CDP_CORRUPT, "%s: %zu bytes, shorter than the single-object header",
                           name, len);
    if (memcmp(bytes, single_object_magic, sizeof single_object_magic) != 0)
        return cdp_err_set(err, CDP_CORRUPT,
                           "%s: bad single-object marker 0x%02x 0x%02x (want 0xc3 0x01)", name,
                           bytes[0], bytes[1]);
    uint64_t fingerprint = 0;
    for (int i = 7; i >= 0; i--)
        fingerprint = fingerprint << 8 | bytes[2 + i];
    if (fingerprint == codec_fingerprints[id])
        return CDP_OK;
    for (int other = 0; other < CDP_SCHEMA_COUNT; other++)
        if (codec_fingerprints[other] == fingerprint)
            return cdp_err_set(err, CDP_CORRUPT,
                               "%s: schema fingerprint %016" PRIx64 " is that of %s, not %s", name,
                               fingerprint, codec_schema_names[other], name);
    return cdp_err_set(err, CDP_CORRUPT, "%s: unknown schema fingerprint %016" PRIx64, name,
                       fingerprint);
}

cdp_status cdp_codec_decode(cdp_schema_id id, const uint8_t *bytes, size_t len, avro_value_t *value,
                            cdp_err *err) {
    cdp_status status = cdp_codec_init(err);
    if (status != CDP_OK)
        return status;
    if (!codec_valid_id(id) || (bytes == NULL && len > 0) || value == NULL || value->iface == NULL)
        return cdp_err_set(err, CDP_MISUSE, "codec decode: bad schema id or NULL argument");
    const char *name = codec_schema_names[id];
    if (!value_has_schema(value, codec_schemas[id]))
        return cdp_err_set(err, CDP_MISUSE, "codec decode: value is not a %s", name);
    if (len > INT64_MAX)
        return cdp_err_set(err, CDP_CORRUPT, "%s: %zu bytes is too long", name, len);

    status = codec_check_header(id, bytes, len, err);
    if (status != CDP_OK)
        return status;
    const uint8_t *datum = bytes + CDP_SINGLE_OBJECT_HEADER_BYTES;
    size_t datum_len = len - CDP_SINGLE_OBJECT_HEADER_BYTES;
    size_t used = 0;
    status = cdp_codec_validate(codec_schemas[id], datum, datum_len, &used, err);
    if (status != CDP_OK)
        return status;
    if (used != datum_len)
        return cdp_err_set(err, CDP_CORRUPT, "%s: %zu trailing bytes after the %zu-byte datum",
                           name, datum_len - used, used);

    avro_reader_t reader = avro_reader_memory((const char *)datum, (int64_t)datum_len);
    if (reader == NULL)
        return cdp_err_set(err, CDP_NOMEM, "codec decode: %s: no memory for a reader", name);
    int rval = avro_value_read(reader, value);
    if (rval != 0)
        status = cdp_err_set(err, rval == ENOMEM ? CDP_NOMEM : CDP_CORRUPT, "%s: %s", name,
                             avro_strerror());
    avro_reader_free(reader);
    return status;
}
