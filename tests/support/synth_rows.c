#include "synth_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLUMNS 64

static void cell_text(papi_column_type type, long v, char *out, size_t cap)
{
    switch (type) {
    case PAPI_COL_NUMBER:
    case PAPI_COL_DECIMAL:
    case PAPI_COL_REAL:
        snprintf(out, cap, "%ld", v);
        return;
    case PAPI_COL_BOOLEAN:
        snprintf(out, cap, "true");
        return;
    case PAPI_COL_DATE:
        snprintf(out, cap, "2020-01-01");
        return;
    case PAPI_COL_TIME:
        snprintf(out, cap, "12:00:00");
        return;
    case PAPI_COL_TIMESTAMP:
        snprintf(out, cap, "2020-01-01T12:00:00Z");
        return;
    case PAPI_COL_VARIANT:
        snprintf(out, cap, "{}");
        return;
    case PAPI_COL_BINARY:
        snprintf(out, cap, "00");
        return;
    case PAPI_COL_TEXT:
        snprintf(out, cap, "row-%ld", v);
        return;
    }
    snprintf(out, cap, "?");
}

papi_status synth_rows(const papi_dataset *ds, const papi_key *keys, size_t n,
                       papi_row_sink *sink, papi_error *err)
{
    size_t ncols = papi_dataset_column_count(ds), key_index = papi_dataset_key_index(ds);
    if (ncols > MAX_COLUMNS)
        return papi_error_set(err, PAPI_EPROTO, "too many columns for the test source");
    const char *cells[MAX_COLUMNS];
    size_t lens[MAX_COLUMNS];
    char text[MAX_COLUMNS][48];
    for (size_t i = 0; i < n; i++) {
        char id[40];
        if (keys[i].len >= sizeof id)
            continue;
        memcpy(id, keys[i].ptr, keys[i].len);
        id[keys[i].len] = '\0';
        long v = atol(id);
        if (v < 1 || v > 100000)
            continue;
        for (size_t c = 0; c < ncols; c++) {
            const char *col = papi_dataset_column_name(ds, c);
            if (c == key_index)
                snprintf(text[c], sizeof text[c], "%s", id);
            else if (strcmp(col, "C_LAST_REVIEW_DATE") == 0) /* TPC-DS: a Julian day as text */
                snprintf(text[c], sizeof text[c], "%ld", 2452275 + v % 730);
            else
                cell_text(papi_dataset_column_type(ds, c), v, text[c], sizeof text[c]);
            /* C_LOGIN is NULL in every TPC-DS customer row */
            cells[c] = strcmp(col, "C_LOGIN") == 0 ? NULL : text[c];
            lens[c] = cells[c] ? strlen(text[c]) : 0;
        }
        papi_status st = papi_sink_row(sink, cells, lens, ncols, err);
        if (st != PAPI_OK)
            return st;
    }
    return PAPI_OK;
}
