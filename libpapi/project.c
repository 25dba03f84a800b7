/* Column selection (papi_lookup_options.select): the names a caller asked for, resolved against a
 * dataset's columns, and rows cut down to them. A row is rendered once, whole, and cached whole;
 * a selection slices top-level members out of those bytes, so one cached row serves every
 * selection, no selection costs a fetch, and the bytes in a cache (Redis's values included) are
 * the same with or without selections.
 *
 * Locating members by walking the row measured cheap enough not to keep offsets beside it: a
 * customer row is 18 short members, and the walk stops at the last column asked for. papi's
 * writer (render.c) puts members in column order with nothing between tokens, which the walk
 * expects first; a row from a cache outside the process passed the row check (rowcheck.c) as any
 * well-formed JSON object, so whitespace and any member order are taken too. */
#include "core.h"

#include <string.h>

/* How much of an unknown name a message shows (before escaping). */
#define SHOWN_NAME_BYTES 64

/* ASCII only: column names are SQL identifiers, and the locale must not decide a match. */
static bool ascii_case_equal(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x != y && ((x | 0x20) != (y | 0x20) || (x | 0x20) < 'a' || (x | 0x20) > 'z'))
            return false;
    }
    return true;
}

size_t papi__select_scratch(const papi_dataset *ds, size_t n)
{
    return n * (sizeof(papi__span) + sizeof(uint32_t)) +
           papi_dataset_column_count(ds) * sizeof(int32_t);
}

void papi__select_layout(papi__select *sel, const papi_dataset *ds, size_t n, void *mem)
{
    sel->n = n;
    sel->spans = mem;
    sel->cols = (uint32_t *)(void *)(sel->spans + n);
    sel->pos = (int32_t *)(void *)(sel->cols + n);
    sel->names = papi__dataset_columns(ds, &sel->lens);
    sel->ncols = papi_dataset_column_count(ds);
}

static papi_status refuse(const papi_dataset *ds, const char *name, size_t len, bool twice,
                          papi_error *err)
{
    char shown[SHOWN_NAME_BYTES * 4 + 8];
    papi__show_bytes(shown, sizeof shown, name, len, SHOWN_NAME_BYTES);
    if (twice)
        return papi_error_set(err, PAPI_EINVAL, "select: column \"%s\" is named twice", shown);
    return papi_error_set(err, PAPI_EINVAL, "select: dataset %s has no column \"%s\"",
                          papi_dataset_name(ds), shown);
}

papi_status papi__select_resolve(papi__select *sel, const papi_dataset *ds,
                                 const char *const *names, papi_error *err)
{
    for (size_t k = 0; k < sel->ncols; k++)
        sel->pos[k] = -1;
    for (size_t i = 0; i < sel->n; i++) {
        if (!names[i])
            return papi_error_set(err, PAPI_EINVAL, "select: name %zu is NULL", i + 1);
        /* no column name is longer than an SQL identifier: a longer name is unknown from its
         * first bytes, however long it is */
        size_t len = strnlen(names[i], 256), k = 0;
        while (k < sel->ncols &&
               !(sel->lens[k] == len && ascii_case_equal(names[i], sel->names[k], len)))
            k++;
        if (k == sel->ncols || sel->pos[k] >= 0)
            return refuse(ds, names[i], len, k < sel->ncols, err);
        sel->cols[i] = (uint32_t)k;
        sel->pos[k] = (int32_t)i;
    }
    return PAPI_OK;
}

/* ------------------------------------------------------------- walking a row */

/* JSON's whitespace and the bytes that end a scalar (a number, true, false, null) in an object
 * or array: one load a byte in the loops below. */
enum { WS = 1, STOP = 2 };
static const unsigned char byte_class[256] = {
    [' '] = WS | STOP, ['\t'] = WS | STOP, ['\n'] = WS | STOP, ['\r'] = WS | STOP,
    [','] = STOP,      ['}'] = STOP,       [']'] = STOP,
};

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (byte_class[(unsigned char)s[i]] & WS))
        i++;
    return i;
}

/* Just past the string whose opening quote is s[i]; 0 when it does not end. */
static size_t string_end(const char *s, size_t n, size_t i)
{
    for (i++; i < n;) {
        const char *q = memchr(s + i, '"', n - i);
        if (!q)
            return 0;
        size_t at = (size_t)(q - s), bs = 0;
        while (at - bs > i && s[at - bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0)
            return at + 1;
        i = at + 1;
    }
    return 0;
}

/* The first byte at or after s[i] that is not an ASCII digit, eight bytes a step: a byte is a
 * digit when its high nibble is 3 and adding 6 to it leaves it so (a carry out of a byte that is
 * no digit only disturbs the bytes after it). */
static size_t digits_end(const char *s, size_t n, size_t i)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ULL, three = 0x3030303030303030ULL;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        uint64_t odd = ((x & hi) ^ three) | (((x + 0x0606060606060606ULL) & hi) ^ three);
        if (odd)
            return i + (size_t)__builtin_ctzll(odd) / 8;
    }
#endif
    while (i < n && (unsigned char)(s[i] - '0') < 10)
        i++;
    return i;
}

/* Just past the JSON value starting at s[i]; 0 when it does not end. The row is well-formed
 * (see the top), so a container is skipped by counting brackets outside strings. */
