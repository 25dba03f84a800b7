/* The redis cache's option descriptors (options.c), apart from everything that needs hiredis:
 * they are compiled into every libpapi, with Redis or without. */
#ifndef PAPI_REDIS_OPTIONS_H
#define PAPI_REDIS_OPTIONS_H

#include <papi/papi.h>

#include <stddef.h>

#define PAPI__REDIS_NOPTIONS 2
extern const papi_option papi__redis_options[PAPI__REDIS_NOPTIONS];
extern const size_t papi__redis_noptions;

#endif
