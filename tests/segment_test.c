/* Tests of the Segment Spec parser: SDK-shaped messages of every type, every refusal with its
 * exact message, the size and depth limits, the generated message id, the time parser, and
 * parsing under failing allocations. Fixture messages are inline. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity/segment.h"
#include "support/testutil.h"
#include "util/alloc.h"
#include "util/bytes.h"

/* ---- fixtures: messages as the SDKs send them ---------------------------------------------- */

/* @segment/analytics-node 2.x: messageId "node-next-...", _metadata, context.library. */
static const char analytics_node_track[] =
    "{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":\"user-8412\","
    "\"anonymousId\":\"3d9c1b1a-27a4-4b8f-9a53-0c4f1f3b7e21\","
    "\"properties\":{\"order_id\":\"50314b8e9bcf000000000000\",\"total\":27.5,"
    "\"currency\":\"EUR\",\"products\":[{\"product_id\":\"507f1f77bcf86cd799439011\","
    "\"sku\":\"45790-32\",\"name\":\"Monopoly: 3rd Edition\",\"price\":19,\"quantity\":1}]},"
    "\"context\":{\"library\":{\"name\":\"@segment/analytics-node\",\"version\":\"2.1.0\"},"
    "\"traits\":{\"email\":\"ada@example.com\"},\"ip\":\"203.0.113.9\"},"
    "\"_metadata\":{\"jsRuntime\":\"node\",\"nodeVersion\":\"20.10.0\"},"
    "\"integrations\":{},\"timestamp\":\"2026-11-23T10:00:00.123Z\","
    "\"messageId\":\"node-next-1795428000123-6f1a2b3c-4d5e-4f60-8a71-92b3c4d5e6f7\"}";

/* rudder-sdk-node 2.x: channel at the top, originalTimestamp and sentAt, integrations.All. */
static const char rudder_node_identify[] =
    "{\"type\":\"identify\",\"userId\":\"u-1\",\"anonymousId\":\"a-1\","
    "\"traits\":{\"name\":\"Ada Lovelace\",\"email\":\"Ada@Example.com\","
    "\"phone\":\"+47 22 33 44 55\",\"address\":{\"city\":\"Oslo\",\"country\":\"no\"}},"
    "\"context\":{\"library\":{\"name\":\"analytics-node\",\"version\":\"2.0.1\"},"
    "\"locale\":\"nb-NO\",\"timezone\":\"Europe/Oslo\"},"
    "\"_metadata\":{\"nodeVersion\":\"20.10.0\"},\"integrations\":{\"All\":true},"
    "\"channel\":\"server\",\"originalTimestamp\":\"2026-11-23T10:00:00.000Z\","
    "\"sentAt\":\"2026-11-23T10:00:01.000Z\","
    "\"messageId\":\"node-8b2f4c1e0d9a4b7c9e6f5a4b3c2d1e0f\"}";

/* analytics.js (ajs-next): userId null, category, context.page. */
static const char analytics_js_page[] =
    "{\"type\":\"page\",\"name\":\"Pricing\",\"category\":\"Docs\","
    "\"properties\":{\"path\":\"/pricing\",\"referrer\":\"\",\"search\":\"\","
    "\"title\":\"Pricing\",\"url\":\"https://example.com/pricing\"},"
    "\"userId\":null,\"anonymousId\":\"b6f1d1f4-0f5e-4a2e-9d3c-2b1a0f9e8d7c\","
    "\"context\":{\"page\":{\"path\":\"/pricing\",\"url\":\"https://example.com/pricing\"},"
    "\"userAgent\":\"Mozilla/5.0\",\"locale\":\"en-US\","
    "\"library\":{\"name\":\"analytics.js\",\"version\":\"npm:next-1.62.0\"}},"
    "\"integrations\":{},\"timestamp\":\"2026-11-23T10:00:00.000Z\","
    "\"sentAt\":\"2026-11-23T10:00:00.050Z\",\"messageId\":\"ajs-next-1795428000000-4c2b\"}";

/* analytics-ios / rudder-ios: device id, location, offset without a colon. */
static const char mobile_screen[] =
    "{\"type\":\"screen\",\"name\":\"Home\",\"anonymousId\":\"D6B5A2C1-0E9F-4B8A-8C7D-"
    "6E5F4A3B2C1D\","
    "\"properties\":{\"name\":\"Home\"},"
    "\"context\":{\"device\":{\"id\":\"A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D\","
    "\"manufacturer\":\"Apple\",\"model\":\"iPhone15,2\",\"type\":\"ios\"},"
    "\"os\":{\"name\":\"iOS\",\"version\":\"17.1\"},\"location\":{\"country\":\"Norway\"},"
    "\"locale\":\"nb-NO\",\"timezone\":\"Europe/Oslo\","
    "\"library\":{\"name\":\"analytics-ios\",\"version\":\"4.1.8\"}},"
    "\"originalTimestamp\":\"2026-11-23T11:00:00.123+0100\","
    "\"messageId\":\"8F2C1B0A-9E8D-4C7B-A6F5-E4D3C2B1A098\"}";

/* group: the traits are the company's; the person's come from context.traits. */
static const char node_group[] =
    "{\"type\":\"group\",\"groupId\":\"g-77\",\"userId\":\"u-1\","
    "\"traits\":{\"name\":\"Initech\",\"email\":\"billing@initech.example\","
    "\"phone\":\"+1 555 0100\",\"address\":{\"country\":\"US\"},\"employees\":329},"
    "\"context\":{\"library\":{\"name\":\"analytics-node\",\"version\":\"2.0.1\"},"
    "\"traits\":{\"email\":\"ada@example.com\"}},"
    "\"timestamp\":\"2026-11-23T10:00:00Z\",\"messageId\":\"node-group-1\"}";

static const char node_alias[] =
    "{\"type\":\"alias\",\"previousId\":\"anon-39\",\"userId\":\"u-1\","
    "\"context\":{\"library\":{\"name\":\"analytics-node\",\"version\":\"2.0.1\"}},"
    "\"timestamp\":\"2026-11-23T10:00:00Z\",\"messageId\":\"node-alias-1\"}";

/* ---- helpers ------------------------------------------------------------------------------ */

static json_t *load(const char *text) {
    json_error_t error;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &error);
    cr_assert_not_null(root, "fixture does not parse: %s (line %d)", error.text, error.line);
    return root;
}