static size_t value_end(const char *s, size_t n, size_t i)
{
    if (i >= n)
        return 0;
    if (s[i] == '"')
        return string_end(s, n, i);
    if (s[i] != '{' && s[i] != '[') {
        i = digits_end(s, n, i); /* most scalars are numbers */
        while (i < n && !(byte_class[(unsigned char)s[i]] & STOP))
            i++;
        return i;
    }
    size_t depth = 0;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            i = string_end(s, n, i);
            if (!i)
                return 0;
            continue;
        }
        depth += (c == '{' || c == '[');
        depth -= (c == '}' || c == ']');
        i++;
        if (!depth)
            return i;
    }
    return 0;
}

static bool same8(const char *a, const char *b)
{
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return x == y;
}

/* a[0..l) == b[0..l), eight bytes a step and the last eight (a call to memcmp costs more than
 * comparing a column name) */
static bool same(const char *a, const char *b, size_t l)
{
    if (l < 8) {
        while (l--)
            if (*a++ != *b++)
                return false;
        return true;
    }
    for (size_t at = 0; at + 8 < l; at += 8)
        if (!same8(a + at, b + at))
            return false;
    return same8(a + l - 8, b + l - 8);
}

/* The column whose name is the key starting at s[i] (its quote), papi's writer's next column
 * tried first; *end is just past the key. SIZE_MAX for another key, and *end 0 when the key does
 * not end. */
static size_t key_column(const papi__select *sel, size_t expect, const char *s, size_t n, size_t i,
                         size_t *end)
{
    if (expect < sel->ncols) {
        size_t l = sel->lens[expect];
        /* a name holds no backslash, so a quote right after it closes the key */
        if (i + l + 2 <= n && s[i + l + 1] == '"' && same(s + i + 1, sel->names[expect], l)) {
            *end = i + l + 2;
            return expect;
        }
    }
    *end = string_end(s, n, i);
    if (!*end)
        return SIZE_MAX;
    size_t l = *end - i - 2;
    for (size_t k = 0; k < sel->ncols; k++)
        if (sel->lens[k] == l && same(s + i + 1, sel->names[k], l))
            return k;
    return SIZE_MAX;
}

/* The member at s[*i] (its key's quote): its column (SIZE_MAX: none of the dataset's) and its
 * value's bounds; *i is then past what follows the value (a comma, or nothing when the object
 * ends: *last). false when the row is malformed. papi's writer puts nothing between tokens, so
 * whitespace is looked for only where the expected byte is not. */
static bool member(const papi__select *sel, size_t expect, const char *s, size_t n, size_t *i,
                   size_t *k, papi__span *v, bool *last)
{
    size_t kend = 0;
    *k = key_column(sel, expect, s, n, *i, &kend);
    if (!kend)
        return false;
    size_t at = kend < n && s[kend] == ':' ? kend : skip_ws(s, n, kend);
    if (at >= n || s[at] != ':')
        return false;
    at =
        at + 1 < n && !(byte_class[(unsigned char)s[at + 1]] & WS) ? at + 1 : skip_ws(s, n, at + 1);
    size_t vend = value_end(s, n, at);
    if (!vend)
        return false;
    *v = (papi__span){at, vend - at};
    at = vend < n && s[vend] == ',' ? vend : skip_ws(s, n, vend);
    *last = at < n && s[at] == '}';
    if (!*last && (at >= n || s[at] != ','))
        return false;
    *i = *last ? at : (at + 1 < n && s[at + 1] == '"' ? at + 1 : skip_ws(s, n, at + 1));
    return true;
}

/* Records where each selected member's value lies (len 0: absent from the row). false when the
 * row is not a JSON object. */
static bool locate(papi__select *sel, const char *s, size_t n)
{
    for (size_t i = 0; i < sel->n; i++)
        sel->spans[i].len = 0;
    size_t i = skip_ws(s, n, 0), found = 0, expect = 0;
    if (i >= n || s[i] != '{')
        return false;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}')
        return true;
    bool last = false;
    while (found < sel->n && !last) {
        if (i >= n || s[i] != '"')
            return false;
        size_t k;
        papi__span v;
        if (!member(sel, expect, s, n, &i, &k, &v, &last))
            return false;
        if (k == SIZE_MAX)
            continue;
        expect = k + 1;
        int32_t at = sel->pos[k];
        if (at >= 0 && !sel->spans[at].len) {
            sel->spans[at] = v;
            found++;
        }
    }
    return true;
}

papi_status papi__row_project(const papi_dataset *ds, papi__select *sel, const char *s, size_t n,
                              papi_blob **out, papi_error *err)
{
    *out = NULL;
    if (!locate(sel, s, n))
        return papi_error_set(err, PAPI_EPROTO, "a cached row of dataset %s is not a JSON object",
                              papi_dataset_name(ds));
    size_t len = 2 + (sel->n - 1);
    for (size_t i = 0; i < sel->n; i++)
        len += sel->lens[sel->cols[i]] + 3 + (sel->spans[i].len ? sel->spans[i].len : 4);
    char *d;
    papi_blob *b = papi__blob_alloc(len, &d);
    if (!b)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    *d++ = '{';
    for (size_t i = 0; i < sel->n; i++) {
        const char *name = sel->names[sel->cols[i]];
        size_t nl = sel->lens[sel->cols[i]];
        if (i)
            *d++ = ',';
        *d++ = '"';
        memcpy(d, name, nl);
        d += nl;
        *d++ = '"';
        *d++ = ':';
        /* a member the row lacks (a foreign writer's row) answers null, as a NULL cell does */
        const char *v = sel->spans[i].len ? s + sel->spans[i].off : "null";
        size_t vl = sel->spans[i].len ? sel->spans[i].len : 4;
        memcpy(d, v, vl);
        d += vl;
    }
    *d = '}';
    *out = b;
    return PAPI_OK;
}
