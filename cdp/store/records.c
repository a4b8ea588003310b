/* Typed profile and event records to and from their Avro values. The field order of
 * schemas/profile.avsc and schemas/event.avsc is checked once against the tables below, so the
 * conversions address fields by index, and the two generic Avro classes are built once. */
#include "store/records.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "store/codec.h"
#include "util/alloc.h"

/* ---- schema shape ----------------------------------------------------------------------- */

enum { IDENTITY_TYPE, IDENTITY_VALUE, IDENTITY_ADDED_AT, IDENTITY_SOURCE, IDENTITY_MESSAGE_ID };
enum {
    TRAIT_NAME,
    TRAIT_VALUE_JSON,
    TRAIT_SOURCE,
    TRAIT_CHANNEL,
    TRAIT_UPDATED_AT,
    TRAIT_CATEGORY
};
enum { CHANNEL_CHANNEL, CHANNEL_FIRST_SEEN, CHANNEL_LAST_SEEN, CHANNEL_EVENT_COUNT };
enum {
    PROFILE_PROFILE_ID,
    PROFILE_REGION,
    PROFILE_CREATED_AT,
    PROFILE_UPDATED_AT,
    PROFILE_RESTRICTED,
    PROFILE_IDENTITIES,
    PROFILE_TRAITS,
    PROFILE_CHANNELS,
    PROFILE_MERGED_FROM,
    PROFILE_COMPUTED_JSON
};
enum {
    EVENT_EVENT_ID,
    EVENT_MESSAGE_ID,
    EVENT_TYPE,
    EVENT_NAME,
    EVENT_TIMESTAMP,
    EVENT_RECEIVED_AT,
    EVENT_SOURCE,
    EVENT_CHANNEL,
    EVENT_PROPERTIES_JSON,
    EVENT_CONTEXT_JSON,
    EVENT_TRAITS_JSON,
    EVENT_IDENTIFIERS_JSON
};

typedef enum field_kind {
    KIND_STRING,
    KIND_OPTIONAL_STRING, /* ["null","string"] */
    KIND_LONG,
    KIND_BOOLEAN,
    KIND_ARRAY_OF_STRING,
    KIND_ARRAY_OF_RECORD
} field_kind;

typedef struct field_spec field_spec;

typedef struct record_spec {
    const field_spec *fields;
    size_t field_count;
} record_spec;

struct field_spec {
    const char *name;
    field_kind kind;
    const record_spec *items; /* KIND_ARRAY_OF_RECORD */
};

static const field_spec identity_fields[] = {
    {"type", KIND_STRING, NULL},
    {"value", KIND_STRING, NULL},
    {"added_at", KIND_LONG, NULL},
    {"source", KIND_OPTIONAL_STRING, NULL},
    {"message_id", KIND_OPTIONAL_STRING, NULL},
};
static const field_spec trait_fields[] = {
    {"name", KIND_STRING, NULL},
    {"value_json", KIND_STRING, NULL},
    {"source", KIND_OPTIONAL_STRING, NULL},
    {"channel", KIND_OPTIONAL_STRING, NULL},
    {"updated_at", KIND_LONG, NULL},
    {"category", KIND_OPTIONAL_STRING, NULL},
};
static const field_spec channel_fields[] = {
    {"channel", KIND_STRING, NULL},
    {"first_seen", KIND_LONG, NULL},
    {"last_seen", KIND_LONG, NULL},
    {"event_count", KIND_LONG, NULL},
};
static const record_spec identity_spec = {identity_fields, 5};
static const record_spec trait_spec = {trait_fields, 6};
static const record_spec channel_spec = {channel_fields, 4};

static const field_spec profile_fields[] = {
    {"profile_id", KIND_STRING, NULL},
    {"region", KIND_STRING, NULL},
    {"created_at", KIND_LONG, NULL},
    {"updated_at", KIND_LONG, NULL},
    {"restricted", KIND_BOOLEAN, NULL},
    {"identities", KIND_ARRAY_OF_RECORD, &identity_spec},
    {"traits", KIND_ARRAY_OF_RECORD, &trait_spec},
    {"channels", KIND_ARRAY_OF_RECORD, &channel_spec},
    {"merged_from", KIND_ARRAY_OF_STRING, NULL},
    {"computed_json", KIND_OPTIONAL_STRING, NULL},
};
static const field_spec event_fields[] = {
    {"event_id", KIND_STRING, NULL},
    {"message_id", KIND_STRING, NULL},
    {"type", KIND_STRING, NULL},
    {"name", KIND_OPTIONAL_STRING, NULL},
    {"timestamp", KIND_LONG, NULL},
    {"received_at", KIND_LONG, NULL},
    {"source", KIND_OPTIONAL_STRING, NULL},
    {"channel", KIND_OPTIONAL_STRING, NULL},
    {"properties_json", KIND_STRING, NULL},
    {"context_json", KIND_STRING, NULL},
    {"traits_json", KIND_OPTIONAL_STRING, NULL},
    {"identifiers_json", KIND_OPTIONAL_STRING, NULL},
};
static const record_spec profile_spec = {profile_fields, 10};
static const record_spec event_spec = {event_fields, 12};

