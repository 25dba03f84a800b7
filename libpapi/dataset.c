/* Datasets: the set a client serves, the built-in `customer`, the accessors and the one SELECT
 * papi sends. Names from a JSON file are loaded by dataset_file.c; every name that will reach SQL
 * is checked as an identifier here, once; ids never reach SQL at all (bind variables only). */
#include "dataset_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IDENTIFIER_BYTES 255

struct papi_dataset {
    char *name;
    char *table;
    size_t key_index;
    size_t watermark_index; /* SIZE_MAX: none */
    papi_key_type key_type;
    size_t ncols;
    char **cols;
    size_t *col_lens;
    papi_column_type *types;
    char *select_list; /* "A, B, C": written once, copied into every query */
    size_t select_list_len;
    char shape_hash[17];
    char *key_prefix; /* "<name>:<shape_hash>:", the start of every cache key */
    size_t key_prefix_len;
};

struct papi__datasets {
    papi_dataset **items;
    size_t n;
};

static const char *const customer_columns[] = {
    "C_CUSTOMER_SK",      "C_CUSTOMER_ID",        "C_CURRENT_CDEMO_SK",    "C_CURRENT_HDEMO_SK",
    "C_CURRENT_ADDR_SK",  "C_FIRST_SHIPTO_DATE_SK", "C_FIRST_SALES_DATE_SK", "C_SALUTATION",
    "C_FIRST_NAME",       "C_LAST_NAME",          "C_PREFERRED_CUST_FLAG", "C_BIRTH_DAY",
    "C_BIRTH_MONTH",      "C_BIRTH_YEAR",         "C_BIRTH_COUNTRY",       "C_LOGIN",
    "C_EMAIL_ADDRESS",    "C_LAST_REVIEW_DATE",
};
#define N_ (PAPI_COL_NUMBER)
#define T_ (PAPI_COL_TEXT)
static const papi_column_type customer_types[] = {N_, T_, N_, N_, N_, N_, N_, T_, T_,
                                                  T_, T_, N_, N_, N_, T_, T_, T_, T_};
#undef N_
#undef T_

/* ------------------------------------------------------------- identifiers */

static bool ident_part_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    char c = s[0];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '$'))
            return false;
    }
    return true;
}

