/* The flow of one lookup (DESIGN.md), as named steps: the ids' cache keys → the cache tiers in
 * order → the misses this request leads (coalesced with other requests') → fetched through the
 * source's dispatcher, batched with other requests' misses when the source is busy → followers
 * and stale copies → the answer in asked order. Caches only ever degrade to misses; the source's
 * failure is served from an expired copy where one exists (stale-if-error). */
#include "core.h"

#include <stdlib.h>
#include <string.h>

enum { S_PENDING = 0, S_FOUND, S_ABSENT };

typedef struct slot {
    papi_key id;   /* normalized, points into the papi__ids storage */
    papi_key ckey; /* "<dataset>:<shape-hash>:<id>" */
    papi_blob *row;
    papi_blob *stale; /* an expired copy a tier still had */
    papi__flight *flight;
    papi_status failed; /* the source's failure for this id, when it led it */
    int state;
    bool lead;
} slot;

/* One lookup's state; the arrays are one scratch block, on the stack for small requests. */
typedef struct lookup {
    papi_client *c;
    const papi_dataset *ds;
    size_t m; /* distinct ids asked */
    slot *slots;
    slot **led;
    papi__want *want;
    papi_key *keys;
    papi_cache_entry *ents;
    size_t *idx;
    papi_blob **rows;
    papi_cache_outcome outcome;
    int64_t deadline_ms;
    papi_error ferr; /* the failure of this request's own fetches */
    void *heap;      /* the scratch block when it did not fit the stack */
} lookup;

static void cache_failed(papi_client *c, size_t tier, const char *op, const papi_error *cerr)
{
    PAPI__COUNT(c, cache_errors, 1);
    papi__client_log(c, PAPI_LOG_WARN, "cache tier %zu (%s) %s failed, treated as a miss: %s",
                     tier + 1, c->tiers[tier].spec, op, cerr->message[0] ? cerr->message : "-");
}

static void put_tier(papi_client *c, size_t t, const papi_key *keys, papi_blob *const *rows,
                     size_t n, const papi_cache_ttl *ttl)
{
    papi_error cerr;
    papi_error_set(&cerr, PAPI_OK, NULL);
    const papi__tier *tier = &c->tiers[t];
    if (tier->backend->put(tier->state, keys, rows, n, ttl, &cerr) != PAPI_OK)
        cache_failed(c, t, "put", &cerr);
}

/* An entry copied up from a lower tier is already part-way through its life there: the copy
 * must not outlive it, or a row could be served for almost two TTLs. */
static void shorten_ttl(papi_cache_ttl *ttl, const papi_cache_entry *e)
{
    if (e->fresh_ms <= 0)
        return;
    int64_t *life = e->state == PAPI_CACHE_FOUND ? &ttl->found_ms : &ttl->absent_ms;
    if (e->fresh_ms < *life)
        *life = e->fresh_ms;
}

/* A tier outside the process (no PAPI_CACHE_IN_PROCESS: Redis) hands back bytes anyone with
 * access to it may have written: a row that is not a well-formed row of the asked id becomes a
 * miss, counted and logged at most once a minute, before it can be served or copied up. */
#define BAD_ROW_LOG_MS 60000

static void check_entry(papi_client *c, size_t t, const papi_dataset *ds, papi_key id,
                        papi_cache_entry *e)
{
    if ((c->tiers[t].backend->flags & PAPI_CACHE_IN_PROCESS) || !e->row ||
        (e->state != PAPI_CACHE_FOUND && e->state != PAPI_CACHE_EXPIRED))
        return;
    if (papi__row_check(ds, id.ptr, id.len, papi_blob_data(e->row), papi_blob_len(e->row)))
        return;
    papi_blob_unref(e->row);
    *e = (papi_cache_entry){PAPI_CACHE_MISS, NULL, 0};
    PAPI__COUNT(c, cache_errors, 1);
    int64_t now = papi__client_now_ms(c);
    int64_t last = atomic_load_explicit(&c->bad_row_log_ms, memory_order_relaxed);
    if ((last == 0 || now - last >= BAD_ROW_LOG_MS) &&
        atomic_compare_exchange_strong(&c->bad_row_log_ms, &last, now))
        papi__client_log(c, PAPI_LOG_WARN,
                         "cache tier %zu (%s) returned a value for dataset %s that is not a "
                         "well-formed row of its id; treated as a miss (further ones are counted "
                         "in cache_errors, logged at most once a minute)",
                         t + 1, c->tiers[t].spec, papi_dataset_name(ds));
}

