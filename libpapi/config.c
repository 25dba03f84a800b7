/* One option table drives defaults, environment variables, string setters, flags and bindings
 * (STYLE.md 8). Values are checked when set, so a client never meets a bad value. */
#include "internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef struct option option;
/* Checks value; for numeric options writes the number. Messages name the key, never a string
 * value (a cache spec may carry a Redis password, other strings may be secrets). */
typedef papi_status (*parse_fn)(const option *o, const char *value, int64_t *num, papi_error *err);

struct option {
    const char *key;
    const char *env;
    const char *def; /* NULL: unset (source: computed, see papi_config_get) */
    parse_fn parse;
    int64_t min, max; /* numeric options */
    bool secret;
};

static papi_status parse_text(const option *o, const char *v, int64_t *num, papi_error *err);
static papi_status parse_int(const option *o, const char *v, int64_t *num, papi_error *err);
static papi_status parse_source(const option *o, const char *v, int64_t *num, papi_error *err);
static papi_status parse_cache(const option *o, const char *v, int64_t *num, papi_error *err);
static papi_status parse_protocol(const option *o, const char *v, int64_t *num, papi_error *err);
static papi_status parse_auth(const option *o, const char *v, int64_t *num, papi_error *err);

#define DAY_S 86400
static const option options[] = {
    {"source", "PAPI_SOURCE", NULL, parse_source, 0, 0, false},
    {"cache", "PAPI_CACHE", "memory", parse_cache, 0, 0, false},
    {"cache-ttl", "PAPI_CACHE_TTL", "180", parse_int, 0, 30 * DAY_S, false},
    {"negative-ttl", "PAPI_NEGATIVE_TTL", "30", parse_int, 0, 30 * DAY_S, false},
    {"cache-max-entries", "PAPI_CACHE_MAX_ENTRIES", "100000", parse_int, 1, INT64_C(1) << 40,
     false},
    {"cache-max-bytes", "PAPI_CACHE_MAX_BYTES", "268435456", parse_int, 1024, INT64_C(1) << 50,
     false},
    {"stale-max", "PAPI_STALE_MAX", "3600", parse_int, 0, 30 * DAY_S, false},
    {"datasets", "PAPI_DATASETS", NULL, parse_text, 0, 0, false},
    {"max-ids", "PAPI_MAX_IDS", "100", parse_int, 1, PAPI__MAX_IDS_LIMIT, false},
    /* unset: the transport's default_concurrency; 0: no dispatcher, one fetch per request */
    {"source-concurrency", "PAPI_SOURCE_CONCURRENCY", NULL, parse_int, 0,
     PAPI__MAX_SOURCE_CONCURRENCY, false},
    /* the SQL API's IN list takes at most 16,384 bind values */
    {"max-batch", "PAPI_MAX_BATCH", "256", parse_int, 1, PAPI__MAX_BATCH_LIMIT, false},
    {"batch-linger-us", "PAPI_BATCH_LINGER_US", "0", parse_int, 0, PAPI__MAX_BATCH_LINGER_US,
     false},
    {"timeout-ms", "PAPI_TIMEOUT_MS", "10000", parse_int, 1, INT64_C(3600000), false},
    {"connect-timeout-ms", "PAPI_CONNECT_TIMEOUT_MS", "3000", parse_int, 1, INT64_C(3600000),
     false},
    {"pool-size", "PAPI_POOL_SIZE", "8", parse_int, 1, 1024, false},
    {"max-attempts", "PAPI_MAX_ATTEMPTS", "4", parse_int, 1, 100, false},
    {"statement-timeout", "PAPI_STATEMENT_TIMEOUT", "10", parse_int, 1, DAY_S, false},
    /* the widest text/variant/binary cell a lookup answer is sized for (sfapi.c) */
    {"max-cell-bytes", "PAPI_MAX_CELL_BYTES", "8192", parse_int, 64, 16777216, false},
    {"redis-timeout-ms", "PAPI_REDIS_TIMEOUT_MS", "200", parse_int, 1, INT64_C(600000), false},
    {"redis-max-row-bytes", "PAPI_REDIS_MAX_ROW_BYTES", "1048576", parse_int, 1024,
     INT64_C(536870912), false},
    {"snowflake-account", "SNOWFLAKE_ACCOUNT", NULL, parse_text, 0, 0, false},
    {"snowflake-user", "SNOWFLAKE_USER", NULL, parse_text, 0, 0, false},
    {"snowflake-role", "SNOWFLAKE_ROLE", NULL, parse_text, 0, 0, false},
    {"snowflake-warehouse", "SNOWFLAKE_WAREHOUSE", NULL, parse_text, 0, 0, false},
    {"snowflake-database", "SNOWFLAKE_DATABASE", NULL, parse_text, 0, 0, false},
    {"snowflake-schema", "SNOWFLAKE_SCHEMA", NULL, parse_text, 0, 0, false},
    {"snowflake-host", "SNOWFLAKE_HOST", NULL, parse_text, 0, 0, false},
    {"snowflake-port", "SNOWFLAKE_PORT", NULL, parse_int, 1, 65535, false},
    {"snowflake-protocol", "SNOWFLAKE_PROTOCOL", NULL, parse_protocol, 0, 0, false},
    {"snowflake-private-key-file", "SNOWFLAKE_PRIVATE_KEY_FILE", NULL, parse_text, 0, 0, false},
    {"snowflake-private-key-file-pwd", "SNOWFLAKE_PRIVATE_KEY_FILE_PWD", NULL, parse_text, 0, 0,
     true},
    {"snowflake-token", "SNOWFLAKE_TOKEN", NULL, parse_text, 0, 0, true},
    {"snowflake-token-file", "SNOWFLAKE_TOKEN_FILE", NULL, parse_text, 0, 0, false},
    {"snowflake-authenticator", "SNOWFLAKE_AUTHENTICATOR", NULL, parse_auth, 0, 0, false},
    {"snowflake-ca-file", "SNOWFLAKE_CA_FILE", NULL, parse_text, 0, 0, false},
    /* Snowflake refuses a JWT living over an hour (snowflake-sql-api.md 3.4); 10 s is for tests */
    {"snowflake-jwt-lifetime", "SNOWFLAKE_JWT_LIFETIME", "3540", parse_int, 10, 3600, false},
};
#define NOPT (sizeof options / sizeof options[0])
#define SPCS_TOKEN_FILE "/snowflake/session/token"

