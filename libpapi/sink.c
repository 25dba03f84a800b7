/* The row sink a transport hands each row of a fetch to: the key cell is matched to the ids the
 * fetch asked for (in the normal form ids.c gives ids: keyindex.c) and the row is rendered to
 * JSON once. */
#include "core.h"

#include <stdlib.h>
#include <string.h>

static bool same_key(papi_key a, papi_key b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Index of the asked id equal to k, or n when it was not asked. */
static size_t sink_match(const papi_row_sink *sink, papi_key k)
{
    if (!sink->index.slot) {
        for (size_t i = 0; i < sink->n; i++)
            if (same_key(sink->ids[i], k))
                return i;
        return sink->n;
    }
    size_t i = papi__keyindex_find(&sink->index, sink->ids, k);
    return i == SIZE_MAX ? sink->n : i;
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
    sink->index = (papi__keyindex){NULL, 0};
    papi_buf_init(&sink->buf);
    memset(rows, 0, n * sizeof *rows);
    if (n <= 16)
        return true; /* a linear scan beats hashing */
    if (!papi__keyindex_init(&sink->index, n))
        return false;
    for (size_t i = 0; i < n; i++) /* the ids are distinct (ids.c, coalesce.c) */
        papi__keyindex_add(&sink->index, ids, i);
    return true;
}

void papi__sink_fini(papi_row_sink *sink)
{
    papi__keyindex_free(&sink->index);
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
    size_t i = sink_match(sink, papi__key_normalize(sink->type, kc, lens[sink->key_index]));
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
