/* Subject export: finds the person, then makes one pass per section (identities, traits, events,
 * merges, consent, audit) over the profile and every profile merged into it, writing each item
 * the moment it is read: the JSON document is written piece by piece (jansson dumps one item at
 * a time), the Avro file one datum per item. Nothing grows with the number of events. */
#include "privacy/subject_export.h"
#include "consent/consent.h"

#include <avro.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>

#include "identity/normalize.h"
#include "store/codec.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/embedded.h"

#define SUBJECT_EXPORT_FORMAT "cdp-subject-export"
#define SUBJECT_EXPORT_VERSION 1
/* Avro C refuses a datum larger than a block; an event is at most 32 KB (Segment's limit). */
#define AVRO_BLOCK_BYTES (256 * 1024)
#define EVENT_KEY_BYTES (CDP_PROFILE_ID_BYTES + 8 + CDP_PROFILE_ID_BYTES)
#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

cdp_status cdp_subject_format_parse(const char *name, cdp_subject_format *out, cdp_err *err) {
    if (name != NULL && strcmp(name, "json") == 0) {
        *out = CDP_SUBJECT_FORMAT_JSON;
        return CDP_OK;
    }
    if (name != NULL && strcmp(name, "avro") == 0) {
        *out = CDP_SUBJECT_FORMAT_AVRO;
        return CDP_OK;
    }
    return cdp_err_set(err, CDP_BAD_REQUEST, "format: expected \"json\" or \"avro\", not \"%.32s\"",
                       name ? name : "");
}

/* ---- resolution ----------------------------------------------------------------------------- */

void cdp_subject_clear(cdp_subject *subject) {
    if (subject == NULL)
        return;
    cdp_person_wipe(&subject->person);
    cdp_profile_record_clear(&subject->profile);
    memset(subject, 0, sizeof *subject);
}


/* ---- the Avro item schema (schemas/subject_export.avsc), parsed once ------------------------ */

typedef enum item_kind {
    ITEM_HEADER = 0,
    ITEM_SUBJECT,
    ITEM_IDENTITY,
    ITEM_TRAIT,
    ITEM_EVENT,
    ITEM_MERGE,
    ITEM_CONSENT,
    ITEM_AUDIT,
    ITEM_END,
    ITEM_KIND_COUNT
} item_kind;

/* The schema's SubjectItemKind symbols and branch field names, in order. */
static const char *const item_names[ITEM_KIND_COUNT] = {
    "header", "subject", "identity", "trait", "event", "merge", "consent", "audit", "end"};

static pthread_mutex_t schema_lock = PTHREAD_MUTEX_INITIALIZER;
static avro_schema_t item_schema;
static avro_value_iface_t *item_iface;

/* Borrowed for the life of the process. A failure is retried by the next caller. */
static cdp_status subject_schema(avro_schema_t *schema, avro_value_iface_t **iface, cdp_err *err) {
    cdp_status status = CDP_OK;
    pthread_mutex_lock(&schema_lock);
    if (item_schema == NULL) {
        const char *json = NULL;
        for (size_t i = 0; i < cdp_embedded_schema_count; i++)
            if (strcmp(cdp_embedded_schemas[i].name, "subject_export") == 0)
                json = cdp_embedded_schemas[i].json;
        avro_schema_t parsed = NULL;
        avro_value_iface_t *made = NULL;
        if (json == NULL)
            status = cdp_err_set(err, CDP_INTERNAL, "subject export: schema not embedded");
        else if (avro_schema_from_json_length(json, strlen(json), &parsed) != 0)
            status = cdp_err_set(err, CDP_INTERNAL, "subject export schema: %s", avro_strerror());
        else if ((made = avro_generic_class_from_schema(parsed)) == NULL)
            status = cdp_err_set(err, CDP_NOMEM, "subject export schema: %s", avro_strerror());
        if (status == CDP_OK) {
            item_schema = parsed;
            item_iface = made;
        } else if (parsed != NULL) {
            avro_schema_decref(parsed);
        }
    }
    *schema = item_schema;
    *iface = item_iface;
    pthread_mutex_unlock(&schema_lock);
    return status;
}

/* ---- the exporter --------------------------------------------------------------------------- */

typedef struct exporter {
    const cdp_subject *subject;
    cdp_subject_format format;
    FILE *out;
    cdp_err *err;
    cdp_subject_counts counts;
    size_t section_items; /* JSON: items written in the open section (for the commas) */
    avro_value_t item;    /* Avro: the one item value, reset for every datum */
    int item_made;
    avro_file_writer_t writer;
    int out_failed; /* Avro: a write to out failed; later bytes are dropped (see forward_write) */
    avro_value_iface_t *merge_iface; /* decoded merge records (schemas/merge_record.avsc) */
    avro_value_t merge;
    int merge_made;
    cdp_buf plain; /* the opened record, reused; wiped at the end */
} exporter;

