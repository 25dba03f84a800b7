/* The built-in backends, found by name in a static table (STYLE.md 9): nothing is registered
 * globally, and each built-in is written against papi_backend.h only. Backends left out of the
 * build (meson features) stay in the table as names with their options, so that asking for one
 * is a clear configuration error rather than an unknown word. */
#include "internal.h"

#include "builtins.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#ifndef PAPI_DEMO_DB
#define PAPI_DEMO_DB "/var/lib/papi/demo.db"
#endif

enum { EXACT, PREFIX, NAME_OR_COLON }; /* how a spec names the backend */

typedef struct builtin {
    const char *name;
    const char *match; /* what a source or tier spec starts with */
    int how;
    const papi_transport_backend *transport; /* NULL: a cache, or not built */
    const papi_cache_backend *cache;         /* NULL: a transport, or not built */
    bool is_transport;
    /* the options of a backend not built in (a built one's come from its table) */
    const papi_option *options;
    const size_t *noptions;
} builtin;

static const builtin builtins[] = {
    {"memory", "memory", EXACT, NULL, &papi__cache_memory, false, NULL, NULL},
    {"none", "none", EXACT, NULL, &papi__cache_none, false, NULL, NULL},
#if PAPI_HAVE_REDIS
    {"redis", "redis://", PREFIX, NULL, &papi__cache_redis, false, NULL, NULL},
#else
    {"redis", "redis://", PREFIX, NULL, NULL, false, papi__redis_options, &papi__redis_noptions},
#endif
#if PAPI_HAVE_SQLITE
    {"sqlite", "sqlite:", PREFIX, &papi__transport_sqlite, NULL, true, NULL, NULL},
#else
    {"sqlite", "sqlite:", PREFIX, NULL, NULL, true, NULL, NULL},
#endif
#if PAPI_HAVE_SNOWFLAKE
    {"snowflake", "snowflake", NAME_OR_COLON, &papi__transport_snowflake, NULL, true, NULL, NULL},
#else
    {"snowflake", "snowflake", NAME_OR_COLON, NULL, NULL, true, papi__snowflake_options,
     &papi__snowflake_noptions},
#endif
};
#define NBUILTINS (sizeof builtins / sizeof builtins[0])

static bool built(const builtin *b)
{
    return b->transport || b->cache;
}

static bool spec_matches(const builtin *b, const char *spec)
{
    size_t n = strlen(b->match);
    switch (b->how) {
    case EXACT:
        return strcmp(spec, b->match) == 0;
    case PREFIX:
        return strncmp(spec, b->match, n) == 0;
    default: /* "snowflake" alone or "snowflake:<anything>"; "snowflakes" is not ours */
        return strncmp(spec, b->match, n) == 0 && (spec[n] == '\0' || spec[n] == ':');
    }
}

/* The built-in a spec names, built or not; NULL when none. */
static const builtin *find_spec(const char *spec, bool transport)
{
    for (size_t i = 0; spec && i < NBUILTINS; i++)
        if (builtins[i].is_transport == transport && spec_matches(&builtins[i], spec))
            return &builtins[i];
    return NULL;
}

const papi_transport_backend *papi__transport_find(const char *spec, const char **not_built)
{
    const builtin *b = find_spec(spec, true);
    if (not_built)
        *not_built = b && !built(b) ? b->name : NULL;
    return b ? b->transport : NULL;
}

const papi_cache_backend *papi__cache_find(const char *spec, const char **not_built)
{
    const builtin *b = find_spec(spec, false);
    if (not_built)
        *not_built = b && !built(b) ? b->name : NULL;
    return b ? b->cache : NULL;
}

const papi_transport_backend *papi__transport_detect(const papi_config *cfg)
{
    for (size_t i = 0; i < NBUILTINS; i++) {
        const papi_transport_backend *t = builtins[i].transport;
        if (t && t->detect && t->detect(cfg))
            return t;
    }
    return NULL;
}

size_t papi__builtin_count(void)
{
    return NBUILTINS;
}

const papi_option *papi__builtin_options(size_t i, size_t *n, const char **name, bool *is_built)
{
    const builtin *b = &builtins[i];
    *name = b->name;
    *is_built = built(b);
    if (b->transport) {
        *n = b->transport->noptions;
        return b->transport->options;
    }
    if (b->cache) {
        *n = b->cache->noptions;
        return b->cache->options;
    }
    *n = b->noptions ? *b->noptions : 0;
    return b->options;
}

const char *papi__demo_db_path(void)
{
    return PAPI_DEMO_DB;
}

void papi__host_vlogf(const papi_host *host, papi_log_level level, const char *fmt, va_list ap)
{
    if (!host || !host->log || !fmt)
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    host->log(host->ctx, level, line);
}

const papi_dataset *papi_host_dataset(const papi_host *host, const char *name)
{
    if (!host || !name || host->struct_size < offsetof(papi_host, dataset) + sizeof host->dataset ||
        !host->dataset)
        return NULL;
    return host->dataset(host->ctx, name);
}

void papi_host_logf(const papi_host *host, papi_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    papi__host_vlogf(host, level, fmt, ap);
    va_end(ap);
}
