/* The `sqlite` transport: rows from an embedded SQLite file ("sqlite:/path/to.db"), opened
 * read-only. A SQLite connection is not safe to share between threads without its own mutex, so
 * fetches borrow one connection from a small pool (the "pool-size" option); each connection
 * keeps its own prepared statements, one per (dataset, placeholder bucket). Buckets are powers
 * of two and the IN list is padded by repeating the last key, so a client settles on a handful
 * of statements that are prepared once and reused. Ids only ever travel as bound values. */
#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SQLITE_POOL_MAX 64
/* A writer may hold the file for a moment; readers wait this long at most before giving up. */
#define SQLITE_BUSY_WAIT_MAX_MS 1000
/* A number cell is at most 24 bytes as text ("-9223372036854775808", "%.17g"). */
#define SQLITE_NUMBER_CELL_MAX 32

typedef struct stmt_slot {
    const papi_dataset *ds;
    size_t bucket;
    sqlite3_stmt *stmt;
} stmt_slot;

typedef struct conn {
    sqlite3 *db;
    const papi_host *clock; /* the host's: deadlines are on it */
    unsigned id;
    stmt_slot *slots;
    size_t nslots;
    size_t slots_cap;
    sqlite3_stmt *ping;
    int64_t deadline_ms; /* read by the progress handler while a statement runs */
    bool timed_out;
    /* per-row scratch, reused across fetches: the cells handed to the sink point into it */
    const char **cells;
    size_t *lens;
    char *numbers;
    size_t cells_cap;
    char *hex;
    size_t hex_cap;
} conn;

typedef struct sqlite_state {
    char *path;
    const papi_host *host;
    papi_pool *pool;
    size_t max;
    atomic_uint opened; /* connections opened so far: their ids in log lines */
} sqlite_state;

/* ------------------------------------------------------------- connections */

static int progress_cb(void *arg)
{
    conn *c = arg;
    if (papi_host_now_ms(c->clock) >= c->deadline_ms) {
        c->timed_out = true;
        return 1;
    }
    return 0;
}

static void conn_close(conn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nslots; i++)
        sqlite3_finalize(c->slots[i].stmt);
    sqlite3_finalize(c->ping);
    sqlite3_close(c->db);
    free(c->slots);
    free(c->cells);
    free(c->lens);
    free(c->numbers);
    free(c->hex);
    free(c);
}

