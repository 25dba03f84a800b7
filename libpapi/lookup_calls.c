/* The public lookup calls: their arguments checked and parsed into a lookup (ids, cache keys,
 * selected columns: step 1 of lookup.c's flow), then run to the end in one call, or begun
 * without blocking and finished in another (papi_pending: a server's event loop begins, a
 * worker finishes, and nothing is parsed or read from the first tier twice). */
#include "lookup.h"

#include <stdlib.h>
#include <string.h>

/* The ids of a call: a comma-separated list, or an array. */
typedef struct ids_arg {
    bool is_list;
    const char *list;
    size_t len;
    const char *const *arr;
    size_t n;
} ids_arg;

struct papi_pending {
    lookup lk;
    max_align_t scratch[]; /* the lookup's arrays */
};

/* ------------------------------------------------------------- step 1: ids, keys, selection */

/* Bytes of the scratch block for the ids' keys and lk's selection. */
static size_t scratch_size(const lookup *lk, const papi__ids *ids)
{
    size_t m = ids->n;
    size_t plen;
    papi__dataset_key_prefix(lk->ds, &plen);
    size_t keybytes = m * plen;
    for (size_t i = 0; i < m; i++)
        keybytes += ids->keys[i].len;
    size_t per = sizeof(slot) + sizeof(slot *) + sizeof(papi__want) + sizeof(papi_key) +
                 sizeof(papi_cache_entry) + sizeof(size_t) + sizeof(papi_blob *);
    return m * per + lk->sel_bytes + keybytes;
}

/* Points the arrays into mem: the 8-byte aligned ones first, the selection, then key bytes. */
static void layout(lookup *lk, char *mem, size_t nsel)
{
    size_t m = lk->m;
    lk->scratch = mem;
    lk->slots = (slot *)(void *)mem;
    lk->want = (papi__want *)(void *)(lk->slots + m);
    lk->led = (slot **)(void *)(lk->want + m);
    lk->keys = (papi_key *)(void *)(lk->led + m);
    lk->ents = (papi_cache_entry *)(void *)(lk->keys + m);
    lk->idx = (size_t *)(void *)(lk->ents + m);
    lk->rows = (papi_blob **)(void *)(lk->idx + m);
    if (nsel)
        papi__select_layout(&lk->sel, lk->ds, nsel, lk->rows + m);
    lk->kbytes = (char *)(lk->rows + m) + lk->sel_bytes;
}

/* Each id's slot and cache key "<dataset>:<shape-hash>:<id>"; the slot's id is the key's end,
 * so the lookup keeps no copy of the parsed list. */
static void write_keys(lookup *lk, const papi__ids *ids)
{
    size_t plen;
    const char *prefix = papi__dataset_key_prefix(lk->ds, &plen);
    char *kb = lk->kbytes;
    for (size_t i = 0; i < lk->m; i++) {
        const papi_key *id = &ids->keys[i];
        char *k = kb;
        memcpy(kb, prefix, plen);
        memcpy(kb + plen, id->ptr, id->len);
        kb += plen + id->len;
        lk->slots[i] = (slot){.ckey = {k, plen + id->len}, .id = {k + plen, id->len}};
    }
}

/* The options as this libpapi knows them: a caller's smaller struct keeps the defaults of what it
 * lacks, a larger one must leave what we do not know zero (an option is never ignored). */
#define OPTIONS_V1_SIZE (offsetof(papi_lookup_options, nselect) + sizeof(size_t))

static papi_status read_options(const papi_lookup_options *in, papi_lookup_options *o,
                                papi_error *err)
{
    *o = (papi_lookup_options){.struct_size = sizeof *o};
    if (!in)
        return PAPI_OK;
    if (in->struct_size < OPTIONS_V1_SIZE)
        return papi_error_set(err, PAPI_EINVAL,
                              "papi_lookup_options.struct_size is %u: set it to sizeof the struct",
                              (unsigned)in->struct_size);
    memcpy(o, in, in->struct_size < sizeof *o ? in->struct_size : sizeof *o);
    for (size_t i = sizeof *o; i < in->struct_size; i++)
        if (((const unsigned char *)in)[i])
            return papi_error_set(err, PAPI_EINVAL,
                                  "papi_lookup_options sets a member this libpapi (%s) does not "
                                  "know",
                                  papi_version());
    if (o->flags)
        return papi_error_set(err, PAPI_EINVAL, "papi_lookup_options.flags must be 0");
    if (!o->select && o->nselect)
        return papi_error_set(err, PAPI_EINVAL, "select is NULL but names %zu columns", o->nselect);
    return PAPI_OK;
}

