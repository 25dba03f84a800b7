/* The in-process cache tier: sharded, each shard a chained hash table plus an LRU list, bounded
 * by entries and bytes. Rows are shared blobs: a hit takes a reference, never a copy. Expired
 * rows are kept for stale_ms so the core can serve them when the source fails (stale-if-error).
 * Written against papi_backend.h only.
 *
 * A hit must not write a cache line another core writes, or two threads hitting the cache run
 * slower than one. Taking a shard's one mutex is such a write (the line moves to whichever core
 * last took it, whatever key it looked for), so a shard has one lock per CPU slot: a reader takes
 * the lock of the CPU it runs on, a writer (a put, an LRU promotion, dropping an expired entry)
 * takes them all. Reads are most of the traffic; writes are misses and at most one promotion of
 * an entry a second. */
#define _GNU_SOURCE /* sched_getcpu */
#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <stdint.h>

#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct entry {
    struct entry *chain;         /* next in the bucket */
    struct entry *newer, *older; /* LRU list: head is the most recently used */
    uint64_t hash;
    papi_blob *row; /* NULL: negative entry */
    int64_t fresh_until_ms;
    int64_t keep_until_ms; /* >= fresh_until_ms; past it the entry is dropped */
    int64_t used_ms;       /* when it last moved to the head of the LRU list */
    size_t bytes;          /* what it counts against max_bytes */
    size_t key_len;
    char key[];
} entry;

typedef struct shard {
    _Alignas(64) entry **buckets; /* own cache lines: no false sharing between shards */
    size_t nbuckets;              /* power of two */
    entry *head, *tail;
    size_t count;
    size_t bytes;
    size_t max_entries;
    size_t max_bytes;
    /* A hit moves its entry to the head only when it has not moved for this long: relinking
     * writes to neighbours' cache lines that threads on other cores then fetch back, and takes
     * every lock of the shard. In a cache this big an entry cannot drift from head to tail
     * within that time at any realistic miss rate, so the order stays LRU. Small (one-shard)
     * caches keep exact order with 0, and one lock. */
    int64_t promote_ms;
} shard;

/* One reader lock of a shard, alone on its cache line. */
typedef struct slot_lock {
    _Alignas(64) pthread_mutex_t m;
} slot_lock;

typedef struct mcache {
    /* the host's clock, taken out of the table once: TTLs and the stale window run on it, and
     * a hit reads it, so it costs one call */
    int64_t (*now_ms)(void *ctx);
    void *now_ctx;
    size_t nshards;   /* power of two */
    size_t nlocks;    /* per shard: CPU slots, a power of two; 1 when promote_ms is 0 */
    slot_lock *locks; /* nshards * nlocks, shard by shard */
    shard shards[];
} mcache;

/* The 128-bit product of a and b, folded to 64 bits (wyhash's "mum"). */
static uint64_t mum(uint64_t a, uint64_t b)
{
#if defined(__SIZEOF_INT128__)
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t h = (a ^ (b >> 29)) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 32) ^ b;
#endif
}

