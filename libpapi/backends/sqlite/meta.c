/* What a file must be before the sqlite backend serves it or a sync replaces it: an SQLite
 * database as long as its header says, and when it is a replica, one of a dataset the client
 * serves, with that dataset's shape and table. The replica metadata (papi_replica_meta) is read
 * and written here. Text read from a file is shown in messages only when it is a plain name:
 * the file may come from anywhere. */
#include "sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HEADER_BYTES 100
#define META_FORMAT 1

static const char magic[16] = "SQLite format 3";

/* s when it is made of letters, digits and the bytes of extra only, else "?". */
static const char *shown_with(const char *s, const char *extra)
{
    if (!*s)
        return "?";
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(extra, *p)))
            return "?";
    return s;
}

/* A name from the file, shown when it is a plain name. */
static const char *shown(const char *s)
{
    return shown_with(s, "_.$-");
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

papi_status papi__sq_check_header(const char *path, papi_error *err)
{
    /* O_NONBLOCK: a FIFO at the path would block the open until a writer came; it is refused
     * as not a regular file before any read (a regular file ignores the flag) */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: cannot open database '%.120s': %s", path,
                              strerror(errno));
    unsigned char h[HEADER_BYTES];
    struct stat sb;
    ssize_t got = -1;
    if (fstat(fd, &sb) == 0)
        got = S_ISREG(sb.st_mode) ? pread(fd, h, sizeof h, 0) : 0;
    int e = errno;
    close(fd);
    if (got < 0)
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: cannot read database '%.120s': %s", path,
                              strerror(e));
    if (!S_ISREG(sb.st_mode))
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: '%.120s' is not a regular file", path);
    if (got < HEADER_BYTES || memcmp(h, magic, sizeof magic) != 0)
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: '%.120s' is not a database (%s)", path,
                              got == 0 ? "an empty file" : "no SQLite header");
    uint32_t page = (uint32_t)h[16] << 8 | h[17];
    if (page == 1)
        page = 65536;
    uint32_t pages = be32(h + 28);
    /* the header's page count is valid when its change counter matches (fileformat.html) */
    if (pages && be32(h + 24) == be32(h + 92) && (uint64_t)sb.st_size < (uint64_t)pages * page)
        return papi_error_set(err, PAPI_ECONFIG,
                              "sqlite: '%.120s' is truncated: %lld bytes, its header says %llu",
                              path, (long long)sb.st_size, (unsigned long long)pages * page);
    return PAPI_OK;
}

/* ------------------------------------------------------------- UTC times */

void papi__sq_utc_format(int64_t unix_ms, char out[32])
{
    time_t s = (time_t)(unix_ms / 1000);
    struct tm tm;
    if (unix_ms <= 0 || !gmtime_r(&s, &tm)) {
        out[0] = '\0';
        return;
    }
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(unix_ms % 1000));
    papi_strlcpy(out, buf, 32);
}

int64_t papi__sq_utc_parse(const char *s)
{
    struct tm tm = {0};
    int ms = 0, n = 0;
    if (!s ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 ||
        s[n] != '\0')
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t < 0 ? 0 : (int64_t)t * 1000 + ms;
}

/* ------------------------------------------------------------- metadata */

static const char meta_select[] =
    "SELECT format, dataset, shape, dataset_table, table_name, key_column, columns, source, "
    "query_id, started_utc, finished_utc, full_utc, rows, rows_synced, partitions, incremental, "
    "watermark_column, watermark FROM " PAPI__SQ_META_TABLE;

const char papi__sq_meta_create[] =
    "CREATE TABLE " PAPI__SQ_META_TABLE " (format INTEGER NOT NULL, dataset TEXT NOT NULL, "
    "shape TEXT NOT NULL, dataset_table TEXT NOT NULL, table_name TEXT NOT NULL, "
    "key_column TEXT NOT NULL, columns TEXT NOT NULL, source TEXT, query_id TEXT, "
    "started_utc TEXT, finished_utc TEXT, full_utc TEXT, rows INTEGER, rows_synced INTEGER, "
    "partitions INTEGER, incremental INTEGER, watermark_column TEXT, watermark TEXT)";

