/* cdp — the public library API.
 *
 * One opaque handle (cdp_t) per open data directory. Every function returns a cdp_status
 * (include/cdp/error.h); on failure, cdp_errmsg() gives a message naming the field and the
 * reason. The handle is thread-safe: any number of threads may call into it concurrently, except
 * that cdp_close must be the last call. Ownership of anything returned is stated per function,
 * with the phrases "caller owns (free with X)", "borrowed until Y" and "takes ownership". */
#ifndef CDP_CDP_H
#define CDP_CDP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cdp/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CDP_VERSION_STRING "0.1.0"

typedef struct cdp cdp_t;

#define CDP_REGION_ID_MAX 16

typedef struct cdp_options {
    /* With create: the policy bundle to copy into the data directory (NULL: the bundle the
     * library was built with). Ignored otherwise: an open data directory uses its own copy. */
    const char *policy_dir;
    /* Shared RocksDB block cache across regions (0: 256 MiB). */
    size_t block_cache_bytes;
    /* 1: create a new data directory: root key (DIR/root.key, mode 0600, unless CDP_ROOT_KEY is
     * set in the environment), sealed keystore, policy copy, one partition per region.
     * Refuses an existing directory (CDP_EXISTS). 0: open an existing one. */
    int create;
    /* Unwrapped data keys cached per region, so reading a known person is one RocksDB read
     * (0: 262,144 people, about 12.5 MiB per region, allocated on the region's first use; rounded
     * up to a multiple of 4). Keys live in locked, guarded memory (sodium_malloc). */
    size_t key_cache_entries;
} cdp_options;

/* Fills *options with the defaults (open an existing directory). */
void cdp_options_default(cdp_options *options);

/* Opens (or creates) the data directory. On success *out is an open handle. On failure *out is
 * still a handle when memory allowed, so cdp_errmsg(*out) can say why; close it either way.
 * Caller owns *out (free with cdp_close). The root key comes from CDP_ROOT_KEY (64 hex
 * characters) when set, else DIR/root.key, which must not be readable by group or others
 * (CDP_INSECURE). A wrong root key is CDP_BAD_KEY; a bad policy bundle is CDP_BAD_POLICY with
 * every problem listed as "file: path: reason". */
cdp_status cdp_open(const char *data_dir, const cdp_options *options, cdp_t **out);

/* Flushes, closes every region, wipes every key from memory, frees the handle. Accepts NULL. */
void cdp_close(cdp_t *db);

/* The message of the last failed call on this handle from the calling thread; "" if none.
 * Borrowed until the next call on the handle from this thread. db may be NULL (then the last
 * failure of cdp_open on this thread). */
const char *cdp_errmsg(const cdp_t *db);

/* The regions of the data directory's policy bundle, in bundle order. Borrowed until close. */
size_t cdp_region_count(const cdp_t *db);
const char *cdp_region_id(const cdp_t *db, size_t index);

/* Closes the region's key epoch: every surviving person's data key is re-wrapped under a fresh
 * KEK and their identity index moved to a fresh blind-index key; then the old keys are destroyed.
 * Copies of the store made before (backups, copied directories, stray SST or WAL files) can no
 * longer be decrypted with this data directory's keystore. Blocks other calls while it runs.
 * new_epoch and rewrapped may be NULL. */
cdp_status cdp_close_epoch(cdp_t *db, const char *region, uint32_t *new_epoch, size_t *rewrapped);


/* ---- Callers: roles and actors ---------------------------------------------------------- */

typedef enum cdp_role {
    CDP_ROLE_INGEST = 1,      /* sends Segment-Spec events and consent */
    CDP_ROLE_PERSONALIZATION, /* reads profiles for a stated purpose */
    CDP_ROLE_DPO,             /* data protection officer: data-subject requests, unmerge */
    CDP_ROLE_AUDITOR,         /* exports and verifies the audit log */
    CDP_ROLE_ADMIN,           /* operations: metrics, keys, unmerge */
} cdp_role;

/* "ingest", "personalization", "dpo", "auditor", "admin"; "unknown" otherwise. Static. */
const char *cdp_role_name(cdp_role role);
/* Parses a role name; CDP_BAD_REQUEST for an unknown one. */
cdp_status cdp_role_parse(const char *name, cdp_role *out);

#define CDP_KEY_ID_MAX 32
#define CDP_SOURCE_MAX 32
#define CDP_PURPOSES_MAX 256

