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

/* RFC 9110 5.6.7's IMF-fixdate, made once a second per thread. libmicrohttpd's own Date header
 * cost a gmtime_r() and its formatting per answer, a twentieth of a cache hit's instructions
 * (docs/PERFORMANCE.md); the names are spelled here, never taken from the locale. */
static _Thread_local struct {
    time_t sec;
    char text[HTTPD_HTTP_DATE_BYTES];
} http_date_cache = {.sec = -1};

static void two_digits(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

const char *httpd_http_date(time_t *sec)
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    time_t now = time(NULL);
    if (now != http_date_cache.sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        char *t = http_date_cache.text;
        unsigned year = (unsigned)(tm.tm_year + 1900) % 10000;
        memcpy(t, days + 3 * tm.tm_wday, 3);
        memcpy(t + 3, ", ", 2);
        two_digits(t + 5, (unsigned)tm.tm_mday);
        t[7] = ' ';
        memcpy(t + 8, months + 3 * tm.tm_mon, 3);
        t[11] = ' ';
        two_digits(t + 12, year / 100);
        two_digits(t + 14, year % 100);
        t[16] = ' ';
        two_digits(t + 17, (unsigned)tm.tm_hour);
        t[19] = ':';
        two_digits(t + 20, (unsigned)tm.tm_min);
        t[22] = ':';
        two_digits(t + 23, (unsigned)tm.tm_sec);
        memcpy(t + 25, " GMT", 5);
        http_date_cache.sec = now;
    }
    if (sec)
        *sec = now;
    return http_date_cache.text;
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
