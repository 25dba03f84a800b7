/* Micro-benchmark of papi_lookup_customers() on a demo SQLite database: cache hits (memory
 * cache, warmed) over the whole table and on one hot row, and misses (cache "none": every lookup
 * is a SQLite query), one and two threads. Each thread times batches of lookups; the table shows
 * the median and p99 of ns per lookup over batches, lookups per second over the whole run (all
 * threads), the threads' own CPU time per lookup and how many threads ran at once on average
 * ("overlap": CPU time over wall time). On a machine shared with other work the wall-clock rate
 * of two threads depends on whether they get two cores; CPU time per lookup does not, and rises
 * only when the threads slow each other down (cache lines written by both).
 *
 *   lookup_bench [--db PATH] [--rows N] [--seconds S] [--misses-only]
 *
 * The database is generated (papi demo-db) when PATH does not exist. Targets for a single-id
 * cache hit: median <= 1 us, >= 1,000,000 hits/s on one core. */
#include "demo_db.h"

#include <papi/papi.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 200000

typedef struct run {
    papi_client *client;
    int64_t rows;
    int batch;
    double seconds;
    unsigned seed;
    double *samples; /* ns per lookup, one per batch */
    size_t nsamples;
    uint64_t lookups;
    int64_t hot_id; /* 0: ids spread over the table */
    double cpu_s;   /* the thread's own CPU time */
    int failures;
} run;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
    run *r = arg;
    double cpu0 = thread_cpu_s();
    double end = now_ns() + r->seconds * 1e9;
    uint64_t x = r->seed;
    while (now_ns() < end && r->nsamples < MAX_SAMPLES) {
        double t0 = now_ns();
        for (int i = 0; i < r->batch; i++) {
            /* a cheap LCG spreads the ids over the table, like real traffic */
            x = x * 6364136223846793005u + 1442695040888963407u;
            int64_t id = r->hot_id ? r->hot_id : 1 + (int64_t)((x >> 33) % (uint64_t)r->rows);
            papi_result *res = NULL;
            if (papi_lookup_customers(r->client, &id, 1, &res, NULL) != PAPI_OK ||
                papi_result_count(res) != 1)
                r->failures++;
            papi_result_free(res);
        }
        r->samples[r->nsamples++] = (now_ns() - t0) / r->batch;
        r->lookups += (uint64_t)r->batch;
    }
    r->cpu_s = thread_cpu_s() - cpu0;
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static papi_client *make_client(const char *db, const char *cache)
{
    char source[4200];
    snprintf(source, sizeof source, "sqlite:%s", db);
    papi_config *cfg = NULL;
    papi_client *c = NULL;
    papi_error err = {0};
    papi_status s = papi_config_create(&cfg);
    if (s == PAPI_OK)
        s = papi_config_set(cfg, "source", source, &err);
    if (s == PAPI_OK)
        s = papi_config_set(cfg, "cache", cache, &err);
    if (s == PAPI_OK)
        s = papi_client_create(cfg, &c, &err);
    papi_config_destroy(cfg);
    if (s != PAPI_OK) {
        fprintf(stderr, "lookup_bench: %s\n", err.message[0] ? err.message : papi_strerror(s));
        exit(1);
    }
    return c;
}

/* Fills the memory cache with every id, 100 to a lookup. */
static void warm(papi_client *c, int64_t rows)
{
    int64_t ids[100];
    for (int64_t first = 1; first <= rows; first += 100) {
        size_t n = 0;
        for (int64_t id = first; id < first + 100 && id <= rows; id++)
            ids[n++] = id;
        papi_result *res = NULL;
        if (papi_lookup_customers(c, ids, n, &res, NULL) != PAPI_OK) {
            fprintf(stderr, "lookup_bench: warming the cache failed\n");
            exit(1);
        }
        papi_result_free(res);
    }
}

