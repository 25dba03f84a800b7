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
void papi__coalesce_finish(papi__coalescer *co, papi__flight *f, papi_blob *row,
                           papi_status status, const papi_error *err);
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
    struct {
        atomic_uint_fast64_t lookups, cache_hits, cache_negative_hits, cache_misses,
            cache_errors, coalesced_waits, source_calls, source_errors, source_latency_us,
            stale_served, token_renewals, fetches_in_flight;
    } stats;
};

#define PAPI__COUNT(client, field, delta)                                                     \
    atomic_fetch_add_explicit(&(client)->stats.field, (uint_fast64_t)(delta),                 \
                              memory_order_relaxed)

void papi__client_log(const papi_client *client, papi_log_level level, const char *fmt, ...)
    PAPI__PRINTF(3, 4);

/* ------------------------------------------------------------- result.c */
/* Takes ownership of the n row references in rows. NULL on ENOMEM (rows are then released). */
papi_result *papi__result_create(papi_blob **rows, size_t n, papi_cache_outcome outcome);

#endif /* PAPI_CORE_H */
