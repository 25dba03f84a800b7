/* Drives libpapi (public API only) against the SQL API emulator for the integration tests and the
 * bench: many lookups from one client, optionally from several threads, then one JSON line with
 * the outcome, the last error's detail and the client's counters.
 *
 * sf_driver [--lookups N] [--threads T] [--ids LIST|seq] [--ping] [--wait-after K] [--OPTION
 * VALUE]...
 * --wait-after K: after K lookups print "WAITING" and read a line from stdin (tests change
 * credentials at that point); no thread starts another lookup meanwhile. Options are papi's
 * (snowflake-*, cache, timeout-ms, ...). */
#include <papi/papi.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct shared {
    papi_client *client;
    const char *ids;
    long lookups;
    long wait_after;
    pthread_mutex_t lock;
    long ok, failed, rows;
    papi_error last;
    uint64_t *lat_us;
    long nlat;
} shared;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *worker(void *arg)
{
    shared *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        long taken = s->nlat;
        if (taken >= s->lookups) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        s->nlat++;
        bool stop = false;
        if (s->wait_after > 0 && taken == s->wait_after) {
            /* under the lock: every thread waits here, so the lookups after the pause start
             * together and find the credentials as the test left them */
            printf("WAITING\n");
            fflush(stdout);
            char line[64];
            stop = !fgets(line, sizeof line, stdin);
        }
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
        papi_result *res = NULL;
        papi_error err = {0};
        uint64_t t0 = now_us();
        char seq[24];
        const char *ids = s->ids;
        if (strcmp(ids, "seq") == 0) { /* distinct ids: no coalescing between threads */
            snprintf(seq, sizeof seq, "%ld", taken % 2000 + 1);
            ids = seq;
        }
        papi_status st = papi_lookup_list(s->client, "customer", ids, strlen(ids), &res, &err);
        uint64_t dt = now_us() - t0;
        pthread_mutex_lock(&s->lock);
        s->lat_us[taken] = dt;
        if (st == PAPI_OK) {
            s->ok++;
            s->rows += (long)papi_result_count(res);
        } else {
            s->failed++;
            s->last = err;
        }
        pthread_mutex_unlock(&s->lock);
        papi_result_free(res);
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

int main(int argc, char **argv)
{
    shared s = {.ids = "1885", .lookups = 1};
    int threads = 1;
    int ping = 0;
    papi_config *cfg = NULL;
    papi_error err = {0};
    papi_status st = papi_config_create(&cfg);
    if (st == PAPI_OK)
        st = papi_config_load_env(cfg, &err);
    for (int i = 1; st == PAPI_OK && i < argc; i++) {
        if (strcmp(argv[i], "--ping") == 0) {
            ping = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "sf_driver: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--lookups") == 0)
            s.lookups = atol(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--ids") == 0)
            s.ids = argv[++i];
        else if (strcmp(argv[i], "--wait-after") == 0)
            s.wait_after = atol(argv[++i]);
        else if (strncmp(argv[i], "--", 2) == 0) {
            st = papi_config_set(cfg, argv[i] + 2, argv[i + 1], &err);
            i++;
        } else {
            fprintf(stderr, "sf_driver: unexpected %s\n", argv[i]);
            return 2;
        }
    }
    papi_client *client = NULL;
    if (st == PAPI_OK)
        st = papi_client_create(cfg, &client, &err);
    papi_config_destroy(cfg);
    if (st != PAPI_OK) {
        printf("{\"status\":\"%s\",\"phase\":\"create\",\"message\":", papi_status_name(st));
        json_str(err.message);
        printf("}\n");
        return 1;
    }
    s.client = client;
    pthread_mutex_init(&s.lock, NULL);
    s.lat_us = calloc((size_t)(s.lookups > 0 ? s.lookups : 1), sizeof *s.lat_us);
    uint64_t t0 = now_us();
    if (ping) {
        papi_error perr = {0};
        if (papi_client_ping(client, &perr) == PAPI_OK)
            s.ok++;
        else {
            s.failed++;
            s.last = perr;
        }
    } else {
        pthread_t *tids = calloc((size_t)threads, sizeof *tids);
        for (int t = 0; t < threads; t++)
            pthread_create(&tids[t], NULL, worker, &s);
        for (int t = 0; t < threads; t++)
            pthread_join(tids[t], NULL);
        free(tids);
    }
    uint64_t elapsed = now_us() - t0;
    papi_stats stats = {.struct_size = sizeof stats};
    if (papi_client_stats(client, &stats) != PAPI_OK)
        stats = (papi_stats){.struct_size = sizeof stats};
    qsort(s.lat_us, (size_t)s.nlat, sizeof *s.lat_us, cmp_u64);
    uint64_t p50 = s.nlat ? s.lat_us[s.nlat / 2] : 0;
    uint64_t p99 =
        s.nlat ? s.lat_us[(s.nlat * 99) / 100 < s.nlat ? (s.nlat * 99) / 100 : s.nlat - 1] : 0;
    printf("{\"status\":\"%s\",\"ok\":%ld,\"failed\":%ld,\"rows\":%ld,\"elapsed_us\":%llu,"
           "\"p50_us\":%llu,\"p99_us\":%llu,\"token_renewals\":%llu,\"source_calls\":%llu,"
           "\"source_latency_us\":%llu,\"http_status\":%d,\"retry_after_s\":%d,\"source_code\":",
           s.failed ? papi_status_name(s.last.status) : "OK", s.ok, s.failed, s.rows,
           (unsigned long long)elapsed, (unsigned long long)p50, (unsigned long long)p99,
           (unsigned long long)stats.token_renewals, (unsigned long long)stats.source_calls,
           (unsigned long long)stats.source_latency_us, s.last.http_status, s.last.retry_after_s);
    json_str(s.last.source_code);
    printf(",\"sql_state\":");
    json_str(s.last.sql_state);
    printf(",\"query_id\":");
    json_str(s.last.query_id);
    printf(",\"message\":");
    json_str(s.last.message);
    printf("}\n");
    free(s.lat_us);
    papi_client_destroy(client);
    return s.failed ? 1 : 0;
}
