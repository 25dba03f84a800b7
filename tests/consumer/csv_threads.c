/* The csv transport of examples/backend under concurrent lookups, built like any consumer against
 * the installed headers only. Four threads look up random sets of ids with no cache and one
 * fetch per lookup (source-concurrency 0), so the transport's fetch runs on several threads at
 * once and its per-dataset view is first asked for by all of them together. Every answer must
 * hold exactly the asked ids that exist, in the order asked.
 *
 *   csv_threads csv:FILE ROWS   (FILE: a header row, then C_CUSTOMER_SK 1..ROWS in any order) */
#include "csv_transport.h"

#include <papi/papi.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define LOOKUPS 300
#define IDS_MAX 24

static papi_client *client;
static long rows;

typedef struct worker {
    unsigned seed;
    int failures;
} worker;

/* A small generator of our own: rand() is not thread-safe, rand_r() is not C11. */
static unsigned next(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static int check(const papi_result *res, const long *ids, size_t n)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        int repeat = 0;
        for (size_t j = 0; j < i; j++)
            repeat |= ids[j] == ids[i];
        if (repeat || ids[i] > rows)
            continue;
        char want[48];
        snprintf(want, sizeof want, "{\"C_CUSTOMER_SK\":%ld,", ids[i]);
        const char *row = papi_result_row_json(res, at++, NULL);
        if (!row || strncmp(row, want, strlen(want)) != 0)
            return -1;
    }
    return at == papi_result_count(res) ? 0 : -1;
}

static void *run(void *arg)
{
    worker *w = arg;
    for (int k = 0; k < LOOKUPS; k++) {
        size_t n = 1 + next(&w->seed) % IDS_MAX;
        long ids[IDS_MAX];
        char list[IDS_MAX * 8] = "";
        size_t len = 0;
        for (size_t i = 0; i < n; i++) {
            ids[i] = 1 + (long)(next(&w->seed) % (unsigned)(rows + rows / 4)); /* some absent */
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%ld", i ? "," : "", ids[i]);
        }
        papi_result *res = NULL;
        papi_error err = {0};
        papi_status st = papi_lookup_list(client, "customer", list, len, &res, &err);
        if (st != PAPI_OK || check(res, ids, n) != 0) {
            fprintf(stderr, "csv_threads: lookup %s: %s %s\n", list, papi_status_name(st),
                    err.message);
            w->failures++;
        }
        papi_result_free(res);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (rows = atol(argv[2])) <= 0) {
        fprintf(stderr, "usage: csv_threads csv:FILE ROWS\n");
        return 2;
    }
    papi_config *cfg = NULL;
    papi_error err = {0};
    papi_status st = papi_config_create(&cfg);
    if (st == PAPI_OK)
        st = papi_config_set_transport(cfg, &csv_transport, argv[1], NULL);
    if (st == PAPI_OK)
        st = papi_config_set(cfg, "cache", "none", &err);
    if (st == PAPI_OK)
        st = papi_config_set(cfg, "source-concurrency", "0", &err);
    if (st == PAPI_OK)
        st = papi_client_create(cfg, &client, &err);
    papi_config_destroy(cfg);
    if (st != PAPI_OK) {
        fprintf(stderr, "csv_threads: %s: %s\n", papi_status_name(st), err.message);
        return 1;
    }
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){(unsigned)(i * 7919 + 1), 0};
        if (pthread_create(&t[i], NULL, run, &w[i]) != 0) {
            fprintf(stderr, "csv_threads: cannot start a thread\n");
            return 1;
        }
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        failures += w[i].failures;
    }
    papi_stats stats = {.struct_size = sizeof stats};
    if (papi_client_stats(client, &stats) != PAPI_OK)
        failures++;
    papi_client_destroy(client);
    /* with no cache nearly every lookup fetches (one waiting on another's fetch of all its ids
     * does not): the fetches really ran through the plug-in */
    if (stats.source_calls < LOOKUPS) {
        fprintf(stderr, "csv_threads: only %llu fetches\n", (unsigned long long)stats.source_calls);
        failures++;
    }
    printf("csv_threads: %d lookups on %d threads, %d failed\n", THREADS * LOOKUPS, THREADS,
           failures);
    return failures ? 1 : 0;
}
