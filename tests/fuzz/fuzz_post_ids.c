/* libFuzzer target for papi-httpd's POST body scanner (cmd/papi-httpd/body.c): any bytes as a
 * body. Checks what it promises: on success the ids fit in the body's length, the list form
 * holds n ids between n - 1 commas and no NUL, the array form n NUL-ended ids, and every id's
 * text is valid UTF-8; on refusal a message. The body is copied to a buffer of its exact size
 * so that a read past it is an ASan report. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

static void check(const struct httpd_ids *ids, size_t body_len)
{
    if (ids->len > body_len || ids->text[ids->len] != '\0' || (ids->n == 0 && ids->len != 0))
        abort();
    size_t commas = 0, nuls = 0;
    for (size_t i = 0; i < ids->len; i++) {
        commas += ids->text[i] == ',';
        nuls += ids->text[i] == '\0';
    }
    size_t seps = ids->n ? ids->n - 1 : 0;
    if (ids->array ? (nuls != seps || commas == 0) : (nuls != 0 || commas != seps))
        abort();
    if (!httpd_utf8_valid((const unsigned char *)ids->text, ids->len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    struct httpd_ids ids;
    char msg[160] = "";
    switch (httpd_ids_parse(body, size, &ids, msg, sizeof msg)) {
    case IDS_OK:
        check(&ids, size);
        httpd_ids_free(&ids);
        break;
    case IDS_BAD:
        if (!msg[0] || !httpd_utf8_valid((const unsigned char *)msg, strlen(msg)))
            abort();
        break;
    case IDS_NOMEM:
        break;
    }
    free(body);
    return 0;
}
