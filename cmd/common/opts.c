/* The tools' flag parser. argv is read whole before anything is applied, so that --help works
 * whatever the environment holds and a typo is reported as a typo; then the defaults, the
 * environment and the flags are applied in that order. */
#include "opts.h"

#include <papi/papi_backend.h>

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A flag read in the first pass, applied in the second. */
typedef struct pending {
    const cmd_flag *row; /* one of the tool's options, or NULL: the library's */
    size_t lib_index;
    const char *value;
    /* an option of a backend not built in (library_refuses): refused once argv is read, so that
     * a usage error anywhere in it is told first, as in a build with that backend */
    const char *refused;
    size_t refused_len;
} pending;

/* A name the user typed goes into a message at most this long, cut where a character ends:
 * the message must stay short enough for the tools to show it whole, escaped. */
#define SHOWN_NAME_MAX 64

static void name_of(char *dst, size_t cap, const char *s, size_t len)
{
    assert(cap > SHOWN_NAME_MAX + 3);
    if (len <= SHOWN_NAME_MAX) {
        memcpy(dst, s, len);
        dst[len] = '\0';
        return;
    }
    size_t n = SHOWN_NAME_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    memcpy(dst, s, n);
    memcpy(dst + n, "...", 4);
}

static papi_status usage_error(papi_error *err, const char *what, const char *arg, size_t len)
{
    char name[SHOWN_NAME_MAX + 8];
    name_of(name, sizeof name, arg, len);
    return papi_error_set(err, PAPI_EINVAL, "%s%s", what, name);
}

int cmd_option_bool(const char *v, int *out)
{
    static const char *const yes[] = {"1", "true", "on", "yes"}, *const no[] = {"0", "false", "off",
                                                                                "no"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(v, yes[i]) == 0)
            return *out = 1, 0;
        if (strcmp(v, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

/* Digits only, like the library: strtoll would take spaces, signs and hex a typo should not
 * pass. */
static int parse_int64(const char *v, int64_t *out)
{
    if (*v == '\0')
        return -1;
    int64_t n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*p - '0');
    }
    *out = n;
    return 0;
}

const char *cmd_store_uint(void *field, size_t size, const char *value)
{
    int64_t n;
    assert(size == sizeof(unsigned));
    (void)size;
    if (parse_int64(value, &n) != 0 || n > (int64_t)UINT32_MAX)
        return "a whole number is required";
    *(unsigned *)field = (unsigned)n;
    return NULL;
}

const char *cmd_store_int64(void *field, size_t size, const char *value)
{
    assert(size == sizeof(int64_t));
    (void)size;
    return parse_int64(value, field) == 0 ? NULL : "a whole number is required";
}

const char *cmd_store_bool(void *field, size_t size, const char *value)
{
    assert(size == sizeof(int));
    (void)size;
    return cmd_option_bool(value, field) == 0 ? NULL : "expected 1 or 0 (true/false, on/off)";
}

const char *cmd_store_chars(void *field, size_t size, const char *value)
{
    size_t len = strlen(value);
    if (len >= size)
        return "the value is too long";
    memcpy(field, value, len + 1);
    return NULL;
}

const char *cmd_store_str(void *field, size_t size, const char *value)
{
    assert(size == sizeof(const char *));
    (void)size;
    *(const char **)field = value;
    return NULL;
}

const char *cmd_store_log_level(void *field, size_t size, const char *value)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    assert(size == sizeof(papi_log_level));
    (void)size;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(value, names[i]) == 0) {
            *(papi_log_level *)field = (papi_log_level)i;
            return NULL;
        }
    return "expected error, warn, info or debug";
}

/* Checks value against the descriptor; NULL, or the reason (written into buf when it is made). */
static const char *check_value(const cmd_option *o, const char *value, char *buf, size_t cap)
{
    int64_t n;
    int b;
    if (o->type == CMD_OPTION_INT && (parse_int64(value, &n) != 0 || n < o->min || n > o->max)) {
        snprintf(buf, cap, "a whole number from %" PRId64 " to %" PRId64 " is required", o->min,
                 o->max);
        return buf;
    }
    if (o->type == CMD_OPTION_BOOL && cmd_option_bool(value, &b) != 0)
        return "expected 1 or 0 (true/false, on/off)";
    if (o->check) {
        papi_error e = {0};
        if (o->check(o, value, &e) != PAPI_OK) {
            snprintf(buf, cap, "%s", e.message[0] ? e.message : "bad value");
            return buf;
        }
    }
    return NULL;
}

