/* cdpctl: shared helpers of the command-line verbs (argument parsing, exit codes, messages). */
#ifndef CDPCTL_CLI_H
#define CDPCTL_CLI_H

#include "cdp/cdp.h"

/* Exit codes of shared/API.md. */
#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/* 2 for bad usage or bad input (the caller can fix the command), 1 for runtime failures. */
int cli_exit_code(cdp_status status);
/* Prints "cdpctl VERB: message" on stderr and returns the exit code for status. */
int cli_fail(const char *verb, cdp_status status, const char *message);
/* Prints "cdpctl VERB: message" and the verb's usage on stderr; returns 2. */
int cli_usage_error(const char *verb, const char *usage, const char *message);

/* Opens the data directory and makes the local operator's actor with role (region and source
 * NULL: defaults). EXIT_OK with *db open (close it with cdp_close), else the exit code after
 * printing why (*db NULL). */
int cli_open_as(const char *verb, const char *data_dir, cdp_role role, cdp_t **db,
                cdp_actor *actor);
/* As cli_fail, but a person who is not there (CDP_NOT_FOUND) is a runtime outcome, exit 1 with
 * "not found", not bad usage: the same command may succeed once the person exists. */
int cli_fail_subject(const char *verb, cdp_status status, const char *message);

/* Prints value compact on one line on stdout and takes ownership of it (NULL: out of memory).
 * Returns the exit code (0, or 1 when stdout failed). */
struct json_t;
int cli_print_json(struct json_t *value);
/* Prints JSON text compact on one line (as it is when it does not parse). */
int cli_print_json_text(const char *text);
/* One count of cdp_stats (field "data_keys", "people", ...) of region, as the local admin;
 * EXIT_OK with *count set, else EXIT_RUNTIME. For progress totals. */
int cli_region_count(cdp_t *db, const char *region, const char *field, uint64_t *count);

/* Adds the count and bytes of the regular files under path to *files and *bytes. */
void cli_tree_size(const char *path, uint64_t *files, uint64_t *bytes);

int cmd_init(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_restrict(int argc, char **argv);
int cmd_dsr(int argc, char **argv);
int cmd_rectify(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_export_subject(int argc, char **argv);
int cmd_erase(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_stats(int argc, char **argv);

#endif