static cdp_status write_failed(exporter *x) {
    return cdp_err_set(x->err, CDP_IO, "subject export: writing the output failed");
}

static cdp_status avro_failed(exporter *x, const char *what) {
    if (x->out_failed || ferror(x->out))
        return write_failed(x);
    return cdp_err_set(x->err, CDP_INTERNAL, "subject export: %s: %s", what, avro_strerror());
}

#define TRY(call, what)                                                                            \
    do {                                                                                           \
        if ((call) != 0)                                                                           \
            return avro_failed(x, what);                                                           \
    } while (0)

/* ---- JSON pieces ---------------------------------------------------------------------------- */

static cdp_status json_text(exporter *x, const char *text) {
    return fputs(text, x->out) == EOF ? write_failed(x) : CDP_OK;
}

/* Dumps value (takes ownership) straight into the stream. */
static cdp_status json_value(exporter *x, json_t *value) {
    if (value == NULL)
        return cdp_err_set(x->err, CDP_NOMEM,
                           "subject export: out of memory (or invalid UTF-8) building an item");
    int failed = json_dumpf(value, x->out, JSON_FLAGS | JSON_ENCODE_ANY);
    json_decref(value);
    if (failed != 0)
        return ferror(x->out) ? write_failed(x)
                              : cdp_err_set(x->err, CDP_NOMEM, "subject export: out of memory");
    return CDP_OK;
}

/* `,"name":` then the value. */
static cdp_status json_member(exporter *x, const char *name, json_t *value) {
    cdp_status status = json_text(x, ",\"");
    if (status == CDP_OK)
        status = json_text(x, name);
    if (status == CDP_OK)
        status = json_text(x, "\":");
    if (status == CDP_OK)
        return json_value(x, value);
    json_decref(value);
    return status;
}

/* One item of the open section. */
static cdp_status json_item(exporter *x, json_t *value) {
    if (x->section_items++ > 0) {
        cdp_status status = json_text(x, ",");
        if (status != CDP_OK) {
            json_decref(value);
            return status;
        }
    }
    return json_value(x, value);
}

/* Stored JSON text as a value: parsed, or kept as a string if it does not parse; NULL: null. */
static json_t *stored_json(const char *text) {
    if (text == NULL)
        return json_null();
    json_t *value = json_loads(text, JSON_DECODE_ANY, NULL);
    return value != NULL ? value : json_string(text);
}

/* ---- Avro pieces ---------------------------------------------------------------------------- */

/* Resets the item to `kind` with every other branch null; *branch is the kind's record. */
static cdp_status item_begin(exporter *x, item_kind kind, avro_value_t *branch) {
    avro_value_t field, chosen;
    TRY(avro_value_reset(&x->item), "reset");
    TRY(avro_value_get_by_name(&x->item, "kind", &field, NULL), "kind");
    TRY(avro_value_set_enum(&field, (int)kind), "kind");
    for (int i = ITEM_HEADER; i < ITEM_KIND_COUNT; i++) {
        if (i == (int)kind)
            continue;
        TRY(avro_value_get_by_name(&x->item, item_names[i], &field, NULL), item_names[i]);
        TRY(avro_value_set_branch(&field, 0, &chosen), item_names[i]);
        TRY(avro_value_set_null(&chosen), item_names[i]);
    }
    TRY(avro_value_get_by_name(&x->item, item_names[kind], &field, NULL), item_names[kind]);
    TRY(avro_value_set_branch(&field, 1, branch), item_names[kind]);
    return CDP_OK;
}

static cdp_status item_append(exporter *x) {
    TRY(avro_file_writer_append_value(x->writer, &x->item), "append");
    return x->out_failed ? write_failed(x) : CDP_OK;
}

/* The Avro writer's stream: passes blocks on to out. After a failed write it drops the rest but
 * reports success, because Avro C 1.11's avro_file_writer_close frees nothing when its final
 * flush fails; the failure is reported from out_failed instead (at the next item). */
static ssize_t forward_write(void *cookie, const char *bytes, size_t len) {
    exporter *x = cookie;
    if (!x->out_failed && fwrite(bytes, 1, len, x->out) != len)
        x->out_failed = 1;
    return (ssize_t)len;
}

static cdp_status set_string(exporter *x, avro_value_t *record, const char *name,
                             const char *value) {
    avro_value_t field;
    TRY(avro_value_get_by_name(record, name, &field, NULL), name);
    TRY(avro_value_set_string(&field, value != NULL ? value : ""), name);
    return CDP_OK;
}

