#include "fakes.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void fake_source_init(fake_source *f, int max_id)
{
    memset(f, 0, sizeof *f);
    f->max_id = max_id;
    pthread_mutex_init(&f->lock, NULL);
}

static papi_status fake_open(const char *spec, const papi_config *cfg, const papi_host *host,
                             void *user, void **state, papi_error *err)
{
    (void)spec;
    (void)cfg;
    (void)host;
    (void)err;
    fake_source *f = user;
    atomic_fetch_add(&f->opened, 1);
    *state = f;
    return PAPI_OK;
}

static void fake_close(void *state)
{
    fake_source *f = state;
    atomic_fetch_add(&f->closed, 1);
}

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static papi_status send_row(fake_source *f, long id, papi_row_sink *sink, papi_error *err)
{
    char key[32], sk[32], name[32];
    if (f->noisy_keys)
        snprintf(key, sizeof key, "000%ld.0", id);
    else
        snprintf(key, sizeof key, "%ld", id);
    snprintf(sk, sizeof sk, "AAAAAAAA%08ld", id);
    snprintf(name, sizeof name, "Name%ld", id);
    const char *cells[18] = {key,       sk,     "1",  "2",     "3",     "2450000",
                             "2450001", "Mr.",  name, "Smith", "Y",     "1",
                             "2",       "1970", NULL, NULL,    "x@y.z", "2452277"};
    if (f->bad_rows == 2)
        cells[2] = "12x";
    if (f->bad_rows == 3)
        cells[0] = NULL;
    size_t lens[18];
    for (int i = 0; i < 18; i++)
        lens[i] = cells[i] ? strlen(cells[i]) : 0;
    return papi_sink_row(sink, cells, lens, f->bad_rows == 1 ? 17 : 18, err);
}

static papi_status fake_fetch(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                              papi_row_sink *sink, int64_t deadline_ms, papi_error *err)
{
    (void)ds;
    (void)deadline_ms;
    fake_source *f = state;
    int call = atomic_fetch_add(&f->calls, 1) + 1;
    atomic_fetch_add(&f->keys_asked, (int)n);
    for (int m = atomic_load(&f->max_keys); (int)n > m;)
        if (atomic_compare_exchange_weak(&f->max_keys, &m, (int)n))
            break;
    pthread_mutex_lock(&f->lock);
    size_t at = 0;
    f->last_keys[0] = '\0';
    for (size_t i = 0; i < n && at + keys[i].len + 2 < sizeof f->last_keys; i++) {
        if (i)
            f->last_keys[at++] = ',';
        memcpy(f->last_keys + at, keys[i].ptr, keys[i].len);
        at += keys[i].len;
        f->last_keys[at] = '\0';
    }
    size_t used = strlen(f->fetch_log);
    if (used + at + 2 < sizeof f->fetch_log)
        snprintf(f->fetch_log + used, sizeof f->fetch_log - used, "%s%s", used ? ";" : "",
                 f->last_keys);
    pthread_mutex_unlock(&f->lock);
    if (atomic_load(&f->gate_closed)) {
        atomic_fetch_add(&f->gated, 1);
        int waited = 0;
        while (atomic_load(&f->gate_closed)) {
            if (waited >= 20000) {
                atomic_fetch_add(&f->block_timeouts, 1);
                break;
            }
            sleep_ms(1);
            waited += 1;
        }
        atomic_fetch_sub(&f->gated, 1);
    }
    if (f->hold_ms)
        sleep_ms(f->hold_ms);
    if (f->block_until_waits && (!f->block_only_call || f->block_only_call == call)) {
        papi_stats st = {.struct_size = sizeof st};
        int waited = 0;
        for (;;) {
            if (papi_client_stats(f->client, &st) != PAPI_OK)
                break;
            if (st.coalesced_waits >= f->block_until_waits)
                break;
            if (waited >= 20000) {
                atomic_fetch_add(&f->block_timeouts, 1);
                break;
            }
            sleep_ms(2);
            waited += 2;
        }
        /* let the last waiter reach its condition variable: not needed for correctness */
        sleep_ms(5);
    }
    if (f->fail_from && call >= f->fail_from) {
        atomic_fetch_add(&f->failures_injected, 1);
        papi_error_set(err, f->fail_status, "injected failure on call %d", call);
        if (err)
            snprintf(err->source_code, sizeof err->source_code, "390144");
        return f->fail_status;
    }
    if (f->extra_rows) {
        papi_status st = send_row(f, f->max_id + 1000, sink, err); /* never asked */
        if (st != PAPI_OK)
            return st;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = f->reverse ? n - 1 - k : k;
        char buf[64];
        if (keys[i].len >= sizeof buf)
            continue;
        memcpy(buf, keys[i].ptr, keys[i].len);
        buf[keys[i].len] = '\0';
        long id = strtol(buf, NULL, 10);
        if (id < (f->min_id ? f->min_id : 1) || id > f->max_id)
            continue;
        for (int rep = 0; rep < (f->extra_rows ? 2 : 1); rep++) {
            papi_status st = send_row(f, id, sink, err);
            if (st != PAPI_OK)
                return st;
        }
    }
    return PAPI_OK;
}

