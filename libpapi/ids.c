/* Id lists as callers give them: strict, so that a bad id is a clear error and never reaches a
 * query (ids are only ever bind values). One block holds the key array and the normalized,
 * NUL-terminated bytes it points to: the struct's own small room when it fits, else one
 * allocation, so papi__ids_free() frees ids->keys alone (when it is not that room). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below this many ids a quadratic scan beats building a table. */
#define LINEAR_DEDUPE_MAX 16
/* How much of a bad id an error message shows (before escaping). */
#define SHOWN_BYTES 24

void papi__show_bytes(char *dst, size_t cap, const char *s, size_t len, size_t shown_max)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    size_t shown = len < shown_max ? len : shown_max;
    for (size_t i = 0; i < shown && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    if (shown < len && o + 4 <= cap) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* "id 2 (\"x\")" or, for a lone key, "id (\"x\")". */
static void name_id(char *dst, size_t cap, size_t pos, const char *id, size_t len)
{
    char shown[SHOWN_BYTES * 4 + 8];
    papi__show_bytes(shown, sizeof shown, id, len, SHOWN_BYTES);
    if (pos)
        snprintf(dst, cap, "id %zu (\"%s\")", pos, shown);
    else
        snprintf(dst, cap, "id (\"%s\")", shown);
}

/* Checks one key and writes its normalized form (NUL-terminated) to out. pos is the 1-based
 * position for messages, 0 for a lone key. */
static papi_status check_one(const char *id, size_t len, papi_key_type type, size_t pos, char *out,
                             size_t *out_len, papi_error *err)
{
    char who[SHOWN_BYTES * 4 + 40];
    if (len == 0) {
        if (pos)
            return papi_error_set(err, PAPI_EINVAL, "id %zu is empty", pos);
        return papi_error_set(err, PAPI_EINVAL, "id is empty");
    }
    if (type == PAPI_KEY_NUMBER) {
        for (size_t i = 0; i < len; i++) {
            if (id[i] < '0' || id[i] > '9') {
                name_id(who, sizeof who, pos, id, len);
                return papi_error_set(err, PAPI_EINVAL,
                                      "%s is not a number: only digits 0-9 are allowed", who);
            }
        }
        if (len > PAPI__MAX_TEXT_KEY_BYTES) {
            name_id(who, sizeof who, pos, id, len);
            return papi_error_set(err, PAPI_EINVAL, "%s is too long: at most %d characters", who,
                                  PAPI__MAX_TEXT_KEY_BYTES);
        }
        papi_key norm = papi__key_normalize(type, id, len);
        if (norm.len > PAPI__MAX_NUMBER_DIGITS) {
            name_id(who, sizeof who, pos, id, len);
            return papi_error_set(err, PAPI_EINVAL, "%s has more than %d digits", who,
                                  PAPI__MAX_NUMBER_DIGITS);
        }
        memcpy(out, norm.ptr, norm.len);
        out[norm.len] = '\0';
        *out_len = norm.len;
        return PAPI_OK;
    }
    if (len > PAPI__MAX_TEXT_KEY_BYTES) {
        name_id(who, sizeof who, pos, id, len);
        return papi_error_set(err, PAPI_EINVAL, "%s is too long: at most %d bytes", who,
                              PAPI__MAX_TEXT_KEY_BYTES);
    }
    /* Text columns hold UTF-8 only, so such a key could never match; and NUL cannot be bound
     * as text by every source. Anything else (quotes, ';', '%') is kept as a value. */
    const unsigned char *u = (const unsigned char *)id;
    for (size_t i = 0; i < len;) {
        size_t k = u[i] ? papi_utf8_seq(u + i, len - i) : 0;
        if (k == 0) {
            name_id(who, sizeof who, pos, id, len);
            return papi_error_set(err, PAPI_EINVAL, "%s is not valid text: %s", who,
                                  u[i] ? "bytes are not UTF-8" : "it contains a NUL byte");
        }
        i += k;
    }
    memcpy(out, id, len);
    out[len] = '\0';
    *out_len = len;
    return PAPI_OK;
}

papi_status papi__id_check(const char *id, size_t len, papi_key_type type, char *out,
                           size_t *out_len, papi_error *err)
{
    if (!id || !out || !out_len)
        return papi_error_set(err, PAPI_EINVAL, "id is NULL");
    return check_one(id, len, type, 0, out, out_len, err);
}

static bool same_key(const papi_key *a, const papi_key *b)
{
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

/* Drops repeats in place, keeping the first of each in asked order. */
static papi_status dedupe(papi__ids *ids, papi_error *err)
{
    papi_key *k = ids->keys;
    size_t n = ids->n, w = 0;
    if (n <= LINEAR_DEDUPE_MAX) {
        for (size_t i = 0; i < n; i++) {
            size_t j = 0;
            while (j < w && !same_key(&k[j], &k[i]))
                j++;
            if (j == w)
                k[w++] = k[i];
        }
        ids->n = w;
        return PAPI_OK;
    }
    papi__keyindex ix;
    if (!papi__keyindex_init(&ix, n))
        return papi_error_set(err, PAPI_ENOMEM, "out of memory for %zu ids", n);
    for (size_t i = 0; i < n; i++) {
        k[w] = k[i]; /* the kept prefix grows in place */
        if (papi__keyindex_add(&ix, k, w) == w)
            w++;
    }
    papi__keyindex_free(&ix);
    ids->n = w;
    return PAPI_OK;
}

static papi_status check_count(size_t n, size_t max_ids, papi_error *err)
{
    if (n == 0)
        return papi_error_set(err, PAPI_EINVAL, "empty id list: give at least one id");
    if (max_ids == 0 || max_ids > PAPI__MAX_IDS_LIMIT)
        max_ids = PAPI__MAX_IDS_LIMIT;
    if (n > max_ids)
        return papi_error_set(err, PAPI_EINVAL, "too many ids: %zu given, at most %zu allowed", n,
                              max_ids);
    return PAPI_OK;
}

/* The block for n keys and up to bytes of key text (plus a NUL each). */
static papi_status alloc_ids(papi__ids *out, size_t n, size_t bytes, papi_error *err)
{
    size_t head = n * sizeof(papi_key);
    void *block =
        head + bytes + n <= sizeof out->small.bytes ? out->small.bytes : malloc(head + bytes + n);
    if (!block)
        return papi_error_set(err, PAPI_ENOMEM, "out of memory for %zu ids", n);
    out->keys = block;
    out->storage = (char *)block + head;
    out->n = 0;
    return PAPI_OK;
}

static papi_status add_key(papi__ids *out, size_t *used, const char *id, size_t len,
                           papi_key_type type, size_t pos, papi_error *err)
{
    char *dst = out->storage + *used;
    size_t nlen = 0;
    papi_status st = check_one(id, len, type, pos, dst, &nlen, err);
    if (st != PAPI_OK)
        return st;
    out->keys[out->n].ptr = dst;
    out->keys[out->n].len = nlen;
    out->n++;
    *used += nlen + 1;
    return PAPI_OK;
}

papi_status papi__ids_parse_list(const char *list, size_t len, papi_key_type type, size_t max_ids,
                                 papi__ids *out, papi_error *err)
{
    if (!out)
        return papi_error_set(err, PAPI_EINVAL, "no output for the id list");
    out->keys = NULL;
    out->storage = NULL;
    out->n = 0;
    if (!list && len)
        return papi_error_set(err, PAPI_EINVAL, "id list is NULL");
    size_t n = len ? 1 : 0;
    for (const char *p = list, *end = list + len; p && (p = memchr(p, ',', (size_t)(end - p)));
         p++)
        n++;
    papi_status st = check_count(n, max_ids, err);
    if (st == PAPI_OK)
        st = alloc_ids(out, n, len, err);
    size_t used = 0, pos = 0;
    for (size_t start = 0; st == PAPI_OK && start <= len; pos++) {
        /* the commas were counted: the last id runs to the end */
        const char *comma = pos + 1 < n ? memchr(list + start, ',', len - start) : NULL;
        size_t end = comma ? (size_t)(comma - list) : len;
        st = add_key(out, &used, list + start, end - start, type, pos + 1, err);
        start = end + 1;
    }
    if (st == PAPI_OK && out->n > 1)
        st = dedupe(out, err);
    if (st != PAPI_OK)
        papi__ids_free(out);
    return st;
}

papi_status papi__ids_from_array(const char *const *ids, size_t n, papi_key_type type,
                                 size_t max_ids, papi__ids *out, papi_error *err)
{
    if (!out)
        return papi_error_set(err, PAPI_EINVAL, "no output for the ids");
    out->keys = NULL;
    out->storage = NULL;
    out->n = 0;
    if (!ids && n)
        return papi_error_set(err, PAPI_EINVAL, "id array is NULL");
    papi_status st = check_count(n, max_ids, err);
    if (st != PAPI_OK)
        return st;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ids[i])
            return papi_error_set(err, PAPI_EINVAL, "id %zu is NULL", i + 1);
        /* Longer than any valid key: checked (and refused) from its first bytes only. */
        size_t l = strnlen(ids[i], PAPI__MAX_TEXT_KEY_BYTES + 1);
        bytes += l;
    }
    st = alloc_ids(out, n, bytes, err);
    size_t used = 0;
    for (size_t i = 0; st == PAPI_OK && i < n; i++)
        st = add_key(out, &used, ids[i], strnlen(ids[i], PAPI__MAX_TEXT_KEY_BYTES + 1), type,
                     i + 1, err);
    if (st == PAPI_OK && out->n > 1)
        st = dedupe(out, err);
    if (st != PAPI_OK)
        papi__ids_free(out);
    return st;
}

void papi__ids_free(papi__ids *ids)
{
    if (!ids)
        return;
    if (ids->keys != (papi_key *)(void *)ids->small.bytes)
        free(ids->keys);
    ids->keys = NULL;
    ids->storage = NULL;
    ids->n = 0;
}
