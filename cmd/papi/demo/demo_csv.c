/* The demo database from a CSV export of the customer table (RFC 4180; `papi demo-db PATH --csv
 * FILE`).
 *
 * The first record is a header naming the 18 columns, in any order, case ignored. A field that is
 * empty and unquoted is SQL NULL; "" is an empty string. Quoted fields may hold commas, doubled
 * quotes and line breaks. Lines end in LF or CRLF; a UTF-8 byte order mark and blank lines are
 * skipped. Any malformed record stops the load with its line number and nothing is written. */
#include "demo_db.h"

#include <papi/papi_backend.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSV_MAX_FIELDS 64
#define CSV_MAX_RECORD_BYTES (1024 * 1024)

typedef struct csv_reader {
    FILE *f;
    long line;        /* line of the next character */
    long record_line; /* line where the current record began */
    char *buf;        /* the fields' bytes, each NUL-terminated */
    size_t len, cap;
    size_t start[CSV_MAX_FIELDS];
    size_t flen[CSV_MAX_FIELDS];
    bool quoted[CSV_MAX_FIELDS];
    size_t nfields;
} csv_reader;

static bool put(csv_reader *r, char c)
{
    if (r->len == r->cap) {
        if (r->cap >= CSV_MAX_RECORD_BYTES)
            return false;
        size_t cap = r->cap ? r->cap * 2 : 4096;
        char *b = realloc(r->buf, cap);
        if (!b)
            return false;
        r->buf = b;
        r->cap = cap;
    }
    r->buf[r->len++] = c;
    return true;
}

/* Reads one record. 1: a record; 0: end of file; -1: malformed (msg says why). */
static int csv_next(csv_reader *r, char *msg, size_t cap)
{
    r->len = 0;
    r->nfields = 0;
    r->record_line = r->line;
    int c = getc(r->f);
    if (c == EOF)
        return 0;
    for (;;) {
        if (r->nfields == CSV_MAX_FIELDS) {
            snprintf(msg, cap, "line %ld: more than %d fields", r->record_line, CSV_MAX_FIELDS);
            return -1;
        }
        size_t f = r->nfields++;
        r->start[f] = r->len;
        r->quoted[f] = c == '"';
        if (c == '"') {
            long opened = r->line;
            for (;;) {
                c = getc(r->f);
                if (c == EOF) {
                    snprintf(msg, cap, "line %ld: a quoted field is never closed", opened);
                    return -1;
                }
                if (c == '"') {
                    c = getc(r->f);
                    if (c != '"')
                        break;
                } else if (c == '\n') {
                    r->line++;
                }
                if (!put(r, (char)c))
                    goto too_long;
            }
            if (c != ',' && c != '\n' && c != '\r' && c != EOF) {
                snprintf(msg, cap, "line %ld: text after a closing quote", r->line);
                return -1;
            }
        } else {
            while (c != ',' && c != '\n' && c != '\r' && c != EOF) {
                if (c == '"') {
                    snprintf(msg, cap, "line %ld: a quote inside an unquoted field", r->line);
                    return -1;
                }
                if (!put(r, (char)c))
                    goto too_long;
                c = getc(r->f);
            }
        }
        r->flen[f] = r->len - r->start[f];
        if (!put(r, '\0'))
            goto too_long;
        if (c == ',') {
            c = getc(r->f);
            continue;
        }
        if (c == '\r') {
            c = getc(r->f);
            if (c != '\n') {
                snprintf(msg, cap, "line %ld: a carriage return not followed by a line feed",
                         r->line);
                return -1;
            }
        }
        if (c == '\n')
            r->line++;
        return 1;
    }
too_long:
    snprintf(msg, cap, "line %ld: record longer than %d bytes", r->record_line,
             CSV_MAX_RECORD_BYTES);
    return -1;
}

static bool blank_record(const csv_reader *r)
{
    return r->nfields == 1 && r->flen[0] == 0 && !r->quoted[0];
}

static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if ((k = papi_utf8_seq(s + i, n - i)) == 0)
            return false;
    return true;
}

static bool parse_int(const char *s, size_t n, int64_t *out)
{
    size_t i = s[0] == '-' ? 1 : 0;
    if (n == i || n - i > 19)
        return false;
    for (size_t k = i; k < n; k++)
        if (s[k] < '0' || s[k] > '9')
            return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno)
        return false;
    *out = v;
    return true;
}

