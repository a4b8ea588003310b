/* Field-by-field profile maintenance: identities, traits, channels, computed, folding. */
#include "identity/profile_ops.h"

#include <string.h>

#include "util/alloc.h"

long cdp_profile_find_identity(const cdp_profile_record *profile, const char *type,
                               const char *value) {
    for (size_t i = 0; i < profile->identity_count; i++)
        if (strcmp(profile->identities[i].type, type) == 0 &&
            strcmp(profile->identities[i].value, value) == 0)
            return (long)i;
    return -1;
}

size_t cdp_profile_count_type(const cdp_profile_record *profile, const char *type,
                              int64_t since_ms) {
    size_t count = 0;
    for (size_t i = 0; i < profile->identity_count; i++)
        if (strcmp(profile->identities[i].type, type) == 0 &&
            (since_ms <= 0 || profile->identities[i].added_at >= since_ms))
            count++;
    return count;
}

const char *cdp_profile_type_value(const cdp_profile_record *profile, const char *type) {
    for (size_t i = 0; i < profile->identity_count; i++)
        if (strcmp(profile->identities[i].type, type) == 0)
            return profile->identities[i].value;
    return NULL;
}

static char *dup_or_null(const char *text) { return text != NULL ? cdp_strdup(text) : NULL; }

static int dup_failed(const char *source, const char *copy) { return source != NULL && !copy; }

cdp_status cdp_profile_add_identity(cdp_profile_record *profile, const char *type,
                                    const char *value, int64_t added_at, const char *source,
                                    const char *message_id) {
    cdp_identity_entry *grown = cdp_realloc(profile->identities, (profile->identity_count + 1) *
                                                                     sizeof *grown);
    if (grown == NULL)
        return CDP_NOMEM;
    profile->identities = grown;
    cdp_identity_entry *entry = &grown[profile->identity_count];
    memset(entry, 0, sizeof *entry);
    entry->type = cdp_strdup(type);
    entry->value = cdp_strdup(value);
    entry->added_at = added_at;
    entry->source = dup_or_null(source && *source ? source : NULL);
    entry->message_id = dup_or_null(message_id);
    if (entry->type == NULL || entry->value == NULL ||
        dup_failed(source && *source ? source : NULL, entry->source) ||
        dup_failed(message_id, entry->message_id)) {
        cdp_free(entry->type);
        cdp_free(entry->value);
        cdp_free(entry->source);
        cdp_free(entry->message_id);
        return CDP_NOMEM;
    }
    profile->identity_count++;
    return CDP_OK;
}

static long find_trait(const cdp_profile_record *profile, const char *name) {
    for (size_t i = 0; i < profile->trait_count; i++)
        if (strcmp(profile->traits[i].name, name) == 0)
            return (long)i;
    return -1;
}

static int empty_json(const char *value_json) {
    return value_json == NULL || strcmp(value_json, "null") == 0 ||
           strcmp(value_json, "\"\"") == 0 || strcmp(value_json, "[]") == 0 ||
           strcmp(value_json, "{}") == 0;
}

/* Union of two JSON arrays (by JSON equality), as compact text; NULL when either is no array. */
static char *union_arrays(const char *left_json, const char *right_json) {
    json_t *left = json_loads(left_json, JSON_DECODE_ANY, NULL);
    json_t *right = json_loads(right_json, JSON_DECODE_ANY, NULL);
    char *text = NULL;
    if (json_is_array(left) && json_is_array(right)) {
        size_t index;
        json_t *item;
        json_array_foreach(right, index, item) {
            int present = 0;
            for (size_t i = 0; i < json_array_size(left) && !present; i++)
                present = json_equal(json_array_get(left, i), item);
            if (!present)
                json_array_append(left, item);
        }
        char *dumped = json_dumps(left, JSON_COMPACT | JSON_ENCODE_ANY);
        if (dumped != NULL) {
            text = cdp_strdup(dumped);
            free(dumped);
        }
    }
    json_decref(left);
    json_decref(right);
    return text;
}

static cdp_status set_entry(cdp_trait_entry *entry, const char *value_json, const char *source,
                            const char *channel, int64_t time_ms, const char *category) {
    char *value = cdp_strdup(value_json);
    char *source_copy = dup_or_null(source && *source ? source : NULL);
    char *channel_copy = dup_or_null(channel && *channel ? channel : NULL);
    char *category_copy = dup_or_null(category);
    if (value == NULL || dup_failed(source && *source ? source : NULL, source_copy) ||
        dup_failed(channel && *channel ? channel : NULL, channel_copy) ||
        dup_failed(category, category_copy)) {
        cdp_free(value);
        cdp_free(source_copy);
        cdp_free(channel_copy);
        cdp_free(category_copy);
        return CDP_NOMEM;
    }
    cdp_free(entry->value_json);
    cdp_free(entry->source);
    cdp_free(entry->channel);
    cdp_free(entry->category);
    entry->value_json = value;
    entry->source = source_copy;
    entry->channel = channel_copy;
    entry->category = category_copy;
    entry->updated_at = time_ms;
    return CDP_OK;
}