papi_status papi__sq_meta_write(sqlite3 *db, const papi__sq_meta *m, papi_error *err)
{
    const papi_replica_info *i = &m->info;
    char started[32], finished[32], full[32];
    papi__sq_utc_format(i->started_unix_ms, started);
    papi__sq_utc_format(i->finished_unix_ms, finished);
    papi__sq_utc_format(i->full_unix_ms, full);
    const char *text[] = {i->dataset, i->shape,    m->dataset_table, i->table, m->key, m->columns,
                          i->source,  i->query_id, started,          finished, full};
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_exec(db, "DELETE FROM " PAPI__SQ_META_TABLE, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO " PAPI__SQ_META_TABLE
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                                "?14, ?15, ?16, ?17, ?18)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 1, META_FORMAT);
    for (int k = 0; rc == SQLITE_OK && k < (int)(sizeof text / sizeof text[0]); k++)
        rc = text[k][0] ? sqlite3_bind_text(st, k + 2, text[k], -1, SQLITE_STATIC)
                        : sqlite3_bind_null(st, k + 2);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 13, (sqlite3_int64)i->rows);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 14, (sqlite3_int64)i->rows_synced);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 15, (sqlite3_int64)i->partitions);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 16, i->incremental ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = i->watermark_column[0]
                 ? sqlite3_bind_text(st, 17, i->watermark_column, -1, SQLITE_STATIC)
                 : sqlite3_bind_null(st, 17);
    if (rc == SQLITE_OK)
        rc = i->watermark[0] ? sqlite3_bind_text(st, 18, i->watermark, -1, SQLITE_STATIC)
                             : sqlite3_bind_null(st, 18);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(st);
    return rc == SQLITE_OK
               ? PAPI_OK
               : papi_error_set(err, PAPI_EIO, "sqlite: cannot write the replica metadata: %s",
                                sqlite3_errstr(rc));
}

void papi__sq_meta_free(papi__sq_meta *m)
{
    if (!m)
        return;
    free(m->columns);
    m->columns = NULL;
}

static void text_at(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    papi_strlcpy(dst, t ? t : "", cap);
}

static papi_status meta_bad(const char *path, papi_error *err)
{
    return papi_error_set(err, PAPI_ECONFIG,
                          "sqlite: '%.120s' has a " PAPI__SQ_META_TABLE
                          " table papi did not write (corrupt, or another version)",
                          path);
}

papi_status papi__sq_meta_read(sqlite3 *db, const char *path, papi__sq_meta *m, bool *found,
                               papi_error *err)
{
    memset(m, 0, sizeof *m);
    m->info.struct_size = sizeof m->info;
    *found = false;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '" PAPI__SQ_META_TABLE "'",
        -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return PAPI_OK;
    if (rc != SQLITE_ROW)
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: cannot read database '%.120s': %s", path,
                              sqlite3_errstr(rc));
    *found = true;
    if (sqlite3_prepare_v2(db, meta_select, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) != META_FORMAT) {
        sqlite3_finalize(st);
        return meta_bad(path, err);
    }
    papi_replica_info *i = &m->info;
    text_at(st, 1, i->dataset, sizeof i->dataset);
    text_at(st, 2, i->shape, sizeof i->shape);
    text_at(st, 3, m->dataset_table, sizeof m->dataset_table);
    text_at(st, 4, i->table, sizeof i->table);
    text_at(st, 5, m->key, sizeof m->key);
    const char *cols = (const char *)sqlite3_column_text(st, 6);
    m->columns = strdup(cols ? cols : "");
    text_at(st, 7, i->source, sizeof i->source);
    text_at(st, 8, i->query_id, sizeof i->query_id);
    char t[32];
    text_at(st, 9, t, sizeof t);
    i->started_unix_ms = papi__sq_utc_parse(t);
    text_at(st, 10, t, sizeof t);
    i->finished_unix_ms = papi__sq_utc_parse(t);
    text_at(st, 11, t, sizeof t);
    i->full_unix_ms = papi__sq_utc_parse(t);
    i->rows = (uint64_t)sqlite3_column_int64(st, 12);
    i->rows_synced = (uint64_t)sqlite3_column_int64(st, 13);
    i->partitions = (uint64_t)sqlite3_column_int64(st, 14);
    i->incremental = sqlite3_column_int(st, 15) ? 1 : 0;
    text_at(st, 16, i->watermark_column, sizeof i->watermark_column);
    text_at(st, 17, i->watermark, sizeof i->watermark);
    bool extra = sqlite3_step(st) != SQLITE_DONE; /* one row, or it is not ours */
    sqlite3_finalize(st);
    if (!m->columns)
        return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    if (extra || !i->dataset[0] || !i->table[0] || !i->shape[0])
        return meta_bad(path, err);
    return PAPI_OK;
}