/* Decodes and parses text; the message keeps its own reference to the JSON. */
static cdp_status parse_text(const char *text, const char *hint, cdp_segment_message *m,
                             cdp_err *err) {
    json_t *root = NULL;
    cdp_status status = cdp_segment_decode_json(text, strlen(text), &root, err);
    if (status != CDP_OK) {
        memset(m, 0, sizeof *m);
        return status;
    }
    status = cdp_segment_parse(root, hint, m, err);
    json_decref(root);
    return status;
}

static void parse_ok(const char *text, const char *hint, cdp_segment_message *m) {
    cdp_err err = {0};
    cdp_status status = parse_text(text, hint, m, &err);
    cr_assert_eq(status, CDP_OK, "parse: %s (%s)", err.message, cdp_strerror(status));
}

static const cdp_raw_identifier *find_id(const cdp_segment_message *m, const char *type,
                                         int is_previous) {
    for (size_t i = 0; i < m->identifier_count; i++)
        if (strcmp(m->identifiers[i].type, type) == 0 &&
            m->identifiers[i].is_previous == is_previous)
            return &m->identifiers[i];
    return NULL;
}

static void assert_id(const cdp_segment_message *m, const char *type, int is_previous,
                      const char *value, const char *field) {
    const cdp_raw_identifier *id = find_id(m, type, is_previous);
    cr_assert_not_null(id, "no %s identifier", type);
    cr_assert_str_eq(id->value, value, "%s value", type);
    cr_assert_eq(id->value_len, strlen(value), "%s length", type);
    cr_assert_str_eq(id->field, field, "%s field", type);
}

static void assert_refused(const char *text, const char *hint, cdp_status want,
                           const char *message) {
    cdp_segment_message m;
    cdp_err err = {0};
    cdp_status status = parse_text(text, hint, &m, &err);
    cr_assert_eq(status, want, "status %s for %s (%s)", cdp_status_code(status), text, err.message);
    cr_assert_str_eq(err.message, message, "for %s", text);
    cr_assert_null(m.root, "a refused message holds no reference");
    cr_assert_eq(m.identifier_count, 0);
}

static const char minimal_track[] =
    "{\"type\":\"track\",\"event\":\"Signed Up\",\"userId\":\"u-1\"";
static const char *track_with(const char *member) {
    static char text[1 << 16];
    snprintf(text, sizeof text, "%s,%s}", minimal_track, member);
    return text;
}

/* ---- SDK-shaped messages ----------------------------------------------------------------- */

Test(segment, analytics_node_track_yields_ids_event_properties_and_time) {
    cdp_segment_message m;
    parse_ok(analytics_node_track, NULL, &m);
    cr_assert_eq(m.type, CDP_SEGMENT_TRACK);
    cr_assert_str_eq(m.type_name, "track");
    cr_assert_str_eq(m.event, "Order Completed");
    cr_assert_str_eq(m.message_id, "node-next-1795428000123-6f1a2b3c-4d5e-4f60-8a71-92b3c4d5e6f7");
    cr_assert_eq(m.timestamp, 1795428000123);
    cr_assert_eq(m.sent_at, 0);
    cr_assert_eq(m.identifier_count, 3);
    assert_id(&m, "user_id", 0, "user-8412", "userId");
    assert_id(&m, "anonymous_id", 0, "3d9c1b1a-27a4-4b8f-9a53-0c4f1f3b7e21", "anonymousId");
    assert_id(&m, "email", 0, "ada@example.com", "context.traits.email");
    cr_assert_not_null(m.properties);
    cr_assert_str_eq(json_string_value(json_object_get(m.properties, "currency")), "EUR");
    cr_assert_not_null(m.context);
    cr_assert_eq(m.traits, json_object_get(m.context, "traits"), "track's traits: context.traits");
    cr_assert_null(m.name);
    cr_assert_null(m.country);
    cdp_segment_message_clear(&m);
}

Test(segment, rudder_node_identify_yields_email_phone_country_and_channel) {
    cdp_segment_message m;
    parse_ok(rudder_node_identify, NULL, &m);
    cr_assert_eq(m.type, CDP_SEGMENT_IDENTIFY);
    cr_assert_eq(m.identifier_count, 4);
    assert_id(&m, "user_id", 0, "u-1", "userId");
    assert_id(&m, "anonymous_id", 0, "a-1", "anonymousId");
    assert_id(&m, "email", 0, "Ada@Example.com", "traits.email"); /* raw: not normalized here */
    assert_id(&m, "phone", 0, "+47 22 33 44 55", "traits.phone");
    cr_assert_str_eq(m.country, "NO");
    cr_assert_str_eq(m.channel, "server");
    cr_assert_str_eq(m.locale, "nb-NO");
    cr_assert_str_eq(m.timezone, "Europe/Oslo");
    cr_assert_eq(m.timestamp, 1795428000000, "originalTimestamp when no timestamp");
    cr_assert_eq(m.sent_at, 1795428001000);
    cr_assert_str_eq(json_string_value(json_object_get(m.traits, "name")), "Ada Lovelace");
    cr_assert_null(m.properties);
    cdp_segment_message_clear(&m);
}

Test(segment, analytics_js_page_keeps_name_and_treats_null_user_id_as_absent) {
    cdp_segment_message m;
    parse_ok(analytics_js_page, NULL, &m);
    cr_assert_eq(m.type, CDP_SEGMENT_PAGE);
    cr_assert_str_eq(m.name, "Pricing");
    cr_assert_eq(m.identifier_count, 1);
    assert_id(&m, "anonymous_id", 0, "b6f1d1f4-0f5e-4a2e-9d3c-2b1a0f9e8d7c", "anonymousId");
    cr_assert_str_eq(json_string_value(json_object_get(m.properties, "path")), "/pricing");
    cr_assert_str_eq(m.locale, "en-US");
    cr_assert_eq(m.sent_at, 1795428000050);
    cdp_segment_message_clear(&m);
}

Test(segment, mobile_screen_yields_device_id_and_country_from_a_name) {
    cdp_segment_message m;
    parse_ok(mobile_screen, NULL, &m);
    cr_assert_eq(m.type, CDP_SEGMENT_SCREEN);
    cr_assert_str_eq(m.name, "Home");
    assert_id(&m, "anonymous_id", 0, "D6B5A2C1-0E9F-4B8A-8C7D-6E5F4A3B2C1D", "anonymousId");
    assert_id(&m, "device_id", 0, "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D", "context.device.id");
    cr_assert_eq(m.identifier_count, 2);
    cr_assert_str_eq(m.country, "NO");
    cr_assert_eq(m.timestamp, 1795428000123, "+0100 offset");
    cdp_segment_message_clear(&m);
}