static papi_status conn_open(const char *path, const papi_host *clock, unsigned id, conn **out,
                             papi_error *err)
{
    *out = NULL;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    c->id = id;
    c->clock = clock;
    c->deadline_ms = INT64_MAX;
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        papi_error_set(err, PAPI_ECONFIG, "sqlite: cannot open database '%s': %s", path,
                       c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        conn_close(c);
        return PAPI_ECONFIG;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_progress_handler(c->db, 1000, progress_cb, c);
    /* Reading the schema now turns "not a database" into a configuration error at open,
     * not a source error at the first lookup. */
    rc = sqlite3_exec(c->db, "PRAGMA query_only=1; SELECT count(*) FROM sqlite_master", NULL, NULL,
                      NULL);
    if (rc != SQLITE_OK) {
        papi_error_set(err, PAPI_ECONFIG, "sqlite: cannot read database '%s': %s", path,
                       sqlite3_errmsg(c->db));
        conn_close(c);
        return PAPI_ECONFIG;
    }
    *out = c;
    return PAPI_OK;
}

/* The pool's open function. The first connection is opened by open(), where a bad file is a
 * configuration error; any later one failing means the file went away or broke. */
static papi_status pool_open(void *user, int64_t deadline_ms, void **handle, papi_error *err)
{
    (void)deadline_ms;
    sqlite_state *st = user;
    unsigned id = atomic_fetch_add(&st->opened, 1) + 1;
    conn *c = NULL;
    papi_status s = conn_open(st->path, st->host, id, &c, err);
    if (s == PAPI_ECONFIG && id > 1) {
        s = PAPI_EUNAVAIL;
        if (err)
            err->status = s;
    }
    if (s == PAPI_OK) {
        papi_host_logf(st->host, PAPI_LOG_DEBUG, "sqlite: opened connection %u", c->id);
        *handle = c;
    }
    return s;
}

static void pool_close(void *user, void *handle)
{
    (void)user;
    conn_close(handle);
}

/* A connection for one fetch, from the pool (papi_pool: at most pool-size, waiting until the
 * deadline for one). */
static papi_status pool_acquire(sqlite_state *st, int64_t deadline_ms, conn **out, papi_error *err)
{
    void *h = NULL;
    papi_status s = papi_pool_acquire(st->pool, deadline_ms, &h, err);
    if (s == PAPI_ETIMEDOUT)
        papi_error_set(err, s, "sqlite: no database connection became free in time");
    *out = h;
    return s;
}

static void pool_release(sqlite_state *st, conn *c)
{
    papi_pool_release(st->pool, c, 0);
}

/* ------------------------------------------------------------- errors */

static papi_status map_error(conn *c, int rc, const char *what, const papi_dataset *ds,
                             papi_error *err)
{
    int primary = rc & 0xff;
    papi_status s;
    const char *dsname = papi_dataset_name(ds);
    if (primary == SQLITE_INTERRUPT && c->timed_out)
        s = papi_error_set(err, PAPI_ETIMEDOUT, "sqlite: the %s query ran past its deadline",
                           dsname);
    else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        s = papi_error_set(err, PAPI_EUNAVAIL, "sqlite: the database stayed locked by a writer");
    else if (primary == SQLITE_NOMEM)
        s = papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    else if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN)
        s = papi_error_set(err, PAPI_EUNAVAIL, "sqlite: cannot read the database: %s",
                           sqlite3_errstr(rc));
    else if (strncmp(sqlite3_errmsg(c->db), "no such ", 8) == 0)
        /* "no such table: x" / "no such column: y" name configured identifiers, never ids */
        s = papi_error_set(err, PAPI_ESOURCE, "sqlite: cannot %s the %s query: %s", what, dsname,
                           sqlite3_errmsg(c->db));
    else
        /* other messages may quote SQL text: only the generic sentence goes out */
        s = papi_error_set(err, PAPI_ESOURCE, "sqlite: cannot %s the %s query: %s", what, dsname,
                           sqlite3_errstr(rc));
    char code[16];
    snprintf(code, sizeof code, "%d", rc);
    papi_error_set_source(err, 0, code, NULL, NULL);
    return s;
}

/* ------------------------------------------------------------- statements */

static size_t bucket_for(size_t n)
{
    size_t b = 1;
    while (b < n)
        b <<= 1;
    return b;
}

/* SQLite's last name part: "API.DATA.HYBRID_CUSTOMER" is the file's `hybrid_customer`. */
static void sqlite_table_name(const papi_dataset *ds, char *out, size_t cap)
{
    const char *t = papi_dataset_table(ds);
    const char *dot = strrchr(t, '.');
    if (dot)
        t = dot + 1;
    size_t i = 0;
    for (; t[i] && i + 1 < cap; i++)
        out[i] = (t[i] >= 'A' && t[i] <= 'Z') ? (char)(t[i] - 'A' + 'a') : t[i];
    out[i] = '\0';
}

