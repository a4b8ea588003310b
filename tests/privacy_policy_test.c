/* Tests of the privacy half of the policy bundle (policy/privacy.h): the shipped files load,
 * every refusal names "file: path: reason" and refuses the whole bundle, the lookups answer
 * from the files, and the access decision matches an independent oracle on every cell of the
 * decision table. The oracle reads the shipped JSON itself (not through the loader) and states
 * the rules as a table of principles with priorities. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/policy.h"
#include "policy/privacy.h"
#include "support/testutil.h"

static const char *const bundle_files[] = {
    "regions.json",   "categories.json", "purposes.json", "regimes.json",  "transfers.json",
    "retention.json", "tcf.json",        "roles.json",    "identity.json", "audit.json"};
#define BUNDLE_FILE_COUNT (sizeof bundle_files / sizeof *bundle_files)

/* ---- helpers ------------------------------------------------------------------------------ */

static void shipped_dir(char *out, size_t cap) {
    const char *source = getenv("CDP_SOURCE_DIR");
    if (source != NULL && *source != '\0') {
        snprintf(out, cap, "%s/policies", source);
        return;
    }
    char file[4096];
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

/* A file's text, NUL-terminated; caller frees with free(). */
static char *read_text(const char *dir, const char *name) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len = 0;
    uint8_t *bytes = test_read_file(path, &len);
    cr_assert_not_null(bytes, "cannot read %s", path);
    char *text = malloc(len + 1);
    cr_assert_not_null(text);
    memcpy(text, bytes, len);
    text[len] = '\0';
    free(bytes);
    return text;
}

static void write_text(const char *dir, const char *name, const char *text) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(test_write_file(path, text, strlen(text), 0644), 0);
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

/* A temp copy of the shipped bundle; caller frees with free() after test_rmtree(). */
static char *copy_bundle(void) {
    char source[4096];
    shipped_dir(source, sizeof source);
    char *dir = test_tempdir("privacy");
    cr_assert_not_null(dir);
    for (size_t i = 0; i < BUNDLE_FILE_COUNT; i++) {
        char *text = read_text(source, bundle_files[i]);
        write_text(dir, bundle_files[i], text);
        free(text);
    }
    return dir;
}

/* Replaces the first `from` in dir/file with `to`; the fixture must contain it. */
static void corrupt(const char *dir, const char *file, const char *from, const char *to) {
    char *text = read_text(dir, file);
    char *found = strstr(text, from);
    cr_assert_not_null(found, "%s has no %s", file, from);
    size_t len = strlen(text) - strlen(from) + strlen(to);
    char *edited = malloc(len + 1);
    cr_assert_not_null(edited);
    snprintf(edited, len + 1, "%.*s%s%s", (int)(found - text), text, to, found + strlen(from));
    write_text(dir, file, edited);
    free(edited);
    free(text);
}

/* Loads dir, expects the bundle refused with exactly `expected`, removes dir. */
static void expect_refused(char *dir, const char *expected) {
    cdp_policy *policy = (cdp_policy *)1;
    cdp_err err = {0};
    cdp_status status = cdp_policy_load(dir, &policy, &err);
    test_rmtree(dir);
    free(dir);
    cr_assert_eq(status, CDP_BAD_POLICY, "status %d, message: %s", status, err.message);
    cr_assert_null(policy, "a refused bundle must not be returned");
    cr_assert_str_eq(err.message, expected);
}

/* One corruption of one file of the shipped bundle, refused with exactly `expected`. */
static void refuse_edit(const char *file, const char *from, const char *to, const char *expected) {
    char *dir = copy_bundle();
    corrupt(dir, file, from, to);
    expect_refused(dir, expected);
}

/* ---- the shipped bundle ------------------------------------------------------------------- */

Test(privacy_load, shipped_bundle_loads_with_every_file) {
    cdp_policy *policy = load_shipped();
    cr_expect_geq(cdp_policy_purpose_count(policy), 7);
    const char *purposes[] = {"personalization", "marketing", "analytics",
                              "advertising",     "support",   "fraud_prevention",
                              "legal_obligation"};
    for (size_t i = 0; i < 7; i++)
        cr_expect_not_null(cdp_policy_purpose(policy, purposes[i]), "%s", purposes[i]);
    cr_expect_null(cdp_policy_purpose(policy, "sensitive_data"), "the CPRA limit is no purpose");
    cr_expect_eq(cdp_policy_purpose(policy, "advertising")->sale_share, 1);
    cr_expect_eq(cdp_policy_purpose(policy, "marketing")->sale_share, 0);
    const cdp_purpose_policy *legal = cdp_policy_purpose(policy, "legal_obligation");
    cr_expect_eq(legal->category_count, cdp_policy_category_count(policy),
                 "legal_obligation may use every category");
    cr_expect_str_eq(cdp_policy_purpose(policy, "support")->bases[0], "contract");
    cr_expect_str_eq(cdp_policy_purpose(policy, "fraud_prevention")->bases[0],
                     "legitimate_interest");
    const char *sensitive[] = {"health",
                               "ethnicity",
                               "religion",
                               "biometrics",
                               "precise_geolocation",
                               "sexual_orientation",
                               "political_opinions",
                               "genetic",
                               "union_membership",
                               "criminal_records",
                               "children"};
    for (size_t i = 0; i < 11; i++) {
        const cdp_category_policy *category = cdp_policy_category(policy, sensitive[i]);
        cr_assert_not_null(category, "%s", sensitive[i]);
        cr_expect_eq(category->sensitive, 1, "%s", sensitive[i]);
    }
    const char *plain[] = {"contact",  "identifiers", "demographic", "financial",
                           "location", "behavioural", "preferences", "unclassified"};
    for (size_t i = 0; i < 8; i++) {
        const cdp_category_policy *category = cdp_policy_category(policy, plain[i]);
        cr_assert_not_null(category, "%s", plain[i]);
        cr_expect_eq(category->sensitive, 0, "%s", plain[i]);
    }
    cr_expect_str_eq(cdp_policy_unmapped_category(policy), "unclassified");
    cdp_policy_free(policy);
}

Test(privacy_load, every_regime_regions_json_names_is_in_regimes_json) {
    cdp_policy *policy = load_shipped();
    size_t checked = 0;
    for (size_t r = 0; r < cdp_policy_region_count(policy); r++) {
        const cdp_region_policy *region = cdp_policy_region_at(policy, r);
        cr_expect_not_null(cdp_policy_regime_by_id(policy, region->regime), "%s", region->regime);
        checked++;
        for (size_t s = 0; s < region->subdivision_count; s++, checked++)
            cr_expect_not_null(cdp_policy_regime_by_id(policy, region->subdivisions[s].regime),
                               "%s", region->subdivisions[s].regime);
        for (size_t c = 0; c < region->country_count; c++)
            cr_expect_not_null(cdp_policy_regime_by_id(
                policy,
                cdp_policy_regime_for_country(policy, region->id, region->countries[c], NULL)));
    }
    cr_expect_eq(checked, 5 + 19, "five regions and nineteen US states");
    const cdp_regime_policy *gdpr = cdp_policy_regime_by_id(policy, "gdpr");
    cr_expect_eq(gdpr->model, CDP_MODEL_OPT_IN);
    cr_expect_eq(gdpr->sensitive_needs_consent, 1);
    const cdp_regime_policy *ccpa = cdp_policy_regime_by_id(policy, "ccpa");
    cr_expect_eq(ccpa->model, CDP_MODEL_OPT_OUT);
    cr_expect_eq(ccpa->honours_gpc, 1);
    cr_expect_eq(ccpa->sensitive_needs_consent, 0);
    const char *gpc[] = {"ccpa",  "cpa",  "ctdpa", "tdpsa", "ocpa",   "mtcdpa",
                         "dpdpa", "nhpa", "njdpa", "ndpa",  "mncdpa", "modpa"};
    for (size_t i = 0; i < sizeof gpc / sizeof *gpc; i++)
        cr_expect_eq(cdp_policy_regime_by_id(policy, gpc[i])->honours_gpc, 1, "%s", gpc[i]);
    const char *opt_in[] = {"gdpr", "uk_gdpr", "fadp", "lgpd", "dpdp", "pipl"};
    for (size_t i = 0; i < sizeof opt_in / sizeof *opt_in; i++) {
        cr_expect_eq(cdp_policy_regime_by_id(policy, opt_in[i])->model, CDP_MODEL_OPT_IN, "%s",
                     opt_in[i]);
        cr_expect_eq(cdp_policy_regime_by_id(policy, opt_in[i])->sensitive_needs_consent, 1, "%s",
                     opt_in[i]);
    }
    cr_expect_null(cdp_policy_regime_by_id(policy, "gdrp"));
    cr_expect_null(cdp_policy_regime_at(policy, cdp_policy_regime_count(policy)));
    cdp_policy_free(policy);
}

