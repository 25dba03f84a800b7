/* The C side of bench/python_bench.py: ns per cache-hit papi_lookup_customers() of one id,
 * including reading the answer's JSON and freeing the result (what the Python call also does).
 * usage: python_bench_c SOURCE ITERATIONS ROUNDS  -> prints one line per round: ns per lookup */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <papi/papi.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s SOURCE ITERATIONS ROUNDS\n", argv[0]);
        return 2;
    }
    long iters = atol(argv[2]), rounds = atol(argv[3]);
    papi_error err = {0};
    papi_config *cfg = NULL;
    papi_client *client = NULL;
    if (papi_config_create(&cfg) != PAPI_OK || papi_config_set(cfg, "source", argv[1], &err) ||
        papi_config_set(cfg, "cache-ttl", "3600", &err) ||
        papi_client_create(cfg, &client, &err) != PAPI_OK) {
        fprintf(stderr, "setup: %s\n", err.message);
        return 1;
    }
    papi_config_destroy(cfg);
    const int64_t id = 1885;
    size_t total = 0;
    for (long r = -1; r < rounds; r++) { /* round -1 warms the cache */
        double t0 = now_ns();
        for (long i = 0; i < (r < 0 ? 1000 : iters); i++) {
            papi_result *res = NULL;
            if (papi_lookup_customers(client, &id, 1, &res, &err) != PAPI_OK) {
                fprintf(stderr, "lookup: %s\n", err.message);
                return 1;
            }
            size_t len = 0;
            total += papi_result_json(res, &len) ? len : 0;
            papi_result_free(res);
        }
        if (r >= 0)
            printf("%.1f\n", (now_ns() - t0) / (double)iters);
    }
    papi_stats s = {.struct_size = sizeof s};
    if (papi_client_stats(client, &s) == PAPI_OK && s.source_calls != 1) {
        fprintf(stderr, "expected one source call, saw %llu\n", (unsigned long long)s.source_calls);
        return 1;
    }
    papi_client_destroy(client);
    return total ? 0 : 1;
}
