/* The chain of sources (DESIGN.md): `sqlite:replica.db,snowflake` opens each transport with a
 * dispatcher of its own, and a miss asks the first source, then the next for the ids the first
 * lacked, and so on. A chain of one is the single source it always was.
 *
 * Why the ids travel this way: the caches and the coalescer sit in front of the whole chain, so a
 * flight (one fetch per id across requests) stays open from the first source to the one that
 * answers. A source before the last publishes only the rows it found; the ids it lacked keep
 * their flights and go on, and only the last source publishes an id as absent (the negative
 * entry). A request that gives up while its ids are queued at a source leaves them for their
 * followers (dispatch.c); if that source lacks them, the thread that leaves the dispatcher next
 * carries them on through the rest of the chain (papi__chain_pass_on). */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An earlier source's failures are counted every time and logged at most this often: its ids are
 * answered by the next source, and a broken replica would otherwise log a line per miss. */
#define FAIL_LOG_MS 60000

/* ------------------------------------------------------------- opening */

/* The source when none is set (papi.h, papi_config_get): the first built-in transport whose
 * detect() accepts the configuration, else the demo database. Written into buf. */
static papi_status default_source(const papi_client *c, char *buf, size_t cap, papi_error *err)
{
    const papi_transport_backend *t = papi__transport_detect(c->cfg);
    if (t) {
        papi_strlcpy(buf, t->name, cap);
        return PAPI_OK;
    }
    const char *off = NULL;
    if (!papi__transport_find("sqlite:", &off))
        return papi_error_set(err, PAPI_ECONFIG,
                              "source: not set, and the demo database needs the sqlite backend, "
                              "which is not built into this libpapi");
    if ((size_t)snprintf(buf, cap, "sqlite:%s", papi__demo_db_path()) >= cap)
        return papi_error_set(err, PAPI_ECONFIG, "source: the demo database path is too long");
    return PAPI_OK;
}

/* Opens b as the chain's next source. */
static papi_status open_source(papi_client *c, const papi_transport_backend *b, const char *spec,
                               void *user, papi_error *err)
{
    papi__source *s = &c->sources[c->nsources];
    if (!papi__transport_copy(b, &s->table))
        return papi_error_set(err, PAPI_EINTERNAL, "source: a built-in table was refused");
    papi_status st = s->table.open(spec, c->cfg, &c->host, user, &s->state, err);
    if (st != PAPI_OK)
        return st;
    s->transport = &s->table;
    atomic_init(&s->fail_log_ms, 0);
    c->nsources++;
    return PAPI_OK;
}

/* One spec of the "source" option (checked when set: options.c). */
static papi_status open_named(papi_client *c, const char *spec, papi_error *err)
{
    const char *off = NULL;
    const papi_transport_backend *b = papi__transport_find(spec, &off);
    if (!b && off)
        return papi_error_set(err, PAPI_ECONFIG,
                              "source: the %s backend is not built into this libpapi", off);
    if (!b)
        return papi_error_set(err, PAPI_ECONFIG, "source: unknown kind of source");
    return open_source(c, b, spec, NULL, err);
}

/* The attached transports, else the "source" option's list, else the default source. */
static papi_status open_sources(papi_client *c, papi_error *err)
{
    const papi__attached_transport *att;
    size_t natt = papi__config_transports(c->cfg, &att);
    papi_status st = PAPI_OK;
    for (size_t i = 0; i < natt && st == PAPI_OK; i++)
        st = open_source(c, &att[i].table, att[i].spec, att[i].user, err);
    if (natt)
        return st;
    const char *list = papi_config_get(c->cfg, "source");
    char spec[4096];
    if (!list || !*list) {
        st = default_source(c, spec, sizeof spec, err);
        return st == PAPI_OK ? open_named(c, spec, err) : st;
    }
    for (const char *p = list; p && st == PAPI_OK;) {
        size_t len = papi__list_item(&p, spec, sizeof spec);
        if (len == 0 || len >= sizeof spec || c->nsources >= PAPI__MAX_SOURCES)
            return papi_error_set(err, PAPI_ECONFIG, "source: bad list of sources");
        st = open_named(c, spec, err);
    }
    return st;
}

/* Source i's fetches in flight: the source-concurrency option sets the last source's (the
 * warehouse's, whose slots are the scarce ones); the others take their transport's default. */
