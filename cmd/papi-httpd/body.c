/* The ids of a POST body: `[1885, 2]` or `{"ids": [1885, "2"]}`.
 *
 * A scanner of its own rather than jansson: jansson reads integers into 64 bits (and
 * JSON_DECODE_INT_AS_REAL into a double), so a 38-digit NUMBER key would be refused or lose
 * digits, while here an integer's digits are copied as they are written. It also builds no tree:
 * one pass over the body writes the ids straight into one buffer, the form papi_lookup_list()
 * reads. It reads only this shape and refuses anything else with the item's position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

struct scan {
    const char *p, *start, *end;
    char *out; /* the ids, each ended by sep */
    size_t olen, ocap;
    char sep;  /* ',' (the list form), or '\0' when an id holds a comma (the array form) */
    size_t n;  /* ids taken */
    int comma; /* an id holds a comma */
    char *msg;
    size_t cap;
};

static int json_error(struct scan *s, const char *what)
{
    snprintf(s->msg, s->cap, "the body is not valid JSON: %s at byte %zu", what,
             (size_t)(s->p - s->start));
    return -1;
}

static int id_error(struct scan *s, const char *what)
{
    snprintf(s->msg, s->cap, "id %zu (at index %zu) %s", s->n + 1, s->n, what);
    return -1;
}

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int at(const struct scan *s, char c)
{
    return s->p < s->end && *s->p == c;
}

static int digit_at(const struct scan *s)
{
    return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

static void put(struct scan *s, const void *b, size_t n)
{
    /* the buffer is as long as the body, and no id is written longer than it is in the body */
    if (s->out && s->olen + n <= s->ocap) {
        memcpy(s->out + s->olen, b, n);
        s->olen += n;
    }
}

static int hex4(const char *p, const char *end, unsigned *v)
{
    *v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return -1;
        *v = *v * 16 + d;
    }
    return 0;
}

static size_t utf8_encode(unsigned cp, unsigned char *o)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* \uXXXX, and its low half when it is a high surrogate. */
static int unicode_escape(struct scan *s, unsigned *cp, int is_id)
{
    if (hex4(s->p, s->end, cp) != 0)
        return json_error(s, "a \\u escape without four hex digits");
    s->p += 4;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return is_id ? id_error(s, "is not valid text: an unpaired surrogate \\u escape")
                     : json_error(s, "an unpaired surrogate \\u escape");
    if (*cp < 0xD800 || *cp > 0xDBFF)
        return 0;
    unsigned lo;
    if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
        hex4(s->p + 2, s->end, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
        return is_id ? id_error(s, "is not valid text: an unpaired surrogate \\u escape")
                     : json_error(s, "an unpaired surrogate \\u escape");
    s->p += 6;
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    return 0;
}

/* A string at s->p (its opening quote). An id's text goes to the output; a member name's to
 * name (its first name_cap - 1 bytes, NUL-ended), when name is given. */
static int scan_string(struct scan *s, int is_id, char *name, size_t name_cap)
{
    size_t nlen = 0;
    s->p++;
    for (;;) {
        if (s->p >= s->end)
            return json_error(s, "an unterminated string");
        unsigned char c = (unsigned char)*s->p;
        unsigned char u[4];
        size_t k;
        if (c == '"') {
            s->p++;
            break;
        }
        if (c < 0x20)
            return json_error(s, "a control character in a string");
        if (c == '\\') {
            if (s->end - s->p < 2)
                return json_error(s, "an unterminated string");
            char e = s->p[1];
            const char *simple = strchr("\"\\/bfnrt", e);
            s->p += 2;
            if (e && simple) {
                u[0] = (unsigned char)"\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
                k = 1;
            } else if (e == 'u') {
                unsigned cp;
                if (unicode_escape(s, &cp, is_id) != 0)
                    return -1;
                if (cp == 0)
                    return is_id ? id_error(s, "contains a NUL character (\\u0000)")
                                 : json_error(s, "a NUL character in a member name");
                k = utf8_encode(cp, u);
            } else {
                s->p--;
                return json_error(s, "an invalid escape in a string");
            }
        } else if (c < 0x80) {
            u[0] = c;
            k = 1;
            s->p++;
        } else {
            k = papi_utf8_seq((const unsigned char *)s->p, (size_t)(s->end - s->p));
            if (k == 0)
                return is_id ? id_error(s, "is not valid text: its bytes are not UTF-8")
                             : json_error(s, "bytes that are not UTF-8");
            memcpy(u, s->p, k);
            s->p += k;
        }
        if (is_id) {
            s->comma |= memchr(u, ',', k) != NULL;
            put(s, u, k);
        } else if (name && nlen + k < name_cap) {
            memcpy(name + nlen, u, k);
            nlen += k;
        }
    }
    if (name)
        name[nlen] = '\0';
    return 0;
}

/* A JSON number at s->p; its digits are the id when it is a non-negative integer. The common
 * case of a POST, so its digits are copied as they are read: an id is never written longer than
 * it is in the body, so the output has room. */
static int scan_number(struct scan *s)
{
    if (at(s, '-'))
        return id_error(s, "is negative: ids are integers from 0, or strings");
    const char *p = s->p, *end = s->end; /* locals: the stores through o may alias s */
    char *o = s->out + s->olen;
    if (*p == '0') {
        *o++ = *p++;
        if (p < end && *p >= '0' && *p <= '9') {
            s->p = p;
            return json_error(s, "a number with a leading zero");
        }
    } else {
        while (p < end && *p >= '0' && *p <= '9')
            *o++ = *p++;
    }
    s->p = p;
    if (at(s, '.') || at(s, 'e') || at(s, 'E'))
        return id_error(s, "is not an integer: ids have no fraction or exponent");
    s->olen = (size_t)(o - s->out);
    return 0;
}

/* A literal (true, false, null) in full, so that a typo is reported as malformed JSON. */
static int scan_literal(struct scan *s, const char *word, const char *what)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return json_error(s, "an unexpected character");
    return id_error(s, what);
}