static cdp_status set_optional_string(exporter *x, avro_value_t *record, const char *name,
                                      const char *value) {
    avro_value_t field, branch;
    TRY(avro_value_get_by_name(record, name, &field, NULL), name);
    TRY(avro_value_set_branch(&field, value != NULL ? 1 : 0, &branch), name);
    if (value != NULL)
        TRY(avro_value_set_string(&branch, value), name);
    else
        TRY(avro_value_set_null(&branch), name);
    return CDP_OK;
}

static cdp_status set_long(exporter *x, avro_value_t *record, const char *name, int64_t value) {
    avro_value_t field;
    TRY(avro_value_get_by_name(record, name, &field, NULL), name);
    TRY(avro_value_set_long(&field, value), name);
    return CDP_OK;
}

static cdp_status set_boolean(exporter *x, avro_value_t *record, const char *name, int value) {
    avro_value_t field;
    TRY(avro_value_get_by_name(record, name, &field, NULL), name);
    TRY(avro_value_set_boolean(&field, value != 0), name);
    return CDP_OK;
}

#define CHECK(call)                                                                                \
    do {                                                                                           \
        cdp_status check_status = (call);                                                          \
        if (check_status != CDP_OK)                                                                \
            return check_status;                                                                   \
    } while (0)

/* ---- header and subject --------------------------------------------------------------------- */

static cdp_status emit_header(exporter *x, int64_t generated_at) {
    const cdp_profile_record *profile = &x->subject->profile;
    if (x->format == CDP_SUBJECT_FORMAT_JSON) {
        /* The first member is written without a leading comma; the rest use json_member. */
        CHECK(json_text(x, "{\"format\":\"" SUBJECT_EXPORT_FORMAT "\""));
        CHECK(json_member(x, "version", json_integer(SUBJECT_EXPORT_VERSION)));
        CHECK(json_member(x, "generated_at", json_integer(generated_at)));
        CHECK(json_member(x, "region", json_string(profile->region)));
        return json_member(x, "profile_id", json_string(profile->profile_id));
    }
    avro_value_t header, field;
    CHECK(item_begin(x, ITEM_HEADER, &header));
    CHECK(set_string(x, &header, "format", SUBJECT_EXPORT_FORMAT));
    TRY(avro_value_get_by_name(&header, "version", &field, NULL), "version");
    TRY(avro_value_set_int(&field, SUBJECT_EXPORT_VERSION), "version");
    CHECK(set_string(x, &header, "region", profile->region));
    CHECK(set_string(x, &header, "profile_id", profile->profile_id));
    CHECK(set_long(x, &header, "generated_at", generated_at));
    return item_append(x);
}

static json_t *subject_json(const cdp_profile_record *profile) {
    json_t *merged = json_array(), *channels = json_object();
    for (size_t i = 0; i < profile->merged_from_count; i++)
        json_array_append_new(merged, json_string(profile->merged_from[i]));
    for (size_t i = 0; i < profile->channel_count; i++) {
        const cdp_channel_entry *channel = &profile->channels[i];
        json_object_set_new(
            channels, channel->channel,
            json_pack("{s:I, s:I, s:I}", "first_seen", (json_int_t)channel->first_seen, "last_seen",
                      (json_int_t)channel->last_seen, "events", (json_int_t)channel->event_count));
    }
    return json_pack("{s:s, s:s, s:I, s:I, s:b, s:o, s:o, s:o}", "profile_id", profile->profile_id,
                     "region", profile->region, "created_at", (json_int_t)profile->created_at,
                     "updated_at", (json_int_t)profile->updated_at, "restricted",
                     profile->restricted, "merged_from", merged, "computed",
                     stored_json(profile->computed_json), "channels", channels);
}

static cdp_status emit_subject(exporter *x) {
    const cdp_profile_record *profile = &x->subject->profile;
    if (x->format == CDP_SUBJECT_FORMAT_JSON)
        return json_member(x, "subject", subject_json(profile));
    avro_value_t subject, field, element;
    CHECK(item_begin(x, ITEM_SUBJECT, &subject));
    CHECK(set_string(x, &subject, "profile_id", profile->profile_id));
    CHECK(set_string(x, &subject, "region", profile->region));
    CHECK(set_long(x, &subject, "created_at", profile->created_at));
    CHECK(set_long(x, &subject, "updated_at", profile->updated_at));
    CHECK(set_boolean(x, &subject, "restricted", profile->restricted));
    TRY(avro_value_get_by_name(&subject, "merged_from", &field, NULL), "merged_from");
    for (size_t i = 0; i < profile->merged_from_count; i++) {
        TRY(avro_value_append(&field, &element, NULL), "merged_from");
        TRY(avro_value_set_string(&element, profile->merged_from[i]), "merged_from");
    }
    CHECK(set_optional_string(x, &subject, "computed_json", profile->computed_json));
    TRY(avro_value_get_by_name(&subject, "channels", &field, NULL), "channels");
    for (size_t i = 0; i < profile->channel_count; i++) {
        const cdp_channel_entry *channel = &profile->channels[i];
        TRY(avro_value_append(&field, &element, NULL), "channels");
        CHECK(set_string(x, &element, "channel", channel->channel));
        CHECK(set_long(x, &element, "first_seen", channel->first_seen));
        CHECK(set_long(x, &element, "last_seen", channel->last_seen));
        CHECK(set_long(x, &element, "event_count", channel->event_count));
    }
    return item_append(x);
}

