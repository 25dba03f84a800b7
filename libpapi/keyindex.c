/* The two places that match keys (ids.c drops repeated ids, sink.c matches the source's key cells
 * to the ids a fetch asked for) share one index and one normal form of a number key. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static bool same(papi_key a, papi_key b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

bool papi__keyindex_init(papi__keyindex *ix, size_t n)
{
    size_t cap = 32;
    while (cap < n * 2)
        cap *= 2;
    ix->slot = calloc(cap, sizeof *ix->slot);
    ix->mask = cap - 1;
    return ix->slot != NULL;
}

void papi__keyindex_free(papi__keyindex *ix)
{
    free(ix->slot);
    ix->slot = NULL;
}

/* The slot holding k, or the empty one where it would go. */
static size_t probe(const papi__keyindex *ix, const papi_key *keys, papi_key k)
{
    size_t j = (size_t)papi_hash64(PAPI_HASH64_SEED, k.ptr, k.len) & ix->mask;
    while (ix->slot[j] && !same(keys[ix->slot[j] - 1], k))
        j = (j + 1) & ix->mask;
    return j;
}

size_t papi__keyindex_find(const papi__keyindex *ix, const papi_key *keys, papi_key k)
{
    uint32_t v = ix->slot[probe(ix, keys, k)];
    return v ? v - 1 : SIZE_MAX;
}

size_t papi__keyindex_add(papi__keyindex *ix, const papi_key *keys, size_t i)
{
    size_t j = probe(ix, keys, keys[i]);
    if (ix->slot[j])
        return ix->slot[j] - 1;
    ix->slot[j] = (uint32_t)(i + 1);
    return i;
}
