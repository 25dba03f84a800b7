/* The replica writer (papi_replica.h): one scan of a client's source written into a temporary
 * SQLite file next to the target, one transaction per partition, then fsync, rename and an fsync
 * of the folder, so the target is the old file or the new one, never a mix, whatever happens.
 * It lives with the sqlite transport because it writes the file that transport reads: the table
 * is named and shaped as the transport's statements expect, and a key is stored as the
 * transport binds it (an integer when it fits 64 bits, else its digits as text).
 *
 * Memory: the transport hands over one partition at a time, and SQLite writes each partition's
 * pages out at its commit; the page cache is capped (CACHE_KIB), so a sync of any size runs in
 * about one partition plus that. Written against the public headers only, as the transport is. */
#include "sqlite_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CACHE_KIB 16384
#define PROGRESS_ROWS 65536
#define DEFAULT_TIMEOUT_MS (24 * 3600 * 1000LL)

typedef struct writer {
    papi_client *src;
    const papi_dataset *ds;
    const char *path;
    char *tmp;
    papi_replica_opts opts;
    bool incremental;
    papi__sq_meta old; /* the file being replaced, when there is one */
    bool has_old;
    sqlite3 *db;
    sqlite3_stmt *insert;
    char table[256];
    int64_t started_unix_ms;
    uint64_t rows;
    uint64_t partitions, npartitions;
    size_t wm_index; /* SIZE_MAX: no watermark */
    papi_buf wm_max; /* the greatest watermark cell so far */
    bool has_wm;
    papi_status failed; /* a failure outside a row callback, reported by the next one */
    papi_error fail_err;
    bool stopped;
} writer;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------- checks before writing */

static const papi_dataset *find_dataset(papi_client *c, const char *name)
{
    for (size_t i = 0; i < papi_client_dataset_count(c); i++) {
        const papi_dataset *ds = papi_client_dataset(c, i);
        if (strcmp(papi_dataset_name(ds), name) == 0)
            return ds;
    }
    return NULL;
}

static void no_overwrite(papi_error *err, const char *path)
{
    /* the checks' messages say what is wrong; say what was not done */
    if (!err)
        return;
    char why[sizeof err->message];
    papi_strlcpy(why, err->message, sizeof why);
    papi_error_set(err, err->status, "%s; '%.80s' was not overwritten", why, path);
}

/* A file already at the path must be a replica of this dataset and shape, intact: a sync never
 * overwrites another dataset's replica, the demo database or a damaged file. */
static papi_status check_existing(writer *w, papi_error *err)
{
    struct stat sb;
    if (lstat(w->path, &sb) != 0) {
        if (errno == ENOENT)
            return PAPI_OK;
        return papi_error_set(err, PAPI_ECONFIG, "replica: cannot read '%.120s': %s", w->path,
                              strerror(errno));
    }
    papi_status s = papi__sq_check_header(w->path, err);
    sqlite3 *db = NULL;
    if (s == PAPI_OK && sqlite3_open_v2(w->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                                        NULL) != SQLITE_OK)
        s = papi_error_set(err, PAPI_ECONFIG, "replica: cannot open '%.120s': %s", w->path,
                           db ? sqlite3_errmsg(db) : "out of memory");
    bool found = false;
    if (s == PAPI_OK)
        s = papi__sq_meta_read(db, w->path, &w->old, &found, err);
    if (s == PAPI_OK && !found)
        s = papi_error_set(err, PAPI_ECONFIG,
                           "replica: '%.120s' exists and is not a papi replica (remove it, or "
                           "sync to another file)",
                           w->path);
    if (s == PAPI_OK)
        s = papi__sq_meta_match(&w->old, w->ds, w->path, err);
    if (s == PAPI_OK)
        s = papi__sq_table_check(db, w->ds, w->path, err);
    if (s == PAPI_OK)
        s = papi__sq_quick_check(db, w->path, err);
    sqlite3_close(db);
    w->has_old = s == PAPI_OK;
    if (s == PAPI_ECONFIG)
        no_overwrite(err, w->path);
    return s;
}