/* ---- refusals, one corruption per test ---------------------------------------------------- */

Test(privacy_load, refuses_a_region_regime_missing_from_regimes_json) {
    refuse_edit("regions.json", "\"regime\": \"gdpr\"", "\"regime\": \"gdrp\"",
                "regions.json: regions[0].regime: unknown regime \"gdrp\"");
    refuse_edit("regions.json", "\"CA\": \"ccpa\"", "\"CA\": \"ccpaa\"",
                "regions.json: regions[1].subdivisions.CA: unknown regime \"ccpaa\"");
    refuse_edit("regions.json", "\"GB\": \"uk_gdpr\"", "\"GB\": \"ukgdpr\"",
                "regions.json: regions[0].country_regimes.GB: unknown regime \"ukgdpr\"");
}

Test(privacy_load, refuses_an_unknown_lawful_basis) {
    refuse_edit("purposes.json", "\"bases\": [\"consent\"],\n      \"sale_share\": true",
                "\"bases\": [\"vibes\"],\n      \"sale_share\": true",
                "purposes.json: purposes[3].bases[0]: unknown lawful basis \"vibes\"");
}

Test(privacy_load, refuses_an_unknown_category_in_a_purpose) {
    refuse_edit("purposes.json", "\"categories\": [\"contact\"", "\"categories\": [\"contacts\"",
                "purposes.json: purposes[0].categories[0]: unknown category \"contacts\"");
}

Test(privacy_load, refuses_a_purpose_missing_a_required_key) {
    refuse_edit("purposes.json", "\"sale_share\": false,\n", "",
                "purposes.json: purposes[0]: missing required key \"sale_share\"");
}

Test(privacy_load, refuses_sensitive_data_as_a_purpose) {
    refuse_edit("purposes.json", "\"id\": \"marketing\"", "\"id\": \"sensitive_data\"",
                "purposes.json: purposes[1].id: \"sensitive_data\" is not a purpose: the CPRA "
                "limit on sensitive data is the consent state of that name, read separately");
}

Test(privacy_load, refuses_a_duplicate_purpose_and_a_misspelt_key) {
    refuse_edit("purposes.json", "\"id\": \"marketing\"", "\"id\": \"personalization\"",
                "purposes.json: purposes[1].id: duplicate purpose \"personalization\"");
    refuse_edit("purposes.json", "\"sale_share\": true", "\"sale_shar\": true",
                "purposes.json: purposes[3]: unknown key \"sale_shar\" (did you mean "
                "\"sale_share\"?)\n"
                "purposes.json: purposes[3]: missing required key \"sale_share\"");
}

Test(privacy_load, refuses_bad_json_naming_the_file) {
    char *dir = copy_bundle();
    write_text(dir, "tcf.json", "{\"version\": 1,\n \"purposes\": {\n}\n");
    expect_refused(dir, "tcf.json: line 4, column 0: invalid JSON: '}' expected near end of file");
}

Test(privacy_load, refuses_a_missing_privacy_file) {
    char *dir = copy_bundle();
    char path[4400];
    snprintf(path, sizeof path, "%s/retention.json", dir);
    cr_assert_eq(remove(path), 0);
    char expected[4800];
    snprintf(expected, sizeof expected,
             "retention.json: cannot read: %s: No such file or directory", path);
    expect_refused(dir, expected);
}

Test(privacy_load, refuses_a_transfer_out_of_a_localised_region) {
    refuse_edit("transfers.json", "{\"from\": \"br\"", "{\"from\": \"cn\"",
                "transfers.json: rules[2].from: region cn is localised; its data never leaves");
}

Test(privacy_load, refuses_unknown_regions_purposes_and_bases_in_transfers) {
    refuse_edit("transfers.json", "\"to\": \"us\"", "\"to\": \"mars\"",
                "transfers.json: rules[0].to: unknown region \"mars\"");
    refuse_edit("transfers.json", "\"purposes\": [\"support\"", "\"purposes\": [\"suport\"",
                "transfers.json: rules[0].purposes[0]: unknown purpose \"suport\"");
    refuse_edit("transfers.json", "\"basis\": \"scc\"", "\"basis\": \"trust_me\"",
                "transfers.json: rules[0].basis: unknown transfer basis \"trust_me\" (expected "
                "adequacy, scc, bcr, consent or unrestricted)");
    refuse_edit("transfers.json", "\"to\": \"us\"", "\"to\": \"eu\"",
                "transfers.json: rules[0].to: a region is never a transfer to itself");
}

Test(privacy_load, refuses_a_bad_tcf_number_and_unknown_tcf_targets) {
    refuse_edit("tcf.json", "\"11\": [\"personalization\"]", "\"12\": [\"personalization\"]",
                "tcf.json: purposes.12: TCF v2.2 purposes are numbered 1 to 11, not \"12\"\n"
                "tcf.json: purposes: missing TCF purpose 11 (map it, to [] for nothing)");
    refuse_edit("tcf.json", "\"1\": []", "\"01\": []",
                "tcf.json: purposes.01: TCF v2.2 purposes are numbered 1 to 11, not \"01\"\n"
                "tcf.json: purposes: missing TCF purpose 1 (map it, to [] for nothing)");
    refuse_edit("tcf.json", "\"2\": [\"advertising\"]", "\"2\": [\"advertizing\"]",
                "tcf.json: purposes.2[0]: unknown purpose \"advertizing\"");
    refuse_edit("tcf.json", "\"1\": [\"precise_geolocation\"]", "\"3\": [\"gps\"]",
                "tcf.json: special_features.3: TCF v2.2 special features are numbered 1 to 2, "
                "not \"3\"\n"
                "tcf.json: special_features: missing TCF special feature 1 (map it, to [] for "
                "nothing)");
}

Test(privacy_load, refuses_an_unknown_role_purpose) {
    refuse_edit("roles.json", "\"marketing\", \"analytics\"", "\"marketting\", \"analytics\"",
                "roles.json: roles.personalization.purposes[1]: unknown purpose \"marketting\"");
    refuse_edit("roles.json", "\"purposes\": [\"*\"]", "\"purposes\": [\"*\", \"support\"]",
                "roles.json: roles.dpo.purposes: \"*\" (every purpose) must be the only entry");
    refuse_edit("roles.json", ",\n      \"purposes\": []\n    },\n    \"personalization\"",
                "\n    },\n    \"personalization\"",
                "roles.json: roles.ingest: missing required key \"purposes\"");
}

Test(privacy_load, refuses_retention_for_an_unknown_category_or_a_bad_number) {
    refuse_edit("retention.json", "\"behavioural\": 395", "\"behavioral\": 395",
                "retention.json: days.behavioral: unknown category \"behavioral\"");
    refuse_edit("retention.json", "\"precise_geolocation\": 30", "\"precise_geolocation\": -1",
                "retention.json: days.precise_geolocation: must be an integer from 0 to 36500 "
                "(days; 0: no limit)");
}

