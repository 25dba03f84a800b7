/* Test doubles for the core's tests: they are plug-ins like any other (STYLE.md), attached with
 * papi_config_set_transport() / papi_config_add_cache(). */
#ifndef PAPI_TEST_FAKES_H
#define PAPI_TEST_FAKES_H

#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* A transport serving customers 1..max_id (18 columns, cells derived from the id). */
typedef struct fake_source {
    int max_id;
    atomic_int calls;      /* fetch calls */
    atomic_int keys_asked; /* sum of n over fetches */
    atomic_int opened, closed, pings;
    /* fault injection: fetch number fail_from, fail_from+1, ... fail with fail_status
     * (0: never); every injected failure is counted so the test can assert it happened */
    int fail_from;
    papi_status fail_status;
    atomic_int failures_injected;
    /* the fetch blocks until the client has counted this many coalesced waits (0: no block) */
    papi_client *client;
    uint64_t block_until_waits;
    int block_only_call; /* block only this fetch number (0: every fetch) */
    int hold_ms;         /* every fetch sleeps this long first */
    atomic_int block_timeouts;
    /* answer shapes a real source may produce */
    bool reverse;    /* rows in the opposite order to the keys */
    bool noisy_keys; /* key cells as "0007.0" instead of "7" */
    bool extra_rows; /* an unasked row and a repeat of every row */
    int bad_rows;    /* 1: rows one cell short; 2: "12x" in a NUMBER column; 3: NULL key */
    /* keys of the last fetch, joined by ',' */
    pthread_mutex_t lock;
    char last_keys[1024];
    /* every fetch's keys in the order the fetches started: "1;2,3,4;5" (while it fits) */
    char fetch_log[8192];
    atomic_int max_keys; /* the most keys one fetch asked for */
    /* while gate_closed is set, fetches wait (counted in gated) until it is cleared; each fetch
     * gives up after 20 s and counts that in block_timeouts */
    atomic_bool gate_closed;
    atomic_int gated;
    /* for a chain of sources: ids below min_id are absent too (0: from 1), and with
     * lacks_dataset fake_chain_transport's holds() says it holds no dataset */
    int min_id;
    atomic_bool lacks_dataset;
} fake_source;

void fake_source_init(fake_source *f, int max_id);
extern const papi_transport_backend fake_transport;
/* The same fake as a replica in a chain: one fetch in flight by default, and holds(). */
extern const papi_transport_backend fake_chain_transport;

/* A cache tier that counts its calls, keeps rows in a small table, and can be made to fail. */
typedef struct spy_cache {
    atomic_int opened, closed, gets, puts, keys_put;
    atomic_int keys_got; /* sum of n over gets */
    atomic_bool failing;
    int hide_until_get; /* gets numbered below this answer MISS for every key */
    int64_t fresh_ms;   /* reported as papi_cache_entry.fresh_ms of FOUND/ABSENT answers */
    pthread_mutex_t lock;
    size_t n;
    struct {
        char key[160];
        size_t key_len;
        papi_blob *row;                /* NULL: absent */
        papi_cache_state state_on_get; /* FOUND/ABSENT, or EXPIRED when forced */
    } items[256];
} spy_cache;

void spy_cache_init(spy_cache *s);
void spy_cache_clear(spy_cache *s);
/* Makes every stored row answer EXPIRED (as a tier past its TTL, within stale_ms). */
void spy_cache_expire_all(spy_cache *s);
extern const papi_cache_backend spy_cache_backend; /* PAPI_CACHE_IN_PROCESS */
/* The same spy without PAPI_CACHE_IN_PROCESS: a cache across the network, as the core sees it. */
extern const papi_cache_backend spy_remote_backend;
/* Stores len bytes as the row of key, as someone else writing to a shared cache would. */
void spy_cache_plant(spy_cache *s, const char *key, const char *row, size_t len);

/* A log callback collecting lines; thread-safe. */
typedef struct log_sink {
    pthread_mutex_t lock;
    int lines;
    int warnings;
    char all[8192];
} log_sink;
void log_sink_init(log_sink *l);
void log_sink_fn(void *user, papi_log_level level, const char *message);

/* One lookup of `list` in dataset customer, run in a thread by lookup_job_run(); the outcome,
 * the row count and the first row's first 40 bytes are kept for the test to check. */
typedef struct lookup_job {
    papi_client *client;
    char list[64];
    papi_status status;
    papi_error err;
    size_t count;
    papi_cache_outcome outcome;
    char first[64];
    pthread_t thread;
} lookup_job;
void *lookup_job_run(void *arg);
/* Runs lookup_job_run() for list on c in a thread of its own; lookup_job_finish() joins it. */
void lookup_job_start(lookup_job *j, papi_client *c, const char *list);
void lookup_job_finish(lookup_job *j);

/* A random list of 1..max_per ids among 1..id_range (at most 16) into list; want gets the
 * distinct ones up to exist, in asked order, and their count is returned. */
int random_ids(unsigned *seed, int max_per, int id_range, int exist, char list[256], int want[16]);
/* Whether r holds exactly the rows of want[0..m), in that order. */
bool answer_holds(const papi_result *r, const int *want, int m);

/* A thread's share of a stress run: `rounds` lookups of 1..max_per random ids among 1..id_range
 * (ids above `exist` do not exist); every answer must hold exactly the existing asked ids, in
 * asked order, or it counts in `bad`. Run stress_run() in a thread. */
typedef struct stress {
    papi_client *client;
    unsigned seed;
    int rounds, max_per, id_range, exist;
    int bad;
} stress;
void *stress_run(void *arg);
/* n threads of stress_run(), each on a copy of tmpl seeded i * seed_mul + seed_add; fails the
 * test when any answer was wrong. */
#define STRESS_MAX_THREADS 16
void stress_threads(const stress *tmpl, int n, unsigned seed_mul, unsigned seed_add);

/* Helpers the core suites share; each fails the running cmocka test when its check fails. */
void sleep_ms(int ms);
/* The client's counters (papi_client_stats). */
papi_stats client_stats(papi_client *c);
/* Bounded polls (20 s: generous on a loaded machine) for a gated fetch count, the dispatcher's
 * queue depth and the coalesced waits. */
void wait_gated(fake_source *src, int n);
void wait_depth(papi_client *c, uint64_t n);
void wait_coalesced(papi_client *c, uint64_t n);

/* A config with the fake transport attached and the given cache spec ("memory", "none"). */
papi_config *fake_config(fake_source *f, const char *cache);

#endif
