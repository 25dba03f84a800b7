/* Kept answers: the cache hits an event-loop thread sends again and again, each held as one
 * libmicrohttpd response that is queued as it is, with only its X-Request-Id rewritten.
 *
 * Why: MHD 0.9.75 allocates a response per answer, and each header is a calloc, two strdups and a
 * list insert; for a cache hit that was more than papi-httpd's whole margin to nginx
 * (docs/PERFORMANCE.md). A response cannot take a header at send time, but MHD copies a
 * response's headers into the connection's own buffer when the handler that queued it returns,
 * before its thread runs any other handler, and MHD_get_response_header() hands back the stored
 * value. So a kept response whose request-id value is rewritten in place before each queueing
 * sends every answer its own id (and its own second in the Date header, which papi-httpd writes
 * itself). Only the thread that keeps a response ever queues it, and the test suite checks that
 * every answer of a kept response carries its request's id (tests/integration/httpd/test_hot.py).
 *
 * Only answers of one row are kept. A slot is found by where that row lives in the library's
 * cache (one address while the entry lives), which costs less than hashing the bytes, but it is
 * reused only when every byte matches: an entry refreshed or updated, or memory reused for
 * another row, is never served from an old response. A slot is filled the second time its row is
 * seen, so traffic spread over many rows pays a comparison, not a response built and thrown away
 * per request. */
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

#define HOT_SLOTS 256        /* per event-loop thread: a power of two */
#define HOT_MAX_BODY 8192    /* answers larger than this are built per request */
#define HOT_ID_BYTES 16      /* papi-httpd's own ids; a client's of another length: built */
#define HOT_ID_PLACEHOLDER "0000000000000000"

struct hot_slot {
    uintptr_t seen;            /* the row last seen here without a kept response for it */
    size_t len;                /* the kept answer's length: "[", the row, "]" */
    char etag[HTTPD_ETAG_BYTES]; /* and its ETag */
    struct MHD_Response *resp; /* the kept response (our reference), or NULL */
    const char *body;          /* resp's bytes, freed by MHD with resp */
    char *id;                  /* resp's X-Request-Id value, rewritten before each queueing */
    char *date;                /* resp's Date value, rewritten when the second has changed */
    time_t date_sec;           /* the second it names */
};

struct httpd_hot {
    struct httpd_hot *next; /* srv->hot, every thread's table, for the stop */
    struct hot_slot slot[HOT_SLOTS];
};

/* One server runs per process (httpd_main); the table is this thread's for that server. */
static _Thread_local struct httpd_hot *my_hot;
static _Thread_local const struct httpd *my_hot_srv;

static struct httpd_hot *table(struct httpd *srv)
{
    if (my_hot && my_hot_srv == srv)
        return my_hot;
    struct httpd_hot *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_lock(&srv->hot_lock);
    t->next = srv->hot;
    srv->hot = t;
    pthread_mutex_unlock(&srv->hot_lock);
    my_hot = t;
    my_hot_srv = srv;
    return t;
}

static void slot_clear(struct hot_slot *s)
{
    if (s->resp)
        MHD_destroy_response(s->resp); /* freed once no connection still sends it */
    s->resp = NULL;
    s->body = NULL;
    s->id = NULL;
    s->date = NULL;
}

/* A response with the headers httpd_send_result() and httpd_send_cached() give a 200 cache hit
 * without CORS, in their order, so that the bytes on the wire are the same either way. */
static int slot_fill(struct httpd *srv, const struct httpd_request *req, struct hot_slot *s,
                     const char *row, size_t row_len)
{
    size_t len = row_len + 2;
    char *copy = malloc(len);
    if (!copy)
        return 0;
    copy[0] = '[';
    memcpy(copy + 1, row, row_len);
    copy[len - 1] = ']';
    char etag[HTTPD_ETAG_BYTES];
    httpd_etag(copy, len, etag);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(len, copy, free);
    if (!r) {
        free(copy);
        return 0;
    }
    char *id = NULL, *date = NULL;
    time_t now;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_DATE, httpd_http_date(&now)) == MHD_YES &&
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag) == MHD_YES &&
        MHD_add_response_header(r, "X-Cache", "HIT") == MHD_YES &&
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, HTTPD_JSON_TYPE) == MHD_YES &&
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, srv->lookup_cache_control) ==
            MHD_YES) {
        httpd_cors_headers(srv, req, r); /* no Origin here: only what every answer carries */
        if (MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") == MHD_YES &&
            MHD_add_response_header(r, "X-Request-Id", HOT_ID_PLACEHOLDER) == MHD_YES)
            id = (char *)MHD_get_response_header(r, "X-Request-Id");
        date = (char *)MHD_get_response_header(r, MHD_HTTP_HEADER_DATE);
    }
    if (!id || strlen(id) != HOT_ID_BYTES || !date || strlen(date) != HTTPD_HTTP_DATE_LEN) {
        MHD_destroy_response(r);
        return 0;
    }
    slot_clear(s);
    s->resp = r;
    s->body = copy;
    s->id = id;
    s->date = date;
    s->date_sec = now;
    s->len = len;
    memcpy(s->etag, etag, sizeof etag);
    return 1;
}

/* The low bits of an address say little (alignment): a multiplicative hash's top bits. */
static size_t slot_of(const char *row)
{
    uint64_t a = (uint64_t)(uintptr_t)row * 0x9E3779B97F4A7C15ull;
    return (size_t)(a >> 56) & (HOT_SLOTS - 1);
}

int httpd_hot_send(struct httpd *srv, struct MHD_Connection *conn, struct httpd_request *req,
                   const papi_result *res, enum MHD_Result *r)
{
    if (papi_result_count(res) != 1 || req->origin ||
        strlen(req->request_id) != HOT_ID_BYTES ||
        atomic_load_explicit(&srv->draining, memory_order_relaxed))
        return 0;
    size_t rlen = 0;
    const char *row = papi_result_row_json(res, 0, &rlen);
    if (!row || rlen > HOT_MAX_BODY - 2)
        return 0;
    struct httpd_hot *t = table(srv);
    if (!t)
        return 0;
    struct hot_slot *s = &t->slot[slot_of(row)];
    int kept = s->resp && s->len == rlen + 2 && memcmp(s->body + 1, row, rlen) == 0;
    if (!kept) {
        if (s->seen != (uintptr_t)row) {
            s->seen = (uintptr_t)row;
            return 0;
        }
        if (!slot_fill(srv, req, s, row, rlen))
            return 0;
    }
    /* A conditional request whose tag matches is a 304, which the caller builds. */
    if (req->hdr.if_none_match && httpd_if_none_match(req->hdr.if_none_match, s->etag) != INM_NONE)
        return 0;
    memcpy(s->id, req->request_id, HOT_ID_BYTES);
    time_t now;
    const char *date = httpd_http_date(&now);
    if (now != s->date_sec) {
        memcpy(s->date, date, HTTPD_HTTP_DATE_LEN);
        s->date_sec = now;
    }
    *r = MHD_queue_response(conn, MHD_HTTP_OK, s->resp);
    if (*r == MHD_YES)
        req->status = MHD_HTTP_OK;
    return 1;
}

void httpd_hot_free(struct httpd *srv)
{
    pthread_mutex_lock(&srv->hot_lock);
    struct httpd_hot *t = srv->hot;
    srv->hot = NULL;
    pthread_mutex_unlock(&srv->hot_lock);
    while (t) {
        struct httpd_hot *next = t->next;
        for (size_t i = 0; i < HOT_SLOTS; i++)
            slot_clear(&t->slot[i]);
        free(t);
        t = next;
    }
}
