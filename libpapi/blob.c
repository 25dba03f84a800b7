/* Rendered rows are immutable and shared by the caches and every result that returns them, so
 * a cache hit costs a reference count, not a copy. Header and bytes live in one allocation. */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct papi_blob {
    atomic_size_t refs;
    size_t len;
    char data[];
};

papi_blob *papi__blob_alloc(size_t len, char **data)
{
    if (len > SIZE_MAX - sizeof(papi_blob) - 1)
        return NULL;
    papi_blob *b = malloc(sizeof *b + len + 1);
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    b->data[len] = '\0';
    *data = b->data;
    return b;
}

papi_blob *papi_blob_create(const char *data, size_t len)
{
    char *d;
    papi_blob *b = papi__blob_alloc(len, &d);
    if (b && len)
        memcpy(d, data, len);
    return b;
}

papi_blob *papi_blob_ref(papi_blob *blob)
{
    if (blob)
        atomic_fetch_add_explicit(&blob->refs, 1, memory_order_relaxed);
    return blob;
}

void papi_blob_unref(papi_blob *blob)
{
    if (!blob)
        return;
    /* acq_rel so the freeing thread sees every other holder's reads finished */
    if (atomic_fetch_sub_explicit(&blob->refs, 1, memory_order_acq_rel) == 1)
        free(blob);
}

const char *papi_blob_data(const papi_blob *blob)
{
    return blob->data;
}

size_t papi_blob_len(const papi_blob *blob)
{
    return blob->len;
}
