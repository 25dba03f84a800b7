/* Datasets: the built-in `customer` and those of a JSON file. Every name that will reach SQL is
 * checked here, once, as an identifier; ids never reach SQL at all (bind variables only). */
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FILE_BYTES (1024 * 1024)
#define MAX_JSON_DEPTH 8 /* the format needs 5 */
#define MAX_DATASETS 64
#define MAX_COLUMNS 1024
#define MAX_IDENTIFIER_BYTES 255
#define MAX_NAME_BYTES 32

struct papi_dataset {
    char *name;
    char *table;
    size_t key_index;
    papi_key_type key_type;
    size_t ncols;
    char **cols;
    papi_column_type *types;
    char *select_list; /* "A, B, C": written once, copied into every query */
    size_t select_list_len;
    char shape_hash[17];
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

static const char *const type_names[] = {
    [PAPI_COL_NUMBER] = "number",       [PAPI_COL_DECIMAL] = "decimal", [PAPI_COL_REAL] = "real",
    [PAPI_COL_TEXT] = "text",           [PAPI_COL_BOOLEAN] = "boolean", [PAPI_COL_DATE] = "date",
    [PAPI_COL_TIME] = "time",           [PAPI_COL_TIMESTAMP] = "timestamp",
    [PAPI_COL_VARIANT] = "variant",     [PAPI_COL_BINARY] = "binary",
};
#define N_TYPES (sizeof type_names / sizeof type_names[0])

/* Route names that papi-httpd serves itself. */
static const char *const reserved_names[] = {"test", "healthz", "readyz", "metrics"};

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

static bool dataset_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_NAME_BYTES || s[0] < 'a' || s[0] > 'z')
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------- building */

static void dataset_free(papi_dataset *ds)
{
    if (!ds)
        return;
    for (size_t i = 0; ds->cols && i < ds->ncols; i++)
        free(ds->cols[i]);
    free(ds->cols);
    free(ds->types);
    free(ds->select_list);
    free(ds->name);
    free(ds->table);
    free(ds);
}

static void hash_add(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 0x100000001b3ULL;
    }
}

/* Everything that changes a row's JSON or which rows a key finds, so a changed dataset never
 * serves an old shape from a shared cache. */
static void compute_shape(papi_dataset *ds)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    unsigned char sep = 0;
    hash_add(&h, ds->table, strlen(ds->table) + 1);
    hash_add(&h, ds->cols[ds->key_index], strlen(ds->cols[ds->key_index]) + 1);
    sep = (unsigned char)ds->key_type;
    hash_add(&h, &sep, 1);
    for (size_t i = 0; i < ds->ncols; i++) {
        hash_add(&h, ds->cols[i], strlen(ds->cols[i]) + 1);
        sep = (unsigned char)ds->types[i];
        hash_add(&h, &sep, 1);
    }
    snprintf(ds->shape_hash, sizeof ds->shape_hash, "%016llx", (unsigned long long)h);
}

/* Makes a dataset from checked parts; NULL when out of memory. */
static papi_dataset *dataset_new(const char *name, const char *table, size_t key_index,
                                 papi_key_type key_type, const char *const *cols,
                                 const papi_column_type *types, size_t ncols)
{
    papi_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return NULL;
    ds->name = strdup(name);
    ds->table = strdup(table);
    ds->cols = calloc(ncols, sizeof *ds->cols);
    ds->types = malloc(ncols * sizeof *ds->types);
    if (!ds->name || !ds->table || !ds->cols || !ds->types) {
        dataset_free(ds);
        return NULL;
    }
    ds->ncols = ncols;
    ds->key_index = key_index;
    ds->key_type = key_type;
    papi__buf list;
    papi__buf_init(&list);
    for (size_t i = 0; i < ncols; i++) {
        ds->cols[i] = strdup(cols[i]);
        ds->types[i] = types[i];
        if (!ds->cols[i]) {
            papi__buf_free(&list);
            dataset_free(ds);
            return NULL;
        }
        if (i)
            papi__buf_append(&list, ", ", 2);
        papi__buf_puts(&list, cols[i]);
    }
    ds->select_list = papi__buf_steal(&list, &ds->select_list_len);
    if (!ds->select_list) {
        dataset_free(ds);
        return NULL;
    }
    compute_shape(ds);
    return ds;
}

