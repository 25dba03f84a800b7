/* A cache that keeps nothing, so every lookup reaches the source: for measuring the source and
 * for deployments that must never hold customer data in memory. */
#include <papi/papi.h>
#include <papi/papi_backend.h>

static papi_status none_open(const char *spec, const papi_config *cfg, const papi_host *host,
                             void *user, void **state, papi_error *err)
{
    (void)spec;
    (void)cfg;
    (void)host;
    (void)user;
    (void)err;
    *state = NULL;
    return PAPI_OK;
}

static void none_close(void *state)
{
    (void)state;
}

static papi_status none_get(void *state, const papi_key *keys, size_t n, papi_cache_entry *out,
                            papi_error *err)
{
    (void)state;
    (void)keys;
    (void)err;
    for (size_t i = 0; i < n; i++) {
        out[i].state = PAPI_CACHE_MISS;
        out[i].row = NULL;
        out[i].fresh_ms = 0;
    }
    return PAPI_OK;
}

static papi_status none_put(void *state, const papi_key *keys, papi_blob *const *rows, size_t n,
                            const papi_cache_ttl *ttl, papi_error *err)
{
    (void)state;
    (void)keys;
    (void)rows;
    (void)n;
    (void)ttl;
    (void)err;
    return PAPI_OK;
}

/* Found by name in libpapi/backends.c. */
const papi_cache_backend papi__cache_none = {
    .abi_version = PAPI_CACHE_ABI_VERSION,
    .struct_size = sizeof(papi_cache_backend),
    .name = "none",
    .flags = PAPI_CACHE_IN_PROCESS,
    .open = none_open,
    .close = none_close,
    .get = none_get,
    .put = none_put,
};
