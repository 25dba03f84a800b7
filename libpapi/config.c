/* A configuration: the values set (from the environment, flags or setters), each checked by its
 * option's descriptor when set (options.c), so a client never meets a bad value; the plug-ins
 * attached, as copies of their tables; the log callback and the clock. */
#include "internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct value {
    const papi_option *opt; /* static (core, built-in) or an attached plug-in's */
    char *text;
    int64_t num; /* INT and BOOL options */
} value;

struct papi_config {
    value *values; /* only those set; the rest are their descriptor's default */
    size_t nvalues, cap;
    papi__attached_transport transports[PAPI__MAX_SOURCES]; /* the chain, first asked first */
    size_t ntransports;
    papi__attached_cache caches[PAPI__MAX_CACHE_TIERS];
    size_t ncaches;
    papi_log_fn log_fn;
    void *log_user;
    papi_log_level log_max;
    papi_clock_fn clock_fn; /* NULL: papi_now_ms */
    void *clock_user;
};

/* ------------------------------------------------------------- descriptors */

static const papi_option *in_table(const papi_option *opts, size_t n, const char *key)
{
    for (size_t i = 0; opts && i < n; i++)
        if (strcmp(opts[i].key, key) == 0)
            return &opts[i];
    return NULL;
}

/* The core's and built-ins' option of that key, else an attached plug-in's. */
static const papi_option *find(const papi_config *cfg, const char *key, const char **not_built)
{
    const papi_option *o = papi__option_builtin(key, not_built);
    if (o)
        return o;
    for (size_t i = 0; i < cfg->ntransports; i++)
        if ((o = in_table(cfg->transports[i].table.options, cfg->transports[i].table.noptions,
                          key)))
            return o;
    for (size_t i = 0; i < cfg->ncaches; i++)
        if ((o = in_table(cfg->caches[i].table.options, cfg->caches[i].table.noptions, key)))
            return o;
    return NULL;
}

static value *value_of(const papi_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->nvalues; i++)
        if (strcmp(cfg->values[i].opt->key, key) == 0)
            return &cfg->values[i];
    return NULL;
}

static void wipe(const papi_option *o, char *text)
{
    if (text && (o->flags & PAPI_OPTION_SECRET))
        explicit_bzero(text, strlen(text));
    free(text);
}

/* ------------------------------------------------------------- the object */

papi_status papi_config_create(papi_config **out)
{
    if (!out)
        return PAPI_EINVAL;
    *out = NULL;
    papi_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return PAPI_ENOMEM;
    cfg->log_max = PAPI_LOG_INFO;
    *out = cfg;
    return PAPI_OK;
}

void papi_config_destroy(papi_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nvalues; i++)
        wipe(cfg->values[i].opt, cfg->values[i].text);
    free(cfg->values);
    for (size_t i = 0; i < cfg->ntransports; i++)
        free(cfg->transports[i].spec);
    for (size_t i = 0; i < cfg->ncaches; i++)
        free(cfg->caches[i].spec);
    free(cfg);
}

static papi_status set_option(papi_config *cfg, const papi_option *o, const char *text,
                              papi_error *err)
{
    int64_t num = 0;
    papi_status st = papi__option_parse(o, text, &num, err);
    if (st != PAPI_OK)
        return st;
    value *v = value_of(cfg, o->key);
    if (!v && cfg->nvalues == cfg->cap) {
        size_t cap = cfg->cap ? cfg->cap * 2 : 16;
        value *grown = realloc(cfg->values, cap * sizeof *grown);
        if (!grown)
            return papi_error_set(err, PAPI_ENOMEM, "%s: out of memory", o->key);
        cfg->values = grown;
        cfg->cap = cap;
    }
    char *copy = strdup(text);
    if (!copy)
        return papi_error_set(err, PAPI_ENOMEM, "%s: out of memory", o->key);
    if (v)
        wipe(v->opt, v->text);
    else
        v = &cfg->values[cfg->nvalues++];
    *v = (value){o, copy, num};
    return PAPI_OK;
}

papi_status papi_config_set(papi_config *cfg, const char *key, const char *value, papi_error *err)
{
    if (!cfg || !key || !value)
        return papi_error_set(err, PAPI_EINVAL, "configuration, key and value are required");
    const char *off = NULL;
    const papi_option *o = find(cfg, key, &off);
    if (!o && off)
        return papi_error_set(err, PAPI_ECONFIG,
                              "%.64s: the %s backend is not built into this libpapi", key, off);
    if (!o)
        return papi_error_set(err, PAPI_EINVAL, "unknown option '%.64s'", key);
    return set_option(cfg, o, value, err);
}