/* ------------------------------------------------------------- step 1: keys */

/* Lays out the scratch arrays and writes each id's cache key. False on ENOMEM. */
static bool lookup_keys(lookup *lk, const papi__ids *ids, void *stack, size_t stack_size)
{
    size_t m = ids->n;
    const char *name = papi_dataset_name(lk->ds);
    const char *hash = papi__dataset_shape_hash(lk->ds);
    size_t nlen = strlen(name), hlen = strlen(hash), plen = nlen + hlen + 2;
    size_t keybytes = 0;
    for (size_t i = 0; i < m; i++)
        keybytes += plen + ids->keys[i].len;
    size_t per = sizeof(slot) + sizeof(slot *) + sizeof(papi__want) + sizeof(papi_key) +
                 sizeof(papi_cache_entry) + sizeof(size_t) + sizeof(papi_blob *);
    size_t need = m * per + keybytes;
    char *mem = need <= stack_size ? stack : (lk->heap = malloc(need));
    if (!mem)
        return false;
    lk->m = m;
    lk->slots = (slot *)(void *)mem;
    lk->want = (papi__want *)(void *)(lk->slots + m);
    lk->led = (slot **)(void *)(lk->want + m);
    lk->keys = (papi_key *)(void *)(lk->led + m);
    lk->ents = (papi_cache_entry *)(void *)(lk->keys + m);
    lk->idx = (size_t *)(void *)(lk->ents + m);
    lk->rows = (papi_blob **)(void *)(lk->idx + m);
    char *kb = (char *)(lk->rows + m);
    for (size_t i = 0; i < m; i++) {
        char *k = kb;
        memcpy(kb, name, nlen);
        kb += nlen;
        *kb++ = ':';
        memcpy(kb, hash, hlen);
        kb += hlen;
        *kb++ = ':';
        memcpy(kb, ids->keys[i].ptr, ids->keys[i].len);
        kb += ids->keys[i].len;
        lk->slots[i] = (slot){.id = ids->keys[i], .ckey = {k, (size_t)(kb - k)}};
    }
    return true;
}

/* ------------------------------------------------------------- step 2: cache tiers */

/* Asks each tier in turn for the ids still pending; a hit in a lower tier fills the ones above.
 * Returns the number of ids no tier answered. */
static size_t read_tiers(papi_client *c, const papi_dataset *ds, slot *slots, size_t m,
                         papi_key *keys, papi_cache_entry *ents, size_t *idx, papi_blob **rows)
{
    size_t pending = m;
    for (size_t t = 0; t < c->ntiers && pending; t++) {
        size_t np = 0;
        for (size_t i = 0; i < m; i++)
            if (slots[i].state == S_PENDING) {
                idx[np] = i;
                keys[np++] = slots[i].ckey;
            }
        papi_error cerr;
        papi_error_set(&cerr, PAPI_OK, NULL);
        const papi__tier *tier = &c->tiers[t];
        if (tier->backend->get(tier->state, keys, np, ents, &cerr) != PAPI_OK) {
            for (size_t j = 0; j < np; j++) /* a failing backend may have filled some */
                if (ents[j].state == PAPI_CACHE_FOUND || ents[j].state == PAPI_CACHE_EXPIRED)
                    papi_blob_unref(ents[j].row);
            cache_failed(c, t, "get", &cerr);
            continue;
        }
        size_t nfill = 0, hits = 0, negative = 0;
        papi_cache_ttl fill_ttl = c->ttl;
        for (size_t j = 0; j < np; j++) {
            slot *s = &slots[idx[j]];
            check_entry(c, t, ds, s->id, &ents[j]);
            switch (ents[j].state) {
            case PAPI_CACHE_FOUND:
                if (!ents[j].row)
                    break; /* a broken backend: treat as a miss */
                s->row = ents[j].row;
                s->state = S_FOUND;
                hits++;
                shorten_ttl(&fill_ttl, &ents[j]);
                keys[nfill] = s->ckey; /* keys[j] is no longer needed */
                rows[nfill++] = s->row;
                break;
            case PAPI_CACHE_ABSENT:
                papi_blob_unref(ents[j].row);
                s->state = S_ABSENT;
                negative++;
                shorten_ttl(&fill_ttl, &ents[j]);
                keys[nfill] = s->ckey;
                rows[nfill++] = NULL;
                break;
            case PAPI_CACHE_EXPIRED:
                if (!s->stale)
                    s->stale = ents[j].row;
                else
                    papi_blob_unref(ents[j].row);
                break;
            case PAPI_CACHE_MISS:
                papi_blob_unref(ents[j].row);
                break;
            }
        }
        pending -= hits + negative;
        PAPI__COUNT(c, cache_hits, hits);
        PAPI__COUNT(c, cache_negative_hits, negative);
        for (size_t u = 0; u < t && nfill; u++)
            put_tier(c, u, keys, rows, nfill, &fill_ttl);
    }
    return pending;
}

