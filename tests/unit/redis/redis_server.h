/* A real redis-server for one test: started on a free loopback port, killed at the end (and by
 * the kernel if the test dies first). */
#ifndef PAPI_TEST_REDIS_SERVER_H
#define PAPI_TEST_REDIS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct test_redis {
    pid_t pid;
    int port;
    char password[64]; /* "" when none */
} test_redis;

/* A loopback TCP port nobody listens on right now. */
int test_redis_free_port(void);
/* Starts redis-server on r->port (0: pick one) with r->password; waits until it answers PING.
 * Returns false (and leaves nothing running) when it did not come up within 10 s. */
bool test_redis_start(test_redis *r);
/* SIGKILL (like a crash) and reaps it. Safe when not running. */
void test_redis_kill(test_redis *r);
/* Runs one command on db @p db (with AUTH when r->password is set); returns the integer reply or
 * the length of a string reply, -1 for nil, -2 on any failure. */
long long test_redis_cmd(const test_redis *r, int db, const char *fmt, const char *arg);

/* The first key matching pattern (KEYS), copied into out; false when none or on failure. */
bool test_redis_find_key(const test_redis *r, int db, const char *pattern, char *out, size_t cap);
/* SET key value (binary-safe, len bytes); false on failure. */
bool test_redis_set(const test_redis *r, int db, const char *key, const char *value, size_t len);

/* connected_clients from INFO (this query's own connection included); -1 on failure. */
int test_redis_clients(const test_redis *r);
/* Reads papi has made so far: the calls of GET and MGET from INFO commandstats; -1 on failure. */
long test_redis_reads(const test_redis *r);

#endif
