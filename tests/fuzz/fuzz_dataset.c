/* libFuzzer target for the datasets JSON loader. Every dataset it accepts must have names that
 * are checked identifiers, a key among its columns and SQL that holds only those names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    papi__datasets *set = NULL;
    papi_error err;
    papi_status st = papi__datasets_parse((const char *)data, size, &set, &err);
    if (st != PAPI_OK) {
        if (set || (st != PAPI_ECONFIG && st != PAPI_ENOMEM))
            abort();
        return 0;
    }
    for (size_t i = 0; i < papi__datasets_count(set); i++) {
        const papi_dataset *ds = papi__datasets_at(set, i);
        if (papi__datasets_find(set, papi_dataset_name(ds)) != ds)
            abort();
        if (!papi__sql_identifier_ok(papi_dataset_table(ds), true) ||
            !papi__sql_identifier_ok(papi_dataset_key_column(ds), false))
            abort();
        size_t n = papi_dataset_column_count(ds);
        if (n == 0 || papi_dataset_key_index(ds) >= n ||
            strcmp(papi_dataset_column_name(ds, papi_dataset_key_index(ds)),
                   papi_dataset_key_column(ds)) != 0)
            abort();
        for (size_t c = 0; c < n; c++)
            if (!papi__sql_identifier_ok(papi_dataset_column_name(ds, c), false))
                abort();
        size_t need = papi_dataset_select_sql(ds, NULL, 3, NULL, 0);
        char *sql = malloc(need + 1);
        if (!sql || papi_dataset_select_sql(ds, NULL, 3, sql, need + 1) != need ||
            strlen(sql) != need || strpbrk(sql, ";'\"-/\\") != NULL)
            abort();
        free(sql);
        if (strlen(papi__dataset_shape_hash(ds)) != 16)
            abort();
    }
    papi__datasets_free(set);
    return 0;
}
