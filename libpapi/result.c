/* A result owns one reference to each row blob it returns (shared with the caches), so building
 * it copies no JSON. The whole-answer array is written only when someone asks for it, into room
 * allocated with the result: papi_result_json() cannot run out of memory (a server must never
 * answer 200 with an empty body), and a lookup whose answer would not fit fails with ENOMEM
 * instead. */
#include "core.h"

#include <stdlib.h>
#include <string.h>

struct papi_result {
    papi_cache_outcome outcome;
    size_t n;
    char *json;      /* after rows[]: room for "[row,row]" and its NUL */
    size_t json_len; /* its length, the brackets and commas included */
    bool json_built; /* written by the first papi_result_json() */
    papi_blob *rows[];
};

papi_result *papi__result_create(papi_blob **rows, size_t n, papi_cache_outcome outcome)
{
    size_t json_len = n ? 2 + (n - 1) : 0;
    for (size_t i = 0; i < n; i++)
        json_len += papi_blob_len(rows[i]);
    size_t head = sizeof(papi_result) + n * sizeof(papi_blob *);
    papi_result *r = malloc(head + (n ? json_len + 1 : 0));
    if (!r) {
        for (size_t i = 0; i < n; i++)
            papi_blob_unref(rows[i]);
        return NULL;
    }
    r->outcome = outcome;
    r->n = n;
    r->json = n ? (char *)r + head : NULL;
    r->json_len = json_len;
    r->json_built = false;
    if (n)
        memcpy(r->rows, rows, n * sizeof(papi_blob *));
    return r;
}

void papi_result_free(papi_result *result)
{
    if (!result)
        return;
    for (size_t i = 0; i < result->n; i++)
        papi_blob_unref(result->rows[i]);
    free(result);
}

size_t papi_result_count(const papi_result *result)
{
    return result ? result->n : 0;
}

const char *papi_result_row_json(const papi_result *result, size_t index, size_t *len)
{
    if (!result || index >= result->n) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = papi_blob_len(result->rows[index]);
    return papi_blob_data(result->rows[index]);
}

const char *papi_result_json(const papi_result *result, size_t *len)
{
    if (len)
        *len = 0;
    if (!result)
        return NULL;
    if (result->n == 0) {
        if (len)
            *len = 2;
        return "[]";
    }
    if (!result->json_built) {
        char *p = result->json;
        size_t at = 0;
        p[at++] = '[';
        for (size_t i = 0; i < result->n; i++) {
            if (i)
                p[at++] = ',';
            size_t l = papi_blob_len(result->rows[i]);
            memcpy(p + at, papi_blob_data(result->rows[i]), l);
            at += l;
        }
        p[at++] = ']';
        p[at] = '\0';
        /* written once, lazily: the result is object-confined and was allocated non-const */
        ((papi_result *)result)->json_built = true;
    }
    if (len)
        *len = result->json_len;
    return result->json;
}

papi_cache_outcome papi_result_outcome(const papi_result *result)
{
    return result ? result->outcome : PAPI_OUTCOME_MISS;
}