static cdp_status apply(cdp_profile_record *profile, const cdp_identity_rules *rules,
                        const char *name, const char *value_json, const char *source,
                        const char *channel, int64_t time_ms, const char *category) {
    long index = find_trait(profile, name);
    if (index < 0) {
        cdp_trait_entry *grown =
            cdp_realloc(profile->traits, (profile->trait_count + 1) * sizeof *grown);
        if (grown == NULL)
            return CDP_NOMEM;
        profile->traits = grown;
        cdp_trait_entry *entry = &grown[profile->trait_count];
        memset(entry, 0, sizeof *entry);
        entry->name = cdp_strdup(name);
        if (entry->name == NULL)
            return CDP_NOMEM;
        cdp_status status = set_entry(entry, value_json, source, channel, time_ms, category);
        if (status != CDP_OK) {
            cdp_free(entry->name);
            return status;
        }
        profile->trait_count++;
        return CDP_OK;
    }
    cdp_trait_entry *entry = &profile->traits[index];
    switch (cdp_identity_trait_strategy(rules, name)) {
    case CDP_TRAIT_OLDEST:
        if (time_ms < entry->updated_at)
            return set_entry(entry, value_json, source, channel, time_ms, category);
        return CDP_OK;
    case CDP_TRAIT_FIRST_NON_EMPTY:
        if (empty_json(entry->value_json) && !empty_json(value_json))
            return set_entry(entry, value_json, source, channel, time_ms, category);
        if (!empty_json(entry->value_json) && !empty_json(value_json) &&
            time_ms < entry->updated_at)
            return set_entry(entry, value_json, source, channel, time_ms, category);
        return CDP_OK;
    case CDP_TRAIT_UNION: {
        char *merged = union_arrays(entry->value_json, value_json);
        if (merged == NULL) /* not lists: fall back to newest */
            break;
        cdp_status status = set_entry(entry, merged, time_ms >= entry->updated_at ? source
                                                                                 : entry->source,
                                      time_ms >= entry->updated_at ? channel : entry->channel,
                                      time_ms > entry->updated_at ? time_ms : entry->updated_at,
                                      category);
        cdp_free(merged);
        return status;
    }
    case CDP_TRAIT_NEWEST:
        break;
    }
    /* Newest wins; on equal times the larger value text wins, so the outcome does not depend on
     * the order events arrive in. */
    if (time_ms > entry->updated_at ||
        (time_ms == entry->updated_at && strcmp(value_json, entry->value_json) > 0))
        return set_entry(entry, value_json, source, channel, time_ms, category);
    return CDP_OK;
}

cdp_status cdp_profile_apply_trait(cdp_profile_record *profile, const cdp_identity_rules *rules,
                                   const char *name, json_t *value, const char *source,
                                   const char *channel, int64_t time_ms) {
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return CDP_NOMEM;
    cdp_status status = apply(profile, rules, name, text, source, channel, time_ms, NULL);
    free(text);
    return status;
}

cdp_status cdp_profile_apply_trait_entry(cdp_profile_record *profile,
                                         const cdp_identity_rules *rules,
                                         const cdp_trait_entry *entry) {
    return apply(profile, rules, entry->name, entry->value_json, entry->source, entry->channel,
                 entry->updated_at, entry->category);
}

cdp_status cdp_profile_touch_channel(cdp_profile_record *profile, const char *channel,
                                     int64_t time_ms, int64_t count) {
    for (size_t i = 0; i < profile->channel_count; i++) {
        cdp_channel_entry *entry = &profile->channels[i];
        if (strcmp(entry->channel, channel) == 0) {
            if (time_ms < entry->first_seen)
                entry->first_seen = time_ms;
            if (time_ms > entry->last_seen)
                entry->last_seen = time_ms;
            entry->event_count += count;
            return CDP_OK;
        }
    }
    cdp_channel_entry *grown =
        cdp_realloc(profile->channels, (profile->channel_count + 1) * sizeof *grown);
    if (grown == NULL)
        return CDP_NOMEM;
    profile->channels = grown;
    cdp_channel_entry *entry = &grown[profile->channel_count];
    entry->channel = cdp_strdup(channel);
    if (entry->channel == NULL)
        return CDP_NOMEM;
    entry->first_seen = entry->last_seen = time_ms;
    entry->event_count = count;
    profile->channel_count++;
    return CDP_OK;
}

