/* Tests of the policy loader: the shipped regions.json, every refusal with its exact message,
 * and loading under failing allocations. Fixture bundles are written into temp dirs. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "support/testutil.h"
#include "util/alloc.h"

/* A small valid bundle; refusal tests change one thing in it with edited(). */
static const char base_bundle[] =
    "{\"version\": 1, \"default_region\": \"us\", \"regions\": [\n"
    "  {\"id\": \"eu\", \"name\": \"EU\", \"regime\": \"gdpr\", \"default_country\": \"DE\",\n"
    "   \"localised\": false, \"countries\": [\"DE\", \"FR\"], \"country_regimes\": {\"FR\": "
    "\"fadp\"}},\n"
    "  {\"id\": \"us\", \"name\": \"US\", \"regime\": \"us_default\", \"default_country\": "
    "\"US\",\n"
    "   \"localised\": false, \"countries\": [\"US\", \"PR\"], \"subdivisions\": {\"CA\": "
    "\"ccpa\"}}\n"
    "]}\n";

/* base_bundle with each `from` replaced by its `to` (first occurrence, applied in order):
 * edited(2, "\"FR\"", "\"XQ\"", ...). Static storage, overwritten by the next call. */
static const char *edited(int pairs, ...) {
    static char first[8192], second[8192];
    char *current = first, *next = second;
    const char *missing = NULL;
    snprintf(current, sizeof first, "%s", base_bundle);
    va_list args;
    va_start(args, pairs);
    for (int i = 0; i < pairs && missing == NULL; i++) {
        const char *from = va_arg(args, const char *);
        const char *to = va_arg(args, const char *);
        const char *found = strstr(current, from);
        if (found == NULL) {
            missing = from;
            break;
        }
        snprintf(next, sizeof first, "%.*s%s%s", (int)(found - current), current, to,
                 found + strlen(from));
        char *swap = current;
        current = next;
        next = swap;
    }
    va_end(args);
    cr_assert_null(missing, "the fixture has no %s", missing);
    return current;
}

/* The shipped policies/: $CDP_SOURCE_DIR/policies, else found from this file's path. */
static void shipped_dir(char *out, size_t cap) {
    const char *source = getenv("CDP_SOURCE_DIR");
    if (source != NULL && *source != '\0') {
        snprintf(out, cap, "%s/policies", source);
        return;
    }
    char file[4096]; /* .../tests/policy_test.c */
    snprintf(file, sizeof file, "%s", __FILE__);
    char *slash = strrchr(file, '/');
    if (slash == NULL) {
        snprintf(out, cap, "../policies");
        return;
    }
    *slash = '\0';
    if (snprintf(out, cap, "%s/../policies", file) >= (int)cap)
        cr_assert_fail("source path too long");
}

static cdp_policy *load_shipped(void) {
    char dir[4096];
    shipped_dir(dir, sizeof dir);
    cdp_policy *policy = NULL;
    cdp_err err = {0};
    cdp_status status = cdp_policy_load(dir, &policy, &err);
    cr_assert_eq(status, CDP_OK, "loading %s: %s", dir, err.message);
    cr_assert_not_null(policy);
    return policy;
}

/* The privacy files of the bundle (policy/privacy.h) are copied from the shipped policies/,
 * except transfers.json: the fixture has only eu and us, so it gets a rule between them. */
