/* Prometheus text exposition: the server's own counters plus the client's papi_stats. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

/* Codes counted one by one; the last slot (0) holds any other. */
static const unsigned status_codes[HTTPD_STATUS_SLOTS] = {200, 204, 304, 400, 401, 403, 404,
                                                          405, 411, 412, 413, 414, 415, 431,
                                                          500, 501, 502, 503, 504, 505, 0};

/* Upper bounds in microseconds; the last bucket is +Inf. */
static const int64_t bucket_us[HTTPD_LATENCY_BUCKETS - 1] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000};

static int status_slot(unsigned status)
{
    for (int i = 0; i < HTTPD_STATUS_SLOTS - 1; i++)
        if (status_codes[i] == status)
            return i;
    return HTTPD_STATUS_SLOTS - 1;
}

/* The calling thread's shard, handed out in turn on its first count. */
static _Thread_local int my_shard = -1;

static struct httpd_metrics_shard *shard(struct httpd *srv)
{
    if (my_shard < 0)
        my_shard =
            (int)(atomic_fetch_add_explicit(&srv->metrics.next_shard, 1, memory_order_relaxed) %
                  HTTPD_METRIC_SHARDS);
    return &srv->metrics.shard[my_shard];
}

#define ADD(x, v) atomic_fetch_add_explicit(&(x), (v), memory_order_relaxed)
#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void httpd_metrics_record(struct httpd *srv, int route, unsigned status, int64_t elapsed_us)
{
    struct httpd_metrics_shard *m = shard(srv);
    if (route < 0 || route >= HTTPD_ROUTES)
        route = ROUTE_NONE;
    if (elapsed_us < 0)
        elapsed_us = 0;
    ADD(m->requests[route][status_slot(status)], 1);
    int b = 0;
    while (b < HTTPD_LATENCY_BUCKETS - 1 && elapsed_us > bucket_us[b])
        b++;
    /* Buckets are stored non-cumulative (one increment per request); rendering sums them. */
    ADD(m->latency_bucket[route][b], 1);
    ADD(m->latency_us_sum[route], (uint64_t)elapsed_us);
}

void httpd_count(struct httpd *srv, enum httpd_counter c)
{
    ADD(shard(srv)->counter[c], 1);
}

void httpd_in_flight_add(struct httpd *srv, int64_t d)
{
    ADD(shard(srv)->in_flight, d);
}

uint64_t httpd_in_flight(struct httpd *srv)
{
    int64_t n = 0;
    for (int i = 0; i < HTTPD_METRIC_SHARDS; i++)
        n += LOAD(srv->metrics.shard[i].in_flight);
    return n > 0 ? (uint64_t)n : 0;
}

uint64_t httpd_next_request_number(struct httpd *srv)
{
    struct httpd_metrics_shard *m = shard(srv);
    return ((uint64_t)my_shard << 56) | ADD(m->request_ids, 1);
}

/* The sum over the shards of the counter at in_shard0's place in shard 0, read one shard at a
 * time: a scrape may straddle a request. */
static uint64_t sum(const struct httpd *srv, const _Atomic uint64_t *in_shard0)
{
    size_t off = (size_t)((const char *)in_shard0 - (const char *)&srv->metrics.shard[0]);
    uint64_t s = 0;
    for (int i = 0; i < HTTPD_METRIC_SHARDS; i++)
        s += LOAD(*(const _Atomic uint64_t *)((const char *)&srv->metrics.shard[i] + off));
    return s;
}
#define SUM(srv, field) sum((srv), &(srv)->metrics.shard[0].field)

static const struct {
    const char *name, *help;
} counter_info[HTTPD_NCOUNTERS] = {
#define HTTPD_COUNTER_INFO(id, name, help) {name, help},
    HTTPD_COUNTERS(HTTPD_COUNTER_INFO)
#undef HTTPD_COUNTER_INFO
};

static void label(papi_buf *b, const struct httpd *srv, int r)
{
    papi_buf_puts(b, "route=\"");
    papi_buf_puts(b, srv->route_label[r] ? srv->route_label[r] : "none");
    papi_buf_putc(b, '"');
}

static long resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * 4096L;
}

static void counter(papi_buf *sb, const char *name, const char *help, uint64_t v)
{
    papi_buf_printf(sb, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                    (unsigned long long)v);
}