static papi_status fake_ping(void *state, int64_t deadline_ms, papi_error *err)
{
    (void)deadline_ms;
    fake_source *f = state;
    atomic_fetch_add(&f->pings, 1);
    if (f->fail_from)
        return papi_error_set(err, f->fail_status, "injected ping failure");
    return PAPI_OK;
}

const papi_transport_backend fake_transport = {
    .abi_version = PAPI_TRANSPORT_ABI_VERSION,
    .struct_size = sizeof(papi_transport_backend),
    .name = "fake",
    .open = fake_open,
    .close = fake_close,
    .fetch = fake_fetch,
    .ping = fake_ping,
};

static int fake_holds(void *state, const papi_dataset *ds)
{
    (void)ds;
    fake_source *f = state;
    return !atomic_load(&f->lacks_dataset);
}

const papi_transport_backend fake_chain_transport = {
    .abi_version = PAPI_TRANSPORT_ABI_VERSION,
    .struct_size = sizeof(papi_transport_backend),
    .name = "fake-replica",
    .open = fake_open,
    .close = fake_close,
    .fetch = fake_fetch,
    .ping = fake_ping,
    .default_concurrency = 1,
    .holds = fake_holds,
};

/* ------------------------------------------------------------------ spy cache */

void spy_cache_init(spy_cache *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
}

void spy_cache_clear(spy_cache *s)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        papi_blob_unref(s->items[i].row);
    s->n = 0;
    pthread_mutex_unlock(&s->lock);
}

void spy_cache_expire_all(spy_cache *s)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].row)
            s->items[i].state_on_get = PAPI_CACHE_EXPIRED;
    pthread_mutex_unlock(&s->lock);
}

static papi_status spy_open(const char *spec, const papi_config *cfg, const papi_host *host,
                            void *user, void **state, papi_error *err)
{
    (void)spec;
    (void)cfg;
    (void)host;
    (void)err;
    spy_cache *s = user;
    atomic_fetch_add(&s->opened, 1);
    *state = s;
    return PAPI_OK;
}

static void spy_close(void *state)
{
    spy_cache *s = state;
    atomic_fetch_add(&s->closed, 1);
}

static papi_status spy_get(void *state, const papi_key *keys, size_t n, papi_cache_entry *out,
                           papi_error *err)
{
    spy_cache *s = state;
    int nget = atomic_fetch_add(&s->gets, 1) + 1;
    atomic_fetch_add(&s->keys_got, (int)n);
    if (nget < s->hide_until_get) {
        for (size_t i = 0; i < n; i++)
            out[i] = (papi_cache_entry){PAPI_CACHE_MISS, NULL, 0};
        return PAPI_OK;
    }
    if (atomic_load(&s->failing)) {
        for (size_t i = 0; i < n; i++)
            out[i] = (papi_cache_entry){PAPI_CACHE_MISS, NULL, 0};
        return papi_error_set(err, PAPI_EIO, "spy cache is failing");
    }
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        out[i] = (papi_cache_entry){PAPI_CACHE_MISS, NULL, 0};
        for (size_t j = 0; j < s->n; j++)
            if (s->items[j].key_len == keys[i].len &&
                memcmp(s->items[j].key, keys[i].ptr, keys[i].len) == 0) {
                out[i].state = s->items[j].state_on_get;
                out[i].row = papi_blob_ref(s->items[j].row);
                out[i].fresh_ms = s->items[j].state_on_get == PAPI_CACHE_EXPIRED ? 0 : s->fresh_ms;
            }
    }
    pthread_mutex_unlock(&s->lock);
    return PAPI_OK;
}

