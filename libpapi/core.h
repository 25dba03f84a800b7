/* Shared by the core's files (client, lookup, result, coalesce): the client's layout and the
 * coalescing table. Not part of the contract other areas code against (that is internal.h). */
#ifndef PAPI_CORE_H
#define PAPI_CORE_H

#include "internal.h"

#include <stdatomic.h>

/* ------------------------------------------------------------- coalesce.c */
typedef struct papi__coalescer papi__coalescer;
typedef struct papi__flight papi__flight;

/* clock: the deadlines of papi__coalesce_wait (the client's host); kept, not copied. */
papi__coalescer *papi__coalesce_create(const papi_host *clock);
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

/* Gives up a flight its leader no longer needs, when nobody follows it: it leaves the table (a
 * later miss of the key leads a new one) and is freed; true. False when followers wait on it:
 * the leader must still finish it. */
bool papi__coalesce_abandon(papi__coalescer *co, papi__flight *f);

/* ------------------------------------------------------------- sink.c */
struct papi_row_sink {
    const papi_dataset *ds;
    papi_key_type type;
    size_t key_index;
    size_t ncols;
    const papi_key *ids; /* the ids the fetch asked for */
    papi_blob **rows;    /* rows[i]: ids[i]'s rendered row once the source sent it */
    size_t n;
    papi__keyindex index; /* slot NULL: a linear search (few ids) */
    papi_buf buf;
};
/* Sets rows[0..n) to NULL; false on ENOMEM (call papi__sink_fini all the same). The caller owns
 * the rows the sink creates. */
bool papi__sink_init(papi_row_sink *sink, const papi_dataset *ds, const papi_key *ids,
                     papi_blob **rows, size_t n);
void papi__sink_fini(papi_row_sink *sink);

/* ------------------------------------------------------------- dispatch.c */
/* The miss dispatcher of one source (DESIGN.md): at most `concurrency` fetches in flight; the
 * misses of every request queue (FIFO) while all are busy and the next free slot takes up to
 * `max_batch` of them in one fetch. It starts no thread: requests' own threads send the fetches. */
typedef struct papi__dispatcher papi__dispatcher;

/* One id a request leads. */
typedef struct papi__want {
    papi_key ckey;        /* the cache key "<dataset>:<shape>:<id>" */
    size_t id_off;        /* the id is ckey's bytes from id_off on */
    papi__flight *flight; /* handed over: whoever fetches the id finishes it (publish); out:
                           * when pass_on, the caller's again */
    papi_blob *row;       /* out, when status is PAPI_OK: a reference, or NULL (absent) */
    papi_status status;   /* out: PAPI_OK, the fetch's failure, or PAPI_ETIMEDOUT */
    bool pass_on;         /* out: a source before the last of a chain lacked it (or failed): the
                           * id goes on to the next source with its flight, unpublished */
    size_t tag;           /* the caller's: a chain's steps reorder the wants */
} papi__want;

/* Called by the thread that ran a fetch, before any requester is woken: fills the caches and
 * finishes the flights (of a source before the last of a chain: only those of the rows found;
 * the absent ids go on to the next source). rows[i] (NULL: absent) stay the caller's; on a
 * failure rows are all NULL and err says why. */
typedef void (*papi__publish_fn)(void *ctx, const papi_dataset *ds, const papi_key *ckeys,
                                 papi__flight *const *flights, papi_blob *const *rows, size_t n,
                                 papi_status status, const papi_error *err);

/* Ids a source before the last lacked, whose request gave up meanwhile (followers still wait on
 * them): called, without the dispatcher's lock, by a thread leaving papi__dispatch_fetch, to ask
 * the sources from `next` on for them and publish the outcome. The wants are the callee's to
 * scribble on; their keys are valid during the call. */
typedef void (*papi__pass_on_fn)(void *ctx, size_t next, const papi_dataset *ds, papi__want *w,
                                 size_t n);

typedef struct papi__dispatch_opts {
    papi_client *client; /* counters and log lines */
    const papi_transport_backend *transport;
    void *transport_state;
    size_t position;      /* the source's index in the chain */
    bool last;            /* the last source of the chain: absent ids are published as absent */
    uint32_t concurrency; /* 0: no queue, each request fetches its ids at once */
    size_t max_batch;
    int64_t linger_us;
    int64_t timeout_ms; /* the budget of a fetch whose requester gave up but followers wait */
    papi__publish_fn publish;
    papi__pass_on_fn pass_on; /* ids absent from a source before the last, their request gone */
    void *publish_ctx;        /* of both */
} papi__dispatch_opts;