static avro_schema_t unlink_schema(avro_schema_t schema) {
    return is_avro_link(schema) ? avro_schema_link_target(schema) : schema;
}

static bool kind_matches(avro_schema_t schema, field_kind kind) {
    switch (kind) {
    case KIND_STRING:
        return is_avro_string(schema);
    case KIND_OPTIONAL_STRING:
        return is_avro_union(schema) && avro_schema_union_size(schema) == 2 &&
               is_avro_null(avro_schema_union_branch(schema, 0)) &&
               is_avro_string(avro_schema_union_branch(schema, 1));
    case KIND_LONG:
        return is_avro_int64(schema);
    case KIND_BOOLEAN:
        return is_avro_boolean(schema);
    case KIND_ARRAY_OF_STRING:
        return is_avro_array(schema) && is_avro_string(avro_schema_array_items(schema));
    case KIND_ARRAY_OF_RECORD:
        return is_avro_array(schema) &&
               is_avro_record(unlink_schema(avro_schema_array_items(schema)));
    }
    return false;
}

/* The struct conversions below rely on this shape: a schema edit that breaks it fails loudly
 * at start-up instead of writing fields into the wrong places. */
static cdp_status check_shape(avro_schema_t record, const record_spec *spec, const char *path,
                              cdp_err *err) {
    if (!is_avro_record(record) || avro_schema_record_size(record) != spec->field_count)
        return cdp_err_set(
            err, CDP_INTERNAL, "records: %s: schema has %zu fields, code expects %zu", path,
            is_avro_record(record) ? avro_schema_record_size(record) : 0, spec->field_count);
    for (size_t i = 0; i < spec->field_count; i++) {
        const field_spec *field = &spec->fields[i];
        avro_schema_t type = avro_schema_record_field_get_by_index(record, (int)i);
        const char *name = avro_schema_record_field_name(record, (int)i);
        if (name == NULL || strcmp(name, field->name) != 0 || !kind_matches(type, field->kind))
            return cdp_err_set(err, CDP_INTERNAL,
                               "records: %s: schema field %zu is %s, code expects %s of kind %d",
                               path, i, name ? name : "(none)", field->name, (int)field->kind);
        if (field->kind == KIND_ARRAY_OF_RECORD) {
            cdp_status status = check_shape(unlink_schema(avro_schema_array_items(type)),
                                            field->items, field->name, err);
            if (status != CDP_OK)
                return status;
        }
    }
    return CDP_OK;
}

/* ---- initialisation --------------------------------------------------------------------- */

static pthread_mutex_t records_init_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool records_ready;
static avro_value_iface_t *profile_class;
static avro_value_iface_t *event_class;

static cdp_status records_init(cdp_err *err) {
    if (atomic_load_explicit(&records_ready, memory_order_acquire))
        return CDP_OK;
    cdp_status status = cdp_codec_init(err);
    if (status != CDP_OK)
        return status;
    avro_schema_t profile_schema = cdp_codec_schema(CDP_SCHEMA_PROFILE);
    avro_schema_t event_schema = cdp_codec_schema(CDP_SCHEMA_EVENT);
    status = check_shape(profile_schema, &profile_spec, "profile", err);
    if (status == CDP_OK)
        status = check_shape(event_schema, &event_spec, "event", err);
    if (status != CDP_OK)
        return status;

    pthread_mutex_lock(&records_init_lock);
    if (!atomic_load_explicit(&records_ready, memory_order_relaxed)) {
        avro_value_iface_t *profile = avro_generic_class_from_schema(profile_schema);
        avro_value_iface_t *event = profile ? avro_generic_class_from_schema(event_schema) : NULL;
        if (profile != NULL && event != NULL) {
            profile_class = profile;
            event_class = event;
            atomic_store_explicit(&records_ready, true, memory_order_release);
        } else {
            status = cdp_err_set(err, CDP_NOMEM, "records: cannot build Avro classes: %s",
                                 avro_strerror());
            if (profile != NULL)
                avro_value_iface_decref(profile);
        }
    }
    pthread_mutex_unlock(&records_init_lock);
    return status;
}

/* ---- conversion context and errors ------------------------------------------------------ */

