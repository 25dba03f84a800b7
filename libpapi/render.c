/* Row JSON, written once per fetched row by papi's own writer: jansson's integers would cut
 * 38-digit NUMBERs. Cells are checked against their column type on the way, so a malformed
 * answer from a source becomes PAPI_EPROTO, never invalid JSON. No allocation per cell. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char hex_digits[] = "0123456789abcdef";

size_t papi_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

/* Appends the body of a JSON string (no quotes). Runs of plain bytes are copied in one go. */
static void string_body(papi_buf *b, const unsigned char *s, size_t len)
{
    size_t run = 0; /* start of the pending run of bytes copied as they are */
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        size_t k = c >= 0x80 ? papi_utf8_seq(s + i, len - i) : 0;
        if (k) {
            i += k;
            continue;
        }
        papi_buf_append(b, s + run, i - run);
        if (c >= 0x80) {
            papi_buf_append(b, "\xEF\xBF\xBD", 3); /* U+FFFD for each byte that is not UTF-8 */
        } else {
            char esc[6] = {'\\', 0, 0, 0, 0, 0};
            size_t n = 2;
            switch (c) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            default:
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex_digits[c >> 4];
                esc[5] = hex_digits[c & 15];
                n = 6;
            }
            papi_buf_append(b, esc, n);
        }
        run = ++i;
    }
    papi_buf_append(b, s + run, len - run);
}

void papi_json_string(papi_buf *b, const char *s, size_t len)
{
    papi_buf_putc(b, '"');
    string_body(b, (const unsigned char *)s, len);
    papi_buf_putc(b, '"');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

size_t papi__json_number_len(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && is_digit(s[i]))
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == d)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == d)
            return 0;
    }
    return i;
}

/* NUMBER(p,0): optional '-', digits, and a ".0" some clients add; written without leading
 * zeros (JSON forbids them) and with every digit kept. */
static bool render_integer(papi_buf *b, const char *s, size_t n)
{
    size_t i = 0, end = n;
    bool neg = n > 0 && s[0] == '-';
    if (neg)
        i++;
    const char *dot = memchr(s + i, '.', n - i);
    if (dot) {
        end = (size_t)(dot - s);
        if (end + 1 == n)
            return false;
        for (size_t k = end + 1; k < n; k++)
            if (s[k] != '0')
                return false;
    }
    if (i == end)
        return false;
    for (size_t k = i; k < end; k++)
        if (!is_digit(s[k]))
            return false;
    while (i + 1 < end && s[i] == '0')
        i++;
    if (end - i > PAPI__MAX_NUMBER_DIGITS)
        return false;
    if (neg && !(end - i == 1 && s[i] == '0'))
        papi_buf_putc(b, '-');
    papi_buf_append(b, s + i, end - i);
    return true;
}

static bool ieq(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* FLOAT/DOUBLE: a JSON number as written when it is one; NaN and infinities as strings, since
 * JSON has no spelling for them; other strtod-readable forms (".5", "1.") rewritten. A value
 * beyond a double's range is not a REAL and is refused, like text. */
static bool render_real(papi_buf *b, const char *s, size_t n)
{
    const char *p = s + (n && (s[0] == '-' || s[0] == '+'));
    size_t pn = n - (size_t)(p - s);
    if (ieq(p, pn, "nan") || ieq(p, pn, "inf") || ieq(p, pn, "infinity")) {
        papi_buf_puts(b, ieq(p, pn, "nan")  ? "\"NaN\""
                          : s[0] == '-'      ? "\"-Infinity\""
                                             : "\"Infinity\"");
        return true;
    }
    char tmp[64];
    if (pn == 0 || n >= sizeof tmp || !(is_digit(*p) || *p == '.'))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(d) || strpbrk(tmp, "xXpP"))
        return false;
    if (papi__json_number_len(s, n) == n) {
        papi_buf_append(b, s, n);
        return true;
    }
    size_t at = b->len;
    papi_buf_printf(b, "%.17g", d);
    for (size_t k = at; !b->oom && k < b->len; k++)
        if (b->data[k] == ',') /* a host's setlocale() must not make invalid JSON */
            b->data[k] = '.';
    return true;
}