Test(segment, group_does_not_take_group_traits_as_person_identifiers) {
    cdp_segment_message m;
    parse_ok(node_group, NULL, &m);
    cr_assert_eq(m.type, CDP_SEGMENT_GROUP);
    cr_assert_str_eq(m.group_id, "g-77");
    cr_assert_eq(m.identifier_count, 2);
    assert_id(&m, "user_id", 0, "u-1", "userId");
    assert_id(&m, "email", 0, "ada@example.com", "context.traits.email");
    cr_assert_null(find_id(&m, "phone", 0), "the company's phone is not the person's");
    cr_assert_null(m.country, "the company's address is not the person's");
    cr_assert_str_eq(json_string_value(json_object_get(m.traits, "name")), "Initech",
                     "traits: the group's");
    cdp_segment_message_clear(&m);
}

Test(segment, alias_yields_previous_and_user_ids) {
    cdp_segment_message m;
    parse_ok(node_alias, NULL, &m);
    cr_assert_eq(m.type, CDP_SEGMENT_ALIAS);
    cr_assert_eq(m.identifier_count, 2);
    assert_id(&m, "user_id", 0, "u-1", "userId");
    assert_id(&m, "user_id", 1, "anon-39", "previousId");
    cdp_segment_message_clear(&m);
}

Test(segment, external_ids_yield_typed_identifiers_with_indexed_fields) {
    cdp_segment_message m;
    parse_ok(track_with("\"context\":{\"externalIds\":["
                        "{\"id\":\"L-991\",\"type\":\"loyalty_id\",\"collection\":\"users\","
                        "\"encoding\":\"none\"},"
                        "{\"id\":12345,\"type\":\"crm_id\",\"collection\":\"users\"},"
                        "{\"id\":\"ada@example.com\",\"type\":\"email\"}]}"),
             NULL, &m);
    cr_assert_eq(m.identifier_count, 4);
    assert_id(&m, "loyalty_id", 0, "L-991", "context.externalIds[0].id");
    assert_id(&m, "crm_id", 0, "12345", "context.externalIds[1].id");
    assert_id(&m, "email", 0, "ada@example.com", "context.externalIds[2].id");
    cdp_segment_message_clear(&m);
}

Test(segment, numeric_ids_become_decimal_text) {
    cdp_segment_message m;
    parse_ok("{\"type\":\"identify\",\"userId\":9007199254740993,\"anonymousId\":-42,"
             "\"traits\":{\"phone\":4722334455}}",
             NULL, &m);
    assert_id(&m, "user_id", 0, "9007199254740993", "userId");
    assert_id(&m, "anonymous_id", 0, "-42", "anonymousId");
    assert_id(&m, "phone", 0, "4722334455", "traits.phone");
    cdp_segment_message_clear(&m);

    parse_ok("{\"type\":\"group\",\"userId\":42.0,\"groupId\":7}", NULL, &m);
    assert_id(&m, "user_id", 0, "42", "userId");
    cr_assert_str_eq(m.group_id, "7");
    cdp_segment_message_clear(&m);

    assert_refused("{\"type\":\"identify\",\"userId\":4.5}", NULL, CDP_BAD_REQUEST,
                   "userId: a number must be an integer");
}

Test(segment, empty_strings_and_nulls_count_as_absent) {
    cdp_segment_message m;
    parse_ok("{\"type\":\"identify\",\"userId\":\"\",\"anonymousId\":\"a-1\",\"messageId\":\"\","
             "\"traits\":{\"email\":null,\"phone\":\"\"},\"context\":null,\"properties\":null}",
             NULL, &m);
    cr_assert_eq(m.identifier_count, 1);
    assert_id(&m, "anonymous_id", 0, "a-1", "anonymousId");
    cr_assert_eq(strncmp(m.message_id, "gen-", 4), 0, "empty messageId: one is generated");
    cr_assert_null(m.context);
    cdp_segment_message_clear(&m);
}

Test(segment, identify_without_top_level_traits_reads_context_traits) {
    cdp_segment_message m;
    parse_ok("{\"type\":\"identify\",\"userId\":\"u-1\",\"context\":{\"traits\":"
             "{\"email\":\"ada@example.com\",\"address\":{\"country\":\"SE\"}}}}",
             NULL, &m);
    assert_id(&m, "email", 0, "ada@example.com", "context.traits.email");
    cr_assert_str_eq(m.country, "SE");
    cdp_segment_message_clear(&m);
}

Test(segment, type_hint_fills_a_missing_type_and_must_agree_with_a_present_one) {
    cdp_segment_message m;
    parse_ok("{\"userId\":\"u-1\",\"traits\":{\"email\":\"ada@example.com\"}}", "identify", &m);
    cr_assert_eq(m.type, CDP_SEGMENT_IDENTIFY);
    cr_assert_str_eq(m.type_name, "identify");
    cdp_segment_message_clear(&m);
    parse_ok(analytics_node_track, "track", &m);
    cr_assert_eq(m.type, CDP_SEGMENT_TRACK);
    cdp_segment_message_clear(&m);
    assert_refused(analytics_node_track, "identify", CDP_BAD_REQUEST,
                   "type: \"track\" does not match the route (identify)");
    assert_refused(analytics_node_track, "Track", CDP_MISUSE,
                   "type_hint: not a Segment message type");
}

