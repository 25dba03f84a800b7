/* Looks rows up with libpapi and prints each as one line of JSON, then a summary line.
 *
 *   cc -std=c11 -o lookup lookup.c $(pkg-config --cflags --libs papi)
 *   PAPI_SOURCE=sqlite:/tmp/demo.db ./lookup 1885 2
 *   ./lookup --dataset customer 1885
 *
 * Options come from the environment (PAPI_SOURCE, PAPI_CACHE, SNOWFLAKE_*: see the README).
 * Exit status: 0 found or not, 2 bad input (malformed id, unknown dataset), 1 anything else. */
#include <papi/papi.h>

#include <stdio.h>
#include <string.h>

static int fail(papi_status st, const papi_error *err)
{
    fprintf(stderr, "lookup: %s: %s\n", papi_status_name(st),
            err->message[0] ? err->message : papi_strerror(st));
    return st == PAPI_EINVAL || st == PAPI_ENODATASET ? 2 : 1;
}

int main(int argc, char **argv)
{
    const char *dataset = "customer";
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--dataset") == 0) {
        dataset = argv[2];
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [--dataset NAME] ID...\n", argv[0]);
        return 2;
    }

    papi_error err = {0};
    papi_config *cfg = NULL;
    papi_client *client = NULL;
    papi_result *res = NULL;
    papi_status st = papi_config_create(&cfg);
    if (st != PAPI_OK)
        return fail(st, &err);
    /* The environment first, so that explicit papi_config_set() calls made after it would win. */
    st = papi_config_load_env(cfg, &err);
    if (st == PAPI_OK)
        st = papi_client_create(cfg, &client, &err);
    papi_config_destroy(cfg); /* the client keeps its own copy */
    if (st != PAPI_OK)
        return fail(st, &err);

    size_t n = (size_t)(argc - first);
    st = papi_lookup(client, dataset, (const char *const *)(argv + first), n, &res, &err);
    int rc = 0;
    if (st != PAPI_OK) {
        rc = fail(st, &err);
    } else {
        for (size_t i = 0; i < papi_result_count(res); i++) {
            size_t len = 0;
            const char *row = papi_result_row_json(res, i, &len);
            printf("%.*s\n", (int)len, row);
        }
        printf("# %zu of %zu ids found\n", papi_result_count(res), n);
    }
    papi_result_free(res);
    papi_client_destroy(client);
    return rc;
}