static const char *const type_names[] = {
    [PAPI_COL_NUMBER] = "number",   [PAPI_COL_DECIMAL] = "decimal",
    [PAPI_COL_REAL] = "real",       [PAPI_COL_TEXT] = "text",
    [PAPI_COL_BOOLEAN] = "boolean", [PAPI_COL_DATE] = "date",
    [PAPI_COL_TIME] = "time",       [PAPI_COL_TIMESTAMP] = "timestamp",
    [PAPI_COL_VARIANT] = "variant", [PAPI_COL_BINARY] = "binary",
};

void papi__sq_columns_text(const papi_dataset *ds, papi_buf *b)
{
    for (size_t i = 0; i < papi_dataset_column_count(ds); i++) {
        papi_column_type t = papi_dataset_column_type(ds, i);
        papi_buf_printf(b, "%s%s %s", i ? ", " : "", papi_dataset_column_name(ds, i),
                        (size_t)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : "?");
    }
}

/* The first column where the lists "A type, B type" differ, described into out. */
static void first_column_difference(const char *file, const char *ours, char *out, size_t cap)
{
    size_t index = 1;
    for (;;) {
        size_t fl = strcspn(file, ","), ol = strcspn(ours, ",");
        if (fl != ol || strncmp(file, ours, fl) != 0) {
            char f[96], o[96];
            snprintf(f, sizeof f, "%.*s", (int)(fl < 90 ? fl : 90), file);
            snprintf(o, sizeof o, "%.*s", (int)(ol < 90 ? ol : 90), ours);
            if (!fl)
                snprintf(out, cap, "the file lacks column %zu (%.90s)", index, o);
            else if (!ol)
                snprintf(out, cap, "the file has a column %zu more", index);
            else
                snprintf(out, cap, "column %zu is '%.90s' in the file, '%.90s' in the dataset",
                         index, shown_with(f, "_$ "), o);
            return;
        }
        if (!file[fl])
            break;
        file += fl + (file[fl + 1] == ' ' ? 2 : 1);
        ours += ol + (ours[ol + 1] == ' ' ? 2 : 1);
        index++;
    }
    snprintf(out, cap, "the key's type differs");
}

