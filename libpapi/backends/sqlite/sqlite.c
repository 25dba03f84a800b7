/* The `sqlite` transport: rows from an embedded SQLite file ("sqlite:/path/to.db"), opened
 * read-only: the demo database, or a replica papi_replica_sync() wrote. Fetches borrow one
 * connection from a small pool (the "pool-size" option); each connection keeps its own prepared
 * statements, one per (dataset, placeholder bucket). Buckets are powers of two and the IN list is
 * padded by repeating the last key, so a client settles on a handful of statements that are
 * prepared once and reused. Ids only ever travel as bound values.
 *
 * A sync replaces the file by renaming a new one over the path. The connections of the old file
 * keep reading it (its inode lives while they hold it), so the pool belongs to a generation of
 * the file: at most every CHECK_MS one fetch stats the path, and when it names another file that
 * passes the checks of open(), that file becomes the current generation. New fetches take
 * connections of the current generation; fetches in flight finish on theirs, and the last one to
 * let go of an old generation closes its connections. Nobody waits for a swap but the fetch that
 * checks, for the time of opening one connection. */
#include "sqlite_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SQLITE_POOL_MAX 64
/* How often a fetch looks whether the path names a new file (one stat). */
#define CHECK_MS 1000
/* A scan reports progress (and a replica commits) every this many rows. */
#define SCAN_PROGRESS_ROWS 65536

typedef struct sqlite_state sqlite_state;

/* One file the path named: its connections. */
typedef struct gen {
    sqlite_state *st;
    papi_pool *pool;
    dev_t dev;
    ino_t ino;
    atomic_uint refs;  /* one while current, one per fetch holding it */
    atomic_bool moved; /* the path was seen naming another file while opening a connection */
    unsigned no;       /* in log lines */
    char held[PAPI_REPLICA_TEXT_MAX]; /* a replica's dataset; "": no metadata, any (demo) */
} gen;

struct sqlite_state {
    char *path;
    const papi_host *host;
    size_t max;
    atomic_uint opened; /* connections opened so far: their ids in log lines */
    pthread_mutex_t lock; /* guards cur */
    gen *cur;
    unsigned gens;
    _Atomic int64_t next_check_ms;
    atomic_flag checking; /* one checker at a time; it alone changes cur and the fields below */
    bool has_rejected;    /* a new file that failed the checks: not tried again */
    dev_t rejected_dev;
    ino_t rejected_ino;
};

/* ------------------------------------------------------------- generations */

static bool same_file(const struct stat *sb, dev_t dev, ino_t ino)
{
    return sb->st_dev == dev && sb->st_ino == ino;
}

/* The pool's open function. A connection opened by path must be to this generation's file: the
 * path is stat'ed after the open (a rename before it would show). */
static papi_status pool_open(void *user, int64_t deadline_ms, void **handle, papi_error *err)
{
    (void)deadline_ms;
    gen *g = user;
    sqlite_state *st = g->st;
    unsigned id = atomic_fetch_add(&st->opened, 1) + 1;
    papi__sq_conn *c = NULL;
    papi_status s = papi__sq_conn_open(st->path, st->host, id, &c, err);
    struct stat sb;
    if (s == PAPI_OK && (stat(st->path, &sb) != 0 || !same_file(&sb, g->dev, g->ino))) {
        atomic_store(&g->moved, true);
        papi__sq_conn_close(c);
        return papi_error_set(err, PAPI_EUNAVAIL, "sqlite: '%.120s' names another file now",
                              st->path);
    }
    /* the first connection of a file is opened by gen_open, where a bad file is a
     * configuration error; any later one failing means the file went away or broke */
    if (s == PAPI_ECONFIG && atomic_load(&g->refs) > 0) {
        s = PAPI_EUNAVAIL;
        if (err)
            err->status = s;
    }
    if (s == PAPI_OK) {
        papi_host_logf(st->host, PAPI_LOG_DEBUG, "sqlite: opened connection %u (file %u)", c->id,
                       g->no);
        *handle = c;
    }
    return s;
}

static void pool_close(void *user, void *handle)
{
    (void)user;
    papi__sq_conn_close(handle);
}

static void gen_free(gen *g)
{
    if (!g)
        return;
    papi_pool_destroy(g->pool);
    free(g);
}

/* Every connection of a generation is opened now, while the path names its file (pool_open
 * checks that): once a sync renames a new file over the path, no connection to the old one can be
 * opened by path, and a fetch that needed one would fail instead of waiting for one in use. The
 * first connection checks the file as open() does (deep: PRAGMA quick_check too). */