/* Who is calling: the verified API key of an HTTP request, or the local operator of the CLI.
 * Every read and write is decided and audited against it. */
typedef struct cdp_actor {
    char key_id[CDP_KEY_ID_MAX + 1]; /* public id of the API key; "local" for the CLI */
    cdp_role role;
    char region[CDP_REGION_ID_MAX + 1]; /* the key's region; data is read from it (others
                                           are transfers) and written to it when no country */
    char source[CDP_SOURCE_MAX + 1];    /* channel of an ingest key: web, ios, pos, ...; "" */
    char purposes[CDP_PURPOSES_MAX + 1]; /* comma-separated purposes the key may state; "" any */
    char request_id[64];                 /* for the audit log; "" when none */
} cdp_actor;

/* Fills *actor for the local operator (CLI). region NULL: the bundle's default region. */
cdp_status cdp_actor_local(cdp_t *db, cdp_role role, const char *region, const char *source,
                           cdp_actor *actor);

/* ---- API keys (stored as hashes in DIR/apikeys, mode 0600) ---------------------------------- */

/* Creates a key. region NULL: the default region. source: channel of an ingest key (NULL: none).
 * purposes: comma-separated purposes the key may state (NULL: all its role allows).
 * *secret is the key, shown once ("cdp_" + key id + "_" + 43 random base64url characters);
 * caller owns it (free with cdp_free). info (may be NULL) receives the key's actor view. */
cdp_status cdp_apikey_create(cdp_t *db, cdp_role role, const char *region, const char *source,
                             const char *purposes, char **secret, cdp_actor *info);
/* Checks a presented key in constant time against the stored hash. CDP_UNAUTHORIZED for a
 * malformed, unknown or revoked key. Picks up keys created by another process since. */
cdp_status cdp_apikey_verify(cdp_t *db, const char *secret, size_t secret_len, cdp_actor *out);
/* Revokes by key id. CDP_NOT_FOUND for an unknown id. */
cdp_status cdp_apikey_revoke(cdp_t *db, const char *key_id);
/* JSON array of {"key_id","role","region","source","purposes","created_at","revoked"}; caller
 * owns *json (free with cdp_free). Never includes secrets or hashes. */
cdp_status cdp_apikey_list(cdp_t *db, char **json);

/* Frees strings and buffers the library returned. Accepts NULL. */
void cdp_free(void *pointer);

/* ---- Ingest (Segment Spec) ----------------------------------------------------------------- */

typedef struct cdp_ingest_result {
    size_t accepted;   /* messages stored */
    size_t duplicates; /* messages already stored (same messageId): stored once */
    size_t rejected;   /* messages refused; each described in errors_json */
    /* JSON array [{"index": i, "code": "bad_request", "message": "field: reason"}], or NULL when
     * nothing was rejected. Caller owns it (free with cdp_ingest_result_clear). */
    char *errors_json;
    /* Data minimisation: traits and properties not stored because no purpose may lawfully use
     * them for the person (e.g. health data under GDPR without consent). JSON array
     * [{"index": i, "field": "traits.blood_type", "category": "health", "reason":
     * "sensitive_needs_consent"}], or NULL when nothing was dropped. Caller owns it (freed by
     * cdp_ingest_result_clear). The stored event records the same list (never the values). */
    size_t dropped;
    char *dropped_json;
} cdp_ingest_result;

void cdp_ingest_result_clear(cdp_ingest_result *result);

/* Ingests a request body: one Segment message (type_hint "identify", "track", "page",
 * "screen", "group" or "alias", from the route; the message's own "type" must agree) or a batch
 * (type_hint "batch": {"batch": [...]}, or NULL: a batch if the body has "batch", else one
 * message). gpc: the request carried Sec-GPC: 1. Returns when the stored messages are durable.
 * A single message's refusal is its status (CDP_BAD_REQUEST, CDP_INVALID_IDENTIFIER,
 * CDP_SUPPRESSED, CDP_PAYLOAD_TOO_LARGE, ...); a batch returns CDP_OK with the good messages
 * stored and each bad one described in result->errors_json, unless the body itself is bad
 * (CDP_INVALID_JSON, CDP_PAYLOAD_TOO_LARGE, CDP_BAD_REQUEST). Role ingest, dpo or admin. */
cdp_status cdp_ingest(cdp_t *db, const cdp_actor *actor, const char *type_hint,
                      const char *body, size_t body_len, int gpc, cdp_ingest_result *result);

