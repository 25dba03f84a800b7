/* The bounded handle pool every pooled backend shares (SQLite connections, libcurl handles,
 * Redis connections): one place where "at most N in use, wait until a deadline for one" is
 * written. Handles are opened outside the lock, so a slow connect never blocks a release. */
#include "internal.h"

#include <stdlib.h>

struct papi_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed; /* a handle came back or a slot was given up */
    papi_pool_open_fn open;
    papi_pool_close_fn close;
    void *user;
    const papi_host *host;
    size_t max;
    size_t count; /* handles open or being opened */
    size_t nidle;
    void **idle; /* LIFO: the most recently used handle serves next */
};

papi_status papi_pool_create(size_t max, papi_pool_open_fn open, papi_pool_close_fn close,
                             void *user, const papi_host *host, papi_pool **out)
{
    if (!out)
        return PAPI_EINVAL;
    *out = NULL;
    if (max == 0 || !open || !close)
        return PAPI_EINVAL;
    papi_pool *p = calloc(1, sizeof *p);
    if (!p)
        return PAPI_ENOMEM;
    p->idle = calloc(max, sizeof *p->idle);
    if (!p->idle || pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p->idle);
        free(p);
        return PAPI_ENOMEM;
    }
    if (papi__cond_init_monotonic(&p->freed) != 0) {
        pthread_mutex_destroy(&p->lock);
        free(p->idle);
        free(p);
        return PAPI_ENOMEM;
    }
    p->open = open;
    p->close = close;
    p->user = user;
    p->host = host;
    p->max = max;
    *out = p;
    return PAPI_OK;
}

papi_status papi_pool_acquire(papi_pool *p, int64_t deadline_ms, void **handle, papi_error *err)
{
    if (!handle)
        return papi_error_set(err, PAPI_EINVAL, "pool and handle are required");
    *handle = NULL;
    if (!p)
        return papi_error_set(err, PAPI_EINVAL, "pool and handle are required");
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (p->nidle) {
            *handle = p->idle[--p->nidle];
            pthread_mutex_unlock(&p->lock);
            return PAPI_OK;
        }
        if (p->count < p->max) {
            p->count++;
            pthread_mutex_unlock(&p->lock);
            void *h = NULL;
            papi_status st = p->open(p->user, deadline_ms, &h, err);
            if (st == PAPI_OK && h) {
                *handle = h;
                return PAPI_OK;
            }
            pthread_mutex_lock(&p->lock);
            p->count--;
            /* the slot is free again: another waiter may open it */
            pthread_cond_signal(&p->freed);
            pthread_mutex_unlock(&p->lock);
            if (st == PAPI_OK)
                st = papi_error_set(err, PAPI_EINTERNAL, "a pool's open function gave no handle");
            return st;
        }
        if (papi__cond_wait_until_ms(&p->freed, &p->lock, p->host, deadline_ms) != 0 && !p->nidle &&
            p->count >= p->max)
            break;
    }
    size_t max = p->max;
    pthread_mutex_unlock(&p->lock);
    return papi_error_set(err, PAPI_ETIMEDOUT,
                          "all %zu pooled connections stayed busy until the deadline", max);
}

void papi_pool_release(papi_pool *p, void *handle, int broken)
{
    if (!p || !handle)
        return;
    pthread_mutex_lock(&p->lock);
    if (!broken && p->nidle < p->max) {
        p->idle[p->nidle++] = handle;
        handle = NULL;
    } else {
        p->count--;
    }
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
    if (handle)
        p->close(p->user, handle);
}

void papi_pool_drain(papi_pool *p)
{
    if (!p)
        return;
    for (;;) { /* one at a time, each closed outside the lock */
        pthread_mutex_lock(&p->lock);
        void *h = p->nidle ? p->idle[--p->nidle] : NULL;
        if (h) {
            p->count--;
            pthread_cond_signal(&p->freed);
        }
        pthread_mutex_unlock(&p->lock);
        if (!h)
            return;
        p->close(p->user, h);
    }
}

void papi_pool_destroy(papi_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nidle; i++)
        p->close(p->user, p->idle[i]);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
    free(p->idle);
    free(p);
}