static papi_status spy_put(void *state, const papi_key *keys, papi_blob *const *rows, size_t n,
                           const papi_cache_ttl *ttl, papi_error *err)
{
    (void)ttl;
    spy_cache *s = state;
    atomic_fetch_add(&s->puts, 1);
    atomic_fetch_add(&s->keys_put, (int)n);
    if (atomic_load(&s->failing))
        return papi_error_set(err, PAPI_EIO, "spy cache is failing");
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < s->n && !(s->items[j].key_len == keys[i].len &&
                             memcmp(s->items[j].key, keys[i].ptr, keys[i].len) == 0))
            j++;
        if (j == s->n) {
            if (s->n == sizeof s->items / sizeof s->items[0] ||
                keys[i].len > sizeof s->items[0].key)
                continue;
            s->n++;
            s->items[j].row = NULL;
        }
        papi_blob_unref(s->items[j].row);
        memcpy(s->items[j].key, keys[i].ptr, keys[i].len);
        s->items[j].key_len = keys[i].len;
        s->items[j].row = papi_blob_ref(rows[i]);
        s->items[j].state_on_get = rows[i] ? PAPI_CACHE_FOUND : PAPI_CACHE_ABSENT;
    }
    pthread_mutex_unlock(&s->lock);
    return PAPI_OK;
}

const papi_cache_backend spy_cache_backend = {
    .abi_version = PAPI_CACHE_ABI_VERSION,
    .struct_size = sizeof(papi_cache_backend),
    .name = "spy",
    .flags = PAPI_CACHE_IN_PROCESS,
    .open = spy_open,
    .close = spy_close,
    .get = spy_get,
    .put = spy_put,
};

const papi_cache_backend spy_remote_backend = {
    .abi_version = PAPI_CACHE_ABI_VERSION,
    .struct_size = sizeof(papi_cache_backend),
    .name = "spy-remote",
    .flags = 0,
    .open = spy_open,
    .close = spy_close,
    .get = spy_get,
    .put = spy_put,
};

void spy_cache_plant(spy_cache *s, const char *key, const char *row, size_t len)
{
    papi_key k = {key, strlen(key)};
    papi_blob *b = papi_blob_create(row, len);
    papi_blob *rows[1] = {b};
    papi_cache_ttl ttl = {60000, 60000, 0};
    spy_put(s, &k, rows, 1, &ttl, NULL);
    atomic_fetch_sub(&s->puts, 1); /* not the client's doing */
    atomic_fetch_sub(&s->keys_put, 1);
    papi_blob_unref(b);
}

/* ------------------------------------------------------------------ log */

void log_sink_init(log_sink *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
}

void log_sink_fn(void *user, papi_log_level level, const char *message)
{
    log_sink *l = user;
    pthread_mutex_lock(&l->lock);
    l->lines++;
    if (level == PAPI_LOG_WARN)
        l->warnings++;
    size_t at = strlen(l->all);
    snprintf(l->all + at, sizeof l->all - at, "%s\n", message);
    pthread_mutex_unlock(&l->lock);
}

papi_config *fake_config(fake_source *f, const char *cache)
{
    papi_config *cfg = NULL;
    if (papi_config_create(&cfg) != PAPI_OK)
        return NULL;
    if (papi_config_set_transport(cfg, &fake_transport, "fake:", f) != PAPI_OK ||
        papi_config_set(cfg, "cache", cache, NULL) != PAPI_OK) {
        papi_config_destroy(cfg);
        return NULL;
    }
    return cfg;
}

/* ------------------------------------------------------------------ threads of lookups */

