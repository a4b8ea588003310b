/* What the web console (cdpd's /console/) asks of the one door beyond the other routes: the DSR
 * queue with due dates, DSR timeliness for auditors, the DPO's view of one person, and the
 * suppression list with lifting for a stated reason. Each decides by role, audits the decision
 * (refusals too) and answers JSON text; caller owns *json (free with cdp_free). Thread-safe (the
 * caller holds the handle shared). */
#ifndef CDP_ACCESS_CONSOLE_H
#define CDP_ACCESS_CONSOLE_H

#include <stdint.h>

#include "access/access.h"

/* The DSR queue (role dpo), filtered by region, type and status (each NULL or "": any). Each item
 * is the request's status (cdp_dsr_status) plus "due_ms", "days_left" (whole days until due,
 * negative when overdue; null once completed or cancelled), "overdue" and "on_time" (completed:
 * by its due date; else null). {"now_ms", "requests": [...], "counts": {"total", "open",
 * "overdue"}}. CDP_BAD_REQUEST naming region, type or status for an unknown value. Audited
 * "dsr.queue". */
cdp_status cdp_access_dsr_queue(const cdp_identity_env *env, const cdp_actor *actor,
                                const char *region, const char *type, const char *status,
                                int64_t now_ms, char **json, cdp_err *err);

/* Counts without any personal data (role auditor, dpo or admin): {"now_ms", "completed_on_time",
 * "completed_late", "open_within_due", "open_overdue", "cancelled", "by_type": {type: {same}}}.
 * Audited "dsr.timeliness". */
cdp_status cdp_access_dsr_timeliness(const cdp_identity_env *env, const cdp_actor *actor,
                                     int64_t now_ms, char **json, cdp_err *err);

/* The DPO's view of the person ref names (role dpo only): {"profile_id", "region", "regime",
 * "restricted", "identities": [...], "consent": {"current": {purpose: {"state", "time",
 * "source", "notice_version", "proof", "basis"}}, "history": [records, oldest first]},
 * "merges": [...], "counts": {...}}. Audited "subject.view" (allow, legal_obligation, synced)
 * before anything is read out; a refusal by role is audited as a deny. CDP_INVALID_IDENTIFIER,
 * CDP_NOT_FOUND as cdp_access_resolve. */
cdp_status cdp_access_subject_view(const cdp_identity_env *env, const cdp_actor *actor,
                                   const char *ref, int64_t now_ms, char **json, cdp_err *err);

/* Every suppression entry of every region (role dpo): {"suppressions": [{"region", "entry" (the
 * first 16 hex characters of the keyed blind index: no identifier), "request_id", "time"}]},
 * oldest first. Audited "suppression.list". */
cdp_status cdp_access_suppression_list(const cdp_identity_env *env, const cdp_actor *actor,
                                       char **json, cdp_err *err);

/* The reasons a DPO may give for lifting a suppression (NULL-terminated, static). */
extern const char *const cdp_access_lift_reasons[];

/* Lifts the suppression of type:value (value normalized) for reason, one of
 * cdp_access_lift_reasons (CDP_BAD_REQUEST "reason: ..." otherwise, nothing changed). Role dpo.
 * The audit record "suppression.lift" carries the reason. CDP_NOT_FOUND when not suppressed. */
cdp_status cdp_access_lift_suppression_reason(const cdp_identity_env *env, const cdp_actor *actor,
                                              const char *type, const char *value,
                                              const char *reason, int64_t now_ms, cdp_err *err);

#endif
