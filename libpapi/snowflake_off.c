/* papi_snowflake.h in a library built without the snowflake backend: the same exports, each a
 * configuration error, so tools and bindings link against every build alike. */
#include "internal.h"

#include <papi/papi_snowflake.h>

static papi_status not_built(papi_error *err)
{
    return papi_error_set(err, PAPI_ECONFIG,
                          "the snowflake backend is not built into this libpapi");
}

papi_status papi_snowflake_fingerprint(const papi_config *cfg, char *out, size_t cap,
                                       papi_error *err)
{
    (void)cfg;
    if (out && cap)
        out[0] = '\0';
    return not_built(err);
}

papi_status papi_snowflake_jwt(const papi_config *cfg, int64_t lifetime_s, char **out,
                               papi_error *err)
{
    (void)cfg, (void)lifetime_s;
    if (out)
        *out = NULL;
    return not_built(err);
}

papi_status papi_snowflake_token(const papi_config *cfg, const char *endpoint, const char *role,
                                 char **out, papi_error *err)
{
    (void)cfg, (void)endpoint, (void)role;
    if (out)
        *out = NULL;
    return not_built(err);
}
