/* The miss dispatcher of one source (DESIGN.md). A warehouse runs a fixed number of statements
 * at once and a statement for 100 ids costs about what one for 1 id does, so misses must share
 * statements once the source is busy:
 *   - at most `concurrency` fetches are in flight; a request that finds a slot free sends at
 *     once (an idle source adds no wait);
 *   - otherwise its ids queue (FIFO, with every other request's) and its thread sleeps; the thread
 *     whose fetch ends hands its slot to a sleeping requester whose ids are queued, which sends
 *     the queue's head, up to `max_batch` ids of one dataset, in one fetch.
 * No thread of our own: the requests' threads send (caller-runs), and each request returns as
 * soon as its own ids are published. Ids arrive here already coalesced (coalesce.c), so an id is
 * queued or in flight once at most. A request whose deadline passes takes its ids out of the
 * queue unless another request follows them; those stay queued, fetched for the followers.
 *
 * Memory: a request's ids live in its ticket, allocated per request that misses. A ticket
 * outlives its request when the request gave up while some of its ids were still queued for
 * followers or in a fetch: the thread answering the last of them frees it. All queue and ticket
 * state is guarded by the dispatcher's lock; the fetch itself runs without it.
 *
 * In a chain (chain.c), a source before the last hands the ids it lacked back to their request,
 * flights included, to ask the next source. When that request is gone, such ids become strays
 * (copied out of the ticket): the next thread leaving papi__dispatch_fetch carries them on. */
#include "core.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { I_QUEUED, I_SENDING, I_DONE, I_DROPPED };

typedef struct ticket ticket;

typedef struct item {
    struct item *prev, *next; /* the queue while QUEUED; next chains a batch while SENDING */
    ticket *t;
    papi_key ckey, id; /* bytes owned by the ticket */
    papi__flight *flight;
    papi_blob *row;
    papi_status status;
    int state;
    bool pass_on; /* DONE at a source before the last, which lacked it: flight still open */
    int64_t queued_us;
    int64_t deadline_ms;
} item;

/* An id passed on whose request is gone (see above). */
typedef struct stray {
    struct stray *next;
    const papi_dataset *ds;
    papi__want w;
    char key[]; /* w.ckey's bytes */
} stray;

struct ticket {
    pthread_cond_t cond; /* its thread sleeps here: answers, a handed slot, its deadline */
    const papi_dataset *ds;
    size_t n;
    size_t unanswered;  /* items QUEUED or SENDING */
    size_t queued;      /* items QUEUED */
    bool handed;        /* a slot was handed to its thread */
    bool sending;       /* its thread holds a slot now: hand it none until it is back */
    bool waited;        /* its thread slept or sent a batch: its ids' queue wait is measured */
    bool giving_up;     /* its deadline passed: hand it no slot */
    bool gone;          /* its request returned: the last answer frees the ticket */
    papi_status status; /* the first failure among its items */
    papi_error err;
    item items[];
};

struct papi__dispatcher {
    papi__dispatch_opts o;
    pthread_mutex_t lock;
    pthread_cond_t more; /* a lingering dispatch waits here for a full batch */
    uint32_t inflight;   /* slots taken: fetches running or about to be sent */
    bool lingering;
    item *head, *tail;
    stray *strays;              /* for the next thread leaving papi__dispatch_fetch */
    atomic_uint_fast64_t depth; /* written under the lock, read by papi_client_stats */
};

