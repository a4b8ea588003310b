/* Private: the API key store on a data directory's path, without opening the directory (no
 * root key, no RocksDB). `cdpctl keys` uses these so keys can be created, listed and revoked
 * while a server holds the directory open; cdp_apikey_* in include/cdp/cdp.h wrap them. */
#ifndef CDP_API_APIKEYS_H
#define CDP_API_APIKEYS_H

#include "cdp/cdp.h"
#include "policy/policy.h"
#include "util/err.h"

/* As cdp_apikey_create, with the directory's policy bundle (borrowed) for the region check.
 * CDP_NOT_FOUND when data_dir is not a data directory. Thread-safe and process-safe: writers
 * serialise on DIR/apikeys.lock. */
cdp_status cdp_apikeys_create_at(const char *data_dir, const cdp_policy *policy, cdp_role role,
                                 const char *region, const char *source, const char *purposes,
                                 char **secret, cdp_actor *info, cdp_err *err);
/* As cdp_apikey_revoke. */
cdp_status cdp_apikeys_revoke_at(const char *data_dir, const char *key_id, cdp_err *err);
/* As cdp_apikey_list; caller owns *json (free with cdp_free). */
cdp_status cdp_apikeys_list_at(const char *data_dir, char **json, cdp_err *err);

/* Records in the default region's audit log every API key created or revoked since the last
 * call (by this or another process, e.g. `cdpctl keys` while a server runs): see
 * audit/admin.h. Called at open, by cdp_maintain and after cdp_apikey_create/revoke. */
cdp_status cdp_apikeys_audit_changes(cdp_t *db, cdp_err *err);

#endif
