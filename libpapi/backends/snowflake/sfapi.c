/* The SQL API v2 wire format (snowflake-sql-api.md sections 4 and 5): request bodies built with
 * jansson, defensive parsing of ResultSet metadata, QueryStatus and errors, the limits of a
 * lookup's answers and context names. Rows are read in sfrows.c, cells decoded in sfcells.c.
 * Every cell arrives as a string; numbers are never passed through double or int64 (38-digit
 * keys). */
#include "snowflake.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    papi__sf_type type;
} sf_types[] = {
    {"fixed", PAPI__SF_FIXED},
    {"real", PAPI__SF_REAL},
    {"decfloat", PAPI__SF_DECFLOAT},
    {"text", PAPI__SF_TEXT},
    {"binary", PAPI__SF_BINARY},
    {"boolean", PAPI__SF_BOOLEAN},
    {"date", PAPI__SF_DATE},
    {"time", PAPI__SF_TIME},
    {"timestamp_ntz", PAPI__SF_TIMESTAMP_NTZ},
    {"timestamp_ltz", PAPI__SF_TIMESTAMP_LTZ},
    {"timestamp_tz", PAPI__SF_TIMESTAMP_TZ},
    {"variant", PAPI__SF_VARIANT},
    {"object", PAPI__SF_VARIANT},
    {"array", PAPI__SF_VARIANT},
};

const char *papi__sf_type_name(papi__sf_type t)
{
    for (size_t i = 0; i < sizeof sf_types / sizeof sf_types[0]; i++)
        if (sf_types[i].type == t)
            return sf_types[i].name;
    return "unknown";
}

static papi__sf_type sf_type_parse(const char *s)
{
    /* live responses say "fixed", some documentation "FIXED" (5.3) */
    for (size_t i = 0; i < sizeof sf_types / sizeof sf_types[0]; i++)
        if (strcasecmp(s, sf_types[i].name) == 0)
            return sf_types[i].type;
    return PAPI__SF_UNKNOWN;
}

static const char *col_type_name(papi_column_type t)
{
    switch (t) {
    case PAPI_COL_NUMBER:
        return "number";
    case PAPI_COL_DECIMAL:
        return "decimal";
    case PAPI_COL_REAL:
        return "real";
    case PAPI_COL_TEXT:
        return "text";
    case PAPI_COL_BOOLEAN:
        return "boolean";
    case PAPI_COL_DATE:
        return "date";
    case PAPI_COL_TIME:
        return "time";
    case PAPI_COL_TIMESTAMP:
        return "timestamp";
    case PAPI_COL_VARIANT:
        return "variant";
    case PAPI_COL_BINARY:
        return "binary";
    }
    return "?";
}

/* Which Snowflake types can feed which dataset types. TEXT takes anything (decoded to text). */
static bool compatible(papi__sf_type s, int scale, papi_column_type t)
{
    if (t == PAPI_COL_TEXT)
        return true;
    switch (s) {
    case PAPI__SF_FIXED:
        return (t == PAPI_COL_NUMBER && scale <= 0) || t == PAPI_COL_DECIMAL || t == PAPI_COL_REAL;
    case PAPI__SF_REAL:
    case PAPI__SF_DECFLOAT:
        return t == PAPI_COL_REAL || t == PAPI_COL_DECIMAL;
    case PAPI__SF_TEXT:
        return t == PAPI_COL_DATE || t == PAPI_COL_TIME || t == PAPI_COL_TIMESTAMP;
    case PAPI__SF_BINARY:
        return t == PAPI_COL_BINARY;
    case PAPI__SF_BOOLEAN:
        return t == PAPI_COL_BOOLEAN;
    case PAPI__SF_DATE:
        return t == PAPI_COL_DATE;
    case PAPI__SF_TIME:
        return t == PAPI_COL_TIME;
    case PAPI__SF_TIMESTAMP_NTZ:
    case PAPI__SF_TIMESTAMP_LTZ:
    case PAPI__SF_TIMESTAMP_TZ:
        return t == PAPI_COL_TIMESTAMP;
    case PAPI__SF_VARIANT:
    case PAPI__SF_UNKNOWN:
        return t == PAPI_COL_VARIANT;
    }
    return false;
}

