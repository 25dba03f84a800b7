/* Request handling: the path's segments, the checks of a request head, the route table and its
 * routes, and the handler MHD calls for each step of a request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"

static const char html_type[] = "text/html; charset=utf-8";
static const char metrics_type[] = "text/plain; version=0.0.4; charset=utf-8";
/* The baseline policy the SPCS ingress puts on every answer: the test page is served under it
 * here too, so the browser test proves the page works behind the ingress. */
static const char spcs_csp[] = "default-src 'self' 'unsafe-inline' 'unsafe-eval' blob: data:; "
                               "object-src 'none'; connect-src 'self'; frame-ancestors 'self';";

/* ------------------------------------------------------------------ the path */

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

long httpd_percent_decode(const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '%') {
            out[o++] = in[i];
            continue;
        }
        if (i + 2 >= n)
            return -1;
        int hi = hexval((unsigned char)in[i + 1]),
            lo = hi < 0 ? -1 : hexval((unsigned char)in[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return -1;
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return (long)o;
}

/* The common segment, ASCII without escapes, copied in one pass: its length, or -1 for the
 * others, which take the decoding and the UTF-8 check. */
static long ascii_segment(const char *seg, size_t n, char *out)
{
    unsigned char any = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)seg[i];
        if (c == '%')
            return -1;
        any |= c;
        out[i] = (char)c;
    }
    if (any >= 0x80)
        return -1;
    out[n] = '\0';
    return (long)n;
}

static void split_path(const char *raw, size_t raw_len, struct httpd_path *p)
{
    p->n = 0;
    p->error = NULL;
    if (raw_len == 0 || raw[0] != '/')
        return; /* "*", an absolute URL: no route */
    size_t o = 0;
    for (size_t i = 1; i <= raw_len;) {
        const char *seg = raw + i;
        const char *slash = memchr(seg, '/', raw_len - i);
        size_t n = slash ? (size_t)(slash - seg) : raw_len - i;
        long d = ascii_segment(seg, n, p->buf + o);
        if (d < 0) {
            d = httpd_percent_decode(seg, n, p->buf + o);
            if (d < 0) {
                p->error = "invalid percent-encoding in the path";
                return;
            }
            if (!httpd_utf8_valid((const unsigned char *)p->buf + o, (size_t)d)) {
                p->error = "the path is not valid UTF-8";
                return;
            }
        }
        if (p->n < 2) {
            p->s[p->n] = p->buf + o;
            p->len[p->n] = (size_t)d;
        }
        p->n++;
        o += (size_t)d + 1;
        i += n + 1;
    }
}

static int segment_is(const struct httpd_path *p, size_t i, const char *name)
{
    return p->len[i] == strlen(name) && memcmp(p->s[i], name, p->len[i]) == 0;
}

/* ------------------------------------------------------------------ checks */