static papi_status set_add(papi__datasets *set, papi_dataset *ds, papi_error *err)
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

static papi_status set_new(papi__datasets **out, papi_error *err)
{
    papi__datasets *set = calloc(1, sizeof *set);
    if (!set)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory for datasets");
    papi_status st =
        set_add(set,
                dataset_new("customer", "API.DATA.HYBRID_CUSTOMER", 0, PAPI_KEY_NUMBER,
                            customer_columns, customer_types,
                            sizeof customer_columns / sizeof customer_columns[0]),
                err);
    if (st != PAPI_OK) {
        papi__datasets_free(set);
        return st;
    }
    *out = set;
    return PAPI_OK;
}

/* ------------------------------------------------------------- the JSON file */

/* jansson's own depth limit is 2048; the format needs 5 levels, so refuse more before parsing. */
static bool depth_ok(const char *s, size_t n)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > MAX_JSON_DEPTH)
                return false;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

/* Checks that obj has only the fields listed (a typo must not pass silently). */
static const char *unknown_field(json_t *obj, const char *const *known, size_t n)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        size_t i = 0;
        while (i < n && strcmp(k, known[i]) != 0)
            i++;
        if (i == n)
            return k;
    }
    return NULL;
}

static const char *get_string(json_t *obj, const char *field)
{
    return json_string_value(json_object_get(obj, field));
}

/* Prints a name from the file into a message safely: identifiers are checked before they are
 * shown, so anything else is shown by position only. */
#define SAFE(s) ((s) && dataset_name_or_ident(s) ? (s) : "?")
static bool dataset_name_or_ident(const char *s)
{
    return dataset_name_ok(s) || papi__sql_identifier_ok(s, true);
}

static papi_status parse_column(json_t *col, size_t di, const char *dname, size_t ci,
                                const char **name, papi_column_type *type, papi_error *err)
{
    static const char *const fields[] = {"name", "type"};
    if (!json_is_object(col))
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): column %zu is not an object", di,
                              dname, ci);
    const char *bad = unknown_field(col, fields, 2);
    if (bad)
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): column %zu: unknown field \"%s\"",
                              di, dname, ci, SAFE(bad));
    *name = get_string(col, "name");
    if (!*name)
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): column %zu: \"name\" is missing "
                              "or not a string",
                              di, dname, ci);
    if (!papi__sql_identifier_ok(*name, false))
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): column %zu: name is not an SQL "
                              "identifier (letters, digits, _ and $, not starting with a digit)",
                              di, dname, ci);
    const char *t = get_string(col, "type");
    size_t k = 0;
    while (t && k < N_TYPES && strcmp(t, type_names[k]) != 0)
        k++;
    if (!t || k == N_TYPES)
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): column %zu (%s): \"type\" must be "
                              "one of number, decimal, real, text, boolean, date, time, "
                              "timestamp, variant, binary",
                              di, dname, ci, *name);
    *type = (papi_column_type)k;
    return PAPI_OK;
}