static void add_privacy_files(const char *dir) {
    static const char *const shipped[] = {"categories.json", "purposes.json", "regimes.json",
                                          "retention.json",  "tcf.json",      "roles.json"};
    static const char transfers[] =
        "{\"version\": 1, \"description\": \"fixture\", \"rules\": [{\"from\": \"us\", "
        "\"to\": \"eu\", \"purposes\": [\"support\"], \"basis\": \"unrestricted\"}]}";
    char source[4096], path[4096];
    shipped_dir(source, sizeof source);
    for (size_t i = 0; i < sizeof shipped / sizeof *shipped; i++) {
        char from[4200];
        snprintf(from, sizeof from, "%s/%s", source, shipped[i]);
        size_t len = 0;
        uint8_t *bytes = test_read_file(from, &len);
        cr_assert_not_null(bytes, "cannot read %s", from);
        snprintf(path, sizeof path, "%s/%s", dir, shipped[i]);
        cr_assert_eq(test_write_file(path, bytes, len, 0644), 0);
        free(bytes);
    }
    snprintf(path, sizeof path, "%s/transfers.json", dir);
    cr_assert_eq(test_write_file(path, transfers, strlen(transfers), 0644), 0);
}

/* Writes text as regions.json in a fresh temp dir with the privacy files beside it; caller
 * frees the path with free() after test_rmtree(). */
static char *write_bundle(const char *text) {
    char *dir = test_tempdir("policy");
    cr_assert_not_null(dir);
    add_privacy_files(dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/regions.json", dir);
    cr_assert_eq(test_write_file(path, text, strlen(text), 0644), 0);
    return dir;
}

/* Loads text as a bundle and checks it is refused with exactly `expected` as the message. */
static void expect_refusal(const char *text, const char *expected) {
    char *dir = write_bundle(text);
    cdp_policy *policy = (cdp_policy *)1;
    cdp_err err = {0};
    cdp_status status = cdp_policy_load(dir, &policy, &err);
    test_rmtree(dir);
    free(dir);
    cr_assert_eq(status, CDP_BAD_POLICY, "status %d, message: %s", status, err.message);
    cr_assert_null(policy);
    cr_assert_str_eq(err.message, expected);
}

static cdp_policy *expect_load(const char *text) {
    char *dir = write_bundle(text);
    cdp_policy *policy = NULL;
    cdp_err err = {0};
    cdp_status status = cdp_policy_load(dir, &policy, &err);
    test_rmtree(dir);
    free(dir);
    cr_assert_eq(status, CDP_OK, "%s", err.message);
    cr_assert_str_empty(err.message);
    return policy;
}

/* ---- the shipped bundle ------------------------------------------------------------------- */

Test(policy, shipped_bundle_maps_countries_to_their_regions) {
    cdp_policy *policy = load_shipped();
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "DE"), "eu");
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "GB"), "eu");
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "CH"), "eu");
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "NO"), "eu");
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "US"), "us");
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "PR"), "us");
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "BR"), "br");
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "IN"), "in");
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "CN"), "cn");
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "de"), "eu", "either case is accepted");
    cdp_policy_free(policy);
}

Test(policy, shipped_bundle_sends_valid_unlisted_countries_to_the_default_region) {
    cdp_policy *policy = load_shipped();
    cr_expect_str_eq(cdp_policy_default_region(policy), "us");
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "JP"), "us");
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "jp"), "us");
    cr_expect_null(cdp_policy_region_for_country(policy, "XQ"));
    cr_expect_null(cdp_policy_region_for_country(policy, ""));
    cr_expect_null(cdp_policy_region_for_country(policy, "DEU"));
    cr_expect_null(cdp_policy_region_for_country(policy, NULL));
    cdp_policy_free(policy);
}