/* Compares in time that depends only on the configured key sizes, never on where bytes differ. */
static int api_key_ok(const struct httpd *srv, const struct httpd_request *req)
{
    const char *h = req->hdr.authorization;
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

/* Refuses, as soon as the head is in, what must not be read further. An answer queued now makes
 * MHD drop the body unread and close the connection after the answer: right for these. */
static enum MHD_Result check_head(struct MHD_Connection *conn, struct httpd_request *req,
                                  const char *url, const char *method, const char *version)
{
    size_t uri_len = req->raw_uri ? strlen(req->raw_uri) : 0;
    enum httpd_head_verdict v = httpd_head_check(conn, method, url, uri_len, version, &req->hdr);
    httpd_set_request_id(req, method); /* before any answer: it carries the client's id */
    switch (v) {
    case HEAD_OK:
        return MHD_YES;
    case HEAD_HIDDEN_BYTES:
        return httpd_send_error(conn, req, 400, "a NUL byte or a folded line in the request head",
                                "EBADREQUEST", 0);
    case HEAD_CONFLICTING_LENGTH:
        return httpd_send_error(
            conn, req, 400, "conflicting Content-Length, or Content-Length with Transfer-Encoding",
            "EBADREQUEST", 0);
    case HEAD_CHUNKED:
        return httpd_send_error(conn, req, 411, "a request body needs a Content-Length", "ELENGTH",
                                0);
    case HEAD_BODY_TOO_LARGE:
        return httpd_send_error(conn, req, 413, "request body larger than 65536 bytes", "ETOOLARGE",
                                0);
    }
    return MHD_NO;
}

/* ------------------------------------------------------------------ routes */

static enum MHD_Result send_ready(struct MHD_Connection *conn, struct httpd_request *req,
                                  papi_status st, const papi_error *err)
{
    if (st == PAPI_OK)
        return httpd_send_json(conn, req, 200, "{\"status\": \"ready\"}");
    return httpd_send_unready(conn, req, st, err);
}

static enum MHD_Result route_root(struct httpd *srv, struct MHD_Connection *conn,
                                  struct httpd_request *req, const struct httpd_path *p)
{
    (void)srv;
    (void)p;
    return httpd_send_json(conn, req, 200, "{\"result\":\"Nothing to see here\"}");
}

static enum MHD_Result route_healthz(struct httpd *srv, struct MHD_Connection *conn,
                                     struct httpd_request *req, const struct httpd_path *p)
{
    (void)srv;
    (void)p;
    return httpd_send_json(conn, req, 200, "{\"status\": \"ok\"}");
}

static enum MHD_Result route_readyz(struct httpd *srv, struct MHD_Connection *conn,
                                    struct httpd_request *req, const struct httpd_path *p)
{
    (void)p;
    if (atomic_load(&srv->draining))
        return httpd_send_error(conn, req, 503, "shutting down", "DRAINING", 1);
    char msg[128];
    if (httpd_replica_too_old(srv, msg, sizeof msg))
        return httpd_send_error(conn, req, 503, msg, "ESTALE", 5);
    papi_status st;
    papi_error err;
    if (httpd_ready_cached(srv, &st, &err))
        return send_ready(conn, req, st, &err);
    return httpd_job_submit(srv, conn, req, httpd_job_new(req, conn, JOB_READY, NULL, 0));
}

static enum MHD_Result route_test(struct httpd *srv, struct MHD_Connection *conn,
                                  struct httpd_request *req, const struct httpd_path *p)
{
    (void)srv;
    (void)p;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        httpd_page_html_len, (void *)httpd_page_html, MHD_RESPMEM_PERSISTENT);
    if (resp)
        MHD_add_response_header(resp, "Content-Security-Policy", spcs_csp);
    return httpd_send(conn, req, 200, html_type, resp);
}

static enum MHD_Result route_metrics(struct httpd *srv, struct MHD_Connection *conn,
                                     struct httpd_request *req, const struct httpd_path *p)
{
    (void)p;
    size_t len = 0;
    char *text = httpd_metrics_render(srv, &len);
    if (!text)
        return httpd_send_error(conn, req, 503, "out of memory", "ENOMEM", 1);
    return httpd_send(conn, req, 200, metrics_type,
                      MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE));
}

static enum MHD_Result route_openapi(struct httpd *srv, struct MHD_Connection *conn,
                                     struct httpd_request *req, const struct httpd_path *p)
{
    (void)p;
    return httpd_send(
        conn, req, 200, NULL,
        MHD_create_response_from_buffer(srv->openapi_len, srv->openapi, MHD_RESPMEM_PERSISTENT));
}

/* The routes. Probes and the page are open: orchestrators need no key, the page holds no data,
 * and a browser cannot attach a bearer key to a navigation. The API's description is not: it
 * names the datasets and their columns. The last two rows are every dataset's. */
#define GET_HEAD (HTTPD_GET | HTTPD_HEAD)
static const struct httpd_route route_table[] = {
    {"", 0, "/", GET_HEAD, 0, route_root, NULL},
    {"healthz", 0, "/healthz", GET_HEAD, 1, route_healthz, NULL},
    {"readyz", 0, "/readyz", GET_HEAD, 1, route_readyz, NULL},
    {"test", 0, "/test", GET_HEAD, 1, route_test, NULL},
    {"metrics", 0, "/metrics", GET_HEAD, 0, route_metrics, NULL},
    {"openapi.json", 0, "/openapi.json", GET_HEAD | HTTPD_OPTIONS, 0, route_openapi, NULL},
    {NULL, 2, "/:ids", GET_HEAD | HTTPD_OPTIONS, 0, httpd_route_lookup, NULL},
    {NULL, 1, "", HTTPD_POST | HTTPD_OPTIONS, 0, httpd_route_batch, httpd_batch_body},
};
#define NROUTES (sizeof route_table / sizeof route_table[0])
#define NFIXED (NROUTES - 2)
_Static_assert(NFIXED <= HTTPD_FIXED_ROUTES, "HTTPD_FIXED_ROUTES is too small");
static const struct httpd_route *const ids_route = &route_table[NROUTES - 2];
static const struct httpd_route *const batch_route = &route_table[NROUTES - 1];

