/* The flow of one lookup (DESIGN.md), as named steps: the ids' cache keys → the cache tiers in
 * order → the misses this request leads (coalesced with other requests') → fetched through the
 * sources' dispatchers in chain order, batched with other requests' misses when a source is busy →
 * followers and stale copies → the answer in asked order. Caches only ever degrade to misses; the
 * source's failure is served from an expired copy where one exists (stale-if-error). */
#include "lookup.h"

#include <stdlib.h>
#include <string.h>

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

/* ------------------------------------------------------------- step 2: cache tiers */

/* Takes tier t's answer for the np ids of idx[]; a row or a negative entry is also copied up
 * into the tiers above t. */
static void take_tier(lookup *lk, size_t t, size_t np)
{
    papi_client *c = lk->c;
    size_t nfill = 0, answered = 0;
    papi_cache_ttl fill_ttl = c->ttl;
    bool trusted = c->tiers[t].backend->flags & PAPI_CACHE_IN_PROCESS;
    for (size_t j = 0; j < np; j++) {
        slot *s = &lk->slots[lk->idx[j]];
        papi_cache_entry *e = &lk->ents[j];
        if (!trusted) /* saves a call a hit */
            check_entry(c, t, lk->ds, s->id, e);
        if (e->state == PAPI_CACHE_FOUND && e->row) {
            s->row = e->row;
            s->state = S_FOUND;
            lk->hits++;
        } else if (e->state == PAPI_CACHE_ABSENT) {
            papi_blob_unref(e->row);
            s->state = S_ABSENT;
            lk->negative++;
        } else {
            /* a miss, a broken backend's FOUND without a row, or an expired copy kept for a
             * source failure */
            if (e->state == PAPI_CACHE_EXPIRED && !s->stale)
                s->stale = e->row;
            else
                papi_blob_unref(e->row);
            continue;
        }
        answered++;
        if (t) { /* to be copied up; keys[j] is no longer needed */
            shorten_ttl(&fill_ttl, e);
            lk->keys[nfill] = s->ckey;
            lk->rows[nfill++] = s->row;
        }
    }
    lk->left -= answered;
    for (size_t u = 0; u < t && nfill; u++)
        put_tier(c, u, lk->keys, lk->rows, nfill, &fill_ttl);
}

