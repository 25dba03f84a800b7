/* Prometheus text exposition: the server's own counters plus the client's papi_stats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

/* Codes counted one by one; the last slot (0) holds any other. */
static const unsigned status_codes[HTTPD_STATUS_SLOTS] = {200, 400, 401, 404, 405, 411, 413, 414,
                                                          431, 500, 502, 503, 504, 505, 0};

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

void httpd_metrics_record(struct httpd *srv, int route, unsigned status, int64_t elapsed_us)
{
    struct httpd_metrics *m = &srv->metrics;
    if (route < 0 || route >= HTTPD_ROUTES)
        route = ROUTE_NONE;
    if (elapsed_us < 0)
        elapsed_us = 0;
    atomic_fetch_add_explicit(&m->requests[route][status_slot(status)], 1, memory_order_relaxed);
    int b = 0;
    while (b < HTTPD_LATENCY_BUCKETS - 1 && elapsed_us > bucket_us[b])
        b++;
    /* Buckets are stored non-cumulative (one increment per request); rendering sums them. */
    atomic_fetch_add_explicit(&m->latency_bucket[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_us_sum[route], (uint64_t)elapsed_us, memory_order_relaxed);
}

static const char *route_name(const struct httpd *srv, int r)
{
    switch (r) {
    case ROUTE_NONE:
        return "none";
    case ROUTE_ROOT:
        return "/";
    case ROUTE_TEST:
        return "/test";
    case ROUTE_HEALTHZ:
        return "/healthz";
    case ROUTE_READYZ:
        return "/readyz";
    case ROUTE_METRICS:
        return "/metrics";
    case ROUTE_NOTFOUND:
        return "notfound";
    default:
        break;
    }
    size_t i = (size_t)(r - ROUTE_DATASET0);
    return i < srv->ndatasets ? srv->datasets[i] : NULL;
}

static void label(struct httpd_sb *sb, const struct httpd *srv, int r)
{
    const char *name = route_name(srv, r);
    sb_puts(sb, "route=\"");
    if (r >= ROUTE_DATASET0)
        sb_puts(sb, "/"); /* dataset names are checked identifiers: nothing to escape */
    sb_puts(sb, name);
    if (r >= ROUTE_DATASET0)
        sb_puts(sb, "/:ids");
    sb_puts(sb, "\"");
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

static void counter(struct httpd_sb *sb, const char *name, const char *help, uint64_t v)
{
    sb_printf(sb, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
              (unsigned long long)v);
}

static void gauge(struct httpd_sb *sb, const char *name, const char *help, double v)
{
    sb_printf(sb, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* A histogram from papi_stats' per-bucket counts: Prometheus wants them cumulative. bounds has
 * nb - 1 entries; the last bucket is +Inf. */
static void histogram(struct httpd_sb *sb, const char *name, const char *help,
                      const double *bounds, const uint64_t *counts, size_t nb, double sum)
{
    sb_printf(sb, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t b = 0; b < nb; b++) {
        cum += counts[b];
        if (b + 1 < nb)
            sb_printf(sb, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[b], (unsigned long long)cum);
        else
            sb_printf(sb, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    sb_printf(sb, "%s_sum %.6f\n%s_count %llu\n", name, sum, name, (unsigned long long)cum);
}

/* papi.h documents the bounds of papi_stats' histograms. */
static const double fetch_ids_bounds[PAPI_STATS_FETCH_IDS_BUCKETS - 1] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
static const double queue_wait_bounds_s[PAPI_STATS_QUEUE_WAIT_BUCKETS - 1] = {
    0, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

static void dispatcher_metrics(struct httpd_sb *sb, const papi_stats *st)
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

char *httpd_metrics_render(struct httpd *srv, size_t *len)
{
    struct httpd_sb sb = {0};
    struct httpd_metrics *m = &srv->metrics;
    int nroutes = ROUTE_DATASET0 + (int)srv->ndatasets;

    sb_puts(&sb, "# HELP papi_http_requests_total HTTP requests answered, by route and status.\n"
                 "# TYPE papi_http_requests_total counter\n");
    for (int r = 0; r < nroutes; r++)
        for (int s = 0; s < HTTPD_STATUS_SLOTS; s++) {
            uint64_t v = LOAD(m->requests[r][s]);
            if (!v)
                continue;
            sb_puts(&sb, "papi_http_requests_total{");
            label(&sb, srv, r);
            if (status_codes[s])
                sb_printf(&sb, ",code=\"%u\"} %llu\n", status_codes[s], (unsigned long long)v);
            else
                sb_printf(&sb, ",code=\"other\"} %llu\n", (unsigned long long)v);
        }

    sb_puts(&sb, "# HELP papi_http_request_duration_seconds Time from request line to answer sent.\n"
                 "# TYPE papi_http_request_duration_seconds histogram\n");
    for (int r = 0; r < nroutes; r++) {
        uint64_t cum = 0, counts[HTTPD_LATENCY_BUCKETS];
        for (int b = 0; b < HTTPD_LATENCY_BUCKETS; b++)
            counts[b] = LOAD(m->latency_bucket[r][b]);
        for (int b = 0; b < HTTPD_LATENCY_BUCKETS; b++)
            cum += counts[b];
        if (!cum)
            continue;
        cum = 0;
        for (int b = 0; b < HTTPD_LATENCY_BUCKETS; b++) {
            cum += counts[b];
            sb_puts(&sb, "papi_http_request_duration_seconds_bucket{");
            label(&sb, srv, r);
            if (b < HTTPD_LATENCY_BUCKETS - 1)
                sb_printf(&sb, ",le=\"%g\"} %llu\n", (double)bucket_us[b] / 1e6,
                          (unsigned long long)cum);
            else
                sb_printf(&sb, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        sb_puts(&sb, "papi_http_request_duration_seconds_sum{");
        label(&sb, srv, r);
        sb_printf(&sb, "} %.6f\n", (double)LOAD(m->latency_us_sum[r]) / 1e6);
        sb_puts(&sb, "papi_http_request_duration_seconds_count{");
        label(&sb, srv, r);
        sb_printf(&sb, "} %llu\n", (unsigned long long)cum);
    }

    sb_puts(&sb, "# HELP papi_http_responses_by_cache_total Lookup answers by X-Cache.\n"
                 "# TYPE papi_http_responses_by_cache_total counter\n");
    static const char *const xc[] = {"HIT", "MISS", "STALE"};
    for (int i = 0; i < 3; i++)
        sb_printf(&sb, "papi_http_responses_by_cache_total{cache=\"%s\"} %llu\n", xc[i],
                  (unsigned long long)LOAD(m->x_cache[i]));
    /* The scrape itself is in flight; report the others. */
    uint64_t inflight = LOAD(m->in_flight);
    gauge(&sb, "papi_http_requests_in_flight", "Requests received and not yet answered.",
          (double)(inflight ? inflight - 1 : 0));
    counter(&sb, "papi_http_unauthorized_total", "Requests refused for a missing or wrong API key.",
            LOAD(m->unauthorized));
    counter(&sb, "papi_http_aborted_total", "Requests whose connection ended before the answer was sent.",
            LOAD(m->connections_closed_early));
    counter(&sb, "papi_http_client_gone_total",
            "Lookups not started because their client had hung up.", LOAD(m->client_gone));
    counter(&sb, "papi_http_header_timeouts_total",
            "Connections closed because a request was not in by --header-timeout.",
            LOAD(m->head_deadline));
    counter(&sb, "papi_http_evicted_total",
            "Connections slow to send a request, closed to make room while the server was full.",
            LOAD(m->evicted));
    gauge(&sb, "papi_http_connections", "Open client connections.",
          (double)atomic_load_explicit(&srv->connections, memory_order_relaxed));
    counter(&sb, "papi_readiness_probes_total", "Readiness checks that reached the source.",
            LOAD(m->readiness_probes));
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
        sb_printf(&sb,
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
    }
    gauge(&sb, "process_resident_memory_bytes", "Resident memory size in bytes.",
          (double)resident_bytes());
    sb_printf(&sb, "# HELP papi_build_info Library version.\n# TYPE papi_build_info gauge\n"
                   "papi_build_info{version=\"%s\"} 1\n",
              papi_version());
    if (sb.oom) {
        sb_free(&sb);
        return NULL;
    }
    *len = sb.len;
    return sb.p;
}