/* Where a conversion is, for messages like "profile.identities[3].type: ...". */
typedef struct convert_context {
    const char *record; /* "profile", "event" */
    const char *array;  /* array field being walked, or NULL */
    size_t index;
    cdp_err *err;
} convert_context;

static void convert_report(const convert_context *context, const char *field, cdp_status status,
                           const char *reason) {
    if (context->array == NULL)
        cdp_err_set(context->err, status, "%s.%s: %s", context->record, field ? field : "?",
                    reason);
    else if (field == NULL)
        cdp_err_set(context->err, status, "%s.%s[%zu]: %s", context->record, context->array,
                    context->index, reason);
    else
        cdp_err_set(context->err, status, "%s.%s[%zu].%s: %s", context->record, context->array,
                    context->index, field, reason);
}

/* Both evaluate to the status (macros, so that static analysis sees it whatever its inlining
 * depth). avro_strerror() is one process-wide buffer: cdp_err_set copies it at once. */
#define convert_fail(context, field, status, reason)                                               \
    (convert_report((context), (field), (status), (reason)), (status))
#define convert_avro_fail(context, field, rval)                                                    \
    convert_fail((context), (field), (rval) == ENOMEM ? CDP_NOMEM : CDP_INTERNAL, avro_strerror())

static cdp_status get_field(const convert_context *context, avro_value_t *record, size_t index,
                            const char *field, avro_value_t *out) {
    int rval;
    if ((rval = avro_value_get_by_index(record, index, out, NULL)) != 0)
        return convert_avro_fail(context, field, rval);
    return CDP_OK;
}

/* ---- encoding --------------------------------------------------------------------------- */

/* Lends the string to Avro without copying: the value lives only for this call. */
static cdp_status put_string_value(const convert_context *context, avro_value_t *value,
                                   const char *text, const char *field) {
    int rval;
    if (text == NULL)
        return convert_fail(context, field, CDP_MISUSE, "required string is NULL");
    avro_wrapped_buffer_t buffer;
    avro_wrapped_buffer_new(&buffer, text, strlen(text) + 1);
    if ((rval = avro_value_give_string_len(value, &buffer)) != 0)
        return convert_avro_fail(context, field, rval);
    return CDP_OK;
}

static cdp_status put_string(const convert_context *context, avro_value_t *record, size_t index,
                             const char *text, const char *field) {
    avro_value_t value;
    cdp_status status = get_field(context, record, index, field, &value);
    return status != CDP_OK ? status : put_string_value(context, &value, text, field);
}

static cdp_status put_optional_string(const convert_context *context, avro_value_t *record,
                                      size_t index, const char *text, const char *field) {
    int rval;
    avro_value_t value, branch;
    cdp_status status = get_field(context, record, index, field, &value);
    if (status != CDP_OK)
        return status;
    if ((rval = avro_value_set_branch(&value, text != NULL, &branch)) != 0)
        return convert_avro_fail(context, field, rval);
    if (text == NULL)
        return (rval = avro_value_set_null(&branch)) != 0 ? convert_avro_fail(context, field, rval)
                                                          : CDP_OK;
    return put_string_value(context, &branch, text, field);
}

static cdp_status put_long(const convert_context *context, avro_value_t *record, size_t index,
                           int64_t number, const char *field) {
    int rval;
    avro_value_t value;
    cdp_status status = get_field(context, record, index, field, &value);
    if (status == CDP_OK && (rval = avro_value_set_long(&value, number)) != 0)
        status = convert_avro_fail(context, field, rval);
    return status;
}

/* Gets the array field `index` of record, after checking that counted items exist. */
static cdp_status array_field(convert_context *context, avro_value_t *record, size_t index,
                              const char *field, const void *items, size_t count,
                              avro_value_t *array) {
    context->array = NULL;
    if (count > 0 && items == NULL)
        return convert_fail(context, field, CDP_MISUSE, "count is not 0 but the array is NULL");
    cdp_status status = get_field(context, record, index, field, array);
    context->array = field;
    return status;
}

static cdp_status append_item(convert_context *context, avro_value_t *array, size_t index,
                              avro_value_t *item) {
    int rval;
    context->index = index;
    if ((rval = avro_value_append(array, item, NULL)) != 0)
        return convert_avro_fail(context, NULL, rval);
    return CDP_OK;
}

