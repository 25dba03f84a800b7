/* A hostile Redis for tests: it speaks enough RESP for papi's redis tier (PING, AUTH, SELECT,
 * GET, MGET, SET) and misbehaves in one chosen way. It runs in threads of the test process (or
 * standalone: tests/integration/redis/hostile_redis.c) on a free loopback port, and counts what
 * it did so a test can assert that its fault was really injected and how the client reacted. */
#ifndef PAPI_TEST_FAKE_REDIS_H
#define PAPI_TEST_FAKE_REDIS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum fake_redis_mode {
    FAKE_REDIS_DRIP,       /* every reply, handshake included: one byte per drip_ms, a line
                              that never ends */
    FAKE_REDIS_DRIP_GET,   /* handshake and SET answered at once; GET/MGET dripped */
    FAKE_REDIS_DRIP_SET,   /* handshake and GET/MGET (nil) at once; SET dripped */
    FAKE_REDIS_HUGE_ARRAY, /* GET/MGET: "*1000000000" then ":1" elements as fast as it goes */
    FAKE_REDIS_HUGE_BULK,  /* GET/MGET: "$1073741824" then 'x' as fast as it goes */
    FAKE_REDIS_VALUE       /* GET/MGET: `value` for every key; SET is answered and forgotten */
} fake_redis_mode;

#define FAKE_REDIS_MAX_CONNS 64

typedef struct fake_redis {
    /* set before fake_redis_start() */
    fake_redis_mode mode;
    int drip_ms;             /* 0: 100 */
    int drip_max_ms;         /* a dripped reply gives up (closes) after this; 0: 20000 */
    size_t stream_max_bytes; /* a streamed reply gives up (closes) after this; 0: 64 MiB */
    char value[8192];        /* FAKE_REDIS_VALUE */
    size_t value_len;

    /* results, readable at any time */
    int port;
    atomic_int connections; /* accepted */
    atomic_int commands;    /* parsed, of any kind */
    atomic_int faulty;      /* replies sent the hostile way (dripped, streamed, garbage) */
    atomic_int dropped;     /* hostile replies the client hung up on before they ended */
    atomic_int finished;    /* hostile replies the fake ended itself (the client never gave up) */
    atomic_size_t max_sent; /* the most bytes one hostile reply got out */

    /* internals */
    bool running;
    int listen_fd;
    atomic_bool stop;
    pthread_t acceptor;
    pthread_mutex_t mu;
    pthread_t conn_threads[FAKE_REDIS_MAX_CONNS];
    int conn_fds[FAKE_REDIS_MAX_CONNS];
    int nconn_threads;
} fake_redis;

/* Listens on a free loopback port (f->port) and serves in background threads. */
bool fake_redis_start(fake_redis *f);
/* Stops every thread and closes every socket. Safe after a failed start. */
void fake_redis_stop(fake_redis *f);

#endif
