/* The rows of a SQL API answer, read straight from the response body (snowflake-sql-api.md 5.2,
 * 5.5). A DOM of `data` costs about ten times its text (a json_t, a copy and a slot per cell), so
 * a large answer used to cost gigabytes: here each row is unescaped into per-column buffers that
 * are reused, decoded and handed on, and nothing else of `data` is ever copied. The scanner is as
 * strict as jansson where a cell is concerned (escapes, surrogates, UTF-8, no raw control bytes,
 * no \u0000). */
#include "snowflake.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64         /* nesting the skipper follows outside `data` */
#define CLOCK_EVERY_ROWS 256 /* rows between two looks at the deadline */

typedef struct scan {
    const unsigned char *p, *end;
} scan;

static void ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool eat(scan *s, char c)
{
    ws(s);
    if (s->p < s->end && *s->p == (unsigned char)c) {
        s->p++;
        return true;
    }
    return false;
}

static int hex4(const unsigned char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d = c >= '0' && c <= '9'   ? c - '0'
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static void put_utf8(papi_buf *out, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    papi_buf_append(out, u, n);
}

/* At the opening quote: reads one JSON string, unescaped into out when out is not NULL. */
static bool string(scan *s, papi_buf *out)
{
    if (s->p >= s->end || *s->p != '"')
        return false;
    const unsigned char *run = ++s->p;
    while (s->p < s->end) {
        unsigned char c = *s->p;
        if (c == '"' || c == '\\') {
            if (out)
                papi_buf_append(out, run, (size_t)(s->p - run));
            s->p++;
            if (c == '"')
                return true;
            if (s->p >= s->end)
                return false;
            unsigned char e = *s->p++;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                if (out)
                    papi_buf_putc(out, "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"]);
            } else if (e == 'u') {
                int hi = s->end - s->p >= 4 ? hex4(s->p) : -1;
                if (hi <= 0) /* \u0000 is refused, as jansson does without JSON_ALLOW_NUL */
                    return false;
                s->p += 4;
                uint32_t cp = (uint32_t)hi;
                if (hi >= 0xDC00 && hi <= 0xDFFF)
                    return false; /* a low surrogate alone */
                if (hi >= 0xD800 && hi <= 0xDBFF) {
                    int lo = s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u'
                                 ? hex4(s->p + 2)
                                 : -1;
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return false;
                    s->p += 6;
                    cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                }
                if (out)
                    put_utf8(out, cp);
            } else {
                return false;
            }
            run = s->p;
        } else if (c < 0x20) {
            return false;
        } else if (c >= 0x80) {
            size_t k = papi_utf8_seq(s->p, (size_t)(s->end - s->p));
            if (!k)
                return false;
            s->p += k;
        } else {
            s->p++;
        }
    }
    return false;
}

static bool literal(scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return false;
    s->p += n;
    return true;
}

static bool number(scan *s)
{
    const unsigned char *start = s->p;
    while (s->p < s->end && strchr("+-0123456789.eE", *s->p) && *s->p)
        s->p++;
    return s->p > start; /* loose: what is not `data` is checked again by jansson */
}

/* Skips one value of any kind; its text outside `data` is parsed by jansson afterwards. */
static bool skip_value(scan *s, int depth)
{
    ws(s);
    if (s->p >= s->end || depth > MAX_DEPTH)
        return false;
    switch (*s->p) {
    case '"':
        return string(s, NULL);
    case '{':
    case '[': {
        bool object = *s->p++ == '{';
        if (eat(s, object ? '}' : ']'))
            return true;
        do {
            if (object) {
                ws(s);
                if (!string(s, NULL) || !eat(s, ':'))
                    return false;
            }
            if (!skip_value(s, depth + 1))
                return false;
        } while (eat(s, ','));
        return eat(s, object ? '}' : ']');
    }
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        return number(s);
    }
}