papi_status papi__sf_statement_body(const papi__sf_context *ctx, const char *sql,
                                    papi_key_type key_type, const papi_key *keys, size_t n,
                                    size_t nparams, papi_buf *out, papi_error *err)
{
    if ((n == 0 && nparams != 0) || nparams < n)
        return papi_error_set(err, PAPI_EINTERNAL, "bad bind count");
    json_t *root = json_object(), *bind = json_object(), *params = json_object();
    bool ok = root && bind && params;
    const char *type = key_type == PAPI_KEY_NUMBER ? "FIXED" : "TEXT";
    for (size_t i = 0; ok && i < nparams; i++) {
        /* padding repeats the last id: IN returns its row once */
        const papi_key *k = &keys[i < n ? i : n - 1];
        char name[24];
        snprintf(name, sizeof name, "%zu", i + 1);
        json_t *v = json_pack("{s:s, s:s%}", "type", type, "value", k->ptr, k->len);
        ok = v && json_object_set_new(bind, name, v) == 0;
    }
    ok = ok && json_object_set_new(root, "statement", json_string(sql)) == 0;
    if (ok && ctx->timeout_s > 0)
        ok = json_object_set_new(root, "timeout", json_integer(ctx->timeout_s)) == 0;
    const char *names[] = {"database", "schema", "warehouse", "role"};
    const char *vals[] = {ctx->database, ctx->schema, ctx->warehouse, ctx->role};
    for (size_t i = 0; ok && i < 4; i++)
        if (vals[i] && *vals[i])
            ok = json_object_set_new(root, names[i], json_string(vals[i])) == 0;
    ok = ok && (nparams == 0 || json_object_set(root, "bindings", bind) == 0) &&
         json_object_set_new(params, "query_tag", json_string("papi")) == 0 &&
         json_object_set_new(params, "timezone", json_string("UTC")) == 0 &&
         json_object_set(root, "parameters", params) == 0;
    char *s = ok ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(bind);
    json_decref(params);
    json_decref(root);
    if (!s) /* json_string() refuses invalid UTF-8: a text key we cannot send */
        return papi_error_set(err, PAPI_EINVAL, "cannot encode the statement (invalid UTF-8?)");
    papi_buf_puts(out, s);
    free(s);
    return out->oom ? papi_error_set(err, PAPI_ENOMEM, "out of memory") : PAPI_OK;
}

static json_t *load(const char *body, size_t len, papi_error *err, const char *what)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        papi_error_set(err, PAPI_EPROTO, "malformed %s from Snowflake (%zu bytes): %s at byte %d",
                       what, len, je.text, je.position);
    return root;
}

/* The body with its `data` value read as null, fed to jansson in three pieces so that nothing
 * of the body is copied and `data` never becomes a DOM. */
typedef struct pieces {
    const char *p[3];
    size_t len[3];
    size_t at;
} pieces;

static size_t next_piece(void *buffer, size_t buflen, void *user)
{
    pieces *x = user;
    while (x->at < 3 && x->len[x->at] == 0)
        x->at++;
    if (x->at == 3)
        return 0;
    size_t n = x->len[x->at] < buflen ? x->len[x->at] : buflen;
    memcpy(buffer, x->p[x->at], n);
    x->p[x->at] += n;
    x->len[x->at] -= n;
    return n;
}

static json_t *load_without_data(const char *body, size_t len, const char *data, size_t data_len,
                                 papi_error *err)
{
    if (!data)
        return load(body, len, err, "result");
    pieces x = {{body, "null", data + data_len},
                {(size_t)(data - body), 4, len - (size_t)(data - body) - data_len},
                0};
    json_error_t je;
    json_t *root = json_load_callback(next_piece, &x, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        papi_error_set(err, PAPI_EPROTO, "malformed result from Snowflake (%zu bytes): %s", len,
                       je.text);
    return root;
}

static int64_t int_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v)) { /* tolerate "2" */
        char *end;
        long long x = strtoll(json_string_value(v), &end, 10);
        if (*end == '\0' && end != json_string_value(v))
            return x;
    }
    return -1;
}