Test(privacy_load, refuses_bad_categories_file_entries) {
    refuse_edit("categories.json", "\"unmapped\": \"unclassified\"", "\"unmapped\": \"health\"",
                "categories.json: unmapped: category \"health\" is sensitive; the unmapped "
                "category must be the strictest non-sensitive one");
    refuse_edit("categories.json", "\"unmapped\": \"unclassified\"", "\"unmapped\": \"misc\"",
                "categories.json: unmapped: unknown category \"misc\"");
    refuse_edit("categories.json", "\"email\": \"contact\"", "\"email\": \"kontact\"",
                "categories.json: traits.email: unknown category \"kontact\"");
    refuse_edit("categories.json", "\"address.*\": \"location\"", "\"address*\": \"location\"",
                "categories.json: traits[\"address*\"]: invalid trait name \"address*\" (expected "
                "up to 64 of A-Z, a-z, 0-9, _, -, $ and inner dots, or \"prefix.*\")");
    refuse_edit("categories.json", "\"tenant_traits\": {}",
                "\"tenant_traits\": {\"shoe_size\": \"preference\", \"email\": \"identifiers\"}",
                "categories.json: tenant_traits.shoe_size: unknown category \"preference\"\n"
                "categories.json: tenant_traits.email: \"email\" is already classified in traits "
                "as \"contact\"");
    refuse_edit("categories.json", "\"alias\": \"identifiers\"", "\"merge\": \"identifiers\"",
                "categories.json: events.merge: unknown Segment event type \"merge\" (expected "
                "identify, track, page, screen, group or alias)");
    refuse_edit("categories.json", "{\"id\": \"health\"", "{\"id\": \"contact\"",
                "categories.json: categories[8].id: duplicate category \"contact\"\n"
                "categories.json: traits[\"health.*\"]: unknown category \"health\"");
    refuse_edit("categories.json", "\"sensitive\": true}\n  ]", "\"sensitive\": \"yes\"}\n  ]",
                "categories.json: categories[18].sensitive: must be true or false, not a string");
}

Test(privacy_load, refuses_bad_regimes_entries) {
    refuse_edit("regimes.json", "\"model\": \"opt_in\"", "\"model\": \"opt_maybe\"",
                "regimes.json: regimes[0].model: must be \"opt_in\" or \"opt_out\", not "
                "\"opt_maybe\"");
    refuse_edit("regimes.json", "\"id\": \"uk_gdpr\"", "\"id\": \"gdpr\"",
                "regimes.json: regimes[1].id: duplicate regime \"gdpr\"");
    refuse_edit("regimes.json", "\"version\": 1", "\"version\": 2",
                "regimes.json: version: unsupported version 2 (expected 1)");
}

Test(privacy_load, reports_every_file_and_checks_references_only_against_clean_files) {
    char *dir = copy_bundle();
    /* purposes.json is broken, so transfers.json's and roles.json's purposes are not checked
     * against it (no echo of one typo in every file); retention.json's own error still shows. */
    corrupt(dir, "purposes.json", "\"bases\": [\"contract\"]", "\"bases\": [\"contrakt\"]");
    corrupt(dir, "transfers.json", "\"purposes\": [\"support\"", "\"purposes\": [\"suport\"");
    corrupt(dir, "retention.json", "\"behavioural\": 395", "\"behavioural\": \"395\"");
    expect_refused(dir, "purposes.json: purposes[4].bases[0]: unknown lawful basis \"contrakt\"\n"
                        "retention.json: days.behavioural: must be an integer from 0 to 36500 "
                        "(days; 0: no limit)");
}

Test(privacy_load, loads_tenant_traits_and_a_bundle_without_transfer_rules) {
    char *dir = copy_bundle();
    corrupt(dir, "categories.json", "\"tenant_traits\": {}",
            "\"tenant_traits\": {\"shoe_size\": \"preferences\", \"diagnosis.*\": \"health\"}");
    write_text(dir, "transfers.json", "{\"version\": 1, \"description\": \"none\", \"rules\": []}");
    cdp_policy *policy = NULL;
    cdp_err err = {0};
    cdp_status status = cdp_policy_load(dir, &policy, &err);
    test_rmtree(dir);
    free(dir);
    cr_assert_eq(status, CDP_OK, "%s", err.message);
    cr_expect_str_eq(cdp_policy_trait_category(policy, "shoe_size"), "preferences");
    cr_expect_str_eq(cdp_policy_trait_category(policy, "diagnosis.code"), "health");
    cr_expect_eq(cdp_policy_transfer_allowed(policy, "us", "eu", "support", NULL), 0,
                 "no rules: nothing leaves its region");
    cr_expect_eq(cdp_policy_transfer_allowed(policy, "us", "us", "support", NULL), 1);
    cdp_policy_free(policy);
}

/* ---- lookups ------------------------------------------------------------------------------ */

Test(privacy_lookup, trait_categories_exact_prefix_and_unmapped) {
    cdp_policy *policy = load_shipped();
    cr_expect_str_eq(cdp_policy_trait_category(policy, "email"), "contact");
    cr_expect_str_eq(cdp_policy_trait_category(policy, "firstName"), "contact");
    cr_expect_str_eq(cdp_policy_trait_category(policy, "first_name"), "contact");
    cr_expect_str_eq(cdp_policy_trait_category(policy, "address.city"), "location", "prefix");
    cr_expect_str_eq(cdp_policy_trait_category(policy, "address"), "location");
    cr_expect_str_eq(cdp_policy_trait_category(policy, "company.name"), "demographic");
    cr_expect_str_eq(cdp_policy_trait_category(policy, "birthday"), "demographic");
    cr_expect_str_eq(cdp_policy_trait_category(policy, "lifetime_value"), "financial");
    cr_expect_str_eq(cdp_policy_trait_category(policy, "shoe_size"), "unclassified");
    cr_expect_str_eq(cdp_policy_trait_category(policy, "addressbook"), "unclassified",
                     "a prefix matches only below its dot");
    cr_expect_str_eq(cdp_policy_trait_category(policy, "address."), "unclassified");
    cr_expect_str_eq(cdp_policy_trait_category(policy, "Email"), "unclassified",
                     "names match exactly");
    cr_expect_str_eq(cdp_policy_trait_category(policy, NULL), "unclassified");
    cr_expect_str_eq(cdp_policy_event_category(policy, "track"), "behavioural");
    cr_expect_str_eq(cdp_policy_event_category(policy, "page"), "behavioural");
    cr_expect_str_eq(cdp_policy_event_category(policy, "screen"), "behavioural");
    cr_expect_str_eq(cdp_policy_event_category(policy, "identify"), "contact");
    cr_expect_str_eq(cdp_policy_event_category(policy, "group"), "demographic");
    cr_expect_str_eq(cdp_policy_event_category(policy, "alias"), "identifiers");
    cr_expect_str_eq(cdp_policy_event_category(policy, "merge"), "unclassified");
    cdp_policy_free(policy);
}