/* A fetch that finished between our cache read and our join has filled the first tier and
 * left no flight to join: look again before asking the source a second time. Only an
 * in-process tier is worth it: for one across the network (Redis) the re-read would double
 * every miss's trips, to save a fetch in a window of microseconds. */
static size_t recheck_first_tier(papi_client *c, const papi_dataset *ds, slot **led, size_t n,
                                 papi_key *keys, papi_cache_entry *ents)
{
    if (!n || !c->ntiers || !(c->tiers[0].backend->flags & PAPI_CACHE_IN_PROCESS))
        return n;
    for (size_t k = 0; k < n; k++)
        keys[k] = led[k]->ckey;
    papi_error cerr;
    papi_error_set(&cerr, PAPI_OK, NULL);
    const papi__tier *tier = &c->tiers[0];
    if (tier->backend->get(tier->state, keys, n, ents, &cerr) != PAPI_OK) {
        for (size_t k = 0; k < n; k++)
            if (ents[k].state == PAPI_CACHE_FOUND || ents[k].state == PAPI_CACHE_EXPIRED)
                papi_blob_unref(ents[k].row);
        cache_failed(c, 0, "get", &cerr);
        return n;
    }
    size_t still = 0;
    for (size_t k = 0; k < n; k++) {
        slot *s = led[k];
        check_entry(c, 0, ds, s->id, &ents[k]);
        if (ents[k].state == PAPI_CACHE_FOUND && ents[k].row) {
            s->row = ents[k].row;
            s->state = S_FOUND;
        } else if (ents[k].state == PAPI_CACHE_ABSENT) {
            papi_blob_unref(ents[k].row);
            s->state = S_ABSENT;
        } else {
            papi_blob_unref(ents[k].row);
            led[still++] = s;
            continue;
        }
        papi__coalesce_finish(c->coalescer, s->flight, s->row, PAPI_OK, NULL);
        s->flight = NULL;
    }
    return still;
}

/* First tier only (papi_lookup_list_cached): all of it answered, or nothing taken from it. A
 * tier that may wait on the network (Redis) is not read at all: this runs on a server's event
 * loop, where one slow Redis would stall every connection. */
static papi_status lookup_first_tier(papi_client *c, slot *slots, size_t m, papi_key *keys,
                                     papi_cache_entry *ents, papi_blob **rows, papi_result **out,
                                     papi_error *err)
{
    if (!c->ntiers || !(c->tiers[0].backend->flags & PAPI_CACHE_IN_PROCESS))
        return PAPI_OK;
    for (size_t i = 0; i < m; i++)
        keys[i] = slots[i].ckey;
    papi_error cerr;
    papi_error_set(&cerr, PAPI_OK, NULL);
    const papi__tier *tier = &c->tiers[0];
    memset(ents, 0, m * sizeof *ents); /* a failing backend may fill only some */
    bool ok = tier->backend->get(tier->state, keys, m, ents, &cerr) == PAPI_OK;
    size_t nrows = 0, hits = 0, negative = 0;
    for (size_t i = 0; i < m; i++) {
        papi_cache_state es = ents[i].state;
        if (ok && es == PAPI_CACHE_FOUND && ents[i].row) {
            rows[nrows++] = ents[i].row;
            hits++;
            continue;
        }
        papi_blob_unref(ents[i].row);
        if (ok && es == PAPI_CACHE_ABSENT)
            negative++;
        else
            ok = false; /* a miss, an expired copy or a failure: the caller asks papi_lookup_list() */
    }
    if (ok && (*out = papi__result_create(rows, nrows, PAPI_OUTCOME_HIT)) != NULL) {
        PAPI__COUNT(c, lookups, 1);
        PAPI__COUNT(c, cache_hits, hits);
        PAPI__COUNT(c, cache_negative_hits, negative);
        return PAPI_OK;
    }
    for (size_t i = 0; i < nrows; i++)
        papi_blob_unref(rows[i]);
    return ok ? papi_error_set(err, PAPI_ENOMEM, "out of memory") : PAPI_OK;
}

