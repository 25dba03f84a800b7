/* A client binds one copy of the configuration to its datasets, its sources (chain.c) and its
 * cache tiers. It is shared by many threads: after creation everything in it is read-only except
 * the atomic counters and what the backends guard themselves. */
#include "core.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void host_log(void *ctx, papi_log_level level, const char *message)
{
    const papi_client *c = ctx;
    if (c->log_fn && level <= c->log_max)
        c->log_fn(c->log_user, level, message);
}

static void host_count(void *ctx, papi_host_counter counter, uint64_t delta)
{
    papi_client *c = ctx;
    switch (counter) {
    case PAPI_COUNTER_TOKEN_RENEWALS:
        PAPI__COUNT(c, token_renewals, delta);
        return;
    case PAPI_COUNTER_CACHE_ERRORS:
        PAPI__COUNT(c, cache_errors, delta);
        return;
    }
}

static const papi_dataset *host_dataset(void *ctx, const char *name)
{
    const papi_client *c = ctx;
    return papi__datasets_find(c->datasets, name);
}

/* The system's monotonic clock, read directly: this runs on every cache hit. */
static int64_t host_now_default(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t host_now_injected(void *ctx)
{
    const papi_client *c = ctx;
    return c->clock_fn(c->clock_user);
}

void papi__client_log(const papi_client *client, papi_log_level level, const char *fmt, ...)
{
    if (!client->log_fn || level > client->log_max)
        return; /* before formatting: most lines are filtered out */
    va_list ap;
    va_start(ap, fmt);
    papi__host_vlogf(&client->host, level, fmt, ap);
    va_end(ap);
}

/* A tier spec for log lines: the userinfo of a URL (a password) becomes "***". */
static char *redacted_spec(const char *spec, size_t len)
{
    papi_key scheme, userinfo, rest;
    if (!papi_url_split(spec, len, &scheme, &userinfo, &rest) || !userinfo.ptr) {
        char *out = malloc(len + 1);
        if (out) {
            memcpy(out, spec, len);
            out[len] = '\0';
        }
        return out;
    }
    char *out = malloc(scheme.len + 7 + rest.len + 1);
    if (out) {
        memcpy(out, scheme.ptr, scheme.len);
        memcpy(out + scheme.len, "://***@", 7);
        memcpy(out + scheme.len + 7, rest.ptr, rest.len);
        out[scheme.len + 7 + rest.len] = '\0';
    }
    return out;
}

static papi_status open_tier(papi_client *c, const papi_cache_backend *b, const char *spec,
                             size_t spec_len, void *user, papi_error *err)
{
    papi__tier *t = &c->tiers[c->ntiers];
    if (!papi__cache_copy(b, &t->table))
        return papi_error_set(err, PAPI_EINTERNAL, "cache: a built-in table was refused");
    b = &t->table;
    char *full = malloc(spec_len + 1);
    t->spec = redacted_spec(spec, spec_len);
    if (!full || !t->spec) {
        free(full);
        free(t->spec);
        t->spec = NULL;
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    }
    memcpy(full, spec, spec_len);
    full[spec_len] = '\0';
    papi_status st = b->open(full, c->cfg, &c->host, user, &t->state, err);
    /* the spec may hold a password: wipe our copy */
    memset(full, 0, spec_len);
    free(full);
    if (st != PAPI_OK) {
        free(t->spec);
        t->spec = NULL;
        return st;
    }
    t->backend = &t->table;
    c->ntiers++;
    return PAPI_OK;
}

static papi_status open_caches(papi_client *c, papi_error *err)
{
    const papi__attached_cache *att;
    size_t n = papi__config_caches(c->cfg, &att);
    if (n) {
        for (size_t i = 0; i < n; i++) {
            papi_status st =
                open_tier(c, &att[i].table, att[i].spec, strlen(att[i].spec), att[i].user, err);
            if (st != PAPI_OK)
                return st;
        }
        return PAPI_OK;
    }
    const char *spec = papi_config_get(c->cfg, "cache");
    for (const char *p = spec; p;) {
        const char *item = p;
        char name[1024];
        size_t len = papi__list_item(&p, name, sizeof name);
        if (len == 0 || len >= sizeof name || c->ntiers >= PAPI__MAX_CACHE_TIERS)
            return papi_error_set(err, PAPI_ECONFIG, "cache: bad tier list");
        const char *off = NULL;
        const papi_cache_backend *b = papi__cache_find(name, &off);
        memset(name, 0, len);
        if (!b && off)
            return papi_error_set(err, PAPI_ECONFIG,
                                  "cache: tier %zu: the %s backend is not built into this libpapi",
                                  c->ntiers + 1, off);
        if (!b)
            return papi_error_set(err, PAPI_ECONFIG, "cache: unknown tier %zu", c->ntiers + 1);
        papi_status st = open_tier(c, b, item, len, NULL, err);
        if (st != PAPI_OK)
            return st;
    }
    return PAPI_OK;
}

papi_status papi_client_create(const papi_config *cfg, papi_client **out, papi_error *err)
{
    if (!out)
        return papi_error_set(err, PAPI_EINVAL, "out is required");
    *out = NULL;
    if (!cfg)
        return papi_error_set(err, PAPI_EINVAL, "configuration is required");
    /* over-aligned (counter stripes on their own cache lines): sizeof is a multiple of 64 */
    papi_client *c = aligned_alloc(_Alignof(papi_client), sizeof *c);
    if (!c)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    memset(c, 0, sizeof *c);
    c->cfg = papi__config_copy(cfg);
    if (!c->cfg) {
        papi_client_destroy(c);
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    }
    papi__config_log(c->cfg, &c->log_fn, &c->log_user, &c->log_max);
    papi__config_clock(c->cfg, &c->clock_fn, &c->clock_user);
    c->host = (papi_host){.struct_size = sizeof(papi_host),
                          .ctx = c,
                          .log = host_log,
                          .count = host_count,
                          .now_ms = c->clock_fn ? host_now_injected : host_now_default,
                          .dataset = host_dataset};
    c->coalescer = papi__coalesce_create(&c->host);
    if (!c->coalescer) {
        papi_client_destroy(c);
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    }
    c->ttl.found_ms = papi__config_num(c->cfg, "cache-ttl") * 1000;
    c->ttl.absent_ms = papi__config_num(c->cfg, "negative-ttl") * 1000;
    c->ttl.stale_ms = papi__config_num(c->cfg, "stale-max") * 1000;
    c->timeout_ms = papi__config_num(c->cfg, "timeout-ms");
    c->max_ids = (size_t)papi__config_num(c->cfg, "max-ids");

    const char *path = papi_config_get(c->cfg, "datasets");
    papi_status st = papi__datasets_load(path && *path ? path : NULL, &c->datasets, err);
    if (st == PAPI_OK)
        st = papi__chain_open(c, err);
    if (st == PAPI_OK)
        st = open_caches(c, err);
    if (st != PAPI_OK) {
        papi_client_destroy(c);
        return st;
    }
    for (size_t i = 0; i < c->ntiers; i++)
        papi__client_log(c, PAPI_LOG_INFO, "cache tier %zu: %s", i + 1, c->tiers[i].spec);
    char chain[256];
    papi__chain_describe(c, chain, sizeof chain);
    papi__client_log(c, PAPI_LOG_INFO, "source: %s, %zu datasets", chain,
                     papi__datasets_count(c->datasets));
    *out = c;
    return PAPI_OK;
}

void papi_client_destroy(papi_client *client)
{
    if (!client)
        return;
    for (size_t i = client->ntiers; i-- > 0;) {
        if (client->tiers[i].backend->close)
            client->tiers[i].backend->close(client->tiers[i].state);
        free(client->tiers[i].spec);
    }
    papi__chain_close(client);
    papi__datasets_free(client->datasets);
    papi__coalesce_destroy(client->coalescer);
    papi_config_destroy(client->cfg);
    free(client);
}

size_t papi_client_dataset_count(const papi_client *client)
{
    return client ? papi__datasets_count(client->datasets) : 0;
}

const char *papi_client_dataset_name(const papi_client *client, size_t index)
{
    if (!client || index >= papi__datasets_count(client->datasets))
        return NULL;
    return papi_dataset_name(papi__datasets_at(client->datasets, index));
}

const papi_dataset *papi_client_dataset(const papi_client *client, size_t index)
{
    if (!client || index >= papi__datasets_count(client->datasets))
        return NULL;
    return papi__datasets_at(client->datasets, index);
}

/* PAPI_STATS_MEMBERS names members of papi_stats (or this would not compile) and all of them. */
#define SIZE_ONE(name) +sizeof(uint64_t)
#define SIZE_ARRAY(name, n) +(n) * sizeof(uint64_t)
_Static_assert(offsetof(papi_stats, lookups)
                       PAPI_STATS_MEMBERS(SIZE_ONE, SIZE_ONE, SIZE_ARRAY) == sizeof(papi_stats),
               "PAPI_STATS_MEMBERS lists every member of papi_stats");
#undef SIZE_ONE
#undef SIZE_ARRAY

papi_status papi_client_stats(const papi_client *client, papi_stats *out)
{
    if (!client || !out || out->struct_size < sizeof(uint32_t))
        return PAPI_EINVAL;
    uint64_t v[PAPI__C_COUNT] = {0};
    for (size_t s = 0; s < PAPI__STRIPES; s++)
        for (size_t i = 0; i < PAPI__C_COUNT; i++)
            v[i] += atomic_load_explicit(&client->stripes[s].v[i], memory_order_relaxed);
    papi_stats s = {.struct_size = out->struct_size};
    /* a gauge's decrements were added as wrapped negatives: the sum is the gauge */
#define ONE(name) s.name = v[PAPI__C_##name];
#define ARRAY(name, n)                                                                             \
    for (size_t b = 0; b < (n); b++)                                                               \
        s.name[b] = v[PAPI__C_##name + b];
    PAPI_STATS_MEMBERS(ONE, ONE, ARRAY)
#undef ONE
#undef ARRAY
    s.queue_depth = papi__chain_depth(client);
    /* an older caller's struct is shorter: fill what it has */
    size_t n = out->struct_size < sizeof s ? out->struct_size : sizeof s;
    memcpy(out, &s, n);
    return PAPI_OK;
}
