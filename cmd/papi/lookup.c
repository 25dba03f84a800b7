/* `papi lookup`: prints the same JSON papi-httpd serves; the exit code tells bad input, bad
 * configuration and a failing source apart for scripts. */
#include "commands.h"
#include "opts.h"

#include <papi/papi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lookup_args {
    const char *dataset;
    papi_log_level log_level;
} lookup_args;

#define ARG(m) CMD_FIELD(lookup_args, m)

static const cmd_flag lookup_flags[] = {
    {.opt = {"dataset", NULL, CMD_OPTION_TEXT, "customer", 0, 0, 0, "dataset to query", NULL},
     .store = cmd_store_str,
     ARG(dataset)},
    CMD_LOG_FLAGS(lookup_args, log_level),
};
#define NLOOKUP_FLAGS (sizeof lookup_flags / sizeof lookup_flags[0])

void papi_cmd_lookup_help(FILE *out)
{
    cmd_opts_help(out, lookup_flags, NLOOKUP_FLAGS);
}

static int lookup_usage(const char *why)
{
    char shown[PAPI_CMD_SHOWN_MAX];
    fprintf(stderr,
            "papi: lookup: %s\nusage: papi lookup [--dataset NAME] [--OPTION VALUE ...] IDS\n",
            papi_cmd_shown(shown, sizeof shown, why));
    return PAPI_EXIT_INPUT;
}

/* The id arguments as one list: "1 2,3" asks for 1, 2 and 3. NULL when out of memory. */
static char *join_ids(const char *const *args, size_t n, size_t *len)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(args[i]) + 1;
    char *ids = malloc(total);
    if (!ids)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(args[i]);
        if (i)
            ids[o++] = ',';
        memcpy(ids + o, args[i], k);
        o += k;
    }
    ids[o] = '\0';
    *len = o;
    return ids;
}

/* After a failed papi_client_create: a missing demo database is the usual first stumble.
 * PAPI_DEMO_DB is the demo database libpapi was built to default to (meson's demo_db). */
static void hint_demo_db(const papi_config *cfg, papi_status s, const papi_error *err)
{
    const char *path =
        papi_cmd_demo_hint(papi_config_get(cfg, "source"), PAPI_DEMO_DB, s, err->message);
    char shown[PAPI_CMD_SHOWN_MAX];
    if (path)
        fprintf(stderr, "papi: create a demo database with: papi demo-db %s\n",
                papi_cmd_shown(shown, sizeof shown, path));
}

/* Looks ids up and prints the answer. */
static int run(papi_config *cfg, const lookup_args *a, const char *ids, size_t ids_len)
{
    papi_client *client = NULL;
    papi_result *res = NULL;
    papi_error err = {0};
    papi_status s = papi_config_set_log(cfg, papi_cmd_log_stderr, NULL, a->log_level);
    if (s == PAPI_OK && (s = papi_client_create(cfg, &client, &err)) != PAPI_OK) {
        int rc = papi_cmd_fail(s, &err);
        hint_demo_db(cfg, s, &err);
        return rc;
    }
    if (s == PAPI_OK)
        s = papi_lookup_list(client, a->dataset, ids, ids_len, &res, &err);
    int rc = s != PAPI_OK ? papi_cmd_fail(s, &err) : PAPI_EXIT_OK;
    if (s == PAPI_OK) {
        size_t len = 0;
        const char *json = papi_result_json(res, &len);
        fwrite(json, 1, len, stdout);
        fputc('\n', stdout);
        rc = fflush(stdout) == 0 ? PAPI_EXIT_OK : PAPI_EXIT_OTHER;
    }
    papi_result_free(res);
    papi_client_destroy(client);
    return rc;
}

int papi_cmd_lookup(int argc, char **argv)
{
    lookup_args a = {0};
    papi_config *cfg = NULL;
    const char **args = calloc((size_t)argc, sizeof *args);
    char *ids = NULL;
    size_t ids_len = 0;
    int rc = PAPI_EXIT_OTHER;
    if (!args || papi_config_create(&cfg) != PAPI_OK) {
        fprintf(stderr, "papi: out of memory\n");
        goto out;
    }
    cmd_parser p = {
        .flags = lookup_flags, .nflags = NLOOKUP_FLAGS, .target = &a, .cfg = cfg, .args = args};
    papi_error err = {0};
    switch (cmd_opts_parse(&p, argc, argv, &err)) {
    case CMD_OPTS_OK:
        break;
    case CMD_OPTS_HELP:
        papi_cmd_usage(stdout);
        rc = PAPI_EXIT_OK;
        goto out;
    case CMD_OPTS_VERSION: /* not asked for */
    case CMD_OPTS_EUSAGE:
        rc = lookup_usage(err.message);
        goto out;
    case CMD_OPTS_EVALUE: /* a bad --log-level is a bad configuration, like a bad --cache-ttl */
        rc = papi_cmd_fail(PAPI_ECONFIG, &err);
        goto out;
    case CMD_OPTS_ELIBRARY:
        rc = papi_cmd_fail(err.status, &err);
        goto out;
    }
    if (p.nargs == 0) {
        rc = lookup_usage("no ids given");
        goto out;
    }
    ids = join_ids(args, p.nargs, &ids_len);
    if (!ids) {
        fprintf(stderr, "papi: out of memory\n");
        goto out;
    }
    rc = run(cfg, &a, ids, ids_len);
out:
    papi_config_destroy(cfg);
    free(args);
    free(ids);
    return rc;
}
