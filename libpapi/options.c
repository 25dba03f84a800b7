/* The core's own options (STYLE.md 8), how any option's value is checked against its
 * descriptor, and the one enumeration tools see: the core's options, then each built-in
 * backend's. Backends declare their options in their tables; the core knows none of theirs. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DAY_S 86400
#define TEXT_MAX_BYTES 4096

static papi_status check_source(const papi_option *o, const char *v, papi_error *err);
static papi_status check_cache(const papi_option *o, const char *v, papi_error *err);

static const papi_option core_options[] = {
    {"source", "PAPI_SOURCE", PAPI_OPTION_TEXT, NULL, 0, 0, 0,
     "where rows come from: sqlite:PATH or snowflake, or a chain of them asked in turn for the "
     "ids the earlier ones lack, e.g. sqlite:replica.db,snowflake (unset: snowflake when an "
     "account or the SPCS session token is found, else the demo database)",
     check_source},
    {"cache", "PAPI_CACHE", PAPI_OPTION_TEXT, "memory", 0, 0, 0,
     "cache tiers, the first asked first: memory, none, redis://[:password@]host[:port][/db], "
     "comma-separated, at most 4",
     check_cache},
    {"cache-ttl", "PAPI_CACHE_TTL", PAPI_OPTION_INT, "180", 0, 30 * DAY_S, 0,
     "seconds a row stays fresh in the caches", NULL},
    {"negative-ttl", "PAPI_NEGATIVE_TTL", PAPI_OPTION_INT, "30", 0, 30 * DAY_S, 0,
     "seconds an id the source lacks stays known as absent", NULL},
    {"stale-max", "PAPI_STALE_MAX", PAPI_OPTION_INT, "3600", 0, 30 * DAY_S, 0,
     "seconds an expired row is kept to answer when the source fails (0: never)", NULL},
    {"datasets", "PAPI_DATASETS", PAPI_OPTION_TEXT, NULL, 0, 0, 0,
     "JSON file of more datasets to serve (unset: customer only)", NULL},
    {"max-ids", "PAPI_MAX_IDS", PAPI_OPTION_INT, "100", 1, PAPI__MAX_IDS_LIMIT, 0,
     "ids one lookup may ask for", NULL},
    {"timeout-ms", "PAPI_TIMEOUT_MS", PAPI_OPTION_INT, "10000", 1, INT64_C(3600000), 0,
     "milliseconds a lookup that needs the source may take", NULL},
    /* unset: the transport's default_concurrency; 0: no dispatcher, one fetch per request */
    {"source-concurrency", "PAPI_SOURCE_CONCURRENCY", PAPI_OPTION_INT, NULL, 0,
     PAPI__MAX_SOURCE_CONCURRENCY, 0,
     "fetches in flight per source; beyond it misses queue and go together (unset: 8 for "
     "snowflake, the cores for sqlite; 0: one fetch per request, unbounded); of a chain, the "
     "last source's (the others take their default)",
     NULL},
    /* the SQL API's IN list takes at most 16,384 bind values */
    {"max-batch", "PAPI_MAX_BATCH", PAPI_OPTION_INT, "256", 1, PAPI__MAX_BATCH_LIMIT, 0,
     "ids one fetch takes at most when misses queue", NULL},
    {"batch-linger-us", "PAPI_BATCH_LINGER_US", PAPI_OPTION_INT, "0", 0, PAPI__MAX_BATCH_LINGER_US,
     0, "microseconds a free fetch slot waits for more ids (of a chain: the last source's)", NULL},
    /* shared: every pooled backend reads it (papi_pool) */
    {"pool-size", "PAPI_POOL_SIZE", PAPI_OPTION_INT, "8", 1, 1024, 0,
     "connections a backend keeps (SQLite; Snowflake: at least source-concurrency; Redis: at "
     "most 64)",
     NULL},
};
#define NCORE (sizeof core_options / sizeof core_options[0])

/* "<key>: the <name> backend is not built into this libpapi" */
static papi_status not_built(papi_error *err, const char *what, const char *name)
{
    return papi_error_set(err, PAPI_ECONFIG, "%s: the %s backend is not built into this libpapi",
                          what, name);
}

/* One source of the list: the kind it names is known and built. what: "source" alone, or
 * "source: source 2" in a chain. */
