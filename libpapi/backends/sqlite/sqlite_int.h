/* Private to the sqlite backend (written against the public headers only): connections and the
 * cells of a row (conn.c), the checks of a file and the replica metadata (meta.c), the file-system
 * steps of a sync (files.c), the transport with its file generations (sqlite.c) and the replica
 * writer (replica.c, papi_replica.h). Nothing here is exported from the shared library. */
#ifndef PAPI_BACKEND_SQLITE_INT_H
#define PAPI_BACKEND_SQLITE_INT_H

#include <papi/papi.h>
#include <papi/papi_backend.h>
#include <papi/papi_replica.h>

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------- conn.c */

typedef struct papi__sq_stmt_slot {
    const papi_dataset *ds;
    size_t bucket; /* placeholders; 0: the scan, SIZE_MAX: the scan past the watermark */
    sqlite3_stmt *stmt;
} papi__sq_stmt_slot;

/* One read-only connection with its prepared statements and the scratch of a row's cells. */
typedef struct papi__sq_conn {
    sqlite3 *db;
    const papi_host *clock; /* the host's: deadlines are on it */
    unsigned id;
    papi__sq_stmt_slot *slots;
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
} papi__sq_conn;

/* Opens path read-only and reads its schema, so "not a database" fails here. PAPI_ECONFIG
 * naming path; PAPI_ENOMEM. */
papi_status papi__sq_conn_open(const char *path, const papi_host *clock, unsigned id,
                               papi__sq_conn **out, papi_error *err);
void papi__sq_conn_close(papi__sq_conn *c); /* accepts NULL */
/* Lets the progress handler interrupt a statement at deadline_ms; bounds the busy wait. */
void papi__sq_arm_deadline(papi__sq_conn *c, int64_t deadline_ms);
/* A SQLite failure as a papi status with a message that never quotes SQL or values. */
papi_status papi__sq_map_error(papi__sq_conn *c, int rc, const char *what, const papi_dataset *ds,
                               papi_error *err);
/* The lookup statement of ds with bucket placeholders (bucket >= 1), or the scan statement
 * (bucket 0: every row; SIZE_MAX: past the watermark), prepared once per connection. */
papi_status papi__sq_stmt_get(papi__sq_conn *c, const papi_host *log, const papi_dataset *ds,
                              size_t bucket, sqlite3_stmt **out, papi_error *err);
/* Binds the n keys, repeating the last up to bucket placeholders; an SQLite result code. */
int papi__sq_bind_keys(sqlite3_stmt *stmt, const papi_dataset *ds, const papi_key *keys, size_t n,
                       size_t bucket);
/* Converts the current row to the canonical cell texts of the dataset's column types, into
 * c->cells and c->lens (valid until the next step). */
papi_status papi__sq_row_cells(papi__sq_conn *c, sqlite3_stmt *stmt, const papi_dataset *ds,
                               size_t ncols, papi_error *err);
/* SQLite's last name part, lowercased: "API.DATA.HYBRID_CUSTOMER" is the file's
 * `hybrid_customer`, the table a replica holds. */
void papi__sq_table_name(const papi_dataset *ds, char *out, size_t cap);
/* A number key that fits an int64, as SQLite stores it; false otherwise. */
bool papi__sq_key_as_int64(const char *p, size_t len, sqlite3_int64 *v);

/* ------------------------------------------------------------- meta.c */

#define PAPI__SQ_META_TABLE "papi_replica_meta"

/* What papi_replica_meta holds: the public info, plus what says which shape it is. */
typedef struct papi__sq_meta {
    papi_replica_info info;
    char dataset_table[PAPI_REPLICA_TEXT_MAX]; /* papi_dataset_table() of the dataset */
    char key[PAPI_REPLICA_TEXT_MAX];
    char *columns; /* "NAME type, NAME type, ...": owned */
} papi__sq_meta;

void papi__sq_meta_free(papi__sq_meta *m);
/* "NAME type, NAME type, ..." of ds's columns into b. */
void papi__sq_columns_text(const papi_dataset *ds, papi_buf *b);
/* The file at path is a regular file starting with SQLite's header, and as long as its header
 * says (a truncated copy is shorter). PAPI_ECONFIG naming path otherwise. */
papi_status papi__sq_check_header(const char *path, papi_error *err);
/* Reads papi_replica_meta through db. *found is false when the file has no such table (the demo
 * database), and then m is empty. PAPI_ECONFIG when the table is there but not as papi writes it;
 * PAPI_ENOMEM. */
papi_status papi__sq_meta_read(sqlite3 *db, const char *path, papi__sq_meta *m, bool *found,
                               papi_error *err);
/* The CREATE TABLE of papi_replica_meta; the one row of m written into it (replacing any),
 * PAPI_EIO on failure. */
extern const char papi__sq_meta_create[];
papi_status papi__sq_meta_write(sqlite3 *db, const papi__sq_meta *m, papi_error *err);
/* PAPI_ECONFIG naming path and what differs when the file's metadata is not ds's: another
 * dataset, table, key or columns. */
papi_status papi__sq_meta_match(const papi__sq_meta *m, const papi_dataset *ds, const char *path,
                                papi_error *err);
/* The replica's table is there with the dataset's columns (a file cut or edited by hand). */
papi_status papi__sq_table_check(sqlite3 *db, const papi_dataset *ds, const char *path,
                                 papi_error *err);
/* PRAGMA quick_check: every page and record well formed. PAPI_ECONFIG naming path. */
papi_status papi__sq_quick_check(sqlite3 *db, const char *path, papi_error *err);
/* The checks of a file the sqlite source is about to serve (at open and when the path names a
 * new file): its header, and when it holds replica metadata, that a dataset of host's client
 * has that name and shape and its table is there. deep: PRAGMA quick_check as well. held (may
 * be NULL): the replica's dataset, "" when the file has no metadata (it may hold any). */
papi_status papi__sq_check_served(sqlite3 *db, const char *path, const papi_host *host, bool deep,
                                  char *held, size_t held_cap, papi_error *err);

/* ------------------------------------------------------------- files.c */

/* The folder of path into dir ("." when it has none); false when it does not fit. */
bool papi__sq_folder_of(const char *path, char *dir, size_t cap);
/* The folder a replica's temporary file goes into, the target's, exists. PAPI_ECONFIG. */
papi_status papi__sq_check_folder(const char *path, papi_error *err);
/* Leftovers of syncs killed before they could clean up: `<path>.tmp-<pid>-*` whose process is
 * gone. A live process's file is left alone (another sync of the same path may be running). */
void papi__sq_remove_stale_temps(const char *path);
/* Creates `<path>.tmp-<pid>-<random>` (O_EXCL: no other writer shares it); *tmp is malloc'd,
 * *fd open for writing. PAPI_EIO, PAPI_ENOMEM. */
papi_status papi__sq_temp_create(const char *path, char **tmp, int *fd, papi_error *err);
/* Copies the file at from into the open fd to (an incremental sync upserts into a copy: the file
 * served stays untouched until the rename). PAPI_EIO, PAPI_ENOMEM. */
papi_status papi__sq_copy_into(const char *from, int to, papi_error *err);
/* fsync of path, or of its folder (after a rename, so that the rename survives a crash). */
papi_status papi__sq_fsync(const char *path, bool folder, papi_error *err);

/* Unix milliseconds <-> "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC). parse returns 0 for "" or bad text. */
void papi__sq_utc_format(int64_t unix_ms, char out[32]);
int64_t papi__sq_utc_parse(const char *s);

#endif /* PAPI_BACKEND_SQLITE_INT_H */
