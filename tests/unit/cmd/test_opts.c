/* The tools' option system (cmd/common): defaults, then environment, then flags; both flag forms;
 * switches and positional arguments; every failure names the flag or variable and never quotes
 * a value; --help lists every option with its env var and default. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

#include <papi/papi_backend.h>

typedef struct tool {
    unsigned workers;
    int access_log;
    char listen[16];
    const char *name;
    papi_log_level level;
    const char *token;
} tool;

static papi_status check_no_x(const cmd_option *opt, const char *value, papi_error *err)
{
    (void)opt;
    return strchr(value, 'x') ? papi_error_set(err, PAPI_EINVAL, "no x allowed") : PAPI_OK;
}

#define T(m) CMD_FIELD(tool, m)

static const cmd_flag rows[] = {
    {.opt = {"workers", "T_WORKERS", CMD_OPTION_INT, "512", 1, 4096, 0, "threads", NULL},
     .store = cmd_store_uint,
     T(workers)},
    {.opt = {"access-log", "T_ACCESS_LOG", CMD_OPTION_BOOL, "1", 0, 0, 0, "log", NULL},
     .store = cmd_store_bool,
     T(access_log)},
    {.opt = {"listen", "T_LISTEN", CMD_OPTION_TEXT, "0.0.0.0:8001", 0, 0, 0, "where", NULL},
     .store = cmd_store_chars,
     T(listen)},
    {.opt = {"name", NULL, CMD_OPTION_TEXT, "customer", 0, 0, 0, "a name", check_no_x},
     .store = cmd_store_str,
     T(name)},
    {.opt = {"log-level", "T_LOG_LEVEL", CMD_OPTION_TEXT, "warn", 0, 0, 0, "level", NULL},
     .store = cmd_store_log_level,
     T(level)},
    {.opt = {"verbose", NULL, CMD_OPTION_TEXT, NULL, 0, 0, 0, "more", NULL},
     .short_name = 'v',
     .set_to = "debug",
     .store = cmd_store_log_level,
     T(level)},
    {.opt = {"token", "T_TOKEN", CMD_OPTION_TEXT, NULL, 0, 0, CMD_OPTION_SECRET, "secret",
             check_no_x},
     .store = cmd_store_str,
     T(token)},
    {.opt = {NULL, "T_ENV_ONLY", CMD_OPTION_TEXT, NULL, 0, 0, CMD_OPTION_SECRET, "read by hand",
             NULL}},
};
#define NROWS (sizeof rows / sizeof rows[0])

extern char **environ;

/* The library reads every PAPI_ and SNOWFLAKE_ variable: none from the caller's shell counts. */
static int clean_env(void **state)
{
    (void)state;
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e && !name[0]; e++)
            if (strncmp(*e, "PAPI_", 5) == 0 || strncmp(*e, "SNOWFLAKE_", 10) == 0 ||
                strncmp(*e, "T_", 2) == 0)
                snprintf(name, sizeof name, "%.*s", (int)strcspn(*e, "="), *e);
        if (!name[0])
            return 0;
        unsetenv(name);
    }
}

/* Parses a NULL-terminated argv (argv[0] added) into *t and, when cfg, the library options. */
static cmd_opts_rc parse(tool *t, papi_config *cfg, const char **args, size_t *nargs,
                         papi_error *err, const char *first, ...)
{
    char *argv[32] = {"tool"};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        assert_true(argc < 31);
        argv[argc++] = (char *)a;
    }
    va_end(ap);
    memset(t, 0, sizeof *t);
    memset(err, 0, sizeof *err);
    cmd_parser p = {.flags = rows, .nflags = NROWS, .target = t, .cfg = cfg, .args = args};
    cmd_opts_rc rc = cmd_opts_parse(&p, argc, argv, err);
    if (nargs)
        *nargs = p.nargs;
    return rc;
}