/* "malformed result from Snowflake (N bytes) at byte K": where, never what (it is data) */
static papi_status malformed(papi_error *err, const char *what, const scan *s, const char *body,
                             size_t len)
{
    return papi_error_set(err, PAPI_EPROTO, "malformed %s from Snowflake (%zu bytes) at byte %zu",
                          what, len, (size_t)((const char *)s->p - body));
}

papi_status papi__sf_find_data(const char *body, size_t len, const char *what, const char **data,
                               size_t *data_len, papi_error *err)
{
    *data = NULL;
    *data_len = 0;
    scan s = {(const unsigned char *)body, (const unsigned char *)body + len};
    if (!eat(&s, '{'))
        return malformed(err, what, &s, body, len);
    if (!eat(&s, '}')) {
        do {
            ws(&s);
            const unsigned char *key = s.p;
            if (!string(&s, NULL))
                return malformed(err, what, &s, body, len);
            /* an escaped spelling of "data" is not found here: jansson then sees it in the rest */
            bool is_data = s.p - key == 6 && memcmp(key, "\"data\"", 6) == 0;
            if (!eat(&s, ':'))
                return malformed(err, what, &s, body, len);
            ws(&s);
            const unsigned char *v = s.p;
            if (!skip_value(&s, 1))
                return malformed(err, what, &s, body, len);
            if (is_data) {
                if (*data)
                    return papi_error_set(err, PAPI_EPROTO, "%s from Snowflake has two data", what);
                *data = (const char *)v;
                *data_len = (size_t)(s.p - v);
            }
        } while (eat(&s, ','));
        if (!eat(&s, '}'))
            return malformed(err, what, &s, body, len);
    }
    ws(&s);
    if (s.p != s.end)
        return malformed(err, what, &s, body, len);
    return PAPI_OK;
}

papi_status papi__sf_parse_partition(const char *body, size_t len, const char **rows,
                                     size_t *rows_len, papi_error *err)
{
    scan s = {(const unsigned char *)body, (const unsigned char *)body + len};
    ws(&s);
    if (s.p < s.end && *s.p == '[') { /* the bare-array form (5.5) */
        const unsigned char *v = s.p;
        if (!skip_value(&s, 1))
            return malformed(err, "partition", &s, body, len);
        *rows = (const char *)v;
        *rows_len = (size_t)(s.p - v);
        ws(&s);
        return s.p == s.end ? PAPI_OK : malformed(err, "partition", &s, body, len);
    }
    papi_status st = papi__sf_find_data(body, len, "partition", rows, rows_len, err);
    if (st == PAPI_OK && (!*rows || **rows != '['))
        st = papi_error_set(err, PAPI_EPROTO, "partition body has no data array");
    return st;
}

/* One row: '[' then exactly nc cells (string or null) then ']'; cells[c] NULL for null. */
static papi_status read_row(scan *s, const papi__sf_result *r, papi_buf *raw, papi_buf *bufs,
                            const char **cells, size_t *lens, size_t row, papi_error *err)
{
    size_t nc = r->ncols;
    if (!eat(s, '['))
        return papi_error_set(err, PAPI_EPROTO, "row %zu is not an array", row);
    for (size_t c = 0; c < nc; c++) {
        if (c > 0 && !eat(s, ','))
            return papi_error_set(err, PAPI_EPROTO, "row %zu does not have %zu cells", row, nc);
        ws(s);
        papi_buf_reset(&raw[c]);
        papi_buf_reset(&bufs[c]);
        if (literal(s, "null")) {
            cells[c] = NULL;
            lens[c] = 0;
            continue;
        }
        if (s->p >= s->end || *s->p != '"') /* every cell is a string (5.4) */
            return papi_error_set(err, PAPI_EPROTO, "column %zu holds a non-string cell", c + 1);
        if (!string(s, &raw[c]))
            return papi_error_set(err, PAPI_EPROTO, "malformed string in column %zu of row %zu",
                                  c + 1, row);
        if (raw[c].oom)
            return papi_error_set(err, PAPI_ENOMEM, "out of memory");
        papi_status st = papi__sf_decode_cell(&r->cols[c], raw[c].data ? raw[c].data : "",
                                              raw[c].len, &bufs[c], err);
        if (st != PAPI_OK)
            return st;
        cells[c] = papi_buf_cstr(&bufs[c]);
        lens[c] = bufs[c].len;
    }
    if (!eat(s, ']'))
        return papi_error_set(err, PAPI_EPROTO, "row %zu does not have %zu cells", row, nc);
    return PAPI_OK;
}