/* ---- sections ------------------------------------------------------------------------------- */

static cdp_status section_begin(exporter *x, const char *name) {
    x->section_items = 0;
    if (x->format != CDP_SUBJECT_FORMAT_JSON)
        return CDP_OK;
    CHECK(json_text(x, ",\""));
    CHECK(json_text(x, name));
    return json_text(x, "\":[");
}

static cdp_status section_end(exporter *x) {
    return x->format == CDP_SUBJECT_FORMAT_JSON ? json_text(x, "]") : CDP_OK;
}

static cdp_status emit_identities(exporter *x) {
    const cdp_profile_record *profile = &x->subject->profile;
    CHECK(section_begin(x, "identities"));
    for (size_t i = 0; i < profile->identity_count; i++) {
        const cdp_identity_entry *entry = &profile->identities[i];
        if (x->format == CDP_SUBJECT_FORMAT_JSON) {
            CHECK(
                json_item(x, json_pack("{s:s, s:s, s:I, s:s?, s:s?}", "type", entry->type, "value",
                                       entry->value, "added_at", (json_int_t)entry->added_at,
                                       "source", entry->source, "message_id", entry->message_id)));
        } else {
            avro_value_t identity;
            CHECK(item_begin(x, ITEM_IDENTITY, &identity));
            CHECK(set_string(x, &identity, "type", entry->type));
            CHECK(set_string(x, &identity, "value", entry->value));
            CHECK(set_long(x, &identity, "added_at", entry->added_at));
            CHECK(set_optional_string(x, &identity, "source", entry->source));
            CHECK(set_optional_string(x, &identity, "message_id", entry->message_id));
            CHECK(item_append(x));
        }
        x->counts.identities++;
    }
    return section_end(x);
}

static cdp_status emit_traits(exporter *x) {
    const cdp_profile_record *profile = &x->subject->profile;
    CHECK(section_begin(x, "traits"));
    for (size_t i = 0; i < profile->trait_count; i++) {
        const cdp_trait_entry *trait = &profile->traits[i];
        if (x->format == CDP_SUBJECT_FORMAT_JSON) {
            CHECK(json_item(x,
                            json_pack("{s:s, s:o, s:s?, s:s?, s:I, s:s?}", "name", trait->name,
                                      "value", stored_json(trait->value_json), "source",
                                      trait->source, "channel", trait->channel, "updated_at",
                                      (json_int_t)trait->updated_at, "category", trait->category)));
        } else {
            avro_value_t item;
            CHECK(item_begin(x, ITEM_TRAIT, &item));
            CHECK(set_string(x, &item, "name", trait->name));
            CHECK(set_string(x, &item, "value_json", trait->value_json));
            CHECK(set_optional_string(x, &item, "source", trait->source));
            CHECK(set_optional_string(x, &item, "channel", trait->channel));
            CHECK(set_long(x, &item, "updated_at", trait->updated_at));
            CHECK(set_optional_string(x, &item, "category", trait->category));
            CHECK(item_append(x));
        }
        x->counts.traits++;
    }
    return section_end(x);
}

/* The profile and every profile merged into it: member 0 is the profile itself. */
static size_t member_count(const exporter *x) { return 1 + x->subject->profile.merged_from_count; }

/* The member's id; -1 for a malformed stored id (skipped: it names nothing we could read). */
static int member_id(const exporter *x, size_t m, uint8_t id[CDP_PROFILE_ID_BYTES],
                     const char **hex) {
    const cdp_profile_record *profile = &x->subject->profile;
    *hex = m == 0 ? profile->profile_id : profile->merged_from[m - 1];
    return cdp_hex_decode(id, CDP_PROFILE_ID_BYTES, *hex, strlen(*hex)) == 0 ? 0 : -1;
}

/* The member's data key. 1 when there is none any more (a shredded member holds nothing
 * readable), 0 when loaded, -1 with x->err set on failure. */
static int member_key(exporter *x, const uint8_t id[CDP_PROFILE_ID_BYTES], cdp_person *person,
                      cdp_status *status) {
    *status = cdp_vault_load_person(x->subject->vault, id, person, x->err);
    if (*status == CDP_NOT_FOUND) {
        cdp_err_clear(x->err);
        *status = CDP_OK;
        return 1;
    }
    return *status == CDP_OK ? 0 : -1;
}

