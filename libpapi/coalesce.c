/* Concurrent misses of one id cost one source fetch: the first thread to miss leads the fetch,
 * later ones wait on its flight and take a copy of its outcome. Flights live in a sharded table
 * only while the fetch runs; a flight is freed when its leader and last follower let go. */
#include "core.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NSHARDS 32

struct papi__flight {
    papi__flight *next; /* in its shard while in flight */
    size_t refs;        /* leader + followers; guarded by the shard lock */
    bool done;
    papi_status status;
    papi_error err;
    papi_blob *row;
    size_t key_len;
    char key[];
};

typedef struct cshard {
    pthread_mutex_t lock;
    pthread_cond_t done; /* broadcast when any flight of the shard finishes */
    papi__flight *flights;
} cshard;

struct papi__coalescer {
    const papi_host *clock;
    cshard shards[NSHARDS];
};

static size_t shard_index(const char *key, size_t len)
{
    uint64_t h = papi_hash64(PAPI_HASH64_SEED, key, len);
    return (size_t)(h ^ (h >> 32)) % NSHARDS;
}

papi__coalescer *papi__coalesce_create(const papi_host *clock)
{
    papi__coalescer *co = calloc(1, sizeof *co);
    if (!co)
        return NULL;
    co->clock = clock;
    size_t i = 0;
    for (; i < NSHARDS; i++) {
        if (pthread_mutex_init(&co->shards[i].lock, NULL) != 0)
            break;
        if (papi__cond_init_monotonic(&co->shards[i].done) != 0) {
            pthread_mutex_destroy(&co->shards[i].lock);
            break;
        }
    }
    if (i < NSHARDS) {
        while (i-- > 0) {
            pthread_cond_destroy(&co->shards[i].done);
            pthread_mutex_destroy(&co->shards[i].lock);
        }
        free(co);
        return NULL;
    }
    return co;
}

void papi__coalesce_destroy(papi__coalescer *co)
{
    if (!co)
        return;
    for (size_t i = 0; i < NSHARDS; i++) {
        pthread_cond_destroy(&co->shards[i].done);
        pthread_mutex_destroy(&co->shards[i].lock);
    }
    free(co);
}

static void release(papi__flight *f)
{
    papi_blob_unref(f->row);
    free(f);
}

bool papi__coalesce_join(papi__coalescer *co, const char *key, size_t len, papi__flight **out)
{
    cshard *s = &co->shards[shard_index(key, len)];
    pthread_mutex_lock(&s->lock);
    for (papi__flight *f = s->flights; f; f = f->next) {
        if (f->key_len == len && memcmp(f->key, key, len) == 0) {
            f->refs++;
            pthread_mutex_unlock(&s->lock);
            *out = f;
            return false;
        }
    }
    papi__flight *f = calloc(1, sizeof *f + len);
    if (f) {
        f->refs = 1;
        f->key_len = len;
        memcpy(f->key, key, len);
        f->next = s->flights;
        s->flights = f;
    }
    pthread_mutex_unlock(&s->lock);
    *out = f;
    return true;
}

void papi__coalesce_finish(papi__coalescer *co, papi__flight *f, papi_blob *row, papi_status status,
                           const papi_error *err)
{
    if (!f)
        return;
    cshard *s = &co->shards[shard_index(f->key, f->key_len)];
    pthread_mutex_lock(&s->lock);
    for (papi__flight **pp = &s->flights; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    f->done = true;
    f->status = status;
    if (status == PAPI_OK)
        f->row = papi_blob_ref(row);
    else if (err)
        f->err = *err;
    else
        papi_error_set(&f->err, status, "the source fetch failed");
    bool last = --f->refs == 0;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
    if (last)
        release(f);
}

bool papi__coalesce_abandon(papi__coalescer *co, papi__flight *f)
{
    cshard *s = &co->shards[shard_index(f->key, f->key_len)];
    pthread_mutex_lock(&s->lock);
    bool alone = f->refs == 1;
    if (alone)
        for (papi__flight **pp = &s->flights; *pp; pp = &(*pp)->next)
            if (*pp == f) {
                *pp = f->next;
                break;
            }
    pthread_mutex_unlock(&s->lock);
    if (alone)
        release(f);
    return alone;
}

papi_status papi__coalesce_wait(papi__coalescer *co, papi__flight *f, int64_t deadline_ms,
                                papi_blob **row, papi_error *err)
{
    cshard *s = &co->shards[shard_index(f->key, f->key_len)];
    papi_status st;
    *row = NULL;
    pthread_mutex_lock(&s->lock);
    while (!f->done &&
           papi__cond_wait_until_ms(&s->done, &s->lock, co->clock, deadline_ms) != ETIMEDOUT)
        ;
    if (!f->done) {
        st = papi_error_set(err, PAPI_ETIMEDOUT,
                            "timed out waiting for another request's fetch of the same id");
    } else {
        st = f->status;
        if (st == PAPI_OK)
            *row = papi_blob_ref(f->row);
        else if (err)
            *err = f->err;
    }
    bool last = --f->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (last)
        release(f);
    return st;
}
