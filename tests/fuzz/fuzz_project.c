/* libFuzzer target for project.c, column selection cut out of cached rows.
 *
 * 1. The whole input as a row: whatever it holds, the cut never reads past it; a well-formed
 *    JSON object (what the row check lets through from a shared cache) is always cut, and the
 *    cut is well-formed JSON.
 * 2. The input split at 0xFF into a row's cells, rendered by papi: every column selected in
 *    column order gives back the rendered row byte for byte, and in reverse order a row as long. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "fuzz_pieces.h"

static const char datasets[] =
    "{\"datasets\":["
    "{\"name\":\"t\",\"table\":\"T\",\"key\":\"K\",\"key_type\":\"text\",\"columns\":["
    "{\"name\":\"K\",\"type\":\"text\"},{\"name\":\"V\",\"type\":\"variant\"},"
    "{\"name\":\"N\",\"type\":\"number\"}]}]}";

static papi_blob *cut(const papi_dataset *ds, const char *const *names, const char *s, size_t n,
                      papi_status *st)
{
    union {
        max_align_t align;
        char bytes[256];
    } mem;
    papi__select sel;
    papi__select_layout(&sel, ds, 3, mem.bytes);
    if (papi__select_resolve(&sel, ds, names, NULL) != PAPI_OK)
        abort();
    papi_blob *out = NULL;
    *st = papi__row_project(ds, &sel, s, n, &out, NULL);
    if ((*st == PAPI_OK) != (out != NULL))
        abort();
    return out;
}

static bool json_object(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && strchr(" \t\r\n", s[i]) && s[i])
        i++;
    return i < n && s[i] == '{' && papi__json_valid(s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static papi__datasets *set;
    if (!set && papi__datasets_parse(datasets, sizeof datasets - 1, &set, NULL) != PAPI_OK)
        abort();
    const papi_dataset *ds = papi__datasets_find(set, "t");
    const char *in_order[] = {"K", "V", "N"}, *reversed[] = {"n", "v", "k"};
    const char *s = (const char *)data;
    papi_status st;
    papi_blob *b = cut(ds, reversed, s, size, &st);
    if (json_object(s, size) &&
        (st != PAPI_OK || !papi__json_valid(papi_blob_data(b), papi_blob_len(b))))
        abort();
    papi_blob_unref(b);

    const char *piece[3];
    size_t plen[3];
    fuzz_pieces(data, size, piece, plen);
    papi_buf row;
    papi_buf_init(&row);
    if (papi__render_row(ds, piece, plen, 3, &row, NULL) == PAPI_OK && !row.oom) {
        b = cut(ds, in_order, row.data, row.len, &st);
        if (!b || papi_blob_len(b) != row.len || memcmp(papi_blob_data(b), row.data, row.len))
            abort();
        papi_blob_unref(b);
        b = cut(ds, reversed, row.data, row.len, &st);
        if (!b || papi_blob_len(b) != row.len)
            abort();
        papi_blob_unref(b);
    }
    papi_buf_free(&row);
    return 0;
}