papi__dispatcher *papi__dispatch_create(const papi__dispatch_opts *opts); /* NULL: ENOMEM */
/* No fetch may be running. Accepts NULL. */
void papi__dispatch_destroy(papi__dispatcher *d);
/* Fetches the n ids of ds that the calling request leads, through the queue, and waits until
 * each has its outcome in w[i] or deadline_ms passes (those then say PAPI_ETIMEDOUT and leave
 * the queue unless a follower still waits on them). The calling thread may send batches holding
 * other requests' ids meanwhile. Returns PAPI_OK when every w[i] is PAPI_OK, else the first
 * failure, described in err. Of a source before the last: an id it lacked (or all of a fetch
 * that failed) says PAPI_OK, row NULL, pass_on, and its flight is the caller's again. */
papi_status papi__dispatch_fetch(papi__dispatcher *d, const papi_dataset *ds, papi__want *w,
                                 size_t n, int64_t deadline_ms, papi_error *err);
/* Ids queued now (a gauge). */
uint64_t papi__dispatch_depth(const papi__dispatcher *d);

/* ------------------------------------------------------------- fetch.c */
/* One fetch of the n ids (ckeys: their cache keys) through o's transport, rows rendered into
 * rows[] (NULL: absent; all NULL after a failure, described in ferr), counted in the client's
 * stats, then published through o->publish before the call returns. at_limit: it took the last
 * free slot. A source before the last of a chain that fails returns PAPI_OK with every row NULL
 * (its ids go on to the next source), the failure counted and logged at most once a minute. */
papi_status papi__fetch_publish(const papi__dispatch_opts *o, const papi_dataset *ds,
                                const papi_key *ckeys, const papi_key *ids,
                                papi__flight *const *flights, papi_blob **rows, size_t n,
                                int64_t deadline_ms, bool at_limit, papi_error *ferr);
/* Queue waits of a batch's ids, counted into the client's histogram once per bucket. */
typedef struct papi__wait_hist {
    uint64_t n[PAPI_STATS_QUEUE_WAIT_BUCKETS];
    uint64_t sum_us;
} papi__wait_hist;
void papi__wait_hist_add(papi__wait_hist *h, int64_t us);
void papi__wait_hist_count(papi_client *c, const papi__wait_hist *h);

/* ------------------------------------------------------------- client.c */
typedef struct papi__tier {
    const papi_cache_backend *backend; /* &table */
    papi_cache_backend table;          /* a zeroed copy (min of the sizes) */
    void *state;
    char *spec; /* for log lines, redacted of passwords */
} papi__tier;

/* One slot per counter of papi_stats, from its one list (PAPI_STATS_MEMBERS in papi.h); a
 * histogram takes one slot per bucket. queue_depth has a slot too, never counted: the dispatcher
 * knows it. */
#define PAPI__SLOT(name) PAPI__C_##name,
#define PAPI__SLOTS(name, n) PAPI__C_##name, PAPI__C_##name##_last = PAPI__C_##name + (n)-1,
enum { PAPI_STATS_MEMBERS(PAPI__SLOT, PAPI__SLOT, PAPI__SLOTS) PAPI__C_COUNT };
#undef PAPI__SLOT
#undef PAPI__SLOTS
#define PAPI__STRIPES 16
typedef struct papi__stripe {
    _Alignas(64) atomic_uint_fast64_t v[PAPI__C_COUNT];
} papi__stripe;

/* One source of the chain, with its own dispatcher. */
typedef struct papi__source {
    const papi_transport_backend *transport; /* &table once open */
    papi_transport_backend table;            /* a zeroed copy (min of the sizes) */
    void *state;
    papi__dispatcher *dispatcher;
    _Atomic int64_t fail_log_ms; /* when its failure was last logged (before the last source) */
} papi__source;

struct papi_client {
    papi_config *cfg;
    papi__datasets *datasets;
    papi__source sources[PAPI__MAX_SOURCES]; /* the chain: asked in order for what is missing */
    size_t nsources;                         /* those open */
    papi__tier tiers[PAPI__MAX_CACHE_TIERS];
    size_t ntiers;
    papi__coalescer *coalescer;
    papi_host host;
    papi_log_fn log_fn;
    void *log_user;
    papi_log_level log_max;
    papi_clock_fn clock_fn; /* papi_config_set_clock(); NULL: the system's monotonic clock */
    void *clock_user;
    papi_cache_ttl ttl;
    int64_t timeout_ms;
    size_t max_ids;
    _Atomic int64_t bad_row_log_ms; /* when a tier's bad row was last logged (lookup.c) */
    /* counters striped by CPU so that threads counting hits do not bounce one cache line
     * between cores; papi_client_stats() sums the stripes */
    papi__stripe stripes[PAPI__STRIPES];
};

/* The stripe of the CPU the caller runs on (cpu.c). */
size_t papi__stripe_now(void);

/* Adds delta to a counter in stripe s (papi__stripe_now(): one call for several counts). */
static inline void papi__count_at(papi_client *c, size_t s, int counter, uint64_t delta)
{
    if (delta)
        atomic_fetch_add_explicit(&c->stripes[s].v[counter], (uint_fast64_t)delta,
                                  memory_order_relaxed);
}