/* ---- Audit log ------------------------------------------------------------------------------ */

/* The region's audit public key (Ed25519, current epoch) as 64 lowercase hex characters and a
 * NUL. region NULL: the bundle's default region. CDP_NOT_FOUND for an unknown region. */
cdp_status cdp_audit_pubkey(cdp_t *db, const char *region, char hex[65]);

/* What to export; every field may be NULL or "" (no filter). */
typedef struct cdp_audit_query {
    const char *region;    /* NULL: the bundle's default region */
    const char *from;      /* ISO-8601 time or milliseconds since the epoch */
    const char *to;
    const char *actor;     /* API key id */
    const char *profile;   /* pseudonymous profile id (32 hex) */
    const char *operation; /* "profile.read", "event.identify", ... */
    const char *decision;  /* "allow", "withhold", "deny" */
    const char *format;    /* "jsonl" (default) or "avro" (object container file) */
} cdp_audit_query;

/* Writes an export of a region's audit log to out, ending with a signed checkpoint and seal,
 * verifiable offline with `cdpctl audit verify`. A time range exports whole tree ranges; any
 * other filter gives each record its inclusion proof. Role auditor or admin; the export is
 * itself audited. Streams in constant memory. CDP_BAD_REQUEST naming a bad field. */
cdp_status cdp_audit_export_to(cdp_t *db, const cdp_actor *actor, const cdp_audit_query *query,
                               FILE *out);

/* Periodic upkeep, called by the server every few seconds: signs a checkpoint of each region's
 * audit log that has records since its last one and is due (policies/audit.json), and removes
 * audit segments older than the retention period. now_ms: the current time. */
cdp_status cdp_maintain(cdp_t *db, int64_t now_ms);

/* ---- Metrics ------------------------------------------------------------------------------ */

/* The library's counters in Prometheus text format 0.0.4 (cdp_events_ingested_total,
 * cdp_merges_total, cdp_merge_refusals_total, cdp_quarantined_merges_total, ...). Caller owns
 * *text (free with cdp_free). */
cdp_status cdp_metrics_text(cdp_t *db, char **text);

/* ---- Profiles ------------------------------------------------------------------------------ */

/* ref: "TYPE:VALUE" (email:alice@example.com, phone:+4722334455, user_id:u1, ...) or
 * "profile:<32 hex>". CDP_INVALID_IDENTIFIER for a malformed ref; CDP_NOT_FOUND for nobody.
 * purpose is required (CDP_PURPOSE_REQUIRED when NULL or empty). Each returns JSON text;
 * caller owns *json (free with cdp_free). */

/* {"profile_id", "region", "traits": {name: value}, "trait_sources": {name: {"source",
 * "channel", "updated_at"}}, "computed": {...}, "channels": {channel: {"first_seen",
 * "last_seen", "events"}}, "withheld": N} */
cdp_status cdp_profile_get(cdp_t *db, const cdp_actor *actor, const char *purpose,
                           const char *ref, char **json);
/* {"events": [...newest first...], "next": "<cursor>"|null}; limit 1..1000 (0: 50). */
cdp_status cdp_profile_events(cdp_t *db, const cdp_actor *actor, const char *purpose,
                              const char *ref, size_t limit, const char *cursor, char **json);
/* {"profile_id", "identities": [{"type", "value", "added_at", "source"}]} */
cdp_status cdp_profile_identities(cdp_t *db, const cdp_actor *actor, const char *purpose,
                                  const char *ref, char **json);
/* Splits the identifier (and the events and traits it brought) off into its own profile.
 * Role dpo or admin. {"profile_id": "...", "split_profile_id": "..."} */
cdp_status cdp_unmerge(cdp_t *db, const cdp_actor *actor, const char *ref, const char *type,
                       const char *value, char **json);

/* ---- Data-subject rights ------------------------------------------------------------------ */

/* Restricts processing of the person ref names (GDPR Art. 18; restricted 1) or lifts it (0):
 * their data is kept but served for no purpose except legal_obligation and the DPO's own access
 * (reads answer CDP_RESTRICTED). Role dpo. Audited. {"profile_id", "restricted", "changed"};
 * caller owns *json (free with cdp_free). */
cdp_status cdp_restrict(cdp_t *db, const cdp_actor *actor, const char *ref, int restricted,
                        char **json);