struct papi_config {
    char *values[NOPT]; /* NULL: the default */
    int64_t nums[NOPT];
    char *default_source; /* "sqlite:" + the demo database */
    papi__attached transport;
    bool has_transport;
    papi__attached caches[PAPI__MAX_CACHE_TIERS];
    size_t ncaches;
    papi_log_fn log_fn;
    void *log_user;
    papi_log_level log_max;
    papi_clock_fn clock_fn; /* NULL: papi_now_ms */
    void *clock_user;
};

static papi_status parse_text(const option *o, const char *v, int64_t *num, papi_error *err)
{
    (void)num;
    if (strlen(v) > 4096)
        return papi_error_set(err, PAPI_ECONFIG, "%s: value too long", o->key);
    return PAPI_OK;
}

static papi_status parse_int(const option *o, const char *v, int64_t *num, papi_error *err)
{
    /* digits only: strtoll would accept spaces, signs and hex, which a typo should not pass */
    if (*v == '\0')
        return papi_error_set(err, PAPI_ECONFIG, "%s: a whole number is required", o->key);
    int64_t n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return papi_error_set(err, PAPI_ECONFIG, "%s: a whole number is required, not '%.32s'",
                                  o->key, v);
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

static papi_status parse_source(const option *o, const char *v, int64_t *num, papi_error *err)
{
    (void)num;
    if (*v == '\0')
        return PAPI_OK; /* back to the computed default */
    if (!papi__transport_find(v))
        return papi_error_set(err, PAPI_ECONFIG,
                              "%s: unknown kind of source (expected sqlite:PATH or snowflake)",
                              o->key);
    if (strncmp(v, "sqlite:", 7) == 0 && v[7] == '\0')
        return papi_error_set(err, PAPI_ECONFIG, "%s: sqlite: needs a file path", o->key);
    return parse_text(o, v, num, err);
}

static papi_status parse_cache(const option *o, const char *v, int64_t *num, papi_error *err)
{
    (void)num;
    size_t tiers = 0;
    const char *p = v;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char tier[1024];
        if (len == 0)
            return papi_error_set(err, PAPI_ECONFIG, "%s: empty tier %zu", o->key, tiers + 1);
        if (len >= sizeof tier)
            return papi_error_set(err, PAPI_ECONFIG, "%s: tier %zu too long", o->key, tiers + 1);
        memcpy(tier, p, len);
        tier[len] = '\0';
        if (!papi__cache_find(tier))
            return papi_error_set(err, PAPI_ECONFIG,
                                  "%s: tier %zu is not memory, none or redis://host:port/db",
                                  o->key, tiers + 1);
        if (++tiers > PAPI__MAX_CACHE_TIERS)
            return papi_error_set(err, PAPI_ECONFIG, "%s: more than %d tiers", o->key,
                                  PAPI__MAX_CACHE_TIERS);
        if (!comma)
            return PAPI_OK;
        p = comma + 1;
    }
}

static papi_status parse_protocol(const option *o, const char *v, int64_t *num, papi_error *err)
{
    (void)num;
    if (*v == '\0' || strcasecmp(v, "https") == 0 || strcasecmp(v, "http") == 0)
        return PAPI_OK;
    return papi_error_set(err, PAPI_ECONFIG, "%s: expected https or http", o->key);
}