static inline void papi__count(papi_client *c, int counter, uint64_t delta)
{
    if (delta)
        papi__count_at(c, papi__stripe_now(), counter, delta);
}
/* The client's clock (host.now_ms): every deadline and TTL of the core is on it. */
static inline int64_t papi__client_now_ms(const papi_client *c)
{
    return c->host.now_ms(c->host.ctx);
}

#define PAPI__COUNT(client, field, delta) papi__count((client), PAPI__C_##field, (uint64_t)(delta))

void papi__client_log(const papi_client *client, papi_log_level level, const char *fmt, ...)
    PAPI__PRINTF(3, 4);

/* ------------------------------------------------------------- lookup.c */
/* The dispatcher's publish step (papi__publish_fn) for a client: ctx is the client. The last
 * source's: rows and absent ids alike. */
void papi__lookup_publish(void *ctx, const papi_dataset *ds, const papi_key *ckeys,
                          papi__flight *const *flights, papi_blob *const *rows, size_t n,
                          papi_status status, const papi_error *err);
/* The same for a source before the last: only the rows found (a failure before any fetch, out
 * of memory, finishes every flight). */
void papi__lookup_publish_found(void *ctx, const papi_dataset *ds, const papi_key *ckeys,
                                papi__flight *const *flights, papi_blob *const *rows, size_t n,
                                papi_status status, const papi_error *err);

/* ------------------------------------------------------------- chain.c */
/* Asks the sources from `from` on, in turn, for the n ids of ds (each source after the first
 * only for those the earlier lacked; a source before the last that does not hold ds is skipped)
 * and waits for every outcome in w[] (reordered: w[i].tag says whose). The flights go with the
 * ids: every one is finished when this returns. PAPI_OK, or the first failure, in err. */
papi_status papi__chain_fetch(papi_client *c, size_t from, const papi_dataset *ds, papi__want *w,
                              size_t n, int64_t deadline_ms, papi_error *err);
/* papi__pass_on_fn for a client (ctx): the chain from `next` on, with a fresh budget. */
void papi__chain_pass_on(void *ctx, size_t next, const papi_dataset *ds, papi__want *w, size_t n);
/* Opens the sources (attached transports, else the "source" option's list, else the default)
 * with their dispatchers; on failure the caller still calls papi__chain_close. */
papi_status papi__chain_open(papi_client *c, papi_error *err);
void papi__chain_close(papi_client *c);
/* "sqlite, then snowflake" into out, for log lines. */
void papi__chain_describe(const papi_client *c, char *out, size_t cap);
/* Source i (before the last) failed a fetch of n ids of ds: logged at most once a minute. */
void papi__chain_failed(papi_client *c, size_t i, const papi_dataset *ds, size_t n,
                        const papi_error *ferr);
/* Ids queued at every source's dispatcher now. */
uint64_t papi__chain_depth(const papi_client *c);

/* ------------------------------------------------------------- project.c */
/* Column selection: a lookup's selected columns, and where a row holds their values. */
typedef struct papi__span {
    size_t off, len; /* len 0: the row lacks the member */
} papi__span;
typedef struct papi__select {
    size_t n;                 /* columns selected; 0: whole rows */
    uint32_t *cols;           /* cols[i]: the column answered i-th */
    int32_t *pos;             /* pos[column]: its i in cols, -1 when not selected */
    papi__span *spans;        /* a row's values of cols[i], while one row is cut */
    const char *const *names; /* the dataset's columns (papi__dataset_columns) */
    const size_t *lens;
    size_t ncols;
} papi__select;
/* Scratch bytes a selection of n columns of ds needs (8-byte aligned first). */
size_t papi__select_scratch(const papi_dataset *ds, size_t n);
/* A selection of n (> 0) columns of ds, its arrays in mem (papi__select_scratch bytes). */
void papi__select_layout(papi__select *sel, const papi_dataset *ds, size_t n, void *mem);
/* Resolves sel->n names (case-insensitively) into columns of ds. PAPI_EINVAL naming an unknown,
 * repeated or NULL name, quoted and escaped. */
papi_status papi__select_resolve(papi__select *sel, const papi_dataset *ds,
                                 const char *const *names, papi_error *err);
/* A new blob with the selected members of row (n bytes) in selection order (null for those it
 * lacks); *out NULL and PAPI_EPROTO when row is not a JSON object, PAPI_ENOMEM. */
papi_status papi__row_project(const papi_dataset *ds, papi__select *sel, const char *row, size_t n,
                              papi_blob **out, papi_error *err);

/* ------------------------------------------------------------- result.c */
/* Takes ownership of the n row references in rows. NULL on ENOMEM (rows are then released). */
papi_result *papi__result_create(papi_blob **rows, size_t n, papi_cache_outcome outcome);

#endif /* PAPI_CORE_H */
