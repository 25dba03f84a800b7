/* Every answer papi-httpd sends, and what a failed lookup may tell its client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

enum MHD_Result httpd_send_cached(struct MHD_Connection *conn, struct httpd_request *req,
                                  unsigned status, const char *type, struct MHD_Response *resp,
                                  const char *cache_control)
{
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_DATE, httpd_http_date(NULL));
    if (!type || type[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type ? type : HTTPD_JSON_TYPE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    httpd_cors_headers(req->srv, req, resp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    /* While draining, tell keep-alive clients to reconnect (to another replica). */
    if (atomic_load_explicit(&req->srv->draining, memory_order_relaxed))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    /* The log and the metrics report what MHD took to send, never what was only attempted. */
    if (r == MHD_YES)
        req->status = status;
    return r;
}

enum MHD_Result httpd_send(struct MHD_Connection *conn, struct httpd_request *req, unsigned status,
                           const char *type, struct MHD_Response *resp)
{
    return httpd_send_cached(conn, req, status, type, resp, "no-store");
}

static struct MHD_Response *copy_body(const char *body, size_t len)
{
    return MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
}

enum MHD_Result httpd_send_json(struct MHD_Connection *conn, struct httpd_request *req,
                                unsigned status, const char *body)
{
    return httpd_send(conn, req, status, NULL, copy_body(body, strlen(body)));
}

static void json_member(papi_buf *b, const char *name, const char *value)
{
    if (!value || !value[0])
        return;
    papi_buf_puts(b, ", \"");
    papi_buf_puts(b, name);
    papi_buf_puts(b, "\": ");
    httpd_json_inert(b, value, strlen(value));
}

/* {"error": message, "code": code[, "source_code": ..., "query_id": ...]} */
static enum MHD_Result send_error_detail(struct MHD_Connection *conn, struct httpd_request *req,
                                         unsigned status, const char *message, const char *code,
                                         int retry_after_s, const papi_error *detail)
{
    papi_buf b;
    papi_buf_init(&b);
    papi_buf_puts(&b, "{\"error\": ");
    httpd_json_inert(&b, message, strlen(message));
    json_member(&b, "code", code);
    if (detail) {
        json_member(&b, "source_code", detail->source_code);
        json_member(&b, "query_id", detail->query_id);
    }
    papi_buf_puts(&b, "}");
    if (b.oom) {
        papi_buf_free(&b);
        return MHD_NO;
    }
    size_t len = 0;
    char *body = papi_buf_steal(&b, &len);
    struct MHD_Response *resp =
        body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp)
        free(body);
    if (resp && req->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->allow);
    if (resp && status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"papi\"");
    if (resp && retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    return httpd_send(conn, req, status, NULL, resp);
}

enum MHD_Result httpd_send_error(struct MHD_Connection *conn, struct httpd_request *req,
                                 unsigned status, const char *message, const char *code,
                                 int retry_after_s)
{
    return send_error_detail(conn, req, status, message, code, retry_after_s, NULL);
}

enum MHD_Result httpd_send_not_allowed(struct MHD_Connection *conn, struct httpd_request *req,
                                       unsigned methods)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {HTTPD_GET, "GET"}, {HTTPD_HEAD, "HEAD"}, {HTTPD_POST, "POST"}, {HTTPD_OPTIONS, "OPTIONS"}};
    char allow[64] = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (methods & names[i].bit) {
            if (allow[0])
                strcat(allow, ", ");
            strcat(allow, names[i].name);
        }
    req->allow = allow;
    enum MHD_Result r = send_error_detail(conn, req, 405, "method not allowed", "EMETHOD", 0, NULL);
    req->allow = NULL;
    return r;
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

/* Whether a status's message may reach the client. Input errors quote only what the client
 * sent, so theirs is safe and useful; every other message may carry the source's own text
 * (names of objects, accounts, hosts), which only the server's log may show. */
static int message_is_the_clients(papi_status st)
{
    return st == PAPI_EINVAL || st == PAPI_ENODATASET;
}

void httpd_log_source_error(const char *request_id, const char *what, papi_status st,
                            const papi_error *err)
{
    /* One line (httpd_log_line escapes control bytes), joined to the access log by the id. */
    httpd_log_line(
        "warn", "request %s: %s: %s: %s (source code %s, SQL state %s, query id %s)", request_id,
        what, papi_status_name(st), err->message[0] ? err->message : papi_strerror(st),
        err->source_code[0] ? err->source_code : "-", err->sql_state[0] ? err->sql_state : "-",
        err->query_id[0] ? err->query_id : "-");
}

enum MHD_Result httpd_send_papi_error(struct MHD_Connection *conn, struct httpd_request *req,
                                      papi_status st, const papi_error *err)
{
    unsigned status = http_status_of(st);
    int retry = 0;
    if (status == 503)
        retry = err->retry_after_s > 0 ? err->retry_after_s : 1;
    if (message_is_the_clients(st))
        return send_error_detail(conn, req, status,
                                 err->message[0] ? err->message : papi_strerror(st),
                                 papi_status_name(st), retry, NULL);
    httpd_log_source_error(req->request_id, "lookup", st, err);
    return send_error_detail(conn, req, status, papi_strerror(st), papi_status_name(st), retry,
                             err);
}

enum MHD_Result httpd_send_unready(struct MHD_Connection *conn, struct httpd_request *req,
                                   papi_status st, const papi_error *err)
{
    return send_error_detail(conn, req, 503, papi_strerror(st), papi_status_name(st), 5, err);
}

static void free_result_cb(void *cls)
{
    papi_result_free(cls);
}

enum MHD_Result httpd_send_result(struct httpd *srv, struct MHD_Connection *conn,
                                  struct httpd_request *req, papi_result *res)
{
    papi_cache_outcome oc = papi_result_outcome(res);
    static const char *const names[] = {"HIT", "MISS", "STALE"};
    int idx = (oc == PAPI_OUTCOME_HIT) ? 0 : (oc == PAPI_OUTCOME_STALE) ? 2 : 1;
    req->cache = idx;
    httpd_count(srv, COUNT_XCACHE_HIT + idx);
    enum MHD_Result r;
    if (oc == PAPI_OUTCOME_HIT && httpd_hot_send(srv, conn, req, res, &r)) {
        papi_result_free(res);
        return r;
    }
    size_t len = 0;
    const char *body = papi_result_json(res, &len);
    char etag[HTTPD_ETAG_BYTES];
    httpd_etag(body, len, etag);
    unsigned status = 200;
    if (req->hdr.if_none_match && httpd_if_none_match(req->hdr.if_none_match, etag) == INM_MATCH) {
        if (httpd_method_bit(req->method) == HTTPD_POST) {
            papi_result_free(res);
            return httpd_send_error(conn, req, 412,
                                    "the answer has not changed: If-None-Match holds its ETag",
                                    "EPRECONDITION", 0);
        }
        /* Made over the 200's bytes all the same: MHD never sends a body with a 304, and so
         * says the 200's Content-Length, as RFC 9110 8.6 allows, where an empty response would
         * make it say 0, which that section forbids (a cache could take it for the stored
         * answer's length). The other headers are the 200's (RFC 9110 15.4.5). */
        status = MHD_HTTP_NOT_MODIFIED;
    }
    /* The answer's bytes stay in the result until MHD has sent them: no copy. */
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
        len, (void *)body, free_result_cb, res);
    if (!resp) {
        papi_result_free(res);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, "X-Cache", names[idx]);
    return httpd_send_cached(conn, req, status, status == 200 ? NULL : "", resp,
                             srv->lookup_cache_control);
}