Test(segment, country_accepts_codes_in_any_case_and_common_names_only) {
    static const struct {
        const char *country;
        const char *want; /* NULL: no country */
    } cases[] = {
        {"no", "NO"},
        {"NO", "NO"},
        {" de ", "DE"},
        {"Norway", "NO"},
        {"united states", "US"},
        {"United Kingdom", "GB"},
        {"UK", "GB"},
        {"T\xc3\xbcrkiye", "TR"},
        {"XX", NULL},
        {"Narnia", NULL},
        {"", NULL},
        {"N", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char member[256];
        snprintf(member, sizeof member, "\"context\":{\"location\":{\"country\":\"%s\"}}",
                 cases[i].country);
        cdp_segment_message m;
        parse_ok(track_with(member), NULL, &m);
        if (cases[i].want == NULL)
            cr_assert_null(m.country, "%s", cases[i].country);
        else
            cr_assert_str_eq(m.country, cases[i].want, "%s", cases[i].country);
        cdp_segment_message_clear(&m);
    }
}

Test(segment, country_falls_through_to_the_next_source_and_ignores_wrong_shapes) {
    cdp_segment_message m;
    parse_ok("{\"type\":\"identify\",\"userId\":\"u-1\",\"traits\":{\"address\":"
             "{\"country\":\"Narnia\"}},\"context\":{\"location\":{\"country\":7},"
             "\"traits\":{\"address\":{\"country\":\"fi\"}}}}",
             NULL, &m);
    cr_assert_str_eq(m.country, "FI");
    cdp_segment_message_clear(&m);
    parse_ok(track_with("\"context\":{\"location\":\"Oslo\",\"locale\":5,\"channel\":\"web\"}"),
             NULL, &m);
    cr_assert_null(m.country);
    cr_assert_null(m.locale);
    cr_assert_str_eq(m.channel, "web", "context.channel when there is no top-level channel");
    cdp_segment_message_clear(&m);
}

Test(segment, timestamp_falls_back_in_the_documented_order) {
    cdp_segment_message m;
    parse_ok(track_with("\"receivedAt\":\"2026-11-23T10:00:02Z\","
                        "\"sentAt\":\"2026-11-23T10:00:01Z\""),
             NULL, &m);
    cr_assert_eq(m.timestamp, 1795428002000, "receivedAt before sentAt");
    cr_assert_eq(m.sent_at, 1795428001000);
    cdp_segment_message_clear(&m);
    parse_ok(track_with("\"sentAt\":\"2026-11-23T10:00:01Z\""), NULL, &m);
    cr_assert_eq(m.timestamp, 1795428001000);
    cdp_segment_message_clear(&m);
    parse_ok(track_with("\"timestamp\":\"2026-11-23T10:00:00Z\","
                        "\"originalTimestamp\":\"2026-11-23T09:00:00Z\""),
             NULL, &m);
    cr_assert_eq(m.timestamp, 1795428000000, "timestamp first");
    cdp_segment_message_clear(&m);

    struct timespec before;
    clock_gettime(CLOCK_REALTIME, &before);
    parse_ok(track_with("\"properties\":{}"), NULL, &m);
    int64_t before_ms = (int64_t)before.tv_sec * 1000 + before.tv_nsec / 1000000;
    cr_assert(m.timestamp >= before_ms && m.timestamp < before_ms + 60000,
              "no time at all: the time of parsing");
    cdp_segment_message_clear(&m);
}

/* ---- refusals ---------------------------------------------------------------------------- */

Test(segment, refusals_name_the_field_and_the_reason) {
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"{\"event\":\"x\",\"userId\":\"u\"}", "type: required"},
        {"{\"type\":\"purchase\",\"userId\":\"u\"}",
         "type: unknown (expected identify, track, page, screen, group or alias)"},
        {"{\"type\":\"Track\",\"userId\":\"u\"}",
         "type: unknown (expected identify, track, page, screen, group or alias)"},
        {"{\"type\":7,\"userId\":\"u\"}", "type: must be a string"},
        {"{\"type\":\"track\",\"event\":\"x\"}", "userId: required (or anonymousId)"},
        {"{\"type\":\"identify\",\"userId\":\"\",\"anonymousId\":null}",
         "userId: required (or anonymousId)"},
        {"{\"type\":\"identify\",\"userId\":true}", "userId: must be a string or a number"},
        {"{\"type\":\"identify\",\"anonymousId\":{\"id\":1}}",
         "anonymousId: must be a string or a number"},
        {"{\"type\":\"track\",\"userId\":\"u\"}", "event: required for track"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"\"}", "event: required for track"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":42}", "event: must be a string"},
        {"{\"type\":\"alias\",\"userId\":\"u\"}", "previousId: required for alias"},
        {"{\"type\":\"alias\",\"previousId\":\"p\",\"anonymousId\":\"a\"}",
         "userId: required for alias"},
        {"{\"type\":\"group\",\"userId\":\"u\"}", "groupId: required for group"},
        {"{\"type\":\"group\",\"userId\":\"u\",\"groupId\":[1]}",
         "groupId: must be a string or a number"},
        {"{\"type\":\"identify\",\"userId\":\"u\",\"traits\":\"vip\"}",
         "traits: must be an object"},
        {"{\"type\":\"identify\",\"userId\":\"u\",\"traits\":[]}", "traits: must be an object"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"properties\":1}",
         "properties: must be an object"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":\"c\"}",
         "context: must be an object"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"integrations\":[]}",
         "integrations: must be an object"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":{\"traits\":1}}",
         "context.traits: must be an object"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":{\"device\":\"d\"}}",
         "context.device: must be an object"},
        {"{\"type\":\"identify\",\"userId\":\"u\",\"traits\":{\"email\":[\"a@b.example\"]}}",
         "traits.email: must be a string or a number"},
        {"{\"type\":\"page\",\"userId\":\"u\",\"name\":3}", "name: must be a string"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"timestamp\":\"yesterday\"}",
         "timestamp: not an ISO-8601 time (e.g. 2026-11-23T10:00:00.000Z, years 2000..2100)"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"sentAt\":1795428000}",
         "sentAt: not an ISO-8601 time (e.g. 2026-11-23T10:00:00.000Z, years 2000..2100)"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
         "\"originalTimestamp\":\"2026-11-23\"}",
         "originalTimestamp: not an ISO-8601 time (e.g. 2026-11-23T10:00:00.000Z, years "
         "2000..2100)"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"messageId\":7}",
         "messageId: must be a string"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":"
         "{\"externalIds\":{\"id\":\"1\"}}}",
         "context.externalIds: must be an array"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":"
         "{\"externalIds\":[{\"id\":\"1\",\"type\":\"crm\"},\"x\"]}}",
         "context.externalIds[1]: must be an object"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":"
         "{\"externalIds\":[{\"id\":\"1\",\"type\":\"crm\"},{\"id\":\"2\",\"type\":\"Loyalty\"}]}}",
         "context.externalIds[1].type: must match [a-z][a-z0-9_]*"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":"
         "{\"externalIds\":[{\"id\":\"1\",\"type\":\"ios.idfa\"}]}}",
         "context.externalIds[0].type: must match [a-z][a-z0-9_]*"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":"
         "{\"externalIds\":[{\"id\":\"1\",\"type\":\"_crm\"}]}}",
         "context.externalIds[0].type: must match [a-z][a-z0-9_]*"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":"
         "{\"externalIds\":[{\"id\":\"1\",\"type\":\"a23456789012345678901234567890123\"}]}}",
         "context.externalIds[0].type: longer than 32 bytes"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":"
         "{\"externalIds\":[{\"id\":\"1\"}]}}",
         "context.externalIds[0].type: required"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":"
         "{\"externalIds\":[{\"id\":\"1\",\"type\":5}]}}",
         "context.externalIds[0].type: must be a string"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":"
         "{\"externalIds\":[{\"type\":\"crm_id\",\"id\":\"\"}]}}",
         "context.externalIds[0].id: required"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\",\"context\":"
         "{\"externalIds\":[{\"type\":\"crm_id\",\"id\":false}]}}",
         "context.externalIds[0].id: must be a string or a number"},
        {"[{\"type\":\"track\"}]", "message: must be an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_refused(cases[i].text, NULL, CDP_BAD_REQUEST, cases[i].message);
}

Test(segment, a_32_character_id_type_is_accepted) {
    cdp_segment_message m;
    parse_ok(track_with("\"context\":{\"externalIds\":[{\"id\":\"1\","
                        "\"type\":\"a2345678901234567890123456789012\"}]}"),
             NULL, &m);
    assert_id(&m, "a2345678901234567890123456789012", 0, "1", "context.externalIds[0].id");
    cdp_segment_message_clear(&m);
}

Test(segment, event_name_and_message_id_lengths_are_bounded) {
    char member[512], name[260];
    memset(name, 'e', 200);
    name[200] = '\0';
    snprintf(member, sizeof member, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"%s\"}", name);
    cdp_segment_message m;
    parse_ok(member, NULL, &m);
    cr_assert_eq(strlen(m.event), 200);
    cdp_segment_message_clear(&m);
    snprintf(member, sizeof member, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"%se\"}",
             name);
    assert_refused(member, NULL, CDP_BAD_REQUEST, "event: longer than 200 bytes");

    char id[120];
    memset(id, 'm', 100);
    id[100] = '\0';
    snprintf(member, sizeof member, "\"messageId\":\"%s\"", id);
    parse_ok(track_with(member), NULL, &m);
    cr_assert_eq(strlen(m.message_id), 100);
    cdp_segment_message_clear(&m);
    snprintf(member, sizeof member, "\"messageId\":\"%sm\"", id);
    assert_refused(track_with(member), NULL, CDP_BAD_REQUEST, "messageId: longer than 100 bytes");
}

/* userId + anonymousId + n external ids. */
static const char *many_ids(int external) {
    static char text[16384];
    int used =
        snprintf(text, sizeof text,
                 "{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\",\"anonymousId\":\"a\","
                 "\"context\":{\"externalIds\":[");
    for (int i = 0; i < external; i++)
        used += snprintf(text + used, sizeof text - (size_t)used,
                         "%s{\"id\":\"%d\",\"type\":\"crm_id\"}", i ? "," : "", i);
    snprintf(text + used, sizeof text - (size_t)used, "]}}");
    return text;
}

Test(segment, more_than_64_identifiers_are_refused) {
    cdp_segment_message m;
    parse_ok(many_ids(CDP_SEGMENT_IDENTIFIERS_MAX - 2), NULL, &m);
    cr_assert_eq(m.identifier_count, CDP_SEGMENT_IDENTIFIERS_MAX);
    assert_id(&m, "user_id", 0, "u", "userId");
    cr_assert_str_eq(m.identifiers[63].field, "context.externalIds[61].id");
    cr_assert_str_eq(m.identifiers[63].value, "61");
    cdp_segment_message_clear(&m);
    assert_refused(many_ids(CDP_SEGMENT_IDENTIFIERS_MAX - 1), NULL, CDP_BAD_REQUEST,
                   "message: more than 64 identifiers");
}

Test(segment, refusals_never_echo_personal_values) {
    cdp_segment_message m;
    cdp_err err = {0};
    const char *secret = "ada.secret@example.com";
    char text[512];
    snprintf(text, sizeof text, "{\"type\":\"identify\",\"userId\":\"%s\",\"timestamp\":\"%s\"}",
             secret, secret);
    cr_assert_eq(parse_text(text, NULL, &m, &err), CDP_BAD_REQUEST);
    cr_assert_null(strstr(err.message, "ada.secret"), "%s", err.message);
    /* jansson quotes the token it stopped at; the decoder drops the quote. */
    snprintf(text, sizeof text, "{\"email\": \"ada@x.io");
    cr_assert_eq(parse_text(text, NULL, &m, &err), CDP_INVALID_JSON);
    cr_assert_null(strstr(err.message, "ada@"), "%s", err.message);
    snprintf(text, sizeof text, "{\"email\": ada@x.io}");
    cr_assert_eq(parse_text(text, NULL, &m, &err), CDP_INVALID_JSON);
    cr_assert_null(strstr(err.message, "ada"), "%s", err.message);
}

Test(segment, err_may_be_null_and_out_is_cleared_on_error) {
    json_t *root = load("{\"type\":\"track\",\"userId\":\"u\"}");
    cdp_segment_message m;
    memset(&m, 0xA5, sizeof m);
    cr_assert_eq(cdp_segment_parse(root, NULL, &m, NULL), CDP_BAD_REQUEST);
    cr_assert_null(m.root);
    cr_assert_eq(m.identifier_count, 0);
    cr_assert_eq(root->refcount, 1, "no reference kept by a refused message");
    json_decref(root);
    cr_assert_eq(cdp_segment_parse(NULL, NULL, &m, NULL), CDP_MISUSE);
    cdp_segment_message_clear(&m); /* zeroed: fine */
    cdp_segment_message_clear(NULL);
    json_t *out = NULL;
    cr_assert_eq(cdp_segment_decode_json("{", 1, &out, NULL), CDP_INVALID_JSON);
    cr_assert_null(out);
}

Test(segment, message_holds_its_own_reference_until_cleared) {
    json_t *root = load(analytics_node_track);
    cdp_segment_message m;
    cr_assert_eq(cdp_segment_parse(root, NULL, &m, NULL), CDP_OK);
    cr_assert_eq(root->refcount, 2);
    json_decref(root);
    cr_assert_str_eq(m.event, "Order Completed", "still readable after the caller's decref");
    cdp_segment_message_clear(&m);
    cr_assert_null(m.root);
}

/* ---- size ---------------------------------------------------------------------------------- */

/* A message whose compact dump is exactly `size` bytes: a padding string sized to fit, with
 * escapes, control characters, multi-byte UTF-8 and (optionally) reals in it. */
static json_t *message_of_size(size_t size, int with_reals) {
    json_t *root = load("{\"type\":\"track\",\"event\":\"Sized\",\"userId\":\"u-1\","
                        "\"properties\":{\"esc\":\"a\\\"b\\\\c\\n\\u0001\\u001f/\","
                        "\"utf8\":\"\xc3\xa6\xc3\xb8\xc3\xa5 \xe2\x82\xac \xf0\x9f\x98\x80\","
                        "\"ints\":[0,-1,9223372036854775807,-9223372036854775808],"
                        "\"flags\":[true,false,null],\"empty\":{},\"none\":[],"
                        "\"nested\":{\"a\":{\"b\":[{\"c\":1}]}}}}");
    json_t *properties = json_object_get(root, "properties");
    if (with_reals) {
        json_object_set_new(properties, "price", json_real(19.99));
        json_object_set_new(properties, "tiny", json_real(-1.5e-300));
        json_object_set_new(properties, "whole", json_real(3.0));
    }
    json_object_set_new(properties, "pad", json_string(""));
    size_t base = json_dumpb(root, NULL, 0, JSON_COMPACT);
    cr_assert(base > 0 && base <= size);
    char *pad = malloc(size - base + 1);
    memset(pad, 'p', size - base);
    pad[size - base] = '\0';
    json_object_set_new(properties, "pad", json_string(pad));
    free(pad);
    cr_assert_eq(json_dumpb(root, NULL, 0, JSON_COMPACT), size);
    return root;
}

static void assert_size_limit(int with_reals) {
    cdp_segment_message m;
    cdp_err err = {0};
    json_t *root = message_of_size(CDP_SEGMENT_EVENT_MAX, with_reals);
    cr_assert_eq(cdp_segment_parse(root, NULL, &m, &err), CDP_OK, "%s", err.message);
    cdp_segment_message_clear(&m);
    json_decref(root);

    root = message_of_size(CDP_SEGMENT_EVENT_MAX + 1, with_reals);
    cr_assert_eq(cdp_segment_parse(root, NULL, &m, &err), CDP_PAYLOAD_TOO_LARGE);
    cr_assert_str_eq(err.message, "message: larger than 32768 bytes");
    cr_assert_null(m.root);
    json_decref(root);
}

Test(segment, message_of_exactly_32_kb_passes_and_one_byte_more_is_payload_too_large) {
    assert_size_limit(0);
}

Test(segment, size_limit_is_exact_with_reals_in_the_message) { assert_size_limit(1); }

Test(segment, message_far_over_32_kb_is_refused_before_anything_else) {
    json_t *root = load("{\"properties\":{}}"); /* no type: the size comes first */
    char *big = malloc(100001);
    memset(big, 'x', 100000);
    big[100000] = '\0';
    json_object_set_new(json_object_get(root, "properties"), "big", json_string(big));
    free(big);
    cdp_segment_message m;
    cdp_err err = {0};
    cr_assert_eq(cdp_segment_parse(root, NULL, &m, &err), CDP_PAYLOAD_TOO_LARGE);
    cr_assert_str_eq(err.message, "message: larger than 32768 bytes");
    json_decref(root);
}

/* ---- decode_json ------------------------------------------------------------------------- */

static void assert_decode_refused(const char *body, size_t len, cdp_status want,
                                  const char *message) {
    json_t *out = (json_t *)1;
    cdp_err err = {0};
    cdp_status status = cdp_segment_decode_json(body, len, &out, &err);
    cr_assert_eq(status, want, "status %s (%s)", cdp_status_code(status), err.message);
    cr_assert_str_eq(err.message, message);
    cr_assert_null(out);
}

Test(segment, decode_reports_invalid_json_with_line_and_column) {
    const char body[] = "{\n  \"type\": \"track\",\n  \"event\": }";
    assert_decode_refused(body, strlen(body), CDP_INVALID_JSON,
                          "body: invalid JSON at line 3, column 12: unexpected token");
    assert_decode_refused("", 0, CDP_INVALID_JSON,
                          "body: invalid JSON at line 1, column 0: '[' or '{' expected near end "
                          "of file");
    assert_decode_refused("\"track\"", 7, CDP_INVALID_JSON,
                          "body: invalid JSON at line 1, column 7: '[' or '{' expected");
    assert_decode_refused("{} {}", 5, CDP_INVALID_JSON,
                          "body: invalid JSON at line 1, column 4: end of file expected");
}

Test(segment, decode_refuses_duplicate_keys) {
    const char body[] = "{\"userId\":\"a\",\n\"userId\":\"b\"}";
    assert_decode_refused(body, strlen(body), CDP_INVALID_JSON,
                          "body: duplicate object key at line 2, column 8");
}

Test(segment, decode_refuses_invalid_utf8) {
    const char body[] = "{\"userId\":\"\xff\xfe\"}";
    assert_decode_refused(body, strlen(body), CDP_INVALID_JSON,
                          "body: invalid UTF-8 at line 1, column 11 (byte 11)");
    const char overlong[] = "{\"userId\":\"\xc0\xaf\"}"; /* overlong '/' */
    json_t *out = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_segment_decode_json(overlong, strlen(overlong), &out, &err), CDP_INVALID_JSON);
    cr_assert_eq(strncmp(err.message, "body: invalid UTF-8", 19), 0, "%s", err.message);
    const char surrogate[] = "{\"userId\":\"\\ud800\"}"; /* lone surrogate escape */
    cr_assert_eq(cdp_segment_decode_json(surrogate, strlen(surrogate), &out, &err),
                 CDP_INVALID_JSON);
}