/* where: "--listen" or "environment PAPI_LISTEN" (the library's words for its own variables). */
static cmd_opts_rc apply(const cmd_parser *p, const cmd_flag *row, const char *value,
                         const char *where, papi_error *err)
{
    char buf[PAPI_ERROR_MESSAGE_MAX];
    const char *why = check_value(&row->opt, value, buf, sizeof buf);
    if (!why)
        why = row->store((char *)p->target + row->offset, row->size, value);
    if (!why)
        return CMD_OPTS_OK;
    papi_error_set(err, PAPI_EINVAL, "%s: %s", where, why);
    return CMD_OPTS_EVALUE;
}

static const cmd_flag *find_row(const cmd_parser *p, const char *name, size_t len, char short_name)
{
    for (size_t i = 0; i < p->nflags; i++) {
        const cmd_flag *r = &p->flags[i];
        if (short_name
                ? r->short_name == short_name
                : r->opt.key && strlen(r->opt.key) == len && memcmp(r->opt.key, name, len) == 0)
            return r;
    }
    return NULL;
}

static int find_library(const char *name, size_t len, size_t *index)
{
    for (size_t i = 0, n = cmd_library_option_count(); i < n; i++) {
        cmd_option o;
        if (cmd_library_option(i, &o) == 0 && strlen(o.key) == len &&
            memcmp(o.key, name, len) == 0) {
            *index = i;
            return 0;
        }
    }
    return -1;
}

/* A key libpapi lists no option for may still be one it knows: an option of a backend left out
 * of this build, which papi_config_set() refuses with ECONFIG saying so (an unknown key is
 * EINVAL). Asked of a scratch configuration, with no value, so that nothing is applied yet. */
static bool library_refuses(const char *name, size_t len, papi_error *err)
{
    char key[SHOWN_NAME_MAX + 1];
    papi_config *scratch = NULL;
    if (len >= sizeof key || papi_config_create(&scratch) != PAPI_OK)
        return false;
    memcpy(key, name, len);
    key[len] = '\0';
    papi_error e = {0};
    bool refused = papi_config_set(scratch, key, "", &e) == PAPI_ECONFIG;
    papi_config_destroy(scratch);
    if (refused && err)
        *err = e;
    return refused;
}

/* Reads the flag argv[*i] (and its value, which may be the next argument) into *out. */
static cmd_opts_rc read_flag(const cmd_parser *p, int argc, char **argv, int *i, pending *out,
                             papi_error *err)
{
    const char *a = argv[*i];
    bool is_short = a[1] != '-';
    const char *name = a + (is_short ? 1 : 2), *eq = is_short ? NULL : strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const cmd_flag *row =
        is_short ? (len == 1 ? find_row(p, NULL, 0, name[0]) : NULL) : find_row(p, name, len, 0);
    *out = (pending){.row = row};
    if (!row && (is_short || !p->cfg || find_library(name, len, &out->lib_index) != 0)) {
        if (is_short || !p->cfg || !library_refuses(name, len, NULL)) {
            usage_error(err, "unknown option ", a, (size_t)(name - a) + len);
            return CMD_OPTS_EUSAGE;
        }
        out->refused = name;
        out->refused_len = len;
    }
    if (row && row->set_to) {
        if (eq) {
            usage_error(err, "this option takes no value: ", a, (size_t)(name - a) + len);
            return CMD_OPTS_EUSAGE;
        }
        out->value = row->set_to;
    } else if (eq) {
        out->value = eq + 1;
    } else if (*i + 1 < argc) {
        out->value = argv[++*i];
    } else {
        usage_error(err, "a value is missing after ", a, strlen(a));
        return CMD_OPTS_EUSAGE;
    }
    return CMD_OPTS_OK;
}