Test(privacy_lookup, retention_tcf_roles_and_transfers) {
    cdp_policy *policy = load_shipped();
    cr_expect_eq(cdp_policy_retention_ms(policy, "behavioural"), INT64_C(395) * 86400000);
    cr_expect_eq(cdp_policy_retention_ms(policy, "precise_geolocation"), INT64_C(30) * 86400000);
    cr_expect_eq(cdp_policy_retention_ms(policy, "contact"), 0);
    cr_expect_eq(cdp_policy_retention_ms(policy, "nonsense"), 0);

    struct {
        unsigned number;
        const char *purpose;
    } tcf[] = {{2, "advertising"},      {3, "advertising"},     {4, "advertising"},
               {7, "advertising"},      {5, "personalization"}, {6, "personalization"},
               {11, "personalization"}, {8, "analytics"},       {9, "analytics"},
               {10, "analytics"}};
    for (size_t i = 0; i < sizeof tcf / sizeof *tcf; i++) {
        size_t count = 99;
        const char *const *purposes = cdp_policy_tcf_purposes(policy, tcf[i].number, &count);
        cr_assert_eq(count, 1, "TCF purpose %u", tcf[i].number);
        cr_expect_str_eq(purposes[0], tcf[i].purpose, "TCF purpose %u", tcf[i].number);
    }
    size_t count = 99;
    cdp_policy_tcf_purposes(policy, 1, &count);
    cr_expect_eq(count, 0, "TCF purpose 1 is the storage prerequisite, granting nothing");
    count = 99;
    cdp_policy_tcf_purposes(policy, 12, &count);
    cr_expect_eq(count, 0);
    count = 99;
    cdp_policy_tcf_purposes(policy, 0, &count);
    cr_expect_eq(count, 0);
    const char *const *features = cdp_policy_tcf_special_feature(policy, 1, &count);
    cr_assert_eq(count, 1);
    cr_expect_str_eq(features[0], "precise_geolocation");
    cdp_policy_tcf_special_feature(policy, 2, &count);
    cr_expect_eq(count, 0);

    for (size_t i = 0; i < cdp_policy_purpose_count(policy); i++) {
        const char *purpose = cdp_policy_purpose_at(policy, i)->id;
        cr_expect(cdp_policy_role_may_use(policy, "dpo", purpose), "dpo: %s", purpose);
        cr_expect_not(cdp_policy_role_may_use(policy, "ingest", purpose));
        cr_expect_not(cdp_policy_role_may_use(policy, "auditor", purpose));
        cr_expect_not(cdp_policy_role_may_use(policy, "admin", purpose));
        cr_expect_not(cdp_policy_role_may_use(policy, "nobody", purpose));
    }
    cr_expect(cdp_policy_role_may_use(policy, "personalization", "advertising"));
    cr_expect_not(cdp_policy_role_may_use(policy, "personalization", "support"));
    cr_expect_not(cdp_policy_role_may_use(policy, "personalization", "legal_obligation"));

    const char *basis = NULL;
    cr_expect(cdp_policy_transfer_allowed(policy, "eu", "us", "support", &basis));
    cr_expect_str_eq(basis, "scc");
    cr_expect_not(cdp_policy_transfer_allowed(policy, "eu", "us", "marketing", &basis));
    cr_expect_null(basis);
    cr_expect(cdp_policy_transfer_allowed(policy, "cn", "cn", "marketing", &basis));
    cr_expect_str_eq(basis, "same_region");
    for (size_t r = 0; r < cdp_policy_region_count(policy); r++) {
        const char *to = cdp_policy_region_at(policy, r)->id;
        for (size_t i = 0; i < cdp_policy_purpose_count(policy) && strcmp(to, "cn") != 0; i++)
            cr_expect_not(cdp_policy_transfer_allowed(policy, "cn", to,
                                                      cdp_policy_purpose_at(policy, i)->id, NULL),
                          "cn -> %s", to);
    }
    cdp_policy_free(policy);
}

Test(privacy_lookup, consent_state_names_round_trip) {
    cdp_consent_state state = CDP_CONSENT_STATE_NONE;
    cr_expect_str_eq(cdp_consent_state_name(CDP_CONSENT_STATE_NONE), "none");
    const cdp_consent_state all[] = {CDP_CONSENT_STATE_GRANTED, CDP_CONSENT_STATE_DENIED,
                                     CDP_CONSENT_STATE_WITHDRAWN};
    for (size_t i = 0; i < 3; i++) {
        cr_expect_eq(cdp_consent_state_parse(cdp_consent_state_name(all[i]), &state), 0);
        cr_expect_eq(state, all[i]);
    }
    state = CDP_CONSENT_STATE_GRANTED;
    cr_expect_eq(cdp_consent_state_parse("none", &state), -1, "NONE is never parsed");
    cr_expect_eq(cdp_consent_state_parse("Granted", &state), -1);
    cr_expect_eq(cdp_consent_state_parse("", &state), -1);
    cr_expect_eq(cdp_consent_state_parse(NULL, &state), -1);
    cr_expect_eq(state, CDP_CONSENT_STATE_GRANTED, "a failed parse leaves *out alone");
}

Test(privacy_lookup, null_policy_answers_nothing) {
    cr_expect_eq(cdp_policy_purpose_count(NULL), 0);
    cr_expect_null(cdp_policy_purpose(NULL, "marketing"));
    cr_expect_null(cdp_policy_category(NULL, "contact"));
    cr_expect_null(cdp_policy_regime_by_id(NULL, "gdpr"));
    cr_expect_not(cdp_policy_role_may_use(NULL, "dpo", "marketing"));
    cr_expect_not(cdp_policy_transfer_allowed(NULL, "us", "us", "marketing", NULL));
    cr_expect_not_null(cdp_policy_trait_category(NULL, "email"));
    cdp_access_question question = {.role = "dpo", .purpose = "legal_obligation"};
    cr_expect_eq(cdp_policy_decide(NULL, &question).kind, CDP_DECISION_DENY);
}

/* ---- focused decisions -------------------------------------------------------------------- */

static cdp_access_answer ask(const cdp_policy *policy, const char *role, const char *purpose,
                             const char *regime, const char *category, cdp_consent_state consent,
                             const char *home, const char *actor) {
    cdp_access_question question = {.role = role,
                                    .purpose = purpose,
                                    .regime = regime,
                                    .category = category,
                                    .consent = consent,
                                    .home_region = home,
                                    .actor_region = actor};
    return cdp_policy_decide(policy, &question);
}

static void expect_answer(cdp_access_answer answer, cdp_decision_kind kind, int status,
                          const char *reason, const char *what) {
    cr_expect_eq(answer.kind, kind, "%s: kind %d (reason %s)", what, answer.kind, answer.reason);
    cr_expect_eq(answer.status, status, "%s: status %d", what, answer.status);
    cr_expect_str_eq(answer.reason, reason, "%s", what);
    if (kind == CDP_DECISION_ALLOW)
        cr_expect_not_null(answer.basis, "%s: an allowance names its basis", what);
    else
        cr_expect_null(answer.basis, "%s: a refusal has no basis", what);
}

Test(privacy_decide, gdpr_marketing_without_consent_is_no_consent) {
    cdp_policy *policy = load_shipped();
    expect_answer(ask(policy, "personalization", "marketing", "gdpr", NULL, CDP_CONSENT_STATE_NONE,
                      "eu", "eu"),
                  CDP_DECISION_DENY, CDP_CONSENT_DENIED, "no_consent", "gdpr marketing NONE");
    cdp_access_answer granted = ask(policy, "personalization", "marketing", "gdpr", NULL,
                                    CDP_CONSENT_STATE_GRANTED, "eu", "eu");
    expect_answer(granted, CDP_DECISION_ALLOW, CDP_OK, "allowed", "gdpr marketing GRANTED");
    cr_expect_str_eq(granted.basis, "consent");
    expect_answer(ask(policy, "personalization", "marketing", "gdpr", NULL,
                      CDP_CONSENT_STATE_WITHDRAWN, "eu", "eu"),
                  CDP_DECISION_DENY, CDP_CONSENT_DENIED, "consent_withdrawn",
                  "gdpr marketing WITHDRAWN");
    cdp_policy_free(policy);
}

Test(privacy_decide, ccpa_advertising_is_opt_out) {
    cdp_policy *policy = load_shipped();
    expect_answer(ask(policy, "personalization", "advertising", "ccpa", NULL,
                      CDP_CONSENT_STATE_NONE, "us", "us"),
                  CDP_DECISION_ALLOW, CDP_OK, "allowed", "ccpa advertising NONE");
    expect_answer(ask(policy, "personalization", "advertising", "ccpa", NULL,
                      CDP_CONSENT_STATE_DENIED, "us", "us"),
                  CDP_DECISION_DENY, CDP_CONSENT_DENIED, "consent_denied",
                  "ccpa advertising DENIED (an opt-out or GPC)");
    expect_answer(ask(policy, "personalization", "advertising", "no_such_regime", NULL,
                      CDP_CONSENT_STATE_NONE, "us", "us"),
                  CDP_DECISION_DENY, CDP_CONSENT_DENIED, "no_consent",
                  "an unknown regime is the strictest");
    expect_answer(ask(policy, "personalization", "advertising", NULL, NULL, CDP_CONSENT_STATE_NONE,
                      "us", "us"),
                  CDP_DECISION_DENY, CDP_CONSENT_DENIED, "no_consent",
                  "a missing regime is the strictest");
    cdp_policy_free(policy);
}