Test(policy, shipped_bundle_picks_state_and_country_regimes) {
    cdp_policy *policy = load_shipped();
    cr_expect_str_eq(cdp_policy_regime(policy, "us", "CA"), "ccpa");
    cr_expect_str_eq(cdp_policy_regime(policy, "us", "VA"), "vcdpa");
    cr_expect_str_eq(cdp_policy_regime(policy, "us", "TX"), "tdpsa");
    cr_expect_str_eq(cdp_policy_regime(policy, "us", NULL), "us_default");
    cr_expect_str_eq(cdp_policy_regime(policy, "us", "WY"), "us_default");
    cr_expect_str_eq(cdp_policy_regime(policy, "eu", NULL), "gdpr");
    cr_expect_str_eq(cdp_policy_regime(policy, "br", NULL), "lgpd");
    cr_expect_str_eq(cdp_policy_regime(policy, "in", NULL), "dpdp");
    cr_expect_str_eq(cdp_policy_regime(policy, "cn", NULL), "pipl");
    cr_expect_null(cdp_policy_regime(policy, "zz", NULL));
    cr_expect_str_eq(cdp_policy_regime_for_country(policy, "eu", "GB", NULL), "uk_gdpr");
    cr_expect_str_eq(cdp_policy_regime_for_country(policy, "eu", "ch", NULL), "fadp");
    cr_expect_str_eq(cdp_policy_regime_for_country(policy, "eu", "DE", NULL), "gdpr");
    cr_expect_str_eq(cdp_policy_regime_for_country(policy, "us", "US", "CA"), "ccpa");
    cr_expect_str_eq(cdp_policy_regime_for_country(policy, "us", "GB", NULL), "us_default",
                     "a country's regime applies only inside its own region");
    cdp_policy_free(policy);
}

Test(policy, shipped_bundle_keeps_cn_localised_and_lists_valid_codes) {
    cdp_policy *policy = load_shipped();
    cr_assert_eq(cdp_policy_region_count(policy), 5);
    const char *ids[] = {"eu", "us", "br", "in", "cn"};
    for (size_t i = 0; i < 5; i++) {
        const cdp_region_policy *region = cdp_policy_region_at(policy, i);
        cr_assert_not_null(region);
        cr_expect_str_eq(region->id, ids[i]);
        cr_expect_eq(region->localised, strcmp(ids[i], "cn") == 0, "%s localised", ids[i]);
        cr_expect(cdp_iso3166_valid(region->default_country));
        cr_expect_gt(region->country_count, 0);
        for (size_t c = 0; c < region->country_count; c++)
            cr_expect(cdp_iso3166_valid(region->countries[c]), "%s", region->countries[c]);
    }
    cr_expect_null(cdp_policy_region_at(policy, 5));
    cr_expect_eq(cdp_policy_region(policy, "cn")->localised, 1);
    cr_expect_str_eq(cdp_policy_region(policy, "eu")->default_country, "DE");
    cr_expect_eq(cdp_policy_region(policy, "eu")->country_count, 39,
                 "EU27, outermost, EEA, GB, CH");
    cr_expect_null(cdp_policy_region(policy, "xx"));
    cdp_policy_free(policy);
}

Test(policy, iso3166_valid_accepts_upper_case_alpha2_only) {
    cr_expect(cdp_iso3166_valid("DE"));
    cr_expect(cdp_iso3166_valid("AD"), "first in the table");
    cr_expect(cdp_iso3166_valid("ZW"), "last in the table");
    cr_expect_not(cdp_iso3166_valid("de"));
    cr_expect_not(cdp_iso3166_valid("XQ"));
    cr_expect_not(cdp_iso3166_valid("D"));
    cr_expect_not(cdp_iso3166_valid("DEU"));
    cr_expect_not(cdp_iso3166_valid(""));
    cr_expect_not(cdp_iso3166_valid(NULL));
}

Test(policy, base_fixture_loads_with_its_country_regime_and_subdivision) {
    cdp_policy *policy = expect_load(base_bundle);
    cr_expect_str_eq(cdp_policy_regime_for_country(policy, "eu", "FR", NULL), "fadp");
    cr_expect_str_eq(cdp_policy_regime_for_country(policy, "eu", "DE", NULL), "gdpr");
    cr_expect_str_eq(cdp_policy_regime(policy, "us", "ca"), "ccpa");
    cr_expect_str_eq(cdp_policy_region_for_country(policy, "PR"), "us");
    cdp_policy_free(policy);
}

