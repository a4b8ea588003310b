/* Identity rules (policies/identity.json): per identifier type, whether it is unique to one
 * person, how many a profile may hold (overall and per time window), its priority when an event
 * must pick one profile; blocked values; merge caps; trait merge strategies. Immutable once
 * loaded; safe to share across threads. */
#ifndef CDP_IDENTITY_RULES_H
#define CDP_IDENTITY_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct cdp_id_type_rule {
    char type[33];
    int unique;        /* two different values never live in one profile (login-id guard) */
    int max;           /* at most this many values per profile */
    int priority;      /* higher wins when an event must choose between profiles */
    int window_days;   /* with max_in_window: at most max_in_window new values per window */
    int max_in_window;
    int weak; /* shared hardware (device ids): alone, it never merges two profiles that hold
                 conflicting stronger identifiers (two different e-mails, say) */
} cdp_id_type_rule;

typedef enum cdp_trait_strategy {
    CDP_TRAIT_NEWEST = 0,      /* the value with the newest timestamp wins (default) */
    CDP_TRAIT_OLDEST,          /* the value with the oldest timestamp wins */
    CDP_TRAIT_FIRST_NON_EMPTY, /* the first non-empty value stays */
    CDP_TRAIT_UNION,           /* lists: the union of the elements */
} cdp_trait_strategy;

typedef struct cdp_identity_rules cdp_identity_rules;

/* Loads dir/identity.json. CDP_BAD_POLICY listing every problem as "identity.json: path:
 * reason". A missing file gives the built-in defaults (the shipped policies/identity.json).
 * Caller owns *out (free with cdp_identity_rules_free). */
cdp_status cdp_identity_rules_load(const char *dir, cdp_identity_rules **out, cdp_err *err);
void cdp_identity_rules_free(cdp_identity_rules *rules); /* accepts NULL */

/* The rule for a type: its own, or the external-id default. Never NULL. Borrowed. */
const cdp_id_type_rule *cdp_identity_rule(const cdp_identity_rules *rules, const char *type);
/* 1 if the normalized value is blocked for the type (test@test.com, "undefined", ...). */
int cdp_identity_blocked(const cdp_identity_rules *rules, const char *type, const char *value);
cdp_trait_strategy cdp_identity_trait_strategy(const cdp_identity_rules *rules,
                                               const char *trait);
const char *cdp_identity_rule_version(const cdp_identity_rules *rules);
int cdp_identity_max_profiles_per_merge(const cdp_identity_rules *rules);
int cdp_identity_max_merges_per_profile(const cdp_identity_rules *rules);
int cdp_identity_max_identifiers_per_profile(const cdp_identity_rules *rules);

#endif