static cdp_status put_identities(convert_context *context, avro_value_t *profile,
                                 const cdp_profile_record *record) {
    avro_value_t array, item;
    cdp_status status = array_field(context, profile, PROFILE_IDENTITIES, "identities",
                                    record->identities, record->identity_count, &array);
    for (size_t i = 0; status == CDP_OK && i < record->identity_count; i++) {
        const cdp_identity_entry *entry = &record->identities[i];
        status = append_item(context, &array, i, &item);
        if (status == CDP_OK)
            status = put_string(context, &item, IDENTITY_TYPE, entry->type, "type");
        if (status == CDP_OK)
            status = put_string(context, &item, IDENTITY_VALUE, entry->value, "value");
        if (status == CDP_OK)
            status = put_long(context, &item, IDENTITY_ADDED_AT, entry->added_at, "added_at");
        if (status == CDP_OK)
            status = put_optional_string(context, &item, IDENTITY_SOURCE, entry->source, "source");
        if (status == CDP_OK)
            status = put_optional_string(context, &item, IDENTITY_MESSAGE_ID, entry->message_id,
                                         "message_id");
    }
    return status;
}

static cdp_status put_traits(convert_context *context, avro_value_t *profile,
                             const cdp_profile_record *record) {
    avro_value_t array, item;
    cdp_status status = array_field(context, profile, PROFILE_TRAITS, "traits", record->traits,
                                    record->trait_count, &array);
    for (size_t i = 0; status == CDP_OK && i < record->trait_count; i++) {
        const cdp_trait_entry *entry = &record->traits[i];
        status = append_item(context, &array, i, &item);
        if (status == CDP_OK)
            status = put_string(context, &item, TRAIT_NAME, entry->name, "name");
        if (status == CDP_OK)
            status = put_string(context, &item, TRAIT_VALUE_JSON, entry->value_json, "value_json");
        if (status == CDP_OK)
            status = put_optional_string(context, &item, TRAIT_SOURCE, entry->source, "source");
        if (status == CDP_OK)
            status = put_optional_string(context, &item, TRAIT_CHANNEL, entry->channel, "channel");
        if (status == CDP_OK)
            status = put_long(context, &item, TRAIT_UPDATED_AT, entry->updated_at, "updated_at");
        if (status == CDP_OK)
            status =
                put_optional_string(context, &item, TRAIT_CATEGORY, entry->category, "category");
    }
    return status;
}

static cdp_status put_channels(convert_context *context, avro_value_t *profile,
                               const cdp_profile_record *record) {
    avro_value_t array, item;
    cdp_status status = array_field(context, profile, PROFILE_CHANNELS, "channels",
                                    record->channels, record->channel_count, &array);
    for (size_t i = 0; status == CDP_OK && i < record->channel_count; i++) {
        const cdp_channel_entry *entry = &record->channels[i];
        status = append_item(context, &array, i, &item);
        if (status == CDP_OK)
            status = put_string(context, &item, CHANNEL_CHANNEL, entry->channel, "channel");
        if (status == CDP_OK)
            status = put_long(context, &item, CHANNEL_FIRST_SEEN, entry->first_seen, "first_seen");
        if (status == CDP_OK)
            status = put_long(context, &item, CHANNEL_LAST_SEEN, entry->last_seen, "last_seen");
        if (status == CDP_OK)
            status =
                put_long(context, &item, CHANNEL_EVENT_COUNT, entry->event_count, "event_count");
    }
    return status;
}

static cdp_status put_merged_from(convert_context *context, avro_value_t *profile,
                                  const cdp_profile_record *record) {
    avro_value_t array, item;
    cdp_status status = array_field(context, profile, PROFILE_MERGED_FROM, "merged_from",
                                    record->merged_from, record->merged_from_count, &array);
    for (size_t i = 0; status == CDP_OK && i < record->merged_from_count; i++) {
        status = append_item(context, &array, i, &item);
        if (status == CDP_OK)
            status = put_string_value(context, &item, record->merged_from[i], NULL);
    }
    return status;
}

static cdp_status put_profile(avro_value_t *value, const cdp_profile_record *record, cdp_err *err) {
    int rval;
    convert_context context = {.record = "profile", .err = err};
    avro_value_t restricted;
    cdp_status status =
        put_string(&context, value, PROFILE_PROFILE_ID, record->profile_id, "profile_id");
    if (status == CDP_OK)
        status = put_string(&context, value, PROFILE_REGION, record->region, "region");
    if (status == CDP_OK)
        status = put_long(&context, value, PROFILE_CREATED_AT, record->created_at, "created_at");
    if (status == CDP_OK)
        status = put_long(&context, value, PROFILE_UPDATED_AT, record->updated_at, "updated_at");
    if (status == CDP_OK)
        status = get_field(&context, value, PROFILE_RESTRICTED, "restricted", &restricted);
    if (status == CDP_OK &&
        (rval = avro_value_set_boolean(&restricted, record->restricted != 0)) != 0)
        status = convert_avro_fail(&context, "restricted", rval);
    if (status == CDP_OK)
        status = put_identities(&context, value, record);
    if (status == CDP_OK)
        status = put_traits(&context, value, record);
    if (status == CDP_OK)
        status = put_channels(&context, value, record);
    if (status == CDP_OK)
        status = put_merged_from(&context, value, record);
    if (status == CDP_OK)
        status = put_optional_string(&context, value, PROFILE_COMPUTED_JSON, record->computed_json,
                                     "computed_json");
    return status;
}