static char *nested_arrays(int depth) {
    char *body = malloc((size_t)depth * 2 + 1);
    memset(body, '[', (size_t)depth);
    memset(body + depth, ']', (size_t)depth);
    body[depth * 2] = '\0';
    return body;
}

Test(segment, decode_accepts_64_levels_and_refuses_65) {
    char *body = nested_arrays(64);
    json_t *out = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_segment_decode_json(body, strlen(body), &out, &err), CDP_OK, "%s",
                 err.message);
    json_decref(out);
    free(body);
    body = nested_arrays(65);
    assert_decode_refused(body, strlen(body), CDP_INVALID_JSON,
                          "body: nesting deeper than 64 levels");
    free(body);
    body = nested_arrays(3000); /* past jansson's own limit of 2048 */
    assert_decode_refused(body, strlen(body), CDP_INVALID_JSON,
                          "body: nesting deeper than 64 levels");
    free(body);
}

Test(segment, parse_refuses_a_message_nested_deeper_than_64_levels) {
    char *inner = nested_arrays(64);
    char *text = malloc(strlen(inner) + 100);
    sprintf(text, "{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\",\"properties\":{\"a\":%s}}",
            inner);
    json_t *root = load(text); /* built without our decoder's limit */
    cdp_segment_message m;
    cdp_err err = {0};
    cr_assert_eq(cdp_segment_parse(root, NULL, &m, &err), CDP_BAD_REQUEST);
    cr_assert_str_eq(err.message, "message: nesting deeper than 64 levels");
    json_decref(root);
    free(text);
    free(inner);
}