/* Maps header fields to columns: map[column] = field index. */
static demo_rc read_header(csv_reader *r, size_t map[DEMO_NCOLS], char *msg, size_t cap)
{
    int got;
    do {
        got = csv_next(r, msg, cap);
    } while (got == 1 && blank_record(r));
    if (got < 0)
        return DEMO_EINPUT;
    if (got == 0) {
        snprintf(msg, cap, "line 1: the file is empty; expected a header row");
        return DEMO_EINPUT;
    }
    char *first = r->buf + r->start[0];
    if ((unsigned char)first[0] == 0xEF && (unsigned char)first[1] == 0xBB &&
        (unsigned char)first[2] == 0xBF) {
        memmove(first, first + 3, r->flen[0] - 3 + 1);
        r->flen[0] -= 3;
    }
    for (size_t c = 0; c < DEMO_NCOLS; c++)
        map[c] = SIZE_MAX;
    for (size_t f = 0; f < r->nfields; f++) {
        const char *h = r->buf + r->start[f];
        size_t c = 0;
        while (c < DEMO_NCOLS && strcasecmp(h, demo_columns[c]) != 0)
            c++;
        if (c == DEMO_NCOLS) {
            snprintf(msg, cap, "line %ld: header field %zu is not a customer column",
                     r->record_line, f + 1);
            return DEMO_EINPUT;
        }
        if (map[c] != SIZE_MAX) {
            snprintf(msg, cap, "line %ld: column %s appears twice in the header", r->record_line,
                     demo_columns[c]);
            return DEMO_EINPUT;
        }
        map[c] = f;
    }
    for (size_t c = 0; c < DEMO_NCOLS; c++) {
        if (map[c] == SIZE_MAX) {
            snprintf(msg, cap, "line %ld: the header lacks column %s", r->record_line,
                     demo_columns[c]);
            return DEMO_EINPUT;
        }
    }
    return DEMO_OK;
}

/* Binds one data record; DEMO_EINPUT with the line number when a value does not fit. */
static demo_rc bind_record(csv_reader *r, const size_t map[DEMO_NCOLS], sqlite3_stmt *st,
                           int64_t *key, char *msg, size_t cap)
{
    if (r->nfields != DEMO_NCOLS) {
        snprintf(msg, cap, "line %ld: expected %d fields, found %zu", r->record_line, DEMO_NCOLS,
                 r->nfields);
        return DEMO_EINPUT;
    }
    for (size_t c = 0; c < DEMO_NCOLS; c++) {
        size_t f = map[c];
        const char *v = r->buf + r->start[f];
        size_t n = r->flen[f];
        int col = (int)c + 1;
        if (n == 0 && !r->quoted[f]) {
            if (c == 0) {
                snprintf(msg, cap, "line %ld: %s is empty", r->record_line, demo_columns[c]);
                return DEMO_EINPUT;
            }
            sqlite3_bind_null(st, col);
        } else if (demo_column_is_number[c]) {
            int64_t x;
            if (!parse_int(v, n, &x) || (c == 0 && x < 0)) {
                snprintf(msg, cap, "line %ld: %s is not a whole number%s", r->record_line,
                         demo_columns[c], c == 0 ? " of 0 or more" : "");
                return DEMO_EINPUT;
            }
            if (c == 0)
                *key = x;
            sqlite3_bind_int64(st, col, x);
        } else {
            if (!utf8_ok((const unsigned char *)v, n)) {
                snprintf(msg, cap, "line %ld: %s is not valid UTF-8", r->record_line,
                         demo_columns[c]);
                return DEMO_EINPUT;
            }
            sqlite3_bind_text(st, col, v, (int)n, SQLITE_STATIC);
        }
    }
    return DEMO_OK;
}

demo_rc demo_db_load_csv(const char *path, const char *csv_path, int64_t *rows, char *msg,
                         size_t cap)
{
    *rows = 0;
    csv_reader r = {.line = 1};
    r.f = fopen(csv_path, "rb");
    if (!r.f) {
        snprintf(msg, cap, "cannot open %s: %s", csv_path, strerror(errno));
        return DEMO_EIO;
    }
    size_t map[DEMO_NCOLS];
    demo_writer w = {0};
    demo_rc rc = read_header(&r, map, msg, cap);
    if (rc == DEMO_OK)
        rc = demo_writer_begin(&w, path, msg, cap);
    while (rc == DEMO_OK) {
        int got = csv_next(&r, msg, cap);
        if (got <= 0) {
            rc = got == 0 ? DEMO_OK : DEMO_EINPUT;
            break;
        }
        if (blank_record(&r))
            continue;
        int64_t key = 0;
        rc = bind_record(&r, map, w.insert, &key, msg, cap);
        if (rc != DEMO_OK)
            break;
        int src = sqlite3_step(w.insert);
        sqlite3_reset(w.insert);
        if (src == SQLITE_CONSTRAINT) {
            snprintf(msg, cap, "line %ld: duplicate %s %" PRId64, r.record_line, demo_columns[0],
                     key);
            rc = DEMO_EINPUT;
        } else if (src != SQLITE_DONE) {
            snprintf(msg, cap, "line %ld: cannot insert: %s", r.record_line,
                     sqlite3_errmsg(w.db));
            rc = DEMO_EIO;
        } else {
            ++*rows;
        }
    }
    if (rc == DEMO_OK && ferror(r.f)) {
        snprintf(msg, cap, "cannot read %s", csv_path);
        rc = DEMO_EIO;
    }
    fclose(r.f);
    free(r.buf);
    if (rc == DEMO_OK)
        return demo_writer_commit(&w, msg, cap);
    demo_writer_abort(&w);
    *rows = 0;
    return rc;
}
