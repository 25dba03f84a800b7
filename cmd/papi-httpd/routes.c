/* Request handling: per-request state, checks, routing and the JSON answers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "httpd.h"

static const char json_type[] = "application/json; charset=utf-8";
static const char html_type[] = "text/html; charset=utf-8";
static const char metrics_type[] = "text/plain; version=0.0.4; charset=utf-8";
/* The baseline policy the SPCS ingress puts on every answer: the test page is served under it
 * here too, so the browser test proves the page works behind the ingress. */
static const char spcs_csp[] = "default-src 'self' 'unsafe-inline' 'unsafe-eval' blob: data:; "
                               "object-src 'none'; connect-src 'self'; frame-ancestors 'self';";

int64_t httpd_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* We decode the path ourselves, strictly; MHD's lenient decoding would hide bad escapes. */
size_t httpd_no_unescape(void *cls, struct MHD_Connection *conn, char *uri)
{
    (void)cls;
    (void)conn;
    return strlen(uri);
}

void *httpd_uri_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    struct httpd *srv = cls;
    struct httpd_request *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->srv = srv;
    req->start_us = httpd_now_us();
    req->cache = -1;
    req->raw_uri = strdup(uri ? uri : "");
    atomic_fetch_add_explicit(&srv->metrics.in_flight, 1, memory_order_relaxed);
    return req;
}

static size_t path_len_of(const char *uri)
{
    size_t n = strcspn(uri, "?#");
    return n;
}

void httpd_completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct httpd *srv = cls;
    struct httpd_request *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    int64_t elapsed = httpd_now_us() - req->start_us;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        atomic_fetch_add_explicit(&srv->metrics.connections_closed_early, 1, memory_order_relaxed);
    if (req->status)
        httpd_metrics_record(srv, req->route, req->status, elapsed);
    if (srv->opt.access_log) {
        const char *u = req->raw_uri ? req->raw_uri : "";
        httpd_access_log(req, u, path_len_of(u));
    }
    httpd_job_free(req->job); /* the client left before its worker's answer was sent */
    atomic_fetch_sub_explicit(&srv->metrics.in_flight, 1, memory_order_relaxed);
    free(req->raw_uri);
    free(req);
}