Test(segment, decode_refuses_a_body_over_500_kb_before_parsing) {
    size_t len = CDP_SEGMENT_BATCH_MAX + 1;
    char *body = malloc(len);
    memset(body, 'x', len); /* not JSON: proves the size is checked first */
    assert_decode_refused(body, len, CDP_PAYLOAD_TOO_LARGE, "body: larger than 512000 bytes");
    /* exactly the limit is fine */
    len = CDP_SEGMENT_BATCH_MAX;
    memset(body, ' ', len);
    memcpy(body, "{\"batch\":[]}", 12);
    json_t *out = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_segment_decode_json(body, len, &out, &err), CDP_OK, "%s", err.message);
    json_decref(out);
    free(body);
}

Test(segment, decoded_batch_messages_parse_one_by_one) {
    char body[8192];
    snprintf(body, sizeof body, "{\"batch\":[%s,%s,%s],\"sentAt\":\"2026-11-23T10:00:01Z\"}",
             analytics_node_track, node_alias, node_group);
    json_t *root = NULL;
    cdp_err err = {0};
    cr_assert_eq(cdp_segment_decode_json(body, strlen(body), &root, &err), CDP_OK, "%s",
                 err.message);
    size_t index;
    json_t *message;
    cdp_segment_type want[] = {CDP_SEGMENT_TRACK, CDP_SEGMENT_ALIAS, CDP_SEGMENT_GROUP};
    json_t *batch = json_object_get(root, "batch");
    cr_assert_eq(json_array_size(batch), 3);
    json_array_foreach(batch, index, message) {
        if (index >= 3)
            break;
        cdp_segment_message m;
        cr_assert_eq(cdp_segment_parse(message, NULL, &m, &err), CDP_OK, "%s", err.message);
        cr_assert_eq(m.type, want[index]);
        cdp_segment_message_clear(&m);
    }
    json_decref(root);
}