/* Deletes every event past its data category's retention (policies/retention.json; behavioural
 * events: 13 months) as of now_ms. Reads stop serving an event the moment it expires; this
 * reclaims the space. cdp_maintain runs it once an hour. deleted may be NULL. */
cdp_status cdp_retention_sweep(cdp_t *db, int64_t now_ms, size_t *deleted);

/* ---- Data-subject access and portability export ------------------------------------------ */

/* Writes everything held on the person ref names (GDPR Art. 15 and 20, CCPA right to know) to
 * out (borrowed; flushed, not closed): the profile with its computed traits and channels,
 * identities (type, value, added_at, source), traits with source, channel, time and category,
 * every event of the profile and of the profiles merged into it, the merge history, consent
 * records and the audit entries about the person. format "json": one JSON document
 * {"format", "version", "generated_at", "region", "profile_id", "subject", "identities",
 * "traits", "events", "merges", "consent", "audit", "counts"}; "avro": an Avro object container
 * file of schemas/subject_export.avsc items (header, subject, one item per identity, trait,
 * event, merge, consent record and audit entry, end with the counts). Streams in constant
 * memory, whatever the number of events.
 * Role dpo only (else CDP_FORBIDDEN). CDP_BAD_REQUEST "format: ..." for another format,
 * CDP_INVALID_IDENTIFIER for a malformed ref, CDP_NOT_FOUND for nobody: nothing is written to
 * out and nothing is audited for these. Otherwise the export is audited (operation
 * "subject.export", decision allow, durable) before the first byte is written, so the record
 * stays in the log even when writing fails midway (CDP_IO; out then holds a partial export
 * that does not parse / has no end item). */
cdp_status cdp_subject_export(cdp_t *db, const cdp_actor *actor, const char *ref,
                              const char *format, FILE *out);
/* ---- Erasure (GDPR Art. 17, CCPA delete) ------------------------------------------------- */

/* Erases the whole merged person that ref names ("TYPE:VALUE" or "profile:<32 hex>"): the
 * profile and every profile merged into it, with their data keys (crypto-shredding), events,
 * consent and merge records and identity index entries, in one atomic synced write with its
 * audit record ("erasure"). Their identifiers are suppressed: later events carrying one are
 * refused (CDP_SUPPRESSED) until a DPO lifts it (cdp_suppression_lift). The physical purge
 * (flush, compaction: no live file keeps their bytes) is batched: it runs in cdp_erase_purge,
 * cdp_maintain and at the next cdp_open, which also completes an erasure a crash interrupted.
 * request_id: the data-subject request's id, 1..63 characters of [A-Za-z0-9_.:-] (NULL: a UUID
 * is generated). Role dpo or admin (else CDP_FORBIDDEN, nothing changed). On success
 * *receipt_json is the receipt, signed with the region's audit key (see cdp_receipt_verify);
 * caller owns it (free with cdp_free). Erasing an erased person again returns the stored receipt.
 * CDP_INVALID_IDENTIFIER for a malformed ref; CDP_NOT_FOUND when nobody holds the identifier;
 * CDP_BAD_REQUEST for a bad request_id; CDP_CONFLICT when request_id was used for another
 * erasure. */
cdp_status cdp_erase(cdp_t *db, const cdp_actor *actor, const char *ref, const char *request_id,
                     char **receipt_json);

/* Completes every pending erasure: the physical purge of all of them at once (one flush and one
 * compaction per region), then marks them done. Safe to call at any time; cheap when nothing is
 * pending. */
cdp_status cdp_erase_purge(cdp_t *db);

/* Lifts the suppression of an erased person's identifier ("TYPE:VALUE"), e.g. when the person
 * comes back with fresh consent: their events are accepted again and create a new person.
 * Role dpo only; audited ("suppression.lift"). CDP_NOT_FOUND when it is not suppressed. */
cdp_status cdp_suppression_lift(cdp_t *db, const cdp_actor *actor, const char *ref);

/* Checks an erasure receipt offline against the region's audit public key (64 hex, from
 * `cdpctl audit pubkey` or the receipt's own "public_key" as obtained out of band): CDP_OK only
 * if it is well-formed and its Ed25519 signature verifies. CDP_INVALID_JSON / CDP_CORRUPT
 * (naming the field) for a malformed receipt, CDP_CRYPTO for a signature that fails or another
 * key, CDP_BAD_REQUEST for a malformed pubkey_hex. Needs no handle: cdp_errmsg(NULL) says why. */
