/* A read-only connection of the sqlite backend: its prepared statements, one per (dataset,
 * placeholder bucket) and per kind of scan, and the conversion of a row's values to the canonical
 * cell texts of the dataset's column types. A SQLite connection is not safe to share between
 * threads without its own mutex, so a connection is used by one fetch or scan at a time. */
#include "sqlite_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A writer may hold the file for a moment; readers wait this long at most before giving up. */
#define SQLITE_BUSY_WAIT_MAX_MS 1000
/* A number cell is at most 24 bytes as text ("-9223372036854775808", "%.17g"). */
#define SQLITE_NUMBER_CELL_MAX 32

static int progress_cb(void *arg)
{
    papi__sq_conn *c = arg;
    if (papi_host_now_ms(c->clock) >= c->deadline_ms) {
        c->timed_out = true;
        return 1;
    }
    return 0;
}

void papi__sq_conn_close(papi__sq_conn *c)
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

papi_status papi__sq_conn_open(const char *path, const papi_host *clock, unsigned id,
                               papi__sq_conn **out, papi_error *err)
{
    *out = NULL;
    papi__sq_conn *c = calloc(1, sizeof *c);
    if (!c)
        return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    c->id = id;
    c->clock = clock;
    c->deadline_ms = INT64_MAX;
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        papi_error_set(err, PAPI_ECONFIG, "sqlite: cannot open database '%s': %s", path,
                       c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        papi__sq_conn_close(c);
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
        papi__sq_conn_close(c);
        return PAPI_ECONFIG;
    }
    *out = c;
    return PAPI_OK;
}

void papi__sq_arm_deadline(papi__sq_conn *c, int64_t deadline_ms)
{
    c->deadline_ms = deadline_ms;
    c->timed_out = false;
    int64_t left = deadline_ms - papi_host_now_ms(c->clock);
    if (left > SQLITE_BUSY_WAIT_MAX_MS)
        left = SQLITE_BUSY_WAIT_MAX_MS;
    sqlite3_busy_timeout(c->db, left > 0 ? (int)left : 0);
}

/* ------------------------------------------------------------- errors */

papi_status papi__sq_map_error(papi__sq_conn *c, int rc, const char *what, const papi_dataset *ds,
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

void papi__sq_table_name(const papi_dataset *ds, char *out, size_t cap)
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

/* The text of the statement of (ds, bucket) into stack (4096 bytes) or a malloc'd buffer. */
static char *stmt_sql(const papi_dataset *ds, const char *table, size_t bucket, char *stack,
                      size_t *len)
{
    bool scan = bucket == 0 || bucket == SIZE_MAX;
    size_t need = scan ? papi_dataset_scan_sql(ds, table, bucket == SIZE_MAX, stack, 4096)
                       : papi_dataset_select_sql(ds, table, bucket, stack, 4096);
    *len = need;
    if (need < 4096)
        return stack;
    char *sql = malloc(need + 1);
    if (sql) {
        if (scan)
            papi_dataset_scan_sql(ds, table, bucket == SIZE_MAX, sql, need + 1);
        else
            papi_dataset_select_sql(ds, table, bucket, sql, need + 1);
    }
    return sql;
}

papi_status papi__sq_stmt_get(papi__sq_conn *c, const papi_host *log, const papi_dataset *ds,
                              size_t bucket, sqlite3_stmt **out, papi_error *err)
{
    for (size_t i = 0; i < c->nslots; i++) {
        if (c->slots[i].ds == ds && c->slots[i].bucket == bucket) {
            *out = c->slots[i].stmt;
            return PAPI_OK;
        }
    }
    if (c->nslots == c->slots_cap) {
        size_t cap = c->slots_cap ? c->slots_cap * 2 : 8;
        papi__sq_stmt_slot *s = realloc(c->slots, cap * sizeof *s);
        if (!s)
            return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
        c->slots = s;
        c->slots_cap = cap;
    }
    char table[256], stack[4096];
    papi__sq_table_name(ds, table, sizeof table);
    size_t need = 0;
    char *sql = stmt_sql(ds, table, bucket, stack, &need);
    if (need == 0)
        return papi_error_set(err, PAPI_ECONFIG,
                              "sqlite: the %s table name is not a plain SQL identifier",
                              papi_dataset_name(ds));
    if (!sql)
        return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, (int)need, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (sql != stack)
        free(sql);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return papi__sq_map_error(c, rc, "prepare", ds, err);
    }
    size_t params = bucket == 0 ? 0 : bucket == SIZE_MAX ? 1 : bucket;
    if ((size_t)sqlite3_column_count(stmt) != papi_dataset_column_count(ds) ||
        (size_t)sqlite3_bind_parameter_count(stmt) != params) {
        sqlite3_finalize(stmt);
        return papi_error_set(err, PAPI_EINTERNAL, "sqlite: the %s query has an unexpected shape",
                              papi_dataset_name(ds));
    }
    c->slots[c->nslots++] = (papi__sq_stmt_slot){ds, bucket, stmt};
    if (bucket == 0 || bucket == SIZE_MAX)
        papi_host_logf(log, PAPI_LOG_DEBUG, "sqlite: prepared the %s scan on connection %u",
                       papi_dataset_name(ds), c->id);
    else
        papi_host_logf(log, PAPI_LOG_DEBUG,
                       "sqlite: prepared the %s statement with %zu placeholders on connection %u",
                       papi_dataset_name(ds), bucket, c->id);
    *out = stmt;
    return PAPI_OK;
}

/* Number keys arrive as normalized digits; those that fit an int64 are bound as integers so
 * that they meet an INTEGER PRIMARY KEY on its index. Larger ones go as text. */
bool papi__sq_key_as_int64(const char *p, size_t len, sqlite3_int64 *v)
{
    if (len == 0 || len > 19)
        return false;
    uint64_t acc = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (ch < '0' || ch > '9')
            return false;
        acc = acc * 10 + (uint64_t)(ch - '0');
    }
    if (acc > (uint64_t)INT64_MAX) /* 19 digits cannot overflow uint64 */
        return false;
    *v = (sqlite3_int64)acc;
    return true;
}

int papi__sq_bind_keys(sqlite3_stmt *stmt, const papi_dataset *ds, const papi_key *keys, size_t n,
                       size_t bucket)
{
    bool number = papi_dataset_key_type(ds) == PAPI_KEY_NUMBER;
    for (size_t i = 0; i < bucket; i++) {
        const papi_key *k = &keys[i < n ? i : n - 1];
        sqlite3_int64 v;
        int rc = (number && papi__sq_key_as_int64(k->ptr, k->len, &v))
                     ? sqlite3_bind_int64(stmt, (int)i + 1, v)
                     : sqlite3_bind_text(stmt, (int)i + 1, k->ptr, (int)k->len, SQLITE_STATIC);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* ------------------------------------------------------------- rows */

static bool conn_scratch(papi__sq_conn *c, size_t ncols)
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

static papi_status hex_room(papi__sq_conn *c, sqlite3_stmt *stmt, const papi_dataset *ds,
                            size_t ncols, papi_error *err)
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
    return PAPI_OK;
}

papi_status papi__sq_row_cells(papi__sq_conn *c, sqlite3_stmt *stmt, const papi_dataset *ds,
                               size_t ncols, papi_error *err)
{
    if (!conn_scratch(c, ncols))
        return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    papi_status s = hex_room(c, stmt, ds, ncols, err);
    if (s != PAPI_OK)
        return s;
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
