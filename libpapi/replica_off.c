/* papi_replica.h's replica calls in a library built without the sqlite backend: the same
 * exports, each a configuration error, so tools and bindings link against every build alike.
 * papi_client_scan() (scan.c) is built either way: a source of any kind may scan. */
#include "internal.h"

#include <papi/papi_replica.h>

static papi_status not_built(papi_error *err)
{
    return papi_error_set(err, PAPI_ECONFIG, "the sqlite backend is not built into this libpapi");
}

papi_status papi_replica_sync(papi_client *source, const char *dataset, const char *path,
                              const papi_replica_opts *opts, papi_replica_info *out,
                              papi_error *err)
{
    (void)source, (void)dataset, (void)path, (void)opts, (void)out;
    return not_built(err);
}

papi_status papi_replica_stat(const char *path, papi_replica_info *out, papi_error *err)
{
    (void)path, (void)out;
    return not_built(err);
}
