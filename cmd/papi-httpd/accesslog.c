/* The access log: one JSON line per finished request on stdout (alog.c writes them). */
#include <string.h>

#include "httpd.h"

const char *httpd_closed_name(enum httpd_closed c)
{
    switch (c) {
    case CLOSED_NOT:
        return NULL;
    case CLOSED_CLIENT:
        return "client";
    case CLOSED_TIMEOUT:
        return "timeout";
    case CLOSED_DEADLINE:
        return "deadline";
    case CLOSED_EVICTED:
        return "evicted";
    case CLOSED_ERROR:
        return "error";
    case CLOSED_SHUTDOWN:
        return "shutdown";
    }
    return "error";
}

/* A line is built on the stack: its parts are bounded (the path is cut at 512 bytes, the method
 * and request id are short), so even escaped in full it fits. */
#define PATH_MAX_BYTES 512
struct line {
    char buf[4096];
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (n > sizeof l->buf - l->len)
        n = sizeof l->buf - l->len; /* cannot happen with the bounds above */
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

#define PUT(l, lit) put((l), (lit), sizeof(lit) - 1)

/* A JSON string. Most strings need no escape and are copied as they are; the others go through
 * libpapi's escaping. */
static void put_string(struct line *l, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7F && s[i] != '"' &&
           s[i] != '\\')
        i++;
    if (i == n) {
        PUT(l, "\"");
        put(l, s, n);
        PUT(l, "\"");
        return;
    }
    papi_buf b;
    papi_buf_init(&b);
    papi_json_string(&b, s, n);
    if (b.oom)
        PUT(l, "null");
    else
        put(l, b.data, b.len);
    papi_buf_free(&b);
}

static void put_u64(struct line *l, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(l, tmp + i, sizeof tmp - i);
}

/* "12.345": milliseconds with three decimals, from microseconds. */
static void put_ms(struct line *l, int64_t us)
{
    if (us < 0)
        us = 0;
    put_u64(l, (uint64_t)us / 1000);
    char frac[4] = {'.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10),
                    (char)('0' + us % 10)};
    put(l, frac, 4);
}

void httpd_access_log(const struct httpd_request *req, const char *path, size_t path_len)
{
    static const char *const cache_names[] = {"\"HIT\"", "\"MISS\"", "\"STALE\""};
    int64_t us = httpd_now_us() - req->start_us;
    struct line l;
    l.len = 0;
    char ts[HTTPD_ISO_NOW_BYTES];
    /* Paths are cut so one line stays below PIPE_BUF; a path never carries secrets (no query). */
    if (path_len > PATH_MAX_BYTES)
        path_len = PATH_MAX_BYTES;
    PUT(&l, "{\"ts\":\"");
    put(&l, ts, httpd_iso_now(ts));
    PUT(&l, "\",\"method\":");
    put_string(&l, req->method, strlen(req->method));
    PUT(&l, ",\"path\":");
    put_string(&l, path, path_len);
    PUT(&l, ",\"status\":");
    put_u64(&l, req->status);
    PUT(&l, ",\"ms\":");
    put_ms(&l, us);
    PUT(&l, ",\"cache\":");
    const char *cache = req->cache >= 0 && req->cache <= 2 ? cache_names[req->cache] : "null";
    put(&l, cache, strlen(cache));
    PUT(&l, ",\"request_id\":");
    put_string(&l, req->request_id, strlen(req->request_id));
    /* The truth about a request that did not end with its answer sent: "status" is what was
     * queued (0: nothing), "closed" why the connection ended first. */
    const char *closed = httpd_closed_name(req->closed);
    if (closed) {
        PUT(&l, ",\"closed\":\"");
        put(&l, closed, strlen(closed));
        PUT(&l, "\"");
    }
    PUT(&l, "}\n");
    httpd_alog_append(l.buf, l.len);
}
