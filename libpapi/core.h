/* Shared by the core's files (client, lookup, result, coalesce): the client's layout and the
 * coalescing table. Not part of the contract other areas code against (that is internal.h). */
#ifndef PAPI_CORE_H
#define PAPI_CORE_H

#include "internal.h"

#include <stdatomic.h>

/* ------------------------------------------------------------- coalesce.c */
typedef struct papi__coalescer papi__coalescer;
typedef struct papi__flight papi__flight;

papi__coalescer *papi__coalesce_create(void);
void papi__coalesce_destroy(papi__coalescer *co);
/* Joins the fetch in flight for key, or starts one. Returns true when the caller leads (it must
 * call papi__coalesce_finish); false when it follows (it must call papi__coalesce_wait). *out may
 * be NULL for a leader when memory ran out: it fetches alone, and finish ignores NULL. */
bool papi__coalesce_join(papi__coalescer *co, const char *key, size_t len, papi__flight **out);
/* Publishes the leader's outcome: row (NULL = absent) when status is PAPI_OK, else err. Wakes
 * the followers and drops the leader's reference. */
void papi__coalesce_finish(papi__coalescer *co, papi__flight *f, papi_blob *row, papi_status status,
                           const papi_error *err);
/* Waits until the flight is finished or deadline_ms passes (PAPI_ETIMEDOUT). On PAPI_OK *row is
 * a new reference or NULL (absent). Drops the follower's reference. */
papi_status papi__coalesce_wait(papi__coalescer *co, papi__flight *f, int64_t deadline_ms,
                                papi_blob **row, papi_error *err);

/* ------------------------------------------------------------- client.c */
typedef struct papi__tier {
    const papi_cache_backend *backend;
    void *state;
    char *spec; /* for log lines, redacted of passwords */
} papi__tier;

enum {
    PAPI__C_lookups,
    PAPI__C_cache_hits,
    PAPI__C_cache_negative_hits,
    PAPI__C_cache_misses,
    PAPI__C_cache_errors,
    PAPI__C_coalesced_waits,
    PAPI__C_source_calls,
    PAPI__C_source_errors,
    PAPI__C_source_latency_us,
    PAPI__C_stale_served,
    PAPI__C_token_renewals,
    PAPI__C_fetches_in_flight,
    PAPI__C_COUNT
};
#define PAPI__STRIPES 16
typedef struct papi__stripe {
    _Alignas(64) atomic_uint_fast64_t v[PAPI__C_COUNT];
} papi__stripe;

struct papi_client {
    papi_config *cfg;
    papi__datasets *datasets;
    const papi_transport_backend *transport;
    void *transport_state;
    papi__tier tiers[PAPI__MAX_CACHE_TIERS];
    size_t ntiers;
    papi__coalescer *coalescer;
    papi_host host;
    papi_log_fn log_fn;
    void *log_user;
    papi_log_level log_max;
    papi_cache_ttl ttl;
    int64_t timeout_ms;
    size_t max_ids;
    _Atomic int64_t bad_row_log_ms; /* when a tier's bad row was last logged (lookup.c) */
    /* counters striped by thread stack so that threads counting hits do not bounce one
     * cache line between cores; papi_client_stats() sums the stripes */
    papi__stripe stripes[PAPI__STRIPES];
};

static inline void papi__count(papi_client *c, int counter, uint64_t delta)
{
    if (!delta)
        return;
    char probe; /* thread stacks lie megabytes apart: its address picks a stripe */
    uint64_t a = (uint64_t)(uintptr_t)&probe;
    size_t s = (size_t)(((a >> 20) * 0x9E3779B97F4A7C15ULL) >> 60) % PAPI__STRIPES;
    atomic_fetch_add_explicit(&c->stripes[s].v[counter], (uint_fast64_t)delta,
                              memory_order_relaxed);
}
#define PAPI__COUNT(client, field, delta) papi__count((client), PAPI__C_##field, (uint64_t)(delta))

void papi__client_log(const papi_client *client, papi_log_level level, const char *fmt, ...)
    PAPI__PRINTF(3, 4);

/* ------------------------------------------------------------- result.c */
/* Takes ownership of the n row references in rows. NULL on ENOMEM (rows are then released). */
papi_result *papi__result_create(papi_blob **rows, size_t n, papi_cache_outcome outcome);

#endif /* PAPI_CORE_H */
