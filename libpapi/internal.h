/* Cross-file internals of libpapi. Nothing here is exported from the shared library
 * (hidden visibility); the command-line tool and unit tests link the static library. */
#ifndef PAPI_INTERNAL_H
#define PAPI_INTERNAL_H

#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"

/* ------------------------------------------------------------- limits */
#define PAPI__MAX_NUMBER_DIGITS 38
#define PAPI__MAX_TEXT_KEY_BYTES 256
#define PAPI__MAX_IDS_LIMIT 10000 /* upper bound accepted for the max-ids option */
#define PAPI__MAX_CACHE_TIERS 4
#define PAPI__MAX_SOURCES PAPI_STATS_SOURCES /* sources in a chain */
#define PAPI__VARIANT_MAX_DEPTH 64 /* nesting of a VARIANT cell's JSON */
#define PAPI__MAX_SOURCE_CONCURRENCY 4096 /* fetches in flight per source */
#define PAPI__MAX_BATCH_LIMIT 16384       /* ids in one fetch: the SQL API's IN-list limit */
#define PAPI__MAX_BATCH_LINGER_US 100000  /* a dispatch holds at most 100 ms for more ids */

/* buf.c (papi_buf), the hash, papi_utf8_seq and papi_json_string are public SPI:
 * papi_backend.h. */

/* ------------------------------------------------------------- render.c: JSON writing */
/* Length of the JSON number at the start of s (n bytes, any number of digits), 0 when there is
 * none. */
size_t papi__json_number_len(const char *s, size_t n);
/* Renders one row (cells in column order, NULL cell = SQL NULL) as a JSON object.
 * PAPI_EPROTO when a cell does not fit its column type (message names the column). */
papi_status papi__render_row(const papi_dataset *ds, const char *const *cells, const size_t *lens,
                             size_t ncells, papi_buf *out, papi_error *err);

/* ------------------------------------------------------------- rowcheck.c */
/* true when s (n bytes) is one JSON value, strictly: UTF-8 throughout, no lone surrogate
 * escapes, numbers of any length, at most PAPI__VARIANT_MAX_DEPTH + 1 containers deep. */
bool papi__json_valid(const char *s, size_t n);
/* true when row is a well-formed row of ds whose key column holds id (normalized, as ids.c
 * makes it): a JSON object as above, its key member present once and equal to id (a number key:
 * the integer with id's digits; a text key: a string that decodes to id's bytes). */
bool papi__row_check(const papi_dataset *ds, const char *id, size_t id_len, const char *row,
                     size_t len);

/* ------------------------------------------------------------- ids.c */
/* A validated, de-duplicated list of keys in first-asked order. Number keys are normalized
 * (leading zeros dropped, "0" kept). keys[i].ptr point into storage. A short list is held in
 * small (no allocation: a one-id lookup is the hot path), so the struct must not be copied or
 * moved while its keys are used. */
typedef struct papi__ids {
    papi_key *keys;
    size_t n;
    char *storage;
    union {
        max_align_t align;
        char bytes[256];
    } small;
} papi__ids;

papi_status papi__ids_parse_list(const char *list, size_t len, papi_key_type type, size_t max_ids,
                                 papi__ids *out, papi_error *err);
papi_status papi__ids_from_array(const char *const *ids, size_t n, papi_key_type type,
                                 size_t max_ids, papi__ids *out, papi_error *err);
void papi__ids_free(papi__ids *ids);
/* Writes up to shown_max bytes of s (len bytes, from a caller: an id, a column name) for a
 * message: printable ASCII kept, '"' and '\\' escaped, any other byte as \xHH, "..." when cut.
 * cap >= 4 * shown_max + 4 keeps all of it. */
void papi__show_bytes(char *dst, size_t cap, const char *s, size_t len, size_t shown_max);

/* ------------------------------------------------------------- blob.c */
/* A blob of len bytes (and a NUL) for the caller to write before anyone else sees it: *data.
 * NULL on ENOMEM. */
papi_blob *papi__blob_alloc(size_t len, char **data);

/* ------------------------------------------------------------- keyindex.c */
/* A key in its normal form, as ids are compared: a number loses a ".000" tail (some sources
 * append ".0" to integers) and its leading zeros ("0" stays); text is unchanged. Points into p.
 * Inline: every id of every lookup goes through it. */
