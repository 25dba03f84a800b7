/* The datasets file: JSON read with jansson, every field checked before a dataset is built, and
 * every name that will reach SQL checked as an identifier (papi__sql_identifier_ok). Messages
 * name a dataset or column by position, and quote only what passed a check; a file that is not
 * JSON (a key or token file named by mistake) gets its path, a position and a reason, never a
 * byte of its content. */
#include "dataset_impl.h"

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
#define MAX_NAME_BYTES 32

static const char *const type_names[] = {
    [PAPI_COL_NUMBER] = "number",       [PAPI_COL_DECIMAL] = "decimal", [PAPI_COL_REAL] = "real",
    [PAPI_COL_TEXT] = "text",           [PAPI_COL_BOOLEAN] = "boolean", [PAPI_COL_DATE] = "date",
    [PAPI_COL_TIME] = "time",           [PAPI_COL_TIMESTAMP] = "timestamp",
    [PAPI_COL_VARIANT] = "variant",     [PAPI_COL_BINARY] = "binary",
};
#define N_TYPES (sizeof type_names / sizeof type_names[0])

/* Route names that papi-httpd serves itself. */
static const char *const reserved_names[] = {"test", "healthz", "readyz", "metrics"};

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

/* The optional "watermark": a column that grows when a row changes (an update timestamp, a
 * sequence), compared with `>` by incremental replica syncs, so it must be one of the columns and
 * of a type whose values order. *index is SIZE_MAX when the field is absent. */
static papi_status parse_watermark(json_t *d, size_t di, const char *dname,
                                   const char *const *names, const papi_column_type *types,
                                   size_t ncols, size_t *index, papi_error *err)
{
    *index = SIZE_MAX;
    json_t *jw = json_object_get(d, "watermark");
    if (!jw)
        return PAPI_OK;
    const char *w = json_string_value(jw);
    if (!w || !papi__sql_identifier_ok(w, false))
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): \"watermark\" must be a column "
                              "name",
                              di, dname);
    size_t i = 0;
    while (i < ncols && strcasecmp(names[i], w) != 0)
        i++;
    if (i == ncols)
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): watermark column %s is not among "
                              "the columns",
                              di, dname, w);
    if (types[i] == PAPI_COL_BOOLEAN || types[i] == PAPI_COL_VARIANT || types[i] == PAPI_COL_BINARY)
        return papi_error_set(err, PAPI_ECONFIG,
                              "datasets file: dataset %zu (%s): watermark column %s is of type %s; "
                              "it must order (number, decimal, real, text, date, time, timestamp)",
                              di, dname, names[i], type_names[types[i]]);
    *index = i;
    return PAPI_OK;
}

static papi_status parse_dataset(papi__datasets *set, json_t *d, size_t di, papi_error *err)
{
    static const char *const fields[] = {"name",     "table",   "key",
                                         "key_type", "columns", "watermark"};
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
    const char *bad = unknown_field(d, fields, sizeof fields / sizeof fields[0]);
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
    size_t watermark_index = SIZE_MAX;
    if (st == PAPI_OK)
        st = parse_watermark(d, di, name, names, types, ncols, &watermark_index, err);
    if (st == PAPI_OK)
        st = papi__datasets_add(set,
                                papi__dataset_new(name, table, key_index, key_type, names, types,
                                                  ncols, watermark_index),
                                err);
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

/* jansson's text quotes the token it stopped at, and the file may be a key or a token given by
 * mistake: only its position and a reason chosen here go into the message. */
static papi_status json_failure(const json_error_t *jerr, papi_error *err)
{
    const char *why = "invalid JSON";
    switch (json_error_code(jerr)) {
    case json_error_out_of_memory:
        return papi_error_set(err, PAPI_ENOMEM, "out of memory for the datasets file");
    case json_error_invalid_utf8:
        why = "invalid UTF-8";
        break;
    case json_error_premature_end_of_input:
        why = "unexpected end of JSON";
        break;
    case json_error_end_of_input_expected:
        why = "text after the JSON value";
        break;
    case json_error_duplicate_key:
        why = "a duplicate key in an object";
        break;
    case json_error_null_character:
    case json_error_null_byte_in_key:
        why = "a NUL character in a string";
        break;
    case json_error_numeric_overflow:
        why = "a number out of range";
        break;
    case json_error_stack_overflow:
        why = "JSON nested too deeply";
        break;
    default:
        break;
    }
    return papi_error_set(err, PAPI_ECONFIG, "datasets file: %s at line %d, column %d", why,
                          jerr->line, jerr->column > 0 ? jerr->column : 1);
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
    if (!root)
        return json_failure(&jerr, err);
    papi__datasets *set = NULL;
    papi_status st = papi__datasets_new(&set, err);
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

/* The parser knows no path; an operator with several files needs to know which one is wrong. */
static void name_the_file(papi_error *err, const char *path)
{
    static const char prefix[] = "datasets file: ";
    if (!err || strncmp(err->message, prefix, sizeof prefix - 1) != 0)
        return;
    char rest[sizeof err->message];
    papi_strlcpy(rest, err->message + sizeof prefix - 1, sizeof rest);
    papi_error_set(err, err->status, "datasets file %.120s: %s", path, rest);
}

papi_status papi__datasets_load(const char *path, papi__datasets **out, papi_error *err)
{
    if (!out)
        return papi_error_set(err, PAPI_EINVAL, "no output for datasets");
    *out = NULL;
    if (!path || !*path)
        return papi__datasets_new(out, err);
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
    if (st != PAPI_OK)
        name_the_file(err, path);
    return st;
}