static papi_status parse_auth(const option *o, const char *v, int64_t *num, papi_error *err)
{
    (void)num;
    static const char *const known[] = {"KEYPAIR_JWT", "SNOWFLAKE_JWT", "OAUTH",
                                        "PROGRAMMATIC_ACCESS_TOKEN"};
    if (*v == '\0')
        return PAPI_OK;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcasecmp(v, known[i]) == 0)
            return PAPI_OK;
    return papi_error_set(err, PAPI_ECONFIG,
                          "%s: expected KEYPAIR_JWT, OAUTH or PROGRAMMATIC_ACCESS_TOKEN", o->key);
}

static int find_option(const char *key)
{
    for (size_t i = 0; i < NOPT; i++)
        if (strcmp(options[i].key, key) == 0)
            return (int)i;
    return -1;
}

papi_status papi_config_create(papi_config **out)
{
    if (!out)
        return PAPI_EINVAL;
    *out = NULL;
    papi_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return PAPI_ENOMEM;
    const char *demo = papi__demo_db_path();
    size_t len = strlen(demo);
    cfg->default_source = malloc(7 + len + 1);
    if (!cfg->default_source) {
        free(cfg);
        return PAPI_ENOMEM;
    }
    memcpy(cfg->default_source, "sqlite:", 7);
    memcpy(cfg->default_source + 7, demo, len + 1);
    for (size_t i = 0; i < NOPT; i++) {
        if (options[i].def && options[i].parse == parse_int) {
            papi_status st = parse_int(&options[i], options[i].def, &cfg->nums[i], NULL);
            assert(st == PAPI_OK);
            (void)st;
        }
    }
    cfg->log_max = PAPI_LOG_INFO;
    *out = cfg;
    return PAPI_OK;
}

void papi_config_destroy(papi_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < NOPT; i++) {
        if (cfg->values[i] && options[i].secret)
            memset(cfg->values[i], 0, strlen(cfg->values[i]));
        free(cfg->values[i]);
    }
    free(cfg->default_source);
    free(cfg->transport.spec);
    for (size_t i = 0; i < cfg->ncaches; i++)
        free(cfg->caches[i].spec);
    free(cfg);
}

static papi_status set_index(papi_config *cfg, size_t i, const char *value, papi_error *err)
{
    int64_t num = 0;
    papi_status st = options[i].parse(&options[i], value, &num, err);
    if (st != PAPI_OK)
        return st;
    char *copy = strdup(value);
    if (!copy)
        return papi_error_set(err, PAPI_ENOMEM, "%s: out of memory", options[i].key);
    if (cfg->values[i] && options[i].secret)
        memset(cfg->values[i], 0, strlen(cfg->values[i]));
    free(cfg->values[i]);
    cfg->values[i] = copy;
    if (options[i].parse == parse_int)
        cfg->nums[i] = num;
    return PAPI_OK;
}

papi_status papi_config_set(papi_config *cfg, const char *key, const char *value, papi_error *err)
{
    if (!cfg || !key || !value)
        return papi_error_set(err, PAPI_EINVAL, "configuration, key and value are required");
    int i = find_option(key);
    if (i < 0)
        return papi_error_set(err, PAPI_EINVAL, "unknown option '%.64s'", key);
    return set_index(cfg, (size_t)i, value, err);
}

papi_status papi_config_load_env(papi_config *cfg, papi_error *err)
{
    if (!cfg)
        return papi_error_set(err, PAPI_EINVAL, "configuration is required");
    for (size_t i = 0; i < NOPT; i++) {
        const char *v = getenv(options[i].env);
        /* container specs often declare a variable with no value: that means "not set" */
        if (!v || !*v)
            continue;
        papi_status st = set_index(cfg, i, v, err);
        if (st != PAPI_OK) {
            if (err) {
                /* the message already names the key; say where the value came from */
                char msg[sizeof err->message];
                papi_strlcpy(msg, err->message, sizeof msg);
                papi_error_set(err, st, "environment %s: %s", options[i].env, msg);
            }
            return st;
        }
    }
    return PAPI_OK;
}

const char *papi_config_get(const papi_config *cfg, const char *key)
{
    if (!cfg || !key)
        return NULL;
    int i = find_option(key);
    if (i < 0)
        return NULL;
    const char *v = cfg->values[i];
    if (strcmp(key, "source") == 0 && (!v || !*v)) {
        /* computed, not stored: a later snowflake-account must still change it */
        const char *account = papi_config_get(cfg, "snowflake-account");
        if ((account && *account) || access(SPCS_TOKEN_FILE, F_OK) == 0)
            return "snowflake";
        return cfg->default_source;
    }
    return v ? v : options[i].def;
}