Test(policy, minimal_bundle_loads_without_optional_keys) {
    cdp_policy *policy = expect_load(edited(2, ", \"country_regimes\": {\"FR\": \"fadp\"}", "",
                                            ", \"subdivisions\": {\"CA\": \"ccpa\"}", ""));
    const cdp_region_policy *us = cdp_policy_region(policy, "us");
    cr_assert_not_null(us);
    cr_expect_eq(us->subdivision_count, 0);
    cr_expect_str_eq(cdp_policy_regime(policy, "us", "CA"), "us_default");
    cr_expect_str_eq(cdp_policy_regime_for_country(policy, "eu", "FR", NULL), "gdpr");
    cdp_policy_free(policy);
}

/* ---- refusals, each with its exact message ------------------------------------------------ */

Test(policy, refuses_unknown_country_code) {
    expect_refusal(edited(1, "[\"US\", \"PR\"]", "[\"US\", \"XQ\"]"),
                   "regions.json: regions[1].countries[1]: unknown ISO 3166-1 alpha-2 code \"XQ\"");
}

Test(policy, refuses_lower_case_country_code) {
    expect_refusal(edited(1, "[\"US\", \"PR\"]", "[\"US\", \"pr\"]"),
                   "regions.json: regions[1].countries[1]: country code \"pr\" must be upper case");
}

Test(policy, refuses_duplicate_region_id) {
    expect_refusal(edited(2, "\"default_region\": \"us\"", "\"default_region\": \"eu\"",
                          "\"id\": \"us\"", "\"id\": \"eu\""),
                   "regions.json: regions[1].id: duplicate region \"eu\" (first at regions[0])");
}

Test(policy, refuses_country_listed_in_two_regions) {
    expect_refusal(edited(1, "[\"US\", \"PR\"]", "[\"US\", \"DE\"]"),
                   "regions.json: regions[1].countries[1]: country \"DE\" is already in region "
                   "\"eu\" (regions[0].countries[0])");
}

Test(policy, refuses_country_listed_twice_in_one_region) {
    expect_refusal(edited(1, "[\"US\", \"PR\"]", "[\"US\", \"US\"]"),
                   "regions.json: regions[1].countries[1]: country \"US\" is listed twice (first "
                   "at regions[1].countries[0])");
}

Test(policy, refuses_misspelt_region_key_instead_of_ignoring_it) {
    expect_refusal(edited(1, "\"countries\": [\"US\"", "\"contries\": [\"US\""),
                   "regions.json: regions[1]: unknown key \"contries\" (did you mean "
                   "\"countries\"?)\n"
                   "regions.json: regions[1]: missing required key \"countries\"");
}

Test(policy, refuses_unknown_top_level_key) {
    expect_refusal(edited(1, "\"version\": 1,", "\"version\": 1, \"comment\": \"x\","),
                   "regions.json: top level: unknown key \"comment\"");
}

Test(policy, refuses_region_id_that_is_not_two_to_eight_lower_case_letters) {
    expect_refusal(edited(1, "\"id\": \"eu\"", "\"id\": \"EU\""),
                   "regions.json: regions[0].id: invalid region id \"EU\" (expected 2 to 8 "
                   "letters a-z)");
    expect_refusal(edited(1, "\"id\": \"eu\"", "\"id\": \"europeanu\""),
                   "regions.json: regions[0].id: invalid region id \"europeanu\" (expected 2 to 8 "
                   "letters a-z)");
}

Test(policy, refuses_default_region_that_is_not_a_region) {
    expect_refusal(edited(1, "\"default_region\": \"us\"", "\"default_region\": \"br\""),
                   "regions.json: default_region: \"br\" is not one of the regions");
}

Test(policy, refuses_missing_default_region) {
    expect_refusal(edited(1, "\"default_region\": \"us\", ", ""),
                   "regions.json: top level: missing required key \"default_region\"");
}

Test(policy, refuses_invalid_json_naming_line_and_column) {
    expect_refusal("{\"version\": 1,\n"
                   " \"default_region\": \"us\",\n"
                   " \"regions\": [\n"
                   " }\n",
                   "regions.json: line 4, column 2: invalid JSON: unexpected token near '}'");
}