void *lookup_job_run(void *arg)
{
    lookup_job *j = arg;
    papi_result *r = NULL;
    j->status = papi_lookup_list(j->client, "customer", j->list, strlen(j->list), &r, &j->err);
    if (j->status == PAPI_OK) {
        j->count = papi_result_count(r);
        j->outcome = papi_result_outcome(r);
        size_t len;
        const char *row = papi_result_row_json(r, 0, &len);
        snprintf(j->first, sizeof j->first, "%.*s", row ? (int)(len < 40 ? len : 40) : 0,
                 row ? row : "");
    }
    papi_result_free(r);
    return NULL;
}

void lookup_job_start(lookup_job *j, papi_client *c, const char *list)
{
    memset(j, 0, sizeof *j);
    j->client = c;
    snprintf(j->list, sizeof j->list, "%s", list);
    assert_int_equal(pthread_create(&j->thread, NULL, lookup_job_run, j), 0);
}

void lookup_job_finish(lookup_job *j)
{
    pthread_join(j->thread, NULL);
}

int random_ids(unsigned *seed, int max_per, int id_range, int exist, char list[256], int want[16])
{
    int n = 1 + (int)(rand_r(seed) % (unsigned)max_per), m = 0;
    list[0] = '\0';
    for (int k = 0; k < n && k < 16; k++) {
        int id = 1 + (int)(rand_r(seed) % (unsigned)id_range);
        char item[16];
        snprintf(item, sizeof item, k ? ",%d" : "%d", id);
        strcat(list, item);
        bool seen = false;
        for (int q = 0; q < m; q++)
            seen = seen || want[q] == id;
        if (!seen && id <= exist)
            want[m++] = id;
    }
    return m;
}

bool answer_holds(const papi_result *r, const int *want, int m)
{
    bool good = papi_result_count(r) == (size_t)m;
    for (int q = 0; good && q < m; q++) {
        char head[32];
        snprintf(head, sizeof head, "{\"C_CUSTOMER_SK\":%d,", want[q]);
        size_t len;
        const char *row = papi_result_row_json(r, (size_t)q, &len);
        good = len >= strlen(head) && memcmp(row, head, strlen(head)) == 0;
    }
    return good;
}

void *stress_run(void *arg)
{
    stress *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        int want[16];
        char list[256];
        int m = random_ids(&w->seed, w->max_per, w->id_range, w->exist, list, want);
        papi_result *r = NULL;
        papi_error err;
        if (papi_lookup_list(w->client, "customer", list, strlen(list), &r, &err) != PAPI_OK) {
            w->bad++;
            continue;
        }
        w->bad += !answer_holds(r, want, m);
        papi_result_free(r);
    }
    return NULL;
}

void stress_threads(const stress *tmpl, int n, unsigned seed_mul, unsigned seed_add)
{
    pthread_t t[STRESS_MAX_THREADS];
    stress w[STRESS_MAX_THREADS];
    assert_true(n > 0 && n <= STRESS_MAX_THREADS);
    for (int i = 0; i < n; i++) {
        w[i] = *tmpl;
        w[i].seed = (unsigned)i * seed_mul + seed_add;
        w[i].bad = 0;
        assert_int_equal(pthread_create(&t[i], NULL, stress_run, &w[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
}

papi_stats client_stats(papi_client *c)
{
    papi_stats s = {.struct_size = sizeof s};
    assert_int_equal(papi_client_stats(c, &s), PAPI_OK);
    return s;
}

void wait_gated(fake_source *src, int n)
{
    for (int i = 0; i < 10000 && atomic_load(&src->gated) != n; i++)
        sleep_ms(2);
    assert_int_equal(atomic_load(&src->gated), n);
}

void wait_depth(papi_client *c, uint64_t n)
{
    for (int i = 0; i < 10000 && client_stats(c).queue_depth != n; i++)
        sleep_ms(2);
    assert_int_equal(client_stats(c).queue_depth, n);
}

void wait_coalesced(papi_client *c, uint64_t n)
{
    for (int i = 0; i < 10000 && client_stats(c).coalesced_waits < n; i++)
        sleep_ms(2);
    assert_int_equal(client_stats(c).coalesced_waits, n);
}
