/* Cache hits through libpapi: from Redis alone (memory tier off) against the memory tier.
 *
 *   redis_bench REDIS_URL [seconds per run = 3] [max threads = 2] [ids = 10000]
 *
 * The source is a synthetic in-process transport (customer-shaped rows), used only to warm the
 * caches: every measured lookup is a cache hit, which the program checks from the client's
 * counters. Prints lookups/s and per-lookup p50/p99 for each tier setup, threads and ids per
 * lookup. Speed is measured here, never asserted. */
#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SAMPLES (4u << 20)

static papi_status syn_open(const char *spec, const papi_config *cfg, const papi_host *host,
                            void *user, void **state, papi_error *err)
{
    (void)spec, (void)cfg, (void)host, (void)user, (void)err;
    *state = NULL;
    return PAPI_OK;
}

static void syn_close(void *state)
{
    (void)state;
}

/* Rows like the demo customer table's: about 450 bytes of JSON each. */
static papi_status syn_fetch(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                             papi_row_sink *sink, int64_t deadline_ms, papi_error *err)
{
    (void)state, (void)deadline_ms;
    size_t ncols = papi_dataset_column_count(ds);
    const char *cells[32];
    size_t lens[32];
    char text[32][64];
    if (ncols > 32)
        return papi_error_set(err, PAPI_EPROTO, "too many columns");
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < ncols; c++) {
            if (c == papi_dataset_key_index(ds))
                snprintf(text[c], sizeof text[c], "%.*s", (int)keys[i].len, keys[i].ptr);
            else if (papi_dataset_column_type(ds, c) == PAPI_COL_NUMBER)
                snprintf(text[c], sizeof text[c], "%zu", 1000000 + c * 7919 + i);
            else
                snprintf(text[c], sizeof text[c], "%s-value-%zu", papi_dataset_column_name(ds, c),
                         c);
            cells[c] = text[c];
            lens[c] = strlen(text[c]);
        }
        papi_status st = papi_sink_row(sink, cells, lens, ncols, err);
        if (st != PAPI_OK)
            return st;
    }
    return PAPI_OK;
}