Test(policy, refuses_duplicate_json_key) {
    expect_refusal(edited(1, "\"version\": 1,", "\"version\": 1, \"version\": 1,"),
                   "regions.json: line 1, column 24: invalid JSON: duplicate object key near "
                   "'\"version\"'");
}

Test(policy, refuses_wrong_types) {
    expect_refusal(edited(5, "\"version\": 1", "\"version\": \"1\"",
                          "\"localised\": false, \"countries\": [\"DE\"",
                          "\"localised\": \"no\", \"countries\": [\"DE\"", "\"name\": \"US\"",
                          "\"name\": 5", "[\"US\", \"PR\"]", "[\"US\", 7]",
                          "\"subdivisions\": {\"CA\": \"ccpa\"}", "\"subdivisions\": [\"CA\"]"),
                   "regions.json: version: must be an integer, not a string\n"
                   "regions.json: regions[0].localised: must be true or false, not a string\n"
                   "regions.json: regions[1].name: must be a string, not an integer\n"
                   "regions.json: regions[1].countries[1]: must be a string, not an integer\n"
                   "regions.json: regions[1].subdivisions: must be an object, not an array");
}

Test(policy, refuses_top_level_that_is_not_an_object) {
    expect_refusal("[]", "regions.json: top level: must be an object, not an array");
    expect_refusal("{\"version\": 1, \"default_region\": \"us\", \"regions\": {}}",
                   "regions.json: regions: must be an array, not an object");
}

Test(policy, refuses_empty_regions_array) {
    expect_refusal("{\"version\": 1, \"default_region\": \"us\", \"regions\": []}",
                   "regions.json: regions: must not be empty");
}

Test(policy, refuses_empty_countries_array) {
    expect_refusal(edited(1, "[\"US\", \"PR\"]", "[]"),
                   "regions.json: regions[1].default_country: country \"US\" is not in this "
                   "region's countries\n"
                   "regions.json: regions[1].countries: must not be empty");
}

Test(policy, refuses_unsupported_version) {
    expect_refusal(edited(1, "\"version\": 1", "\"version\": 2"),
                   "regions.json: version: unsupported version 2 (expected 1)");
    expect_refusal(edited(1, "\"version\": 1, ", ""),
                   "regions.json: top level: missing required key \"version\"");
}

Test(policy, refuses_bad_subdivision_codes_and_regime_names) {
    expect_refusal(
        edited(1, "{\"CA\": \"ccpa\"}", "{\"ca\": \"ccpa\", \"TX\": \"TDPSA\", \"NEWY\": \"nyp\"}"),
        "regions.json: regions[1].subdivisions.ca: subdivision code \"ca\" must be upper "
        "case\n"
        "regions.json: regions[1].subdivisions.TX: invalid regime name \"TDPSA\" "
        "(expected 2 to 32 of a-z and _)\n"
        "regions.json: regions[1].subdivisions.NEWY: invalid subdivision code \"NEWY\" "
        "(expected 1 to 3 of A-Z and 0-9)");
    expect_refusal(edited(1, "\"regime\": \"gdpr\"", "\"regime\": \"g\""),
                   "regions.json: regions[0].regime: invalid regime name \"g\" (expected 2 to 32 "
                   "of a-z and _)");
}

Test(policy, refuses_default_country_that_is_unknown_or_outside_its_region) {
    expect_refusal(edited(1, "\"default_country\": \"DE\"", "\"default_country\": \"US\""),
                   "regions.json: regions[0].default_country: country \"US\" is not in this "
                   "region's countries");
    expect_refusal(edited(1, "\"default_country\": \"DE\"", "\"default_country\": \"XQ\""),
                   "regions.json: regions[0].default_country: unknown ISO 3166-1 alpha-2 code "
                   "\"XQ\"");
}