bool papi__sql_identifier_ok(const char *s, bool qualified)
{
    if (!s)
        return false;
    size_t len = strnlen(s, MAX_IDENTIFIER_BYTES + 1);
    if (len == 0 || len > MAX_IDENTIFIER_BYTES)
        return false;
    size_t parts = 0;
    for (const char *p = s;;) {
        const char *dot = memchr(p, '.', (size_t)(s + len - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(s + len - p);
        if (!ident_part_ok(p, n) || ++parts > (qualified ? 3u : 1u))
            return false;
        if (!dot)
            return true;
        p = dot + 1;
    }
}
/* ------------------------------------------------------------- building */

static void dataset_free(papi_dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; ds->cols && i < ds->ncols; i++)
        free(ds->cols[i]);
    free(ds->cols);
    free(ds->col_lens);
    free(ds->types);
    free(ds->select_list);
    free(ds->key_prefix);
    free(ds->name);
    free(ds->table);
    free(ds);
}

/* Everything that changes a row's JSON or which rows a key finds, so a changed dataset never
 * serves an old shape from a shared cache. */
static void compute_shape(papi_dataset *ds)
{
    uint64_t h = PAPI_HASH64_SEED;
    unsigned char sep = 0;
    h = papi_hash64(h, ds->table, strlen(ds->table) + 1);
    h = papi_hash64(h, ds->cols[ds->key_index], strlen(ds->cols[ds->key_index]) + 1);
    sep = (unsigned char)ds->key_type;
    h = papi_hash64(h, &sep, 1);
    for (size_t i = 0; i < ds->ncols; i++) {
        h = papi_hash64(h, ds->cols[i], strlen(ds->cols[i]) + 1);
        sep = (unsigned char)ds->types[i];
        h = papi_hash64(h, &sep, 1);
    }
    snprintf(ds->shape_hash, sizeof ds->shape_hash, "%016llx", (unsigned long long)h);
}

papi_dataset *papi__dataset_new(const char *name, const char *table, size_t key_index,
                                papi_key_type key_type, const char *const *cols,
                                const papi_column_type *types, size_t ncols, size_t watermark_index)
{
    papi_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return NULL;
    ds->name = strdup(name);
    ds->table = strdup(table);
    ds->cols = calloc(ncols, sizeof *ds->cols);
    ds->col_lens = malloc(ncols * sizeof *ds->col_lens);
    ds->types = malloc(ncols * sizeof *ds->types);
    if (!ds->name || !ds->table || !ds->cols || !ds->col_lens || !ds->types) {
        dataset_free(ds);
        return NULL;
    }
    ds->ncols = ncols;
    ds->key_index = key_index;
    ds->key_type = key_type;
    ds->watermark_index = watermark_index < ncols ? watermark_index : SIZE_MAX;
    papi_buf list;
    papi_buf_init(&list);
    for (size_t i = 0; i < ncols; i++) {
        ds->cols[i] = strdup(cols[i]);
        ds->col_lens[i] = strlen(cols[i]);
        ds->types[i] = types[i];
        if (!ds->cols[i]) {
            papi_buf_free(&list);
            dataset_free(ds);
            return NULL;
        }
        if (i)
            papi_buf_append(&list, ", ", 2);
        papi_buf_puts(&list, cols[i]);
    }
    ds->select_list = papi_buf_steal(&list, &ds->select_list_len);
    if (!ds->select_list) {
        dataset_free(ds);
        return NULL;
    }
    compute_shape(ds);
    ds->key_prefix_len = strlen(ds->name) + 1 + strlen(ds->shape_hash) + 1;
    ds->key_prefix = malloc(ds->key_prefix_len + 1);
    if (!ds->key_prefix) {
        dataset_free(ds);
        return NULL;
    }
    snprintf(ds->key_prefix, ds->key_prefix_len + 1, "%s:%s:", ds->name, ds->shape_hash);
    return ds;
}

papi_status papi__datasets_add(papi__datasets *set, papi_dataset *ds, papi_error *err)
{
    if (!ds)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory for datasets");
    papi_dataset **items = realloc(set->items, (set->n + 1) * sizeof *items);
    if (!items) {
        dataset_free(ds);
        return papi_error_set(err, PAPI_ENOMEM, "out of memory for datasets");
    }
    set->items = items;
    set->items[set->n++] = ds;
    return PAPI_OK;
}

papi_status papi__datasets_new(papi__datasets **out, papi_error *err)
{
    papi__datasets *set = calloc(1, sizeof *set);
    if (!set)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory for datasets");
    papi_status st = papi__datasets_add(
        set,
        papi__dataset_new("customer", "API.DATA.HYBRID_CUSTOMER", 0, PAPI_KEY_NUMBER,
                          customer_columns, customer_types,
                          sizeof customer_columns / sizeof customer_columns[0], SIZE_MAX),
        err);
    if (st != PAPI_OK) {
        papi__datasets_free(set);
        return st;
    }
    *out = set;
    return PAPI_OK;
}

void papi__datasets_free(papi__datasets *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        dataset_free(set->items[i]);
    free(set->items);
    free(set);
}

size_t papi__datasets_count(const papi__datasets *set)
{
    return set ? set->n : 0;
}

const papi_dataset *papi__datasets_at(const papi__datasets *set, size_t i)
{
    return set && i < set->n ? set->items[i] : NULL;
}

const papi_dataset *papi__datasets_find(const papi__datasets *set, const char *name)
{
    if (!set || !name)
        return NULL;
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->items[i]->name, name) == 0)
            return set->items[i];
    return NULL;
}

const char *papi__dataset_shape_hash(const papi_dataset *ds)
{
    return ds ? ds->shape_hash : "";
}

const char *const *papi__dataset_columns(const papi_dataset *ds, const size_t **lens)
{
    *lens = ds->col_lens;
    return (const char *const *)ds->cols;
}

const char *papi__dataset_key_prefix(const papi_dataset *ds, size_t *len)
{
    *len = ds->key_prefix_len;
    return ds->key_prefix;
}

/* ------------------------------------------------------------- accessors */

const char *papi_dataset_name(const papi_dataset *ds)
{
    return ds ? ds->name : NULL;
}

const char *papi_dataset_table(const papi_dataset *ds)
{
    return ds ? ds->table : NULL;
}

const char *papi_dataset_key_column(const papi_dataset *ds)
{
    return ds ? ds->cols[ds->key_index] : NULL;
}

