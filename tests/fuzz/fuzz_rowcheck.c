/* libFuzzer target for rowcheck.c, the check on rows from a cache outside the process.
 *
 * 1. The whole input as JSON: papi__json_valid() must agree with jansson, except where jansson
 *    is the stricter one by design (reals past a double) or the laxer one (nesting past 65).
 * 2. A row check never accepts what is not valid JSON.
 * 3. The input split at 0xFF into a text key, a VARIANT and a number key: whatever papi renders
 *    from them must pass the check for its own id, and fail for another. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_pieces.h"
#include "internal.h"

static const char datasets[] =
    "{\"datasets\":["
    "{\"name\":\"t\",\"table\":\"T\",\"key\":\"K\",\"key_type\":\"text\",\"columns\":["
    "{\"name\":\"K\",\"type\":\"text\"},{\"name\":\"V\",\"type\":\"variant\"},"
    "{\"name\":\"N\",\"type\":\"number\"}]},"
    "{\"name\":\"n\",\"table\":\"U\",\"key\":\"N\",\"columns\":["
    "{\"name\":\"V\",\"type\":\"variant\"},{\"name\":\"N\",\"type\":\"number\"}]}]}";

static size_t depth_of(const json_t *v)
{
    size_t deepest = 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t d = depth_of(json_array_get(v, i));
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            size_t d = depth_of(m);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

static void compare_with_jansson(const char *s, size_t n)
{
    bool ours = papi__json_valid(s, n);
    json_error_t jerr;
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
    /* jansson refuses reals past a double and NUL in object keys, both valid JSON */
    if (ours && !v && !strstr(jerr.text, "overflow") && !strstr(jerr.text, "NUL"))
        abort(); /* we accepted what is not JSON */
    /* jansson reads a raw NUL byte as the end of the input, which it is not */
    if (!ours && v && depth_of(v) <= PAPI__VARIANT_MAX_DEPTH + 1 && !memchr(s, '\0', n))
        abort(); /* we refused JSON within our limits */
    json_decref(v);
}

/* Renders (key, variant, number) and checks the row against its id and another. */
static void render_and_check(const papi_dataset *ds, const char *const *cells, const size_t *lens,
                             size_t ncells, const char *id, size_t id_len)
{
    papi_buf b;
    papi_buf_init(&b);
    if (papi__render_row(ds, cells, lens, ncells, &b, NULL) == PAPI_OK && !b.oom) {
        if (!papi__json_valid(b.data, b.len) || !papi__row_check(ds, id, id_len, b.data, b.len))
            abort(); /* papi's own row refused */
        char other[PAPI__MAX_TEXT_KEY_BYTES + 2];
        memcpy(other, id, id_len);
        other[id_len] = '0';
        if (papi__row_check(ds, other, id_len + 1, b.data, b.len))
            abort(); /* another id's row accepted */
    }
    papi_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static papi__datasets *set;
    if (!set && papi__datasets_parse(datasets, sizeof datasets - 1, &set, NULL) != PAPI_OK)
        abort();
    const char *s = (const char *)data;
    compare_with_jansson(s, size);
    const papi_dataset *t = papi__datasets_find(set, "t");
    const papi_dataset *n = papi__datasets_find(set, "n");
    if (papi__row_check(t, "k", 1, s, size) && !papi__json_valid(s, size))
        abort();

    const char *piece[3];
    size_t plen[3];
    fuzz_pieces(data, size, piece, plen);
    char id[PAPI__MAX_TEXT_KEY_BYTES + 1];
    size_t id_len;
    if (papi__id_check(piece[0], plen[0], PAPI_KEY_TEXT, id, &id_len, NULL) == PAPI_OK)
        render_and_check(t, piece, plen, 3, id, id_len);
    if (papi__id_check(piece[2], plen[2], PAPI_KEY_NUMBER, id, &id_len, NULL) == PAPI_OK) {
        const char *cells[2] = {piece[1], piece[2]};
        size_t lens[2] = {plen[1], plen[2]};
        render_and_check(n, cells, lens, 2, id, id_len);
    }
    return 0;
}
