/* Fuzzes the body of POST /opengdpr_requests (OpenGDPR 0.1 and OpenDSR v3) as the submit path
 * reads it: JSON with duplicate keys refused, cdp_dsr_parse against the built-in identity rules,
 * then the rectification traits check. Invariants: a refusal is CDP_BAD_REQUEST with
 * "field: reason"; an accepted request is well formed (lower-case UUID, known type and
 * regulation, 1..16 identities of known shape, sha256 values 64 lower- or upper-case hex, a
 * purpose for an objection, a traits object for a rectification, a due date after the
 * submission) and parsing it again gives the same request. */
#include <ctype.h>
#include <jansson.h>
#include <string.h>

#include "fuzz_util.h"
#include "identity/rules.h"
#include "privacy/dsr.h"
#include "privacy/rectify.h"

static cdp_identity_rules *rules;

static int known_purpose(const void *ctx, const char *purpose) {
    (void)ctx;
    static const char *const purposes[] = {"personalization", "marketing", "analytics",
                                           "advertising"};
    for (size_t i = 0; i < sizeof purposes / sizeof purposes[0]; i++)
        if (strcmp(purposes[i], purpose) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    cdp_err err = {0};
    /* No identity.json there: the built-in defaults, the shipped policies/identity.json. */
    if (cdp_identity_rules_load("/nonexistent-cdp-fuzz", &rules, &err) != CDP_OK) {
        fprintf(stderr, "identity rules: %s\n", err.message);
        abort();
    }
    return 0;
}

static void check_accepted(const cdp_dsr_parsed *parsed) {
    FUZZ_CHECK(strlen(parsed->id) == 36, "id \"%s\"", parsed->id);
    for (size_t i = 0; i < 36; i++)
        FUZZ_CHECK(!isupper((unsigned char)parsed->id[i]), "id \"%s\" not lower-case", parsed->id);
    FUZZ_CHECK((unsigned)parsed->type < CDP_DSR_TYPE_COUNT, "type %d", (int)parsed->type);
    FUZZ_CHECK(strcmp(parsed->regulation, "gdpr") == 0 || strcmp(parsed->regulation, "ccpa") == 0,
               "regulation \"%s\"", parsed->regulation);
    FUZZ_CHECK(strcmp(parsed->api_version, "0.1") == 0 || strcmp(parsed->api_version, "3.0") == 0,
               "api_version \"%s\"", parsed->api_version);
    FUZZ_CHECK(parsed->identity_count >= 1 && parsed->identity_count <= CDP_DSR_IDENTITIES_MAX,
               "%zu identities", parsed->identity_count);
    for (size_t i = 0; i < parsed->identity_count; i++) {
        const cdp_dsr_identity *identity = &parsed->identities[i];
        FUZZ_CHECK(identity->type[0] != '\0' && strcmp(identity->type, "profile") != 0,
                   "identity %zu type \"%s\"", i, identity->type);
        FUZZ_CHECK(identity->value != NULL && identity->len > 0 &&
                       strlen(identity->value) == identity->len,
                   "identity %zu value", i);
        if (identity->sha256) {
            FUZZ_CHECK(identity->len == 64, "sha256 of %zu characters", identity->len);
            for (size_t j = 0; j < 64; j++)
                FUZZ_CHECK(isxdigit((unsigned char)identity->value[j]), "sha256 not hex");
        }
    }
    if (parsed->type == CDP_DSR_OBJECTION)
        FUZZ_CHECK(parsed->purpose != NULL && known_purpose(NULL, parsed->purpose),
                   "objection without a known purpose");
    if (parsed->type == CDP_DSR_RECTIFICATION)
        FUZZ_CHECK(json_is_object(parsed->traits), "rectification without traits");
    FUZZ_CHECK(parsed->submitted_ms >= 0, "submitted %lld", (long long)parsed->submitted_ms);
    FUZZ_CHECK(cdp_dsr_due_ms(parsed->regulation, parsed->submitted_ms) > parsed->submitted_ms,
               "due before submitted");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_error_t json_error;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL)
        return 0;
    cdp_dsr_parsed parsed, again;
    cdp_err err = {0};
    cdp_status status = cdp_dsr_parse(rules, root, known_purpose, NULL, &parsed, &err);
    if (status == CDP_OK && parsed.traits != NULL)
        status = cdp_rectify_check(parsed.traits, &err);
    if (status != CDP_OK) {
        FUZZ_CHECK(status == CDP_BAD_REQUEST || status == CDP_NOMEM, "status %d (%s)",
                   (int)status, err.message);
        FUZZ_CHECK_REFUSAL(status, err);
        FUZZ_CHECK(strchr(err.message, ':') != NULL, "\"%s\" names no field", err.message);
    } else {
        check_accepted(&parsed);
        cdp_err again_err = {0};
        FUZZ_CHECK(cdp_dsr_parse(rules, root, known_purpose, NULL, &again, &again_err) == CDP_OK,
                   "second parse refused: %s", again_err.message);
        FUZZ_CHECK(memcmp(&again, &parsed, sizeof parsed) == 0, "parsing is not deterministic");
    }
    json_decref(root);
    return 0;
}
