/* Operations on a decoded profile record (cdp/store/records.h): identities, traits with their
 * merge strategies, channel summaries, computed traits, and folding one profile into another.
 * All strings are owned by the record (cdp_malloc'd) and freed by cdp_profile_record_clear. */
#ifndef CDP_IDENTITY_PROFILE_OPS_H
#define CDP_IDENTITY_PROFILE_OPS_H

#include <jansson.h>
#include <stdint.h>

#include "identity/rules.h"
#include "store/records.h"
#include "util/err.h"

/* Index of (type, value) among the identities, or -1. */
long cdp_profile_find_identity(const cdp_profile_record *profile, const char *type,
                               const char *value);
/* How many identities of type it holds; with since_ms > 0, only those added at or after. */
size_t cdp_profile_count_type(const cdp_profile_record *profile, const char *type,
                              int64_t since_ms);
/* The value of a unique type it holds (the first), or NULL. Borrowed. */
const char *cdp_profile_type_value(const cdp_profile_record *profile, const char *type);

cdp_status cdp_profile_add_identity(cdp_profile_record *profile, const char *type,
                                    const char *value, int64_t added_at, const char *source,
                                    const char *message_id);

/* Sets a trait under the rules' strategy for its name; value is taken as JSON. */
cdp_status cdp_profile_apply_trait(cdp_profile_record *profile, const cdp_identity_rules *rules,
                                   const char *name, json_t *value, const char *source,
                                   const char *channel, int64_t time_ms);
/* The same from an existing entry (merging profiles). */
cdp_status cdp_profile_apply_trait_entry(cdp_profile_record *profile,
                                         const cdp_identity_rules *rules,
                                         const cdp_trait_entry *entry);

cdp_status cdp_profile_touch_channel(cdp_profile_record *profile, const char *channel,
                                     int64_t time_ms, int64_t count);

/* Computed traits kept in computed_json: preferred language and timezone (newest), orders per
 * currency from "Order Completed", last order time. */
cdp_status cdp_profile_update_computed(cdp_profile_record *profile, const char *event_name,
                                       json_t *properties, const char *locale,
                                       const char *timezone, int64_t time_ms);

/* Folds `from` into `into`: identities (union), traits (per strategy), channels (min/max/sum),
 * computed (sums, newest), merged_from (+ from's id and its merged_from), created_at (min),
 * restricted (either). */
cdp_status cdp_profile_fold(cdp_profile_record *into, const cdp_profile_record *from,
                            const cdp_identity_rules *rules);

#endif