static void scenario(const char *name, papi_client *c, int64_t rows, int64_t hot_id, int threads,
                     int batch, double seconds)
{
    run r[2];
    pthread_t t[2];
    double t0 = now_ns();
    for (int i = 0; i < threads; i++) {
        r[i] =
            (run){c, rows, batch, seconds, 12345u + 777u * (unsigned)i, NULL, 0, 0, hot_id, 0, 0};
        r[i].samples = malloc(MAX_SAMPLES * sizeof(double));
        if (!r[i].samples || pthread_create(&t[i], NULL, worker, &r[i]) != 0) {
            fprintf(stderr, "lookup_bench: cannot start a thread\n");
            exit(1);
        }
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double wall_s = (now_ns() - t0) / 1e9;
    size_t n = 0;
    uint64_t lookups = 0;
    double cpu_s = 0;
    int failures = 0;
    double *all = malloc(2 * MAX_SAMPLES * sizeof(double));
    for (int i = 0; i < threads; i++) {
        memcpy(all + n, r[i].samples, r[i].nsamples * sizeof(double));
        n += r[i].nsamples;
        lookups += r[i].lookups;
        cpu_s += r[i].cpu_s;
        failures += r[i].failures;
        free(r[i].samples);
    }
    qsort(all, n, sizeof *all, cmp_double);
    double median = n ? all[n / 2] : 0, p99 = n ? all[(size_t)((double)(n - 1) * 0.99)] : 0;
    printf("%-26s %7d %12.0f %12.0f %14.0f %10.0f %8.2f %8zu%s\n", name, threads, median, p99,
           (double)lookups / wall_s, lookups ? cpu_s * 1e9 / (double)lookups : 0, cpu_s / wall_s, n,
           failures ? "  FAILURES" : "");
    fflush(stdout);
    free(all);
}

int main(int argc, char **argv)
{
    const char *db = "/tmp/papi-lookup-bench.db"; /* never inside the source tree */
    int64_t rows = 10000;
    double seconds = 2.0;
    int misses_only = 0; /* bench/sync: a replica against the demo database, no cache */
    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--misses-only") == 0) {
            misses_only = 1;
            i--;
        } else if (i + 1 >= argc) {
            fprintf(stderr, "lookup_bench: %s needs a value\n", argv[i]);
            return 2;
        } else if (strcmp(argv[i], "--db") == 0)
            db = argv[i + 1];
        else if (strcmp(argv[i], "--rows") == 0)
            rows = strtoll(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = strtod(argv[i + 1], NULL);
        else {
            fprintf(stderr, "usage: lookup_bench [--db PATH (default /tmp/papi-lookup-bench.db)] "
                            "[--rows N] [--seconds S] [--misses-only]\n");
            return 2;
        }
    }
    if (rows < 1 || rows > DEMO_MAX_ROWS || seconds <= 0) {
        fprintf(stderr, "lookup_bench: --rows 1..100000000, --seconds > 0\n");
        return 2;
    }
    if (access(db, F_OK) != 0) {
        char msg[512];
        if (demo_db_generate(db, rows, msg, sizeof msg) != DEMO_OK) {
            fprintf(stderr, "lookup_bench: %s\n", msg);
            return 1;
        }
    }
    printf("papi %s lookup_bench: %s, ids 1..%" PRId64 ", %.1f s a scenario, single-id lookups\n",
           papi_version(), db, rows, seconds);
    printf("%-26s %7s %12s %12s %14s %10s %8s %8s\n", "scenario", "threads", "median ns", "p99 ns",
           "lookups/s", "cpu ns", "overlap", "batches");

    if (!misses_only) {
        papi_client *hit = make_client(db, "memory");
        warm(hit, rows);
        scenario("cache hit (memory)", hit, rows, 0, 1, 1000, seconds);
        scenario("cache hit (memory)", hit, rows, 0, 2, 1000, seconds);
        /* every lookup the same row: what both threads write is all that is left to meet on */
        scenario("hot row (memory)", hit, rows, 1 + rows / 2, 1, 1000, seconds);
        scenario("hot row (memory)", hit, rows, 1 + rows / 2, 2, 1000, seconds);
        papi_client_destroy(hit);
    }

    papi_client *miss = make_client(db, "none");
    scenario("cache miss (sqlite)", miss, rows, 0, 1, 100, seconds);
    scenario("cache miss (sqlite)", miss, rows, 0, 2, 100, seconds);
    papi_client_destroy(miss);
    return 0;
}