/* ------------------------------------------------------------- step 3: lead */

/* Joins or starts the flight of every pending id; returns the number this request leads. */
static size_t lead_misses(lookup *lk)
{
    papi_client *c = lk->c;
    size_t nled = 0;
    for (size_t i = 0; i < lk->m; i++) {
        slot *s = &lk->slots[i];
        if (s->state != S_PENDING)
            continue;
        s->lead = papi__coalesce_join(c->coalescer, s->ckey.ptr, s->ckey.len, &s->flight);
        if (s->lead)
            lk->led[nled++] = s;
    }
    return recheck_first_tier(c, lk->ds, lk->led, nled, lk->keys, lk->ents);
}

/* ------------------------------------------------------------- step 4: fetch */

/* The dispatcher's publish step, run by whichever thread sent the fetch: every tier first, then
 * the flights, so a miss arriving after the wake-up finds the cache filled. */
void papi__lookup_publish(void *ctx, const papi_dataset *ds, const papi_key *ckeys,
                          papi__flight *const *flights, papi_blob *const *rows, size_t n,
                          papi_status status, const papi_error *err)
{
    (void)ds;
    papi_client *c = ctx;
    if (status == PAPI_OK)
        for (size_t t = 0; t < c->ntiers; t++)
            put_tier(c, t, ckeys, rows, n, &c->ttl);
    for (size_t k = 0; k < n; k++)
        papi__coalesce_finish(c->coalescer, flights[k], status == PAPI_OK ? rows[k] : NULL,
                              status, err);
}

/* Hands the ids this request leads to the source's dispatcher and takes their outcomes. The
 * flights go with them: whoever fetches an id finishes its flight. */
static void fetch_led(lookup *lk, size_t nled)
{
    size_t plen = lk->slots[0].ckey.len - lk->slots[0].id.len; /* "<dataset>:<hash>:" */
    for (size_t k = 0; k < nled; k++) {
        slot *s = lk->led[k];
        lk->want[k] = (papi__want){.ckey = s->ckey, .id_off = plen, .flight = s->flight};
        s->flight = NULL;
    }
    papi_error_set(&lk->ferr, PAPI_OK, NULL);
    papi__dispatch_fetch(lk->c->dispatcher, lk->ds, lk->want, nled, lk->deadline_ms, &lk->ferr);
    for (size_t k = 0; k < nled; k++) {
        slot *s = lk->led[k];
        if (lk->want[k].status == PAPI_OK) {
            s->row = lk->want[k].row;
            s->state = s->row ? S_FOUND : S_ABSENT;
        } else {
            s->failed = lk->want[k].status;
        }
    }
}

/* ------------------------------------------------------------- step 5: followers, stale */

/* Waits for the ids other requests fetch; an id the source failed on is answered from its
 * expired copy where one exists, else the request fails with the first such error. */
static papi_status wait_and_stale(lookup *lk, papi_error *err)
{
    papi_client *c = lk->c;
    papi_status st = PAPI_OK;
    papi_error werr;
    for (size_t i = 0; i < lk->m; i++) {
        slot *s = &lk->slots[i];
        if (s->state != S_PENDING)
            continue;
        papi_status sst = s->failed;
        const papi_error *serr = &lk->ferr;
        if (!s->lead) {
            PAPI__COUNT(c, coalesced_waits, 1);
            papi_blob *row = NULL;
            sst = papi__coalesce_wait(c->coalescer, s->flight, lk->deadline_ms, &row, &werr);
            s->flight = NULL;
            serr = &werr;
            if (sst == PAPI_OK) {
                s->row = row;
                s->state = row ? S_FOUND : S_ABSENT;
                continue;
            }
        }
        if (s->stale) {
            s->row = s->stale;
            s->stale = NULL;
            s->state = S_FOUND;
            lk->outcome = PAPI_OUTCOME_STALE;
            PAPI__COUNT(c, stale_served, 1);
        } else if (st == PAPI_OK) {
            st = sst;
            if (err)
                *err = *serr;
        }
    }
    if (lk->outcome == PAPI_OUTCOME_STALE)
        papi__client_log(c, PAPI_LOG_WARN, "served expired copies of %s rows: source failed",
                         papi_dataset_name(lk->ds));
    return st;
}

/* ------------------------------------------------------------- step 6: collect */