static bool render_boolean(papi_buf *b, const char *s, size_t n)
{
    if (ieq(s, n, "true") || (n == 1 && s[0] == '1'))
        papi_buf_append(b, "true", 4);
    else if (ieq(s, n, "false") || (n == 1 && s[0] == '0'))
        papi_buf_append(b, "false", 5);
    else
        return false;
    return true;
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Value of 4 hex digits already checked by the caller. */
static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (unsigned)(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Copies the JSON string at s[i] (opening quote), checking its escapes; invalid UTF-8 becomes
 * U+FFFD as in papi_json_string(). Returns the index past the closing quote, 0 when invalid. */
static size_t variant_string(papi_buf *b, const char *s, size_t n, size_t i)
{
    size_t start = ++i;
    while (i < n && s[i] != '"') {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20)
            return 0;
        if (c != '\\') {
            i++;
            continue;
        }
        if (++i >= n)
            return 0;
        if (s[i] == 'u') {
            for (size_t k = 1; k <= 4; k++)
                if (i + k >= n || !is_hex(s[i + k]))
                    return 0;
            i += 5;
        } else if (s[i] && strchr("\"\\/bfnrt", s[i])) {
            i++;
        } else {
            return 0;
        }
    }
    if (i >= n)
        return 0;
    /* Escapes are valid JSON already and are copied as they are; raw bytes get UTF-8 repair. */
    papi_buf_putc(b, '"');
    size_t run = start;
    for (size_t k = start; k < i;) {
        unsigned char c = (unsigned char)s[k];
        if (c == '\\' && s[k + 1] != 'u') {
            k += 2;
            continue;
        }
        if (c == '\\') {
            /* A lone surrogate is valid JSON text but not a character: many parsers refuse it. */
            unsigned u = hex4(s + k + 2);
            bool pair = u >= 0xD800 && u <= 0xDBFF && k + 12 <= i && s[k + 6] == '\\' &&
                        s[k + 7] == 'u' && hex4(s + k + 8) >= 0xDC00 && hex4(s + k + 8) <= 0xDFFF;
            if (pair || u < 0xD800 || u > 0xDFFF) {
                k += pair ? 12 : 6;
                continue;
            }
            papi_buf_append(b, s + run, k - run);
            papi_buf_append(b, "\\ufffd", 6);
            run = k += 6;
            continue;
        }
        size_t l = c < 0x80 ? 1 : papi_utf8_seq((const unsigned char *)s + k, i - k);
        if (l) {
            k += l;
            continue;
        }
        papi_buf_append(b, s + run, k - run);
        papi_buf_append(b, "\xEF\xBF\xBD", 3);
        run = ++k;
    }
    papi_buf_append(b, s + run, i - run);
    papi_buf_putc(b, '"');
    return i + 1;
}

/* VARIANT/OBJECT/ARRAY: checks the JSON and writes it compact (whitespace outside strings
 * dropped), keeping numbers as written. A fixed stack of open containers: no allocation. */
static bool render_variant(papi_buf *b, const char *s, size_t n)
{
    char stack[PAPI__VARIANT_MAX_DEPTH];
    size_t depth = 0;
    /* expect: 0 a value, 1 a key or '}' (just opened), 2 a key, 3 ':' then value,
     * 4 ',' or a closer after a value, 5 a value or ']' (just opened) */
    int expect = 0;
    size_t i = skip_ws(s, n, 0);
    for (;;) {
        if (i >= n)
            return false;
        char c = s[i];
        if (expect == 4) {
            if (c == ',') {
                papi_buf_putc(b, ',');
                i++;
                expect = stack[depth - 1] == '{' ? 2 : 0;
            } else if (c == (stack[depth - 1] == '{' ? '}' : ']')) {
                papi_buf_putc(b, c);
                i++;
                if (--depth == 0)
                    break;
            } else {
                return false;
            }
        } else if (expect == 3) {
            if (c != ':')
                return false;
            papi_buf_putc(b, ':');
            i++;
            expect = 0;
        } else if (expect == 1 || expect == 2) {
            if (c == '}' && expect == 1) {
                papi_buf_putc(b, '}');
                i++;
                if (--depth == 0)
                    break;
                expect = 4;
            } else if (c == '"') {
                if (!(i = variant_string(b, s, n, i)))
                    return false;
                expect = 3;
            } else {
                return false;
            }
        } else if (c == ']' && expect == 5) {
            papi_buf_putc(b, ']');
            i++;
            if (--depth == 0)
                break;
            expect = 4;
        } else if (c == '{' || c == '[') {
            if (depth == PAPI__VARIANT_MAX_DEPTH)
                return false;
            stack[depth++] = c;
            papi_buf_putc(b, c);
            i++;
            expect = c == '{' ? 1 : 5;
        } else {
            size_t l;
            if (c == '"') {
                if (!(i = variant_string(b, s, n, i)))
                    return false;
            } else if ((l = papi__json_number_len(s + i, n - i)) != 0) {
                papi_buf_append(b, s + i, l);
                i += l;
            } else if (n - i >= 4 && (!memcmp(s + i, "true", 4) || !memcmp(s + i, "null", 4))) {
                papi_buf_append(b, s + i, 4);
                i += 4;
            } else if (n - i >= 5 && !memcmp(s + i, "false", 5)) {
                papi_buf_append(b, s + i, 5);
                i += 5;
            } else {
                return false;
            }
            if (depth == 0)
                break;
            expect = 4;
        }
        i = skip_ws(s, n, i);
    }
    return skip_ws(s, n, i) == n;
}

papi_status papi__render_row(const papi_dataset *ds, const char *const *cells, const size_t *lens,
                             size_t ncells, papi_buf *out, papi_error *err)
{
    size_t ncols = papi_dataset_column_count(ds);
    if (ncells != ncols)
        return papi_error_set(err, PAPI_EPROTO, "dataset %s: a row has %zu cells, not %zu",
                              ds ? papi_dataset_name(ds) : "?", ncells, ncols);
    size_t mark = out->len;
    size_t need = 2;
    for (size_t i = 0; i < ncols; i++)
        need += (cells[i] ? lens[i] + 8 : 4) + strlen(papi_dataset_column_name(ds, i)) + 4;
    papi_buf_reserve(out, need);
    papi_buf_putc(out, '{');
    for (size_t i = 0; i < ncols; i++) {
        const char *name = papi_dataset_column_name(ds, i);
        if (i)
            papi_buf_putc(out, ',');
        /* Column names are checked identifiers: nothing in them needs escaping. */
        papi_buf_putc(out, '"');
        papi_buf_puts(out, name);
        papi_buf_append(out, "\":", 2);
        const char *s = cells[i];
        size_t n = s ? lens[i] : 0;
        if (!s) {
            papi_buf_append(out, "null", 4);
            continue;
        }
        bool ok = true;
        const char *what = NULL;
        switch (papi_dataset_column_type(ds, i)) {
        case PAPI_COL_NUMBER:
            ok = render_integer(out, s, n);
            what = "an integer of at most 38 digits";
            break;
        case PAPI_COL_DECIMAL:
            ok = n > 0 && papi__json_number_len(s, n) == n;
            if (ok)
                papi_buf_append(out, s, n);
            what = "a decimal number";
            break;
        case PAPI_COL_REAL:
            ok = render_real(out, s, n);
            what = "a floating-point number";
            break;
        case PAPI_COL_BOOLEAN:
            ok = render_boolean(out, s, n);
            what = "a boolean";
            break;
        case PAPI_COL_VARIANT:
            ok = render_variant(out, s, n);
            what = "JSON";
            break;
        case PAPI_COL_TEXT:
        case PAPI_COL_DATE:
        case PAPI_COL_TIME:
        case PAPI_COL_TIMESTAMP:
        case PAPI_COL_BINARY:
            papi_json_string(out, s, n);
            break;
        }
        if (!ok) {
            out->len = mark;
            if (out->data)
                out->data[mark] = '\0';
            return papi_error_set(err, PAPI_EPROTO, "dataset %s: column %s: the value is not %s",
                                  papi_dataset_name(ds), name, what);
        }
    }
    papi_buf_putc(out, '}');
    if (out->oom) {
        out->len = mark;
        return papi_error_set(err, PAPI_ENOMEM, "out of memory rendering a row");
    }
    return PAPI_OK;
}
