/* The life of a request: made by the URI callback, finished (logged, counted, freed) exactly once,
 * whether MHD completes it or drops it with its connection. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"

/* We decode the path ourselves, strictly; MHD's lenient decoding would hide bad escapes. */
size_t httpd_no_unescape(void *cls, struct MHD_Connection *conn, char *uri)
{
    (void)cls;
    (void)conn;
    return strlen(uri);
}

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
        if (n >= HTTPD_REQUEST_ID_MAX ||
            !(isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return n > 0;
}

/* splitmix64 is a bijection, so distinct request numbers give distinct ids. */
static void new_request_id(struct httpd *srv, struct httpd_request *req)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t id = splitmix64(srv->request_id_seed ^ httpd_next_request_number(srv));
    for (int i = 15; i >= 0; i--, id >>= 4)
        req->request_id[i] = hex[id & 15];
    req->request_id[16] = '\0';
}

void httpd_set_request_id(struct httpd_request *req, const char *method)
{
    size_t n = method ? strnlen(method, sizeof req->method - 1) : 0;
    memcpy(req->method, method ? method : "", n);
    req->method[n] = '\0';
    const char *in = req->hdr.request_id;
    if (in && request_id_sane(in))
        memcpy(req->request_id, in, strlen(in) + 1);
}

/* MHD stores each query argument in the connection's memory pool; ~2,000 of them exhaust it,
 * and 0.9.75 then queues its own error page and loses the request: never answered, never
 * completed. papi reads no query argument. The URI handed to this callback points into MHD's
 * writable read buffer, which MHD itself cuts at the '?' right after the callback returns:
 * ending the string just past the '?' leaves it nothing to parse. */
static void drop_query_arguments(const char *uri)
{
    char *q = uri ? strchr(uri, '?') : NULL;
    if (q && q[1])
        q[1] = '\0';
}

void *httpd_uri_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct httpd *srv = cls;
    struct httpd_conn *hc = httpd_conn_of(conn);
    if (hc && hc->req)
        httpd_request_finish(hc->req, CLOSED_ERROR); /* MHD moved on without completing it */
    /* A keep-alive connection's requests reuse one allocation: malloc and free were a tenth of
     * what papi-httpd itself spends on a cache hit. */
    struct httpd_request *req = hc ? hc->spare : NULL;
    if (req) {
        hc->spare = NULL;
        /* uri_inline is written before it is read; the rest starts zeroed, as calloc's did */
        memset(req, 0, offsetof(struct httpd_request, uri_inline));
    } else if (!(req = calloc(1, sizeof *req))) {
        return NULL;
    }
    req->srv = srv;
    req->start_us = httpd_now_us();
    req->cache = -1;
    /* An id from the start, so that even a request MHD drops is logged with one; the client's
     * own X-Request-Id replaces it once the headers are in. */
    new_request_id(srv, req);
    size_t n = uri ? strlen(uri) : 0;
    req->raw_uri = n < sizeof req->uri_inline ? req->uri_inline : malloc(n + 1);
    if (req->raw_uri) {
        memcpy(req->raw_uri, uri ? uri : "", n);
        req->raw_uri[n] = '\0';
    }
    drop_query_arguments(uri);
    if (hc) {
        hc->req = req;
        req->hc = hc;
        httpd_conn_phase(hc, CONN_HEAD, req->start_us);
    }
    httpd_in_flight_add(srv, 1);
    return req;
}

size_t httpd_path_len(const char *uri)
{
    return strcspn(uri, "?#");
}

/* now_us: the caller's clock reading, one per request end. */
static void finish_at(struct httpd_request *req, enum httpd_closed closed, int64_t now_us)
{
    struct httpd *srv = req->srv;
    if (req->hc && req->hc->req == req)
        req->hc->req = NULL;
    req->closed = closed;
    int64_t elapsed = now_us - req->start_us;
    if (closed != CLOSED_NOT)
        httpd_count(srv, COUNT_CLOSED_EARLY);
    if (req->status)
        httpd_metrics_record(srv, req->route, req->status, elapsed);
    if (srv->opt.access_log) {
        const char *u = req->raw_uri ? req->raw_uri : "";
        httpd_access_log(req, u, httpd_path_len(u));
    }
    httpd_job_free(req->job); /* the client left before its worker's answer was sent */
    if (req->abandoned)
        atomic_fetch_sub_explicit(&srv->abandoned_unanswered, 1, memory_order_relaxed);
    httpd_in_flight_add(srv, -1);
    if (req->raw_uri != req->uri_inline)
        free(req->raw_uri);
    free(req->body);
    /* req->hc is cleared before a connection is closed: set, it outlives this request */
    if (req->hc && !req->hc->spare)
        req->hc->spare = req;
    else
        free(req);
}

void httpd_request_finish(struct httpd_request *req, enum httpd_closed closed)
{
    finish_at(req, closed, httpd_now_us());
}

static enum httpd_closed closed_of(const struct httpd_request *req,
                                   enum MHD_RequestTerminationCode toe)
{
    int shut = req->hc ? atomic_load(&req->hc->shut) : 0;
    if (shut)
        return (enum httpd_closed)shut;
    /* MHD may see the end of stream itself, on resume, before the handler takes the job. */
    if (req->client_gone || (req->job && req->job->client_gone))
        return CLOSED_CLIENT;
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return CLOSED_NOT;
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return CLOSED_TIMEOUT;
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return CLOSED_SHUTDOWN;
    case MHD_REQUEST_TERMINATED_READ_ERROR:
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return CLOSED_CLIENT;
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
    default:
        return CLOSED_ERROR;
    }
}

void httpd_completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    struct httpd_request *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    if (!req->status) {
        /* MHD answered by itself (its own error page): log the status it sent, not 0. */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
        if (ci)
            req->status = ci->http_status;
    }
    int64_t now = httpd_now_us();
    httpd_conn_phase(req->hc, CONN_IDLE, now);
    finish_at(req, closed_of(req, toe), now);
}

void httpd_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe)
{
    struct httpd *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = httpd_conn_open(srv, conn);
        return;
    }
    struct httpd_conn *hc = *socket_context;
    *socket_context = NULL;
    /* MHD ended this request without its completion callback (it does so when its own parser
     * gives up half-way): it is finished here, once its connection is gone, so nothing leaks and
     * the gauge drops. */
    struct httpd_request *req = hc ? hc->req : NULL;
    if (req) {
        hc->req = NULL;
        req->hc = NULL;
    }
    enum httpd_closed why = httpd_conn_close(srv, hc);
    if (req)
        httpd_request_finish(req, why);
}
