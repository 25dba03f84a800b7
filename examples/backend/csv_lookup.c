/* Looks ids up through the csv transport plug-in and prints the JSON answer.
 *
 *   csv_lookup [--dataset NAME] [--OPTION VALUE ...] csv:/path/to/file.csv IDS
 *   csv_lookup --csv-delimiter ';' csv:customers.csv 1885,2
 *
 * OPTION is any libpapi option (cache-ttl, datasets, max-ids, ...) or one of the plug-in's
 * (csv-delimiter, csv-max-bytes). The environment (PAPI_CSV_DELIMITER, PAPI_CACHE_TTL, ...) is
 * read first, so flags win. Exit status: 0 (found or not), 2 bad input, an unknown option or
 * dataset, 3 a bad option value or file, 1 anything else. */
#include "csv_transport.h"

#include <papi/papi.h>

#include <stdio.h>
#include <string.h>

static int fail(papi_status st, const papi_error *err)
{
    fprintf(stderr, "csv_lookup: %s: %s\n", papi_status_name(st),
            err->message[0] ? err->message : papi_strerror(st));
    return st == PAPI_EINVAL || st == PAPI_ENODATASET ? 2 : st == PAPI_ECONFIG ? 3 : 1;
}

static void log_stderr(void *user, papi_log_level level, const char *message)
{
    (void)user, (void)level;
    fprintf(stderr, "csv_lookup: %s\n", message);
}

/* The plug-in's options exist for a configuration once its table is attached: attach first,
 * then read the environment and the flags. */
static papi_status configure(papi_config *cfg, const char *spec, char **flags, int nflags,
                             papi_error *err)
{
    /* flags: --NAME VALUE pairs */
    papi_status st = papi_config_set_transport(cfg, &csv_transport, spec, NULL);
    if (st != PAPI_OK)
        return papi_error_set(err, st, "the csv transport's table was refused");
    if ((st = papi_config_load_env(cfg, err)) != PAPI_OK)
        return st;
    for (int i = 0; i + 1 < nflags; i += 2)
        if (strcmp(flags[i], "--dataset") != 0 &&
            (st = papi_config_set(cfg, flags[i] + 2, flags[i + 1], err)) != PAPI_OK)
            return st;
    return papi_config_set_log(cfg, log_stderr, NULL, PAPI_LOG_WARN);
}

int main(int argc, char **argv)
{
    const char *dataset = "customer";
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2)
        if (strcmp(argv[i], "--dataset") == 0)
            dataset = argv[i + 1];
    if (argc - i != 2 || strncmp(argv[i], "--", 2) == 0) {
        fprintf(stderr, "usage: %s [--dataset NAME] [--OPTION VALUE ...] csv:FILE IDS\n", argv[0]);
        return 2;
    }
    const char *spec = argv[i], *ids = argv[i + 1];

    papi_error err = {0};
    papi_config *cfg = NULL;
    papi_client *client = NULL;
    papi_result *res = NULL;
    papi_status st = papi_config_create(&cfg);
    if (st == PAPI_OK)
        st = configure(cfg, spec, argv + 1, i - 1, &err);
    if (st == PAPI_OK)
        st = papi_client_create(cfg, &client, &err); /* opens the transport: reads the file */
    papi_config_destroy(cfg);                        /* the client keeps its own copy */
    if (st == PAPI_OK)
        st = papi_lookup_list(client, dataset, ids, strlen(ids), &res, &err);
    int rc = 0;
    if (st == PAPI_OK)
        puts(papi_result_json(res, NULL));
    else
        rc = fail(st, &err);
    papi_result_free(res);
    papi_client_destroy(client);
    return rc;
}
