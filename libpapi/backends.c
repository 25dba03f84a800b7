/* The built-in backends, found by name in static tables (STYLE.md 9): nothing is registered
 * globally, and each built-in is written against papi_backend.h only. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#ifndef PAPI_DEMO_DB
#define PAPI_DEMO_DB "/var/lib/papi/demo.db"
#endif

static const struct {
    const char *prefix; /* matched against the start of a source spec */
    size_t prefix_len;
    const papi_transport_backend *backend;
} transports[] = {
    {"sqlite:", 7, &papi__transport_sqlite},
    {"snowflake", 9, &papi__transport_snowflake},
};

static const struct {
    const char *prefix;
    size_t prefix_len;
    bool exact; /* "memory" must not match "memoryx" */
    const papi_cache_backend *backend;
} caches[] = {
    {"memory", 6, true, &papi__cache_memory},
    {"none", 4, true, &papi__cache_none},
    {"redis://", 8, false, &papi__cache_redis},
};

const papi_transport_backend *papi__transport_find(const char *spec)
{
    if (!spec)
        return NULL;
    for (size_t i = 0; i < sizeof transports / sizeof transports[0]; i++) {
        if (strncmp(spec, transports[i].prefix, transports[i].prefix_len) != 0)
            continue;
        /* "snowflake" alone or "snowflake:<anything>"; "snowflakes" is not ours */
        char next = spec[transports[i].prefix_len];
        if (transports[i].prefix[transports[i].prefix_len - 1] != ':' && next != '\0' &&
            next != ':')
            continue;
        return transports[i].backend;
    }
    return NULL;
}

const papi_cache_backend *papi__cache_find(const char *spec)
{
    if (!spec)
        return NULL;
    for (size_t i = 0; i < sizeof caches / sizeof caches[0]; i++) {
        if (caches[i].exact ? strcmp(spec, caches[i].prefix) == 0
                            : strncmp(spec, caches[i].prefix, caches[i].prefix_len) == 0)
            return caches[i].backend;
    }
    return NULL;
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

void papi_host_logf(const papi_host *host, papi_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    papi__host_vlogf(host, level, fmt, ap);
    va_end(ap);
}