static json_t *load_computed(const cdp_profile_record *profile) {
    json_t *computed = profile->computed_json ? json_loads(profile->computed_json, 0, NULL) : NULL;
    return json_is_object(computed) ? computed : (json_decref(computed), json_object());
}

static cdp_status store_computed(cdp_profile_record *profile, json_t *computed) {
    char *text = json_dumps(computed, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return CDP_NOMEM;
    char *copy = cdp_strdup(text);
    free(text);
    if (copy == NULL)
        return CDP_NOMEM;
    cdp_free(profile->computed_json);
    profile->computed_json = copy;
    return CDP_OK;
}

/* computed[key] = {"value": v, "at": t} when t is newer (ties: larger value text). */
static void set_newest(json_t *computed, const char *key, json_t *value, int64_t time_ms) {
    json_t *current = json_object_get(computed, key);
    if (json_is_object(current)) {
        json_int_t at = json_integer_value(json_object_get(current, "at"));
        if (at > time_ms) {
            json_decref(value);
            return;
        }
        if (at == time_ms) {
            char *old_text = json_dumps(json_object_get(current, "value"), JSON_ENCODE_ANY);
            char *new_text = json_dumps(value, JSON_ENCODE_ANY);
            int keep = old_text && new_text && strcmp(new_text, old_text) <= 0;
            free(old_text);
            free(new_text);
            if (keep) {
                json_decref(value);
                return;
            }
        }
    }
    json_object_set_new(computed, key, json_pack("{s:o, s:I}", "value", value, "at",
                                                  (json_int_t)time_ms));
}

static void add_order(json_t *computed, const char *currency, double revenue, int64_t count,
                      int64_t last_order_at) {
    json_t *orders = json_object_get(computed, "orders");
    if (!json_is_object(orders)) {
        orders = json_object();
        json_object_set_new(computed, "orders", orders);
    }
    json_t *entry = json_object_get(orders, currency);
    if (!json_is_object(entry)) {
        entry = json_pack("{s:I, s:f}", "count", (json_int_t)0, "revenue", 0.0);
        json_object_set_new(orders, currency, entry);
    }
    json_object_set_new(entry, "count",
                        json_integer(json_integer_value(json_object_get(entry, "count")) + count));
    json_object_set_new(entry, "revenue",
                        json_real(json_number_value(json_object_get(entry, "revenue")) + revenue));
    json_int_t last = json_integer_value(json_object_get(computed, "last_order_at"));
    if (last_order_at > last)
        json_object_set_new(computed, "last_order_at", json_integer(last_order_at));
}

/* 1 when computed[key] already holds value with a time at or after time_ms: nothing to do. */
static int newest_already(json_t *computed, const char *key, const char *value, int64_t time_ms) {
    json_t *current = json_object_get(computed, key);
    return json_is_object(current) &&
           json_integer_value(json_object_get(current, "at")) >= time_ms &&
           json_is_string(json_object_get(current, "value")) &&
           strcmp(json_string_value(json_object_get(current, "value")), value) == 0;
}

cdp_status cdp_profile_update_computed(cdp_profile_record *profile, const char *event_name,
                                       json_t *properties, const char *locale,
                                       const char *timezone, int64_t time_ms) {
    int order = event_name != NULL && strcmp(event_name, "Order Completed") == 0 &&
                json_is_object(properties);
    int has_locale = locale != NULL && *locale, has_timezone = timezone != NULL && *timezone;
    if (!order && !has_locale && !has_timezone)
        return CDP_OK; /* most events change nothing computed: skip the JSON round trip */
    json_t *computed = load_computed(profile);
    if (computed == NULL)
        return CDP_NOMEM;
    if (!order && (!has_locale || newest_already(computed, "preferred_language", locale,
                                                  time_ms)) &&
        (!has_timezone || newest_already(computed, "timezone", timezone, time_ms))) {
        json_decref(computed);
        return CDP_OK;
    }
    if (computed == NULL)
        return CDP_NOMEM;
    if (locale != NULL && *locale)
        set_newest(computed, "preferred_language", json_string(locale), time_ms);
    if (timezone != NULL && *timezone)
        set_newest(computed, "timezone", json_string(timezone), time_ms);
    if (event_name != NULL && strcmp(event_name, "Order Completed") == 0 &&
        json_is_object(properties)) {
        /* Segment e-commerce spec: revenue (or total) and currency (default USD). */
        json_t *revenue = json_object_get(properties, "revenue");
        if (!json_is_number(revenue))
            revenue = json_object_get(properties, "total");
        json_t *currency = json_object_get(properties, "currency");
        const char *code = json_is_string(currency) && json_string_length(currency) == 3
                               ? json_string_value(currency)
                               : "USD";
        char upper[4] = {0};
        for (int i = 0; i < 3; i++)
            upper[i] = (char)(code[i] >= 'a' && code[i] <= 'z' ? code[i] - 32 : code[i]);
        add_order(computed, upper, json_is_number(revenue) ? json_number_value(revenue) : 0.0, 1,
                  time_ms);
        set_newest(computed, "currency", json_string(upper), time_ms);
    }
    cdp_status status = store_computed(profile, computed);
    json_decref(computed);
    return status;
}

static void fold_computed(json_t *into, json_t *from) {
    const char *key;
    json_t *value;
    json_object_foreach(from, key, value) {
        if (strcmp(key, "orders") == 0 && json_is_object(value)) {
            const char *currency;
            json_t *entry;
            json_object_foreach(value, currency, entry) {
                add_order(into, currency, json_number_value(json_object_get(entry, "revenue")),
                          json_integer_value(json_object_get(entry, "count")), 0);
            }
        } else if (strcmp(key, "last_order_at") == 0) {
            json_int_t at = json_integer_value(value);
            if (at > json_integer_value(json_object_get(into, key)))
                json_object_set(into, key, value);
        } else if (json_is_object(value) && json_object_get(value, "at") != NULL) {
            set_newest(into, key, json_incref(json_object_get(value, "value")),
                       json_integer_value(json_object_get(value, "at")));
        }
    }
}

static cdp_status add_merged_from(cdp_profile_record *into, const char *profile_id) {
    for (size_t i = 0; i < into->merged_from_count; i++)
        if (strcmp(into->merged_from[i], profile_id) == 0)
            return CDP_OK;
    if (into->profile_id != NULL && strcmp(into->profile_id, profile_id) == 0)
        return CDP_OK;
    char **grown = cdp_realloc(into->merged_from, (into->merged_from_count + 1) * sizeof *grown);
    if (grown == NULL)
        return CDP_NOMEM;
    into->merged_from = grown;
    grown[into->merged_from_count] = cdp_strdup(profile_id);
    if (grown[into->merged_from_count] == NULL)
        return CDP_NOMEM;
    into->merged_from_count++;
    return CDP_OK;
}

cdp_status cdp_profile_fold(cdp_profile_record *into, const cdp_profile_record *from,
                            const cdp_identity_rules *rules) {
    cdp_status status = CDP_OK;
    for (size_t i = 0; status == CDP_OK && i < from->identity_count; i++) {
        const cdp_identity_entry *entry = &from->identities[i];
        if (cdp_profile_find_identity(into, entry->type, entry->value) < 0)
            status = cdp_profile_add_identity(into, entry->type, entry->value, entry->added_at,
                                              entry->source, entry->message_id);
    }
    for (size_t i = 0; status == CDP_OK && i < from->trait_count; i++)
        status = cdp_profile_apply_trait_entry(into, rules, &from->traits[i]);
    for (size_t i = 0; status == CDP_OK && i < from->channel_count; i++) {
        const cdp_channel_entry *entry = &from->channels[i];
        status = cdp_profile_touch_channel(into, entry->channel, entry->first_seen, 0);
        if (status == CDP_OK)
            status = cdp_profile_touch_channel(into, entry->channel, entry->last_seen,
                                               entry->event_count);
    }
    if (status == CDP_OK && from->computed_json != NULL) {
        json_t *into_computed = load_computed(into);
        json_t *from_computed = json_loads(from->computed_json, 0, NULL);
        if (into_computed != NULL && json_is_object(from_computed)) {
            fold_computed(into_computed, from_computed);
            status = store_computed(into, into_computed);
        }
        json_decref(into_computed);
        json_decref(from_computed);
    }
    if (status == CDP_OK)
        status = add_merged_from(into, from->profile_id);
    for (size_t i = 0; status == CDP_OK && i < from->merged_from_count; i++)
        status = add_merged_from(into, from->merged_from[i]);
    if (from->created_at < into->created_at)
        into->created_at = from->created_at;
    if (from->updated_at > into->updated_at)
        into->updated_at = from->updated_at;
    into->restricted = into->restricted || from->restricted;
    return status;
}