/* Sets the option from its environment variable, when that is set and not empty (container
 * specs often declare a variable with no value: that means "not set"). */
static papi_status load_one(papi_config *cfg, const papi_option *o, papi_error *err)
{
    const char *v = o->env ? getenv(o->env) : NULL;
    if (!v || !*v)
        return PAPI_OK;
    papi_status st = set_option(cfg, o, v, err);
    if (st != PAPI_OK && err) {
        /* the message already names the key; say where the value came from */
        char msg[sizeof err->message];
        papi_strlcpy(msg, err->message, sizeof msg);
        papi_error_set(err, st, "environment %s: %s", o->env, msg);
    }
    return st;
}

papi_status papi_config_load_env(papi_config *cfg, papi_error *err)
{
    if (!cfg)
        return papi_error_set(err, PAPI_EINVAL, "configuration is required");
    papi_status st = PAPI_OK;
    papi_option o;
    for (size_t i = 0; st == PAPI_OK && papi_config_option_info(i, &o) == PAPI_OK; i++) {
        const char *off;
        st = load_one(cfg, papi__option_builtin(o.key, &off), err);
    }
    for (size_t t = 0; st == PAPI_OK && t < cfg->ntransports; t++)
        for (size_t i = 0; st == PAPI_OK && i < cfg->transports[t].table.noptions; i++)
            st = load_one(cfg, &cfg->transports[t].table.options[i], err);
    for (size_t c = 0; st == PAPI_OK && c < cfg->ncaches; c++)
        for (size_t i = 0; st == PAPI_OK && i < cfg->caches[c].table.noptions; i++)
            st = load_one(cfg, &cfg->caches[c].table.options[i], err);
    return st;
}

const char *papi_config_get(const papi_config *cfg, const char *key)
{
    if (!cfg || !key)
        return NULL;
    const value *v = value_of(cfg, key);
    if (v)
        return v->text;
    const char *off;
    const papi_option *o = find(cfg, key, &off);
    return o ? o->def : NULL;
}

static papi_status get_num(const papi_config *cfg, const char *key, papi_option_type type,
                           int64_t *out)
{
    if (!cfg || !key || !out)
        return PAPI_EINVAL;
    const char *off;
    const papi_option *o = find(cfg, key, &off);
    if (!o || o->type != type)
        return PAPI_EINVAL;
    const value *v = value_of(cfg, key);
    if (v) {
        *out = v->num;
        return PAPI_OK;
    }
    int64_t n;
    if (!o->def || papi__option_parse(o, o->def, &n, NULL) != PAPI_OK)
        return PAPI_ECONFIG;
    *out = n;
    return PAPI_OK;
}

papi_status papi_config_get_int(const papi_config *cfg, const char *key, int64_t *out)
{
    return get_num(cfg, key, PAPI_OPTION_INT, out);
}

papi_status papi_config_get_bool(const papi_config *cfg, const char *key, int *out)
{
    int64_t n;
    papi_status st = get_num(cfg, key, PAPI_OPTION_BOOL, out ? &n : NULL);
    if (st == PAPI_OK)
        *out = n ? 1 : 0;
    return st;
}

int64_t papi__config_num(const papi_config *cfg, const char *key)
{
    int64_t n = 0;
    papi_status st = papi_config_get_int(cfg, key, &n);
    assert(st == PAPI_OK);
    (void)st;
    return n;
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

/* ------------------------------------------------------------- plug-in tables */

/* The sizes of ABI version 1: a newer header appends members, never removes them. */
#define TRANSPORT_V1_SIZE (offsetof(papi_transport_backend, ping) + sizeof(void (*)(void)))
#define CACHE_V1_SIZE (offsetof(papi_cache_backend, put) + sizeof(void (*)(void)))

static bool options_valid(const papi_option *opts, size_t n)
{
    if (n && !opts)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!papi__option_valid(&opts[i]))
            return false;
    return true;
}

bool papi__transport_copy(const papi_transport_backend *src, papi_transport_backend *dst)
{
    if (!src || src->abi_version == 0 || src->abi_version > PAPI_TRANSPORT_ABI_VERSION ||
        src->struct_size < TRANSPORT_V1_SIZE || src->flags != 0)
        return false;
    memset(dst, 0, sizeof *dst);
    memcpy(dst, src, src->struct_size < sizeof *dst ? src->struct_size : sizeof *dst);
    dst->struct_size = sizeof *dst;
    return dst->open && dst->fetch && options_valid(dst->options, dst->noptions);
}