static void defaults_then_env_then_flags(void **state)
{
    (void)state;
    tool t;
    papi_error err;
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, NULL), CMD_OPTS_OK);
    assert_int_equal(t.workers, 512);
    assert_int_equal(t.access_log, 1);
    assert_string_equal(t.listen, "0.0.0.0:8001");
    assert_string_equal(t.name, "customer");
    assert_int_equal(t.level, PAPI_LOG_WARN);
    assert_null(t.token);

    setenv("T_WORKERS", "7", 1);
    setenv("T_ACCESS_LOG", "off", 1);
    setenv("T_LOG_LEVEL", "debug", 1);
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, NULL), CMD_OPTS_OK);
    assert_int_equal(t.workers, 7);
    assert_int_equal(t.access_log, 0);
    assert_int_equal(t.level, PAPI_LOG_DEBUG);

    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--workers", "9", "--access-log=true",
                           "--log-level", "error", NULL),
                     CMD_OPTS_OK);
    assert_int_equal(t.workers, 9);
    assert_int_equal(t.access_log, 1);
    assert_int_equal(t.level, PAPI_LOG_ERROR);

    /* a variable declared with no value (container specs do that) is unset */
    setenv("T_WORKERS", "", 1);
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, NULL), CMD_OPTS_OK);
    assert_int_equal(t.workers, 512);
}

static void library_options_flags_beat_env(void **state)
{
    (void)state;
    tool t;
    papi_error err;
    papi_config *cfg = NULL;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    setenv("PAPI_MAX_IDS", "2", 1);
    setenv("PAPI_CACHE_TTL", "7", 1);
    assert_int_equal(parse(&t, cfg, NULL, NULL, &err, "--max-ids", "3", NULL), CMD_OPTS_OK);
    assert_string_equal(papi_config_get(cfg, "max-ids"), "3");
    assert_string_equal(papi_config_get(cfg, "cache-ttl"), "7"); /* env, no flag */
    assert_int_equal(parse(&t, cfg, NULL, NULL, &err, "--max-ids=4", NULL), CMD_OPTS_OK);
    assert_string_equal(papi_config_get(cfg, "max-ids"), "4");
    papi_config_destroy(cfg);

    /* the library's refusal comes back with its status and its words */
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_int_equal(parse(&t, cfg, NULL, NULL, &err, "--cache-ttl", "soon", NULL),
                     CMD_OPTS_ELIBRARY);
    assert_int_equal(err.status, PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "cache-ttl"));
    setenv("PAPI_CACHE_TTL", "-1", 1);
    assert_int_equal(parse(&t, cfg, NULL, NULL, &err, NULL), CMD_OPTS_ELIBRARY);
    assert_non_null(strstr(err.message, "PAPI_CACHE_TTL"));
    papi_config_destroy(cfg);

    /* a command without library options does not know theirs */
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--max-ids", "3", NULL), CMD_OPTS_EUSAGE);
}

/* Whether this libpapi lists option key (a backend left out of the build lists none of its). */
static bool library_lists(const char *key)
{
    for (size_t i = 0; i < papi_config_option_count(); i++)
        if (strcmp(papi_config_option_key(i, NULL, NULL), key) == 0)
            return true;
    return false;
}

/* A flag naming an option of a backend not built in says so, as papi_config_set() does, instead
 * of "unknown option"; a key libpapi does not know at all stays a usage error. */