static papi_status open_all(gen *g, bool deep, papi_error *err)
{
    sqlite_state *st = g->st;
    void *c[SQLITE_POOL_MAX];
    size_t n = 0;
    int64_t deadline_ms = papi_host_now_ms(st->host) + 60000;
    papi_status s = PAPI_OK;
    while (s == PAPI_OK && n < st->max) {
        s = papi_pool_acquire(g->pool, deadline_ms, &c[n], err);
        if (s == PAPI_OK && ++n == 1)
            s = papi__sq_check_served(((papi__sq_conn *)c[0])->db, st->path, st->host, deep,
                                      g->held, sizeof g->held, err);
    }
    for (size_t i = 0; i < n; i++)
        papi_pool_release(g->pool, c[i], 0);
    return s;
}

/* Opens the file the path names now as a generation, checked as open() checks it, with all its
 * connections. */
static papi_status gen_open(sqlite_state *st, bool deep, gen **out, papi_error *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(st->path, &sb) != 0)
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: cannot open database '%.120s': %s",
                              st->path, strerror(errno));
    papi_status s = papi__sq_check_header(st->path, err);
    if (s != PAPI_OK)
        return s;
    gen *g = calloc(1, sizeof *g);
    if (!g)
        return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    g->st = st;
    g->dev = sb.st_dev;
    g->ino = sb.st_ino;
    g->no = ++st->gens;
    atomic_init(&g->refs, 0);
    atomic_init(&g->moved, false);
    if (papi_pool_create(st->max, pool_open, pool_close, g, st->host, &g->pool) != PAPI_OK) {
        free(g);
        return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    }
    s = open_all(g, deep, err);
    if (s != PAPI_OK) {
        gen_free(g);
        return s == PAPI_EUNAVAIL
                   ? papi_error_set(err, PAPI_ECONFIG,
                                    "sqlite: '%.120s' changed while it was opened", st->path)
                   : s;
    }
    atomic_store(&g->refs, 1); /* current */
    *out = g;
    return PAPI_OK;
}

static gen *gen_get(sqlite_state *st)
{
    pthread_mutex_lock(&st->lock);
    gen *g = st->cur;
    atomic_fetch_add(&g->refs, 1);
    pthread_mutex_unlock(&st->lock);
    return g;
}

static void gen_put(gen *g)
{
    if (atomic_fetch_sub(&g->refs, 1) == 1) {
        papi_host_logf(g->st->host, PAPI_LOG_DEBUG, "sqlite: closed the connections of file %u",
                       g->no);
        gen_free(g);
    }
}

/* The path names a file other than the current one: make it current when it passes the checks,
 * else remember it so it is not tried again. Called by the one checker. */
static void try_swap(sqlite_state *st, const struct stat *sb)
{
    gen *g = NULL;
    papi_error err = {0};
    if (gen_open(st, false, &g, &err) != PAPI_OK) {
        st->has_rejected = true;
        st->rejected_dev = sb->st_dev;
        st->rejected_ino = sb->st_ino;
        papi_host_logf(st->host, PAPI_LOG_ERROR,
                       "sqlite: '%.120s' names a new file, still serving the previous one: %s",
                       st->path, err.message);
        return;
    }
    pthread_mutex_lock(&st->lock);
    gen *old = st->cur;
    st->cur = g;
    pthread_mutex_unlock(&st->lock);
    st->has_rejected = false;
    papi_host_logf(st->host, PAPI_LOG_INFO,
                   "sqlite: '%.120s' names a new file (file %u): new fetches read it", st->path,
                   g->no);
    gen_put(old);
}

/* At most every CHECK_MS (or now, when force): one stat of the path. */
static void maybe_check(sqlite_state *st, bool force)
{
    int64_t now = papi_host_now_ms(st->host);
    if (!force && now < atomic_load_explicit(&st->next_check_ms, memory_order_relaxed))
        return;
    if (atomic_flag_test_and_set(&st->checking))
        return;
    atomic_store(&st->next_check_ms, now + CHECK_MS);
    struct stat sb;
    if (stat(st->path, &sb) == 0 && S_ISREG(sb.st_mode) &&
        !same_file(&sb, st->cur->dev, st->cur->ino) &&
        !(st->has_rejected && same_file(&sb, st->rejected_dev, st->rejected_ino)))
        try_swap(st, &sb);
    atomic_flag_clear(&st->checking);
}

/* A connection of the current file for one fetch or scan, waiting until the deadline for one. A
 * generation whose path moved on opens no connection; the fetch then takes the new one's. */
static papi_status acquire(sqlite_state *st, int64_t deadline_ms, gen **g_out, papi__sq_conn **out,
                           papi_error *err)
{
    maybe_check(st, false);
    for (int attempt = 0;; attempt++) {
        gen *g = gen_get(st);
        void *h = NULL;
        papi_status s = papi_pool_acquire(g->pool, deadline_ms, &h, err);
        if (s == PAPI_OK) {
            *g_out = g;
            *out = h;
            return PAPI_OK;
        }
        bool moved = atomic_load(&g->moved);
        gen_put(g);
        if (s == PAPI_ETIMEDOUT)
            return papi_error_set(err, s, "sqlite: no database connection became free in time");
        if (!moved || attempt == 2)
            return s;
        maybe_check(st, true);
    }
}