Test(privacy_decide, sensitive_data_needs_consent_where_the_law_says_so) {
    cdp_policy *policy = load_shipped();
    /* GDPR: personalization, the only consent purpose using health, is not even reached
     * without consent; with it, health is shown. */
    expect_answer(ask(policy, "personalization", "personalization", "gdpr", "health",
                      CDP_CONSENT_STATE_NONE, "eu", "eu"),
                  CDP_DECISION_DENY, CDP_CONSENT_DENIED, "no_consent", "gdpr health NONE");
    expect_answer(ask(policy, "personalization", "personalization", "gdpr", "health",
                      CDP_CONSENT_STATE_GRANTED, "eu", "eu"),
                  CDP_DECISION_ALLOW, CDP_OK, "allowed", "gdpr health GRANTED");
    /* GDPR, a purpose that needs no consent: its sensitive category is withheld without it. */
    expect_answer(ask(policy, "dpo", "fraud_prevention", "gdpr", "precise_geolocation",
                      CDP_CONSENT_STATE_NONE, "eu", "eu"),
                  CDP_DECISION_WITHHOLD, CDP_OK, "sensitive_needs_consent",
                  "gdpr fraud_prevention precise_geolocation NONE");
    expect_answer(ask(policy, "dpo", "fraud_prevention", "gdpr", "location", CDP_CONSENT_STATE_NONE,
                      "eu", "eu"),
                  CDP_DECISION_ALLOW, CDP_OK, "allowed", "gdpr fraud_prevention location");
    /* Virginia: opt-out for personalization, but health needs a grant. */
    expect_answer(ask(policy, "personalization", "personalization", "vcdpa", "health",
                      CDP_CONSENT_STATE_NONE, "us", "us"),
                  CDP_DECISION_WITHHOLD, CDP_OK, "sensitive_needs_consent", "vcdpa health NONE");
    /* California: no consent needed, but the person may limit it. */
    expect_answer(ask(policy, "personalization", "personalization", "ccpa", "health",
                      CDP_CONSENT_STATE_NONE, "us", "us"),
                  CDP_DECISION_ALLOW, CDP_OK, "allowed", "ccpa health NONE");
    cdp_access_question limited = {.role = "personalization",
                                   .purpose = "personalization",
                                   .regime = "ccpa",
                                   .category = "health",
                                   .consent = CDP_CONSENT_STATE_NONE,
                                   .sensitive_limited = 1,
                                   .home_region = "us",
                                   .actor_region = "us"};
    expect_answer(cdp_policy_decide(policy, &limited), CDP_DECISION_WITHHOLD, CDP_OK,
                  "sensitive_limited", "ccpa health limited");
    /* A legal obligation sees sensitive data whatever the consent. */
    cdp_access_answer legal = ask(policy, "dpo", "legal_obligation", "gdpr", "health",
                                  CDP_CONSENT_STATE_WITHDRAWN, "eu", "eu");
    expect_answer(legal, CDP_DECISION_ALLOW, CDP_OK, "allowed", "legal_obligation health");
    cr_expect_str_eq(legal.basis, "legal_obligation");
    cdp_policy_free(policy);
}

Test(privacy_decide, restricted_person_is_readable_only_for_legal_obligation_or_by_dpo) {
    cdp_policy *policy = load_shipped();
    for (size_t i = 0; i < cdp_policy_purpose_count(policy); i++) {
        const char *purpose = cdp_policy_purpose_at(policy, i)->id;
        cdp_access_question question = {.role = "personalization",
                                        .purpose = purpose,
                                        .regime = "ccpa",
                                        .consent = CDP_CONSENT_STATE_GRANTED,
                                        .restricted = 1,
                                        .home_region = "us",
                                        .actor_region = "us"};
        cdp_access_answer answer = cdp_policy_decide(policy, &question);
        if (cdp_policy_role_may_use(policy, "personalization", purpose))
            expect_answer(answer, CDP_DECISION_DENY, CDP_RESTRICTED, "restricted", purpose);
        question.role = "dpo";
        expect_answer(cdp_policy_decide(policy, &question), CDP_DECISION_ALLOW, CDP_OK, "allowed",
                      purpose);
        question.write = 1;
        question.role = "ingest";
        expect_answer(cdp_policy_decide(policy, &question), CDP_DECISION_ALLOW, CDP_OK, "allowed",
                      "a restriction does not stop storing");
    }
    cdp_policy_free(policy);
}

Test(privacy_decide, residency_refuses_reads_without_a_transfer_rule) {
    cdp_policy *policy = load_shipped();
    expect_answer(ask(policy, "personalization", "marketing", "gdpr", NULL,
                      CDP_CONSENT_STATE_GRANTED, "eu", "us"),
                  CDP_DECISION_DENY, CDP_RESIDENCY_DENIED, "no_transfer_rule",
                  "eu person, us key, marketing");
    expect_answer(ask(policy, "dpo", "support", "gdpr", NULL, CDP_CONSENT_STATE_NONE, "eu", "us"),
                  CDP_DECISION_ALLOW, CDP_OK, "allowed", "eu person, us key, support (scc)");
    for (size_t r = 0; r < cdp_policy_region_count(policy); r++) {
        const char *actor = cdp_policy_region_at(policy, r)->id;
        if (strcmp(actor, "cn") == 0)
            continue;
        for (size_t i = 0; i < cdp_policy_purpose_count(policy); i++)
            expect_answer(ask(policy, "dpo", cdp_policy_purpose_at(policy, i)->id, "pipl", NULL,
                              CDP_CONSENT_STATE_GRANTED, "cn", actor),
                          CDP_DECISION_DENY, CDP_RESIDENCY_DENIED, "localised", actor);
    }
    expect_answer(
        ask(policy, "dpo", "marketing", "pipl", NULL, CDP_CONSENT_STATE_GRANTED, "cn", "cn"),
        CDP_DECISION_ALLOW, CDP_OK, "allowed", "cn person read in cn");
    cdp_policy_free(policy);
}

Test(privacy_decide, support_reads_unmapped_traits_and_marketing_does_not) {
    cdp_policy *policy = load_shipped();
    const char *unmapped = cdp_policy_trait_category(policy, "shoe_size");
    cdp_access_answer support =
        ask(policy, "dpo", "support", "gdpr", unmapped, CDP_CONSENT_STATE_NONE, "eu", "eu");
    expect_answer(support, CDP_DECISION_ALLOW, CDP_OK, "allowed", "support, unmapped trait");
    cr_expect_str_eq(support.basis, "contract");
    expect_answer(ask(policy, "personalization", "marketing", "gdpr", unmapped,
                      CDP_CONSENT_STATE_GRANTED, "eu", "eu"),
                  CDP_DECISION_WITHHOLD, CDP_OK, "category_not_in_purpose",
                  "marketing, unmapped trait");
    expect_answer(ask(policy, "personalization", "marketing", "gdpr", "no_such_category",
                      CDP_CONSENT_STATE_GRANTED, "eu", "eu"),
                  CDP_DECISION_WITHHOLD, CDP_OK, "category_not_in_purpose",
                  "an unknown category counts as the unmapped one");
    expect_answer(ask(policy, "dpo", "support", "gdpr", "no_such_category", CDP_CONSENT_STATE_NONE,
                      "eu", "eu"),
                  CDP_DECISION_ALLOW, CDP_OK, "allowed", "support, unknown category");
    cdp_policy_free(policy);
}