/* Calls fn for every record of the member in cf, opened with the member's key, in key order. */
typedef cdp_status (*record_fn)(exporter *x, const char *member_hex, const uint8_t *key,
                                size_t key_len, const uint8_t *plain, size_t plain_len);

static cdp_status each_member_record(exporter *x, cdp_cf cf, record_fn fn) {
    cdp_status status = CDP_OK;
    for (size_t m = 0; status == CDP_OK && m < member_count(x); m++) {
        uint8_t id[CDP_PROFILE_ID_BYTES];
        const char *hex;
        cdp_person person;
        if (member_id(x, m, id, &hex) != 0 || member_key(x, id, &person, &status) != 0)
            continue;
        cdp_iter *iter = NULL;
        status =
            cdp_region_iter(cdp_vault_region(x->subject->vault), cf, id, sizeof id, &iter, x->err);
        for (; status == CDP_OK && cdp_iter_valid(iter); cdp_iter_next(iter)) {
            size_t key_len = 0, value_len = 0;
            const uint8_t *key = cdp_iter_key(iter, &key_len);
            const uint8_t *value = cdp_iter_value(iter, &value_len);
            status = cdp_vault_open(x->subject->vault, &person, cf, key, key_len, value, value_len,
                                    &x->plain, x->err);
            if (status == CDP_OK)
                status = fn(x, hex, key, key_len, x->plain.data, x->plain.len);
        }
        if (status == CDP_OK && iter != NULL)
            status = cdp_iter_status(iter, x->err);
        cdp_iter_free(iter);
        cdp_person_wipe(&person);
    }
    return status;
}

/* ---- events --------------------------------------------------------------------------------- */

static cdp_status emit_event(exporter *x, const char *member_hex, const uint8_t *key,
                             size_t key_len, const uint8_t *plain, size_t plain_len) {
    (void)key;
    if (key_len != EVENT_KEY_BYTES)
        return CDP_OK; /* not an event key (none are written; skipped as the timeline does) */
    cdp_event_record event = {0};
    cdp_status status = cdp_event_record_decode(plain, plain_len, &event, x->err);
    if (status != CDP_OK)
        return status;
    if (x->format == CDP_SUBJECT_FORMAT_JSON) {
        status = json_item(
            x, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I, s:I, s:s?, s:s?, s:o, s:o, s:o, s:o}",
                         "profile_id", member_hex, "event_id", event.event_id, "message_id",
                         event.message_id, "type", event.type, "name", event.name, "timestamp",
                         (json_int_t)event.timestamp, "received_at", (json_int_t)event.received_at,
                         "source", event.source, "channel", event.channel, "properties",
                         stored_json(event.properties_json), "context",
                         stored_json(event.context_json), "traits", stored_json(event.traits_json),
                         "identifiers", stored_json(event.identifiers_json)));
    } else {
        avro_value_t item;
        status = item_begin(x, ITEM_EVENT, &item);
        const char *names[] = {"profile_id", "event_id",        "message_id",
                               "type",       "properties_json", "context_json"};
        const char *values[] = {member_hex, event.event_id,        event.message_id,
                                event.type, event.properties_json, event.context_json};
        for (size_t i = 0; status == CDP_OK && i < sizeof names / sizeof names[0]; i++)
            status = set_string(x, &item, names[i], values[i]);
        const char *optional_names[] = {"name", "source", "channel", "traits_json",
                                        "identifiers_json"};
        const char *optional_values[] = {event.name, event.source, event.channel, event.traits_json,
                                         event.identifiers_json};
        for (size_t i = 0; status == CDP_OK && i < sizeof optional_names / sizeof optional_names[0];
             i++)
            status = set_optional_string(x, &item, optional_names[i], optional_values[i]);
        if (status == CDP_OK)
            status = set_long(x, &item, "timestamp", event.timestamp);
        if (status == CDP_OK)
            status = set_long(x, &item, "received_at", event.received_at);
        if (status == CDP_OK)
            status = item_append(x);
    }
    cdp_event_record_clear(&event);
    if (status == CDP_OK)
        x->counts.events++;
    return status;
}

/* ---- merges --------------------------------------------------------------------------------- */

/* A decoded merge record; strings borrowed from x->merge until the next decode. */
typedef struct merge_view {
    int64_t seq, time;
    const char *kind, *from, *to, *identifier_type, *blind, *message_id, *rule_version, *reason;
} merge_view;

static cdp_status merge_string(exporter *x, const char *name, int optional, const char **out) {
    avro_value_t field, branch;
    size_t size = 0;
    *out = NULL;
    TRY(avro_value_get_by_name(&x->merge, name, &field, NULL), name);
    if (optional) {
        int discriminant = 0;
        TRY(avro_value_get_discriminant(&field, &discriminant), name);
        if (discriminant == 0)
            return CDP_OK;
        TRY(avro_value_get_current_branch(&field, &branch), name);
        field = branch;
    }
    TRY(avro_value_get_string(&field, out, &size), name);
    return CDP_OK;
}