void papi__lookup_read_tiers(lookup *lk, size_t to)
{
    papi_client *c = lk->c;
    for (size_t t = lk->next_tier; t < to && lk->left; t++) {
        size_t np = 0;
        for (size_t i = 0; i < lk->m; i++)
            if (lk->slots[i].state == S_PENDING) {
                lk->idx[np] = i;
                lk->keys[np++] = lk->slots[i].ckey;
            }
        papi_error cerr; /* only its message is read (on failure): clearing it all costs more */
        cerr.status = PAPI_OK;
        cerr.message[0] = '\0';
        const papi__tier *tier = &c->tiers[t];
        if (tier->backend->get(tier->state, lk->keys, np, lk->ents, &cerr) != PAPI_OK) {
            for (size_t j = 0; j < np; j++) /* a failing backend may have filled some */
                if (lk->ents[j].state == PAPI_CACHE_FOUND ||
                    lk->ents[j].state == PAPI_CACHE_EXPIRED)
                    papi_blob_unref(lk->ents[j].row);
            cache_failed(c, t, "get", &cerr);
            continue;
        }
        take_tier(lk, t, np);
    }
    lk->next_tier = to > lk->next_tier ? to : lk->next_tier;
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

/* The same for a source before the last of a chain: the rows found fill the caches and finish
 * their flights; the ids it lacked keep theirs for the next source. A failure here is one before
 * any fetch (out of memory: papi__fetch_publish passes a fetch's failure on as absent ids), which
 * finishes every flight. */
void papi__lookup_publish_found(void *ctx, const papi_dataset *ds, const papi_key *ckeys,
                                papi__flight *const *flights, papi_blob *const *rows, size_t n,
                                papi_status status, const papi_error *err)
{
    papi_client *c = ctx;
    if (status != PAPI_OK) {
        papi__lookup_publish(ctx, ds, ckeys, flights, rows, n, status, err);
        return;
    }
    size_t nfound = 0;
    for (size_t k = 0; k < n; k++)
        nfound += rows[k] != NULL;
    if (!nfound)
        return;
    papi_key *keys = nfound == n ? NULL : malloc(nfound * sizeof *keys);
    papi_blob **found = nfound == n ? NULL : malloc(nfound * sizeof *found);
    if (nfound == n || (keys && found)) {
        size_t j = 0;
        for (size_t k = 0; keys && k < n; k++)
            if (rows[k]) {
                keys[j] = ckeys[k];
                found[j++] = rows[k];
            }
        for (size_t t = 0; t < c->ntiers; t++)
            put_tier(c, t, keys ? keys : ckeys, keys ? found : rows, nfound, &c->ttl);
    } else { /* no memory for the lists: one row at a time */
        for (size_t k = 0; k < n; k++)
            for (size_t t = 0; rows[k] && t < c->ntiers; t++)
                put_tier(c, t, &ckeys[k], &rows[k], 1, &c->ttl);
    }
    free(keys);
    free(found);
    for (size_t k = 0; k < n; k++)
        if (rows[k])
            papi__coalesce_finish(c->coalescer, flights[k], rows[k], PAPI_OK, NULL);
}

/* Hands the ids this request leads to the chain of sources and takes their outcomes. The
 * flights go with them: whoever fetches an id finishes its flight. */
static void fetch_led(lookup *lk, size_t nled, papi_error *ferr)
{
    size_t plen = lk->slots[0].ckey.len - lk->slots[0].id.len; /* "<dataset>:<hash>:" */
    for (size_t k = 0; k < nled; k++) {
        slot *s = lk->led[k];
        lk->want[k] = (papi__want){.ckey = s->ckey, .id_off = plen, .flight = s->flight, .tag = k};
        s->flight = NULL;
    }
    papi__chain_fetch(lk->c, 0, lk->ds, lk->want, nled, lk->deadline_ms, ferr);
    for (size_t k = 0; k < nled; k++) {
        const papi__want *w = &lk->want[k]; /* reordered by the chain: tag says whose */
        slot *s = lk->led[w->tag];
        if (w->status == PAPI_OK) {
            s->row = w->row;
            s->state = s->row ? S_FOUND : S_ABSENT;
        } else {
            s->failed = w->status;
        }
    }
}

/* ------------------------------------------------------------- step 5: followers, stale */

/* Waits for the ids other requests fetch; an id the source failed on (ferr: our own fetch's
 * failure) is answered from its expired copy where one exists, else the request fails with the
 * first such error. */
static papi_status wait_and_stale(lookup *lk, const papi_error *ferr, papi_error *err)
{
    papi_client *c = lk->c;
    papi_status st = PAPI_OK;
    papi_error werr;
    for (size_t i = 0; i < lk->m; i++) {
        slot *s = &lk->slots[i];
        if (s->state != S_PENDING)
            continue;
        papi_status sst = s->failed;
        const papi_error *serr = ferr;
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

void papi__lookup_close(lookup *lk)
{
    if (lk->heap) { /* a small lookup has none: the call would be most of this */
        free(lk->heap);
        lk->heap = NULL;
    }
}

void papi__lookup_release(lookup *lk)
{
    for (size_t i = 0; i < lk->m; i++) {
        papi_blob_unref(lk->slots[i].row);
        papi_blob_unref(lk->slots[i].stale);
    }
    papi__lookup_close(lk);
}

/* Replaces the n rows by their selected columns (the result owns the new rows). */
static papi_status project_rows(lookup *lk, size_t n, papi_error *err)
{
    papi_status st = PAPI_OK;
    for (size_t i = 0; i < n; i++) {
        papi_blob *cut = NULL;
        if (st == PAPI_OK)
            st = papi__row_project(lk->ds, &lk->sel, papi_blob_data(lk->rows[i]),
                                   papi_blob_len(lk->rows[i]), &cut, err);
        papi_blob_unref(lk->rows[i]);
        lk->rows[i] = cut;
    }
    if (st != PAPI_OK)
        for (size_t i = 0; i < n; i++)
            papi_blob_unref(lk->rows[i]);
    return st;
}

papi_status papi__lookup_end(lookup *lk, papi_status st, papi_result **out, papi_error *err)
{
    papi_client *c = lk->c;
    size_t nrows = 0;
    for (size_t i = 0; i < lk->m; i++) {
        slot *s = &lk->slots[i];
        if (s->stale)
            papi_blob_unref(s->stale);
        if (s->state == S_FOUND && st == PAPI_OK)
            lk->rows[nrows++] = s->row;
        else
            papi_blob_unref(s->row);
    }
    if (st == PAPI_OK && lk->sel.n)
        st = project_rows(lk, nrows, err);
    if (st == PAPI_OK) {
        *out = papi__result_create(lk->rows, nrows, lk->outcome);
        if (!*out)
            st = papi_error_set(err, PAPI_ENOMEM, "out of memory");
    }
    size_t stripe = papi__stripe_now();
    papi__count_at(c, stripe, PAPI__C_lookups, 1);
    papi__count_at(c, stripe, PAPI__C_cache_hits, lk->hits);
    papi__count_at(c, stripe, PAPI__C_cache_negative_hits, lk->negative);
    papi__lookup_close(lk);
    return st;
}

/* ------------------------------------------------------------- the rest of a lookup */

papi_status papi__lookup_rest(lookup *lk, papi_error *err)
{
    papi_client *c = lk->c;
    papi__lookup_read_tiers(lk, c->ntiers);
    if (!lk->left)
        return PAPI_OK;
    PAPI__COUNT(c, cache_misses, lk->left);
    lk->outcome = PAPI_OUTCOME_MISS;
    /* the clock is read only when the source is needed: a hit never waits */
    lk->deadline_ms = papi__client_now_ms(c) + c->timeout_ms;
    size_t nled = lead_misses(lk);
    papi_error ferr; /* the failure of this request's own fetch */
    papi_error_set(&ferr, PAPI_OK, NULL);
    /* our own ids before waiting on others': two requests that each lead what the other waits
     * for then both finish */
    if (nled)
        fetch_led(lk, nled, &ferr);
    return wait_and_stale(lk, &ferr, err);
}