bool papi__sf_handle_ok(const char *h)
{
    if (!h || !*h || strlen(h) > 100)
        return false;
    for (; *h; h++)
        if (!isalnum((unsigned char)*h) && *h != '-')
            return false;
    return true;
}

void papi__sf_lookup_limits(const papi__sf_expect *expect, size_t nkeys, size_t max_cell_bytes,
                            int64_t deadline_ms, papi__sf_limits *out)
{
    /* the widest row the dataset can have, as JSON on the wire: cells, quotes, commas, brackets */
    size_t row = 2;
    for (size_t i = 0; i < expect->ncols; i++) {
        papi_column_type t = expect->types[i];
        bool wide = t == PAPI_COL_TEXT || t == PAPI_COL_VARIANT || t == PAPI_COL_BINARY;
        row += (wide ? max_cell_bytes : PAPI__SF_FIXED_CELL_BYTES) + 1;
    }
    size_t cap = PAPI__SF_MAX_BODY_BYTES;
    if (nkeys <= (cap - PAPI__SF_BODY_FLOOR_BYTES) / 2 / row) /* no overflow past the ceiling */
        cap = PAPI__SF_BODY_FLOOR_BYTES + 2 * nkeys * row;
    out->max_body_bytes = cap;
    out->max_partitions = nkeys ? nkeys : 1; /* a partition holds one row at least */
    out->deadline_ms = deadline_ms;
    out->clock = NULL;
    out->max_answer_bytes = 0;
}

bool papi__sf_has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

/* An identifier Snowflake stores uppercase when unquoted: a letter or '_', then letters, digits,
 * '_' and '$', at most 255 bytes. */
static bool plain_identifier(const char *s)
{
    size_t n = strnlen(s, 256);
    if (n == 0 || n > 255 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '$'))
            return false;
    return true;
}

papi_status papi__sf_context_name(const char *option, const char *value, char **out,
                                  papi_error *err)
{
    *out = NULL;
    if (!value || !*value)
        return PAPI_OK;
    size_t len = strlen(value);
    if (papi__sf_has_control(value, len))
        return papi_error_set(err, PAPI_ECONFIG, "%s holds a control character", option);
    if (value[0] != '"') {
        if (!plain_identifier(value))
            return papi_error_set(err, PAPI_ECONFIG,
                                  "%s is not a plain identifier (letters, digits, _ and $, not "
                                  "starting with a digit); write a name with other characters, or "
                                  "whose case matters, in double quotes",
                                  option);
        if (!(*out = strdup(value)))
            return papi_error_set(err, PAPI_ENOMEM, "out of memory");
        for (char *p = *out; *p; p++) /* Snowflake stores unquoted names uppercase */
            *p = (char)toupper((unsigned char)*p);
        return PAPI_OK;
    }
    char *name = malloc(len);
    if (!name)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    size_t n = 0, i = 1;
    for (; i < len; i++) {
        if (value[i] != '"') {
            name[n++] = value[i];
        } else if (i + 1 < len && value[i + 1] == '"') {
            name[n++] = '"'; /* "" inside quotes stands for one " */
            i++;
        } else {
            break; /* the closing quote */
        }
    }
    name[n] = '\0';
    if (i != len - 1 || n == 0) {
        free(name);
        return papi_error_set(err, PAPI_ECONFIG,
                              "%s is not a valid quoted name: \"...\" around a non-empty name, "
                              "with \"\" for each \" inside",
                              option);
    }
    *out = name;
    return PAPI_OK;
}