/* The answer in asked order (on success), every reference the lookup held released. */
static papi_status collect(lookup *lk, papi_status st, papi_result **out, papi_error *err)
{
    size_t nrows = 0;
    for (size_t i = 0; i < lk->m; i++) {
        slot *s = &lk->slots[i];
        papi_blob_unref(s->stale);
        if (s->state == S_FOUND && st == PAPI_OK)
            lk->rows[nrows++] = s->row;
        else
            papi_blob_unref(s->row);
    }
    if (st == PAPI_OK) {
        *out = papi__result_create(lk->rows, nrows, lk->outcome);
        if (!*out)
            st = papi_error_set(err, PAPI_ENOMEM, "out of memory");
    }
    return st;
}

static papi_status lookup_ids(papi_client *c, const papi_dataset *ds, const papi__ids *ids,
                              bool cached_only, papi_result **out, papi_error *err)
{
    union {
        max_align_t align;
        char bytes[2048];
    } stack; /* no allocation on a hit of a small request */
    lookup lk = {.c = c, .ds = ds, .outcome = PAPI_OUTCOME_HIT};
    if (!lookup_keys(&lk, ids, stack.bytes, sizeof stack.bytes))
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    papi_status st = PAPI_OK;
    if (cached_only) {
        st = lookup_first_tier(c, lk.slots, lk.m, lk.keys, lk.ents, lk.rows, out, err);
        free(lk.heap);
        return st;
    }
    PAPI__COUNT(c, lookups, 1);
    size_t pending = read_tiers(c, lk.ds, lk.slots, lk.m, lk.keys, lk.ents, lk.idx, lk.rows);
    PAPI__COUNT(c, cache_misses, pending);
    if (pending) {
        lk.outcome = PAPI_OUTCOME_MISS;
        /* the clock is read only when the source is needed: a hit never waits */
        lk.deadline_ms = papi__client_now_ms(c) + c->timeout_ms;
        size_t nled = lead_misses(&lk);
        /* our own ids before waiting on others': two requests that each lead what the other
         * waits for then both finish */
        if (nled)
            fetch_led(&lk, nled);
        st = wait_and_stale(&lk, err);
    }
    st = collect(&lk, st, out, err);
    free(lk.heap);
    return st;
}

static papi_status find_dataset(papi_client *client, const char *dataset, papi_result **out,
                                const papi_dataset **ds, papi_error *err)
{
    if (!out)
        return papi_error_set(err, PAPI_EINVAL, "out is required");
    *out = NULL;
    if (!client || !dataset)
        return papi_error_set(err, PAPI_EINVAL, "client and dataset are required");
    *ds = papi__datasets_find(client->datasets, dataset);
    if (!*ds)
        return papi_error_set(err, PAPI_ENODATASET, "unknown dataset '%.64s'", dataset);
    return PAPI_OK;
}

papi_status papi_lookup(papi_client *client, const char *dataset, const char *const *ids, size_t n,
                        papi_result **out, papi_error *err)
{
    const papi_dataset *ds;
    papi_status st = find_dataset(client, dataset, out, &ds, err);
    if (st != PAPI_OK)
        return st;
    if (!ids && n)
        return papi_error_set(err, PAPI_EINVAL, "ids are required");
    papi__ids parsed;
    st = papi__ids_from_array(ids, n, papi_dataset_key_type(ds), client->max_ids, &parsed, err);
    if (st != PAPI_OK)
        return st;
    st = lookup_ids(client, ds, &parsed, false, out, err);
    papi__ids_free(&parsed);
    return st;
}

static papi_status lookup_list(papi_client *client, const char *dataset, const char *list,
                               size_t len, bool cached_only, papi_result **out, papi_error *err)
{
    const papi_dataset *ds;
    papi_status st = find_dataset(client, dataset, out, &ds, err);
    if (st != PAPI_OK)
        return st;
    if (!list && len)
        return papi_error_set(err, PAPI_EINVAL, "list is required");
    papi__ids parsed;
    st = papi__ids_parse_list(list ? list : "", len, papi_dataset_key_type(ds), client->max_ids,
                              &parsed, err);
    if (st != PAPI_OK)
        return st;
    st = lookup_ids(client, ds, &parsed, cached_only, out, err);
    papi__ids_free(&parsed);
    return st;
}

papi_status papi_lookup_list(papi_client *client, const char *dataset, const char *list, size_t len,
                             papi_result **out, papi_error *err)
{
    return lookup_list(client, dataset, list, len, false, out, err);
}

papi_status papi_lookup_list_cached(papi_client *client, const char *dataset, const char *list,
                                    size_t len, papi_result **out, papi_error *err)
{
    return lookup_list(client, dataset, list, len, true, out, err);
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
