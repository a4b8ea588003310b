/* Fuzzes policy bundle loading: the input is split at 0x00 bytes into the files of a bundle
 * (regions.json, categories.json, purposes.json, regimes.json, transfers.json, retention.json,
 * tcf.json, roles.json, identity.json, audit.json, in that order; fewer parts leave the later
 * files missing), written into a private temporary directory and loaded by the three loaders
 * cdp_open uses. Invariants: a refusal is CDP_BAD_POLICY (or NOMEM / IO / NOT_FOUND) with a
 * "file: path: reason" message; an accepted bundle answers consistently (every listed country
 * maps back to its region, the default region and every region's regime exist, every purpose
 * and category is found by its id) and loading it again gives the same bundle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "identity/rules.h"
#include "policy/audit_policy.h"
#include "policy/policy.h"
#include "policy/privacy.h"

static const char *const files[] = {"regions.json",   "categories.json", "purposes.json",
                                    "regimes.json",   "transfers.json",  "retention.json",
                                    "tcf.json",       "roles.json",      "identity.json",
                                    "audit.json"};
#define FILE_COUNT (sizeof files / sizeof files[0])

static char dir[64];

static void remove_dir(void) {
    char path[128];
    for (size_t i = 0; i < FILE_COUNT; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cdp-fuzz-policy-XXXXXX", tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    atexit(remove_dir);
    return 0;
}

static void write_bundle(const uint8_t *data, size_t size) {
    char path[128];
    size_t start = 0, part = 0;
    for (; part < FILE_COUNT; part++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[part]);
        if (start > size) {
            unlink(path);
            continue;
        }
        const uint8_t *end = memchr(data + start, 0, size - start);
        size_t len = end != NULL ? (size_t)(end - (data + start)) : size - start;
        FILE *file = fopen(path, "wb");
        FUZZ_CHECK(file != NULL, "cannot write %s", path);
        if (len > 0)
            FUZZ_CHECK(fwrite(data + start, 1, len, file) == len, "short write");
        fclose(file);
        start += len + 1;
    }
}

static void check_refusal(const char *loader, cdp_status status, const cdp_err *err) {
    FUZZ_CHECK(status == CDP_BAD_POLICY || status == CDP_NOMEM || status == CDP_IO ||
                   status == CDP_NOT_FOUND,
               "%s: status %d (%s)", loader, (int)status, err->message);
    FUZZ_CHECK(err->message[0] != '\0', "%s: refusal without a reason", loader);
    /* Every problem names its file. */
    FUZZ_CHECK(strstr(err->message, ".json") != NULL, "%s: \"%s\" names no file", loader,
               err->message);
}

static void check_policy(const cdp_policy *policy) {
    size_t regions = cdp_policy_region_count(policy);
    FUZZ_CHECK(regions > 0, "a bundle with no region");
    const char *default_region = cdp_policy_default_region(policy);
    FUZZ_CHECK(default_region != NULL && cdp_policy_region(policy, default_region) != NULL,
               "default region missing");
    for (size_t r = 0; r < regions; r++) {
        const cdp_region_policy *region = cdp_policy_region_at(policy, r);
        FUZZ_CHECK(region != NULL && region->id != NULL, "region %zu", r);
        FUZZ_CHECK(cdp_policy_region(policy, region->id) == region, "region %s not found by id",
                   region->id);
        FUZZ_CHECK(cdp_policy_regime(policy, region->id, NULL) != NULL, "region %s: no regime",
                   region->id);
        for (size_t c = 0; c < region->country_count; c++) {
            const char *country = region->countries[c];
            FUZZ_CHECK(cdp_iso3166_valid(country), "region %s: country \"%s\"", region->id,
                       country);
            const char *home = cdp_policy_region_for_country(policy, country);
            FUZZ_CHECK(home != NULL && strcmp(home, region->id) == 0,
                       "country %s of region %s maps to %s", country, region->id,
                       home != NULL ? home : "(null)");
        }
    }
    for (size_t i = 0; i < cdp_policy_purpose_count(policy); i++) {
        const cdp_purpose_policy *purpose = cdp_policy_purpose_at(policy, i);
        FUZZ_CHECK(cdp_policy_purpose(policy, purpose->id) == purpose, "purpose %s", purpose->id);
        for (size_t c = 0; c < purpose->category_count; c++)
            FUZZ_CHECK(cdp_policy_category(policy, purpose->categories[c]) != NULL,
                       "purpose %s names unknown category %s", purpose->id,
                       purpose->categories[c]);
    }
    for (size_t i = 0; i < cdp_policy_category_count(policy); i++) {
        const cdp_category_policy *category = cdp_policy_category_at(policy, i);
        FUZZ_CHECK(cdp_policy_category(policy, category->id) == category, "category %s",
                   category->id);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    write_bundle(data, size);
    cdp_policy *policy = NULL, *again = NULL;
    cdp_err err = {0};
    cdp_status status = cdp_policy_load(dir, &policy, &err);
    if (status != CDP_OK) {
        check_refusal("policy", status, &err);
        FUZZ_CHECK(policy == NULL, "refused, yet a policy came out");
    } else {
        check_policy(policy);
        cdp_err again_err = {0};
        cdp_status again_status = cdp_policy_load(dir, &again, &again_err);
        if (again_status != CDP_NOMEM) {
            FUZZ_CHECK(again_status == CDP_OK, "second load refused: %s", again_err.message);
            FUZZ_CHECK(cdp_policy_region_count(again) == cdp_policy_region_count(policy) &&
                           cdp_policy_purpose_count(again) == cdp_policy_purpose_count(policy) &&
                           strcmp(cdp_policy_default_region(again),
                                  cdp_policy_default_region(policy)) == 0,
                       "loading is not deterministic");
        }
    }
    cdp_policy_free(again);
    cdp_policy_free(policy);

    cdp_identity_rules *rules = NULL;
    cdp_err rules_err = {0};
    status = cdp_identity_rules_load(dir, &rules, &rules_err);
    if (status != CDP_OK) {
        check_refusal("identity rules", status, &rules_err);
    } else {
        FUZZ_CHECK(cdp_identity_rule(rules, "email") != NULL, "no rule for email");
        FUZZ_CHECK(cdp_identity_max_profiles_per_merge(rules) >= 0, "negative merge cap");
    }
    cdp_identity_rules_free(rules);

    cdp_audit_policy audit;
    cdp_err audit_err = {0};
    status = cdp_audit_policy_load(dir, &audit, &audit_err);
    if (status != CDP_OK)
        check_refusal("audit policy", status, &audit_err);
    else
        FUZZ_CHECK(audit.retention_days >= 0 && audit.checkpoint_every > 0 &&
                       audit.checkpoint_interval_ms > 0,
                   "audit policy %lld days, every %llu, %lld ms", (long long)audit.retention_days,
                   (unsigned long long)audit.checkpoint_every,
                   (long long)audit.checkpoint_interval_ms);
    return 0;
}
