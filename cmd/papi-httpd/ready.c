/* Readiness: whether the source answers, asked at most once per --ready-cache-ms. /readyz sends
 * a fresh answer from the event loop; a probe of the source runs on the readiness thread. */
#include "httpd.h"

static int fresh(const struct httpd *srv, int64_t now_ms)
{
    return srv->ready_checked_ms != 0 &&
           now_ms - srv->ready_checked_ms < (int64_t)srv->opt.ready_cache_ms;
}

int httpd_ready_cached(struct httpd *srv, papi_status *st, papi_error *err)
{
    int64_t now_ms = httpd_now_us() / 1000;
    pthread_mutex_lock(&srv->ready_lock);
    int ok = fresh(srv, now_ms);
    *st = srv->ready_status;
    *err = srv->ready_err;
    pthread_mutex_unlock(&srv->ready_lock);
    return ok;
}

papi_status httpd_ready_probe(struct httpd *srv, const char *request_id, papi_error *out)
{
    /* Probes run on the readiness thread alone, so one at a time reaches the source; the lock
     * is never held across the ping, since /readyz reads the last answer on the event loop. */
    papi_status st;
    if (httpd_ready_cached(srv, &st, out))
        return st;
    papi_error err = {0};
    st = papi_client_ping(srv->client, &err);
    httpd_count(srv, COUNT_READINESS_PROBES);
    if (st != PAPI_OK)
        httpd_log_source_error(request_id, "readiness probe", st, &err);
    pthread_mutex_lock(&srv->ready_lock);
    srv->ready_status = st;
    srv->ready_err = err;
    srv->ready_checked_ms = httpd_now_us() / 1000;
    pthread_mutex_unlock(&srv->ready_lock);
    *out = err;
    return st;
}