papi_status papi__sf_parse_result(const char *body, size_t len, const papi__sf_expect *expect,
                                  const papi__sf_limits *lim, papi__sf_result *out, papi_error *err)
{
    memset(out, 0, sizeof *out);
    out->num_rows = -1;
    out->clock = lim->clock;
    const char *data = NULL;
    size_t data_len = 0;
    if (papi__sf_find_data(body, len, "result", &data, &data_len, err) != PAPI_OK)
        return PAPI_EPROTO;
    json_t *root = load_without_data(body, len, data, data_len, err);
    if (!root)
        return PAPI_EPROTO;
    out->root = root;
    papi_status st = PAPI_EPROTO;
    json_t *h = json_object_get(root, "statementHandle");
    if (json_is_string(h) && papi__sf_handle_ok(json_string_value(h)))
        papi_strlcpy(out->handle, json_string_value(h), sizeof out->handle);
    json_t *meta = json_object_get(root, "resultSetMetaData");
    json_t *rowtype = json_object_get(meta, "rowType");
    json_t *code = json_object_get(root, "code");
    if (json_is_string(code) && strcmp(json_string_value(code), "391908") == 0) {
        papi_error_set(err, PAPI_EPROTO, "Snowflake says the result set is too large (391908)");
        goto fail;
    }
    if (!json_is_object(root) || !json_is_object(meta) || !json_is_array(rowtype)) {
        papi_error_set(err, PAPI_EPROTO, "Snowflake result has no resultSetMetaData.rowType");
        goto fail;
    }
    out->ncols = json_array_size(rowtype);
    if (out->ncols != expect->ncols) {
        papi_error_set(err, PAPI_EPROTO, "result has %zu columns, dataset expects %zu", out->ncols,
                       expect->ncols);
        goto fail;
    }
    out->cols = calloc(out->ncols ? out->ncols : 1, sizeof *out->cols);
    if (!out->cols) {
        st = papi_error_set(err, PAPI_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < out->ncols; i++) {
        json_t *c = json_array_get(rowtype, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *type = json_string_value(json_object_get(c, "type"));
        if (!name || !type) {
            papi_error_set(err, PAPI_EPROTO, "rowType entry %zu has no name or type", i + 1);
            goto fail;
        }
        out->cols[i].type = sf_type_parse(type);
        out->cols[i].scale = (int)int_field(c, "scale");
        out->cols[i].target = expect->types[i];
        if (strcasecmp(name, expect->names[i]) != 0 ||
            !compatible(out->cols[i].type, out->cols[i].scale, expect->types[i])) {
            papi_error_set(err, PAPI_EPROTO,
                           "column %zu is %.60s (%.20s), dataset expects %.60s (%s)", i + 1, name,
                           type, expect->names[i], col_type_name(expect->types[i]));
            goto fail;
        }
    }
    out->num_rows = int_field(meta, "numRows");
    json_t *pinfo = json_object_get(meta, "partitionInfo");
    size_t np = json_is_array(pinfo) ? json_array_size(pinfo) : 0;
    if (np > lim->max_partitions) {
        papi_error_set(err, PAPI_EPROTO,
                       "Snowflake's answer has %zu partitions, this statement needs at most %zu",
                       np, lim->max_partitions);
        goto fail;
    }
    out->npartitions = np ? np : 1; /* no rows: partitionInfo may be empty (5.2) */
    out->row_counts = calloc(out->npartitions, sizeof *out->row_counts);
    if (!out->row_counts) {
        st = papi_error_set(err, PAPI_ENOMEM, "out of memory");
        goto fail;
    }
    out->row_counts[0] = np ? -1 : (out->num_rows >= 0 ? out->num_rows : -1);
    int64_t total = 0;
    for (size_t i = 0; i < np; i++) {
        out->row_counts[i] = int_field(json_array_get(pinfo, i), "rowCount");
        if (out->row_counts[i] < 0) {
            papi_error_set(err, PAPI_EPROTO, "partitionInfo[%zu] has no rowCount", i);
            goto fail;
        }
        if (out->row_counts[i] > INT64_MAX - total) {
            papi_error_set(err, PAPI_EPROTO, "partitionInfo row counts overflow");
            goto fail;
        }
        total += out->row_counts[i];
    }
    if (np && out->num_rows >= 0 && total != out->num_rows) {
        papi_error_set(err, PAPI_EPROTO, "partitions hold %" PRId64 " rows, numRows says %" PRId64,
                       total, out->num_rows);
        goto fail;
    }
    if (out->npartitions > 1 && !out->handle[0]) {
        papi_error_set(err, PAPI_EPROTO, "partitioned result without a statementHandle");
        goto fail;
    }
    /* an escaped spelling of "data" is not one find_data saw: jansson has it as a value then */
    json_t *dom_data = json_object_get(root, "data");
    if (!data && (dom_data || out->num_rows != 0)) {
        papi_error_set(err, PAPI_EPROTO, "Snowflake result has no data array");
        goto fail;
    }
    if (data && *data != '[') {
        papi_error_set(err, PAPI_EPROTO, "Snowflake result has no data array");
        goto fail;
    }
    out->data = data ? data : "[]";
    out->data_len = data ? data_len : 2;
    if (papi_host_now_ms(lim->clock) >= lim->deadline_ms) {
        st = papi_error_set(err, PAPI_ETIMEDOUT, "the deadline passed while reading the result");
        goto fail;
    }
    return PAPI_OK;
fail:;
    char handle[sizeof out->handle]; /* kept: the failure's query id */
    memcpy(handle, out->handle, sizeof handle);
    papi__sf_result_free(out);
    memcpy(out->handle, handle, sizeof handle);
    return st;
}

void papi__sf_result_free(papi__sf_result *r)
{
    if (!r)
        return;
    json_decref(r->root);
    free(r->cols);
    free(r->row_counts);
    memset(r, 0, sizeof *r);
}

papi_status papi__sf_parse_status(const char *body, size_t len, char *handle, size_t hcap,
                                  char *url, size_t ucap, papi_error *err)
{
    json_t *root = load(body, len, err, "statement status");
    if (!root)
        return PAPI_EPROTO;
    const char *h = json_string_value(json_object_get(root, "statementHandle"));
    const char *u = json_string_value(json_object_get(root, "statementStatusUrl"));
    papi_status st = PAPI_OK;
    if (!papi__sf_handle_ok(h)) {
        st = papi_error_set(err, PAPI_EPROTO, "202 answer without a valid statementHandle");
    } else {
        papi_strlcpy(handle, h, hcap);
        /* the status URL must be a path on the same host; otherwise build it from the handle */
        if (u && strncmp(u, "/api/v2/statements/", 19) == 0 && strlen(u) < ucap &&
            !strpbrk(u, " \r\n\"\\#"))
            papi_strlcpy(url, u, ucap);
        else
            snprintf(url, ucap, "/api/v2/statements/%s", h);
    }
    json_decref(root);
    return st;
}

void papi__sf_parse_error(const char *body, size_t len, papi__sf_error *out)
{
    memset(out, 0, sizeof *out);
    json_t *root = json_loadb(body, len, 0, NULL);
    if (!json_is_object(root)) { /* empty, HTML or truncated: the HTTP status is all we have */
        json_decref(root);
        return;
    }
    json_t *code = json_object_get(root, "code");
    if (json_is_string(code))
        papi_strlcpy(out->code, json_string_value(code), sizeof out->code);
    else if (json_is_integer(code))
        snprintf(out->code, sizeof out->code, "%06" JSON_INTEGER_FORMAT, json_integer_value(code));
    const char *s = json_string_value(json_object_get(root, "sqlState"));
    papi_strlcpy(out->sql_state, s ? s : "", sizeof out->sql_state);
    s = json_string_value(json_object_get(root, "message"));
    papi__sf_escape_controls(out->message, sizeof out->message, s ? s : "");
    s = json_string_value(json_object_get(root, "statementHandle"));
    if (papi__sf_handle_ok(s))
        papi_strlcpy(out->handle, s, sizeof out->handle);
    json_decref(root);
}

void papi__sf_escape_controls(char *dst, size_t cap, const char *s)
{
    size_t at = 0;
    for (; *s && cap > 0; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[5] = {(char)c, 0, 0, 0, 0};
        if (c == '\n')
            memcpy(esc, "\\n", 2);
        else if (c == '\r')
            memcpy(esc, "\\r", 2);
        else if (c == '\t')
            memcpy(esc, "\\t", 2);
        else if (c < 0x20 || c == 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", c);
        size_t n = strlen(esc);
        if (at + n >= cap) /* whole escapes only: a cut one would read as another byte */
            break;
        memcpy(dst + at, esc, n);
        at += n;
    }
    if (cap > 0)
        dst[at] = '\0';
}