static uint32_t source_concurrency(const papi_client *c, size_t i)
{
    int64_t set;
    if (i + 1 == c->nsources && papi_config_get_int(c->cfg, "source-concurrency", &set) == PAPI_OK)
        return (uint32_t)set;
    /* the copy reads 0 for a table from before the member existed: the cores */
    uint32_t n = c->sources[i].transport->default_concurrency;
    if (n == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (uint32_t)cores : 1;
    }
    return n > PAPI__MAX_SOURCE_CONCURRENCY ? PAPI__MAX_SOURCE_CONCURRENCY : n;
}

static papi__dispatch_opts dispatch_opts(papi_client *c, size_t i)
{
    bool last = i + 1 == c->nsources;
    return (papi__dispatch_opts){
        .client = c,
        .transport = c->sources[i].transport,
        .transport_state = c->sources[i].state,
        .position = i,
        .last = last,
        .concurrency = source_concurrency(c, i),
        .max_batch = (size_t)papi__config_num(c->cfg, "max-batch"),
        /* a local source answers in microseconds: holding its slot for more ids only adds to
         * every miss's latency */
        .linger_us = last ? papi__config_num(c->cfg, "batch-linger-us") : 0,
        .timeout_ms = c->timeout_ms,
        .publish = last ? papi__lookup_publish : papi__lookup_publish_found,
        .pass_on = papi__chain_pass_on,
        .publish_ctx = c,
    };
}

static void log_dispatcher(papi_client *c, size_t i, const papi__dispatch_opts *o)
{
    char who[96] = "";
    if (c->nsources > 1)
        snprintf(who, sizeof who, "source %zu (%s): ", i + 1, c->sources[i].transport->name);
    if (o->concurrency)
        papi__client_log(c, PAPI_LOG_INFO,
                         "%ssource-concurrency %u: misses queue while %u fetches are in flight, "
                         "then go %zu ids at most to a fetch",
                         who, (unsigned)o->concurrency, (unsigned)o->concurrency, o->max_batch);
    else
        papi__client_log(c, PAPI_LOG_INFO, "%ssource-concurrency 0: one fetch per request", who);
}

papi_status papi__chain_open(papi_client *c, papi_error *err)
{
    papi_status st = open_sources(c, err);
    for (size_t i = 0; st == PAPI_OK && i < c->nsources; i++) {
        papi__dispatch_opts o = dispatch_opts(c, i);
        if (!(c->sources[i].dispatcher = papi__dispatch_create(&o)))
            return papi_error_set(err, PAPI_ENOMEM, "out of memory");
        log_dispatcher(c, i, &o);
    }
    return st;
}

void papi__chain_close(papi_client *c)
{
    for (size_t i = c->nsources; i-- > 0;) {
        papi__source *s = &c->sources[i];
        papi__dispatch_destroy(s->dispatcher);
        if (s->transport->close)
            s->transport->close(s->state);
    }
    c->nsources = 0;
}

void papi__chain_describe(const papi_client *c, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < c->nsources && at < cap; i++) {
        int n =
            snprintf(out + at, cap - at, "%s%s", i ? ", then " : "", c->sources[i].transport->name);
        if (n < 0)
            return;
        at += (size_t)n;
    }
}

/* ------------------------------------------------------------- fetching */

/* Whether source i is asked for ds: the last always (its answer, "no such table" included, is
 * the lookup's), an earlier one when it holds the dataset. */
static bool asked(const papi_client *c, size_t i, const papi_dataset *ds)
{
    const papi__source *s = &c->sources[i];
    return i + 1 == c->nsources || !s->transport->holds || s->transport->holds(s->state, ds);
}

/* The deadline passed at source i-1 (a source may overrun it): the ids it lacked are not sent on,
 * since nobody would wait for the next source's answer. Their flights end as timed out, as a
 * fetch's followers share its deadline. */
static papi_status expire(papi_client *c, size_t i, papi__want *w, size_t n, papi_error *err)
{
    papi_error terr;
    papi_error_set(&terr, PAPI_ETIMEDOUT, "the deadline passed before source %zu (%s) was asked",
                   i + 1, c->sources[i].transport->name);
    for (size_t j = 0; j < n; j++) {
        if (w[j].flight)
            papi__coalesce_finish(c->coalescer, w[j].flight, NULL, PAPI_ETIMEDOUT, &terr);
        w[j].flight = NULL;
        w[j].row = NULL;
        w[j].status = PAPI_ETIMEDOUT;
    }
    if (err)
        *err = terr;
    return PAPI_ETIMEDOUT;
}