size_t papi_config_option_count(void)
{
    return NOPT;
}

const char *papi_config_option_key(size_t index, const char **env_var, int *secret)
{
    if (index >= NOPT)
        return NULL;
    if (env_var)
        *env_var = options[index].env;
    if (secret)
        *secret = options[index].secret ? 1 : 0;
    return options[index].key;
}

papi_status papi_config_set_log(papi_config *cfg, papi_log_fn fn, void *user,
                                papi_log_level max_level)
{
    if (!cfg || max_level < PAPI_LOG_ERROR || max_level > PAPI_LOG_DEBUG)
        return PAPI_EINVAL;
    cfg->log_fn = fn;
    cfg->log_user = user;
    cfg->log_max = max_level;
    return PAPI_OK;
}

papi_status papi_config_set_clock(papi_config *cfg, papi_clock_fn now_ms, void *user)
{
    if (!cfg)
        return PAPI_EINVAL;
    cfg->clock_fn = now_ms;
    cfg->clock_user = now_ms ? user : NULL;
    return PAPI_OK;
}

/* The struct sizes of ABI version 1: a newer header may append members, never remove them. */
#define TRANSPORT_V1_SIZE (offsetof(papi_transport_backend, ping) + sizeof(void (*)(void)))
#define CACHE_V1_SIZE (offsetof(papi_cache_backend, put) + sizeof(void (*)(void)))

papi_status papi_config_set_transport(papi_config *cfg, const papi_transport_backend *backend,
                                      const char *spec, void *user)
{
    if (!cfg || !backend || backend->abi_version == 0 ||
        backend->abi_version > PAPI_TRANSPORT_ABI_VERSION ||
        backend->struct_size < TRANSPORT_V1_SIZE || !backend->open || !backend->fetch)
        return PAPI_EINVAL;
    char *copy = strdup(spec ? spec : "");
    if (!copy)
        return PAPI_ENOMEM;
    free(cfg->transport.spec);
    cfg->transport = (papi__attached){backend, copy, user};
    cfg->has_transport = true;
    return PAPI_OK;
}

papi_status papi_config_add_cache(papi_config *cfg, const papi_cache_backend *backend,
                                  const char *spec, void *user)
{
    if (!cfg || !backend || backend->abi_version == 0 ||
        backend->abi_version > PAPI_CACHE_ABI_VERSION || backend->struct_size < CACHE_V1_SIZE ||
        !backend->open || !backend->get || !backend->put || cfg->ncaches >= PAPI__MAX_CACHE_TIERS)
        return PAPI_EINVAL;
    char *copy = strdup(spec ? spec : "");
    if (!copy)
        return PAPI_ENOMEM;
    cfg->caches[cfg->ncaches++] = (papi__attached){backend, copy, user};
    return PAPI_OK;
}

int64_t papi__config_int(const papi_config *cfg, const char *key)
{
    int i = find_option(key);
    assert(i >= 0 && options[i].parse == parse_int);
    return cfg->nums[i];
}

papi_config *papi__config_copy(const papi_config *cfg)
{
    papi_config *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = *cfg;
    /* detach every owned pointer first so a failure half-way frees only what was copied */
    memset(c->values, 0, sizeof c->values);
    c->default_source = NULL;
    c->transport.spec = NULL;
    for (size_t i = 0; i < c->ncaches; i++)
        c->caches[i].spec = NULL;
    bool ok = (c->default_source = strdup(cfg->default_source)) != NULL;
    for (size_t i = 0; ok && i < NOPT; i++)
        if (cfg->values[i])
            ok = (c->values[i] = strdup(cfg->values[i])) != NULL;
    if (ok && cfg->transport.spec)
        ok = (c->transport.spec = strdup(cfg->transport.spec)) != NULL;
    for (size_t i = 0; ok && i < c->ncaches; i++)
        ok = (c->caches[i].spec = strdup(cfg->caches[i].spec)) != NULL;
    if (!ok) {
        papi_config_destroy(c);
        return NULL;
    }
    return c;
}

const papi__attached *papi__config_transport(const papi_config *cfg)
{
    return cfg->has_transport ? &cfg->transport : NULL;
}

size_t papi__config_caches(const papi_config *cfg, const papi__attached **out)
{
    *out = cfg->caches;
    return cfg->ncaches;
}

void papi__config_clock(const papi_config *cfg, papi_clock_fn *fn, void **user)
{
    *fn = cfg->clock_fn;
    *user = cfg->clock_user;
}

void papi__config_log(const papi_config *cfg, papi_log_fn *fn, void **user,
                      papi_log_level *max_level)
{
    *fn = cfg->log_fn;
    *user = cfg->log_user;
    *max_level = cfg->log_max;
}