/* The metrics index of the path's route and the route (NULL when none). */
static int route_of(const struct httpd *srv, const struct httpd_path *p,
                    const struct httpd_route **rt)
{
    *rt = NULL;
    if (p->n == 1)
        for (size_t i = 0; i < NFIXED; i++)
            if (segment_is(p, 0, route_table[i].segment)) {
                *rt = &route_table[i];
                return 2 + (int)i;
            }
    if (p->n == 1 || p->n == 2)
        for (size_t i = 0; i < srv->ndatasets; i++)
            if (segment_is(p, 0, srv->datasets[i])) {
                *rt = p->n == 2 ? ids_route : batch_route;
                return (p->n == 2 ? ROUTE_DATASET0 : ROUTE_BATCH0) + (int)i;
            }
    return ROUTE_NOTFOUND;
}

void httpd_routes_init(struct httpd *srv)
{
    static char dataset_labels[2][HTTPD_MAX_DATASETS][160];
    srv->route_label[ROUTE_NONE] = "none";
    srv->route_label[ROUTE_NOTFOUND] = "notfound";
    for (size_t i = 0; i < NFIXED; i++)
        srv->route_label[2 + i] = route_table[i].label;
    /* dataset names are checked identifiers: nothing to escape */
    for (size_t i = 0; i < srv->ndatasets; i++) {
        snprintf(dataset_labels[0][i], sizeof dataset_labels[0][i], "/%s%s", srv->datasets[i],
                 ids_route->label);
        snprintf(dataset_labels[1][i], sizeof dataset_labels[1][i], "/%s%s", srv->datasets[i],
                 batch_route->label);
        srv->route_label[ROUTE_DATASET0 + i] = dataset_labels[0][i];
        srv->route_label[ROUTE_BATCH0 + i] = dataset_labels[1][i];
    }
}

unsigned httpd_method_bit(const char *m)
{
    static const struct {
        const char *name;
        unsigned bit;
    } methods[] = {
        {"GET", HTTPD_GET}, {"HEAD", HTTPD_HEAD}, {"POST", HTTPD_POST}, {"OPTIONS", HTTPD_OPTIONS}};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(m, methods[i].name) == 0)
            return methods[i].bit;
    return 0;
}

/* ------------------------------------------------------------------ the handler's steps */

/* The handler's second call for a request a worker finished. */
static enum MHD_Result finish_job(struct httpd *srv, struct MHD_Connection *conn,
                                  struct httpd_request *req)
{
    struct httpd_job *job = req->job;
    req->job = NULL;
    enum MHD_Result r;
    if (job->client_gone) {
        req->client_gone = 1;
        r = MHD_NO; /* nobody to answer: close */
    } else if (job->kind == JOB_READY) {
        r = send_ready(conn, req, job->st, &job->err);
    } else if (job->st != PAPI_OK) {
        r = httpd_send_papi_error(conn, req, job->st, &job->err);
    } else {
        papi_result *res = job->res;
        job->res = NULL;
        r = httpd_send_result(srv, conn, req, res);
    }
    httpd_job_free(job);
    return r;
}

static const struct httpd_route *body_route(struct httpd *srv, struct httpd_request *req);

/* A client that waits for 100 Continue before sending a POST body over the route's cap: MHD
 * would invite the body only for it to be dropped. Refused at once instead (RFC 9110 10.1.1);
 * nothing was sent yet, so closing the connection after the answer costs the client nothing. */
static int expects_too_much(struct httpd *srv, struct httpd_request *req)
{
    const char *expect = req->hdr.expect;
    const char *length = req->hdr.content_length;
    if (!expect || strcasecmp(expect, "100-continue") != 0 || !length ||
        strtoull(length, NULL, 10) <= srv->post_max_bytes)
        return 0;
    return body_route(srv, req) != NULL;
}

/* The head is in. Answer once the request is complete: MHD closes a connection whose answer
 * was queued before the request ended, and keep-alive is what makes cache hits cheap. */
static enum MHD_Result head_in(struct MHD_Connection *conn, struct httpd_request *req,
                               const char *url, const char *method, const char *version)
{
    req->headers_done = 1;
    enum MHD_Result r = check_head(conn, req, url, method, version);
    if (!req->status && r == MHD_YES && expects_too_much(req->srv, req))
        r = httpd_send_post_too_large(req->srv, conn, req);
    if (req->status || r == MHD_NO)
        httpd_conn_phase(req->hc, CONN_SERVING, req->start_us);
    return r;
}

/* The route that takes this request's body, once it may: NULL for the rest, whose bodies (of a
 * known, bounded length) are read and dropped. */