papi_status papi__chain_fetch(papi_client *c, size_t from, const papi_dataset *ds, papi__want *w,
                              size_t n, int64_t deadline_ms, papi_error *err)
{
    papi_status first = PAPI_OK;
    size_t left = n; /* w[0..left) still need a source */
    bool asked_one = false;
    for (size_t i = from; i < c->nsources && left; i++) {
        if (!asked(c, i, ds))
            continue;
        if (asked_one && papi__client_now_ms(c) >= deadline_ms) {
            papi_error terr;
            papi_status st = expire(c, i, w, left, &terr);
            if (first == PAPI_OK) {
                first = st;
                if (err)
                    *err = terr;
            }
            break;
        }
        asked_one = true;
        papi_error serr;
        papi_status st =
            papi__dispatch_fetch(c->sources[i].dispatcher, ds, w, left, deadline_ms, &serr);
        if (st != PAPI_OK && first == PAPI_OK) {
            first = st;
            if (err)
                *err = serr;
        }
        size_t k = 0;
        for (size_t j = 0; j < left; j++)
            if (w[j].pass_on) {
                papi__want t = w[k];
                w[k++] = w[j];
                w[j] = t;
            }
        left = k;
        for (size_t j = 0; j < left; j++)
            w[j].pass_on = false;
    }
    return first;
}

void papi__chain_pass_on(void *ctx, size_t next, const papi_dataset *ds, papi__want *w, size_t n)
{
    papi_client *c = ctx;
    /* their request is gone: the followers' budget, as the dispatcher gives ids kept for them */
    int64_t deadline_ms = papi__client_now_ms(c) + c->timeout_ms;
    papi__chain_fetch(c, next, ds, w, n, deadline_ms, NULL);
    for (size_t i = 0; i < n; i++)
        papi_blob_unref(w[i].row);
}

/* Whether source i's failure is logged now: at most once a minute per source. */
static bool fail_log_due(papi__source *s, int64_t now)
{
    int64_t last = atomic_load_explicit(&s->fail_log_ms, memory_order_relaxed);
    return (last == 0 || now - last >= FAIL_LOG_MS) &&
           atomic_compare_exchange_strong(&s->fail_log_ms, &last, now);
}

/* A source before the last failed: counted by the caller; logged here at most once a minute. */
void papi__chain_failed(papi_client *c, size_t i, const papi_dataset *ds, size_t n,
                        const papi_error *ferr)
{
    papi__source *s = &c->sources[i];
    if (!fail_log_due(s, papi__client_now_ms(c)))
        return;
    papi__client_log(c, PAPI_LOG_WARN,
                     "source %zu (%s) failed a fetch of %zu ids from %s, which go on to the next "
                     "source: %s: %s (further failures are counted in chain_errors, logged at "
                     "most once a minute)",
                     i + 1, s->transport->name, n, papi_dataset_name(ds),
                     papi_status_name(ferr->status), ferr->message);
}

/* ------------------------------------------------------------- the public calls */

/* Readiness follows lookups (papi.h): a source before the last that fails only sends its ids on
 * to the next, so its failing ping is logged, not returned; the last source's answer is the
 * chain's. */
papi_status papi_client_ping(papi_client *client, papi_error *err)
{
    if (!client)
        return papi_error_set(err, PAPI_EINVAL, "client is required");
    papi_status last = PAPI_OK;
    for (size_t i = 0; i < client->nsources; i++) {
        papi__source *s = &client->sources[i];
        if (!s->transport->ping)
            continue;
        papi_error perr;
        papi_error_set(&perr, PAPI_OK, NULL);
        int64_t now = papi__client_now_ms(client);
        papi_status st = s->transport->ping(s->state, now + client->timeout_ms, &perr);
        if (st != PAPI_OK && perr.status != st)
            papi_error_set(&perr, st, "the source does not answer");
        if (i + 1 == client->nsources) {
            last = st;
            if (st != PAPI_OK && err)
                *err = perr;
        } else if (st != PAPI_OK && fail_log_due(s, now)) {
            papi__client_log(client, PAPI_LOG_WARN,
                             "source %zu (%s) failed a ping, lookups go on to the next source: "
                             "%s: %s (logged at most once a minute)",
                             i + 1, s->transport->name, papi_status_name(st), perr.message);
        }
    }
    return last;
}

const char *papi_client_source_at(const papi_client *client, size_t index)
{
    if (!client || index >= client->nsources)
        return NULL;
    return client->sources[index].transport->name;
}

uint64_t papi__chain_depth(const papi_client *c)
{
    uint64_t n = 0;
    for (size_t i = 0; i < c->nsources; i++)
        n += papi__dispatch_depth(c->sources[i].dispatcher);
    return n;
}