cdp_status cdp_receipt_verify(const char *json, size_t len, const char *pubkey_hex);
/* ---- Consent -------------------------------------------------------------------------------- */

/* Records a person's consent decisions (POST /v1/consent). body: {"identity": {"type", "value"},
 * "purposes": {purpose: "granted"|"denied"|"withdrawn"}, "source", "notice_version", "tcf": "<TC
 * string>", "gpc": bool, "timestamp": "ISO-8601"}; at least one purpose, a TC string or GPC.
 * A TC string adds the purposes it maps to (explicit "purposes" entries win). gpc (the body's
 * "gpc": true or the Sec-GPC: 1 header) records a denial of every sale/share purpose with
 * proof.gpc, when the person's regime honours GPC. A person nobody holds yet is created through
 * the ingest path. Every record and the audit entry are written in one synced batch.
 * Role ingest or dpo (CDP_FORBIDDEN). Refusals write nothing: CDP_BAD_REQUEST "purposes.foo:
 * unknown purpose", "tcf: <reason>", "timestamp: ...", "identity: ..."; CDP_INVALID_JSON;
 * CDP_INVALID_IDENTIFIER; CDP_SUPPRESSED. *json: {"profile_id", "recorded": {purpose: state},
 * "gpc": "honoured"|"not_applicable"|"absent"}; caller owns it (free with cdp_free). */
cdp_status cdp_consent_set(cdp_t *db, const cdp_actor *actor, const char *body, size_t len,
                           int gpc, char **json);

/* The consent view of a profile (GET /v1/profiles/REF/consent): {"profile_id", "region",
 * "regime", "purposes": {purpose: {"state", "time", "source", "notice_version", "proof": {"tcf",
 * "gpc", "request_id"}}}, "gpc": {"signal", "honoured", "regime"}}, the current state per purpose
 * across the profile and the profiles merged into it. Role personalization or dpo, purpose
 * required, audited as "profile.consent". Caller owns *json (free with cdp_free). */
cdp_status cdp_profile_consent(cdp_t *db, const cdp_actor *actor, const char *purpose,
                               const char *ref, char **json);

/* ---- Backups ------------------------------------------------------------------------------- */

/* Writes a consistent backup of the open data directory to backup_dir: a RocksDB checkpoint of
 * every region, the sealed keystore, the policies, FORMAT, the API keys, the erasure ledger and a
 * manifest (backup time, the ledger's position, the regions, the format; keyed with a MAC derived
 * from the root key). NEVER the root key: the operator keeps it separately, and restoring needs
 * the same root key. Blocks other calls on the handle while the regions are copied (the copy
 * is consistent across regions). The backup holds personal data (sealed as in the store): keep it
 * as carefully as the data directory, and delete it when its retention ends.
 * CDP_EXISTS when backup_dir exists and is not empty; on any failure nothing is left. */
cdp_status cdp_backup(cdp_t *db, const char *backup_dir);

/* Restores backup_dir into data_dir, which is either the data directory itself, stopped (no
 * handle open on it: CDP_CONFLICT otherwise), or a new one (absent, or holding only root.key,
 * erasures.ledger and apikeys). The root key comes from CDP_ROOT_KEY or data_dir/root.key; it
 * must be the one the backup was made under (CDP_BAD_KEY). Regions and keystore come from the
 * backup; the erasure ledger and the API keys stay data_dir's own when it has them (revoked keys
 * stay revoked; copy the live erasures.ledger into a new directory to carry the erasures over).
 * Every erasure the ledger records after the backup was taken is applied again before the
 * store serves (the person's records, keys and index entries deleted, their identifiers
 * suppressed, the stored receipt kept, audited as "erasure.replay") and purged physically; then
 * the key epoch of every region is closed, so the restored keystore no longer holds the keys the
 * backup was made under (a backup made before an epoch close would otherwise bring keys back
 * that the close destroyed). Lifts of suppressions made after the backup must be made again, and
 * audit records written after the backup are not in the restored log (export it first).
 * Refusals change nothing: CDP_NOT_FOUND (no backup, no manifest), CDP_CORRUPT (manifest does
 * not parse or its MAC fails, a file missing), CDP_BAD_KEY, CDP_CONFLICT (data_dir in use, or its
 * ledger belongs to another data directory or is older than the backup), CDP_EXISTS (data_dir is
 * something else). cdp_errmsg(NULL) says why. */
