/* The server's own log lines on stderr, one JSON object a line, and its clocks. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"

int64_t httpd_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The date and time to the second are formatted once a second per thread, not once a line. */
static _Thread_local struct {
    time_t sec;
    char text[24]; /* "2026-11-29T22:53:16" */
    size_t len;
} iso_cache = {.sec = -1};

size_t httpd_iso_now(char out[HTTPD_ISO_NOW_BYTES])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != iso_cache.sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        iso_cache.len = strftime(iso_cache.text, sizeof iso_cache.text, "%Y-%m-%dT%H:%M:%S", &tm);
        iso_cache.sec = ts.tv_sec;
    }
    unsigned ms = (unsigned)(ts.tv_nsec / 1000000L);
    memcpy(out, iso_cache.text, iso_cache.len);
    char *p = out + iso_cache.len;
    *p++ = '.';
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}

void httpd_write_all(int fd, const char *p, size_t left)
{
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w <= 0)
            return;
        p += w;
        left -= (size_t)w;
    }
}

void httpd_log_line(const char *level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    papi_buf b;
    papi_buf_init(&b);
    char ts[HTTPD_ISO_NOW_BYTES];
    papi_buf_puts(&b, "{\"ts\":\"");
    papi_buf_append(&b, ts, httpd_iso_now(ts));
    papi_buf_puts(&b, "\",\"level\":");
    papi_json_string(&b, level, strlen(level));
    papi_buf_puts(&b, ",\"msg\":");
    papi_json_string(&b, msg, strlen(msg));
    papi_buf_puts(&b, "}\n");
    /* One write() per line, so concurrent lines never interleave on a pipe (< PIPE_BUF bytes). */
    if (!b.oom)
        httpd_write_all(STDERR_FILENO, b.data, b.len);
    papi_buf_free(&b);
}