static cmd_opts_rc read_argv(cmd_parser *p, int argc, char **argv, pending *flags, size_t *nflags,
                             papi_error *err)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (!p->args) {
                /* not quoted: it may be a secret that lost its flag */
                papi_error_set(err, PAPI_EINVAL,
                               "argument %d is not an option (options start with --)", i);
                return CMD_OPTS_EUSAGE;
            }
            p->args[p->nargs++] = a;
        } else if (strcmp(a, "--") == 0) {
            options_done = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            return CMD_OPTS_HELP;
        } else if (p->version && strcmp(a, "--version") == 0) {
            return CMD_OPTS_VERSION;
        } else {
            cmd_opts_rc rc = read_flag(p, argc, argv, &i, &flags[(*nflags)++], err);
            if (rc != CMD_OPTS_OK)
                return rc;
        }
    }
    return CMD_OPTS_OK;
}

static cmd_opts_rc apply_defaults_and_env(const cmd_parser *p, papi_error *err)
{
    for (size_t i = 0; i < p->nflags; i++) {
        const cmd_flag *r = &p->flags[i];
        if (r->store && r->opt.def) {
            cmd_opts_rc rc = apply(p, r, r->opt.def, "default", err);
            assert(rc == CMD_OPTS_OK); /* a table's own default is always valid */
            if (rc != CMD_OPTS_OK)
                return rc;
        }
    }
    if (p->cfg && papi_config_load_env(p->cfg, err) != PAPI_OK)
        return CMD_OPTS_ELIBRARY;
    for (size_t i = 0; i < p->nflags; i++) {
        const cmd_flag *r = &p->flags[i];
        const char *v = r->store && r->opt.env ? getenv(r->opt.env) : NULL;
        /* as for the library's variables: declared with no value (a container spec) is unset */
        if (v && *v) {
            char where[128];
            snprintf(where, sizeof where, "environment %s", r->opt.env);
            cmd_opts_rc rc = apply(p, r, v, where, err);
            if (rc != CMD_OPTS_OK)
                return rc;
        }
    }
    return CMD_OPTS_OK;
}

static cmd_opts_rc apply_flags(const cmd_parser *p, const pending *flags, size_t n, papi_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (flags[i].row) {
            char where[128];
            snprintf(where, sizeof where, "--%s", flags[i].row->opt.key);
            cmd_opts_rc rc = apply(p, flags[i].row, flags[i].value, where, err);
            if (rc != CMD_OPTS_OK)
                return rc;
            continue;
        }
        cmd_option o;
        if (cmd_library_option(flags[i].lib_index, &o) != 0)
            return papi_error_set(err, PAPI_EINTERNAL, "option table changed"), CMD_OPTS_ELIBRARY;
        /* the library's message names the option, never a value */
        if (papi_config_set(p->cfg, o.key, flags[i].value, err) != PAPI_OK)
            return CMD_OPTS_ELIBRARY;
    }
    return CMD_OPTS_OK;
}

cmd_opts_rc cmd_opts_parse(cmd_parser *p, int argc, char **argv, papi_error *err)
{
    p->nargs = 0;
    pending *flags = calloc(argc > 0 ? (size_t)argc : 1, sizeof *flags);
    if (!flags) {
        papi_error_set(err, PAPI_ENOMEM, "out of memory");
        return CMD_OPTS_ELIBRARY;
    }
    size_t n = 0;
    cmd_opts_rc rc = read_argv(p, argc, argv, flags, &n, err);
    for (size_t i = 0; rc == CMD_OPTS_OK && i < n; i++) {
        if (!flags[i].refused)
            continue;
        if (!library_refuses(flags[i].refused, flags[i].refused_len, err))
            papi_error_set(err, PAPI_ENOMEM, "out of memory");
        rc = CMD_OPTS_ELIBRARY;
    }
    if (rc == CMD_OPTS_OK)
        rc = apply_defaults_and_env(p, err);
    if (rc == CMD_OPTS_OK)
        rc = apply_flags(p, flags, n, err);
    free(flags);
    return rc;
}