Test(privacy_decide, purpose_and_role_come_first) {
    cdp_policy *policy = load_shipped();
    expect_answer(ask(policy, "dpo", NULL, "gdpr", NULL, CDP_CONSENT_STATE_GRANTED, "eu", "eu"),
                  CDP_DECISION_DENY, CDP_PURPOSE_REQUIRED, "purpose_required", "NULL purpose");
    expect_answer(ask(policy, "dpo", "", "gdpr", NULL, CDP_CONSENT_STATE_GRANTED, "eu", "eu"),
                  CDP_DECISION_DENY, CDP_PURPOSE_REQUIRED, "purpose_required", "empty purpose");
    expect_answer(
        ask(policy, "dpo", "sensitive_data", "gdpr", NULL, CDP_CONSENT_STATE_GRANTED, "eu", "eu"),
        CDP_DECISION_DENY, CDP_FORBIDDEN, "unknown_purpose", "sensitive_data");
    expect_answer(ask(policy, "personalization", "support", "gdpr", NULL, CDP_CONSENT_STATE_GRANTED,
                      "eu", "eu"),
                  CDP_DECISION_DENY, CDP_FORBIDDEN, "role_purpose", "personalization key, support");
    expect_answer(
        ask(policy, "ingest", "marketing", "gdpr", NULL, CDP_CONSENT_STATE_GRANTED, "eu", "eu"),
        CDP_DECISION_DENY, CDP_FORBIDDEN, "role_purpose", "ingest key reads");
    expect_answer(
        ask(policy, NULL, "marketing", "gdpr", NULL, CDP_CONSENT_STATE_GRANTED, "eu", "eu"),
        CDP_DECISION_DENY, CDP_FORBIDDEN, "role_purpose", "no role");
    expect_answer(cdp_policy_decide(policy, NULL), CDP_DECISION_DENY, CDP_PURPOSE_REQUIRED,
                  "purpose_required", "no question");
    cdp_policy_free(policy);
}

Test(privacy_decide, objection_stops_legitimate_interest_but_not_contract) {
    cdp_policy *policy = load_shipped();
    expect_answer(
        ask(policy, "dpo", "fraud_prevention", "gdpr", NULL, CDP_CONSENT_STATE_DENIED, "eu", "eu"),
        CDP_DECISION_DENY, CDP_CONSENT_DENIED, "consent_denied", "objection");
    expect_answer(ask(policy, "dpo", "fraud_prevention", "gdpr", NULL, CDP_CONSENT_STATE_WITHDRAWN,
                      "eu", "eu"),
                  CDP_DECISION_DENY, CDP_CONSENT_DENIED, "consent_withdrawn", "objection");
    cdp_access_answer fraud =
        ask(policy, "dpo", "fraud_prevention", "gdpr", NULL, CDP_CONSENT_STATE_NONE, "eu", "eu");
    expect_answer(fraud, CDP_DECISION_ALLOW, CDP_OK, "allowed", "legitimate interest");
    cr_expect_str_eq(fraud.basis, "legitimate_interest");
    expect_answer(ask(policy, "dpo", "support", "gdpr", NULL, CDP_CONSENT_STATE_DENIED, "eu", "eu"),
                  CDP_DECISION_ALLOW, CDP_OK, "allowed", "contract survives a denial");
    cdp_policy_free(policy);
}

Test(privacy_decide, may_store_needs_one_purpose_other_than_legal_obligation) {
    cdp_policy *policy = load_shipped();
    size_t count = cdp_policy_purpose_count(policy);
    cdp_consent_state states[32] = {0};
    cr_assert_leq(count, 32);
    size_t personalization = count;
    for (size_t i = 0; i < count; i++)
        if (strcmp(cdp_policy_purpose_at(policy, i)->id, "personalization") == 0)
            personalization = i;
    cr_assert_lt(personalization, count);
    const char *reason = NULL;
    cr_expect_eq(cdp_policy_may_store(policy, "gdpr", "health", states, 0, &reason), 0,
                 "legal_obligation may see health but never justifies collecting it");
    cr_expect_str_eq(reason, "no_consent");
    cr_expect_eq(cdp_policy_may_store(policy, "gdpr", "health", NULL, 0, &reason), 0);
    states[personalization] = CDP_CONSENT_STATE_GRANTED;
    cr_expect_eq(cdp_policy_may_store(policy, "gdpr", "health", states, 0, &reason), 1);
    cr_expect_str_eq(reason, "allowed");
    states[personalization] = CDP_CONSENT_STATE_NONE;
    cr_expect_eq(cdp_policy_may_store(policy, "gdpr", "behavioural", states, 0, &reason), 1,
                 "fraud prevention (legitimate interest) keeps events");
    cr_expect_eq(cdp_policy_may_store(policy, "gdpr", "religion", states, 0, &reason), 0);
    cr_expect_str_eq(reason, "category_not_in_purpose", "no purpose but legal_obligation uses it");
    cr_expect_eq(cdp_policy_may_store(policy, "ccpa", "health", states, 0, &reason), 1);
    cr_expect_eq(cdp_policy_may_store(policy, "ccpa", "health", states, 1, &reason), 0);
    cr_expect_str_eq(reason, "sensitive_limited");
    cdp_policy_free(policy);
}

/* ---- the decision table against an independent oracle ------------------------------------- */

/* The oracle knows the policy only from the shipped JSON, read here with jansson, and states
 * the rules as principles with a priority. Every principle is evaluated for every cell (in
 * reverse priority order, none assuming another did not fire); the lowest priority that fires
 * wins. A principle that fires for a malformed question (a role check with no purpose) is
 * fine: the priorities must still put the right one first, which is what is under test. */

#define MAX_DIM 48

typedef enum basis_class { BASIS_PROOF, BASIS_OBJECTABLE, BASIS_CONSENT_ONLY } basis_class;

typedef struct oracle {
    /* dimensions */
    const char *roles[MAX_DIM];
    size_t role_count;
    const char *purposes[MAX_DIM]; /* known ids, then "", an unknown id, NULL */
    size_t purpose_count;
    size_t known_purposes;
    const char *regimes[MAX_DIM]; /* known ids, then an unknown id, NULL */
    size_t regime_count;
    const char *categories[MAX_DIM]; /* known ids, then an unknown name, NULL (request) */
    size_t category_count;
    size_t known_categories;
    const char *homes[8], *actors[8];
    size_t pair_count;
    /* facts */
    basis_class purpose_class[MAX_DIM];
    const char *purpose_basis[MAX_DIM];
    int purpose_uses[MAX_DIM][MAX_DIM]; /* [purpose][category] */
    int role_may[MAX_DIM][MAX_DIM];     /* [role][purpose] */
    int regime_opt_in[MAX_DIM];
    int regime_sensitive_consent[MAX_DIM];
    int category_sensitive[MAX_DIM];
    int transfer_ok[8][MAX_DIM]; /* [pair][purpose] */
    int home_localised[8];
    json_t *files[6];
} oracle;

static json_t *oracle_file(const char *name) {
    char dir[4096], path[4400];
    shipped_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    cr_assert_not_null(root, "%s: %s", path, error.text);
    return root;
}

static int json_list_has(json_t *array, const char *text) {
    size_t i;
    json_t *value;
    json_array_foreach(array, i, value) {
        if (strcmp(json_string_value(value), "*") == 0 ||
            strcmp(json_string_value(value), text) == 0)
            return 1;
    }
    return 0;
}

static size_t index_of(const char *const *list, size_t count, const char *text) {
    for (size_t i = 0; i < count; i++)
        if (list[i] != NULL && text != NULL && strcmp(list[i], text) == 0)
            return i;
    return count;
}

