/* Connections to one Redis for the redis cache tier (cache_redis.c): the URL, the pool, and the
 * outage state with its reconnect backoff. Internal to libpapi. */
#ifndef PAPI_REDIS_POOL_H
#define PAPI_REDIS_POOL_H

#include "internal.h"

#include <hiredis/hiredis.h>

typedef struct papi__redis_pool papi__redis_pool;

/* A checked-out connection: the caller sends commands on ctx; gen belongs to the pool. */
typedef struct papi__redis_conn {
    redisContext *ctx;
    uint64_t gen; /* the outage generation it was opened in */
} papi__redis_conn;

/* Parses spec (redis://[:password@]host[:port][/db]) and the redis-timeout-ms and pool-size
 * options of cfg (may be NULL), then warms one connection. Redis being down is not an error:
 * the pool starts in an outage and reconnects later. */
papi_status papi__redis_pool_open(const char *spec, const papi_config *cfg, const papi_host *host,
                                  papi__redis_pool **out, papi_error *err);
void papi__redis_pool_close(papi__redis_pool *pool);

/* A connection for one command, or NULL: Redis is down, backing off, or every connection stayed
 * busy past the timeout. */
papi__redis_conn *papi__redis_pool_acquire(papi__redis_pool *pool);
/* Gives a connection back. failure is NULL when the connection is healthy, else the reason it
 * broke (it is closed, and an outage begins unless one is already running). */
void papi__redis_pool_release(papi__redis_pool *pool, papi__redis_conn *conn, const char *failure);
/* Logs a refused command (r may be NULL or of an unexpected type), at most once a minute. */
void papi__redis_pool_note_reply_error(papi__redis_pool *pool, const redisReply *r);

#endif
