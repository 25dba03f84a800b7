/* Prints the OpenAPI document papi-httpd renders for a dataset of one column of each type (key
 * K), which no configured dataset has, next to one described without columns (the fallback for a
 * dataset the client does not list). test_openapi.py checks it. */
#include <stdio.h>
#include <stdlib.h>

#include "httpd.h"

int main(void)
{
    static const struct httpd_column every[] = {
        {"K", PAPI_COL_NUMBER},  {"D", PAPI_COL_DECIMAL},    {"R", PAPI_COL_REAL},
        {"T", PAPI_COL_TEXT},    {"B", PAPI_COL_BOOLEAN},    {"DA", PAPI_COL_DATE},
        {"TI", PAPI_COL_TIME},   {"TS", PAPI_COL_TIMESTAMP}, {"V", PAPI_COL_VARIANT},
        {"BI", PAPI_COL_BINARY},
    };
    const struct httpd_dataset_desc ds[] = {
        {"every", "K", sizeof every / sizeof every[0], every},
        {"customer", NULL, 0, NULL},
    };
    struct httpd_api_desc api = {
        .ndatasets = 2, .datasets = ds, .api_keys = 0, .max_ids = 100, .post_max_bytes = 27424};
    size_t len = 0;
    char *doc = httpd_openapi_render(&api, &len);
    if (!doc)
        return 1;
    fwrite(doc, 1, len, stdout);
    free(doc);
    return 0;
}
