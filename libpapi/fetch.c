/* One fetch from a source: the transport called once for n ids, its rows rendered through the
 * sink, the client's counters, and the outcome published (caches filled, flights finished). The
 * dispatcher decides when and with which ids; this file does the fetch itself. */
#include "core.h"

/* papi.h documents these bounds (PAPI_STATS_QUEUE_WAIT_BUCKETS); the last bucket is +Inf. */
static const int64_t wait_bounds_us[PAPI_STATS_QUEUE_WAIT_BUCKETS - 1] = {
    0,     100,   250,    500,    1000,   2500,    5000,   10000,
    25000, 50000, 100000, 250000, 500000, 1000000, 2500000};

void papi__wait_hist_add(papi__wait_hist *h, int64_t us)
{
    if (us < 0)
        us = 0;
    size_t b = 0;
    while (b < PAPI_STATS_QUEUE_WAIT_BUCKETS - 1 && us > wait_bounds_us[b])
        b++;
    h->n[b]++;
    h->sum_us += (uint64_t)us;
}

void papi__wait_hist_count(papi_client *c, const papi__wait_hist *h)
{
    for (size_t b = 0; b < PAPI_STATS_QUEUE_WAIT_BUCKETS; b++)
        papi__count(c, PAPI__C_queue_wait_bucket + (int)b, h->n[b]);
    PAPI__COUNT(c, queue_wait_us_sum, h->sum_us);
}

static void count_fetch(papi_client *c, size_t pos, size_t n, bool at_limit)
{
    size_t b = 0; /* bucket b: more than 2^(b-1) ids, at most 2^b (papi.h) */
    while (b < PAPI_STATS_FETCH_IDS_BUCKETS - 1 && ((size_t)1 << b) < n)
        b++;
    size_t s = papi__stripe_now();
    papi__count_at(c, s, PAPI__C_source_calls, 1);
    papi__count_at(c, s, PAPI__C_fetch_ids_bucket + (int)b, 1);
    papi__count_at(c, s, PAPI__C_fetch_ids_sum, n);
    papi__count_at(c, s, PAPI__C_fetches_at_limit, at_limit ? 1 : 0);
    papi__count_at(c, s, PAPI__C_chain_calls + (int)pos, 1);
    papi__count_at(c, s, PAPI__C_chain_ids + (int)pos, n);
}

static void count_rows(papi_client *c, size_t pos, papi_blob *const *rows, size_t n)
{
    size_t found = 0;
    for (size_t i = 0; i < n; i++)
        found += rows[i] != NULL;
    papi__count(c, PAPI__C_chain_rows + (int)pos, found);
}

/* A failed fetch: counted, logged (for a source before the last, at most once a minute), its
 * partial rows dropped. */
static void fetch_failed(const papi__dispatch_opts *o, const papi_dataset *ds, papi_blob **rows,
                         size_t n, papi_status st, papi_error *ferr)
{
    papi_client *c = o->client;
    if (ferr->status != st)
        papi_error_set(ferr, st, "the source fetch failed");
    PAPI__COUNT(c, source_errors, 1);
    papi__count(c, PAPI__C_chain_errors + (int)o->position, 1);
    if (o->last)
        papi__client_log(c, PAPI_LOG_WARN, "source fetch of %zu ids from %s failed: %s: %s", n,
                         papi_dataset_name(ds), papi_status_name(st), ferr->message);
    else
        papi__chain_failed(c, o->position, ds, n, ferr);
    for (size_t i = 0; i < n; i++) { /* rows of a failed fetch may be partial */
        papi_blob_unref(rows[i]);
        rows[i] = NULL;
    }
}

papi_status papi__fetch_publish(const papi__dispatch_opts *o, const papi_dataset *ds,
                                const papi_key *ckeys, const papi_key *ids,
                                papi__flight *const *flights, papi_blob **rows, size_t n,
                                int64_t deadline_ms, bool at_limit, papi_error *ferr)
{
    papi_client *c = o->client;
    papi_row_sink sink;
    papi_status st;
    papi_error_set(ferr, PAPI_OK, NULL);
    if (!papi__sink_init(&sink, ds, ids, rows, n)) {
        st = papi_error_set(ferr, PAPI_ENOMEM, "out of memory");
    } else {
        count_fetch(c, o->position, n, at_limit);
        PAPI__COUNT(c, fetches_in_flight, 1);
        int64_t t0 = papi__now_us();
        st = o->transport->fetch(o->transport_state, ds, ids, n, &sink, deadline_ms, ferr);
        int64_t dt = papi__now_us() - t0;
        PAPI__COUNT(c, fetches_in_flight, UINT64_MAX); /* minus one, modulo 2^64 */
        PAPI__COUNT(c, source_latency_us, (uint64_t)(dt > 0 ? dt : 0));
    }
    papi__sink_fini(&sink);
    if (st != PAPI_OK) {
        fetch_failed(o, ds, rows, n, st, ferr);
        if (!o->last) { /* the next source answers for these ids: nothing failed yet */
            st = PAPI_OK;
            papi_error_set(ferr, PAPI_OK, NULL);
        }
    } else {
        count_rows(c, o->position, rows, n);
    }
    /* caches and flights before anyone is woken: a miss arriving afterwards finds the cache */
    o->publish(o->publish_ctx, ds, ckeys, flights, rows, n, st, ferr);
    return st;
}