static cdp_status merge_decode(exporter *x, const uint8_t *plain, size_t plain_len,
                               merge_view *view) {
    avro_value_t field;
    int kind = 0;
    TRY(avro_value_reset(&x->merge), "merge");
    CHECK(cdp_codec_decode(CDP_SCHEMA_MERGE, plain, plain_len, &x->merge, x->err));
    TRY(avro_value_get_by_name(&x->merge, "seq", &field, NULL), "seq");
    TRY(avro_value_get_long(&field, &view->seq), "seq");
    TRY(avro_value_get_by_name(&x->merge, "time", &field, NULL), "time");
    TRY(avro_value_get_long(&field, &view->time), "time");
    TRY(avro_value_get_by_name(&x->merge, "kind", &field, NULL), "kind");
    TRY(avro_value_get_enum(&field, &kind), "kind");
    view->kind = avro_schema_enum_get(avro_value_get_schema(&field), kind);
    if (view->kind == NULL)
        return cdp_err_set(x->err, CDP_CORRUPT, "merge record: kind %d out of range", kind);
    CHECK(merge_string(x, "from_profile_id", 0, &view->from));
    CHECK(merge_string(x, "to_profile_id", 0, &view->to));
    CHECK(merge_string(x, "identifier_type", 0, &view->identifier_type));
    CHECK(merge_string(x, "blind_identifier_hex", 1, &view->blind));
    CHECK(merge_string(x, "message_id", 1, &view->message_id));
    CHECK(merge_string(x, "rule_version", 0, &view->rule_version));
    return merge_string(x, "reason", 1, &view->reason);
}

static cdp_status emit_merge(exporter *x, const char *member_hex, const uint8_t *key,
                             size_t key_len, const uint8_t *plain, size_t plain_len) {
    (void)key;
    (void)key_len;
    merge_view view;
    CHECK(merge_decode(x, plain, plain_len, &view));
    if (x->format == CDP_SUBJECT_FORMAT_JSON) {
        CHECK(json_item(x, json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s?, s:I}",
                                     "profile_id", member_hex, "seq", (json_int_t)view.seq, "kind",
                                     view.kind, "from_profile_id", view.from, "to_profile_id",
                                     view.to, "identifier_type", view.identifier_type,
                                     "blind_identifier_hex", view.blind, "message_id",
                                     view.message_id, "rule_version", view.rule_version, "reason",
                                     view.reason, "time", (json_int_t)view.time)));
    } else {
        avro_value_t item;
        CHECK(item_begin(x, ITEM_MERGE, &item));
        CHECK(set_string(x, &item, "profile_id", member_hex));
        CHECK(set_long(x, &item, "seq", view.seq));
        CHECK(set_string(x, &item, "kind", view.kind));
        CHECK(set_string(x, &item, "from_profile_id", view.from));
        CHECK(set_string(x, &item, "to_profile_id", view.to));
        CHECK(set_string(x, &item, "identifier_type", view.identifier_type));
        CHECK(set_optional_string(x, &item, "blind_identifier_hex", view.blind));
        CHECK(set_optional_string(x, &item, "message_id", view.message_id));
        CHECK(set_string(x, &item, "rule_version", view.rule_version));
        CHECK(set_optional_string(x, &item, "reason", view.reason));
        CHECK(set_long(x, &item, "time", view.time));
        CHECK(item_append(x));
    }
    x->counts.merges++;
    return CDP_OK;
}

/* ---- consent -------------------------------------------------------------------------------- */

/* Every consent record of the profile and of the profiles merged into it, oldest first within
 * each member (history is kept: withdrawals and denials included), decoded with the person's
 * key. counts.consent_records_held is the raw number of records stored, so a reader can check
 * that every record held was exported. */