static papi_status stmt_get(sqlite_state *st, conn *c, const papi_dataset *ds, size_t bucket,
                            sqlite3_stmt **out, papi_error *err)
{
    for (size_t i = 0; i < c->nslots; i++) {
        if (c->slots[i].ds == ds && c->slots[i].bucket == bucket) {
            *out = c->slots[i].stmt;
            return PAPI_OK;
        }
    }
    if (c->nslots == c->slots_cap) {
        size_t cap = c->slots_cap ? c->slots_cap * 2 : 8;
        stmt_slot *s = realloc(c->slots, cap * sizeof *s);
        if (!s)
            return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
        c->slots = s;
        c->slots_cap = cap;
    }
    char table[256];
    sqlite_table_name(ds, table, sizeof table);
    char stack[4096];
    char *sql = stack;
    size_t need = papi_dataset_select_sql(ds, table, bucket, stack, sizeof stack);
    if (need == 0)
        return papi_error_set(err, PAPI_ECONFIG,
                              "sqlite: the %s table name is not a plain SQL identifier",
                              papi_dataset_name(ds));
    if (need >= sizeof stack) {
        sql = malloc(need + 1);
        if (!sql)
            return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
        papi_dataset_select_sql(ds, table, bucket, sql, need + 1);
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, (int)need, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (sql != stack)
        free(sql);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return map_error(c, rc, "prepare", ds, err);
    }
    if ((size_t)sqlite3_column_count(stmt) != papi_dataset_column_count(ds) ||
        (size_t)sqlite3_bind_parameter_count(stmt) != bucket) {
        sqlite3_finalize(stmt);
        return papi_error_set(err, PAPI_EINTERNAL, "sqlite: the %s query has an unexpected shape",
                              papi_dataset_name(ds));
    }
    c->slots[c->nslots++] = (stmt_slot){ds, bucket, stmt};
    papi_host_logf(st->host, PAPI_LOG_DEBUG,
                   "sqlite: prepared the %s statement with %zu placeholders on connection %u",
                   papi_dataset_name(ds), bucket, c->id);
    *out = stmt;
    return PAPI_OK;
}

/* Number keys arrive as normalized digits; those that fit an int64 are bound as integers so
 * that they meet an INTEGER PRIMARY KEY on its index. Larger ones go as text (and match none). */
static bool key_as_int64(const papi_key *k, sqlite3_int64 *v)
{
    if (k->len == 0 || k->len > 19)
        return false;
    uint64_t acc = 0;
    for (size_t i = 0; i < k->len; i++) {
        char ch = k->ptr[i];
        if (ch < '0' || ch > '9')
            return false;
        acc = acc * 10 + (uint64_t)(ch - '0');
    }
    if (acc > (uint64_t)INT64_MAX) /* 19 digits cannot overflow uint64 */
        return false;
    *v = (sqlite3_int64)acc;
    return true;
}