static const papi_transport_backend synthetic = {
    .abi_version = PAPI_TRANSPORT_ABI_VERSION,
    .struct_size = sizeof(papi_transport_backend),
    .name = "synthetic",
    .open = syn_open,
    .close = syn_close,
    .fetch = syn_fetch,
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct worker {
    papi_client *client;
    int nids, batch, seconds;
    unsigned seed;
    uint64_t lookups, errors;
    uint32_t *samples; /* ns per lookup */
    size_t nsamples;
} worker;

static void *run(void *p)
{
    worker *w = p;
    int64_t ids[16];
    int64_t end = now_ns() + (int64_t)w->seconds * 1000000000;
    while (now_ns() < end) {
        for (int round = 0; round < 64; round++) {
            for (int i = 0; i < w->batch; i++)
                ids[i] = 1 + (int64_t)(rand_r(&w->seed) % (unsigned)w->nids);
            papi_result *r = NULL;
            int64_t t0 = now_ns();
            papi_status st = papi_lookup_customers(w->client, ids, (size_t)w->batch, &r, NULL);
            int64_t took = now_ns() - t0;
            papi_result_free(r);
            w->lookups++;
            if (st != PAPI_OK)
                w->errors++;
            if (w->nsamples < MAX_SAMPLES)
                w->samples[w->nsamples++] = took > UINT32_MAX ? UINT32_MAX : (uint32_t)took;
        }
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static papi_client *make_client(const char *cache, const char *redis_timeout_ms)
{
    papi_config *cfg = NULL;
    papi_error err;
    papi_client *c = NULL;
    if (papi_config_create(&cfg) != PAPI_OK ||
        papi_config_set(cfg, "cache", cache, &err) != PAPI_OK ||
        papi_config_set(cfg, "redis-timeout-ms", redis_timeout_ms, &err) != PAPI_OK ||
        papi_config_set(cfg, "cache-ttl", "3600", &err) != PAPI_OK ||
        papi_config_set_transport(cfg, &synthetic, "synthetic", NULL) != PAPI_OK ||
        papi_client_create(cfg, &c, &err) != PAPI_OK) {
        fprintf(stderr, "redis_bench: cannot make a client for %s\n", cache);
        exit(2);
    }
    papi_config_destroy(cfg);
    return c;
}

static void warm(papi_client *c, int nids)
{
    int64_t ids[100];
    for (int first = 1; first <= nids; first += 100) {
        size_t n = 0;
        for (int id = first; id < first + 100 && id <= nids; id++)
            ids[n++] = id;
        papi_result *r = NULL;
        if (papi_lookup_customers(c, ids, n, &r, NULL) != PAPI_OK) {
            fprintf(stderr, "redis_bench: warming failed\n");
            exit(2);
        }
        papi_result_free(r);
    }
}

static void measure(const char *label, papi_client *c, int threads, int batch, int seconds,
                    int nids)
{
    worker w[16];
    pthread_t t[16];
    papi_stats before = {.struct_size = sizeof before}, after = {.struct_size = sizeof after};
    if (papi_client_stats(c, &before) != PAPI_OK)
        exit(2);
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){c, nids, batch, seconds, 12345u + (unsigned)i, 0, 0, NULL, 0};
        w[i].samples = malloc(MAX_SAMPLES * sizeof *w[i].samples);
        if (!w[i].samples)
            exit(2);
        pthread_create(&t[i], NULL, run, &w[i]);
    }
    uint64_t lookups = 0, errors = 0;
    size_t total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        lookups += w[i].lookups;
        errors += w[i].errors;
        total += w[i].nsamples;
    }
    if (papi_client_stats(c, &after) != PAPI_OK)
        exit(2);
    uint32_t *all = malloc(total * sizeof *all);
    if (!all)
        exit(2);
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].samples, w[i].nsamples * sizeof *all);
        k += w[i].nsamples;
        free(w[i].samples);
    }
    qsort(all, total, sizeof *all, cmp_u32);
    uint64_t misses = after.cache_misses - before.cache_misses;
    uint64_t cerr = after.cache_errors - before.cache_errors;
    printf("%-22s %7d %8d %12.0f %12.0f %9.1f %9.1f %7llu %7llu\n", label, threads, batch,
           (double)lookups / seconds, (double)lookups * batch / seconds, all[total / 2] / 1000.0,
           all[(size_t)(total * 0.99)] / 1000.0, (unsigned long long)(misses + errors),
           (unsigned long long)cerr);
    free(all);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strncmp(argv[1], "redis://", 8) != 0) {
        fprintf(stderr, "usage: redis_bench REDIS_URL [seconds=3] [max-threads=2] [ids=10000]\n");
        return 2;
    }
    const char *url = argv[1];
    int seconds = argc > 2 ? atoi(argv[2]) : 3;
    int max_threads = argc > 3 ? atoi(argv[3]) : 2;
    int nids = argc > 4 ? atoi(argv[4]) : 10000;
    if (seconds < 1 || max_threads < 1 || max_threads > 16 || nids < 10)
        return 2;
    char both[300];
    snprintf(both, sizeof both, "memory,%s", url);

    printf("# libpapi %s, %d ids, %d s per run; every measured lookup is a cache hit\n",
           papi_version(), nids, seconds);
    printf("%-22s %7s %8s %12s %12s %9s %9s %7s %7s\n", "tiers", "threads", "ids/call", "lookups/s",
           "ids/s", "p50_us", "p99_us", "misses", "c_errs");
    struct {
        const char *label, *cache;
    } setups[] = {{"memory", "memory"}, {"redis (memory off)", url}, {"memory,redis", both}};
    for (size_t s = 0; s < sizeof setups / sizeof setups[0]; s++) {
        papi_client *c = make_client(setups[s].cache, "1000");
        warm(c, nids);
        for (int threads = 1; threads <= max_threads; threads *= 2)
            measure(setups[s].label, c, threads, 1, seconds, nids);
        measure(setups[s].label, c, 1, 10, seconds, nids);
        papi_client_destroy(c);
    }
    return 0;
}