static cdp_status emit_consent(exporter *x, const char *member_hex, const uint8_t *key,
                               size_t key_len, const uint8_t *plain, size_t plain_len) {
    (void)key;
    (void)key_len;
    cdp_consent_record record = {0};
    cdp_status status = cdp_consent_record_decode(plain, plain_len, &record, x->err);
    if (status == CDP_OK && x->format == CDP_SUBJECT_FORMAT_JSON) {
        status = json_item(
            x, json_pack("{s:s, s:s, s:s, s:I, s:s?, s:s?, s:{s:s?, s:b, s:s?}, s:s?}",
                         "profile_id", member_hex, "purpose", record.purpose, "state",
                         cdp_consent_state_text(record.state), "time", (json_int_t)record.time_ms,
                         "source", record.source, "notice_version", record.notice_version,
                         "proof", "tcf", record.tcf, "gpc", record.gpc, "request_id",
                         record.request_id, "basis", record.basis));
    } else if (status == CDP_OK) {
        avro_value_t item;
        status = item_begin(x, ITEM_CONSENT, &item);
        if (status == CDP_OK)
            status = set_string(x, &item, "profile_id", member_hex);
        if (status == CDP_OK)
            status = set_string(x, &item, "purpose", record.purpose);
        if (status == CDP_OK)
            status = set_string(x, &item, "state", cdp_consent_state_text(record.state));
        if (status == CDP_OK)
            status = set_long(x, &item, "time", record.time_ms);
        if (status == CDP_OK)
            status = set_string(x, &item, "source", record.source ? record.source : "");
        if (status == CDP_OK)
            status = set_optional_string(x, &item, "notice_version", record.notice_version);
        if (status == CDP_OK)
            status = set_optional_string(x, &item, "tcf", record.tcf);
        if (status == CDP_OK)
            status = set_boolean(x, &item, "gpc", record.gpc);
        if (status == CDP_OK)
            status = set_optional_string(x, &item, "request_id", record.request_id);
        if (status == CDP_OK)
            status = set_optional_string(x, &item, "basis", record.basis);
        if (status == CDP_OK)
            status = item_append(x);
    }
    cdp_consent_record_clear(&record);
    if (status == CDP_OK) {
        x->counts.consent++;
        x->counts.consent_records_held++;
    }
    return status;
}

static cdp_status export_consent_section(exporter *x) {
    CHECK(section_begin(x, "consent"));
    CHECK(each_member_record(x, CDP_CF_CONSENT, emit_consent));
    return section_end(x);
}

/* ---- audit ---------------------------------------------------------------------------------- */

static cdp_status emit_audit(void *context, const cdp_audit_record *record) {
    exporter *x = context;
    if (x->format == CDP_SUBJECT_FORMAT_JSON) {
        CHECK(json_item(x, cdp_audit_record_json(record)));
    } else {
        avro_value_t item, field, element;
        char hex[2 * CDP_PROFILE_ID_BYTES + 1];
        if (record->has_profile_id)
            cdp_hex_encode(hex, record->profile_id, CDP_PROFILE_ID_BYTES);
        CHECK(item_begin(x, ITEM_AUDIT, &item));
        CHECK(set_long(x, &item, "seq", (int64_t)record->seq));
        CHECK(set_long(x, &item, "time", record->time_ms));
        CHECK(set_string(x, &item, "region", record->region));
        CHECK(set_string(x, &item, "actor_key_id", record->actor_key_id));
        CHECK(set_string(x, &item, "actor_role", record->actor_role));
        CHECK(set_string(x, &item, "operation", record->operation));
        CHECK(set_optional_string(x, &item, "purpose", record->purpose));
        CHECK(set_optional_string(x, &item, "lawful_basis", record->lawful_basis));
        CHECK(set_optional_string(x, &item, "profile_id", record->has_profile_id ? hex : NULL));
        TRY(avro_value_get_by_name(&item, "categories", &field, NULL), "categories");
        for (size_t i = 0; i < record->category_count; i++) {
            TRY(avro_value_append(&field, &element, NULL), "categories");
            TRY(avro_value_set_string(&element, record->categories[i]), "categories");
        }
        CHECK(set_string(x, &item, "decision", cdp_audit_decision_name(record->decision)));
        CHECK(set_optional_string(x, &item, "reason", record->reason));
        CHECK(set_optional_string(x, &item, "request_id", record->request_id));
        CHECK(item_append(x));
    }
    x->counts.audit++;
    return CDP_OK;
}

/* Every held audit record about the profile and about each profile merged into it, through the
 * log's person index, as the log holds them (pseudonymous ids and tokens only). */
static cdp_status emit_audit_section(exporter *x) {
    CHECK(section_begin(x, "audit"));
    for (size_t m = 0; m < member_count(x); m++) {
        uint8_t id[CDP_PROFILE_ID_BYTES];
        const char *hex;
        if (member_id(x, m, id, &hex) != 0)
            continue;
        CHECK(cdp_audit_list_person(x->subject->audit_log, id, emit_audit, x, x->err));
    }
    return section_end(x);
}

/* ---- end ------------------------------------------------------------------------------------ */