static void release(gen *g, papi__sq_conn *c)
{
    papi_pool_release(g->pool, c, 0);
    gen_put(g);
}

/* ------------------------------------------------------------- backend methods */

static void state_free(sqlite_state *st)
{
    if (!st)
        return;
    if (st->cur)
        gen_put(st->cur);
    pthread_mutex_destroy(&st->lock);
    free(st->path);
    free(st);
}

static papi_status sqlite_open(const char *spec, const papi_config *cfg, const papi_host *host,
                               void *user, void **state, papi_error *err)
{
    (void)user;
    *state = NULL;
    const char *path = spec && strncmp(spec, "sqlite:", 7) == 0 ? spec + 7 : spec;
    if (!path || !*path)
        return papi_error_set(err, PAPI_ECONFIG,
                              "sqlite: the source needs a file: sqlite:/path/to.db");
    int64_t pool = 8;
    if (cfg && papi_config_get_int(cfg, "pool-size", &pool) != PAPI_OK)
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: pool-size is not readable");
    sqlite_state *st = calloc(1, sizeof *st);
    if (!st)
        return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    pthread_mutex_init(&st->lock, NULL);
    atomic_flag_clear(&st->checking);
    st->path = strdup(path);
    st->host = host;
    st->max = pool > SQLITE_POOL_MAX ? SQLITE_POOL_MAX : (size_t)pool;
    atomic_init(&st->opened, 0);
    if (!st->path) {
        state_free(st);
        return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    }
    /* one connection now, so a missing, foreign or damaged file fails client creation */
    papi_status s = gen_open(st, true, &st->cur, err);
    if (s != PAPI_OK) {
        state_free(st);
        return s;
    }
    atomic_store(&st->next_check_ms, papi_host_now_ms(host) + CHECK_MS);
    papi_host_logf(host, PAPI_LOG_DEBUG, "sqlite: opened '%s' read-only, up to %zu connections",
                   st->path, st->max);
    *state = st;
    return PAPI_OK;
}

static void sqlite_close(void *state)
{
    state_free(state);
}

static size_t bucket_for(size_t n)
{
    size_t b = 1;
    while (b < n)
        b <<= 1;
    return b;
}

static papi_status sqlite_fetch(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                                papi_row_sink *sink, int64_t deadline_ms, papi_error *err)
{
    sqlite_state *st = state;
    if (n == 0)
        return PAPI_OK;
    if (papi_host_now_ms(st->host) >= deadline_ms)
        return papi_error_set(err, PAPI_ETIMEDOUT, "sqlite: the deadline passed before the query");
    gen *g = NULL;
    papi__sq_conn *c = NULL;
    papi_status s = acquire(st, deadline_ms, &g, &c, err);
    if (s != PAPI_OK)
        return s;
    size_t bucket = bucket_for(n);
    size_t ncols = papi_dataset_column_count(ds);
    sqlite3_stmt *stmt = NULL;
    s = papi__sq_stmt_get(c, st->host, ds, bucket, &stmt, err);
    if (s != PAPI_OK)
        goto out;
    papi__sq_arm_deadline(c, deadline_ms);
    int rc = papi__sq_bind_keys(stmt, ds, keys, n, bucket);
    if (rc != SQLITE_OK) {
        s = papi__sq_map_error(c, rc, "bind", ds, err);
        goto reset;
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        s = papi__sq_row_cells(c, stmt, ds, ncols, err);
        if (s == PAPI_OK)
            s = papi_sink_row(sink, c->cells, c->lens, ncols, err);
        if (s != PAPI_OK)
            goto reset;
    }
    if (rc != SQLITE_DONE)
        s = papi__sq_map_error(c, rc, "run", ds, err);
reset:
    /* Reset ends the read transaction, so no snapshot outlives the fetch. */
    sqlite3_reset(stmt);
out:
    release(g, c);
    return s;
}