Test(policy, refuses_country_regime_for_a_country_outside_its_region) {
    expect_refusal(edited(1, "{\"FR\": \"fadp\"}", "{\"US\": \"fadp\"}"),
                   "regions.json: regions[0].country_regimes.US: country \"US\" is not in this "
                   "region's countries");
}

Test(policy, refuses_missing_file) {
    char *dir = test_tempdir("policy");
    cr_assert_not_null(dir);
    cdp_policy *policy = NULL;
    cdp_err err = {0};
    cdp_status status = cdp_policy_load(dir, &policy, &err);
    char expected[4 * 1024];
    size_t used = 0;
    const char *files[] = {"regions.json",   "categories.json", "purposes.json",
                           "regimes.json",   "transfers.json",  "retention.json",
                           "tcf.json",       "roles.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        used += (size_t)snprintf(expected + used, sizeof expected - used,
                                 "%s%s: cannot read: %s/%s: No such file or directory",
                                 i ? "\n" : "", files[i], dir, files[i]);
    test_rmtree(dir);
    free(dir);
    cr_assert_eq(status, CDP_BAD_POLICY);
    cr_assert_null(policy);
    cr_assert_str_eq(err.message, expected);
}

Test(policy, refuses_file_larger_than_one_mebibyte) {
    size_t size = (1u << 20) + 1;
    char *text = malloc(size + 1);
    cr_assert_not_null(text);
    memset(text, ' ', size);
    memcpy(text, base_bundle, strlen(base_bundle));
    text[size] = '\0';
    char *dir = write_bundle(text);
    free(text);
    cdp_policy *policy = NULL;
    cdp_err err = {0};
    cdp_status status = cdp_policy_load(dir, &policy, &err);
    char expected[4200];
    snprintf(expected, sizeof expected,
             "regions.json: cannot read: %s/regions.json: larger than 1048576 bytes", dir);
    test_rmtree(dir);
    free(dir);
    cr_assert_eq(status, CDP_BAD_POLICY);
    cr_assert_null(policy);
    cr_assert_str_eq(err.message, expected);
}

Test(policy, reports_all_three_errors_of_one_bundle) {
    expect_refusal(edited(3, "\"version\": 1", "\"version\": 2", "\"id\": \"eu\"",
                          "\"id\": \"e u\"", "[\"US\", \"PR\"]", "[\"US\", \"XQ\"]"),
                   "regions.json: version: unsupported version 2 (expected 1)\n"
                   "regions.json: regions[0].id: invalid region id \"e u\" (expected 2 to 8 "
                   "letters a-z)\n"
                   "regions.json: regions[1].countries[1]: unknown ISO 3166-1 alpha-2 code "
                   "\"XQ\"");
}

Test(policy, escapes_hostile_keys_so_each_error_stays_one_line) {
    expect_refusal(edited(1, "\"version\": 1,", "\"version\": 1, \"x\\n\\\"y\": 1,"),
                   "regions.json: top level: unknown key \"x\\x0a\\\"y\"");
}

Test(policy, bounds_the_message_when_errors_do_not_fit) {
    char countries[4096] = "[\"US\"";
    size_t used = strlen(countries);
    for (int i = 0; i < 300; i++)
        used += (size_t)snprintf(countries + used, sizeof countries - used, ", \"XQ\"");
    snprintf(countries + used, sizeof countries - used, "]");
    char *dir = write_bundle(edited(1, "[\"US\", \"PR\"]", countries));
    cdp_policy *policy = NULL;
    cdp_err err = {0};
    cdp_status status = cdp_policy_load(dir, &policy, &err);
    test_rmtree(dir);
    free(dir);
    cr_assert_eq(status, CDP_BAD_POLICY);
    cr_assert_lt(strlen(err.message), sizeof err.message - 1);
    size_t shown = 0;
    for (const char *line = err.message; line != NULL; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, "regions.json: regions[1].countries[", 35) == 0)
            shown++;
    }
    const char *trailer = strrchr(err.message, '\n');
    cr_assert_not_null(trailer);
    unsigned long dropped = 0;
    cr_assert_eq(sscanf(trailer, "\n(%lu more problems not shown)", &dropped), 1, "%s", trailer);
    cr_expect_gt(shown, 0);
    cr_expect_eq(shown + dropped, 300);
}