static cdp_status emit_end(exporter *x) {
    const cdp_subject_counts *c = &x->counts;
    if (x->format == CDP_SUBJECT_FORMAT_JSON) {
        CHECK(json_member(x, "counts",
                          json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "identities",
                                    (json_int_t)c->identities, "traits", (json_int_t)c->traits,
                                    "events", (json_int_t)c->events, "merges",
                                    (json_int_t)c->merges, "consent", (json_int_t)c->consent,
                                    "consent_records_held", (json_int_t)c->consent_records_held,
                                    "audit", (json_int_t)c->audit)));
        return json_text(x, "}\n");
    }
    avro_value_t end;
    CHECK(item_begin(x, ITEM_END, &end));
    CHECK(set_long(x, &end, "identities", (int64_t)c->identities));
    CHECK(set_long(x, &end, "traits", (int64_t)c->traits));
    CHECK(set_long(x, &end, "events", (int64_t)c->events));
    CHECK(set_long(x, &end, "merges", (int64_t)c->merges));
    CHECK(set_long(x, &end, "consent", (int64_t)c->consent));
    CHECK(set_long(x, &end, "consent_records_held", (int64_t)c->consent_records_held));
    CHECK(set_long(x, &end, "audit", (int64_t)c->audit));
    return item_append(x);
}

static cdp_status export_all(exporter *x, int64_t generated_at) {
    CHECK(emit_header(x, generated_at));
    CHECK(emit_subject(x));
    CHECK(emit_identities(x));
    CHECK(emit_traits(x));
    CHECK(section_begin(x, "events"));
    CHECK(each_member_record(x, CDP_CF_EVENTS, emit_event));
    CHECK(section_end(x));
    CHECK(section_begin(x, "merges"));
    CHECK(each_member_record(x, CDP_CF_MERGES, emit_merge));
    CHECK(section_end(x));
    CHECK(export_consent_section(x));
    CHECK(emit_audit_section(x));
    return emit_end(x);
}

cdp_status cdp_subject_export_write(const cdp_subject *subject, cdp_subject_format format,
                                    int64_t generated_at, FILE *out, cdp_subject_counts *counts,
                                    cdp_err *err) {
    if (subject == NULL || subject->vault == NULL || subject->audit_log == NULL ||
        subject->profile.profile_id == NULL || out == NULL ||
        (format != CDP_SUBJECT_FORMAT_JSON && format != CDP_SUBJECT_FORMAT_AVRO))
        return cdp_err_set(err, CDP_MISUSE,
                           "subject export: NULL or unresolved subject, NULL "
                           "stream or bad format");
    cdp_status status = cdp_codec_init(err);
    if (status != CDP_OK)
        return status;
    exporter *x = cdp_calloc(1, sizeof *x);
    if (x == NULL)
        return cdp_err_set(err, CDP_NOMEM, "subject export: out of memory");
    x->subject = subject;
    x->format = format;
    x->out = out;
    x->err = err;
    x->merge_iface = avro_generic_class_from_schema(cdp_codec_schema(CDP_SCHEMA_MERGE));
    if (x->merge_iface == NULL || avro_generic_value_new(x->merge_iface, &x->merge) != 0)
        status = cdp_err_set(err, CDP_NOMEM, "subject export: %s", avro_strerror());
    else
        x->merge_made = 1;
    if (status == CDP_OK && format == CDP_SUBJECT_FORMAT_AVRO) {
        avro_schema_t schema = NULL;
        avro_value_iface_t *iface = NULL;
        status = subject_schema(&schema, &iface, err);
        if (status == CDP_OK && avro_generic_value_new(iface, &x->item) != 0)
            status = cdp_err_set(err, CDP_NOMEM, "subject export: %s", avro_strerror());
        else if (status == CDP_OK)
            x->item_made = 1;
        cookie_io_functions_t io = {.write = forward_write};
        FILE *stream = status == CDP_OK ? fopencookie(x, "w", io) : NULL;
        if (status == CDP_OK && stream == NULL)
            status = cdp_err_set(err, CDP_NOMEM, "subject export: no stream");
        /* should_close 1: the writer closes the forwarding stream (never out itself). */
        if (status == CDP_OK &&
            avro_file_writer_create_with_codec_fp(stream, "subject-export", 1, schema, &x->writer,
                                                  "deflate", AVRO_BLOCK_BYTES) != 0) {
            x->writer = NULL;
            status = avro_failed(x, "container file");
            fclose(stream); /* the writer did not take it */
        }
    }
    if (status == CDP_OK)
        status = export_all(x, generated_at);
    if (x->writer != NULL) {
        /* Flushes the last block into the stream (even after a failure: a partial file is
         * recognisable by its missing end item). */
        if (avro_file_writer_close(x->writer) != 0 && status == CDP_OK)
            status = avro_failed(x, "close");
        x->writer = NULL;
        if (x->out_failed && status == CDP_OK)
            status = write_failed(x);
    }
    if (fflush(out) != 0 && status == CDP_OK)
        status = write_failed(x);
    if (status == CDP_OK && counts != NULL)
        *counts = x->counts;
    if (x->item_made)
        avro_value_decref(&x->item);
    if (x->merge_made)
        avro_value_decref(&x->merge);
    if (x->merge_iface != NULL)
        avro_value_iface_decref(x->merge_iface);
    cdp_buf_free_secret(&x->plain);
    cdp_free(x);
    return status;
}