bool papi__cache_copy(const papi_cache_backend *src, papi_cache_backend *dst)
{
    if (!src || src->abi_version == 0 || src->abi_version > PAPI_CACHE_ABI_VERSION ||
        src->struct_size < CACHE_V1_SIZE || (src->flags & ~PAPI_CACHE_IN_PROCESS) != 0)
        return false;
    memset(dst, 0, sizeof *dst);
    memcpy(dst, src, src->struct_size < sizeof *dst ? src->struct_size : sizeof *dst);
    dst->struct_size = sizeof *dst;
    return dst->open && dst->get && dst->put && options_valid(dst->options, dst->noptions);
}

static papi_status attach_transport(papi_config *cfg, const papi_transport_backend *backend,
                                    const char *spec, void *user, bool replace)
{
    papi_transport_backend table;
    if (!cfg || (!replace && cfg->ntransports >= PAPI__MAX_SOURCES) ||
        !papi__transport_copy(backend, &table))
        return PAPI_EINVAL;
    char *copy = strdup(spec ? spec : "");
    if (!copy)
        return PAPI_ENOMEM;
    if (replace) {
        for (size_t i = 0; i < cfg->ntransports; i++)
            free(cfg->transports[i].spec);
        cfg->ntransports = 0;
    }
    cfg->transports[cfg->ntransports++] = (papi__attached_transport){table, copy, user};
    return PAPI_OK;
}

papi_status papi_config_set_transport(papi_config *cfg, const papi_transport_backend *backend,
                                      const char *spec, void *user)
{
    return attach_transport(cfg, backend, spec, user, true);
}

papi_status papi_config_add_transport(papi_config *cfg, const papi_transport_backend *backend,
                                      const char *spec, void *user)
{
    return attach_transport(cfg, backend, spec, user, false);
}

papi_status papi_config_add_cache(papi_config *cfg, const papi_cache_backend *backend,
                                  const char *spec, void *user)
{
    papi_cache_backend table;
    if (!cfg || cfg->ncaches >= PAPI__MAX_CACHE_TIERS || !papi__cache_copy(backend, &table))
        return PAPI_EINVAL;
    char *copy = strdup(spec ? spec : "");
    if (!copy)
        return PAPI_ENOMEM;
    cfg->caches[cfg->ncaches++] = (papi__attached_cache){table, copy, user};
    return PAPI_OK;
}

/* ------------------------------------------------------------- for the client */

papi_config *papi__config_copy(const papi_config *cfg)
{
    papi_config *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = *cfg;
    /* detach every owned pointer first so a failure half-way frees only what was copied */
    c->values = NULL;
    c->nvalues = c->cap = 0;
    for (size_t i = 0; i < c->ntransports; i++)
        c->transports[i].spec = NULL;
    for (size_t i = 0; i < c->ncaches; i++)
        c->caches[i].spec = NULL;
    bool ok = true;
    if (cfg->nvalues) {
        ok = (c->values = calloc(cfg->nvalues, sizeof *c->values)) != NULL;
        c->cap = ok ? cfg->nvalues : 0;
    }
    for (size_t i = 0; ok && i < cfg->nvalues; i++) {
        c->values[i] = cfg->values[i];
        ok = (c->values[i].text = strdup(cfg->values[i].text)) != NULL;
        c->nvalues = i + 1;
    }
    for (size_t i = 0; ok && i < c->ntransports; i++)
        ok = (c->transports[i].spec = strdup(cfg->transports[i].spec)) != NULL;
    for (size_t i = 0; ok && i < c->ncaches; i++)
        ok = (c->caches[i].spec = strdup(cfg->caches[i].spec)) != NULL;
    if (!ok) {
        papi_config_destroy(c);
        return NULL;
    }
    return c;
}

size_t papi__config_transports(const papi_config *cfg, const papi__attached_transport **out)
{
    *out = cfg->transports;
    return cfg->ntransports;
}

size_t papi__config_caches(const papi_config *cfg, const papi__attached_cache **out)
{
    *out = cfg->caches;
    return cfg->ncaches;
}

void papi__config_log(const papi_config *cfg, papi_log_fn *fn, void **user,
                      papi_log_level *max_level)
{
    *fn = cfg->log_fn;
    *user = cfg->log_user;
    *max_level = cfg->log_max;
}

void papi__config_clock(const papi_config *cfg, papi_clock_fn *fn, void **user)
{
    *fn = cfg->clock_fn;
    *user = cfg->clock_user;
}