/* ---- generated message id ---------------------------------------------------------------- */

Test(segment, generated_id_is_stable_across_key_order_and_retries) {
    cdp_segment_message a, b, c, d;
    parse_ok("{\"type\":\"track\",\"event\":\"Signed Up\",\"userId\":\"u-1\","
             "\"properties\":{\"plan\":\"pro\",\"seats\":3,\"price\":19.5},"
             "\"timestamp\":\"2026-11-23T10:00:00Z\",\"sentAt\":\"2026-11-23T10:00:01Z\"}",
             NULL, &a);
    parse_ok("{\"sentAt\":\"2026-11-23T10:05:00Z\",\"timestamp\":\"2026-11-23T10:00:00Z\","
             "\"properties\":{\"price\":19.5,\"seats\":3,\"plan\":\"pro\"},"
             "\"userId\":\"u-1\",\"event\":\"Signed Up\",\"type\":\"track\","
             "\"receivedAt\":\"2026-11-23T10:05:01Z\"}",
             NULL, &b);
    parse_ok("{\"type\":\"track\",\"event\":\"Signed Up\",\"userId\":\"u-1\","
             "\"properties\":{\"plan\":\"pro\",\"seats\":4,\"price\":19.5},"
             "\"timestamp\":\"2026-11-23T10:00:00Z\"}",
             NULL, &c);
    cr_assert_eq(a.message_id, a.generated_id);
    cr_assert_eq(strlen(a.message_id), 4 + 32);
    cr_assert_eq(strncmp(a.message_id, "gen-", 4), 0);
    cr_assert_str_eq(a.message_id, b.message_id, "same event, other key order and sentAt");
    cr_assert_str_neq(a.message_id, c.message_id, "another event");

    /* It is BLAKE2b of jansson's compact sorted dump without sentAt and receivedAt. */
    json_t *copy = json_copy(a.root);
    json_object_del(copy, "sentAt");
    char *dump = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned char digest[crypto_generichash_BYTES];
    crypto_generichash(digest, sizeof digest, (const unsigned char *)dump, strlen(dump), NULL, 0);
    char want[64] = "gen-";
    cdp_hex_encode(want + 4, digest, 16);
    cr_assert_str_eq(a.message_id, want);
    free(dump);
    json_decref(copy);

    /* Keys that need escaping hash as jansson writes them. */
    parse_ok("{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\",\"we\\\"ird\\n\\u0001\":1}",
             NULL, &d);
    dump = json_dumps(d.root, JSON_COMPACT | JSON_SORT_KEYS);
    crypto_generichash(digest, sizeof digest, (const unsigned char *)dump, strlen(dump), NULL, 0);
    cdp_hex_encode(want + 4, digest, 16);
    cr_assert_str_eq(d.message_id, want);
    free(dump);

    cdp_segment_message_clear(&a);
    cdp_segment_message_clear(&b);
    cdp_segment_message_clear(&c);
    cdp_segment_message_clear(&d);
}

/* ---- time parser ------------------------------------------------------------------------- */