static papi_status scan_rows(scan *s, const papi__sf_result *r, int64_t expect_rows,
                             int64_t deadline_ms, papi__sf_row_fn fn, void *user, papi_buf *raw,
                             papi_buf *bufs, const char **cells, size_t *lens, papi_error *err)
{
    if (!eat(s, '['))
        return papi_error_set(err, PAPI_EPROTO, "rows are not an array");
    int64_t n = 0;
    papi_status st = PAPI_OK;
    if (!eat(s, ']')) {
        do {
            if (expect_rows >= 0 && n >= expect_rows)
                return papi_error_set(
                    err, PAPI_EPROTO,
                    "partition has more rows than partitionInfo says (%" PRId64 ")", expect_rows);
            if ((st = read_row(s, r, raw, bufs, cells, lens, (size_t)n + 1, err)) != PAPI_OK ||
                (st = fn(user, cells, lens, r->ncols, err)) != PAPI_OK)
                return st;
            if (++n % CLOCK_EVERY_ROWS == 0 && papi_host_now_ms(r->clock) >= deadline_ms)
                return papi_error_set(err, PAPI_ETIMEDOUT,
                                      "the deadline passed while reading Snowflake's rows");
        } while (eat(s, ','));
        if (!eat(s, ']'))
            return papi_error_set(err, PAPI_EPROTO, "malformed rows array from Snowflake");
    }
    ws(s);
    if (s->p != s->end)
        return papi_error_set(err, PAPI_EPROTO, "text after the rows array from Snowflake");
    if (expect_rows >= 0 && n != expect_rows)
        return papi_error_set(err, PAPI_EPROTO,
                              "partition has %" PRId64 " rows, partitionInfo says %" PRId64, n,
                              expect_rows);
    return PAPI_OK;
}

papi_status papi__sf_emit_rows(const papi__sf_result *r, const char *rows, size_t rows_len,
                               int64_t expect_rows, int64_t deadline_ms, papi__sf_row_fn fn,
                               void *user, papi_error *err)
{
    size_t nc = r->ncols ? r->ncols : 1;
    papi_buf *raw = calloc(nc, sizeof *raw), *bufs = calloc(nc, sizeof *bufs);
    const char **cells = calloc(nc, sizeof *cells);
    size_t *lens = calloc(nc, sizeof *lens);
    papi_status st;
    if (!raw || !bufs || !cells || !lens) {
        st = papi_error_set(err, PAPI_ENOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < nc; i++) {
            papi_buf_init(&raw[i]);
            papi_buf_init(&bufs[i]);
        }
        scan s = {(const unsigned char *)(rows ? rows : ""),
                  (const unsigned char *)(rows ? rows : "") + (rows ? rows_len : 0)};
        st = scan_rows(&s, r, expect_rows, deadline_ms, fn, user, raw, bufs, cells, lens, err);
        for (size_t i = 0; i < nc; i++) {
            papi_buf_free(&raw[i]);
            papi_buf_free(&bufs[i]);
        }
    }
    free(raw);
    free(bufs);
    free(cells);
    free(lens);
    if (st == PAPI_OK && papi_host_now_ms(r->clock) >= deadline_ms)
        st = papi_error_set(err, PAPI_ETIMEDOUT,
                            "the deadline passed while reading Snowflake's rows");
    return st;
}