static papi_status parse_dataset(papi__datasets *set, json_t *d, size_t di, papi_error *err)
{
    static const char *const fields[] = {"name", "table", "key", "key_type", "columns"};
    if (!json_is_object(d))
        return papi_error_set(err, PAPI_ECONFIG, "datasets file: dataset %zu is not an object",
                              di);
    const char *name = get_string(d, "name");
    if (!name)
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu: \"name\" is missing or not a string",
                              di);
    if (!dataset_name_ok(name))
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu: name must be 1-32 of a-z, 0-9, _ and -, "
                              "starting with a letter",
                              di);
    for (size_t i = 0; i < sizeof reserved_names / sizeof reserved_names[0]; i++)
        if (strcmp(name, reserved_names[i]) == 0)
            return papi_error_set(err, PAPI_ECONFIG,
                                  "datasets file: dataset %zu (%s): the name is reserved", di,
                                  name);
    if (papi__datasets_find(set, name))
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): %s", di, name,
                              strcmp(name, "customer") == 0 ? "the built-in dataset cannot be "
                                                              "redefined"
                                                            : "defined twice");
    const char *bad = unknown_field(d, fields, 5);
    if (bad)
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): unknown field \"%s\"", di, name,
                              SAFE(bad));
    const char *table = get_string(d, "table");
    if (!table || !papi__sql_identifier_ok(table, true))
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): \"table\" must be an SQL "
                              "identifier of 1 to 3 dot-separated parts",
                              di, name);
    const char *key = get_string(d, "key");
    if (!key || !papi__sql_identifier_ok(key, false))
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): \"key\" must be a column name", di,
                              name);
    json_t *cols = json_object_get(d, "columns");
    size_t ncols = json_array_size(cols);
    if (!json_is_array(cols) || ncols == 0 || ncols > MAX_COLUMNS)
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): \"columns\" must be an array of 1 "
                              "to %d columns",
                              di, name, MAX_COLUMNS);
    const char **names = calloc(ncols, sizeof *names);
    papi_column_type *types = calloc(ncols, sizeof *types);
    papi_status st = names && types ? PAPI_OK
                                    : papi_error_set(err, PAPI_ENOMEM, "out of memory for datasets");
    size_t key_index = ncols;
    for (size_t i = 0; st == PAPI_OK && i < ncols; i++) {
        st = parse_column(json_array_get(cols, i), di, name, i + 1, &names[i], &types[i], err);
        /* Unquoted identifiers are case-insensitive in SQL: P_ID and p_id are one column. */
        for (size_t j = 0; st == PAPI_OK && j < i; j++)
            if (strcasecmp(names[i], names[j]) == 0)
                st = papi_error_set(err, PAPI_ECONFIG,
                                    "datasets file: dataset %zu (%s): column %zu (%s) repeats "
                                    "column %zu",
                                    di, name, i + 1, names[i], j + 1);
        if (st == PAPI_OK && strcasecmp(names[i], key) == 0)
            key_index = i;
    }
    if (st == PAPI_OK && key_index == ncols)
        st = papi_error_set(err, PAPI_ECONFIG,
                            "datasets file: dataset %zu (%s): key column %s is not among the "
                            "columns",
                            di, name, key);
    papi_key_type key_type = PAPI_KEY_NUMBER;
    if (st == PAPI_OK) {
        /* Rows are matched to ids by the key cell, so the key's column must hold what the key
         * type binds. */
        papi_column_type kt = types[key_index];
        const char *want = get_string(d, "key_type");
        json_t *jkt = json_object_get(d, "key_type");
        if (kt != PAPI_COL_NUMBER && kt != PAPI_COL_TEXT)
            st = papi_error_set(err, PAPI_ECONFIG,
                                "datasets file: dataset %zu (%s): key column %s must be of type "
                                "number or text",
                                di, name, key);
        else if (jkt && (!want || (strcmp(want, "number") != 0 && strcmp(want, "text") != 0)))
            st = papi_error_set(err, PAPI_ECONFIG,
                                "datasets file: dataset %zu (%s): \"key_type\" must be \"number\" "
                                "or \"text\"",
                                di, name);
        else if (want && strcmp(want, type_names[kt]) != 0)
            st = papi_error_set(err, PAPI_ECONFIG,
                                "datasets file: dataset %zu (%s): \"key_type\" is %s but key "
                                "column %s is of type %s",
                                di, name, want, key, type_names[kt]);
        else
            key_type = kt == PAPI_COL_NUMBER ? PAPI_KEY_NUMBER : PAPI_KEY_TEXT;
    }
    if (st == PAPI_OK)
        st = set_add(set, dataset_new(name, table, key_index, key_type, names, types, ncols), err);
    free(names);
    free(types);
    return st;
}

static papi_status parse_root(papi__datasets *set, json_t *root, papi_error *err)
{
    static const char *const fields[] = {"datasets"};
    if (!json_is_object(root))
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: the top level must be an object with a \"datasets\" "
                              "array");
    const char *bad = unknown_field(root, fields, 1);
    if (bad)
        return papi_error_set(err, PAPI_ECONFIG, "datasets file: unknown top-level field \"%s\"",
                              SAFE(bad));
    json_t *arr = json_object_get(root, "datasets");
    if (!json_is_array(arr))
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: \"datasets\" is missing or not an array");
    if (json_array_size(arr) > MAX_DATASETS)
        return papi_error_set(err, PAPI_ECONFIG, "datasets file: more than %d datasets",
                              MAX_DATASETS);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        papi_status st = parse_dataset(set, json_array_get(arr, i), i + 1, err);
        if (st != PAPI_OK)
            return st;
    }
    return PAPI_OK;
}

