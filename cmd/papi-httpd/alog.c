/* The access log's writer: lines are gathered in a batch and written by a thread of their own,
 * since a write() per request would cost the event loop a system call per cache hit. Lines are
 * whole in each batch and batches are written one at a time, so lines never interleave. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"

#define FLUSH_MS 10
#define BATCH_MAX (1024 * 1024)

static struct {
    pthread_mutex_t lock;
    /* Held across each write to stdout. A batch goes out in pieces when stdout is a pipe that
     * fills, and a line written straight to stdout meanwhile (append, below) would land between
     * two pieces, inside a line. Not the batch lock: appends go on while a batch is written. */
    pthread_mutex_t write_lock;
    pthread_cond_t cond;
    pthread_t thread;
    char *buf, *spare;
    size_t len;
    int running, stop;
} alog = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .write_lock = PTHREAD_MUTEX_INITIALIZER,
          .cond = PTHREAD_COND_INITIALIZER};

static void write_lines(const char *lines, size_t n)
{
    pthread_mutex_lock(&alog.write_lock);
    httpd_write_all(STDOUT_FILENO, lines, n);
    pthread_mutex_unlock(&alog.write_lock);
}

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
        write_lines(batch, n);
        /* wait out the flush interval so the next batch gathers lines */
        struct timespec t = {0, FLUSH_MS * 1000000L};
        nanosleep(&t, NULL);
        pthread_mutex_lock(&alog.lock);
        alog.spare = batch;
    }
    pthread_mutex_unlock(&alog.lock);
    return NULL;
}

int httpd_alog_start(void)
{
    alog.buf = malloc(BATCH_MAX);
    alog.spare = malloc(BATCH_MAX);
    if (!alog.buf || !alog.spare || pthread_create(&alog.thread, NULL, alog_main, NULL) != 0) {
        free(alog.buf);
        free(alog.spare);
        alog.buf = alog.spare = NULL;
        return -1;
    }
    alog.running = 1;
    return 0;
}

void httpd_alog_stop(void)
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

void httpd_alog_append(const char *lines, size_t n)
{
    pthread_mutex_lock(&alog.lock);
    /* Not started, or the writer is behind by a whole batch (stdout blocked): write directly
     * rather than grow without bound. */
    if (!alog.running || !alog.buf || alog.len + n > BATCH_MAX) {
        pthread_mutex_unlock(&alog.lock);
        write_lines(lines, n);
        return;
    }
    if (alog.len == 0)
        pthread_cond_signal(&alog.cond); /* one wake-up per batch, not per line */
    memcpy(alog.buf + alog.len, lines, n);
    alog.len += n;
    pthread_mutex_unlock(&alog.lock);
}