static papi_status check_one_source(const char *what, const char *spec, bool chain, papi_error *err)
{
    const char *off = NULL;
    if (!papi__transport_find(spec, &off))
        return off ? not_built(err, what, off)
                   : papi_error_set(
                         err, PAPI_ECONFIG,
                         "%s: unknown kind of source (expected sqlite:PATH or "
                         "snowflake%s)",
                         what, chain ? "; a comma separates sources, so no path may hold one" : "");
    if (strncmp(spec, "sqlite:", 7) == 0 && spec[7] == '\0')
        return papi_error_set(err, PAPI_ECONFIG, "%s: sqlite: needs a file path", what);
    return PAPI_OK;
}

/* A source, or a chain of them separated by commas (a path holding a comma cannot be named: the
 * comma always separates). */
static papi_status check_source(const papi_option *o, const char *v, papi_error *err)
{
    if (*v == '\0')
        return PAPI_OK; /* back to the default source, chosen by papi_client_create() */
    bool chain = strchr(v, ',') != NULL;
    size_t n = 0;
    const char *seen[PAPI__MAX_SOURCES];
    size_t seen_len[PAPI__MAX_SOURCES];
    for (const char *p = v; p;) {
        const char *item = p;
        char spec[4096], what[64];
        size_t len = papi__list_item(&p, spec, sizeof spec);
        n++;
        if (len == 0)
            return papi_error_set(err, PAPI_ECONFIG,
                                  "%s: source %zu is empty (sources are separated by commas)",
                                  o->key, n);
        if (n > PAPI__MAX_SOURCES)
            return papi_error_set(err, PAPI_ECONFIG, "%s: more than %d sources in the chain",
                                  o->key, PAPI__MAX_SOURCES);
        if (len >= sizeof spec)
            return papi_error_set(err, PAPI_ECONFIG, "%s: source %zu is too long", o->key, n);
        if (chain)
            snprintf(what, sizeof what, "%s: source %zu", o->key, n);
        else
            snprintf(what, sizeof what, "%s", o->key);
        papi_status st = check_one_source(what, spec, chain, err);
        if (st != PAPI_OK)
            return st;
        /* the same source twice would only ask it twice for what it lacks */
        for (size_t i = 0; i + 1 < n; i++)
            if (seen_len[i] == len && memcmp(seen[i], item, len) == 0)
                return papi_error_set(err, PAPI_ECONFIG, "%s: source %zu repeats source %zu",
                                      o->key, n, i + 1);
        seen[n - 1] = item;
        seen_len[n - 1] = len;
    }
    return PAPI_OK;
}

static papi_status check_cache(const papi_option *o, const char *v, papi_error *err)
{
    size_t tiers = 0;
    for (const char *p = v; p;) {
        char tier[1024];
        size_t len = papi__list_item(&p, tier, sizeof tier);
        if (len == 0)
            return papi_error_set(err, PAPI_ECONFIG, "%s: empty tier %zu", o->key, tiers + 1);
        if (len >= sizeof tier)
            return papi_error_set(err, PAPI_ECONFIG, "%s: tier %zu too long", o->key, tiers + 1);
        const char *off = NULL;
        bool known = papi__cache_find(tier, &off) != NULL;
        memset(tier, 0, len); /* it may hold a Redis password */
        if (off) {
            char what[64];
            snprintf(what, sizeof what, "%s: tier %zu", o->key, tiers + 1);
            return not_built(err, what, off);
        }
        if (!known)
            return papi_error_set(err, PAPI_ECONFIG,
                                  "%s: tier %zu is not memory, none or redis://host:port/db",
                                  o->key, tiers + 1);
        if (++tiers > PAPI__MAX_CACHE_TIERS)
            return papi_error_set(err, PAPI_ECONFIG, "%s: more than %d tiers", o->key,
                                  PAPI__MAX_CACHE_TIERS);
    }
    return PAPI_OK;
}