static int bind_keys(sqlite3_stmt *stmt, const papi_dataset *ds, const papi_key *keys, size_t n,
                     size_t bucket)
{
    bool number = papi_dataset_key_type(ds) == PAPI_KEY_NUMBER;
    for (size_t i = 0; i < bucket; i++) {
        const papi_key *k = &keys[i < n ? i : n - 1];
        sqlite3_int64 v;
        int rc = (number && key_as_int64(k, &v))
                     ? sqlite3_bind_int64(stmt, (int)i + 1, v)
                     : sqlite3_bind_text(stmt, (int)i + 1, k->ptr, (int)k->len, SQLITE_STATIC);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* ------------------------------------------------------------- rows */

static bool conn_scratch(conn *c, size_t ncols)
{
    if (ncols <= c->cells_cap)
        return true;
    const char **cells = realloc(c->cells, ncols * sizeof *cells);
    if (cells)
        c->cells = cells;
    size_t *lens = realloc(c->lens, ncols * sizeof *lens);
    if (lens)
        c->lens = lens;
    char *numbers = realloc(c->numbers, ncols * SQLITE_NUMBER_CELL_MAX);
    if (numbers)
        c->numbers = numbers;
    if (!cells || !lens || !numbers)
        return false;
    c->cells_cap = ncols;
    return true;
}

/* Shortest of %.15g..%.17g that reads back as the same double: 0.1 stays "0.1". */
static size_t format_real(double v, char *out)
{
    for (int prec = 15; prec <= 17; prec++) {
        int len = snprintf(out, SQLITE_NUMBER_CELL_MAX, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v)
            return (size_t)len;
    }
    return 0;
}

static const char hexdigits[] = "0123456789ABCDEF";

/* Converts the current row to the canonical cell texts of the dataset's column types. */
static papi_status row_cells(conn *c, sqlite3_stmt *stmt, const papi_dataset *ds, size_t ncols,
                             papi_error *err)
{
    size_t hex_need = 0;
    for (size_t i = 0; i < ncols; i++) {
        if (sqlite3_column_type(stmt, (int)i) == SQLITE_BLOB &&
            papi_dataset_column_type(ds, i) == PAPI_COL_BINARY)
            hex_need += 2 * (size_t)sqlite3_column_bytes(stmt, (int)i);
    }
    if (hex_need > c->hex_cap) {
        char *h = realloc(c->hex, hex_need);
        if (!h)
            return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
        c->hex = h;
        c->hex_cap = hex_need;
    }
    size_t hex_used = 0;
    for (size_t i = 0; i < ncols; i++) {
        int col = (int)i;
        char *num = c->numbers + i * SQLITE_NUMBER_CELL_MAX;
        switch (sqlite3_column_type(stmt, col)) {
        case SQLITE_NULL:
            c->cells[i] = NULL;
            c->lens[i] = 0;
            break;
        case SQLITE_INTEGER: {
            int len = snprintf(num, SQLITE_NUMBER_CELL_MAX, "%" PRId64,
                               (int64_t)sqlite3_column_int64(stmt, col));
            c->cells[i] = num;
            c->lens[i] = (size_t)len;
            break;
        }
        case SQLITE_FLOAT:
            c->lens[i] = format_real(sqlite3_column_double(stmt, col), num);
            c->cells[i] = num;
            break;
        case SQLITE_BLOB:
            if (papi_dataset_column_type(ds, i) == PAPI_COL_BINARY) {
                const unsigned char *b = sqlite3_column_blob(stmt, col);
                size_t len = (size_t)sqlite3_column_bytes(stmt, col);
                char *h = c->hex + hex_used;
                for (size_t j = 0; j < len; j++) {
                    h[2 * j] = hexdigits[b[j] >> 4];
                    h[2 * j + 1] = hexdigits[b[j] & 15];
                }
                c->cells[i] = len ? h : "";
                c->lens[i] = 2 * len;
                hex_used += 2 * len;
                break;
            }
            /* a blob in a non-binary column is taken as its bytes, like text */
            c->cells[i] = sqlite3_column_blob(stmt, col);
            c->lens[i] = (size_t)sqlite3_column_bytes(stmt, col);
            if (!c->cells[i])
                c->cells[i] = "";
            break;
        default: /* SQLITE_TEXT */
            c->cells[i] = (const char *)sqlite3_column_text(stmt, col);
            c->lens[i] = (size_t)sqlite3_column_bytes(stmt, col);
            if (!c->cells[i])
                return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
            break;
        }
    }
    return PAPI_OK;
}

/* ------------------------------------------------------------- backend methods */

static papi_status sqlite_open(const char *spec, const papi_config *cfg, const papi_host *host,
                               void *user, void **state, papi_error *err)
{
    (void)user;
    *state = NULL;
    const char *path = spec && strncmp(spec, "sqlite:", 7) == 0 ? spec + 7 : spec;
    if (!path || !*path)
        return papi_error_set(err, PAPI_ECONFIG,
                              "sqlite: the source needs a file: sqlite:/path/to.db");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: cannot open database '%s': %s", path,
                              strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: '%s' is not a regular file", path);

    int64_t pool = 8;
    if (cfg && papi_config_get_int(cfg, "pool-size", &pool) != PAPI_OK)
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: pool-size is not readable");
    size_t max = pool > SQLITE_POOL_MAX ? SQLITE_POOL_MAX : (size_t)pool;

    sqlite_state *st = calloc(1, sizeof *st);
    if (!st)
        return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    st->path = strdup(path);
    st->host = host;
    st->max = max;
    atomic_init(&st->opened, 0);
    if (!st->path || papi_pool_create(max, pool_open, pool_close, st, host, &st->pool) != PAPI_OK) {
        free(st->path);
        free(st);
        return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    }
    /* One connection now, so a missing or foreign file fails client creation. */
    void *c = NULL;
    papi_status s = papi_pool_acquire(st->pool, papi_host_now_ms(host) + 60000, &c, err);
    if (s != PAPI_OK) {
        papi_pool_destroy(st->pool);
        free(st->path);
        free(st);
        return s;
    }
    papi_pool_release(st->pool, c, 0);
    papi_host_logf(host, PAPI_LOG_DEBUG, "sqlite: opened '%s' read-only, up to %zu connections",
                   st->path, st->max);
    *state = st;
    return PAPI_OK;
}

static void sqlite_close(void *state)
{
    sqlite_state *st = state;
    if (!st)
        return;
    papi_pool_destroy(st->pool);
    free(st->path);
    free(st);
}

static void arm_deadline(conn *c, int64_t deadline_ms)
{
    c->deadline_ms = deadline_ms;
    c->timed_out = false;
    int64_t left = deadline_ms - papi_host_now_ms(c->clock);
    if (left > SQLITE_BUSY_WAIT_MAX_MS)
        left = SQLITE_BUSY_WAIT_MAX_MS;
    sqlite3_busy_timeout(c->db, left > 0 ? (int)left : 0);
}

static papi_status sqlite_fetch(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                                papi_row_sink *sink, int64_t deadline_ms, papi_error *err)
{
    sqlite_state *st = state;
    if (n == 0)
        return PAPI_OK;
    if (papi_host_now_ms(st->host) >= deadline_ms)
        return papi_error_set(err, PAPI_ETIMEDOUT, "sqlite: the deadline passed before the query");
    conn *c = NULL;
    papi_status s = pool_acquire(st, deadline_ms, &c, err);
    if (s != PAPI_OK)
        return s;

    size_t bucket = bucket_for(n);
    size_t ncols = papi_dataset_column_count(ds);
    sqlite3_stmt *stmt = NULL;
    s = stmt_get(st, c, ds, bucket, &stmt, err);
    if (s != PAPI_OK)
        goto out;
    if (!conn_scratch(c, ncols)) {
        s = papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
        goto out;
    }
    arm_deadline(c, deadline_ms);
    int rc = bind_keys(stmt, ds, keys, n, bucket);
    if (rc != SQLITE_OK) {
        s = map_error(c, rc, "bind", ds, err);
        goto reset;
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        s = row_cells(c, stmt, ds, ncols, err);
        if (s == PAPI_OK)
            s = papi_sink_row(sink, c->cells, c->lens, ncols, err);
        if (s != PAPI_OK)
            goto reset;
    }
    if (rc != SQLITE_DONE)
        s = map_error(c, rc, "run", ds, err);
reset:
    /* Reset ends the read transaction, so no snapshot outlives the fetch. */
    sqlite3_reset(stmt);
out:
    pool_release(st, c);
    return s;
}

static papi_status sqlite_ping(void *state, int64_t deadline_ms, papi_error *err)
{
    sqlite_state *st = state;
    conn *c = NULL;
    papi_status s = pool_acquire(st, deadline_ms, &c, err);
    if (s != PAPI_OK)
        return s;
    int rc = SQLITE_OK;
    if (!c->ping)
        rc = sqlite3_prepare_v3(c->db, "SELECT 1", -1, SQLITE_PREPARE_PERSISTENT, &c->ping, NULL);
    if (rc == SQLITE_OK) {
        arm_deadline(c, deadline_ms);
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
    pool_release(st, c);
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
};
