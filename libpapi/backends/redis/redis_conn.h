/* One connection to Redis for the redis cache tier: every exchange bounded by a deadline and by
 * limits on the reply. Private to the redis backend (redis_pool.c opens them, redis.c uses them).
 */
#ifndef PAPI_REDIS_CONN_H
#define PAPI_REDIS_CONN_H

#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

/* What one reply may hold: the reader refuses more before allocating it. */
typedef struct papi__redis_limits {
    size_t max_elements; /* of an array reply; 0: no array expected */
    size_t max_string;   /* bytes of one string, status or error */
} papi__redis_limits;

/* Lives as long as its connection; its address is the hiredis reader's privdata. */
typedef struct papi__redis_guard {
    const redisReplyObjectFunctions *dflt; /* hiredis's own constructors, which do the work */
    papi__redis_limits lim;
    bool refused; /* the reply broke a limit */
} papi__redis_guard;

/* A non-blocking hiredis context whose socket is driven by poll() here, never by hiredis's
 * blocking calls: a Redis that answers one byte at a time cannot stretch a call past its
 * deadline. Commands go out through out; gen belongs to the pool. */
typedef struct papi__redis_conn {
    redisContext *ctx;
    const papi_host *clock; /* of every deadline (papi_host_now_ms) */
    uint64_t gen;
    papi__redis_guard guard;
    papi_buf out; /* formatted commands not yet sent */
} papi__redis_conn;

/* Connects, sends AUTH (when password is not NULL) and SELECT (when db != 0), all before
 * deadline_ms (on clock's time: papi_host_now_ms; kept, not copied). Name resolution is the system
 * resolver's and is not under the deadline. NULL on failure, with a reason in why that never holds
 * the password. */
papi__redis_conn *papi__redis_conn_open(const papi_host *clock, const char *host, int port,
                                        const char *password, long db, int64_t deadline_ms,
                                        char *why, size_t why_cap);
/* Closes the socket and frees everything; accepts NULL. */
void papi__redis_conn_close(papi__redis_conn *conn);

/* Queues one command; false when out of memory. */
bool papi__redis_conn_append(papi__redis_conn *conn, int argc, const char **argv,
                             const size_t *lens);
/* Sends what is queued and reads nreplies replies into replies[] (the caller frees each with
 * freeReplyObject), each within lim, all before deadline_ms. Reading stops once the replies
 * could not be legitimate any more: past nreplies * the largest reply lim allows. On failure
 * (I/O, timeout, a broken limit, bytes after the last reply) nothing is left in replies[], why
 * says what happened, and the connection must be closed: its stream is out of step. */
bool papi__redis_conn_exchange(papi__redis_conn *conn, size_t nreplies,
                               const papi__redis_limits *lim, int64_t deadline_ms,
                               redisReply **replies, char *why, size_t why_cap);

#endif