static void options_of_backends_not_built(void **state)
{
    (void)state;
    tool t;
    papi_error err;
    papi_config *cfg = NULL;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    static const char *const keys[] = {"snowflake-account", "redis-timeout-ms"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        char flag[64], eq[80];
        snprintf(flag, sizeof flag, "--%s", keys[k]);
        snprintf(eq, sizeof eq, "--%s=hunter2", keys[k]);
        cmd_opts_rc rc = parse(&t, cfg, NULL, NULL, &err, "--cache-ttl", "5", flag, "7", NULL);
        cmd_opts_rc rc_eq = parse(&t, cfg, NULL, NULL, &err, eq, NULL);
        if (library_lists(keys[k])) {
            print_message("# %s is built in\n", keys[k]);
            assert_int_equal(rc, CMD_OPTS_OK);
            continue;
        }
        print_message("# %s is not built in\n", keys[k]);
        assert_int_equal(rc, CMD_OPTS_ELIBRARY);
        assert_int_equal(rc_eq, CMD_OPTS_ELIBRARY);
        assert_int_equal(err.status, PAPI_ECONFIG);
        assert_non_null(strstr(err.message, keys[k]));
        assert_non_null(strstr(err.message, "backend is not built into this libpapi"));
        assert_null(strstr(err.message, "hunter2"));
        /* refused while reading argv: the --cache-ttl before it was not applied */
        assert_string_equal(papi_config_get(cfg, "cache-ttl"), "180");
    }
    assert_int_equal(parse(&t, cfg, NULL, NULL, &err, "--snowflake-acount", "x", NULL),
                     CMD_OPTS_EUSAGE);
    assert_string_equal(err.message, "unknown option --snowflake-acount");
    /* usage errors anywhere in argv come first, whether the backend is built or not */
    assert_int_equal(parse(&t, cfg, NULL, NULL, &err, "--snowflake-token", "x", "hunter2", NULL),
                     CMD_OPTS_EUSAGE);
    assert_non_null(strstr(err.message, "argument 3"));
    papi_config_destroy(cfg);
}

static void switches_and_positionals(void **state)
{
    (void)state;
    tool t;
    papi_error err;
    const char *args[32];
    size_t n = 0;
    assert_int_equal(
        parse(&t, NULL, args, &n, &err, "1", "-v", "2", "-", "--", "--workers", "-v", NULL),
        CMD_OPTS_OK);
    assert_int_equal(t.level, PAPI_LOG_DEBUG);
    assert_int_equal(t.workers, 512);
    assert_int_equal(n, 5);
    assert_string_equal(args[0], "1");
    assert_string_equal(args[1], "2");
    assert_string_equal(args[2], "-");
    assert_string_equal(args[3], "--workers");
    assert_string_equal(args[4], "-v");
    /* later flags win, whichever spelling */
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--verbose", "--log-level", "info", NULL),
                     CMD_OPTS_OK);
    assert_int_equal(t.level, PAPI_LOG_INFO);
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--verbose=1", NULL), CMD_OPTS_EUSAGE);
    assert_non_null(strstr(err.message, "--verbose"));
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "-x", NULL), CMD_OPTS_EUSAGE);
    assert_non_null(strstr(err.message, "-x"));
}

static void usage_errors_name_the_flag_never_a_value(void **state)
{
    (void)state;
    tool t;
    papi_error err;
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--no-such=hunter2", NULL), CMD_OPTS_EUSAGE);
    assert_int_equal(err.status, PAPI_EINVAL);
    assert_non_null(strstr(err.message, "--no-such"));
    assert_null(strstr(err.message, "hunter2"));
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--workers", NULL), CMD_OPTS_EUSAGE);
    assert_non_null(strstr(err.message, "--workers"));
    /* a stray argument may be a secret that lost its flag */
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--token", "a", "hunter2", NULL),
                     CMD_OPTS_EUSAGE);
    assert_null(strstr(err.message, "hunter2"));
    assert_non_null(strstr(err.message, "argument 3"));
    /* a long name is cut where a character ends, and says so */
    char flag[400] = "--";
    for (int i = 0; i < 100; i++)
        strcat(flag, "\xc3\xa9");
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, flag, NULL), CMD_OPTS_EUSAGE);
    size_t len = strlen(err.message);
    assert_true(len < 120);
    assert_string_equal(err.message + len - 3, "...");
    assert_int_equal((unsigned char)err.message[len - 4], 0xa9);
}