static cdp_status put_event(avro_value_t *value, const cdp_event_record *record, cdp_err *err) {
    convert_context context = {.record = "event", .err = err};
    cdp_status status = put_string(&context, value, EVENT_EVENT_ID, record->event_id, "event_id");
    if (status == CDP_OK)
        status = put_string(&context, value, EVENT_MESSAGE_ID, record->message_id, "message_id");
    if (status == CDP_OK)
        status = put_string(&context, value, EVENT_TYPE, record->type, "type");
    if (status == CDP_OK)
        status = put_optional_string(&context, value, EVENT_NAME, record->name, "name");
    if (status == CDP_OK)
        status = put_long(&context, value, EVENT_TIMESTAMP, record->timestamp, "timestamp");
    if (status == CDP_OK)
        status = put_long(&context, value, EVENT_RECEIVED_AT, record->received_at, "received_at");
    if (status == CDP_OK)
        status = put_optional_string(&context, value, EVENT_SOURCE, record->source, "source");
    if (status == CDP_OK)
        status = put_optional_string(&context, value, EVENT_CHANNEL, record->channel, "channel");
    if (status == CDP_OK)
        status = put_string(&context, value, EVENT_PROPERTIES_JSON, record->properties_json,
                            "properties_json");
    if (status == CDP_OK)
        status =
            put_string(&context, value, EVENT_CONTEXT_JSON, record->context_json, "context_json");
    if (status == CDP_OK)
        status = put_optional_string(&context, value, EVENT_TRAITS_JSON, record->traits_json,
                                     "traits_json");
    if (status == CDP_OK)
        status = put_optional_string(&context, value, EVENT_IDENTIFIERS_JSON,
                                     record->identifiers_json, "identifiers_json");
    return status;
}

cdp_status cdp_profile_record_encode(const cdp_profile_record *record, cdp_buf *out, cdp_err *err) {
    avro_value_t value;
    bool have_value = false;
    if (record == NULL || out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "profile encode: NULL argument");
    cdp_status status = records_init(err);
    if (status != CDP_OK)
        goto done;
    if (avro_generic_value_new(profile_class, &value) != 0) {
        status = cdp_err_set(err, CDP_NOMEM, "profile encode: %s", avro_strerror());
        goto done;
    }
    have_value = true;
    status = put_profile(&value, record, err);
    if (status == CDP_OK)
        status = cdp_codec_encode(CDP_SCHEMA_PROFILE, &value, out, err);
done:
    if (have_value)
        avro_value_decref(&value);
    return status;
}

cdp_status cdp_event_record_encode(const cdp_event_record *record, cdp_buf *out, cdp_err *err) {
    avro_value_t value;
    bool have_value = false;
    if (record == NULL || out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "event encode: NULL argument");
    cdp_status status = records_init(err);
    if (status != CDP_OK)
        goto done;
    if (avro_generic_value_new(event_class, &value) != 0) {
        status = cdp_err_set(err, CDP_NOMEM, "event encode: %s", avro_strerror());
        goto done;
    }
    have_value = true;
    status = put_event(&value, record, err);
    if (status == CDP_OK)
        status = cdp_codec_encode(CDP_SCHEMA_EVENT, &value, out, err);
done:
    if (have_value)
        avro_value_decref(&value);
    return status;
}

/* ---- decoding --------------------------------------------------------------------------- */

/* Copies an Avro string out; the C structs are NUL-terminated, so an embedded NUL (valid Avro,
 * never written by us) would silently truncate: it is corruption. */
static cdp_status take_string_value(const convert_context *context, avro_value_t *value, char **out,
                                    const char *field) {
    int rval;
    const char *text = NULL;
    size_t size = 0; /* includes the terminating NUL */
    if ((rval = avro_value_get_string(value, &text, &size)) != 0)
        return convert_avro_fail(context, field, rval);
    if (text == NULL || size == 0)
        return convert_fail(context, field, CDP_CORRUPT, "string has no contents");
    if (memchr(text, '\0', size - 1) != NULL)
        return convert_fail(context, field, CDP_CORRUPT, "string contains a NUL byte");
    *out = cdp_strndup(text, size - 1);
    if (*out == NULL)
        return convert_fail(context, field, CDP_NOMEM, "out of memory");
    return CDP_OK;
}