static void gauge(papi_buf *sb, const char *name, const char *help, double v)
{
    papi_buf_printf(sb, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

/* A histogram from papi_stats' per-bucket counts: Prometheus wants them cumulative. bounds has
 * nb - 1 entries; the last bucket is +Inf. */
static void histogram(papi_buf *sb, const char *name, const char *help, const double *bounds,
                      const uint64_t *counts, size_t nb, double sum)
{
    papi_buf_printf(sb, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t b = 0; b < nb; b++) {
        cum += counts[b];
        if (b + 1 < nb)
            papi_buf_printf(sb, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[b],
                            (unsigned long long)cum);
        else
            papi_buf_printf(sb, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    papi_buf_printf(sb, "%s_sum %.6f\n%s_count %llu\n", name, sum, name, (unsigned long long)cum);
}

/* papi.h documents the bounds of papi_stats' histograms. */
static const double fetch_ids_bounds[PAPI_STATS_FETCH_IDS_BUCKETS - 1] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
static const double queue_wait_bounds_s[PAPI_STATS_QUEUE_WAIT_BUCKETS - 1] = {
    0, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

static void dispatcher_metrics(papi_buf *sb, const papi_stats *st)
{
    histogram(sb, "papi_source_fetch_ids", "Ids asked for by each source fetch.", fetch_ids_bounds,
              st->fetch_ids_bucket, PAPI_STATS_FETCH_IDS_BUCKETS, (double)st->fetch_ids_sum);
    gauge(sb, "papi_source_queue_depth", "Ids waiting for a free source slot.",
          (double)st->queue_depth);
    histogram(sb, "papi_source_queue_wait_seconds",
              "Time each fetched id waited for a free source slot.", queue_wait_bounds_s,
              st->queue_wait_bucket, PAPI_STATS_QUEUE_WAIT_BUCKETS,
              (double)st->queue_wait_us_sum / 1e6);
    counter(sb, "papi_source_fetches_at_limit_total",
            "Fetches that took the last free slot (source-concurrency).", st->fetches_at_limit);
}

/* One family per counter of papi_stats' per-source arrays, a sample per source of the chain,
 * labelled "<index>:<name>" (a chain may name one kind of source twice). */
static void chain_metrics(papi_buf *sb, const papi_client *client, const papi_stats *st)
{
    static const struct {
        const char *name, *help;
        size_t offset;
    } fam[] = {
        {"papi_chain_calls_total", "Fetches sent to each source of the chain.",
         offsetof(papi_stats, chain_calls)},
        {"papi_chain_ids_total",
         "Ids asked of each source of the chain (after the first, those the earlier ones lacked).",
         offsetof(papi_stats, chain_ids)},
        {"papi_chain_rows_total", "Rows each source of the chain returned.",
         offsetof(papi_stats, chain_rows)},
        {"papi_chain_errors_total", "Fetches of each source of the chain that failed.",
         offsetof(papi_stats, chain_errors)},
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        const uint64_t *v = (const uint64_t *)((const char *)st + fam[f].offset);
        papi_buf_printf(sb, "# HELP %s %s\n# TYPE %s counter\n", fam[f].name, fam[f].help,
                        fam[f].name);
        const char *source;
        for (size_t i = 0; i < PAPI_STATS_SOURCES && (source = papi_client_source_at(client, i));
             i++) {
            papi_buf_printf(sb, "%s{source=\"%zu:", fam[f].name, i);
            /* a transport's name, kept to what a label value may hold unescaped */
            for (const char *c = source; *c; c++)
                papi_buf_putc(sb, (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                                          (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' ||
                                          *c == '.'
                                      ? *c
                                      : '_');
            papi_buf_printf(sb, "\"} %llu\n", (unsigned long long)v[i]);
        }
    }
}

static void replica_metrics(papi_buf *sb, struct httpd *srv)
{
    struct httpd_replica_stats r;
    if (!httpd_replica_snapshot(srv, &r))
        return;
    gauge(sb, "papi_replica_age_seconds", "Seconds since the served replica's last sync ended.",
          r.age_s);
    gauge(sb, "papi_replica_rows", "Rows the served replica holds.", (double)r.rows);
    if (r.last_sync_s >= 0)
        gauge(sb, "papi_replica_last_sync_duration_seconds",
              "How long the server's last replica sync took (failed or not).", r.last_sync_s);
    counter(sb, "papi_replica_syncs_total", "Replica syncs the server completed.", r.syncs);
    counter(sb, "papi_replica_sync_failures_total",
            "Replica syncs that failed (the previous file kept serving).", r.failures);
}

char *httpd_metrics_render(struct httpd *srv, size_t *len)
{
    papi_buf sb;
    papi_buf_init(&sb);
    /* the fixed routes, then each dataset's two, skipping the slots of datasets not configured */
    int nroutes = HTTPD_ROUTES;

    papi_buf_puts(&sb,
                  "# HELP papi_http_requests_total HTTP requests answered, by route and status.\n"
                  "# TYPE papi_http_requests_total counter\n");
    for (int r = 0; r < nroutes; r++)
        for (int s = 0; s < HTTPD_STATUS_SLOTS && srv->route_label[r]; s++) {
            uint64_t v = SUM(srv, requests[r][s]);
            if (!v)
                continue;
            papi_buf_puts(&sb, "papi_http_requests_total{");
            label(&sb, srv, r);
            if (status_codes[s])
                papi_buf_printf(&sb, ",code=\"%u\"} %llu\n", status_codes[s],
                                (unsigned long long)v);
            else
                papi_buf_printf(&sb, ",code=\"other\"} %llu\n", (unsigned long long)v);
        }

    papi_buf_puts(
        &sb, "# HELP papi_http_request_duration_seconds Time from request line to answer sent.\n"
             "# TYPE papi_http_request_duration_seconds histogram\n");
    for (int r = 0; r < nroutes; r++) {
        if (!srv->route_label[r])
            continue;
        uint64_t cum = 0, counts[HTTPD_LATENCY_BUCKETS];
        for (int b = 0; b < HTTPD_LATENCY_BUCKETS; b++)
            counts[b] = SUM(srv, latency_bucket[r][b]);
        for (int b = 0; b < HTTPD_LATENCY_BUCKETS; b++)
            cum += counts[b];
        if (!cum)
            continue;
        cum = 0;
        for (int b = 0; b < HTTPD_LATENCY_BUCKETS; b++) {
            cum += counts[b];
            papi_buf_puts(&sb, "papi_http_request_duration_seconds_bucket{");
            label(&sb, srv, r);
            if (b < HTTPD_LATENCY_BUCKETS - 1)
                papi_buf_printf(&sb, ",le=\"%g\"} %llu\n", (double)bucket_us[b] / 1e6,
                                (unsigned long long)cum);
            else
                papi_buf_printf(&sb, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        papi_buf_puts(&sb, "papi_http_request_duration_seconds_sum{");
        label(&sb, srv, r);
        papi_buf_printf(&sb, "} %.6f\n", (double)SUM(srv, latency_us_sum[r]) / 1e6);
        papi_buf_puts(&sb, "papi_http_request_duration_seconds_count{");
        label(&sb, srv, r);
        papi_buf_printf(&sb, "} %llu\n", (unsigned long long)cum);
    }

    papi_buf_puts(&sb, "# HELP papi_http_responses_by_cache_total Lookup answers by X-Cache.\n"
                       "# TYPE papi_http_responses_by_cache_total counter\n");
    static const char *const xc[] = {"HIT", "MISS", "STALE"};
    for (int i = 0; i < 3; i++)
        papi_buf_printf(&sb, "papi_http_responses_by_cache_total{cache=\"%s\"} %llu\n", xc[i],
                        (unsigned long long)SUM(srv, counter[COUNT_XCACHE_HIT + i]));
    /* The scrape itself is in flight; report the others. */
    uint64_t inflight = httpd_in_flight(srv);
    gauge(&sb, "papi_http_requests_in_flight", "Requests received and not yet answered.",
          (double)(inflight ? inflight - 1 : 0));
    for (int c = 0; c < HTTPD_NCOUNTERS; c++)
        if (counter_info[c].name)
            counter(&sb, counter_info[c].name, counter_info[c].help, SUM(srv, counter[c]));
    gauge(&sb, "papi_http_connections", "Open client connections.",
          (double)atomic_load_explicit(&srv->connections, memory_order_relaxed));
    gauge(&sb, "papi_draining", "1 while shutting down.", (double)atomic_load(&srv->draining));

    papi_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    if (papi_client_stats(srv->client, &st) == PAPI_OK) {
        counter(&sb, "papi_lookups_total", "Lookups that passed validation.", st.lookups);
        counter(&sb, "papi_cache_hits_total", "Ids answered by a cache with a row.", st.cache_hits);
        counter(&sb, "papi_cache_negative_hits_total", "Ids answered by a cache as absent.",
                st.cache_negative_hits);
        counter(&sb, "papi_cache_misses_total", "Ids no cache could answer.", st.cache_misses);
        counter(&sb, "papi_cache_errors_total", "Cache operations that failed (served as misses).",
                st.cache_errors);
        counter(&sb, "papi_coalesced_waits_total", "Ids that waited for another request's fetch.",
                st.coalesced_waits);
        counter(&sb, "papi_source_calls_total", "Fetches sent to the source.", st.source_calls);
        counter(&sb, "papi_source_errors_total", "Fetches that failed.", st.source_errors);
        papi_buf_printf(&sb,
                        "# HELP papi_source_latency_seconds_total Time spent in source fetches.\n"
                        "# TYPE papi_source_latency_seconds_total counter\n"
                        "papi_source_latency_seconds_total %.6f\n",
                        (double)st.source_latency_us / 1e6);
        counter(&sb, "papi_stale_served_total", "Ids served from an expired copy after a source failure.",
                st.stale_served);
        counter(&sb, "papi_token_renewals_total", "Credentials minted or re-read.", st.token_renewals);
        gauge(&sb, "papi_source_fetches_in_flight", "Source fetches running now.",
              (double)st.fetches_in_flight);
        dispatcher_metrics(&sb, &st);
        chain_metrics(&sb, srv->client, &st);
    }
    replica_metrics(&sb, srv);
    gauge(&sb, "process_resident_memory_bytes", "Resident memory size in bytes.",
          (double)resident_bytes());
    papi_buf_printf(&sb,
                    "# HELP papi_build_info Library version.\n# TYPE papi_build_info gauge\n"
                    "papi_build_info{version=\"%s\"} 1\n",
                    papi_version());
    return papi_buf_steal(&sb, len);
}
