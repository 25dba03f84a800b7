/* libFuzzer target for row rendering: the input is split at 0xFF bytes into cells for a dataset
 * with a column of every type; whatever is accepted must be valid JSON (checked by jansson). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char all_types[] =
    "{\"datasets\":[{\"name\":\"all\",\"table\":\"T\",\"key\":\"N\",\"columns\":["
    "{\"name\":\"N\",\"type\":\"number\"},{\"name\":\"D\",\"type\":\"decimal\"},"
    "{\"name\":\"R\",\"type\":\"real\"},{\"name\":\"T\",\"type\":\"text\"},"
    "{\"name\":\"B\",\"type\":\"boolean\"},{\"name\":\"DT\",\"type\":\"date\"},"
    "{\"name\":\"TM\",\"type\":\"time\"},{\"name\":\"TS\",\"type\":\"timestamp\"},"
    "{\"name\":\"V\",\"type\":\"variant\"},{\"name\":\"BIN\",\"type\":\"binary\"}]}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static papi__datasets *set;
    if (!set && papi__datasets_parse(all_types, sizeof all_types - 1, &set, NULL) != PAPI_OK)
        abort();
    const papi_dataset *ds = papi__datasets_at(set, 1);
    const char *cells[10] = {0};
    size_t lens[10] = {0};
    /* cell i: the i-th 0xFF-separated piece; a piece starting with 0xFE is SQL NULL */
    size_t c = 0, start = 0;
    for (size_t i = 0; i <= size && c < 10; i++) {
        if (i == size || data[i] == 0xFF) {
            bool null = i > start && data[start] == 0xFE;
            cells[c] = null ? NULL : (const char *)data + start;
            lens[c] = null ? 0 : i - start;
            c++;
            start = i + 1;
        }
    }
    for (; c < 10; c++)
        cells[c] = NULL;
    papi_buf b;
    papi_buf_init(&b);
    papi_error err;
    papi_status st = papi__render_row(ds, cells, lens, 10, &b, &err);
    if (st == PAPI_OK) {
        json_error_t jerr;
        json_t *v = json_loadb(b.data, b.len,
                               JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL,
                               &jerr);
        /* jansson refuses reals beyond a double, which DECIMAL and VARIANT keep as written */
        if (!v && !strstr(jerr.text, "overflow"))
            abort();
        json_decref(v);
    } else if (st != PAPI_EPROTO || b.len != 0) {
        abort();
    }
    papi_buf_free(&b);
    return 0;
}
