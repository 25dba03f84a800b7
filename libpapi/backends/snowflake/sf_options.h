/* The snowflake transport's option descriptors (options.c), apart from everything that needs
 * libcurl or OpenSSL: they are compiled into every libpapi, with Snowflake or without. */
#ifndef PAPI_SF_OPTIONS_H
#define PAPI_SF_OPTIONS_H

#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <stddef.h>

#define PAPI__SNOWFLAKE_NOPTIONS 22
extern const papi_option papi__snowflake_options[PAPI__SNOWFLAKE_NOPTIONS];
extern const size_t papi__snowflake_noptions;

#endif