static papi_status check_incremental(writer *w, papi_error *err)
{
    const char *col = papi_dataset_watermark_column(w->ds);
    if (!col)
        return papi_error_set(err, PAPI_ECONFIG,
                              "replica: an incremental sync needs a watermark column, and dataset "
                              "%s has none (\"watermark\" in the datasets file)",
                              papi_dataset_name(w->ds));
    if (!w->has_old)
        return PAPI_OK; /* nothing to add to: a full sync */
    if (strcmp(w->old.info.watermark_column, col) != 0)
        return papi_error_set(err, PAPI_ECONFIG,
                              "replica: '%.120s' was synced with another watermark column; run a "
                              "full sync",
                              w->path);
    return PAPI_OK;
}

static papi_status sql_failed(writer *w, int rc, const char *what, papi_error *err)
{
    int primary = rc & 0xff;
    if (primary == SQLITE_NOMEM)
        return papi_error_set(err, PAPI_ENOMEM, "replica: out of memory");
    return papi_error_set(err, PAPI_EIO, "replica: cannot %s '%.120s': %s", what, w->tmp,
                          sqlite3_errstr(rc));
}

static papi_status exec(writer *w, const char *sql, const char *what, papi_error *err)
{
    int rc = sqlite3_exec(w->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? PAPI_OK : sql_failed(w, rc, what, err);
}

/* CREATE TABLE of the dataset. A number key is the INTEGER PRIMARY KEY, the rowid, as in the
 * demo database: a lookup is one descent of the table's b-tree (a WITHOUT ROWID table measured
 * about 10% slower; bench/sync), and such a key must fit 64 bits, as the sqlite source binds it.
 * A text key makes a WITHOUT ROWID table, for the same single descent. Other number columns have
 * no declared type, so an integer stays an integer and digits too long for 64 bits stay text;
 * the rest is text, as the source wrote it. */
static papi_status create_table(writer *w, papi_error *err)
{
    papi_buf sql;
    papi_buf_init(&sql);
    papi_buf_printf(&sql, "CREATE TABLE %s (", w->table);
    size_t key = papi_dataset_key_index(w->ds);
    bool number_key = papi_dataset_key_type(w->ds) == PAPI_KEY_NUMBER;
    for (size_t i = 0; i < papi_dataset_column_count(w->ds); i++) {
        bool number = papi_dataset_column_type(w->ds, i) == PAPI_COL_NUMBER;
        papi_buf_printf(&sql, "%s%s%s%s", i ? ", " : "", papi_dataset_column_name(w->ds, i),
                        i == key && number_key ? " INTEGER"
                        : number               ? ""
                                               : " TEXT",
                        i == key ? " PRIMARY KEY" : "");
    }
    papi_buf_puts(&sql, number_key ? ")" : ") WITHOUT ROWID");
    papi_status s = sql.oom ? papi_error_set(err, PAPI_ENOMEM, "replica: out of memory")
                            : exec(w, papi_buf_cstr(&sql), "create a table in", err);
    papi_buf_free(&sql);
    if (s == PAPI_OK)
        s = exec(w, papi__sq_meta_create, "create a table in", err);
    return s;
}

static papi_status prepare_insert(writer *w, papi_error *err)
{
    papi_buf sql;
    papi_buf_init(&sql);
    papi_buf_printf(&sql, "INSERT%s INTO %s VALUES (", w->incremental ? " OR REPLACE" : "",
                    w->table);
    for (size_t i = 0; i < papi_dataset_column_count(w->ds); i++)
        papi_buf_puts(&sql, i ? ", ?" : "?");
    papi_buf_putc(&sql, ')');
    int rc = sql.oom ? SQLITE_NOMEM
                     : sqlite3_prepare_v3(w->db, papi_buf_cstr(&sql), -1, SQLITE_PREPARE_PERSISTENT,
                                          &w->insert, NULL);
    papi_buf_free(&sql);
    return rc == SQLITE_OK ? PAPI_OK : sql_failed(w, rc, "prepare the insert into", err);
}

/* Nothing to protect while building: the file is not in place yet, and a failure removes it. */
static papi_status db_open(writer *w, papi_error *err)
{
    int rc = sqlite3_open_v2(w->tmp, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return sql_failed(w, rc, "open", err);
    char pragmas[200];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE; "
             "PRAGMA cache_size=-%d",
             CACHE_KIB);
    papi_status s = exec(w, pragmas, "set up", err);
    if (s == PAPI_OK && !w->incremental)
        s = create_table(w, err);
    if (s == PAPI_OK)
        s = prepare_insert(w, err);
    if (s == PAPI_OK)
        s = exec(w, "BEGIN", "write", err);
    return s;
}

/* ------------------------------------------------------------- rows */

/* A number cell in the form the transport binds keys: "-0012.000" is -12; an integer when it
 * fits 64 bits, else its normalized digits as text. */
static int bind_number(sqlite3_stmt *st, int col, const char *p, size_t n)
{
    bool neg = n && p[0] == '-';
    const char *d = p + neg;
    size_t len = n - neg;
    const char *dot = memchr(d, '.', len);
    if (dot) {
        size_t k = (size_t)(dot - d) + 1;
        while (k < len && d[k] == '0')
            k++;
        if (k == len)
            len = (size_t)(dot - d);
    }
    while (len > 1 && d[0] == '0') {
        d++;
        len--;
    }
    sqlite3_int64 v;
    if (papi__sq_key_as_int64(d, len, &v))
        return sqlite3_bind_int64(st, col, neg ? -v : v);
    if (!neg)
        return sqlite3_bind_text(st, col, d, (int)len, SQLITE_STATIC);
    char text[64]; /* the sign next to the digits; longer cells are not numbers papi makes */
    if (len + 1 >= sizeof text)
        return sqlite3_bind_text(st, col, p, (int)n, SQLITE_STATIC);
    text[0] = '-';
    memcpy(text + 1, d, len);
    return sqlite3_bind_text(st, col, text, (int)len + 1, SQLITE_TRANSIENT);
}

/* a > b as values of the watermark column's type (number: by value, any length; text, date,
 * time, timestamp: bytewise, which orders ISO-8601 text of one form). */
static bool wm_greater(papi_column_type t, const char *a, size_t al, const char *b, size_t bl)
{
    if (t == PAPI_COL_NUMBER) {
        bool an = al && a[0] == '-', bn = bl && b[0] == '-';
        if (an != bn)
            return bn;
        size_t ai = an, bi = bn;
        while (ai + 1 < al && a[ai] == '0')
            ai++;
        while (bi + 1 < bl && b[bi] == '0')
            bi++;
        size_t ad = strcspn(a + ai, "."), bd = strcspn(b + bi, ".");
        ad = ad < al - ai ? ad : al - ai;
        bd = bd < bl - bi ? bd : bl - bi;
        int c = ad != bd ? (ad > bd ? 1 : -1) : memcmp(a + ai, b + bi, ad);
        return an ? c < 0 : c > 0;
    }
    if (t == PAPI_COL_DECIMAL || t == PAPI_COL_REAL)
        return strtod(a, NULL) > strtod(b, NULL);
    size_t m = al < bl ? al : bl;
    int c = memcmp(a, b, m);
    return c > 0 || (c == 0 && al > bl);
}

static void track_watermark(writer *w, const char *cell, size_t len)
{
    if (!cell || len >= PAPI_REPLICA_TEXT_MAX)
        return;
    papi_column_type t = papi_dataset_column_type(w->ds, w->wm_index);
    if (w->has_wm && !wm_greater(t, cell, len, w->wm_max.data, w->wm_max.len))
        return;
    papi_buf_reset(&w->wm_max);
    papi_buf_append(&w->wm_max, cell, len);
    w->has_wm = !w->wm_max.oom;
}

static papi_status insert_failed(writer *w, int rc, papi_error *err)
{
    if ((rc & 0xff) == SQLITE_MISMATCH)
        return papi_error_set(err, PAPI_EPROTO,
                              "replica: a key of %s does not fit a 64-bit integer, as a replica's "
                              "number key must",
                              papi_dataset_name(w->ds));
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return papi_error_set(err, PAPI_EPROTO,
                              "replica: the source sent two rows of %s with the same key, or a "
                              "row without a key",
                              papi_dataset_name(w->ds));
    if ((rc & 0xff) == SQLITE_FULL)
        return papi_error_set(err, PAPI_EIO, "replica: the disk is full writing '%.120s'", w->tmp);
    return sql_failed(w, rc, "write", err);
}

static bool progress(writer *w)
{
    if (w->opts.progress &&
        w->opts.progress(w->opts.progress_user, w->rows, w->partitions, w->npartitions) != 0)
        w->stopped = true;
    return !w->stopped;
}

static papi_status on_row(void *user, const char *const *cells, const size_t *lens, size_t n,
                          papi_error *err)
{
    writer *w = user;
    if (w->failed != PAPI_OK) {
        if (err)
            *err = w->fail_err;
        return w->failed;
    }
    if (w->stopped)
        return papi_error_set(err, PAPI_ETIMEDOUT, "replica: the sync was stopped by its caller");
    if (n != papi_dataset_column_count(w->ds))
        return papi_error_set(err, PAPI_EPROTO, "replica: a row of %s has %zu cells, not %zu",
                              papi_dataset_name(w->ds), n, papi_dataset_column_count(w->ds));
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        int col = (int)i + 1;
        if (!cells[i])
            rc = sqlite3_bind_null(w->insert, col);
        else if (papi_dataset_column_type(w->ds, i) == PAPI_COL_NUMBER)
            rc = bind_number(w->insert, col, cells[i], lens[i]);
        else
            rc = sqlite3_bind_text(w->insert, col, cells[i], (int)lens[i], SQLITE_STATIC);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_step(w->insert);
    sqlite3_reset(w->insert);
    if (rc != SQLITE_DONE)
        return insert_failed(w, rc, err);
    if (w->wm_index != SIZE_MAX)
        track_watermark(w, cells[w->wm_index], lens[w->wm_index]);
    if (++w->rows % PROGRESS_ROWS == 0 && !progress(w))
        return papi_error_set(err, PAPI_ETIMEDOUT, "replica: the sync was stopped by its caller");
    return PAPI_OK;
}

/* A partition is whole: its rows go to the file, so memory holds one partition at most. */
static void on_partition(void *user, size_t index, size_t npartitions, uint64_t rows)
{
    writer *w = user;
    (void)rows;
    w->partitions = index + 1;
    w->npartitions = npartitions;
    if (w->failed != PAPI_OK)
        return;
    int rc = sqlite3_exec(w->db, "COMMIT; BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        w->failed = insert_failed(w, rc, &w->fail_err);
    else
        progress(w);
}

/* ------------------------------------------------------------- putting it in place */

static papi_status count_rows(writer *w, uint64_t *out, papi_error *err)
{
    char sql[300];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", w->table);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(w->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = (uint64_t)sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? PAPI_OK : sql_failed(w, rc, "count the rows of", err);
}

/* The metadata of the new file: the old file's where an incremental sync keeps them. */
static papi_status write_meta(writer *w, const char *query_id, papi__sq_meta *m, papi_error *err)
{
    memset(m, 0, sizeof *m);
    papi_replica_info *i = &m->info;
    i->struct_size = sizeof *i;
    papi_strlcpy(i->dataset, papi_dataset_name(w->ds), sizeof i->dataset);
    papi_strlcpy(i->shape, papi_dataset_shape_hash(w->ds), sizeof i->shape);
    papi_strlcpy(m->dataset_table, papi_dataset_table(w->ds), sizeof m->dataset_table);
    papi_strlcpy(i->table, w->table, sizeof i->table);
    papi_strlcpy(m->key, papi_dataset_key_column(w->ds), sizeof m->key);
    papi_strlcpy(i->source, papi_client_source_name(w->src), sizeof i->source);
    papi_strlcpy(i->query_id, query_id, sizeof i->query_id);
    i->started_unix_ms = w->started_unix_ms;
    i->finished_unix_ms = wall_ms();
    i->full_unix_ms = w->incremental ? w->old.info.full_unix_ms : i->finished_unix_ms;
    i->incremental = w->incremental;
    i->rows_synced = w->rows;
    i->partitions = w->partitions;
    const char *wm_col = papi_dataset_watermark_column(w->ds);
    papi_strlcpy(i->watermark_column, wm_col ? wm_col : "", sizeof i->watermark_column);
    if (w->has_wm)
        papi_strlcpy(i->watermark, papi_buf_cstr(&w->wm_max), sizeof i->watermark);
    else if (w->incremental)
        papi_strlcpy(i->watermark, w->old.info.watermark, sizeof i->watermark);
    papi_buf cols;
    papi_buf_init(&cols);
    papi__sq_columns_text(w->ds, &cols);
    m->columns = papi_buf_steal(&cols, NULL);
    if (!m->columns)
        return papi_error_set(err, PAPI_ENOMEM, "replica: out of memory");
    i->rows = w->rows;
    papi_status s = w->incremental ? count_rows(w, &i->rows, err) : PAPI_OK;
    return s == PAPI_OK ? papi__sq_meta_write(w->db, m, err) : s;
}

static papi_status finish(writer *w, const char *query_id, papi_replica_info *out, papi_error *err)
{
    papi__sq_meta m = {0};
    papi_status s = exec(w, "COMMIT", "write", err);
    if (s == PAPI_OK)
        s = exec(w, "BEGIN", "write", err);
    if (s == PAPI_OK)
        s = write_meta(w, query_id, &m, err);
    if (s == PAPI_OK)
        s = exec(w, "COMMIT", "write", err);
    sqlite3_finalize(w->insert);
    w->insert = NULL;
    if (s == PAPI_OK && sqlite3_close(w->db) != SQLITE_OK)
        s = papi_error_set(err, PAPI_EIO, "replica: cannot close '%.120s'", w->tmp);
    w->db = s == PAPI_OK ? NULL : w->db;
    /* synchronous=OFF skipped every fsync: one now, before the rename makes the file visible,
     * and one of the folder after it, so the rename itself survives a crash */
    if (s == PAPI_OK)
        s = papi__sq_fsync(w->tmp, false, err);
    if (s == PAPI_OK && rename(w->tmp, w->path) != 0)
        s = papi_error_set(err, PAPI_EIO, "replica: cannot rename into '%.120s': %s", w->path,
                           strerror(errno));
    if (s == PAPI_OK) {
        free(w->tmp);
        w->tmp = NULL;
        s = papi__sq_fsync(w->path, true, err);
    }
    if (s == PAPI_OK && out) {
        struct stat sb;
        m.info.bytes = stat(w->path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        uint32_t size = out->struct_size;
        memcpy(out, &m.info, size < sizeof m.info ? size : sizeof m.info);
        out->struct_size = size;
    }
    papi__sq_meta_free(&m);
    return s;
}

static void writer_cleanup(writer *w)
{
    sqlite3_finalize(w->insert);
    sqlite3_close(w->db);
    if (w->tmp)
        unlink(w->tmp);
    free(w->tmp);
    papi__sq_meta_free(&w->old);
    papi_buf_free(&w->wm_max);
}

/* ------------------------------------------------------------- the public calls */

static papi_status prepare(writer *w, papi_error *err)
{
    papi_status s = papi__sq_check_folder(w->path, err);
    if (s == PAPI_OK)
        s = check_existing(w, err);
    if (s == PAPI_OK && w->incremental)
        s = check_incremental(w, err);
    w->incremental = w->incremental && w->has_old;
    if (s != PAPI_OK)
        return s;
    papi__sq_remove_stale_temps(w->path);
    int fd = -1;
    s = papi__sq_temp_create(w->path, &w->tmp, &fd, err);
    if (s == PAPI_OK && w->incremental)
        s = papi__sq_copy_into(w->path, fd, err);
    if (fd >= 0)
        close(fd);
    if (s == PAPI_OK)
        s = db_open(w, err);
    return s;
}

papi_status papi_replica_sync(papi_client *source, const char *dataset, const char *path,
                              const papi_replica_opts *opts, papi_replica_info *out,
                              papi_error *err)
{
    if (!source || !dataset || !path || !*path ||
        (opts &&
         opts->struct_size < offsetof(papi_replica_opts, incremental) + sizeof opts->incremental) ||
        (out && out->struct_size < sizeof(uint32_t)))
        return papi_error_set(err, PAPI_EINVAL, "source, dataset, path and sizes are required");
    writer w = {.src = source, .path = path, .wm_index = SIZE_MAX, .started_unix_ms = wall_ms()};
    if (opts)
        memcpy(&w.opts, opts,
               opts->struct_size < sizeof w.opts ? opts->struct_size : sizeof w.opts);
    w.incremental = w.opts.incremental != 0;
    papi_buf_init(&w.wm_max);
    if (!(w.ds = find_dataset(source, dataset)))
        return papi_error_set(err, PAPI_ENODATASET, "unknown dataset '%.64s'", dataset);
    papi__sq_table_name(w.ds, w.table, sizeof w.table);
    w.wm_index = papi_dataset_watermark_index(w.ds);
    papi_status s = prepare(&w, err);
    char qid[64] = "";
    if (s == PAPI_OK) {
        const char *after = w.incremental && w.old.info.watermark[0] ? w.old.info.watermark : NULL;
        papi_scan_sink sink = {
            .struct_size = sizeof sink, .user = &w, .row = on_row, .partition = on_partition};
        s = papi_client_scan(source, dataset, after, &sink, w.opts.timeout_ms, qid, sizeof qid,
                             err);
        if (s == PAPI_OK && w.failed != PAPI_OK) {
            s = w.failed;
            if (err)
                *err = w.fail_err;
        }
        if (s == PAPI_OK && w.stopped)
            s = papi_error_set(err, PAPI_ETIMEDOUT, "replica: the sync was stopped by its caller");
    }
    if (s == PAPI_OK)
        s = finish(&w, qid, out, err);
    writer_cleanup(&w);
    return s;
}

papi_status papi_replica_stat(const char *path, papi_replica_info *out, papi_error *err)
{
    if (!path || !out || out->struct_size < sizeof(uint32_t))
        return papi_error_set(err, PAPI_EINVAL, "path and out are required");
    papi_status s = papi__sq_check_header(path, err);
    sqlite3 *db = NULL;
    if (s == PAPI_OK &&
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        s = papi_error_set(err, PAPI_ECONFIG, "replica: cannot open '%.120s'", path);
    papi__sq_meta m = {0};
    bool found = false;
    if (s == PAPI_OK)
        s = papi__sq_meta_read(db, path, &m, &found, err);
    sqlite3_close(db);
    if (s == PAPI_OK && !found)
        s = papi_error_set(err, PAPI_ECONFIG, "replica: '%.120s' is not a papi replica", path);
    if (s == PAPI_OK) {
        struct stat sb;
        m.info.bytes = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        uint32_t size = out->struct_size;
        memcpy(out, &m.info, size < sizeof m.info ? size : sizeof m.info);
        out->struct_size = size;
    }
    papi__sq_meta_free(&m);
    return s;
}
