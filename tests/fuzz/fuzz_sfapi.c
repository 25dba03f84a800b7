/* libFuzzer target for SQL API answers (snowflake-sql-api.md 5): every input is read as a 200
 * ResultSet (whose rows are then decoded), as a later partition, as a 202 QueryStatus and as an
 * error body. Whatever is accepted must hold up: cells within their lengths, text cells valid
 * UTF-8, handles of the checked alphabet, error messages without control bytes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snowflake.h"

static const char *const names[] = {"K", "T", "D"};
static const papi_column_type types[] = {PAPI_COL_NUMBER, PAPI_COL_TEXT, PAPI_COL_DATE};
static const papi__sf_expect expect = {3, names, types};

static papi_status check_row(void *user, const char *const *cells, const size_t *lens, size_t n,
                             papi_error *err)
{
    (void)err;
    size_t *rows = user;
    if (n != 3)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (!cells[i])
            continue;
        /* every byte of a cell is readable (ASan) and the cell is text without a NUL */
        if (memchr(cells[i], '\0', lens[i]) || cells[i][lens[i]] != '\0')
            abort();
        if (i == 1) /* text arrives as UTF-8 or not at all */
            for (size_t k = 0; k < lens[i];) {
                size_t q = papi_utf8_seq((const unsigned char *)cells[i] + k, lens[i] - k);
                if (!q)
                    abort();
                k += q;
            }
    }
    ++*rows;
    return PAPI_OK;
}

static void result(const char *body, size_t len)
{
    papi__sf_limits lim = {PAPI__SF_MAX_BODY_BYTES, 64, INT64_MAX, NULL, 0};
    papi__sf_result r;
    papi_error err;
    papi_status st = papi__sf_parse_result(body, len, &expect, &lim, &r, &err);
    if (r.handle[0] && !papi__sf_handle_ok(r.handle))
        abort();
    if (st != PAPI_OK) {
        if (st != PAPI_EPROTO && st != PAPI_ENOMEM)
            abort();
        return;
    }
    bool in_body = r.data >= body && r.data + r.data_len <= body + len;
    if (r.npartitions < 1 || r.npartitions > lim.max_partitions ||
        (!in_body && (r.data_len != 2 || memcmp(r.data, "[]", 2) != 0))) /* no data: no rows */
        abort();
    size_t rows = 0;
    st = papi__sf_emit_rows(&r, r.data, r.data_len, r.row_counts[0], INT64_MAX, check_row, &rows,
                            &err);
    if (st == PAPI_OK && r.row_counts[0] >= 0 && (int64_t)rows != r.row_counts[0])
        abort();
    papi__sf_result_free(&r);
}

static void partition(const char *body, size_t len)
{
    const char *rows = NULL;
    size_t rows_len = 0;
    papi_error err;
    if (papi__sf_parse_partition(body, len, &rows, &rows_len, &err) != PAPI_OK)
        return;
    if (rows < body || rows + rows_len > body + len || rows_len < 2 || *rows != '[')
        abort();
    papi__sf_column cols[3] = {{PAPI__SF_FIXED, 0, PAPI_COL_NUMBER},
                               {PAPI__SF_TEXT, -1, PAPI_COL_TEXT},
                               {PAPI__SF_DATE, -1, PAPI_COL_DATE}};
    papi__sf_result r = {.cols = cols, .ncols = 3};
    size_t n = 0;
    (void)papi__sf_emit_rows(&r, rows, rows_len, -1, INT64_MAX, check_row, &n, &err);
}

static void status_and_error(const char *body, size_t len)
{
    char handle[128], url[400];
    papi_error err;
    if (papi__sf_parse_status(body, len, handle, sizeof handle, url, sizeof url, &err) ==
        PAPI_OK) {
        if (!papi__sf_handle_ok(handle) || strncmp(url, "/api/v2/statements/", 19) != 0 ||
            strpbrk(url, " \r\n\"\\#"))
            abort(); /* a status URL never leaves the host or breaks the request line */
    }
    papi__sf_error e;
    papi__sf_parse_error(body, len, &e);
    for (const char *p = e.message; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            abort(); /* one line in a log, whatever Snowflake wrote */
    if (e.handle[0] && !papi__sf_handle_ok(e.handle))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes: a read past the answer is an ASan report */
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    result(body, size);
    partition(body, size);
    status_and_error(body, size);
    free(body);
    return 0;
}