static papi_status sqlite_ping(void *state, int64_t deadline_ms, papi_error *err)
{
    sqlite_state *st = state;
    gen *g = NULL;
    papi__sq_conn *c = NULL;
    papi_status s = acquire(st, deadline_ms, &g, &c, err);
    if (s != PAPI_OK)
        return s;
    int rc = SQLITE_OK;
    if (!c->ping)
        rc = sqlite3_prepare_v3(c->db, "SELECT 1", -1, SQLITE_PREPARE_PERSISTENT, &c->ping, NULL);
    if (rc == SQLITE_OK) {
        papi__sq_arm_deadline(c, deadline_ms);
        rc = sqlite3_step(c->ping);
        sqlite3_reset(c->ping);
    }
    if (rc != SQLITE_OK && rc != SQLITE_ROW) {
        int primary = rc & 0xff;
        s = papi_error_set(err,
                           primary == SQLITE_INTERRUPT ? PAPI_ETIMEDOUT
                           : primary == SQLITE_NOMEM   ? PAPI_ENOMEM
                                                       : PAPI_EUNAVAIL,
                           "sqlite: the database does not answer: %s", sqlite3_errstr(rc));
    }
    release(g, c);
    return s;
}

/* A replica holds its one dataset; a file without metadata (the demo database) may hold any. */
static int sqlite_holds(void *state, const papi_dataset *ds)
{
    sqlite_state *st = state;
    pthread_mutex_lock(&st->lock);
    const char *held = st->cur->held;
    int yes = !held[0] || strcmp(held, papi_dataset_name(ds)) == 0;
    pthread_mutex_unlock(&st->lock);
    return yes;
}

/* The watermark as the file stores it: a number column's integers as integers (a bound text
 * would compare as text), anything else as text. */
static int bind_watermark(sqlite3_stmt *stmt, const papi_dataset *ds, const char *after)
{
    size_t len = strlen(after);
    sqlite3_int64 v;
    size_t wi = papi_dataset_watermark_index(ds);
    if (papi_dataset_column_type(ds, wi) == PAPI_COL_NUMBER) {
        bool neg = after[0] == '-';
        if (papi__sq_key_as_int64(after + neg, len - neg, &v))
            return sqlite3_bind_int64(stmt, 1, neg ? -v : v);
    }
    return sqlite3_bind_text(stmt, 1, after, (int)len, SQLITE_TRANSIENT);
}

static papi_status scan_rows(papi__sq_conn *c, sqlite3_stmt *stmt, const papi_dataset *ds,
                             const papi_scan_sink *sink, papi_error *err)
{
    size_t ncols = papi_dataset_column_count(ds);
    uint64_t rows = 0;
    size_t part = 0;
    int rc;
    papi_status s = PAPI_OK;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        s = papi__sq_row_cells(c, stmt, ds, ncols, err);
        if (s == PAPI_OK)
            s = sink->row(sink->user, c->cells, c->lens, ncols, err);
        if (s != PAPI_OK)
            return s;
        if (++rows % SCAN_PROGRESS_ROWS == 0 && sink->partition)
            sink->partition(sink->user, part++, 0, rows);
    }
    if (rc != SQLITE_DONE)
        return papi__sq_map_error(c, rc, "scan", ds, err);
    if (sink->partition && (rows % SCAN_PROGRESS_ROWS != 0 || rows == 0))
        sink->partition(sink->user, part, part + 1, rows);
    return PAPI_OK;
}

static papi_status sqlite_scan(void *state, const papi_dataset *ds, const char *watermark_after,
                               const papi_scan_sink *sink, int64_t deadline_ms, char *query_id,
                               size_t query_id_cap, papi_error *err)
{
    sqlite_state *st = state;
    if (query_id && query_id_cap)
        query_id[0] = '\0';
    if (watermark_after && papi_dataset_watermark_index(ds) == SIZE_MAX)
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: dataset %s has no watermark column",
                              papi_dataset_name(ds));
    gen *g = NULL;
    papi__sq_conn *c = NULL;
    papi_status s = acquire(st, deadline_ms, &g, &c, err);
    if (s != PAPI_OK)
        return s;
    sqlite3_stmt *stmt = NULL;
    s = papi__sq_stmt_get(c, st->host, ds, watermark_after ? SIZE_MAX : 0, &stmt, err);
    if (s == PAPI_OK) {
        papi__sq_arm_deadline(c, deadline_ms);
        int rc = watermark_after ? bind_watermark(stmt, ds, watermark_after) : SQLITE_OK;
        s = rc == SQLITE_OK ? scan_rows(c, stmt, ds, sink, err)
                            : papi__sq_map_error(c, rc, "bind", ds, err);
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
    }
    release(g, c);
    return s;
}

/* Found by name in libpapi/backends.c. */
const papi_transport_backend papi__transport_sqlite = {
    .abi_version = PAPI_TRANSPORT_ABI_VERSION,
    .struct_size = sizeof(papi_transport_backend),
    .name = "sqlite",
    .flags = 0,
    .open = sqlite_open,
    .close = sqlite_close,
    .fetch = sqlite_fetch,
    .ping = sqlite_ping,
    /* the cores: SQLite reads run on this machine */
    .default_concurrency = 0,
    .scan = sqlite_scan,
    .holds = sqlite_holds,
};
