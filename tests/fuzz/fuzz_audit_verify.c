/* Fuzzes offline verification of audit exports (cdp_audit_verify_export), JSON Lines and Avro
 * object container files alike (the verifier detects the format from the first bytes).
 * Input: 32 bytes of Ed25519 public key, then the export file. The seeds are real exports by
 * `cdpctl audit export` with their region's key, so the fuzzer starts from intact files.
 * Invariants: the outcome is OK / CRYPTO / CORRUPT / NOMEM, a failure has a message and a
 * report naming it; an intact export is verified the same way twice, and never with another key
 * (a signature that checks under any key would make the log able to lie). */
#include <stdio.h>
#include <string.h>

#include "audit/export.h"
#include "fuzz_util.h"

static cdp_status verify(const uint8_t key[32], const uint8_t *bytes, size_t len,
                         cdp_audit_verify_report *report, cdp_err *err) {
    /* fmemopen of 0 bytes fails with EINVAL in glibc: an empty file is a 1-byte buffer read 0. */
    static const char empty[1] = {0};
    FILE *in = fmemopen(len > 0 ? (void *)bytes : (void *)empty, len > 0 ? len : 1, "rb");
    FUZZ_CHECK(in != NULL, "fmemopen");
    if (len == 0)
        fgetc(in); /* at end */
    memset(report, 0, sizeof *report);
    cdp_status status = cdp_audit_verify_export(in, key, report, err);
    fclose(in);
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 32)
        return 0;
    const uint8_t *key = data;
    const uint8_t *bytes = data + 32;
    size_t len = size - 32;
    cdp_audit_verify_report report, again;
    cdp_err err = {0};
    cdp_status status = verify(key, bytes, len, &report, &err);
    if (status != CDP_OK) {
        FUZZ_CHECK(status == CDP_CRYPTO || status == CDP_CORRUPT || status == CDP_NOMEM,
                   "status %d (%s)", (int)status, err.message);
        FUZZ_CHECK_REFUSAL(status, err);
        FUZZ_CHECK(report.message[0] != '\0', "failure with no report message");
        return 0;
    }
    FUZZ_CHECK(report.region[0] != '\0', "intact, with no region");
    FUZZ_CHECK(strcmp(report.mode, "range") == 0 || strcmp(report.mode, "filtered") == 0,
               "mode \"%s\"", report.mode);
    if (strcmp(report.mode, "range") == 0)
        FUZZ_CHECK(report.first_seq <= report.end_seq && report.end_seq <= report.tree_size &&
                       report.records == report.end_seq - report.first_seq,
                   "range [%llu, %llu) of tree %llu with %llu records",
                   (unsigned long long)report.first_seq, (unsigned long long)report.end_seq,
                   (unsigned long long)report.tree_size, (unsigned long long)report.records);
    else
        FUZZ_CHECK(report.records <= report.tree_size, "%llu records of tree %llu",
                   (unsigned long long)report.records, (unsigned long long)report.tree_size);

    cdp_err again_err = {0};
    status = verify(key, bytes, len, &again, &again_err);
    FUZZ_CHECK(status == CDP_OK && again.records == report.records &&
                   memcmp(again.root, report.root, 32) == 0,
               "second verification differs: %s", again_err.message);

    uint8_t other[32];
    memcpy(other, key, 32);
    other[len % 32] ^= (uint8_t)(1u << (len % 8));
    status = verify(other, bytes, len, &again, &again_err);
    FUZZ_CHECK(status != CDP_OK, "an intact export also verifies under another key");
    return 0;
}