static cdp_status take_string(const convert_context *context, avro_value_t *record, size_t index,
                              char **out, const char *field) {
    avro_value_t value;
    cdp_status status = get_field(context, record, index, field, &value);
    return status != CDP_OK ? status : take_string_value(context, &value, out, field);
}

static cdp_status take_optional_string(const convert_context *context, avro_value_t *record,
                                       size_t index, char **out, const char *field) {
    int rval;
    avro_value_t value, branch;
    int discriminant = -1;
    cdp_status status = get_field(context, record, index, field, &value);
    if (status != CDP_OK)
        return status;
    if ((rval = avro_value_get_discriminant(&value, &discriminant)) != 0)
        return convert_avro_fail(context, field, rval);
    if (discriminant == 0)
        return CDP_OK;
    if (discriminant != 1)
        return convert_fail(context, field, CDP_CORRUPT, "union branch out of range");
    if ((rval = avro_value_get_current_branch(&value, &branch)) != 0)
        return convert_avro_fail(context, field, rval);
    return take_string_value(context, &branch, out, field);
}

static cdp_status take_long(const convert_context *context, avro_value_t *record, size_t index,
                            int64_t *out, const char *field) {
    int rval;
    avro_value_t value;
    cdp_status status = get_field(context, record, index, field, &value);
    if (status == CDP_OK && (rval = avro_value_get_long(&value, out)) != 0)
        status = convert_avro_fail(context, field, rval);
    return status;
}

/* Gets array field `index` of record with its size and allocates that many zeroed entries. The
 * count is bounded by the validated datum length, so the allocation is too. */
static cdp_status take_array(convert_context *context, avro_value_t *record, size_t index,
                             const char *field, size_t entry_size, avro_value_t *array,
                             void **entries, size_t *count) {
    int rval;
    size_t size = 0;
    context->array = NULL;
    cdp_status status = get_field(context, record, index, field, array);
    if (status != CDP_OK)
        return status;
    if ((rval = avro_value_get_size(array, &size)) != 0)
        return convert_avro_fail(context, field, rval);
    context->array = field;
    if (size == 0)
        return CDP_OK;
    *entries = cdp_calloc(size, entry_size);
    if (*entries == NULL)
        return convert_fail(context, NULL, CDP_NOMEM, "out of memory");
    *count = size; /* entries are zeroed, so *_clear frees a partly filled array */
    return CDP_OK;
}

static cdp_status take_item(convert_context *context, avro_value_t *array, size_t index,
                            avro_value_t *item) {
    int rval;
    context->index = index;
    if ((rval = avro_value_get_by_index(array, index, item, NULL)) != 0)
        return convert_avro_fail(context, NULL, rval);
    return CDP_OK;
}

static cdp_status take_identities(convert_context *context, avro_value_t *profile,
                                  cdp_profile_record *out) {
    avro_value_t array, item;
    void *entries = NULL;
    size_t count = 0;
    cdp_status status = take_array(context, profile, PROFILE_IDENTITIES, "identities",
                                   sizeof *out->identities, &array, &entries, &count);
    out->identities = entries;
    out->identity_count = count;
    for (size_t i = 0; status == CDP_OK && i < out->identity_count; i++) {
        cdp_identity_entry *entry = &out->identities[i];
        status = take_item(context, &array, i, &item);
        if (status == CDP_OK)
            status = take_string(context, &item, IDENTITY_TYPE, &entry->type, "type");
        if (status == CDP_OK)
            status = take_string(context, &item, IDENTITY_VALUE, &entry->value, "value");
        if (status == CDP_OK)
            status = take_long(context, &item, IDENTITY_ADDED_AT, &entry->added_at, "added_at");
        if (status == CDP_OK)
            status =
                take_optional_string(context, &item, IDENTITY_SOURCE, &entry->source, "source");
        if (status == CDP_OK)
            status = take_optional_string(context, &item, IDENTITY_MESSAGE_ID, &entry->message_id,
                                          "message_id");
    }
    return status;
}

static cdp_status take_traits(convert_context *context, avro_value_t *profile,
                              cdp_profile_record *out) {
    avro_value_t array, item;
    void *entries = NULL;
    size_t count = 0;
    cdp_status status = take_array(context, profile, PROFILE_TRAITS, "traits", sizeof *out->traits,
                                   &array, &entries, &count);
    out->traits = entries;
    out->trait_count = count;
    for (size_t i = 0; status == CDP_OK && i < out->trait_count; i++) {
        cdp_trait_entry *entry = &out->traits[i];
        status = take_item(context, &array, i, &item);
        if (status == CDP_OK)
            status = take_string(context, &item, TRAIT_NAME, &entry->name, "name");
        if (status == CDP_OK)
            status =
                take_string(context, &item, TRAIT_VALUE_JSON, &entry->value_json, "value_json");
        if (status == CDP_OK)
            status = take_optional_string(context, &item, TRAIT_SOURCE, &entry->source, "source");
        if (status == CDP_OK)
            status =
                take_optional_string(context, &item, TRAIT_CHANNEL, &entry->channel, "channel");
        if (status == CDP_OK)
            status = take_long(context, &item, TRAIT_UPDATED_AT, &entry->updated_at, "updated_at");
        if (status == CDP_OK)
            status =
                take_optional_string(context, &item, TRAIT_CATEGORY, &entry->category, "category");
    }
    return status;
}