Test(segment, time_parser_accepts_rfc3339_and_refuses_the_rest) {
    static const struct {
        const char *text;
        int64_t ms;
    } valid[] = {
        {"2026-11-23T10:00:00Z", 1795428000000},
        {"2026-11-23T10:00:00z", 1795428000000},
        {"2026-11-23t10:00:00Z", 1795428000000},
        {"2026-11-23 10:00:00Z", 1795428000000},
        {"2026-11-23T10:00:00.123Z", 1795428000123},
        {"2026-11-23T10:00:00.1Z", 1795428000100},
        {"2026-11-23T10:00:00.12Z", 1795428000120},
        {"2026-11-23T10:00:00+01:00", 1795424400000},
        {"2026-11-23T10:00:00+0100", 1795424400000},
        {"2026-11-23T10:00:00-0500", 1795446000000},
        {"2026-11-23T10:00:00-05:00", 1795446000000},
        {"2026-11-23T10:00:00+00:00", 1795428000000},
        {"2026-11-23T10:00:00-00:00", 1795428000000},
        {"2026-11-23T10:00:00.123456789+02:00", 1795420800123},
        {"2026-11-23T10:00:00.999999Z", 1795428000999},
        {"2026-03-01T00:00:00+14:00", 1772272800000},
        {"2000-01-01T00:00:00Z", 946684800000},
        {"2000-02-29T00:00:00Z", 951782400000},
        {"2024-02-29T12:30:45.5Z", 1709209845500},
        {"2100-12-31T23:59:59.999Z", 4133980799999},
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        int64_t ms = -1;
        cr_assert_eq(cdp_segment_parse_time(valid[i].text, &ms), 0, "%s", valid[i].text);
        cr_assert_eq(ms, valid[i].ms, "%s: %lld", valid[i].text, (long long)ms);
    }
    static const char *const invalid[] = {
        "2026-11-23",           /* a timestamp needs a time */
        "2026-11-23T10:00:00",  /* and a zone */
        "2026-11-23T10:00Z",    /* and seconds */
        "2100-02-29T00:00:00Z", /* 2100 is not a leap year */
        "2026-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-23T24:00:00Z",
        "2026-11-23T10:60:00Z",
        "2026-11-23T10:00:60Z", /* leap seconds refused */
        "1999-12-31T23:59:59Z", /* years 2000..2100 */
        "2101-01-01T00:00:00Z",
        "2026-11-23T10:00:00.Z",
        "2026-11-23T10:00:00.1234567890Z", /* more than nanoseconds */
        "2026-11-23T10:00:00,123Z",
        "2026-11-23T10:00:00+1",
        "2026-11-23T10:00:00+01",
        "2026-11-23T10:00:00+01:0",
        "2026-11-23T10:00:00+24:00",
        "2026-11-23T10:00:00+01:60",
        "2026-11-23T10:00:00Z ",
        " 2026-11-23T10:00:00Z",
        "2026-11-23T10:00:00ZZ",
        "26-11-23T10:00:00Z",
        "2026/11/23T10:00:00Z",
        "2026-1-23T10:00:00Z",
        "+2026-11-23T10:00:00Z",
        "1795428000",
        "",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        int64_t ms = 7;
        cr_assert_eq(cdp_segment_parse_time(invalid[i], &ms), -1, "%s", invalid[i]);
        cr_assert_eq(ms, 7, "unchanged on failure: %s", invalid[i]);
    }
    int64_t ms;
    cr_assert_eq(cdp_segment_parse_time(NULL, &ms), -1);
}

Test(segment, time_parser_counts_every_day_of_the_range_without_gaps) {
    /* Midnight UTC of every day 2000-01-01..2100-12-31 is exactly one day after the last. */
    int64_t expected = 946684800000;
    const int days_in[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int year = 2000; year <= 2100; year++) {
        int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        for (int month = 1; month <= 12; month++) {
            int days = days_in[month - 1] + (month == 2 && leap);
            for (int day = 1; day <= days; day++) {
                char text[32];
                snprintf(text, sizeof text, "%04d-%02d-%02dT00:00:00Z", year, month, day);
                int64_t ms = 0;
                cr_assert_eq(cdp_segment_parse_time(text, &ms), 0, "%s", text);
                cr_assert_eq(ms, expected, "%s", text);
                expected += 86400000;
            }
        }
    }
}

/* ---- allocation failure ------------------------------------------------------------------ */

/* jansson allocates through cdp_malloc here, so every allocation of decode and parse (the
 * generated id's sorted keys and dump) can be made to fail. */
Test(segment, decode_and_parse_survive_every_allocation_failure) {
    json_set_alloc_funcs(cdp_malloc, cdp_free);
    const char *text = "{\"type\":\"identify\",\"userId\":\"u-1\",\"traits\":{\"email\":"
                       "\"ada@example.com\",\"address\":{\"country\":\"NO\"},\"tags\":[1,2.5,"
                       "{\"k\":\"v\"}]},\"context\":{\"externalIds\":[{\"id\":7,"
                       "\"type\":\"crm_id\"}]}}";
    int succeeded = 0;
    long n;
    for (n = 0; n < 5000 && !succeeded; n++) {
        json_t *root = NULL;
        cdp_segment_message m;
        memset(&m, 0, sizeof m);
        cdp_err err = {0};
        cdp_alloc_fail_after(n);
        cdp_status status = cdp_segment_decode_json(text, strlen(text), &root, &err);
        if (status == CDP_OK)
            status = cdp_segment_parse(root, NULL, &m, &err);
        cdp_alloc_fail_reset();
        if (status == CDP_OK) {
            succeeded = 1;
            cr_assert_eq(m.identifier_count, 3);
            assert_id(&m, "crm_id", 0, "7", "context.externalIds[0].id");
            cr_assert_eq(strncmp(m.message_id, "gen-", 4), 0);
        } else {
            /* jansson reports some failed allocations as a bad token */
            cr_assert(status == CDP_NOMEM || status == CDP_INVALID_JSON, "n=%ld: %s (%s)", n,
                      cdp_status_code(status), err.message);
            cr_assert_null(m.root);
        }
        cdp_segment_message_clear(&m);
        json_decref(root);
    }
    cr_assert(succeeded, "never succeeded");
    cr_assert_gt(n, 10, "the loop ran through failures first");

    /* parse alone, failing from its first allocation: the generated id needs memory */
    json_t *root = NULL;
    cr_assert_eq(cdp_segment_decode_json(text, strlen(text), &root, NULL), CDP_OK);
    cdp_segment_message m;
    cdp_err err = {0};
    cdp_alloc_fail_after(0);
    cdp_status status = cdp_segment_parse(root, NULL, &m, &err);
    cdp_alloc_fail_reset();
    cr_assert_eq(status, CDP_NOMEM, "%s", err.message);
    cr_assert_null(m.root);
    cr_assert_eq(root->refcount, 1);
    json_decref(root);
    json_set_alloc_funcs(malloc, free);
}
