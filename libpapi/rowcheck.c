/* The check a row from a cache outside the process (Redis) must pass before papi serves it or
 * copies it into another tier: anyone who can write to that Redis could otherwise make papi
 * serve any bytes as a customer's row. papi's own rows are compact JSON objects written by
 * render.c; this accepts any well-formed JSON object with the right key, and nothing that is not
 * JSON. jansson is no help: its integers stop at int64, and rows carry 38-digit NUMBERs.
 * Recursion is bounded by the depth limit; nothing is allocated. */
#include "internal.h"

#include <string.h>

/* a row object holding VARIANT cells nested as deep as render.c accepts them */
#define JSON_MAX_DEPTH (PAPI__VARIANT_MAX_DEPTH + 1)

typedef struct cursor {
    const char *s;
    size_t n, i;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->i < c->n &&
           (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

static bool eat(cursor *c, char ch)
{
    if (c->i < c->n && c->s[c->i] == ch) {
        c->i++;
        return true;
    }
    return false;
}

/* The 4 hex digits at s[i..] (i + 4 <= n checked by the caller), or -1. */
static long hex4(const char *s)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int d = papi__hex_value(s[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A "\uXXXX" at s[i] (after the backslash's 'u'): its code point, a surrogate pair joined;
 * -1 when malformed or a lone surrogate. *len gets the bytes it takes from the 'u' on. */
static long unicode_escape(const char *s, size_t n, size_t i, size_t *len)
{
    if (i + 5 > n)
        return -1;
    long u = hex4(s + i + 1);
    *len = 5;
    if (u < 0xD800 || u > 0xDFFF)
        return u;
    if (u > 0xDBFF || i + 11 > n || s[i + 5] != '\\' || s[i + 6] != 'u')
        return -1;
    long lo = hex4(s + i + 7);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return -1;
    *len = 11;
    return 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
}

/* The string at c->i (its opening quote): *body gets the bytes between the quotes. */
static bool string(cursor *c, papi_key *body)
{
    if (!eat(c, '"'))
        return false;
    size_t start = c->i;
    while (c->i < c->n) {
        unsigned char ch = (unsigned char)c->s[c->i];
        if (ch == '"') {
            *body = (papi_key){c->s + start, c->i - start};
            c->i++;
            return true;
        }
        if (ch < 0x20)
            return false;
        if (ch == '\\') {
            if (++c->i >= c->n)
                return false;
            char e = c->s[c->i];
            size_t len = 1;
            if (e == 'u') {
                if (unicode_escape(c->s, c->n, c->i, &len) < 0)
                    return false;
            } else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
                return false;
            }
            c->i += len;
        } else if (ch < 0x80) {
            c->i++;
        } else {
            size_t k = papi_utf8_seq((const unsigned char *)c->s + c->i, c->n - c->i);
            if (!k)
                return false;
            c->i += k;
        }
    }
    return false;
}

static bool literal(cursor *c, const char *word, size_t len)
{
    if (c->n - c->i < len || memcmp(c->s + c->i, word, len) != 0)
        return false;
    c->i += len;
    return true;
}

static bool value(cursor *c, unsigned depth);

static bool members(cursor *c, unsigned depth, char close, bool object)
{
    skip_ws(c);
    if (eat(c, close))
        return true;
    for (;;) {
        if (object) {
            papi_key name;
            if (!string(c, &name))
                return false;
            skip_ws(c);
            if (!eat(c, ':'))
                return false;
            skip_ws(c);
        }
        if (!value(c, depth))
            return false;
        skip_ws(c);
        if (eat(c, close))
            return true;
        if (!eat(c, ','))
            return false;
        skip_ws(c);
    }
}

/* One value at c->i; depth is the number of containers already open around it. */
static bool value(cursor *c, unsigned depth)
{
    if (c->i >= c->n)
        return false;
    char ch = c->s[c->i];
    if (ch == '{' || ch == '[') {
        if (depth == JSON_MAX_DEPTH)
            return false;
        c->i++;
        return members(c, depth + 1, ch == '{' ? '}' : ']', ch == '{');
    }
    if (ch == '"') {
        papi_key body;
        return string(c, &body);
    }
    if (ch == 't')
        return literal(c, "true", 4);
    if (ch == 'f')
        return literal(c, "false", 5);
    if (ch == 'n')
        return literal(c, "null", 4);
    size_t len = papi__json_number_len(c->s + c->i, c->n - c->i);
    c->i += len;
    return len > 0;
}

bool papi__json_valid(const char *s, size_t n)
{
    if (!s)
        return false;
    cursor c = {s, n, 0};
    skip_ws(&c);
    if (!value(&c, 0))
        return false;
    skip_ws(&c);
    return c.i == n;
}

/* Whether the checked string body (between its quotes) decodes to exactly id's bytes. */
static bool string_is(papi_key body, const char *id, size_t id_len)
{
    size_t j = 0;
    for (size_t i = 0; i < body.len;) {
        if (body.ptr[i] != '\\') {
            if (j >= id_len || body.ptr[i] != id[j])
                return false;
            i++;
            j++;
            continue;
        }
        char e = body.ptr[i + 1];
        static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
        long cp;
        size_t len = 1;
        if (e == 'u')
            cp = unicode_escape(body.ptr, body.len, i + 1, &len);
        else
            cp = (unsigned char)decoded[strchr(plain, e) - plain];
        i += 1 + len;
        char utf8[4];
        size_t k;
        if (cp < 0x80) {
            utf8[0] = (char)cp;
            k = 1;
        } else if (cp < 0x800) {
            utf8[0] = (char)(0xC0 | (cp >> 6));
            utf8[1] = (char)(0x80 | (cp & 0x3F));
            k = 2;
        } else if (cp < 0x10000) {
            utf8[0] = (char)(0xE0 | (cp >> 12));
            utf8[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            utf8[2] = (char)(0x80 | (cp & 0x3F));
            k = 3;
        } else {
            utf8[0] = (char)(0xF0 | (cp >> 18));
            utf8[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
            utf8[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
            utf8[3] = (char)(0x80 | (cp & 0x3F));
            k = 4;
        }
        if (id_len - j < k || memcmp(id + j, utf8, k) != 0)
            return false;
        j += k;
    }
    return j == id_len;
}

/* Whether the checked value at v (len bytes) is the key id. */
static bool key_is(papi_key_type type, const char *v, size_t len, const char *id, size_t id_len)
{
    if (type == PAPI_KEY_NUMBER) /* JSON has no leading zeros, ids have none either */
        return len == id_len && memcmp(v, id, len) == 0;
    return len >= 2 && v[0] == '"' && string_is((papi_key){v + 1, len - 2}, id, id_len);
}

bool papi__row_check(const papi_dataset *ds, const char *id, size_t id_len, const char *row,
                     size_t len)
{
    if (!ds || !id || !row)
        return false;
    const char *key = papi_dataset_column_name(ds, papi_dataset_key_index(ds));
    size_t key_len = strlen(key);
    papi_key_type type = papi_dataset_key_type(ds);
    cursor c = {row, len, 0};
    skip_ws(&c);
    if (!eat(&c, '{'))
        return false;
    int seen = 0;
    bool match = false;
    skip_ws(&c);
    if (eat(&c, '}'))
        return false; /* no key member */
    for (;;) {
        papi_key name;
        if (!string(&c, &name))
            return false;
        skip_ws(&c);
        if (!eat(&c, ':'))
            return false;
        skip_ws(&c);
        size_t at = c.i;
        if (!value(&c, 1))
            return false;
        /* a member name with escapes is not one render.c writes: it does not count */
        if (name.len == key_len && memcmp(name.ptr, key, key_len) == 0) {
            seen++;
            match = key_is(type, row + at, c.i - at, id, id_len);
        }
        skip_ws(&c);
        if (eat(&c, '}'))
            break;
        if (!eat(&c, ','))
            return false;
        skip_ws(&c);
    }
    skip_ws(&c);
    return c.i == len && seen == 1 && match;
}