static cdp_status take_channels(convert_context *context, avro_value_t *profile,
                                cdp_profile_record *out) {
    avro_value_t array, item;
    void *entries = NULL;
    size_t count = 0;
    cdp_status status = take_array(context, profile, PROFILE_CHANNELS, "channels",
                                   sizeof *out->channels, &array, &entries, &count);
    out->channels = entries;
    out->channel_count = count;
    for (size_t i = 0; status == CDP_OK && i < out->channel_count; i++) {
        cdp_channel_entry *entry = &out->channels[i];
        status = take_item(context, &array, i, &item);
        if (status == CDP_OK)
            status = take_string(context, &item, CHANNEL_CHANNEL, &entry->channel, "channel");
        if (status == CDP_OK)
            status =
                take_long(context, &item, CHANNEL_FIRST_SEEN, &entry->first_seen, "first_seen");
        if (status == CDP_OK)
            status = take_long(context, &item, CHANNEL_LAST_SEEN, &entry->last_seen, "last_seen");
        if (status == CDP_OK)
            status =
                take_long(context, &item, CHANNEL_EVENT_COUNT, &entry->event_count, "event_count");
    }
    return status;
}

static cdp_status take_merged_from(convert_context *context, avro_value_t *profile,
                                   cdp_profile_record *out) {
    avro_value_t array, item;
    void *entries = NULL;
    size_t count = 0;
    cdp_status status = take_array(context, profile, PROFILE_MERGED_FROM, "merged_from",
                                   sizeof *out->merged_from, &array, &entries, &count);
    out->merged_from = entries;
    out->merged_from_count = count;
    for (size_t i = 0; status == CDP_OK && i < out->merged_from_count; i++) {
        status = take_item(context, &array, i, &item);
        if (status == CDP_OK)
            status = take_string_value(context, &item, &out->merged_from[i], NULL);
    }
    return status;
}

static cdp_status take_profile(avro_value_t *value, cdp_profile_record *out, cdp_err *err) {
    int rval;
    convert_context context = {.record = "profile", .err = err};
    avro_value_t restricted;
    int flag = 0;
    cdp_status status =
        take_string(&context, value, PROFILE_PROFILE_ID, &out->profile_id, "profile_id");
    if (status == CDP_OK)
        status = take_string(&context, value, PROFILE_REGION, &out->region, "region");
    if (status == CDP_OK)
        status = take_long(&context, value, PROFILE_CREATED_AT, &out->created_at, "created_at");
    if (status == CDP_OK)
        status = take_long(&context, value, PROFILE_UPDATED_AT, &out->updated_at, "updated_at");
    if (status == CDP_OK)
        status = get_field(&context, value, PROFILE_RESTRICTED, "restricted", &restricted);
    if (status == CDP_OK && (rval = avro_value_get_boolean(&restricted, &flag)) != 0)
        status = convert_avro_fail(&context, "restricted", rval);
    out->restricted = flag != 0;
    if (status == CDP_OK)
        status = take_identities(&context, value, out);
    if (status == CDP_OK)
        status = take_traits(&context, value, out);
    if (status == CDP_OK)
        status = take_channels(&context, value, out);
    if (status == CDP_OK)
        status = take_merged_from(&context, value, out);
    if (status == CDP_OK)
        status = take_optional_string(&context, value, PROFILE_COMPUTED_JSON, &out->computed_json,
                                      "computed_json");
    return status;
}