static const struct httpd_route *body_route(struct httpd *srv, struct httpd_request *req)
{
    if (!req->raw_uri)
        return NULL;
    struct httpd_path path;
    const struct httpd_route *rt = NULL;
    split_path(req->raw_uri, httpd_path_len(req->raw_uri), &path);
    if (!path.error)
        route_of(srv, &path, &rt);
    if (!rt || !rt->body || httpd_method_bit(req->method) != HTTPD_POST ||
        !(rt->methods & HTTPD_POST))
        return NULL;
    return srv->napi_keys == 0 || rt->open || api_key_ok(srv, req) ? rt : NULL;
}

static enum MHD_Result body_in(struct httpd *srv, struct httpd_request *req, const char *data,
                               size_t *size)
{
    size_t n = *size;
    *size = 0;
    if (req->body_bytes == 0)
        req->body_route = body_route(srv, req);
    req->body_bytes += n;
    /* check_head() refused a longer body; MHD never hands more than announced. */
    if (req->body_bytes > HTTPD_MAX_BODY_BYTES)
        return MHD_NO;
    return req->body_route ? req->body_route->body(req, data, n) : MHD_YES;
}

/* With CORS on, the Origin of a cross-origin request decides its CORS headers: -1 when it
 * is malformed (answered 400). With CORS off it is not read: no answer depends on it. */
static int take_origin(struct httpd *srv, struct httpd_request *req)
{
    if (!srv->cors.any && srv->cors.n == 0)
        return 0;
    const char *o = req->hdr.origin;
    switch (httpd_cors_check(&srv->cors, o)) {
    case ORIGIN_MALFORMED:
        return -1;
    case ORIGIN_ALLOWED:
        req->origin = o;
        return 0;
    case ORIGIN_ABSENT:
    case ORIGIN_REFUSED:
        return 0;
    }
    return 0;
}

/* The whole request is in: check it, route it, answer it (or hand it to a worker). */
static enum MHD_Result answer(struct httpd *srv, struct MHD_Connection *conn,
                              struct httpd_request *req, const char *method)
{
    httpd_conn_phase(req->hc, CONN_SERVING, req->start_us);
    if (!req->raw_uri)
        return httpd_send_error(conn, req, 503, "out of memory", "ENOMEM", 1);
    const char *raw = req->raw_uri;
    if (strlen(raw) > HTTPD_MAX_URL_BYTES)
        return httpd_send_error(conn, req, MHD_HTTP_URI_TOO_LONG, "URL longer than 8192 bytes",
                                "EURITOOLONG", 0);
    if (take_origin(srv, req) != 0)
        return httpd_send_error(
            conn, req, 400, "malformed Origin header: expected scheme://host[:port]", "EORIGIN", 0);
    struct httpd_path path;
    const struct httpd_route *rt = NULL;
    split_path(raw, httpd_path_len(raw), &path);
    int route = path.error ? ROUTE_NONE : route_of(srv, &path, &rt);
    unsigned mbit = httpd_method_bit(method);
    /* A preflight carries no credentials (Fetch), so OPTIONS never needs the key. */
    if (srv->napi_keys > 0 && !(rt && rt->open) && mbit != HTTPD_OPTIONS &&
        !api_key_ok(srv, req)) {
        httpd_count(srv, COUNT_UNAUTHORIZED);
        return httpd_send_error(conn, req, MHD_HTTP_UNAUTHORIZED, "missing or invalid API key",
                                "EUNAUTHORIZED", 0);
    }
    if (path.error)
        return httpd_send_error(conn, req, 400, path.error, "EINVAL", 0);
    req->route = route;
    if (!rt)
        return httpd_send_error(conn, req, 404, "Not found!", NULL, 0);
    if (!(rt->methods & mbit))
        return httpd_send_not_allowed(conn, req, rt->methods);
    if (mbit == HTTPD_OPTIONS)
        return httpd_send_options(srv, conn, req, rt->methods);
    return rt->handler(srv, conn, req, &path);
}

enum MHD_Result httpd_handler(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct httpd *srv = cls;
    struct httpd_request *req = *con_cls;
    if (!req)
        return MHD_NO; /* the URI callback ran out of memory */
    if (req->status) {
        *upload_data_size = 0; /* answered already: swallow what the client still sends */
        return MHD_YES;
    }
    if (!req->headers_done)
        return head_in(conn, req, url, method, version);
    if (*upload_data_size > 0)
        return body_in(srv, req, upload_data, upload_data_size);
    if (req->abandoned)
        return httpd_send_error(conn, req, 503, "shutting down", "DRAINING", 1);
    if (req->job)
        return finish_job(srv, conn, req);
    return answer(srv, conn, req, method);
}
