/* Connections to one Redis for the redis cache tier (redis.c): the URL, the pool, and the
 * outage state with its reconnect backoff. Private to the redis backend. */
#ifndef PAPI_REDIS_POOL_H
#define PAPI_REDIS_POOL_H

#include "redis_conn.h"
#include "redis_options.h"

#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct papi__redis_pool papi__redis_pool;

/* Parses spec (redis://[:password@]host[:port][/db]) and the redis-timeout-ms,
 * redis-max-row-bytes and pool-size options of cfg (may be NULL), then warms one connection.
 * Redis being down is not an error: the pool starts in an outage and reconnects later. */
papi_status papi__redis_pool_open(const char *spec, const papi_config *cfg, const papi_host *host,
                                  papi__redis_pool **out, papi_error *err);
void papi__redis_pool_close(papi__redis_pool *pool);

/* A connection for one call, or NULL: Redis is down, backing off, or no connection was free or
 * could be opened (connect, AUTH, SELECT) before deadline_ms (the host's clock). */
papi__redis_conn *papi__redis_pool_acquire(papi__redis_pool *pool, int64_t deadline_ms);
/* Gives a connection back. failure is NULL when the connection is healthy, else the reason it
 * broke (it is closed, and an outage begins unless one is already running). */
void papi__redis_pool_release(papi__redis_pool *pool, papi__redis_conn *conn, const char *failure);
/* Logs a refused command (r may be NULL or of an unexpected type), at most once a minute. */
void papi__redis_pool_note_reply_error(papi__redis_pool *pool, const redisReply *r);
/* Logs that a value under papi's prefix was not in papi's layout, at most once a minute. */
void papi__redis_pool_note_bad_value(papi__redis_pool *pool);
/* redis-timeout-ms: the budget of one backend call, from acquiring a connection to its replies. */
int64_t papi__redis_pool_timeout_ms(const papi__redis_pool *pool);
/* redis-max-row-bytes: rows above it are not stored, and longer values are refused on read. */
size_t papi__redis_pool_row_max(const papi__redis_pool *pool);

#endif