static void bad_values_name_the_flag_or_variable(void **state)
{
    (void)state;
    tool t;
    papi_error err;
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--workers", "0", NULL), CMD_OPTS_EVALUE);
    assert_string_equal(err.message, "--workers: a whole number from 1 to 4096 is required");
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--workers", " 5", NULL), CMD_OPTS_EVALUE);
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--workers=+5", NULL), CMD_OPTS_EVALUE);
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--access-log", "maybe", NULL),
                     CMD_OPTS_EVALUE);
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--listen", "0123456789abcdef", NULL),
                     CMD_OPTS_EVALUE);
    assert_string_equal(err.message, "--listen: the value is too long");
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--name", "xy", NULL), CMD_OPTS_EVALUE);
    assert_string_equal(err.message, "--name: no x allowed");
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--token", "hunter2x", NULL),
                     CMD_OPTS_EVALUE);
    assert_null(strstr(err.message, "hunter2"));
    setenv("T_TOKEN", "hunter2x", 1);
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, NULL), CMD_OPTS_EVALUE);
    assert_string_equal(err.message, "environment T_TOKEN: no x allowed");
    /* a bad variable is an error even when a flag would override it, as for the library's */
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--token", "ok", NULL), CMD_OPTS_EVALUE);
    setenv("T_TOKEN", "fine", 1);
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, NULL), CMD_OPTS_OK);
    assert_string_equal(t.token, "fine");
    /* env-only rows are the tool's to read */
    setenv("T_ENV_ONLY", "anything", 1);
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, NULL), CMD_OPTS_OK);
}

static void help_and_version_apply_nothing(void **state)
{
    (void)state;
    tool t;
    papi_error err;
    setenv("T_WORKERS", "bad", 1);
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--workers", "3", "--help", NULL),
                     CMD_OPTS_HELP);
    assert_int_equal(t.workers, 0);
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "-h", NULL), CMD_OPTS_HELP);
    /* --version only where the tool asks for it */
    assert_int_equal(parse(&t, NULL, NULL, NULL, &err, "--version", NULL), CMD_OPTS_EUSAGE);
    char *argv[] = {"tool", "--version"};
    cmd_parser p = {.flags = rows, .nflags = NROWS, .target = &t, .version = true};
    assert_int_equal(cmd_opts_parse(&p, 2, argv, &err), CMD_OPTS_VERSION);
}

/* The help text of print, NUL-terminated (caller frees). */
static char *help_text(void (*print)(FILE *))
{
    size_t cap = 1 << 16;
    char *text = calloc(1, cap);
    assert_non_null(text);
    FILE *f = fmemopen(text, cap - 1, "w");
    assert_non_null(f);
    print(f);
    assert_true(ftell(f) < (long)cap - 2);
    fclose(f);
    return text;
}

static void print_rows(FILE *f)
{
    cmd_opts_help(f, rows, NROWS);
}

static void help_lists_every_option(void **state)
{
    (void)state;
    char *text = help_text(print_rows);
    assert_non_null(strstr(text, "  --workers N "));
    assert_non_null(strstr(text, "(T_WORKERS, default 512, 1..4096)\n      threads\n"));
    assert_non_null(strstr(text, "--access-log 0|1 "));
    assert_non_null(strstr(text, "(no env var, default customer)"));
    assert_non_null(strstr(text, "  --verbose, -v "));
    assert_non_null(strstr(text, "(T_TOKEN, secret)"));
    assert_non_null(strstr(text, "(T_ENV_ONLY, secret)"));
    free(text);

    text = help_text(cmd_opts_help_library);
    for (size_t i = 0; i < papi_config_option_count(); i++) {
        const char *env = NULL;
        int secret = 0;
        const char *key = papi_config_option_key(i, &env, &secret);
        char want[160];
        snprintf(want, sizeof want, "  --%s ", key);
        const char *line = strstr(text, want);
        assert_non_null(line);
        snprintf(want, sizeof want, "(%s%s", env, secret ? ", secret)" : "");
        const char *end = strchr(line, '\n');
        const char *at = strstr(line, want);
        assert_true(at && at < end);
    }
    assert_non_null(strstr(text, "(PAPI_MAX_IDS, default 100"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_then_env_then_flags, clean_env),
        cmocka_unit_test_setup(library_options_flags_beat_env, clean_env),
        cmocka_unit_test_setup(options_of_backends_not_built, clean_env),
        cmocka_unit_test_setup(switches_and_positionals, clean_env),
        cmocka_unit_test_setup(usage_errors_name_the_flag_never_a_value, clean_env),
        cmocka_unit_test_setup(bad_values_name_the_flag_or_variable, clean_env),
        cmocka_unit_test_setup(help_and_version_apply_nothing, clean_env),
        cmocka_unit_test_setup(help_lists_every_option, clean_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
