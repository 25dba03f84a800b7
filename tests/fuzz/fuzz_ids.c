/* libFuzzer target for the id parser: any bytes as a list of number or text keys. Checks what
 * the parser promises on success: keys valid, normalized, distinct, NUL-terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void check(const papi__ids *ids, papi_key_type type)
{
    for (size_t i = 0; i < ids->n; i++) {
        const papi_key *k = &ids->keys[i];
        if (k->len == 0 || k->ptr[k->len] != '\0')
            abort();
        if (type == PAPI_KEY_NUMBER) {
            if (k->len > PAPI__MAX_NUMBER_DIGITS || (k->len > 1 && k->ptr[0] == '0'))
                abort();
            for (size_t j = 0; j < k->len; j++)
                if (k->ptr[j] < '0' || k->ptr[j] > '9')
                    abort();
        } else if (k->len > PAPI__MAX_TEXT_KEY_BYTES || memchr(k->ptr, ',', k->len)) {
            abort();
        }
        for (size_t j = 0; j < i; j++)
            if (ids->keys[j].len == k->len && memcmp(ids->keys[j].ptr, k->ptr, k->len) == 0)
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    papi_error err;
    for (int t = 0; t <= 1; t++) {
        papi_key_type type = t ? PAPI_KEY_TEXT : PAPI_KEY_NUMBER;
        papi__ids ids;
        papi_status st =
            papi__ids_parse_list((const char *)data, size, type, 1000, &ids, &err);
        if (st == PAPI_OK) {
            check(&ids, type);
            papi__ids_free(&ids);
        } else {
            if (st != PAPI_EINVAL || ids.keys || err.message[0] == '\0')
                abort();
            for (const char *p = err.message; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                    abort(); /* messages never carry raw control or non-ASCII bytes */
        }
    }
    return 0;
}