papi__dispatcher *papi__dispatch_create(const papi__dispatch_opts *opts)
{
    papi__dispatcher *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->o = *opts;
    if (d->o.max_batch == 0)
        d->o.max_batch = 1;
    if (pthread_mutex_init(&d->lock, NULL) != 0) {
        free(d);
        return NULL;
    }
    if (papi__cond_init_monotonic(&d->more) != 0) {
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    atomic_init(&d->depth, 0);
    return d;
}

void papi__dispatch_destroy(papi__dispatcher *d)
{
    if (!d)
        return;
    assert(!d->strays); /* every papi__dispatch_fetch has returned, carrying them on */
    pthread_cond_destroy(&d->more);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

uint64_t papi__dispatch_depth(const papi__dispatcher *d)
{
    return d ? atomic_load_explicit(&d->depth, memory_order_relaxed) : 0;
}

static void depth_add(papi__dispatcher *d, size_t n, bool up)
{
    uint64_t v = atomic_load_explicit(&d->depth, memory_order_relaxed);
    atomic_store_explicit(&d->depth, up ? v + n : v - n, memory_order_relaxed);
}

/* ------------------------------------------------------------- out of memory, scratch */

/* Fails ids that never reached a fetch (out of memory): their flights still need finishing. */
static void publish_failure(papi__dispatcher *d, const papi_dataset *ds, papi_key ckey,
                            papi__flight *flight, papi_status st, const papi_error *err)
{
    papi_blob *none = NULL;
    d->o.publish(d->o.publish_ctx, ds, &ckey, &flight, &none, 1, st, err);
}

/* Out of memory before a request's ids could be queued or sent: each fails, flights finished. */
static papi_status fail_wants(papi__dispatcher *d, const papi_dataset *ds, papi__want *w, size_t n,
                              papi_error *err)
{
    papi_error ferr;
    papi_error_set(&ferr, PAPI_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        publish_failure(d, ds, w[i].ckey, w[i].flight, PAPI_ENOMEM, &ferr);
        w[i].flight = NULL;
        w[i].row = NULL;
        w[i].status = PAPI_ENOMEM;
        w[i].pass_on = false;
    }
    return papi_error_set(err, PAPI_ENOMEM, "out of memory");
}

/* Scratch arrays of one fetch: ckeys, ids, flights, rows. */
typedef struct batch_arrays {
    papi_key *ckeys, *ids;
    papi__flight **flights;
    papi_blob **rows;
} batch_arrays;

static bool arrays_alloc(batch_arrays *a, size_t n)
{
    char *p = malloc(n * (2 * sizeof(papi_key) + sizeof(papi__flight *) + sizeof(papi_blob *)));
    a->ckeys = (papi_key *)(void *)p;
    a->ids = a->ckeys + n;
    a->flights = (papi__flight **)(void *)(a->ids + n);
    a->rows = (papi_blob **)(void *)(a->flights + n);
    return p != NULL;
}

static void arrays_free(batch_arrays *a)
{
    free(a->ckeys);
}

/* ------------------------------------------------------------- source-concurrency 0 */

/* No queue: the request sends its own ids at once, max_batch at a time. */
static papi_status fetch_direct(papi__dispatcher *d, const papi_dataset *ds, papi__want *w,
                                size_t n, int64_t deadline_ms, papi_error *err)
{
    size_t chunk = n < d->o.max_batch ? n : d->o.max_batch;
    batch_arrays a;
    papi_status first = PAPI_OK;
    papi_error ferr;
    papi__wait_hist h = {{0}, 0};
    if (!arrays_alloc(&a, chunk))
        return fail_wants(d, ds, w, n, err);
    for (size_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        for (size_t i = 0; i < k; i++) {
            papi__want *x = &w[off + i];
            a.ckeys[i] = x->ckey;
            a.ids[i] = (papi_key){x->ckey.ptr + x->id_off, x->ckey.len - x->id_off};
            a.flights[i] = x->flight;
            papi__wait_hist_add(&h, 0);
        }
        papi_status st = papi__fetch_publish(&d->o, ds, a.ckeys, a.ids, a.flights, a.rows, k,
                                             deadline_ms, false, &ferr);
        for (size_t i = 0; i < k; i++) {
            papi__want *x = &w[off + i];
            x->row = a.rows[i];
            x->status = st;
            x->pass_on = !d->o.last && st == PAPI_OK && !x->row;
            if (!x->pass_on)
                x->flight = NULL; /* finished by the publish */
        }
        if (st != PAPI_OK && first == PAPI_OK) {
            first = st;
            if (err)
                *err = ferr;
        }
    }
    papi__wait_hist_count(d->o.client, &h);
    arrays_free(&a);
    return first;
}

/* ------------------------------------------------------------- the queue */

static ticket *ticket_new(const papi_dataset *ds, const papi__want *w, size_t n,
                          int64_t deadline_ms)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += w[i].ckey.len;
    ticket *t = malloc(sizeof *t + n * sizeof(item) + bytes);
    if (!t)
        return NULL;
    if (papi__cond_init_monotonic(&t->cond) != 0) {
        free(t);
        return NULL;
    }
    t->ds = ds;
    t->n = n;
    t->unanswered = t->queued = n;
    t->handed = t->sending = t->waited = t->giving_up = t->gone = false;
    t->status = PAPI_OK;
    papi_error_set(&t->err, PAPI_OK, NULL);
    char *kb = (char *)(t->items + n);
    int64_t now = papi__now_us();
    for (size_t i = 0; i < n; i++) {
        memcpy(kb, w[i].ckey.ptr, w[i].ckey.len);
        t->items[i] = (item){.t = t,
                             .ckey = {kb, w[i].ckey.len},
                             .id = {kb + w[i].id_off, w[i].ckey.len - w[i].id_off},
                             .flight = w[i].flight,
                             .status = PAPI_OK,
                             .state = I_QUEUED,
                             .queued_us = now,
                             .deadline_ms = deadline_ms};
        kb += w[i].ckey.len;
    }
    return t;
}

static void ticket_free(ticket *t)
{
    pthread_cond_destroy(&t->cond);
    free(t);
}

static void enqueue(papi__dispatcher *d, item *it)
{
    it->next = NULL;
    it->prev = d->tail;
    if (d->tail)
        d->tail->next = it;
    else
        d->head = it;
    d->tail = it;
}

static void unqueue(papi__dispatcher *d, item *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        d->head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        d->tail = it->prev;
    it->prev = it->next = NULL;
}

/* The sleeping request whose queued id comes first, to hand a slot to. *covered: some queued id
 * belongs to a request that holds or was handed a slot, and will send the head. */
static ticket *next_owner(const papi__dispatcher *d, bool *covered)
{
    *covered = false;
    for (const item *it = d->head; it; it = it->next) {
        ticket *t = it->t;
        if (t->gone || t->giving_up)
            continue;
        if (!t->handed && !t->sending)
            return t;
        *covered = true;
    }
    return NULL;
}

/* Free slots go to sleeping requesters while ids wait (after a batch left ids behind). */
static void kick(papi__dispatcher *d)
{
    while (d->head && !d->lingering && d->inflight < d->o.concurrency) {
        bool covered;
        ticket *t = next_owner(d, &covered);
        if (!t)
            return;
        t->handed = true;
        d->inflight++;
        pthread_cond_signal(&t->cond);
    }
}

/* The caller's fetch is over: its slot goes to a sleeping requester whose ids are queued, or is
 * freed. True when the caller must keep it and send the next batch itself: only ids whose
 * requesters gave up (kept for their followers) are queued, and nobody else would send them. */
static bool release_slot(papi__dispatcher *d)
{
    bool covered = false;
    ticket *t = d->head ? next_owner(d, &covered) : NULL;
    if (t) {
        t->handed = true;
        pthread_cond_signal(&t->cond);
        return false;
    }
    if (d->head && !covered)
        return true;
    d->inflight--;
    return false;
}

/* Takes the head's batch out of the queue: up to max_batch ids of the head's dataset, oldest
 * first, chained through item.next. Counts their queue waits. */
static size_t take_batch(papi__dispatcher *d, const ticket *sender, bool lingered, item **out)
{
    item *it = d->head, *last = NULL;
    *out = NULL;
    if (!it)
        return 0;
    const papi_dataset *ds = it->t->ds;
    int64_t now = papi__now_us();
    papi__wait_hist h = {{0}, 0};
    size_t k = 0;
    while (it && k < d->o.max_batch) {
        item *nx = it->next;
        if (it->t->ds == ds) {
            unqueue(d, it);
            it->t->queued--;
            it->state = I_SENDING;
            /* sent at once by the thread that queued it: it did not wait for a slot. Bucket 0
             * holds exactly those: an id that waited counts 1 us at least */
            bool at_once = it->t == sender && !sender->waited && !lingered;
            int64_t waited = now - it->queued_us;
            papi__wait_hist_add(&h, at_once ? 0 : waited > 1 ? waited : 1);
            if (last)
                last->next = it;
            else
                *out = it;
            last = it;
            k++;
        }
        it = nx;
    }
    depth_add(d, k, false);
    papi__wait_hist_count(d->o.client, &h);
    return k;
}

/* Runs the fetch of a batch taken from the queue, without the lock; results go into the items
 * (still SENDING: nobody else touches them until they are marked DONE). */
static void run_batch(papi__dispatcher *d, item *batch, size_t k, bool at_limit, papi_error *ferr)
{
    const papi_dataset *ds = batch->t->ds;
    batch_arrays a;
    if (!arrays_alloc(&a, k)) {
        papi_error_set(ferr, PAPI_ENOMEM, "out of memory");
        for (item *it = batch; it; it = it->next) {
            publish_failure(d, ds, it->ckey, it->flight, PAPI_ENOMEM, ferr);
            it->flight = NULL;
            it->row = NULL;
            it->status = PAPI_ENOMEM;
        }
        return;
    }
    int64_t deadline_ms = 0;
    size_t i = 0;
    for (item *it = batch; it; it = it->next, i++) {
        a.ckeys[i] = it->ckey;
        a.ids[i] = it->id;
        a.flights[i] = it->flight;
        if (it->deadline_ms > deadline_ms)
            deadline_ms = it->deadline_ms;
    }
    papi_status st = papi__fetch_publish(&d->o, ds, a.ckeys, a.ids, a.flights, a.rows, k,
                                         deadline_ms, at_limit, ferr);
    i = 0;
    for (item *it = batch; it; it = it->next, i++) {
        it->row = a.rows[i];
        it->status = st;
        it->pass_on = !d->o.last && st == PAPI_OK && !it->row;
        if (!it->pass_on)
            it->flight = NULL; /* finished by the publish */
    }
    arrays_free(&a);
}

/* An id a source before the last lacked, its request gone: kept for the next thread that
 * leaves papi__dispatch_fetch, which asks the rest of the chain (its followers still wait). With
 * no memory for it, its followers are failed. Lock held. */
static void stray_keep(papi__dispatcher *d, item *it)
{
    if (!it->flight)
        return; /* nobody can follow an id without a flight */
    stray *s = malloc(sizeof *s + it->ckey.len);
    if (!s) {
        papi_error err;
        papi_error_set(&err, PAPI_ENOMEM, "out of memory");
        publish_failure(d, it->t->ds, it->ckey, it->flight, PAPI_ENOMEM, &err);
        it->flight = NULL;
        return;
    }
    memcpy(s->key, it->ckey.ptr, it->ckey.len);
    size_t id_off = (size_t)(it->id.ptr - it->ckey.ptr);
    s->ds = it->t->ds;
    s->w = (papi__want){.ckey = {s->key, it->ckey.len}, .id_off = id_off, .flight = it->flight};
    it->flight = NULL;
    s->next = d->strays;
    d->strays = s;
}

/* Carries the strays taken from the dispatcher on through the rest of the chain, those of one
 * dataset together (a batch holds one). No lock held. */
static void strays_pass_on(papi__dispatcher *d, stray *list)
{
    while (list) {
        const papi_dataset *ds = list->ds;
        stray *mine = NULL, **link = &list;
        size_t n = 0;
        for (stray *s = list, *nx; s; s = nx) {
            nx = s->next;
            if (s->ds == ds) {
                *link = nx;
                s->next = mine;
                mine = s;
                n++;
            } else {
                link = &s->next;
            }
        }
        papi__want *w = malloc(n * sizeof *w);
        if (w) {
            size_t k = 0;
            for (stray *s = mine; s; s = s->next)
                w[k++] = s->w;
            d->o.pass_on(d->o.publish_ctx, d->o.position + 1, ds, w, n);
            free(w);
        } else { /* no memory for the batch: one at a time */
            for (stray *s = mine; s; s = s->next)
                d->o.pass_on(d->o.publish_ctx, d->o.position + 1, ds, &s->w, 1);
        }
        while (mine) {
            stray *nx = mine->next;
            free(mine);
            mine = nx;
        }
    }
}

/* Marks a batch's items answered and wakes their requesters; a ticket whose request is gone is
 * freed with its last answer. Lock held. */
static void answer(papi__dispatcher *d, item *batch, const papi_error *ferr)
{
    for (item *it = batch, *nx; it; it = nx) {
        nx = it->next; /* read first: the ticket holding it may be freed below */
        ticket *t = it->t;
        it->next = NULL;
        it->state = I_DONE;
        if (it->status != PAPI_OK && t->status == PAPI_OK) {
            t->status = it->status;
            t->err = *ferr;
        }
        t->unanswered--;
        if (t->gone) {
            papi_blob_unref(it->row);
            it->row = NULL;
            if (it->pass_on)
                stray_keep(d, it);
            if (t->unanswered == 0)
                ticket_free(t);
        } else if (t->unanswered == 0) {
            pthread_cond_signal(&t->cond);
        }
    }
}

/* The caller holds a slot: it sends the queue's head batch (after lingering for more ids when
 * asked to), then passes the slot on. Lock held on entry and exit; true while the caller still
 * holds a slot (see release_slot). */
static bool send_next(papi__dispatcher *d, ticket *sender)
{
    sender->sending = true;
    bool lingered = false;
    if (d->o.linger_us > 0 && !d->lingering && d->head &&
        papi__dispatch_depth(d) < d->o.max_batch) {
        d->lingering = true;
        int64_t until = papi__now_us() + d->o.linger_us;
        while (papi__dispatch_depth(d) < d->o.max_batch &&
               papi__cond_wait_until_us(&d->more, &d->lock, until) != ETIMEDOUT)
            ;
        d->lingering = false;
        lingered = true;
    }
    bool at_limit = d->inflight >= d->o.concurrency;
    item *batch;
    size_t k = take_batch(d, sender, lingered, &batch);
    sender->waited = true; /* its ids sent later waited for this fetch */
    kick(d);
    if (k) {
        pthread_mutex_unlock(&d->lock);
        papi_error ferr;
        run_batch(d, batch, k, at_limit, &ferr);
        pthread_mutex_lock(&d->lock);
        answer(d, batch, &ferr);
    }
    sender->sending = false;
    return release_slot(d);
}

/* The request's deadline passed: its queued ids leave the queue, unless a follower still waits
 * on one (that one stays, fetched for the follower with a fresh budget). Lock held. */
static void give_up(papi__dispatcher *d, ticket *t, papi__coalescer *co)
{
    t->giving_up = true;
    int64_t budget = papi__client_now_ms(d->o.client) + d->o.timeout_ms;
    size_t queued = 0, sending = 0;
    for (size_t i = 0; i < t->n; i++) {
        item *it = &t->items[i];
        if (it->state == I_SENDING)
            sending++;
        if (it->state != I_QUEUED)
            continue;
        if (!it->flight || papi__coalesce_abandon(co, it->flight)) {
            unqueue(d, it);
            depth_add(d, 1, false);
            it->flight = NULL;
            it->state = I_DROPPED;
            t->unanswered--;
            t->queued--;
            queued++;
        } else {
            it->deadline_ms = budget;
        }
    }
    if (t->status == PAPI_OK) {
        t->status = PAPI_ETIMEDOUT;
        if (queued || !sending)
            papi_error_set(&t->err, PAPI_ETIMEDOUT,
                           "timed out waiting for a free source slot (%zu fetches in flight)",
                           (size_t)d->inflight);
        else
            papi_error_set(&t->err, PAPI_ETIMEDOUT, "timed out waiting for the source");
    }
}

/* Hands the request its outcomes; the ticket is the request's no more. Lock held. */
static papi_status collect(ticket *t, papi__want *w, papi_error *err)
{
    for (size_t i = 0; i < t->n; i++) {
        item *it = &t->items[i];
        if (it->state == I_DONE) {
            w[i].row = it->row;
            w[i].status = it->status;
            w[i].pass_on = it->pass_on;
            w[i].flight = it->flight; /* the caller's again when passed on, else NULL */
            it->row = NULL;
            it->flight = NULL;
        } else {
            w[i].row = NULL;
            w[i].status = PAPI_ETIMEDOUT;
            w[i].pass_on = false;
            w[i].flight = NULL;
        }
    }
    t->gone = true;
    if (t->status != PAPI_OK && err)
        *err = t->err;
    return t->status;
}

papi_status papi__dispatch_fetch(papi__dispatcher *d, const papi_dataset *ds, papi__want *w,
                                 size_t n, int64_t deadline_ms, papi_error *err)
{
    if (n == 0)
        return PAPI_OK;
    if (d->o.concurrency == 0)
        return fetch_direct(d, ds, w, n, deadline_ms, err);
    ticket *t = ticket_new(ds, w, n, deadline_ms);
    if (!t)
        return fail_wants(d, ds, w, n, err);
    papi__coalescer *co = d->o.client->coalescer;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < n; i++)
        enqueue(d, &t->items[i]);
    depth_add(d, n, true);
    bool slot = false, timed_out = false;
    if (d->lingering) {
        if (papi__dispatch_depth(d) >= d->o.max_batch)
            pthread_cond_signal(&d->more);
    } else if (d->inflight < d->o.concurrency) {
        d->inflight++;
        slot = true;
    }
    for (;;) {
        if (t->handed) {
            t->handed = false;
            slot = true;
        }
        /* a slot is for sending our own queued ids (and those before them): with none left
         * queued, or past our deadline, it goes on to a requester that still waits, and we
         * return as soon as our ids are answered. True: only ids kept for followers of requests
         * that gave up are queued, and we send them ourselves */
        if (slot && (timed_out || t->queued == 0))
            slot = release_slot(d);
        if (slot) {
            slot = send_next(d, t);
            continue;
        }
        if (t->unanswered == 0 || timed_out)
            break;
        if (papi__client_now_ms(d->o.client) >= deadline_ms) {
            give_up(d, t, co);
            timed_out = true;
            continue;
        }
        t->waited = true;
        papi__cond_wait_until_ms(&t->cond, &d->lock, &d->o.client->host, deadline_ms);
    }
    papi_status st = collect(t, w, err);
    bool last = t->unanswered == 0;
    stray *strays = d->strays;
    d->strays = NULL;
    pthread_mutex_unlock(&d->lock);
    if (last)
        ticket_free(t);
    if (strays)
        strays_pass_on(d, strays);
    return st;
}