papi_status papi__datasets_parse(const char *json, size_t len, papi__datasets **out,
                                 papi_error *err)
{
    if (!out || (!json && len))
        return papi_error_set(err, PAPI_EINVAL, "no datasets text or output");
    *out = NULL;
    if (len > MAX_FILE_BYTES)
        return papi_error_set(err, PAPI_ECONFIG, "datasets file: larger than %d bytes",
                              MAX_FILE_BYTES);
    if (!depth_ok(json, len))
        return papi_error_set(err, PAPI_ECONFIG, "datasets file: JSON nested deeper than %d",
                              MAX_JSON_DEPTH);
    json_error_t jerr;
    json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson quotes the token it stopped at: keep control bytes out of the message */
        for (char *p = jerr.text; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = '?';
        return papi_error_set(err, PAPI_ECONFIG, "datasets file: line %d, column %d: %s",
                              jerr.line, jerr.column, jerr.text);
    }
    papi__datasets *set = NULL;
    papi_status st = set_new(&set, err);
    if (st == PAPI_OK)
        st = parse_root(set, root, err);
    json_decref(root);
    if (st != PAPI_OK) {
        papi__datasets_free(set);
        return st;
    }
    *out = set;
    return PAPI_OK;
}

papi_status papi__datasets_load(const char *path, papi__datasets **out, papi_error *err)
{
    if (!out)
        return papi_error_set(err, PAPI_EINVAL, "no output for datasets");
    *out = NULL;
    if (!path || !*path)
        return set_new(out, err);
    FILE *f = fopen(path, "rb");
    if (!f)
        return papi_error_set(err, PAPI_ECONFIG, "datasets file %.120s: %s", path,
                              strerror(errno));
    char *text = malloc(MAX_FILE_BYTES + 1);
    if (!text) {
        fclose(f);
        return papi_error_set(err, PAPI_ENOMEM, "out of memory for the datasets file");
    }
    /* One byte more than allowed tells "too large" from "exactly at the limit". */
    size_t n = fread(text, 1, MAX_FILE_BYTES + 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    papi_status st;
    if (failed)
        st = papi_error_set(err, PAPI_EIO, "datasets file %.120s: read error", path);
    else
        st = papi__datasets_parse(text, n, out, err);
    free(text);
    return st;
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

static size_t put(char *buf, size_t cap, size_t at, const char *s, size_t n)
{
    if (at < cap) {
        size_t room = cap - at - 1 < n ? cap - at - 1 : n;
        memcpy(buf + at, s, room);
    }
    return at + n;
}

size_t papi_dataset_select_sql(const papi_dataset *ds, const char *table, size_t nparams,
                               char *buf, size_t cap)
{
    if (buf && cap)
        buf[0] = '\0';
    if (!ds || nparams == 0 || (!buf && cap))
        return 0;
    if (!table)
        table = ds->table;
    else if (!papi__sql_identifier_ok(table, true))
        return 0; /* never paste an unchecked name into SQL */
    if (!buf)
        cap = 0;
    const char *key = ds->cols[ds->key_index];
    size_t at = 0;
    at = put(buf, cap, at, "SELECT ", 7);
    at = put(buf, cap, at, ds->select_list, ds->select_list_len);
    at = put(buf, cap, at, " FROM ", 6);
    at = put(buf, cap, at, table, strlen(table));
    at = put(buf, cap, at, " WHERE ", 7);
    at = put(buf, cap, at, key, strlen(key));
    at = put(buf, cap, at, " IN (?", 6);
    for (size_t i = 1; i < nparams; i++)
        at = put(buf, cap, at, ", ?", 3);
    at = put(buf, cap, at, ")", 1);
    if (cap)
        buf[at < cap ? at : cap - 1] = '\0';
    return at;
}