papi_status papi__sq_meta_match(const papi__sq_meta *m, const papi_dataset *ds, const char *path,
                                papi_error *err)
{
    const char *name = papi_dataset_name(ds);
    if (strcmp(m->info.dataset, name) != 0)
        return papi_error_set(err, PAPI_ECONFIG,
                              "sqlite: '%.120s' is a replica of dataset %s, not of %s", path,
                              shown(m->info.dataset), name);
    if (strcmp(m->info.shape, papi_dataset_shape_hash(ds)) == 0)
        return PAPI_OK;
    char what[256];
    papi_buf cols;
    papi_buf_init(&cols);
    papi__sq_columns_text(ds, &cols);
    if (strcmp(m->dataset_table, papi_dataset_table(ds)) != 0)
        snprintf(what, sizeof what, "its table is %.60s, the dataset's %.60s",
                 shown(m->dataset_table), papi_dataset_table(ds));
    else if (strcasecmp(m->key, papi_dataset_key_column(ds)) != 0)
        snprintf(what, sizeof what, "its key is %.60s, the dataset's %.60s", shown(m->key),
                 papi_dataset_key_column(ds));
    else if (cols.oom)
        snprintf(what, sizeof what, "its columns differ");
    else
        first_column_difference(m->columns ? m->columns : "", papi_buf_cstr(&cols), what,
                                sizeof what);
    papi_buf_free(&cols);
    return papi_error_set(err, PAPI_ECONFIG,
                          "sqlite: '%.120s' is a replica of dataset %s with another shape: %s",
                          path, name, what);
}

papi_status papi__sq_table_check(sqlite3 *db, const papi_dataset *ds, const char *path,
                                 papi_error *err)
{
    char table[256];
    papi__sq_table_name(ds, table, sizeof table);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    size_t n = 0, ncols = papi_dataset_column_count(ds);
    bool same = true;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(st, 0);
        if (n >= ncols || !col || strcasecmp(col, papi_dataset_column_name(ds, n)) != 0)
            same = false;
        n++;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_OK)
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: cannot read database '%.120s': %s", path,
                              sqlite3_errstr(rc));
    if (n == 0)
        return papi_error_set(err, PAPI_ECONFIG, "sqlite: '%.120s' has no table %s (dataset %s)",
                              path, table, papi_dataset_name(ds));
    if (!same || n != ncols)
        return papi_error_set(err, PAPI_ECONFIG,
                              "sqlite: the table %s of '%.120s' does not have the columns of "
                              "dataset %s",
                              table, path, papi_dataset_name(ds));
    return PAPI_OK;
}

papi_status papi__sq_quick_check(sqlite3 *db, const char *path, papi_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
    const char *verdict = NULL;
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        verdict = (const char *)sqlite3_column_text(st, 0);
    bool ok = verdict && strcmp(verdict, "ok") == 0;
    sqlite3_finalize(st);
    if (ok)
        return PAPI_OK;
    if ((rc & 0xff) == SQLITE_NOMEM)
        return papi_error_set(err, PAPI_ENOMEM, "sqlite: out of memory");
    /* the verdict names pages and tables, not values: still, only say that it failed */
    return papi_error_set(err, PAPI_ECONFIG,
                          "sqlite: '%.120s' is corrupt (PRAGMA quick_check failed: %s)", path,
                          rc == SQLITE_ROW ? "damaged pages or records" : sqlite3_errstr(rc));
}

papi_status papi__sq_check_served(sqlite3 *db, const char *path, const papi_host *host, bool deep,
                                  char *held, size_t held_cap, papi_error *err)
{
    papi__sq_meta m;
    bool found = false;
    papi_status s = papi__sq_meta_read(db, path, &m, &found, err);
    if (held && held_cap)
        papi_strlcpy(held, s == PAPI_OK && found ? m.info.dataset : "", held_cap);
    if (s == PAPI_OK && found) {
        const papi_dataset *ds = papi_host_dataset(host, m.info.dataset);
        if (!ds)
            s = papi_error_set(err, PAPI_ECONFIG,
                               "sqlite: '%.120s' is a replica of dataset %s, which this client "
                               "does not serve",
                               path, shown(m.info.dataset));
        if (s == PAPI_OK)
            s = papi__sq_meta_match(&m, ds, path, err);
        if (s == PAPI_OK)
            s = papi__sq_table_check(db, ds, path, err);
    }
    papi__sq_meta_free(&m);
    if (s == PAPI_OK && deep)
        s = papi__sq_quick_check(db, path, err);
    return s;
}