/* ---- API edges ---------------------------------------------------------------------------- */

Test(policy, accepts_null_err_and_null_policy) {
    char *dir = write_bundle(base_bundle);
    cdp_policy *policy = NULL;
    cr_expect_eq(cdp_policy_load(dir, &policy, NULL), CDP_OK);
    cdp_policy_free(policy);
    test_rmtree(dir);
    free(dir);
    dir = write_bundle("[]");
    policy = NULL;
    cr_expect_eq(cdp_policy_load(dir, &policy, NULL), CDP_BAD_POLICY);
    cr_expect_null(policy);
    test_rmtree(dir);
    free(dir);
    cdp_policy_free(NULL);
    cr_expect_eq(cdp_policy_region_count(NULL), 0);
    cr_expect_null(cdp_policy_region_at(NULL, 0));
    cr_expect_null(cdp_policy_region(NULL, "eu"));
    cr_expect_null(cdp_policy_default_region(NULL));
    cr_expect_null(cdp_policy_region_for_country(NULL, "DE"));
    cr_expect_null(cdp_policy_regime(NULL, "eu", NULL));
}

Test(policy, refuses_null_arguments_as_misuse) {
    cdp_policy *policy = NULL;
    cdp_err err = {0};
    cr_expect_eq(cdp_policy_load(NULL, &policy, &err), CDP_MISUSE);
    cr_expect_eq(cdp_policy_load("/nonexistent", NULL, &err), CDP_MISUSE);
}

/* ---- failing allocations ------------------------------------------------------------------ */

/* Loads dir with the Nth allocation failing, for every N until one load runs to completion:
 * each attempt ends in CDP_NOMEM with nothing returned, or in `final`. ASan reports leaks. */
static void load_with_failing_allocations(const char *dir, cdp_status final) {
    long attempt = 0;
    for (;; attempt++) {
        cr_assert_lt(attempt, 10000, "never completed");
        cdp_policy *policy = (cdp_policy *)1;
        cdp_err err = {0};
        cdp_alloc_fail_after(attempt);
        cdp_status status = cdp_policy_load(dir, &policy, &err);
        cdp_alloc_fail_reset();
        if (status == CDP_NOMEM) {
            cr_assert_null(policy);
            const char *colon = strchr(err.message, ':');
            cr_assert(colon != NULL && strcmp(colon, ": out of memory") == 0 &&
                          (size_t)(colon - err.message) > strlen(".json") &&
                          strncmp(colon - 5, ".json", 5) == 0,
                      "%s", err.message);
            continue;
        }
        cr_assert_eq(status, final, "attempt %ld: %s", attempt, err.message);
        if (final == CDP_OK) {
            cr_assert_str_eq(cdp_policy_region_for_country(policy, "DE"), "eu");
            cr_assert_str_eq(cdp_policy_regime(policy, "us", "CA"), "ccpa");
        } else {
            cr_assert_null(policy);
        }
        cdp_policy_free(policy);
        break;
    }
    cr_assert_gt(attempt, 0, "the first allocation was never made to fail");
}

Test(policy, survives_allocation_failure_at_every_step_of_a_good_load) {
    char dir[4096];
    shipped_dir(dir, sizeof dir);
    load_with_failing_allocations(dir, CDP_OK);
}

Test(policy, survives_allocation_failure_at_every_step_of_a_refused_load) {
    char *dir = write_bundle(
        edited(2, "\"version\": 1", "\"version\": 3", "[\"US\", \"PR\"]", "[\"US\", \"XQ\"]"));
    load_with_failing_allocations(dir, CDP_BAD_POLICY);
    test_rmtree(dir);
    free(dir);
}
