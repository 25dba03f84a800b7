/* The redis cache's options. Compiled into every libpapi, with Redis or without, so that naming
 * one in a build without it says the backend is not built in. */
#include "redis_options.h"

#include <stdint.h>

const papi_option papi__redis_options[] = {
    {"redis-timeout-ms", "PAPI_REDIS_TIMEOUT_MS", PAPI_OPTION_INT, "200", 1, INT64_C(600000), 0,
     "milliseconds one Redis call may take, waiting for and opening a connection included", NULL},
    /* a customer row is ~600 bytes; Redis's own proto-max-bulk-len is 512 MiB */
    {"redis-max-row-bytes", "PAPI_REDIS_MAX_ROW_BYTES", PAPI_OPTION_INT, "1048576", 1024,
     INT64_C(536870912), 0,
     "rows larger than this are neither stored in Redis nor accepted from it", NULL},
};
const size_t papi__redis_noptions = sizeof papi__redis_options / sizeof papi__redis_options[0];
_Static_assert(sizeof papi__redis_options / sizeof papi__redis_options[0] == PAPI__REDIS_NOPTIONS,
               "PAPI__REDIS_NOPTIONS is the number of options");