cdp_status cdp_restore(const char *backup_dir, const char *data_dir);
/* ---- Data-subject requests (OpenGDPR 0.1 / OpenDSR v3), rectification, objection ----------- */

/* Submits a request (POST /opengdpr_requests). body: the OpenGDPR 0.1 body
 * {"subject_request_id": "<uuid>", "subject_request_type": "erasure"|"access"|"portability"|
 * "rectification"|"restriction"|"objection", "submitted_time": "ISO-8601", "subject_identities":
 * [{"identity_type", "identity_value", "identity_format": "raw"|"sha256"}], "api_version": "0.1"}
 * or the OpenDSR v3 body ("regulation": "gdpr"|"ccpa", "subject_identities": {type: value or
 * {"value", "format"}}). Rectification carries "extensions": {"cdp": {"traits": {...}}},
 * objection "extensions": {"cdp": {"purpose": "..."}}. Everything is validated first
 * (CDP_BAD_REQUEST naming the field; CDP_INVALID_JSON; CDP_INVALID_IDENTIFIER), the identities
 * are resolved to the person at once (nobody: the request is completed with outcome
 * "not_found"), and only metadata is stored (never an identifier). The same id again:
 * CDP_CONFLICT unless the body is identical (then the same answer, *created 0).
 * *json: {"subject_request_id", "received_time", "expected_completion_time" (submitted + 30
 * days GDPR, + 45 days CCPA), "request_status"}. Role dpo. Caller owns *json (free with
 * cdp_free). created may be NULL. */
cdp_status cdp_dsr_submit(cdp_t *db, const cdp_actor *actor, const char *body, size_t len,
                          char **json, int *created);
/* {"subject_request_id", "subject_request_type", "request_status": pending|in_progress|
 * completed|cancelled, "regulation", "api_version", "submitted_time", "received_time",
 * "expected_completion_time", "updated_time", "identity_types", "profile_id", "outcome",
 * "region"}. CDP_NOT_FOUND for an unknown id. Role dpo. Caller owns *json (free with cdp_free). */
cdp_status cdp_dsr_status(cdp_t *db, const cdp_actor *actor, const char *id, char **json);
/* {"requests": [status, ...]} in id order. Role dpo. Caller owns *json (free with cdp_free). */
cdp_status cdp_dsr_list(cdp_t *db, const cdp_actor *actor, char **json);
/* Cancels a pending request (CDP_CONFLICT in any other state). *json: its status. Role dpo. */
cdp_status cdp_dsr_cancel(cdp_t *db, const cdp_actor *actor, const char *id, char **json);
/* Writes the result of a completed request to out (borrowed; flushed, not closed): access and
 * portability: the subject export (cdp_subject_export; format "json", or "avro" for
 * portability; NULL: json), generated now; erasure: the signed receipt; the others: {"outcome"}.
 * CDP_CONFLICT while not completed, CDP_BAD_REQUEST "format: ..." for another format. Role dpo. */
cdp_status cdp_dsr_result(cdp_t *db, const cdp_actor *actor, const char *id, const char *format,
                          FILE *out);
/* The worker (cdp_maintain calls it): carries out up to max (0: 64) pending requests, pending ->
 * in_progress -> completed; an interrupted one runs again. */
cdp_status cdp_dsr_process(cdp_t *db, int64_t now_ms, size_t max);
/* GET /discovery: {"api_version", "supported_api_versions", "supported_regulations",
 * "supported_identities": [{"identity_type", "identity_format"}],
 * "supported_subject_request_types", "processor_certificate": null}. Caller owns *json. */
cdp_status cdp_dsr_discovery(cdp_t *db, char **json);
/* Prometheus text as of now_ms: cdp_dsr_requests_total{type}, cdp_dsr_pending,
 * cdp_dsr_overdue (pending or in progress past due). Caller owns *text (free with cdp_free). */
cdp_status cdp_dsr_metrics_text(cdp_t *db, int64_t now_ms, char **text);

/* Rectification (GDPR Art. 16): sets the traits of traits_json (a JSON object; source "dpo",
 * time now) on the person ref names, and rewrites their stored events so the old values are
 * gone from the live store. Audited "dsr.rectify". Role dpo. *json: {"profile_id", "rectified":
 * [names], "events_rewritten"}; caller owns it (free with cdp_free). */