/* ------------------------------------------------------------------ responses */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static int request_id_sane(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= HTTPD_REQUEST_ID_MAX || !(isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return n > 0;
}

static void set_request_id(struct httpd *srv, struct MHD_Connection *conn,
                           struct httpd_request *req)
{
    const char *in = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (in && request_id_sane(in)) {
        memcpy(req->request_id, in, strlen(in) + 1);
        return;
    }
    uint64_t n = atomic_fetch_add_explicit(&srv->request_id_counter, 1, memory_order_relaxed);
    snprintf(req->request_id, sizeof req->request_id, "%016llx",
             (unsigned long long)splitmix64(srv->request_id_seed ^ n));
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct httpd_request *req,
                                     unsigned status, const char *type,
                                     struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    req->status = status;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    /* While draining, tell keep-alive clients to reconnect (to another replica). */
    if (atomic_load_explicit(&req->srv->draining, memory_order_relaxed))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static struct MHD_Response *copy_body(const char *body, size_t len)
{
    return MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result send_json(struct MHD_Connection *conn, struct httpd_request *req,
                                 unsigned status, const char *body)
{
    return send_response(conn, req, status, json_type, copy_body(body, strlen(body)));
}

static enum MHD_Result send_error(struct MHD_Connection *conn, struct httpd_request *req,
                                  unsigned status, const char *message, const char *code,
                                  int retry_after_s)
{
    char stack[512];
    struct httpd_sb sb = {.p = stack, .cap = sizeof stack};
    sb_puts(&sb, "{\"error\": \"");
    sb_json_str(&sb, message, strlen(message));
    sb_puts(&sb, "\"");
    if (code) {
        sb_puts(&sb, ", \"code\": \"");
        sb_json_str(&sb, code, strlen(code));
        sb_puts(&sb, "\"");
    }
    sb_puts(&sb, "}");
    if (sb.oom) {
        sb_free(&sb);
        return MHD_NO;
    }
    struct MHD_Response *resp = copy_body(sb.p, sb.len);
    sb_free(&sb);
    if (resp && status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (resp && status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"papi\"");
    if (resp && retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    return send_response(conn, req, status, json_type, resp);
}

static enum MHD_Result send_not_found(struct MHD_Connection *conn, struct httpd_request *req)
{
    req->route = ROUTE_NOTFOUND;
    return send_error(conn, req, MHD_HTTP_NOT_FOUND, "Not found!", NULL, 0);
}

/* DESIGN.md's error table; HTTP codes are the server's business, not the library's. */
static unsigned http_status_of(papi_status st)
{
    switch (st) {
    case PAPI_OK:
        return 200;
    case PAPI_EINVAL:
    case PAPI_ENODATASET:
        return 400;
    case PAPI_EAUTH:
    case PAPI_ESOURCE:
    case PAPI_EPROTO:
        return 502;
    case PAPI_EUNAVAIL:
    case PAPI_EIO:
    case PAPI_ENOMEM:
        return 503;
    case PAPI_ETIMEDOUT:
        return 504;
    case PAPI_ECONFIG:
    case PAPI_EINTERNAL:
        return 500;
    }
    return 500;
}

static enum MHD_Result send_papi_error(struct MHD_Connection *conn, struct httpd_request *req,
                                       papi_status st, const papi_error *err)
{
    unsigned status = http_status_of(st);
    const char *msg = err->message[0] ? err->message : papi_strerror(st);
    int retry = 0;
    if (status == 503)
        retry = err->retry_after_s > 0 ? err->retry_after_s : 1;
    return send_error(conn, req, status, msg, papi_status_name(st), retry);
}

/* ------------------------------------------------------------------ checks */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX strictly into out (at least n+1 bytes). Returns the length, or -1 for a bad
 * escape or an encoded NUL. */
static long percent_decode(const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '%') {
            out[o++] = in[i];
            continue;
        }
        if (i + 2 >= n)
            return -1;
        int hi = hexval((unsigned char)in[i + 1]), lo = hi < 0 ? -1 : hexval((unsigned char)in[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return -1;
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return (long)o;
}

/* Compares in time that depends only on the configured key sizes, never on where bytes differ. */
static int api_key_ok(const struct httpd *srv, struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    const char *k = h + 7;
    while (*k == ' ')
        k++;
    size_t klen = strlen(k);
    while (klen > 0 && k[klen - 1] == ' ')
        klen--;
    unsigned char given[HTTPD_MAX_API_KEY_BYTES] = {0};
    if (klen == 0 || klen > sizeof given)
        return 0;
    memcpy(given, k, klen);
    unsigned ok = 0;
    for (size_t i = 0; i < srv->napi_keys; i++) {
        unsigned diff = (unsigned)(srv->api_key_len[i] ^ klen);
        for (size_t j = 0; j < HTTPD_MAX_API_KEY_BYTES; j++)
            diff |= (unsigned)(srv->api_keys[i][j] ^ given[j]);
        ok |= (diff == 0);
    }
    return ok != 0;
}

/* ------------------------------------------------------------------ routes */

static enum MHD_Result send_ready(struct MHD_Connection *conn, struct httpd_request *req,
                                  papi_status st, const char *msg)
{
    if (st == PAPI_OK)
        return send_json(conn, req, 200, "{\"status\": \"ready\"}");
    return send_error(conn, req, 503, msg, papi_status_name(st), 5);
}

static struct httpd_job *job_new(struct httpd_request *req, struct MHD_Connection *conn,
                                 enum httpd_job_kind kind, const char *ids, size_t ids_len)
{
    struct httpd_job *job = calloc(1, sizeof *job + ids_len + 1);
    if (!job)
        return NULL;
    job->kind = kind;
    job->conn = conn;
    job->req = req;
    job->ids_len = ids_len;
    if (ids_len)
        memcpy(job->ids, ids, ids_len);
    return job;
}

static enum MHD_Result route_readyz(struct httpd *srv, struct MHD_Connection *conn,
                                    struct httpd_request *req)
{
    if (atomic_load(&srv->draining))
        return send_error(conn, req, 503, "shutting down", "DRAINING", 1);
    papi_status st;
    char msg[PAPI_ERROR_MESSAGE_MAX];
    int64_t now_ms = httpd_now_us() / 1000;
    /* A fresh answer is sent from here; a probe of the source waits in a worker. */
    pthread_mutex_lock(&srv->ready_lock);
    int fresh = srv->ready_checked_ms != 0 &&
                now_ms - srv->ready_checked_ms < (int64_t)srv->opt.ready_cache_ms;
    st = srv->ready_status;
    snprintf(msg, sizeof msg, "%s", srv->ready_message);
    pthread_mutex_unlock(&srv->ready_lock);
    if (fresh)
        return send_ready(conn, req, st, msg);
    struct httpd_job *job = job_new(req, conn, JOB_READY, NULL, 0);
    if (!job)
        return send_error(conn, req, 503, "out of memory", "ENOMEM", 1);
    req->job = job;
    httpd_workers_submit(srv, job);
    return MHD_YES;
}

papi_status httpd_ready_probe(struct httpd *srv, char *msg, size_t cap)
{
    papi_status st;
    int64_t now_ms = httpd_now_us() / 1000;
    /* One probe at a time reaches the source; the answer is reused for ready_cache_ms. */
    pthread_mutex_lock(&srv->ready_lock);
    if (srv->ready_checked_ms == 0 || now_ms - srv->ready_checked_ms >= (int64_t)srv->opt.ready_cache_ms) {
        papi_error err = {0};
        srv->ready_status = papi_client_ping(srv->client, &err);
        snprintf(srv->ready_message, sizeof srv->ready_message, "%s",
                 err.message[0] ? err.message : papi_strerror(srv->ready_status));
        srv->ready_checked_ms = httpd_now_us() / 1000;
        atomic_fetch_add_explicit(&srv->metrics.readiness_probes, 1, memory_order_relaxed);
    }
    st = srv->ready_status;
    snprintf(msg, cap, "%s", srv->ready_message);
    pthread_mutex_unlock(&srv->ready_lock);
    return st;
}

static void free_result_cb(void *cls)
{
    papi_result_free(cls);
}

static enum MHD_Result send_result(struct httpd *srv, struct MHD_Connection *conn,
                                   struct httpd_request *req, papi_result *res)
{
    size_t len = 0;
    const char *body = papi_result_json(res, &len);
    papi_cache_outcome oc = papi_result_outcome(res);
    /* The answer's bytes stay in the result until MHD has sent them: no copy. */
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
        len, (void *)body, free_result_cb, res);
    if (!resp) {
        papi_result_free(res);
        return MHD_NO;
    }
    static const char *const names[] = {"HIT", "MISS", "STALE"};
    int idx = (oc == PAPI_OUTCOME_HIT) ? 0 : (oc == PAPI_OUTCOME_STALE) ? 2 : 1;
    req->cache = idx;
    atomic_fetch_add_explicit(&srv->metrics.x_cache[idx], 1, memory_order_relaxed);
    MHD_add_response_header(resp, "X-Cache", names[idx]);
    return send_response(conn, req, 200, json_type, resp);
}

static enum MHD_Result route_lookup(struct httpd *srv, struct MHD_Connection *conn,
                                    struct httpd_request *req, const char *dataset,
                                    const char *ids, size_t ids_len)
{
    papi_result *res = NULL;
    papi_error err = {0};
    /* On the event loop only what the first cache tier answers; the rest goes to a worker. */
    papi_status st = papi_lookup_list_cached(srv->client, dataset, ids, ids_len, &res, &err);
    if (st != PAPI_OK)
        return send_papi_error(conn, req, st, &err);
    if (res)
        return send_result(srv, conn, req, res);
    struct httpd_job *job = job_new(req, conn, JOB_LOOKUP, ids, ids_len);
    if (!job)
        return send_error(conn, req, 503, "out of memory", "ENOMEM", 1);
    job->dataset = dataset;
    req->job = job;
    httpd_workers_submit(srv, job);
    return MHD_YES;
}

/* The handler's second call for a request a worker finished. */
static enum MHD_Result finish_job(struct httpd *srv, struct MHD_Connection *conn,
                                  struct httpd_request *req)
{
    struct httpd_job *job = req->job;
    req->job = NULL;
    enum MHD_Result r;
    if (job->kind == JOB_READY) {
        r = send_ready(conn, req, job->st, job->err.message);
    } else if (job->st != PAPI_OK) {
        r = send_papi_error(conn, req, job->st, &job->err);
    } else {
        papi_result *res = job->res;
        job->res = NULL;
        r = send_result(srv, conn, req, res);
    }
    httpd_job_free(job);
    return r;
}

static int is_get(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

enum MHD_Result httpd_handler(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)version;
    (void)upload_data;
    struct httpd *srv = cls;
    struct httpd_request *req = *con_cls;
    if (!req)
        return MHD_NO; /* the URI callback ran out of memory */
    if (req->status) {
        /* Answered already; swallow any body the client still sends. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* Answer once the request is complete: MHD closes a connection whose answer was queued
     * before the request ended, and keep-alive is what makes cache hits cheap. A body (no
     * route takes one) is read and dropped, up to a bound. */
    if (!req->headers_done) {
        req->headers_done = 1;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        req->body_bytes += *upload_data_size;
        *upload_data_size = 0;
        if (req->body_bytes <= HTTPD_MAX_BODY_BYTES)
            return MHD_YES;
    }
    if (req->abandoned)
        return send_error(conn, req, 503, "shutting down", "DRAINING", 1);
    if (req->job)
        return finish_job(srv, conn, req);
    snprintf(req->method, sizeof req->method, "%s", method);
    set_request_id(srv, conn, req);
    if (!req->raw_uri)
        return send_error(conn, req, 503, "out of memory", "ENOMEM", 1);

    const char *raw = req->raw_uri;
    size_t raw_len = path_len_of(raw);
    if (strlen(raw) > HTTPD_MAX_URL_BYTES)
        return send_error(conn, req, MHD_HTTP_URI_TOO_LONG, "URL longer than 8192 bytes",
                          "EURITOOLONG", 0);

    /* Probes stay open so orchestrators need no key; the page holds no data and a browser
     * cannot attach a bearer key to a navigation. */
    int exempt = (raw_len == 8 && memcmp(raw, "/healthz", 8) == 0) ||
                 (raw_len == 7 && memcmp(raw, "/readyz", 7) == 0) ||
                 (raw_len == 5 && memcmp(raw, "/test", 5) == 0);
    if (srv->napi_keys > 0 && !exempt && !api_key_ok(srv, conn)) {
        atomic_fetch_add_explicit(&srv->metrics.unauthorized, 1, memory_order_relaxed);
        return send_error(conn, req, MHD_HTTP_UNAUTHORIZED, "missing or invalid API key",
                          "EUNAUTHORIZED", 0);
    }

    char pathbuf[HTTPD_MAX_URL_BYTES + 1];
    long plen = percent_decode(raw, raw_len, pathbuf);
    if (plen < 0)
        return send_error(conn, req, 400, "invalid percent-encoding in the path", "EINVAL", 0);
    if (!httpd_utf8_valid((const unsigned char *)pathbuf, (size_t)plen))
        return send_error(conn, req, 400, "the path is not valid UTF-8", "EINVAL", 0);
    const char *path = pathbuf;
    size_t n = (size_t)plen;
    int get = is_get(method);

#define FIXED(p, r)                                                                              \
    (n == sizeof(p) - 1 && memcmp(path, p, n) == 0 && (req->route = (r), 1))
    if (FIXED("/", ROUTE_ROOT)) {
        if (!get)
            return send_error(conn, req, 405, "method not allowed", "EMETHOD", 0);
        return send_json(conn, req, 200, "{\"result\":\"Nothing to see here\"}");
    }
    if (FIXED("/healthz", ROUTE_HEALTHZ)) {
        if (!get)
            return send_error(conn, req, 405, "method not allowed", "EMETHOD", 0);
        return send_json(conn, req, 200, "{\"status\": \"ok\"}");
    }
    if (FIXED("/readyz", ROUTE_READYZ)) {
        if (!get)
            return send_error(conn, req, 405, "method not allowed", "EMETHOD", 0);
        return route_readyz(srv, conn, req);
    }
    if (FIXED("/test", ROUTE_TEST)) {
        if (!get)
            return send_error(conn, req, 405, "method not allowed", "EMETHOD", 0);
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            httpd_page_html_len, (void *)httpd_page_html, MHD_RESPMEM_PERSISTENT);
        if (resp)
            MHD_add_response_header(resp, "Content-Security-Policy", spcs_csp);
        return send_response(conn, req, 200, html_type, resp);
    }
    if (FIXED("/metrics", ROUTE_METRICS)) {
        if (!get)
            return send_error(conn, req, 405, "method not allowed", "EMETHOD", 0);
        size_t len = 0;
        char *text = httpd_metrics_render(srv, &len);
        if (!text)
            return send_error(conn, req, 503, "out of memory", "ENOMEM", 1);
        return send_response(conn, req, 200, metrics_type,
                             MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE));
    }
#undef FIXED
    if (n > 1 && path[0] == '/') {
        const char *slash = memchr(path + 1, '/', n - 1);
        if (slash) {
            size_t dlen = (size_t)(slash - path - 1);
            for (size_t i = 0; i < srv->ndatasets; i++) {
                const char *ds = srv->datasets[i];
                if (strlen(ds) != dlen || memcmp(ds, path + 1, dlen) != 0)
                    continue;
                req->route = ROUTE_DATASET0 + (int)i;
                if (!get)
                    return send_error(conn, req, 405, "method not allowed", "EMETHOD", 0);
                return route_lookup(srv, conn, req, ds, slash + 1, n - dlen - 2);
            }
        }
    }
    return send_not_found(conn, req);
}