static int scan_id(struct scan *s)
{
    if (s->p >= s->end)
        return json_error(s, "the body ends inside the array");
    int r;
    size_t olen = s->olen;
    switch (*s->p) {
    case '"':
        r = scan_string(s, 1, NULL, 0);
        /* said here: joined into a list, a lone "" would read as no id at all */
        if (r == 0 && s->olen == olen)
            return id_error(s, "is empty");
        break;
    case '[':
        return id_error(s, "is an array: ids are integers or strings");
    case '{':
        return id_error(s, "is an object: ids are integers or strings");
    case 't':
        return scan_literal(s, "true", "is a boolean: ids are integers or strings");
    case 'f':
        return scan_literal(s, "false", "is a boolean: ids are integers or strings");
    case 'n':
        return scan_literal(s, "null", "is null: ids are integers or strings");
    default:
        if (*s->p != '-' && !digit_at(s))
            return json_error(s, "an unexpected character");
        r = scan_number(s);
    }
    if (r != 0)
        return r;
    s->out[s->olen++] = s->sep;
    s->n++;
    return 0;
}

static int scan_array(struct scan *s)
{
    s->p++; /* '[' */
    skip_ws(s);
    if (at(s, ']')) {
        s->p++;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        if (scan_id(s) != 0)
            return -1;
        skip_ws(s);
        if (at(s, ']')) {
            s->p++;
            return 0;
        }
        if (!at(s, ','))
            return json_error(s, s->p < s->end ? "expected , or ] after an id"
                                               : "the body ends inside the array");
        s->p++;
    }
}

/* {"ids": [...]}: the one member there is. */
static int scan_object(struct scan *s)
{
    static const char shape[] = "the body is [id, ...] or {\"ids\": [id, ...]}";
    int seen = 0;
    s->p++; /* '{' */
    for (;;) {
        skip_ws(s);
        if (at(s, '}') && !seen) {
            snprintf(s->msg, s->cap, "the body has no \"ids\" member: %s", shape);
            return -1;
        }
        if (!at(s, '"'))
            return json_error(s, "expected a member name");
        char name[8];
        if (scan_string(s, 0, name, sizeof name) != 0)
            return -1;
        skip_ws(s);
        if (!at(s, ':'))
            return json_error(s, "expected : after a member name");
        s->p++;
        skip_ws(s);
        if (strcmp(name, "ids") != 0) {
            snprintf(s->msg, s->cap, "the body has a member other than \"ids\": %s", shape);
            return -1;
        }
        if (seen) {
            snprintf(s->msg, s->cap, "the body has \"ids\" twice");
            return -1;
        }
        if (!at(s, '[')) {
            snprintf(s->msg, s->cap, "\"ids\" is not an array: %s", shape);
            return -1;
        }
        if (scan_array(s) != 0)
            return -1;
        seen = 1;
        skip_ws(s);
        if (at(s, '}')) {
            s->p++;
            return 0;
        }
        if (!at(s, ','))
            return json_error(s, "expected , or } after a member");
        s->p++;
    }
}

/* One pass over the body, the ids ended by sep. */
static int scan_body(struct scan *s)
{
    skip_ws(s);
    int r = at(s, '[') ? scan_array(s) : scan_object(s);
    if (r == 0) {
        skip_ws(s);
        if (s->p != s->end)
            r = json_error(s, "text after the end of the JSON value");
    }
    return r;
}

enum httpd_ids_rc httpd_ids_parse(const char *body, size_t len, struct httpd_ids *out, char *msg,
                                  size_t msg_cap)
{
    memset(out, 0, sizeof *out);
    struct scan s = {
        .p = body, .start = body, .end = body + len, .sep = ',', .msg = msg, .cap = msg_cap};
    skip_ws(&s);
    if (s.p == s.end) {
        snprintf(msg, msg_cap, "the body is empty: send [id, ...] or {\"ids\": [id, ...]}");
        return IDS_BAD;
    }
    if (!at(&s, '[') && !at(&s, '{')) {
        snprintf(msg, msg_cap,
                 "the body is [id, ...] or {\"ids\": [id, ...]}, not another JSON "
                 "value");
        return IDS_BAD;
    }
    s.ocap = len + 1;
    s.out = malloc(s.ocap);
    if (!s.out)
        return IDS_NOMEM;
    s.p = body;
    int r = scan_body(&s);
    if (r == 0 && s.comma) { /* rare: read again, the ids NUL-ended for papi_lookup() */
        s = (struct scan){.p = body,
                          .start = body,
                          .end = body + len,
                          .sep = '\0',
                          .out = s.out,
                          .ocap = s.ocap,
                          .msg = msg,
                          .cap = msg_cap};
        r = scan_body(&s);
    }
    if (r != 0) {
        free(s.out);
        return IDS_BAD;
    }
    out->text = s.out;
    out->n = s.n;
    out->array = s.comma;
    out->len = s.olen ? s.olen - 1 : 0;
    out->text[out->len] = '\0';
    return IDS_OK;
}

void httpd_ids_free(struct httpd_ids *ids)
{
    free(ids->text);
    ids->text = NULL;
}