cdp_status cdp_rectify(cdp_t *db, const cdp_actor *actor, const char *ref,
                       const char *traits_json, char **json);
/* Objection (GDPR Art. 21): records a consent withdrawal of purpose with source "dsr".
 * Audited "dsr.objection". Role dpo. *json: {"profile_id", "purpose", "state", "source"}. */
cdp_status cdp_object(cdp_t *db, const cdp_actor *actor, const char *ref, const char *purpose,
                      char **json);

/* Validates the policy bundle in dir (regions, privacy files, identity.json, audit.json) as
 * cdp_open would, without a data directory and without touching the disk. CDP_OK with *report
 * "N regions, M purposes, ..."; CDP_BAD_POLICY with *report listing every problem, one
 * "file: path: reason" a line; CDP_MISUSE for a NULL or empty dir (no report). Caller owns
 * *report (free with cdp_free). Thread-safe. */
cdp_status cdp_policy_check(const char *dir, char **report);

/* ---- The web console (GET /console/): what its views ask beyond the routes above ---------- */

/* The DSR queue (role dpo): every request filtered by region, type and status (each NULL or "":
 * any), with "due_ms", "days_left" (whole days to the due date, negative when overdue; null once
 * completed or cancelled), "overdue" and "on_time" besides cdp_dsr_status's fields.
 * {"now_ms", "requests": [...], "counts": {"total", "open", "overdue"}}. CDP_BAD_REQUEST naming
 * region, type or status for an unknown value. Audited "dsr.queue". Caller owns *json (free
 * with cdp_free). */
cdp_status cdp_dsr_queue(cdp_t *db, const cdp_actor *actor, const char *region,
                         const char *type, const char *status, char **json);
/* DSR timeliness without personal data (role auditor, dpo or admin): {"now_ms",
 * "completed_on_time", "completed_late", "open_within_due", "open_overdue", "cancelled",
 * "by_type": {type: {...}}}. Audited "dsr.timeliness". Caller owns *json (free with cdp_free). */
cdp_status cdp_dsr_timeliness(cdp_t *db, const cdp_actor *actor, char **json);
/* The DPO's view of one person (role dpo only): {"profile_id", "region", "regime",
 * "restricted", "identities", "consent": {"current": {purpose: {"state", "time", "source",
 * "notice_version", "proof", "basis"}}, "history": [every consent record, oldest first]},
 * "merges", "counts"}. Audited "subject.view" (durably, before anything is read out); a refusal
 * by role is audited too. CDP_INVALID_IDENTIFIER, CDP_NOT_FOUND as cdp_profile_get. Caller owns
 * *json (free with cdp_free). */
cdp_status cdp_subject_view(cdp_t *db, const cdp_actor *actor, const char *ref, char **json);
/* The suppression list (role dpo): {"suppressions": [{"region", "entry", "request_id",
 * "time"}]}, oldest first; "entry" is the start of the keyed blind index (never an identifier).
 * Audited "suppression.list". Caller owns *json (free with cdp_free). */
cdp_status cdp_suppression_list(cdp_t *db, const cdp_actor *actor, char **json);
/* cdp_suppression_lift with the DPO's reason: "fresh_consent", "erased_in_error",
 * "identifier_reassigned" or "legal_requirement" (CDP_BAD_REQUEST "reason: ..." otherwise,
 * nothing changed), recorded as the audit record's reason. */
cdp_status cdp_suppression_lift_reason(cdp_t *db, const cdp_actor *actor, const char *ref,
                                       const char *reason);

/* ---- Operations: store statistics -------------------------------------------------------- */

/* Exact counts of what the store holds, per region and in total, as JSON:
 * {"exact": true, "regions": [{"region", "people", "events", "merges", "erasures",
 *  "data_keys", "consent_records", "merge_records", "identity_index_entries",
 *  "suppressed_identifiers", "audit_records", "bytes_on_disk"}, ...], "totals": {same, no
 * "region"}}. people: profiles held; merges: profiles merged into another person and still held
 * for their events; erasures: completed erasures in the erasure ledger. Each count is a key-only
 * scan (no personal data is decrypted): its cost grows with the store. Role admin or dpo (else
 * CDP_FORBIDDEN); audited as "admin.stats". Caller owns *json (free with cdp_free). */
cdp_status cdp_stats(cdp_t *db, const cdp_actor *actor, char **json);

#ifdef __cplusplus
}
#endif
#endif
