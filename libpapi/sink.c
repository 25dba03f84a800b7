/* The row sink a transport hands each row of a fetch to: the key cell is matched to the ids the
 * fetch asked for (normalized as ids.c normalizes ids) and the row is rendered to JSON once. */
#include "core.h"

#include <stdlib.h>
#include <string.h>

/* The key cell as ids.c normalizes ids: a number loses its leading zeros, and a ".0" some
 * sources append to integers is tolerated. */
static papi_key normalize_cell(papi_key_type type, const char *p, size_t n)
{
    if (type == PAPI_KEY_NUMBER) {
        const char *dot = memchr(p, '.', n);
        if (dot) {
            bool zeros = true;
            for (const char *q = dot + 1; q < p + n; q++)
                zeros = zeros && *q == '0';
            if (zeros)
                n = (size_t)(dot - p);
        }
        while (n > 1 && *p == '0') {
            p++;
            n--;
        }
    }
    return (papi_key){p, n};
}

static bool same_key(papi_key a, papi_key b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Index of the asked id equal to k, or n when it was not asked. */
static size_t sink_match(const papi_row_sink *sink, papi_key k)
{
    if (!sink->table) {
        for (size_t i = 0; i < sink->n; i++)
            if (same_key(sink->ids[i], k))
                return i;
        return sink->n;
    }
    for (size_t j = (size_t)papi_hash64(PAPI_HASH64_SEED, k.ptr, k.len) & sink->mask;;
         j = (j + 1) & sink->mask) {
        uint32_t v = sink->table[j];
        if (v == 0)
            return sink->n;
        if (same_key(sink->ids[v - 1], k))
            return v - 1;
    }
}

bool papi__sink_init(papi_row_sink *sink, const papi_dataset *ds, const papi_key *ids,
                     papi_blob **rows, size_t n)
{
    sink->ds = ds;
    sink->type = papi_dataset_key_type(ds);
    sink->key_index = papi_dataset_key_index(ds);
    sink->ncols = papi_dataset_column_count(ds);
    sink->ids = ids;
    sink->rows = rows;
    sink->n = n;
    sink->table = NULL;
    sink->mask = 0;
    papi_buf_init(&sink->buf);
    memset(rows, 0, n * sizeof *rows);
    if (n <= 16)
        return true; /* a linear scan beats hashing */
    size_t cap = 32;
    while (cap < n * 2)
        cap *= 2;
    sink->table = calloc(cap, sizeof *sink->table);
    if (!sink->table)
        return false;
    sink->mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)papi_hash64(PAPI_HASH64_SEED, ids[i].ptr, ids[i].len) & sink->mask;
        while (sink->table[j])
            j = (j + 1) & sink->mask;
        sink->table[j] = (uint32_t)(i + 1);
    }
    return true;
}

void papi__sink_fini(papi_row_sink *sink)
{
    free(sink->table);
    sink->table = NULL;
    papi_buf_free(&sink->buf);
}

papi_status papi_sink_row(papi_row_sink *sink, const char *const *cells, const size_t *lens,
                          size_t ncells, papi_error *err)
{
    if (!sink || (!cells && ncells) || (!lens && ncells))
        return papi_error_set(err, PAPI_EINVAL, "sink, cells and lengths are required");
    if (ncells != sink->ncols)
        return papi_error_set(err, PAPI_EPROTO, "the source sent %zu columns, dataset %s has %zu",
                              ncells, papi_dataset_name(sink->ds), sink->ncols);
    const char *kc = cells[sink->key_index];
    if (!kc)
        return PAPI_OK; /* a NULL key answers no id */
    size_t i = sink_match(sink, normalize_cell(sink->type, kc, lens[sink->key_index]));
    if (i == sink->n || sink->rows[i])
        return PAPI_OK; /* not asked, or a repeat */
    papi_buf_reset(&sink->buf);
    papi_status st = papi__render_row(sink->ds, cells, lens, ncells, &sink->buf, err);
    if (st != PAPI_OK)
        return st;
    if (sink->buf.oom || !(sink->rows[i] = papi_blob_create(sink->buf.data, sink->buf.len)))
        return papi_error_set(err, PAPI_ENOMEM, "out of memory rendering a row");
    return PAPI_OK;
}