/* Digits only: strtoll would accept spaces, signs and hex, which a typo should not pass. */
static papi_status parse_int(const papi_option *o, const char *v, int64_t *num, papi_error *err)
{
    if (*v == '\0')
        return papi_error_set(err, PAPI_ECONFIG, "%s: a whole number is required", o->key);
    int64_t n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return papi_error_set(err, PAPI_ECONFIG, "%s: a whole number is required, not '%.32s'",
                                  o->key, (o->flags & PAPI_OPTION_SECRET) ? "(secret)" : v);
        if (n > (INT64_MAX - 9) / 10)
            return papi_error_set(err, PAPI_ECONFIG, "%s: number too large", o->key);
        n = n * 10 + (*p - '0');
    }
    if (n < o->min || n > o->max)
        return papi_error_set(err, PAPI_ECONFIG, "%s: %lld is out of range %lld..%lld", o->key,
                              (long long)n, (long long)o->min, (long long)o->max);
    *num = n;
    return PAPI_OK;
}

static papi_status parse_bool(const papi_option *o, const char *v, int64_t *num, papi_error *err)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *num = 1;
            return PAPI_OK;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *num = 0;
            return PAPI_OK;
        }
    }
    return papi_error_set(err, PAPI_ECONFIG, "%s: expected true or false (1/0, yes/no, on/off)",
                          o->key);
}

papi_status papi__option_parse(const papi_option *o, const char *value, int64_t *num,
                               papi_error *err)
{
    int64_t n = 0;
    papi_status st;
    switch (o->type) {
    case PAPI_OPTION_INT:
        st = parse_int(o, value, &n, err);
        break;
    case PAPI_OPTION_BOOL:
        st = parse_bool(o, value, &n, err);
        break;
    case PAPI_OPTION_TEXT:
    default:
        st = strlen(value) > TEXT_MAX_BYTES
                 ? papi_error_set(err, PAPI_ECONFIG, "%s: value too long", o->key)
                 : PAPI_OK;
        break;
    }
    if (st == PAPI_OK && o->check)
        st = o->check(o, value, err);
    if (st == PAPI_OK && num)
        *num = n;
    return st;
}

bool papi__option_valid(const papi_option *o)
{
    return o->key && *o->key &&
           (o->type == PAPI_OPTION_TEXT || o->type == PAPI_OPTION_INT ||
            o->type == PAPI_OPTION_BOOL) &&
           (o->type != PAPI_OPTION_INT || o->min <= o->max);
}

static const papi_option *in_table(const papi_option *opts, size_t n, const char *key)
{
    for (size_t i = 0; opts && i < n; i++)
        if (opts[i].key && strcmp(opts[i].key, key) == 0)
            return &opts[i];
    return NULL;
}

const papi_option *papi__option_builtin(const char *key, const char **not_built)
{
    *not_built = NULL;
    const papi_option *o = in_table(core_options, NCORE, key);
    if (o)
        return o;
    for (size_t b = 0; b < papi__builtin_count(); b++) {
        const char *name;
        bool is_built;
        size_t n;
        const papi_option *opts = papi__builtin_options(b, &n, &name, &is_built);
        if ((o = in_table(opts, n, key)) == NULL)
            continue;
        if (is_built)
            return o;
        *not_built = name;
    }
    return NULL;
}

/* The index-th option of the enumeration: the core's, then each built-in backend's. */
static const papi_option *option_at(size_t index)
{
    if (index < NCORE)
        return &core_options[index];
    index -= NCORE;
    for (size_t b = 0; b < papi__builtin_count(); b++) {
        const char *name;
        bool is_built;
        size_t n;
        const papi_option *opts = papi__builtin_options(b, &n, &name, &is_built);
        if (!is_built)
            continue;
        if (index < n)
            return &opts[index];
        index -= n;
    }
    return NULL;
}

size_t papi_config_option_count(void)
{
    size_t total = NCORE;
    for (size_t b = 0; b < papi__builtin_count(); b++) {
        const char *name;
        bool is_built;
        size_t n;
        papi__builtin_options(b, &n, &name, &is_built);
        if (is_built)
            total += n;
    }
    return total;
}

const char *papi_config_option_key(size_t index, const char **env_var, int *secret)
{
    const papi_option *o = option_at(index);
    if (!o)
        return NULL;
    if (env_var)
        *env_var = o->env;
    if (secret)
        *secret = (o->flags & PAPI_OPTION_SECRET) ? 1 : 0;
    return o->key;
}

papi_status papi_config_option_info(size_t index, papi_option *out)
{
    const papi_option *o = option_at(index);
    if (!o || !out)
        return PAPI_EINVAL;
    *out = *o;
    return PAPI_OK;
}
