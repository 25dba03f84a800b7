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

static bool ascii_case_equal(const char *a, size_t alen, const char *b)
{
    size_t i = 0;
    for (; i < alen && b[i]; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'a' && x <= 'z')
            x = (unsigned char)(x - 32);
        if (y >= 'a' && y <= 'z')
            y = (unsigned char)(y - 32);
        if (x != y)
            return false;
    }
    return i == alen && !b[i];
}

static size_t column_named(const papi_dataset *ds, const char *name, size_t len)
{
    size_t ncols = papi_dataset_column_count(ds);
    for (size_t k = 0; k < ncols; k++)
        if (ascii_case_equal(name, len, papi_dataset_column_name(ds, k)))
            return k;
    return SIZE_MAX;
}

size_t papi__select_scratch(const papi_dataset *ds, size_t n)
{
    if (!n)
        return 0;
    return n * (sizeof(uint32_t) + sizeof(papi__span)) +
           papi_dataset_column_count(ds) * sizeof(int32_t);
}

void papi__select_layout(papi__select *sel, size_t n, void *mem)
{
    sel->n = n;
    sel->spans = n ? mem : NULL;
    sel->cols = n ? (uint32_t *)(void *)(sel->spans + n) : NULL;
    sel->pos = n ? (int32_t *)(void *)(sel->cols + n) : NULL;
}

papi_status papi__select_resolve(papi__select *sel, const papi_dataset *ds,
                                 const char *const *names, papi_error *err)
{
    if (!sel->n)
        return PAPI_OK;
    size_t ncols = papi_dataset_column_count(ds);
    for (size_t k = 0; k < ncols; k++)
        sel->pos[k] = -1;
    char shown[SHOWN_NAME_BYTES * 4 + 8];
    for (size_t i = 0; i < sel->n; i++) {
        if (!names[i])
            return papi_error_set(err, PAPI_EINVAL, "select: name %zu is NULL", i + 1);
        /* no column name is longer than an SQL identifier: a longer name is unknown from its
         * first bytes, however long it is */
        size_t len = strnlen(names[i], 256);
        size_t k = column_named(ds, names[i], len);
        papi__show_bytes(shown, sizeof shown, names[i], len, SHOWN_NAME_BYTES);
        if (k == SIZE_MAX)
            return papi_error_set(err, PAPI_EINVAL, "select: dataset %s has no column \"%s\"",
                                  papi_dataset_name(ds), shown);
        if (sel->pos[k] >= 0)
            return papi_error_set(err, PAPI_EINVAL, "select: column \"%s\" is named twice", shown);
        sel->cols[i] = (uint32_t)k;
        sel->pos[k] = (int32_t)i;
    }
    return PAPI_OK;
}

/* ------------------------------------------------------------- walking a row */

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
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

/* Just past the JSON value starting at s[i]; 0 when it does not end. The row is well-formed
 * (see the top), so a container is skipped by counting brackets outside strings. */
static size_t value_end(const char *s, size_t n, size_t i)
{
    if (i >= n)
        return 0;
    if (s[i] == '"')
        return string_end(s, n, i);
    if (s[i] != '{' && s[i] != '[') {
        while (i < n && !strchr(",}] \t\n\r", s[i]))
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

/* The column whose name is the key starting at s[i] (its quote), papi's writer's next column
 * tried first; *end is just past the key. SIZE_MAX for another key, and *end 0 when the key does
 * not end. */
static size_t key_column(const papi_dataset *ds, size_t expect, const char *s, size_t n, size_t i,
                         size_t *end)
{
    const char *name = papi_dataset_column_name(ds, expect); /* NULL past the last */
    size_t j = 0;
    while (name && name[j] && i + 1 + j < n && s[i + 1 + j] == name[j])
        j++;
    if (name && !name[j] && i + 1 + j < n && s[i + 1 + j] == '"') {
        *end = i + j + 2;
        return expect;
    }
    *end = string_end(s, n, i);
    if (!*end)
        return SIZE_MAX;
    size_t ncols = papi_dataset_column_count(ds);
    for (size_t k = 0; k < ncols; k++) {
        const char *c = papi_dataset_column_name(ds, k);
        size_t len = *end - i - 2;
        if (strncmp(c, s + i + 1, len) == 0 && !c[len])
            return k;
    }
    return SIZE_MAX;
}

/* Records where each selected member's value lies (len 0: absent from the row). false when the
 * row is not a JSON object. */
static bool locate(const papi_dataset *ds, papi__select *sel, const char *s, size_t n)
{
    for (size_t i = 0; i < sel->n; i++)
        sel->spans[i].len = 0;
    size_t i = skip_ws(s, n, 0), found = 0, expect = 0;
    if (i >= n || s[i] != '{')
        return false;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}')
        return true;
    while (found < sel->n) {
        if (i >= n || s[i] != '"')
            return false;
        size_t kend = 0;
        size_t k = key_column(ds, expect, s, n, i, &kend);
        if (!kend)
            return false;
        i = skip_ws(s, n, kend);
        if (i >= n || s[i] != ':')
            return false;
        i = skip_ws(s, n, i + 1);
        size_t vend = value_end(s, n, i);
        if (!vend)
            return false;
        if (k != SIZE_MAX) {
            expect = k + 1;
            int32_t at = sel->pos[k];
            if (at >= 0 && !sel->spans[at].len) {
                sel->spans[at] = (papi__span){i, vend - i};
                found++;
            }
        }
        i = skip_ws(s, n, vend);
        if (i < n && s[i] == ',')
            i = skip_ws(s, n, i + 1);
        else if (i < n && s[i] == '}')
            break;
        else
            return false;
    }
    return true;
}

papi_status papi__row_project(const papi_dataset *ds, papi__select *sel, const char *s, size_t n,
                              papi_blob **out, papi_error *err)
{
    *out = NULL;
    if (!locate(ds, sel, s, n))
        return papi_error_set(err, PAPI_EPROTO, "a cached row of dataset %s is not a JSON object",
                              papi_dataset_name(ds));
    size_t len = 2 + (sel->n - 1);
    for (size_t i = 0; i < sel->n; i++)
        len += strlen(papi_dataset_column_name(ds, sel->cols[i])) + 3 +
               (sel->spans[i].len ? sel->spans[i].len : 4);
    char *d;
    papi_blob *b = papi__blob_alloc(len, &d);
    if (!b)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory");
    *d++ = '{';
    for (size_t i = 0; i < sel->n; i++) {
        const char *name = papi_dataset_column_name(ds, sel->cols[i]);
        size_t nl = strlen(name);
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