static void oracle_build(oracle *o) {
    memset(o, 0, sizeof *o);
    json_t *purposes = o->files[0] = oracle_file("purposes.json");
    json_t *categories = o->files[1] = oracle_file("categories.json");
    json_t *regimes = o->files[2] = oracle_file("regimes.json");
    json_t *roles = o->files[3] = oracle_file("roles.json");
    json_t *transfers = o->files[4] = oracle_file("transfers.json");
    json_t *regions = o->files[5] = oracle_file("regions.json");
    size_t i;
    json_t *entry;
    const char *key;

    json_array_foreach(json_object_get(categories, "categories"), i, entry) {
        o->categories[o->category_count] = json_string_value(json_object_get(entry, "id"));
        o->category_sensitive[o->category_count++] =
            json_is_true(json_object_get(entry, "sensitive"));
    }
    o->known_categories = o->category_count;
    const char *unmapped = json_string_value(json_object_get(categories, "unmapped"));
    size_t unmapped_index = index_of(o->categories, o->known_categories, unmapped);
    cr_assert_lt(unmapped_index, o->known_categories);
    o->category_sensitive[o->category_count] = o->category_sensitive[unmapped_index];
    o->categories[o->category_count++] = "shoe_size_category"; /* unknown: the unmapped one */
    o->categories[o->category_count++] = NULL;                 /* the request as a whole */

    json_array_foreach(json_object_get(purposes, "purposes"), i, entry) {
        size_t p = o->purpose_count++;
        o->purposes[p] = json_string_value(json_object_get(entry, "id"));
        json_t *bases = json_object_get(entry, "bases");
        /* Classes by the words of GDPR Art. 6 and 21, scanning the list in its own order. */
        o->purpose_class[p] = BASIS_CONSENT_ONLY;
        o->purpose_basis[p] = "consent";
        size_t b;
        json_t *basis;
        json_array_foreach(bases, b, basis) {
            const char *text = json_string_value(basis);
            int proof = !strcmp(text, "legal_obligation") || !strcmp(text, "contract") ||
                        !strcmp(text, "vital_interest");
            int objectable = !strcmp(text, "legitimate_interest") || !strcmp(text, "public_task");
            if (proof && o->purpose_class[p] != BASIS_PROOF) {
                o->purpose_class[p] = BASIS_PROOF;
                o->purpose_basis[p] = text;
            } else if (objectable && o->purpose_class[p] == BASIS_CONSENT_ONLY) {
                o->purpose_class[p] = BASIS_OBJECTABLE;
                o->purpose_basis[p] = text;
            }
        }
        for (size_t c = 0; c < o->category_count; c++) {
            const char *category = c < o->known_categories ? o->categories[c] : unmapped;
            o->purpose_uses[p][c] = json_list_has(json_object_get(entry, "categories"), category);
        }
    }
    o->known_purposes = o->purpose_count;
    o->purposes[o->purpose_count++] = "";
    o->purposes[o->purpose_count++] = "espionage";
    o->purposes[o->purpose_count++] = NULL;

    json_array_foreach(json_object_get(regimes, "regimes"), i, entry) {
        o->regime_opt_in[o->regime_count] =
            strcmp(json_string_value(json_object_get(entry, "model")), "opt_in") == 0;
        o->regime_sensitive_consent[o->regime_count] =
            json_is_true(json_object_get(entry, "sensitive_needs_consent"));
        o->regimes[o->regime_count++] = json_string_value(json_object_get(entry, "id"));
    }
    for (int extra = 0; extra < 2; extra++) { /* unknown and missing: the strictest */
        o->regime_opt_in[o->regime_count] = 1;
        o->regime_sensitive_consent[o->regime_count] = 1;
        o->regimes[o->regime_count++] = extra == 0 ? "gdpr_but_misspelt" : NULL;
    }

    json_object_foreach(json_object_get(roles, "roles"), key, entry) {
        size_t r = o->role_count++;
        o->roles[r] = key;
        for (size_t p = 0; p < o->known_purposes; p++)
            o->role_may[r][p] = json_list_has(json_object_get(entry, "purposes"), o->purposes[p]);
    }
    cr_assert_eq(o->role_count, 5);

    /* Region pairs: same region, a partial rule (eu->us), a full rule (us->eu), no rule
     * (eu->in), out of a localised region (cn->us), and an unknown home (no residency check). */
    const char *pairs[][2] = {{"eu", "eu"}, {"eu", "us"}, {"us", "eu"},
                              {"eu", "in"}, {"cn", "us"}, {NULL, "us"}};
    o->pair_count = sizeof pairs / sizeof *pairs;
    for (size_t pair = 0; pair < o->pair_count; pair++) {
        o->homes[pair] = pairs[pair][0];
        o->actors[pair] = pairs[pair][1];
        json_array_foreach(json_object_get(regions, "regions"), i, entry) {
            if (o->homes[pair] != NULL &&
                strcmp(json_string_value(json_object_get(entry, "id")), o->homes[pair]) == 0)
                o->home_localised[pair] = json_is_true(json_object_get(entry, "localised"));
        }
        for (size_t p = 0; p < o->known_purposes; p++) {
            int ok = o->homes[pair] == NULL || strcmp(o->homes[pair], o->actors[pair]) == 0;
            json_array_foreach(json_object_get(transfers, "rules"), i, entry) {
                if (!o->home_localised[pair] && o->homes[pair] != NULL &&
                    !strcmp(json_string_value(json_object_get(entry, "from")), o->homes[pair]) &&
                    !strcmp(json_string_value(json_object_get(entry, "to")), o->actors[pair]) &&
                    json_list_has(json_object_get(entry, "purposes"), o->purposes[p]))
                    ok = 1;
            }
            o->transfer_ok[pair][p] = ok;
        }
    }
    /* The pairs must cover what they claim to, or the table proves less than it says. */
    size_t eu_us = 0, us_eu = 0;
    for (size_t p = 0; p < o->known_purposes; p++) {
        eu_us += (size_t)o->transfer_ok[1][p];
        us_eu += (size_t)o->transfer_ok[2][p];
        cr_assert_eq(o->transfer_ok[3][p], 0);
        cr_assert_eq(o->transfer_ok[4][p], 0);
    }
    cr_assert(eu_us > 0 && eu_us < o->known_purposes, "eu->us is a partial rule");
    cr_assert_eq(us_eu, o->known_purposes, "us->eu covers every purpose");
    cr_assert(o->home_localised[4]);
}

static void oracle_free(oracle *o) {
    for (size_t i = 0; i < 6; i++)
        json_decref(o->files[i]);
}

typedef struct cell {
    size_t role, purpose, regime, category, pair;
    cdp_consent_state consent;
    int restricted, sensitive_limited, write;
} cell;

typedef struct verdict {
    cdp_decision_kind kind;
    int status;
    const char *reason;
} verdict;

/* Consent as the law reads it, by basis class, model (opt-in?) and state: the reason it
 * refuses, or NULL. */
static const char *const consent_refusal[3][2][4] = {
    /* BASIS_PROOF: neither model nor state matters */
    {{NULL, NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}},
    /* BASIS_OBJECTABLE: an objection (denied/withdrawn) stops it in either model */
    {{NULL, NULL, "consent_denied", "consent_withdrawn"},
     {NULL, NULL, "consent_denied", "consent_withdrawn"}},
    /* BASIS_CONSENT_ONLY: opt-out [0] needs no record; opt-in [1] needs a grant */
    {{NULL, NULL, "consent_denied", "consent_withdrawn"},
     {"no_consent", NULL, "consent_denied", "consent_withdrawn"}},
};

typedef const char *(*principle_test)(const oracle *o, const cell *c);

static int known(const oracle *o, const cell *c) { return c->purpose < o->known_purposes; }
static const char *purpose_of(const oracle *o, const cell *c) { return o->purposes[c->purpose]; }
static int item(const oracle *o, const cell *c) { return o->categories[c->category] != NULL; }
static int sensitive_exempt(const oracle *o, const cell *c) {
    return strcmp(o->purpose_basis[c->purpose], "legal_obligation") == 0;
}

