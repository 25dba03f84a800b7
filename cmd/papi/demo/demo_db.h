/* The demo database: a SQLite file holding a TPC-DS shaped `hybrid_customer` table, either
 * generated (deterministic) or loaded from a CSV export. A small static library over SQLite and
 * libpapi's public headers (papi_utf8_seq), shared by `papi demo-db` and the benches. Messages go
 * into msg as they are: the caller escapes them for its terminal. */
#ifndef PAPI_CMD_DEMO_DB_H
#define PAPI_CMD_DEMO_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What went wrong: the file system or SQLite, or the input. */
typedef enum demo_rc {
    DEMO_OK = 0,
    DEMO_EIO = 1,    /* the file system or SQLite failed */
    DEMO_EINPUT = 2  /* bad arguments or a malformed CSV */
} demo_rc;

#define DEMO_NCOLS 18
#define DEMO_TABLE "hybrid_customer"
#define DEMO_MAX_ROWS INT64_C(100000000)

extern const char *const demo_columns[DEMO_NCOLS];
extern const bool demo_column_is_number[DEMO_NCOLS];

/* Builds the table in a temporary file next to the target, renamed over it on commit, so a
 * reader never sees a half-written database and a failed load leaves the old one alone. */
typedef struct demo_writer {
    sqlite3 *db;
    sqlite3_stmt *insert; /* 18 placeholders, in demo_columns order */
    char *tmp_path;
    char *path;
} demo_writer;

demo_rc demo_writer_begin(demo_writer *w, const char *path, char *msg, size_t cap);
demo_rc demo_writer_commit(demo_writer *w, char *msg, size_t cap);
void demo_writer_abort(demo_writer *w);

/* Writes rows 1..rows of generated customers; the same rows give the same bytes. */
demo_rc demo_db_generate(const char *path, int64_t rows, char *msg, size_t cap);
/* Loads a CSV export; *rows gets the number of rows loaded. All or nothing. */
demo_rc demo_db_load_csv(const char *path, const char *csv_path, int64_t *rows, char *msg,
                         size_t cap);

#endif /* PAPI_CMD_DEMO_DB_H */