size_t papi_dataset_key_index(const papi_dataset *ds)
{
    return ds ? ds->key_index : 0;
}

papi_key_type papi_dataset_key_type(const papi_dataset *ds)
{
    return ds ? ds->key_type : PAPI_KEY_NUMBER;
}

size_t papi_dataset_column_count(const papi_dataset *ds)
{
    return ds ? ds->ncols : 0;
}

const char *papi_dataset_column_name(const papi_dataset *ds, size_t i)
{
    return ds && i < ds->ncols ? ds->cols[i] : NULL;
}

papi_column_type papi_dataset_column_type(const papi_dataset *ds, size_t i)
{
    return ds && i < ds->ncols ? ds->types[i] : PAPI_COL_TEXT;
}

const char *papi_dataset_watermark_column(const papi_dataset *ds)
{
    return ds && ds->watermark_index != SIZE_MAX ? ds->cols[ds->watermark_index] : NULL;
}

size_t papi_dataset_watermark_index(const papi_dataset *ds)
{
    return ds ? ds->watermark_index : SIZE_MAX;
}

const char *papi_dataset_shape_hash(const papi_dataset *ds)
{
    return ds ? ds->shape_hash : NULL;
}

static size_t put(char *buf, size_t cap, size_t at, const char *s, size_t n)
{
    if (at < cap) {
        size_t room = cap - at - 1 < n ? cap - at - 1 : n;
        memcpy(buf + at, s, room);
    }
    return at + n;
}

/* Both statements start `SELECT <columns> FROM <table>`: checks the arguments (the caller has
 * set buf[0] and decided what else must hold), writes that start and returns its length, or
 * SIZE_MAX when the arguments are refused. *cap is 0 when only the length is wanted. */
static size_t select_from(const papi_dataset *ds, const char *table, char *buf, size_t *cap)
{
    if (!ds || (!buf && *cap))
        return SIZE_MAX;
    if (!table)
        table = ds->table;
    else if (!papi__sql_identifier_ok(table, true))
        return SIZE_MAX; /* never paste an unchecked name into SQL */
    if (!buf)
        *cap = 0;
    size_t at = 0;
    at = put(buf, *cap, at, "SELECT ", 7);
    at = put(buf, *cap, at, ds->select_list, ds->select_list_len);
    at = put(buf, *cap, at, " FROM ", 6);
    return put(buf, *cap, at, table, strlen(table));
}

static size_t finish_sql(char *buf, size_t cap, size_t at)
{
    if (cap)
        buf[at < cap ? at : cap - 1] = '\0';
    return at;
}

size_t papi_dataset_select_sql(const papi_dataset *ds, const char *table, size_t nparams,
                               char *buf, size_t cap)
{
    if (buf && cap)
        buf[0] = '\0';
    size_t at = nparams ? select_from(ds, table, buf, &cap) : SIZE_MAX;
    if (at == SIZE_MAX)
        return 0;
    const char *key = ds->cols[ds->key_index];
    at = put(buf, cap, at, " WHERE ", 7);
    at = put(buf, cap, at, key, strlen(key));
    at = put(buf, cap, at, " IN (?", 6);
    for (size_t i = 1; i < nparams; i++)
        at = put(buf, cap, at, ", ?", 3);
    return finish_sql(buf, cap, put(buf, cap, at, ")", 1));
}

size_t papi_dataset_scan_sql(const papi_dataset *ds, const char *table, int after_watermark,
                             char *buf, size_t cap)
{
    if (buf && cap)
        buf[0] = '\0';
    bool wm_ok = ds && (!after_watermark || ds->watermark_index != SIZE_MAX);
    size_t at = wm_ok ? select_from(ds, table, buf, &cap) : SIZE_MAX;
    if (at == SIZE_MAX)
        return 0;
    if (after_watermark) {
        const char *wm = ds->cols[ds->watermark_index];
        at = put(buf, cap, at, " WHERE ", 7);
        at = put(buf, cap, at, wm, strlen(wm));
        at = put(buf, cap, at, " > ?", 4);
    }
    const char *key = ds->cols[ds->key_index];
    at = put(buf, cap, at, " ORDER BY ", 10);
    return finish_sql(buf, cap, put(buf, cap, at, key, strlen(key)));
}