static const char *p_purpose_missing(const oracle *o, const cell *c) {
    const char *purpose = purpose_of(o, c);
    return purpose == NULL || purpose[0] == '\0' ? "purpose_required" : NULL;
}
static const char *p_purpose_unknown(const oracle *o, const cell *c) {
    return !known(o, c) ? "unknown_purpose" : NULL;
}
static const char *p_role(const oracle *o, const cell *c) {
    int may = known(o, c) && o->role_may[c->role][c->purpose];
    return !c->write && !may ? "role_purpose" : NULL;
}
static const char *p_restricted(const oracle *o, const cell *c) {
    const char *purpose = purpose_of(o, c);
    int exempt = (purpose != NULL && strcmp(purpose, "legal_obligation") == 0) ||
                 strcmp(o->roles[c->role], "dpo") == 0;
    return !c->write && c->restricted && !exempt ? "restricted" : NULL;
}
static const char *p_residency(const oracle *o, const cell *c) {
    if (c->write || !known(o, c) || o->transfer_ok[c->pair][c->purpose])
        return NULL;
    return o->home_localised[c->pair] ? "localised" : "no_transfer_rule";
}
static const char *p_consent(const oracle *o, const cell *c) {
    if (!known(o, c))
        return NULL;
    return consent_refusal[o->purpose_class[c->purpose]][o->regime_opt_in[c->regime]][c->consent];
}
static const char *p_category(const oracle *o, const cell *c) {
    return item(o, c) && known(o, c) && !o->purpose_uses[c->purpose][c->category]
               ? "category_not_in_purpose"
               : NULL;
}
static const char *p_sensitive_consent(const oracle *o, const cell *c) {
    if (!item(o, c) || !known(o, c) || !o->category_sensitive[c->category] ||
        sensitive_exempt(o, c))
        return NULL;
    return o->regime_sensitive_consent[c->regime] && c->consent != CDP_CONSENT_STATE_GRANTED
               ? "sensitive_needs_consent"
               : NULL;
}
static const char *p_sensitive_limited(const oracle *o, const cell *c) {
    if (!item(o, c) || !known(o, c) || !o->category_sensitive[c->category] ||
        sensitive_exempt(o, c))
        return NULL;
    return !o->regime_sensitive_consent[c->regime] && c->sensitive_limited ? "sensitive_limited"
                                                                           : NULL;
}

static const struct {
    int priority;
    cdp_decision_kind kind;
    int status;
    principle_test test;
} principles[] = {
    {1, CDP_DECISION_DENY, CDP_PURPOSE_REQUIRED, p_purpose_missing},
    {2, CDP_DECISION_DENY, CDP_FORBIDDEN, p_purpose_unknown},
    {3, CDP_DECISION_DENY, CDP_FORBIDDEN, p_role},
    {4, CDP_DECISION_DENY, CDP_RESTRICTED, p_restricted},
    {5, CDP_DECISION_DENY, CDP_RESIDENCY_DENIED, p_residency},
    {6, CDP_DECISION_DENY, CDP_CONSENT_DENIED, p_consent},
    {7, CDP_DECISION_WITHHOLD, CDP_OK, p_category},
    {8, CDP_DECISION_WITHHOLD, CDP_OK, p_sensitive_consent},
    {9, CDP_DECISION_WITHHOLD, CDP_OK, p_sensitive_limited},
};
#define PRINCIPLE_COUNT (sizeof principles / sizeof *principles)

static verdict oracle_judge(const oracle *o, const cell *c, size_t *winner) {
    verdict best = {CDP_DECISION_ALLOW, CDP_OK, "allowed"};
    int best_priority = 1 << 30;
    *winner = PRINCIPLE_COUNT;
    for (size_t i = PRINCIPLE_COUNT; i-- > 0;) {
        const char *reason = principles[i].test(o, c);
        if (reason != NULL && principles[i].priority < best_priority) {
            best_priority = principles[i].priority;
            best = (verdict){principles[i].kind, principles[i].status, reason};
            *winner = i;
        }
    }
    return best;
}

Test(privacy_decide, every_cell_of_the_decision_table_matches_the_oracle) {
    cdp_policy *policy = load_shipped();
    static oracle o;
    oracle_build(&o);
    /* The loader and the oracle must see the same universe. */
    cr_assert_eq(o.known_purposes, cdp_policy_purpose_count(policy));
    cr_assert_eq(o.known_categories, cdp_policy_category_count(policy));
    cr_assert_eq(o.regime_count - 2, cdp_policy_regime_count(policy));

    const cdp_consent_state states[] = {CDP_CONSENT_STATE_NONE, CDP_CONSENT_STATE_GRANTED,
                                        CDP_CONSENT_STATE_DENIED, CDP_CONSENT_STATE_WITHDRAWN};
    size_t cells = 0, mismatches = 0;
    size_t wins[PRINCIPLE_COUNT + 1] = {0};
    clock_t start = clock();
    cell c = {0};
    for (c.role = 0; c.role < o.role_count; c.role++)
        for (c.purpose = 0; c.purpose < o.purpose_count; c.purpose++)
            for (c.regime = 0; c.regime < o.regime_count; c.regime++)
                for (size_t s = 0; s < 4; s++)
                    for (c.category = 0; c.category < o.category_count; c.category++)
                        for (c.restricted = 0; c.restricted < 2; c.restricted++)
                            for (c.pair = 0; c.pair < o.pair_count; c.pair++)
                                for (c.sensitive_limited = 0; c.sensitive_limited < 2;
                                     c.sensitive_limited++)
                                    for (c.write = 0; c.write < 2; c.write++) {
                                        c.consent = states[s];
                                        cdp_access_question question = {
                                            .role = o.roles[c.role],
                                            .purpose = o.purposes[c.purpose],
                                            .regime = o.regimes[c.regime],
                                            .category = o.categories[c.category],
                                            .consent = c.consent,
                                            .restricted = c.restricted,
                                            .sensitive_limited = c.sensitive_limited,
                                            .home_region = o.homes[c.pair],
                                            .actor_region = o.actors[c.pair],
                                            .write = c.write};
                                        cdp_access_answer got =
                                            cdp_policy_decide(policy, &question);
                                        size_t winner;
                                        verdict want = oracle_judge(&o, &c, &winner);
                                        wins[winner]++;
                                        cells++;
                                        const char *want_basis = want.kind == CDP_DECISION_ALLOW
                                                                     ? o.purpose_basis[c.purpose]
                                                                     : NULL;
                                        int same_basis =
                                            want_basis == NULL
                                                ? got.basis == NULL
                                                : got.basis != NULL &&
                                                      strcmp(got.basis, want_basis) == 0;
                                        if (got.kind == want.kind && got.status == want.status &&
                                            got.reason != NULL &&
                                            strcmp(got.reason, want.reason) == 0 && same_basis)
                                            continue;
                                        if (++mismatches <= 10)
                                            cr_log_error(
                                                "role %s purpose %s regime %s consent %s "
                                                "category %s restricted %d %s->%s limited %d "
                                                "write %d: got %d/%d/%s/%s, want %d/%d/%s/%s",
                                                o.roles[c.role],
                                                o.purposes[c.purpose] ? o.purposes[c.purpose]
                                                                      : "(null)",
                                                o.regimes[c.regime] ? o.regimes[c.regime]
                                                                    : "(null)",
                                                cdp_consent_state_name(c.consent),
                                                o.categories[c.category] ? o.categories[c.category]
                                                                         : "(null)",
                                                c.restricted,
                                                o.homes[c.pair] ? o.homes[c.pair] : "(null)",
                                                o.actors[c.pair], c.sensitive_limited, c.write,
                                                got.kind, got.status, got.reason,
                                                got.basis ? got.basis : "-", want.kind, want.status,
                                                want.reason, want_basis ? want_basis : "-");
                                    }
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    fprintf(stderr, "decision table: %zu cells in %.2f s, %zu mismatches\n", cells, seconds,
            mismatches);
    cr_expect_eq(mismatches, 0, "%zu of %zu cells differ from the oracle", mismatches, cells);
    cr_expect_gt(cells, 100000);
    /* Every principle decides some cell, and some cells are allowed: the table reaches every
     * rule rather than stopping at the first. */
    for (size_t i = 0; i <= PRINCIPLE_COUNT; i++)
        cr_expect_gt(wins[i], 0, "principle %zu never decided a cell", i + 1);
    oracle_free(&o);
    cdp_policy_free(policy);
}