/* Checks the arguments, parses the ids and lays out the lookup (on the stack when it fits),
 * with its cache keys and selected columns. */
static papi_status lookup_open(lookup *lk, papi_client *c, const char *dataset, const ids_arg *in,
                               const papi_lookup_options *opts, void *stack, size_t stack_size,
                               papi_result **out, papi_error *err)
{
    if (!out)
        return papi_error_set(err, PAPI_EINVAL, "out is required");
    *out = NULL;
    if (!c || !dataset)
        return papi_error_set(err, PAPI_EINVAL, "client and dataset are required");
    papi_lookup_options o;
    papi_status st = read_options(opts, &o, err);
    if (st != PAPI_OK)
        return st;
    /* member by member: zeroing the whole struct is a noticeable share of a cache hit */
    lk->c = c;
    lk->ds = papi__datasets_find(c->datasets, dataset);
    lk->m = lk->left = lk->next_tier = lk->hits = lk->negative = 0;
    lk->sel = (papi__select){0};
    lk->heap = NULL;
    lk->outcome = PAPI_OUTCOME_HIT;
    lk->deadline_ms = 0;
    if (!lk->ds)
        return papi_error_set(err, PAPI_ENODATASET, "unknown dataset '%.64s'", dataset);
    size_t ncols = papi_dataset_column_count(lk->ds);
    if (o.nselect > ncols) /* before any name is read: a list of thousands costs nothing */
        return papi_error_set(err, PAPI_EINVAL, "select names %zu columns: dataset %s has %zu",
                              o.nselect, dataset, ncols);
    papi_key_type type = papi_dataset_key_type(lk->ds);
    papi__ids ids; /* until the keys are written */
    st = in->is_list ? papi__ids_parse_list(in->list, in->len, type, c->max_ids, &ids, err)
                     : papi__ids_from_array(in->arr, in->n, type, c->max_ids, &ids, err);
    if (st != PAPI_OK)
        return st;
    lk->m = lk->left = ids.n;
    lk->sel_bytes = o.nselect ? papi__select_scratch(lk->ds, o.nselect) : 0;
    lk->scratch_size = scratch_size(lk, &ids);
    char *mem = lk->scratch_size <= stack_size ? stack : (lk->heap = malloc(lk->scratch_size));
    if (!mem) {
        papi__ids_free(&ids);
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    }
    layout(lk, mem, o.nselect);
    st = o.nselect ? papi__select_resolve(&lk->sel, lk->ds, o.select, err) : PAPI_OK;
    if (st == PAPI_OK)
        write_keys(lk, &ids);
    else
        papi__lookup_close(lk);
    papi__ids_free(&ids);
    return st;
}

/* A lookup run to its end in this call. */
static papi_status lookup_now(papi_client *c, const char *dataset, const ids_arg *in,
                              const papi_lookup_options *opts, papi_result **out, papi_error *err)
{
    union {
        max_align_t align;
        char bytes[2048];
    } stack; /* no allocation for the scratch of a small request */
    lookup lk;
    papi_status st =
        lookup_open(&lk, c, dataset, in, opts, stack.bytes, sizeof stack.bytes, out, err);
    if (st != PAPI_OK)
        return st;
    return papi__lookup_end(&lk, papi__lookup_rest(&lk, err), out, err);
}

papi_status papi_lookup(papi_client *client, const char *dataset, const char *const *ids, size_t n,
                        papi_result **out, papi_error *err)
{
    ids_arg in = {.arr = ids, .n = n};
    return lookup_now(client, dataset, &in, NULL, out, err);
}

papi_status papi_lookup_opts(papi_client *client, const char *dataset, const char *const *ids,
                             size_t n, const papi_lookup_options *opts, papi_result **out,
                             papi_error *err)
{
    ids_arg in = {.arr = ids, .n = n};
    return lookup_now(client, dataset, &in, opts, out, err);
}

papi_status papi_lookup_list(papi_client *client, const char *dataset, const char *list, size_t len,
                             papi_result **out, papi_error *err)
{
    ids_arg in = {.is_list = true, .list = list, .len = len};
    return lookup_now(client, dataset, &in, NULL, out, err);
}

papi_status papi_lookup_list_opts(papi_client *client, const char *dataset, const char *list,
                                  size_t len, const papi_lookup_options *opts, papi_result **out,
                                  papi_error *err)
{
    ids_arg in = {.is_list = true, .list = list, .len = len};
    return lookup_now(client, dataset, &in, opts, out, err);
}

/* ------------------------------------------------------------- a lookup in two calls */