static uint64_t load8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static uint64_t load4(const char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* 16 bytes a step, one multiplication each, as wyhash does; both the shard bits (top) and the
 * bucket bits (bottom) come out mixed. Not papi_hash64 (FNV-1a, a byte a step: most of a hit's
 * lookup on a 30-byte key): this hash names nothing outside the process, so it may differ by
 * byte order or release. */
static uint64_t hash_key(const char *p, size_t n)
{
    static const uint64_t s0 = 0xa0761d6478bd642full, s1 = 0xe7037ed1a0b428dbull,
                          s2 = 0x8ebc6af09c88c6e3ull;
    uint64_t h = s0 ^ (uint64_t)n, a = 0, b = 0;
    size_t len = n;
    for (; n > 16; p += 16, n -= 16)
        h = mum(load8(p) ^ s1, load8(p + 8) ^ h);
    /* the last 1..16 bytes in two (overlapping) loads */
    if (n >= 8) {
        a = load8(p);
        b = load8(p + n - 8);
    } else if (n >= 4) {
        a = load4(p);
        b = load4(p + n - 4);
    } else if (n) {
        a = (uint64_t)(unsigned char)p[0] << 16 | (uint64_t)(unsigned char)p[n >> 1] << 8 |
            (unsigned char)p[n - 1];
    }
    h = mum(a ^ s1, b ^ h);
    return mum(h ^ s2, (uint64_t)len ^ s1);
}

static int64_t now_ms(const mcache *c)
{
    return c->now_ms ? c->now_ms(c->now_ctx) : papi_now_ms();
}

static slot_lock *locks_of(mcache *c, const shard *s)
{
    return &c->locks[(size_t)(s - c->shards) * c->nlocks];
}

/* The lock of the CPU the caller runs on (a thread moved since keeps it correct: any one lock
 * excludes writers). Returns it, for the unlock. */
static pthread_mutex_t *lock_read(mcache *c, shard *s)
{
    size_t slot = 0;
    if (c->nlocks > 1) {
        int cpu = sched_getcpu();
        slot = cpu >= 0 ? (size_t)cpu & (c->nlocks - 1) : 0;
    }
    pthread_mutex_t *m = &locks_of(c, s)[slot].m;
    pthread_mutex_lock(m);
    return m;
}

static void lock_write(mcache *c, shard *s)
{
    slot_lock *l = locks_of(c, s);
    for (size_t i = 0; i < c->nlocks; i++) /* in order: writers never deadlock */
        pthread_mutex_lock(&l[i].m);
}

static void unlock_write(mcache *c, shard *s)
{
    slot_lock *l = locks_of(c, s);
    for (size_t i = c->nlocks; i-- > 0;)
        pthread_mutex_unlock(&l[i].m);
}

static void lru_unlink(shard *s, entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        s->head = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        s->tail = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push_head(shard *s, entry *e)
{
    e->newer = NULL;
    e->older = s->head;
    if (s->head)
        s->head->newer = e;
    s->head = e;
    if (!s->tail)
        s->tail = e;
}

static entry **find_slot(shard *s, uint64_t hash, const char *key, size_t len)
{
    entry **pp = &s->buckets[hash & (s->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->chain) {
        entry *e = *pp;
        if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
            return pp;
    }
    return pp;
}

/* Removes e (found at *pp in its bucket) and frees it. */
static void drop(shard *s, entry **pp)
{
    entry *e = *pp;
    *pp = e->chain;
    lru_unlink(s, e);
    s->count--;
    s->bytes -= e->bytes;
    papi_blob_unref(e->row);
    free(e);
}

static void drop_entry(shard *s, entry *e)
{
    entry **pp = find_slot(s, e->hash, e->key, e->key_len);
    drop(s, pp);
}

static void grow(shard *s)
{
    size_t n = s->nbuckets * 2;
    entry **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < s->nbuckets; i++) {
        entry *e = s->buckets[i];
        while (e) {
            entry *next = e->chain;
            size_t j = e->hash & (n - 1);
            e->chain = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

static void mem_close(void *state);

static papi_status mem_open(const char *spec, const papi_config *cfg, const papi_host *host,
                            void *user, void **state, papi_error *err)
{
    (void)spec;
    (void)user;
    int64_t entries = 100000, bytes = 268435456;
    if (papi_config_get_int(cfg, "cache-max-entries", &entries) != PAPI_OK ||
        papi_config_get_int(cfg, "cache-max-bytes", &bytes) != PAPI_OK)
        return papi_error_set(err, PAPI_ECONFIG, "memory cache: its options are not readable");
    size_t max_entries = (size_t)entries;
    size_t max_bytes = (size_t)bytes;
    /* Small caches get one shard so their LRU order is exact; big ones spread the locks. */
    size_t nshards = 1;
    while (nshards < 64 && max_entries / (nshards * 2) >= 1024 &&
           max_bytes / (nshards * 2) >= (size_t)1 << 20)
        nshards *= 2;
    /* one reader lock per CPU (a power of two, at most 16: a writer takes them all), one for
     * exact LRU order */
    long ncpu = sysconf(_SC_NPROCESSORS_CONF);
    size_t nlocks = 1;
    while (nshards > 1 && nlocks < 16 && nlocks < (size_t)(ncpu > 0 ? ncpu : 1))
        nlocks *= 2;
    size_t size = sizeof(mcache) + nshards * sizeof(shard);
    mcache *c = aligned_alloc(_Alignof(mcache), (size + 63) / 64 * 64);
    slot_lock *locks = aligned_alloc(_Alignof(slot_lock), nshards * nlocks * sizeof(slot_lock));
    if (!c || !locks) {
        free(c);
        free(locks);
        return papi_error_set(err, PAPI_ENOMEM, "memory cache: out of memory");
    }
    memset(c, 0, size);
    if (host && host->struct_size >= offsetof(papi_host, now_ms) + sizeof host->now_ms &&
        host->now_ms) {
        c->now_ms = host->now_ms;
        c->now_ctx = host->ctx;
    }
    c->nshards = nshards;
    c->nlocks = nlocks;
    c->locks = locks;
    for (size_t i = 0; i < nshards * nlocks; i++)
        pthread_mutex_init(&locks[i].m, NULL); /* cannot fail for default attributes on Linux */
    for (size_t i = 0; i < nshards; i++) {
        shard *s = &c->shards[i];
        s->nbuckets = 64;
        s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
        s->max_entries = max_entries / nshards ? max_entries / nshards : 1;
        s->max_bytes = max_bytes / nshards;
        s->promote_ms = nshards > 1 ? 1000 : 0;
        if (!s->buckets) {
            mem_close(c);
            return papi_error_set(err, PAPI_ENOMEM, "memory cache: out of memory");
        }
    }
    *state = c;
    return PAPI_OK;
}

static void mem_close(void *state)
{
    mcache *c = state;
    if (!c)
        return;
    for (size_t i = 0; i < c->nshards; i++) {
        shard *s = &c->shards[i];
        while (s->tail)
            drop_entry(s, s->tail);
        free(s->buckets);
    }
    for (size_t i = 0; i < c->nshards * c->nlocks; i++)
        pthread_mutex_destroy(&c->locks[i].m);
    free(c->locks);
    free(c);
}

static shard *shard_of(mcache *c, uint64_t hash)
{
    return &c->shards[(hash >> 58) & (c->nshards - 1)];
}

enum { KEEP, PROMOTE, DROP };

/* Answers one key into *out under a reader lock; says what needs a writer: moving the entry to
 * the LRU head, or dropping an entry past its stale window. */
static int read_entry(shard *s, uint64_t h, const papi_key *key, int64_t now, papi_cache_entry *out)
{
    *out = (papi_cache_entry){PAPI_CACHE_MISS, NULL, 0};
    entry *e = *find_slot(s, h, key->ptr, key->len);
    if (!e)
        return KEEP;
    if (now < e->fresh_until_ms) {
        out->state = e->row ? PAPI_CACHE_FOUND : PAPI_CACHE_ABSENT;
        out->row = papi_blob_ref(e->row);
        out->fresh_ms = e->fresh_until_ms - now;
        return s->head != e && now - e->used_ms >= s->promote_ms ? PROMOTE : KEEP;
    }
    if (e->row && now < e->keep_until_ms) {
        /* not promoted: a stale copy is a last resort, not a reason to stay */
        out->state = PAPI_CACHE_EXPIRED;
        out->row = papi_blob_ref(e->row);
        return KEEP;
    }
    return DROP;
}

/* What read_entry() asked for, once the shard is held whole (the entry may have changed). */
static void write_entry(shard *s, uint64_t h, const papi_key *key, int64_t now, int what)
{
    entry **pp = find_slot(s, h, key->ptr, key->len);
    entry *e = *pp;
    if (!e)
        return;
    if (what == PROMOTE && now < e->fresh_until_ms && s->head != e) {
        lru_unlink(s, e);
        lru_push_head(s, e);
        e->used_ms = now;
    } else if (what == DROP && !(now < e->fresh_until_ms) && !(e->row && now < e->keep_until_ms)) {
        drop(s, pp);
    }
}

static papi_status mem_get(void *state, const papi_key *keys, size_t n, papi_cache_entry *out,
                           papi_error *err)
{
    (void)err;
    mcache *c = state;
    int64_t now = n ? now_ms(c) : 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t h = hash_key(keys[i].ptr, keys[i].len);
        shard *s = shard_of(c, h);
        pthread_mutex_t *m = lock_read(c, s);
        int what = read_entry(s, h, &keys[i], now, &out[i]);
        if (what != KEEP && c->nlocks == 1) /* the one lock is the whole shard */
            write_entry(s, h, &keys[i], now, what);
        pthread_mutex_unlock(m);
        if (what != KEEP && c->nlocks > 1) {
            lock_write(c, s);
            write_entry(s, h, &keys[i], now, what);
            unlock_write(c, s);
        }
    }
    return PAPI_OK;
}

static int64_t add_ms(int64_t now, int64_t ms)
{
    if (ms <= 0)
        return now;
    return ms > INT64_MAX - now ? INT64_MAX : now + ms;
}

static papi_status mem_put(void *state, const papi_key *keys, papi_blob *const *rows, size_t n,
                           const papi_cache_ttl *ttl, papi_error *err)
{
    mcache *c = state;
    int64_t now = now_ms(c);
    papi_status st = PAPI_OK;
    for (size_t i = 0; i < n; i++) {
        papi_blob *row = rows[i];
        int64_t life = row ? ttl->found_ms : ttl->absent_ms;
        uint64_t h = hash_key(keys[i].ptr, keys[i].len);
        shard *s = shard_of(c, h);
        size_t bytes = sizeof(entry) + keys[i].len + (row ? papi_blob_len(row) + 1 : 0);
        entry *e = NULL;
        if (life > 0 && bytes <= s->max_bytes) {
            e = malloc(sizeof *e + keys[i].len);
            if (!e) {
                st = papi_error_set(err, PAPI_ENOMEM, "memory cache: out of memory");
                continue;
            }
            e->hash = h;
            e->row = papi_blob_ref(row);
            e->fresh_until_ms = add_ms(now, life);
            e->keep_until_ms = row ? add_ms(e->fresh_until_ms, ttl->stale_ms) : e->fresh_until_ms;
            e->used_ms = now;
            e->bytes = bytes;
            e->key_len = keys[i].len;
            memcpy(e->key, keys[i].ptr, keys[i].len);
        }
        papi_blob *old_row = NULL;
        lock_write(c, s);
        entry **pp = find_slot(s, h, keys[i].ptr, keys[i].len);
        if (*pp) {
            /* unref outside the lock: the last reference frees */
            old_row = (*pp)->row;
            (*pp)->row = NULL;
            drop(s, pp);
        }
        if (e) {
            e->chain = s->buckets[h & (s->nbuckets - 1)];
            s->buckets[h & (s->nbuckets - 1)] = e;
            lru_push_head(s, e);
            s->count++;
            s->bytes += e->bytes;
            while (s->count > s->max_entries || s->bytes > s->max_bytes)
                drop_entry(s, s->tail);
            if (s->count > s->nbuckets)
                grow(s);
        }
        unlock_write(c, s);
        papi_blob_unref(old_row);
    }
    return st;
}

static const papi_option options[] = {
    {"cache-max-entries", "PAPI_CACHE_MAX_ENTRIES", PAPI_OPTION_INT, "100000", 1, INT64_C(1) << 40,
     0, "entries the memory cache holds at most", NULL},
    {"cache-max-bytes", "PAPI_CACHE_MAX_BYTES", PAPI_OPTION_INT, "268435456", 1024,
     INT64_C(1) << 50, 0, "bytes the memory cache holds at most (rows, keys, bookkeeping)", NULL},
};

/* Found by name in libpapi/backends.c. */
const papi_cache_backend papi__cache_memory = {
    .abi_version = PAPI_CACHE_ABI_VERSION,
    .struct_size = sizeof(papi_cache_backend),
    .name = "memory",
    .flags = PAPI_CACHE_IN_PROCESS,
    .open = mem_open,
    .close = mem_close,
    .get = mem_get,
    .put = mem_put,
    .options = options,
    .noptions = sizeof options / sizeof options[0],
};
