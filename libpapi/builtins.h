/* The built-in backends' tables and option descriptors, as backends.c finds them. Each backend
 * defines its own (libpapi/backends/<name>/) against the public headers only; this header is the
 * core's view of them and is included by backends.c alone. A backend left out of the build
 * (meson features) still declares its options, so naming one says it is not built in. */
#ifndef PAPI_BUILTINS_H
#define PAPI_BUILTINS_H

#include <papi/papi_backend.h>

extern const papi_cache_backend papi__cache_memory;
extern const papi_cache_backend papi__cache_none;
#if PAPI_HAVE_SQLITE
extern const papi_transport_backend papi__transport_sqlite;
#endif
#if PAPI_HAVE_SNOWFLAKE
extern const papi_transport_backend papi__transport_snowflake;
#endif
#if PAPI_HAVE_REDIS
extern const papi_cache_backend papi__cache_redis;
#endif

/* libpapi/backends/<name>/options.c: compiled whether or not the backend is */
extern const papi_option papi__snowflake_options[];
extern const size_t papi__snowflake_noptions;
extern const papi_option papi__redis_options[];
extern const size_t papi__redis_noptions;

#endif /* PAPI_BUILTINS_H */