/* Moves the lookup, with its scratch, into one allocation the caller owns. */
static papi_status pending_new(lookup *lk, papi_pending **out, papi_error *err)
{
    papi_pending *p = malloc(sizeof *p + lk->scratch_size);
    if (!p) {
        papi__lookup_release(lk);
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    }
    p->lk = *lk;
    memcpy(p->scratch, lk->scratch, lk->scratch_size);
    layout(&p->lk, (char *)p->scratch, lk->sel.n);
    for (size_t i = 0; i < lk->m; i++) { /* the keys' bytes moved with the block */
        slot *s = &p->lk.slots[i];
        s->ckey.ptr = p->lk.kbytes + (lk->slots[i].ckey.ptr - lk->kbytes);
        s->id.ptr = s->ckey.ptr + (s->ckey.len - s->id.len);
    }
    free(lk->heap);
    p->lk.heap = NULL;
    *out = p;
    return PAPI_OK;
}

papi_status papi_lookup_begin(papi_client *client, const char *dataset, const char *list,
                              size_t len, const papi_lookup_options *opts, papi_result **result,
                              papi_pending **pending, papi_error *err)
{
    if (!pending) {
        if (result)
            *result = NULL;
        return papi_error_set(err, PAPI_EINVAL, "pending is required");
    }
    *pending = NULL;
    union {
        max_align_t align;
        char bytes[2048];
    } stack;
    lookup lk;
    ids_arg in = {.is_list = true, .list = list, .len = len};
    papi_status st =
        lookup_open(&lk, client, dataset, &in, opts, stack.bytes, sizeof stack.bytes, result, err);
    if (st != PAPI_OK)
        return st;
    /* a tier that may wait on the network (Redis) is left to the finish: this call must not
     * block, it runs on a server's event loop */
    if (client->ntiers && (client->tiers[0].backend->flags & PAPI_CACHE_IN_PROCESS))
        papi__lookup_read_tiers(&lk, 1);
    if (!lk.left)
        return papi__lookup_end(&lk, PAPI_OK, result, err);
    return pending_new(&lk, pending, err);
}

papi_status papi_lookup_finish(papi_pending *pending, papi_result **result, papi_error *err)
{
    if (!result || !pending) {
        if (result)
            *result = NULL;
        papi_pending_free(pending);
        return papi_error_set(err, PAPI_EINVAL, "pending and result are required");
    }
    papi_status st =
        papi__lookup_end(&pending->lk, papi__lookup_rest(&pending->lk, err), result, err);
    free(pending);
    return st;
}

void papi_pending_free(papi_pending *pending)
{
    if (!pending)
        return;
    papi__lookup_release(&pending->lk);
    free(pending);
}

papi_status papi_lookup_list_cached(papi_client *client, const char *dataset, const char *list,
                                    size_t len, papi_result **out, papi_error *err)
{
    papi_pending *pending = NULL;
    papi_status st = papi_lookup_begin(client, dataset, list, len, NULL, out, &pending, err);
    papi_pending_free(pending); /* its caller asks papi_lookup_list() for all of it again */
    return st;
}

papi_status papi_lookup_customers(papi_client *client, const int64_t *ids, size_t n,
                                  papi_result **out, papi_error *err)
{
    if (out)
        *out = NULL;
    if (!ids && n)
        return papi_error_set(err, PAPI_EINVAL, "ids are required");
    if (client && n > client->max_ids) /* before converting a huge array to text */
        return papi_error_set(err, PAPI_EINVAL, "too many ids: %zu given, at most %zu allowed", n,
                              client->max_ids);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0)
            return papi_error_set(err, PAPI_EINVAL, "id %zu is negative", i + 1);
    enum { SMALL = 16, DIGITS = 21 };
    char small_text[SMALL][DIGITS];
    const char *small_ptrs[SMALL];
    char(*text)[DIGITS] = small_text;
    const char **ptrs = small_ptrs;
    void *heap = NULL;
    if (n > SMALL) {
        heap = malloc(n * (DIGITS + sizeof(char *)));
        if (!heap)
            return papi_error_set(err, PAPI_ENOMEM, "out of memory");
        ptrs = heap;
        text = (char(*)[DIGITS])(void *)(ptrs + n);
    }
    for (size_t i = 0; i < n; i++) {
        /* by hand: snprintf is a noticeable share of a cache hit */
        char rev[DIGITS];
        size_t len = 0;
        uint64_t v = (uint64_t)ids[i];
        do {
            rev[len++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        for (size_t k = 0; k < len; k++)
            text[i][k] = rev[len - 1 - k];
        text[i][len] = '\0';
        ptrs[i] = text[i];
    }
    papi_status st = papi_lookup(client, "customer", ptrs, n, out, err);
    free(heap);
    return st;
}
