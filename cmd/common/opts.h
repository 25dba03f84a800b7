/* One option system for papi's tools (papi-httpd, papi): the library's option descriptor, one
 * flag parser and --help generated from descriptors. Not installed; tools link it statically.
 *
 * A tool declares its own options as a table of cmd_flag rows (a descriptor, plus where the value
 * goes); the library's options come from libpapi (cmd_library_option()). The parser applies, in
 * order: the tool's defaults, the environment (the library's, then the tool's), then the flags in
 * command-line order, so flags win. `--key value` and `--key=value` both work. */
#ifndef PAPI_CMD_OPTS_H
#define PAPI_CMD_OPTS_H

#include <papi/papi.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The tools describe their own options with the library's descriptor (papi.h): one shape for
 * the library, papi-httpd and the CLI. For a tool's own option, check's message is the reason
 * alone ("expected error, warn, info or debug"): the parser says which flag or variable. */
typedef papi_option cmd_option;
#define CMD_OPTION_TEXT PAPI_OPTION_TEXT
#define CMD_OPTION_INT PAPI_OPTION_INT
#define CMD_OPTION_BOOL PAPI_OPTION_BOOL
#define CMD_OPTION_SECRET PAPI_OPTION_SECRET

/* Stores a checked value into the tool's field (size bytes). Returns NULL, or why the value
 * does not fit there ("longer than 255 bytes"), reported like a bad value. */
typedef const char *(*cmd_store_fn)(void *field, size_t size, const char *value);

/* One of a tool's own options: the descriptor and where its value goes. */
typedef struct cmd_flag {
    cmd_option opt;
    char short_name;    /* 'v' for -v, or 0 */
    const char *set_to; /* a switch ("--verbose" takes no value): the value it stands for */
    cmd_store_fn store; /* NULL: listed by --help only (a variable the tool reads itself) */
    size_t offset;      /* of the field in the struct given as cmd_parser.target */
    size_t size;
} cmd_flag;

/* Fills cmd_flag.offset and .size for member m of struct type t. */
#define CMD_FIELD(t, m) .offset = offsetof(t, m), .size = sizeof(((t *)0)->m)

/* Stores for the usual fields. */
const char *cmd_store_uint(void *field, size_t size, const char *value);  /* unsigned (INT) */
const char *cmd_store_int64(void *field, size_t size, const char *value); /* int64_t (INT) */
const char *cmd_store_bool(void *field, size_t size, const char *value);  /* int 0/1 (BOOL) */
const char *cmd_store_chars(void *field, size_t size, const char *value); /* char[size] */
/* const char *, borrowed: the value lives in argv, environ or the descriptor's def */
const char *cmd_store_str(void *field, size_t size, const char *value);

/* papi_log_level from "error", "warn", "info" or "debug" (TEXT). */
const char *cmd_store_log_level(void *field, size_t size, const char *value);

/* The --log-level and -v/--verbose rows of a command that logs the library's messages on stderr,
 * both stored in member m (a papi_log_level) of struct type t. */
/* One row a line reads better than the formatter's one field a line. */
/* clang-format off */
#define CMD_LOG_FLAGS(t, m)                                                                        \
    {.opt = {"log-level", "PAPI_LOG_LEVEL", CMD_OPTION_TEXT, "warn", 0, 0, 0,                      \
             "error, warn, info or debug: library messages on stderr", NULL},                      \
     .store = cmd_store_log_level,                                                                 \
     CMD_FIELD(t, m)},                                                                             \
    {                                                                                              \
        .opt = {"verbose", NULL, CMD_OPTION_TEXT, NULL, 0, 0, 0,                                   \
                "log what the library does on stderr (--log-level debug)", NULL},                  \
        .short_name = 'v', .set_to = "debug", .store = cmd_store_log_level, CMD_FIELD(t, m)        \
    }
/* clang-format on */

/* Reads a BOOL value: 0 with *out set, or -1. */
int cmd_option_bool(const char *value, int *out);

typedef struct cmd_parser {
    const cmd_flag *flags; /* the tool's own options */
    size_t nflags;
    void *target;      /* the struct their fields are in */
    papi_config *cfg;  /* library options are set here; NULL: the command takes none */
    bool version;      /* --version is a request (CMD_OPTS_VERSION), not an unknown flag */
    const char **args; /* out: positional arguments in order, room for argc; NULL: none taken */
    size_t nargs;      /* out */
} cmd_parser;

typedef enum cmd_opts_rc {
    CMD_OPTS_OK = 0,
    CMD_OPTS_HELP,    /* --help or -h: print the help and exit 0; nothing was applied */
    CMD_OPTS_VERSION, /* --version (when cmd_parser.version); nothing was applied */
    CMD_OPTS_EUSAGE,  /* unknown flag, missing value, stray argument; nothing was applied */
    CMD_OPTS_EVALUE,  /* a bad value for one of the tool's options */
    CMD_OPTS_ELIBRARY /* libpapi refused an option (bad value, env var; or a flag naming an
                         option of a backend not built into it, refused before anything was
                         applied) or memory ran out; err->status says which */
} cmd_opts_rc;

/* Parses argv[1..argc-1] into p->target and p->cfg. On failure err->message names the flag or the
 * variable and never holds a value (a value may be a secret); err->status is PAPI_EINVAL for
 * usage and tool values, the library's status otherwise. A message ending in a flag name the
 * user typed is cut (UTF-8-wise, "...") to fit; print it through the tool's escaping. */
cmd_opts_rc cmd_opts_parse(cmd_parser *p, int argc, char **argv, papi_error *err);

/* --help: the tool's rows, then every library option, each with its env var, default, range and
 * help line. */
void cmd_opts_help(FILE *out, const cmd_flag *flags, size_t nflags);
void cmd_opts_help_library(FILE *out);
/* One option's lines, with def as its default (NULL: none shown); a switch takes no value;
 * short_name is its one-letter form, or 0. */
void cmd_opts_help_option(FILE *out, const cmd_option *o, const char *def, bool takes_value,
                          char short_name);

/* The library's options, described (opts_library.c, the one place that asks libpapi). */
size_t cmd_library_option_count(void);
/* Fills *out for option index 0..count-1; returns 0, or -1 out of range. Strings are static. */
int cmd_library_option(size_t index, cmd_option *out);

#endif /* PAPI_CMD_OPTS_H */
