/* Backups that keep erasures final.
 *
 * A backup (cdp_privacy_backup) is a directory: regions/<id>/ (a RocksDB checkpoint of each
 * region), keystore (sealed by the root key), policies/, FORMAT, apikeys, erasures.ledger (the
 * ledger as it was), and manifest.json, written last: {"format": "cdp-backup 1", "created": ms,
 * "ledger": {"id", "position"}, "regions": [...], "mac": hex}. The root key is never in it: the
 * operator keeps it separately, and restoring needs the same root key (the manifest's MAC is
 * keyed by a key derived from it, and the keystore is sealed by it).
 *
 * Restoring (cdp_privacy_restore_files, then the open of the data directory) puts the backup's
 * regions and keystore in place but keeps the CURRENT ledger of the target (the backup's only
 * when the target has none), and every ledger entry beyond the backup's position is applied again
 * (cdp_privacy_ledger_replay) before the store serves: the erased profiles' keys, profiles,
 * events, consent, merges and identity entries deleted, suppression entries written, the
 * journal entry and receipt restored, an audit record "erasure.replay", then a physical purge.
 * The same replay runs at every open from the position recorded in each region's `meta`
 * ("ledger.applied"), so a region directory copied back by hand is caught too.
 *
 * Key epochs: the backup's wrapped data keys open only with the backup's keystore, so restore
 * uses it; the API then closes the key epoch of every region, so the restored data directory no
 * longer holds the keys the backup was made under (see cdp_restore in include/cdp/cdp.h).
 *
 * Not thread-safe against other calls: cdp_privacy_backup runs under the handle's exclusive lock;
 * restore works on a stopped data directory. */
#ifndef CDP_PRIVACY_BACKUP_H
#define CDP_PRIVACY_BACKUP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/rootkey.h"
#include "identity/resolve.h"
#include "util/err.h"

#define CDP_BACKUP_MANIFEST "manifest.json"
#define CDP_BACKUP_FORMAT "cdp-backup 1"
#define CDP_BACKUP_APPLIED_KEY "ledger.applied"

/* Appends the erasure (its region, request id, member profile ids, signed receipt) to the
 * env's ledger; does nothing when env->ledger is NULL. only_if_missing: first checks that no
 * entry has this request id (crash recovery, idempotent). */
cdp_status cdp_privacy_ledger_record(const cdp_identity_env *env, size_t region_index,
                                     const char *request_id, json_t *members,
                                     const char *receipt_json, int only_if_missing,
                                     cdp_err *err);

/* Applies every ledger entry not yet applied to this store (seq beyond each region's
 * "ledger.applied" and no journal entry for its request id in the region), purges physically,
 * and records the ledger's position as applied in every region. *applied (may be NULL) counts
 * the erasures applied again. */
cdp_status cdp_privacy_ledger_replay(const cdp_identity_env *env, size_t *applied, cdp_err *err);

/* Writes a backup of the open data directory data_dir to backup_dir (created; an existing empty
 * directory is used; CDP_EXISTS if it exists and is not empty). On failure nothing is left. */
cdp_status cdp_privacy_backup(const cdp_identity_env *env, const cdp_rootkey *rootkey,
                              const char *data_dir, const char *backup_dir, int64_t now_ms,
                              cdp_err *err);

/* The file work of a restore into data_dir (stopped, or new): checks the backup (manifest,
 * MAC, keystore under the root key from CDP_ROOT_KEY or data_dir/root.key) before changing
 * anything, then replaces regions, keystore, policies and FORMAT, keeps data_dir's ledger and
 * apikeys (else the backup's), and marks every region as applied up to the backup's ledger
 * position. The caller then opens data_dir, which replays the rest. Refusals change nothing:
 * CDP_NOT_FOUND (no manifest / no backup), CDP_CORRUPT (manifest does not parse, MAC fails, a
 * file is missing), CDP_BAD_KEY (another root key, or none), CDP_CONFLICT (data_dir's ledger
 * belongs to another data directory or is older than the backup, or data_dir is in use),
 * CDP_EXISTS (data_dir is something else, not empty). */
cdp_status cdp_privacy_restore_files(const char *backup_dir, const char *data_dir, cdp_err *err);

#endif
