/* JSON text helpers and the access log: one JSON line per finished request on stdout. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"

void sb_put(struct httpd_sb *sb, const char *s, size_t n)
{
    if (sb->oom)
        return;
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 256;
        while (cap < sb->len + n + 1)
            cap *= 2;
        /* A builder may start on a caller's stack buffer; it moves to the heap when it outgrows it. */
        char *p = sb->on_heap ? realloc(sb->p, cap) : malloc(cap);
        if (!p) {
            sb->oom = 1;
            return;
        }
        if (!sb->on_heap && sb->len)
            memcpy(p, sb->p, sb->len);
        sb->p = p;
        sb->on_heap = 1;
        sb->cap = cap;
    }
    memcpy(sb->p + sb->len, s, n);
    sb->len += n;
    sb->p[sb->len] = '\0';
}

void sb_free(struct httpd_sb *sb)
{
    if (sb->on_heap)
        free(sb->p);
    sb->p = NULL;
    sb->len = sb->cap = 0;
    sb->on_heap = 0;
}

void sb_puts(struct httpd_sb *sb, const char *s)
{
    sb_put(sb, s, strlen(s));
}

void sb_printf(struct httpd_sb *sb, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        sb_put(sb, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        sb->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_put(sb, big, (size_t)n);
    free(big);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0;
        if (c == 0xED && s[1] >= 0xA0)
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0;
        if (c == 0xF4 && s[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

int httpd_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(s + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

void sb_json_str(struct httpd_sb *sb, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        unsigned c = u[i];
        size_t k = utf8_seq(u + i, n - i);
        const char *esc = NULL;
        char tmp[8];
        if (k == 0) {
            esc = "\xEF\xBF\xBD"; /* never copy a byte that is not UTF-8 */
        } else if (c == '"') {
            esc = "\\\"";
        } else if (c == '\\') {
            esc = "\\\\";
        } else if (c < 0x20 || c == 0x7F) {
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            esc = tmp;
        } else if (c == '<' || c == '>') {
            /* keeps a JSON answer inert if a browser ever renders it as markup */
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            esc = tmp;
        }
        if (!esc) {
            i += k;
            run += k;
            continue;
        }
        sb_put(sb, s + i - run, run);
        run = 0;
        sb_puts(sb, esc);
        i += k ? k : 1;
    }
    sb_put(sb, s + i - run, run);
}

static void iso_now(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void write_all(int fd, const char *p, size_t left)
{
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w <= 0)
            return;
        p += w;
        left -= (size_t)w;
    }
}

/* One write() per line, so concurrent lines never interleave on a pipe (< PIPE_BUF bytes). */
static void write_line(int fd, struct httpd_sb *sb)
{
    if (sb->oom || !sb->p)
        return;
    write_all(fd, sb->p, sb->len);
}

/* The access log is written by its own thread in batches: a write() per request would cost the
 * event loop a system call per cache hit. Lines are whole in each batch, and batches are
 * written one at a time, so lines never interleave. */
#define LOG_FLUSH_MS 10
#define LOG_BATCH_MAX (1024 * 1024)

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    char *buf, *spare;
    size_t len;
    int running, stop;
} alog = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *alog_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&alog.lock);
    for (;;) {
        while (!alog.len && !alog.stop)
            pthread_cond_wait(&alog.cond, &alog.lock);
        if (!alog.len)
            break; /* stopping, all written */
        char *batch = alog.buf;
        size_t n = alog.len;
        alog.buf = alog.spare;
        alog.spare = NULL;
        alog.len = 0;
        pthread_mutex_unlock(&alog.lock);
        write_all(STDOUT_FILENO, batch, n);
        /* wait out the flush interval so the next batch gathers lines */
        struct timespec t = {0, LOG_FLUSH_MS * 1000000L};
        nanosleep(&t, NULL);
        pthread_mutex_lock(&alog.lock);
        alog.spare = batch;
    }
    pthread_mutex_unlock(&alog.lock);
    return NULL;
}

int httpd_access_log_start(void)
{
    alog.buf = malloc(LOG_BATCH_MAX);
    alog.spare = malloc(LOG_BATCH_MAX);
    if (!alog.buf || !alog.spare || pthread_create(&alog.thread, NULL, alog_main, NULL) != 0) {
        free(alog.buf);
        free(alog.spare);
        alog.buf = alog.spare = NULL;
        return -1;
    }
    alog.running = 1;
    return 0;
}

void httpd_access_log_stop(void)
{
    if (!alog.running)
        return;
    pthread_mutex_lock(&alog.lock);
    alog.stop = 1;
    pthread_cond_signal(&alog.cond);
    pthread_mutex_unlock(&alog.lock);
    pthread_join(alog.thread, NULL);
    alog.running = 0;
    free(alog.buf);
    free(alog.spare);
    alog.buf = alog.spare = NULL;
}

static void alog_append(struct httpd_sb *sb)
{
    if (sb->oom || !sb->p)
        return;
    pthread_mutex_lock(&alog.lock);
    /* Not started, or the writer is behind by a whole batch (stdout blocked): write directly
     * rather than grow without bound. */
    if (!alog.running || !alog.buf || alog.len + sb->len > LOG_BATCH_MAX) {
        pthread_mutex_unlock(&alog.lock);
        write_line(STDOUT_FILENO, sb);
        return;
    }
    if (alog.len == 0)
        pthread_cond_signal(&alog.cond); /* one wake-up per batch, not per line */
    memcpy(alog.buf + alog.len, sb->p, sb->len);
    alog.len += sb->len;
    pthread_mutex_unlock(&alog.lock);
}

void httpd_access_log(const struct httpd_request *req, const char *path, size_t path_len)
{
    static const char *const cache_names[] = {"HIT", "MISS", "STALE"};
    char ts[40];
    char stack[1024];
    struct httpd_sb sb = {.p = stack, .cap = sizeof stack};
    iso_now(ts, sizeof ts);
    int64_t us = httpd_now_us() - req->start_us;
    /* Paths are cut so one line stays below PIPE_BUF; a path never carries secrets (no query). */
    if (path_len > 512)
        path_len = 512;
    sb_printf(&sb, "{\"ts\":\"%s\",\"method\":\"", ts);
    sb_json_str(&sb, req->method, strlen(req->method));
    sb_puts(&sb, "\",\"path\":\"");
    sb_json_str(&sb, path, path_len);
    sb_printf(&sb, "\",\"status\":%u,\"ms\":%.3f,\"cache\":", req->status, (double)us / 1000.0);
    if (req->cache >= 0 && req->cache <= 2)
        sb_printf(&sb, "\"%s\"", cache_names[req->cache]);
    else
        sb_puts(&sb, "null");
    sb_puts(&sb, ",\"request_id\":\"");
    sb_json_str(&sb, req->request_id, strlen(req->request_id));
    /* The truth about a request that did not end with its answer sent: "status" is what was
     * queued (0: nothing), "closed" why the connection ended first. */
    const char *closed = httpd_closed_name(req->closed);
    if (closed)
        sb_printf(&sb, "\",\"closed\":\"%s", closed);
    sb_puts(&sb, "\"}\n");
    alog_append(&sb);
    sb_free(&sb);
}

void httpd_log_line(const char *level, const char *fmt, ...)
{
    char msg[1024], ts[40];
    struct httpd_sb sb = {0};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    iso_now(ts, sizeof ts);
    sb_printf(&sb, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level);
    sb_json_str(&sb, msg, strlen(msg));
    sb_puts(&sb, "\"}\n");
    write_line(STDERR_FILENO, &sb);
    sb_free(&sb);
}