static cdp_status take_event(avro_value_t *value, cdp_event_record *out, cdp_err *err) {
    convert_context context = {.record = "event", .err = err};
    cdp_status status = take_string(&context, value, EVENT_EVENT_ID, &out->event_id, "event_id");
    if (status == CDP_OK)
        status = take_string(&context, value, EVENT_MESSAGE_ID, &out->message_id, "message_id");
    if (status == CDP_OK)
        status = take_string(&context, value, EVENT_TYPE, &out->type, "type");
    if (status == CDP_OK)
        status = take_optional_string(&context, value, EVENT_NAME, &out->name, "name");
    if (status == CDP_OK)
        status = take_long(&context, value, EVENT_TIMESTAMP, &out->timestamp, "timestamp");
    if (status == CDP_OK)
        status = take_long(&context, value, EVENT_RECEIVED_AT, &out->received_at, "received_at");
    if (status == CDP_OK)
        status = take_optional_string(&context, value, EVENT_SOURCE, &out->source, "source");
    if (status == CDP_OK)
        status = take_optional_string(&context, value, EVENT_CHANNEL, &out->channel, "channel");
    if (status == CDP_OK)
        status = take_string(&context, value, EVENT_PROPERTIES_JSON, &out->properties_json,
                             "properties_json");
    if (status == CDP_OK)
        status =
            take_string(&context, value, EVENT_CONTEXT_JSON, &out->context_json, "context_json");
    if (status == CDP_OK)
        status = take_optional_string(&context, value, EVENT_TRAITS_JSON, &out->traits_json,
                                      "traits_json");
    if (status == CDP_OK)
        status = take_optional_string(&context, value, EVENT_IDENTIFIERS_JSON,
                                      &out->identifiers_json, "identifiers_json");
    return status;
}

cdp_status cdp_profile_record_decode(const uint8_t *bytes, size_t len, cdp_profile_record *out,
                                     cdp_err *err) {
    avro_value_t value;
    bool have_value = false;
    if (out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "profile decode: NULL output");
    memset(out, 0, sizeof *out);
    cdp_status status = records_init(err);
    if (status != CDP_OK)
        goto done;
    if (avro_generic_value_new(profile_class, &value) != 0) {
        status = cdp_err_set(err, CDP_NOMEM, "profile decode: %s", avro_strerror());
        goto done;
    }
    have_value = true;
    status = cdp_codec_decode(CDP_SCHEMA_PROFILE, bytes, len, &value, err);
    if (status == CDP_OK)
        status = take_profile(&value, out, err);
done:
    if (have_value)
        avro_value_decref(&value);
    if (status != CDP_OK)
        cdp_profile_record_clear(out);
    return status;
}

cdp_status cdp_event_record_decode(const uint8_t *bytes, size_t len, cdp_event_record *out,
                                   cdp_err *err) {
    avro_value_t value;
    bool have_value = false;
    if (out == NULL)
        return cdp_err_set(err, CDP_MISUSE, "event decode: NULL output");
    memset(out, 0, sizeof *out);
    cdp_status status = records_init(err);
    if (status != CDP_OK)
        goto done;
    if (avro_generic_value_new(event_class, &value) != 0) {
        status = cdp_err_set(err, CDP_NOMEM, "event decode: %s", avro_strerror());
        goto done;
    }
    have_value = true;
    status = cdp_codec_decode(CDP_SCHEMA_EVENT, bytes, len, &value, err);
    if (status == CDP_OK)
        status = take_event(&value, out, err);
done:
    if (have_value)
        avro_value_decref(&value);
    if (status != CDP_OK)
        cdp_event_record_clear(out);
    return status;
}

/* ---- clearing --------------------------------------------------------------------------- */

void cdp_profile_record_clear(cdp_profile_record *record) {
    if (record == NULL)
        return;
    cdp_free(record->profile_id);
    cdp_free(record->region);
    for (size_t i = 0; record->identities != NULL && i < record->identity_count; i++) {
        cdp_identity_entry *entry = &record->identities[i];
        cdp_free(entry->type);
        cdp_free(entry->value);
        cdp_free(entry->source);
        cdp_free(entry->message_id);
    }
    cdp_free(record->identities);
    for (size_t i = 0; record->traits != NULL && i < record->trait_count; i++) {
        cdp_trait_entry *entry = &record->traits[i];
        cdp_free(entry->name);
        cdp_free(entry->value_json);
        cdp_free(entry->source);
        cdp_free(entry->channel);
        cdp_free(entry->category);
    }
    cdp_free(record->traits);
    for (size_t i = 0; record->channels != NULL && i < record->channel_count; i++)
        cdp_free(record->channels[i].channel);
    cdp_free(record->channels);
    for (size_t i = 0; record->merged_from != NULL && i < record->merged_from_count; i++)
        cdp_free(record->merged_from[i]);
    cdp_free(record->merged_from);
    cdp_free(record->computed_json);
    memset(record, 0, sizeof *record);
}

void cdp_event_record_clear(cdp_event_record *record) {
    if (record == NULL)
        return;
    cdp_free(record->event_id);
    cdp_free(record->message_id);
    cdp_free(record->type);
    cdp_free(record->name);
    cdp_free(record->source);
    cdp_free(record->channel);
    cdp_free(record->properties_json);
    cdp_free(record->context_json);
    cdp_free(record->traits_json);
    cdp_free(record->identifiers_json);
    memset(record, 0, sizeof *record);
}
