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

/* "12.345": milliseconds with three decimals, from microseconds. */
static void put_ms(papi_buf *b, int64_t us)
{
    if (us < 0)
        us = 0;
    httpd_put_u64(b, (uint64_t)us / 1000);
    char frac[4] = {'.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10),
                    (char)('0' + us % 10)};
    papi_buf_append(b, frac, 4);
}

void httpd_access_log(const struct httpd_request *req, const char *path, size_t path_len)
{
    static const char *const cache_names[] = {"\"HIT\"", "\"MISS\"", "\"STALE\""};
    int64_t us = httpd_now_us() - req->start_us;
    papi_buf b;
    papi_buf_init(&b);
    if (!papi_buf_reserve(&b, 512))
        return;
    /* Paths are cut so one line stays below PIPE_BUF; a path never carries secrets (no query). */
    if (path_len > 512)
        path_len = 512;
    papi_buf_puts(&b, "{\"ts\":\"");
    httpd_put_iso_now(&b);
    papi_buf_puts(&b, "\",\"method\":");
    papi_json_string(&b, req->method, strlen(req->method));
    papi_buf_puts(&b, ",\"path\":");
    papi_json_string(&b, path, path_len);
    papi_buf_puts(&b, ",\"status\":");
    httpd_put_u64(&b, req->status);
    papi_buf_puts(&b, ",\"ms\":");
    put_ms(&b, us);
    papi_buf_puts(&b, ",\"cache\":");
    papi_buf_puts(&b, req->cache >= 0 && req->cache <= 2 ? cache_names[req->cache] : "null");
    papi_buf_puts(&b, ",\"request_id\":");
    papi_json_string(&b, req->request_id, strlen(req->request_id));
    /* The truth about a request that did not end with its answer sent: "status" is what was
     * queued (0: nothing), "closed" why the connection ended first. */
    const char *closed = httpd_closed_name(req->closed);
    if (closed) {
        papi_buf_puts(&b, ",\"closed\":\"");
        papi_buf_puts(&b, closed);
        papi_buf_putc(&b, '"');
    }
    papi_buf_puts(&b, "}\n");
    if (!b.oom)
        httpd_alog_append(b.data, b.len);
    papi_buf_free(&b);
}