static inline papi_key papi__key_normalize(papi_key_type type, const char *p, size_t n)
{
    if (type != PAPI_KEY_NUMBER)
        return (papi_key){p, n};
    if (n >= 2 && (p[n - 1] == '0' || p[n - 1] == '.')) { /* cheap: most ids end otherwise */
        size_t dot = n;
        while (dot > 0 && p[dot - 1] == '0')
            dot--;
        if (dot > 0 && p[dot - 1] == '.')
            n = dot - 1;
    }
    while (n > 1 && *p == '0') { /* "0" itself stays */
        p++;
        n--;
    }
    return (papi_key){p, n};
}
/* An open-addressing index over an array of keys the caller keeps (index + 1 per slot). */
typedef struct papi__keyindex {
    uint32_t *slot;
    size_t mask;
} papi__keyindex;
/* Room for n keys; false on ENOMEM. */
bool papi__keyindex_init(papi__keyindex *ix, size_t n);
void papi__keyindex_free(papi__keyindex *ix);
/* The index of the added key equal to k, or SIZE_MAX. */
size_t papi__keyindex_find(const papi__keyindex *ix, const papi_key *keys, papi_key k);
/* Adds keys[i] unless an equal key was added: returns that one's index, else i. */
size_t papi__keyindex_add(papi__keyindex *ix, const papi_key *keys, size_t i);
/* Checks and normalizes one key; writes the normalized form into out (cap >= len + 1). */
papi_status papi__id_check(const char *id, size_t len, papi_key_type type, char *out,
                           size_t *out_len, papi_error *err);

/* ------------------------------------------------------------- dataset.c */
typedef struct papi__datasets papi__datasets; /* the set a client serves */

/* The built-in `customer` dataset plus those of the JSON file at path (NULL: none). */
papi_status papi__datasets_load(const char *path, papi__datasets **out, papi_error *err);
/* Same, from a JSON text (for tests and fuzzing). */
papi_status papi__datasets_parse(const char *json, size_t len, papi__datasets **out,
                                 papi_error *err);
void papi__datasets_free(papi__datasets *set);
size_t papi__datasets_count(const papi__datasets *set);
const papi_dataset *papi__datasets_at(const papi__datasets *set, size_t i);
const papi_dataset *papi__datasets_find(const papi__datasets *set, const char *name);
/* 16 hex digits of a hash over table, key and columns with types: cache namespace. */
const char *papi__dataset_shape_hash(const papi_dataset *ds);
/* The column names of ds in column order (papi_dataset_column_count() of them) and their
 * lengths, for loops that would otherwise call the accessors for each. */
const char *const *papi__dataset_columns(const papi_dataset *ds, const size_t **lens);
/* "<name>:<shape-hash>:", how every cache key of ds begins, and its length. */
const char *papi__dataset_key_prefix(const papi_dataset *ds, size_t *len);
/* true when s is a valid (optionally dot-qualified, up to 3 parts) SQL identifier. */
bool papi__sql_identifier_ok(const char *s, bool qualified);

/* ------------------------------------------------------------- options.c */
/* Checks value against o (type, range, o->check) and writes the number of an INT or BOOL. The
 * message names the key, never a text value (it may be a secret or hold a Redis password). */
papi_status papi__option_parse(const papi_option *o, const char *value, int64_t *num,
                               papi_error *err);
/* A descriptor a plug-in may attach: a key, a known type, min <= max. */
bool papi__option_valid(const papi_option *o);
/* The core's or a built-in backend's option of that key (static storage). NULL when none; then
 * *not_built names the backend left out of this build that declares it, if one does. */
const papi_option *papi__option_builtin(const char *key, const char **not_built);

/* ------------------------------------------------------------- config.c */
/* An INT option that holds a value (the core's own, with defaults): asserted. */
int64_t papi__config_num(const papi_config *cfg, const char *key);
papi_config *papi__config_copy(const papi_config *cfg); /* NULL on ENOMEM */
/* A plug-in as attached: a zeroed copy of its table (min of the sizes), so every member can be
 * read without a size check. */
