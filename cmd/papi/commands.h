/* Sub-commands of the `papi` tool. main.c parses `papi <command> ...` and calls the command with
 * argv[0] = the command's name; a command returns the process exit code and prints errors itself
 * as "papi: <message>" on stderr (never a secret). */
#ifndef PAPI_CMD_COMMANDS_H
#define PAPI_CMD_COMMANDS_H

#include <papi/papi.h>

#include <stdio.h>

/* Exit codes shared by every command. */
enum {
    PAPI_EXIT_OK = 0,
    PAPI_EXIT_OTHER = 1,  /* out of memory, I/O, internal error */
    PAPI_EXIT_INPUT = 2,  /* usage, bad ids, unknown dataset */
    PAPI_EXIT_CONFIG = 3, /* invalid configuration: option value, dataset or key file */
    PAPI_EXIT_SOURCE = 4  /* the source failed: credentials, unavailable, timeout, refused */
};

/* The exit code for a failed call's status (main.c). */
int papi_cmd_exit_code(papi_status status);

/* `papi help`: the commands and every option (main.c); each command's own options come from its
 * option table (lookup.c, demo_cmd.c). */
void papi_cmd_usage(FILE *out);
void papi_cmd_lookup_help(FILE *out);
void papi_cmd_demo_db_help(FILE *out);

/* Copies s into dst (cap bytes) for printing on one line: C0 and C1 controls and DEL as \n, \r,
 * \t, \xHH or \u00HH, each byte of invalid UTF-8 as \xHH, the rest as is; "..." ends a cut.
 * Every message from the library, the source or the command line goes through it (shown.c).
 * Returns dst. */
#define PAPI_CMD_SHOWN_MAX 1024 /* a papi_error message, every byte escaped */
const char *papi_cmd_shown(char *dst, size_t cap, const char *s);

/* After papi_client_create() failed with status and message: the missing SQLite file to suggest
 * `papi demo-db` for, or NULL (hint.c). source is the "source" option (NULL or "" when unset:
 * then default_db, the library's demo database, when message names it). */
const char *papi_cmd_demo_hint(const char *source, const char *default_db, papi_status status,
                               const char *message);

/* Prints a failed call's message on stderr, escaped; returns its exit code (report.c). */
int papi_cmd_fail(papi_status status, const papi_error *err);
/* A papi_log_fn printing the library's lines on stderr, escaped (report.c). */
void papi_cmd_log_stderr(void *user, papi_log_level level, const char *message);

/* `papi lookup`, `papi demo-db`, `papi sync` (lookup.c, demo_cmd.c, sync.c). */
int papi_cmd_lookup(int argc, char **argv);
int papi_cmd_demo_db(int argc, char **argv);
int papi_cmd_sync(int argc, char **argv);
void papi_cmd_sync_help(FILE *out);

/* Snowflake helpers (snowflake_cmds.c): `papi jwt`, `papi fingerprint`, `papi token`. */
int papi_cmd_jwt(int argc, char **argv);
int papi_cmd_fingerprint(int argc, char **argv);
int papi_cmd_token(int argc, char **argv);

#endif /* PAPI_CMD_COMMANDS_H */