typedef struct papi__attached_transport {
    papi_transport_backend table;
    char *spec;
    void *user;
} papi__attached_transport;
typedef struct papi__attached_cache {
    papi_cache_backend table;
    char *spec;
    void *user;
} papi__attached_cache;
/* Copies a plug-in's table into dst as papi_config_set_transport()/add_cache() do; false when
 * it is refused (abi_version, struct_size, unknown flags, missing methods, bad options). */
bool papi__transport_copy(const papi_transport_backend *src, papi_transport_backend *dst);
bool papi__cache_copy(const papi_cache_backend *src, papi_cache_backend *dst);
/* The transports attached, the chain's order (0: none, the "source" option names them). */
size_t papi__config_transports(const papi_config *cfg, const papi__attached_transport **out);
/* The first transport attached (NULL: none). */
static inline const papi__attached_transport *papi__config_transport(const papi_config *cfg)
{
    const papi__attached_transport *att;
    return papi__config_transports(cfg, &att) ? &att[0] : NULL;
}
size_t papi__config_caches(const papi_config *cfg, const papi__attached_cache **out);
void papi__config_log(const papi_config *cfg, papi_log_fn *fn, void **user,
                      papi_log_level *max_level);
/* The clock papi_config_set_clock() gave; *fn is NULL for papi_now_ms(). */
void papi__config_clock(const papi_config *cfg, papi_clock_fn *fn, void **user);

/* ------------------------------------------------------------- backends.c: built-ins by name */
/* The built-in transport a source spec names ("sqlite:PATH", "snowflake"); NULL when none or
 * when it is not built into this library: then *not_built (may be NULL) is its name. */
const papi_transport_backend *papi__transport_find(const char *spec, const char **not_built);
/* The same for one cache tier spec ("memory", "none", "redis://..."). */
const papi_cache_backend *papi__cache_find(const char *spec, const char **not_built);
/* The first built-in transport whose detect() accepts cfg; NULL when none does. */
const papi_transport_backend *papi__transport_detect(const papi_config *cfg);
/* Built-ins, built or not: their options (from the table when built). */
size_t papi__builtin_count(void);
const papi_option *papi__builtin_options(size_t i, size_t *n, const char **name, bool *is_built);
/* papi_host_logf() with a va_list: formats one line and hands it to host->log. */
void papi__host_vlogf(const papi_host *host, papi_log_level level, const char *fmt, va_list ap)
    PAPI__PRINTF(3, 0);
/* The default demo database path (PAPI_DEMO_DB at build time). */
const char *papi__demo_db_path(void);

/* The value of the hex digit c, -1 when it is none. */
static inline int papi__hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One item of a comma-separated option value ("cache", "source"): returns its length and
 * advances *p past its comma, or to NULL after the last item. The item is copied into buf, NUL
 * terminated, when it fits (length < cap). */
static inline size_t papi__list_item(const char **p, char *buf, size_t cap)
{
    const char *s = *p;
    size_t len = 0;
    while (s[len] && s[len] != ',')
        len++;
    if (len < cap) {
        for (size_t i = 0; i < len; i++)
            buf[i] = s[i];
        buf[len] = '\0';
    }
    *p = s[len] ? s + len + 1 : NULL;
    return len;
}

/* ------------------------------------------------------------- misc */
/* The monotonic clock of papi_now_ms() in microseconds, for latency counters. */
int64_t papi__now_us(void);
/* Initializes cond to time its waits on that monotonic clock. 0 or an errno value. */
int papi__cond_init_monotonic(pthread_cond_t *cond);
/* One pthread_cond_timedwait on a cond made by papi__cond_init_monotonic(), until deadline_us
 * (papi__now_us() clock). ETIMEDOUT when the deadline passed, else 0 (a wake-up, maybe
 * spurious: callers re-check their condition). */
int papi__cond_wait_until_us(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline_us);
/* The same until deadline_ms on clock's time (papi_host_now_ms(clock): NULL is papi_now_ms()):
 * the wait lasts as long as the deadline is ahead of that clock now. ETIMEDOUT once the clock
 * has reached the deadline, else 0. Every wait for a deadline goes through it. */
int papi__cond_wait_until_ms(pthread_cond_t *cond, pthread_mutex_t *lock, const papi_host *clock,
                             int64_t deadline_ms);

#endif /* PAPI_INTERNAL_H */
