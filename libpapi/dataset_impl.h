/* What dataset.c (the set, the built-in dataset) offers dataset_file.c (the JSON loader).
 * Internal to libpapi; both files and nothing else include it. */
#ifndef PAPI_DATASET_IMPL_H
#define PAPI_DATASET_IMPL_H

#include "internal.h"

/* Makes a dataset from checked parts (names already passed papi__sql_identifier_ok, key_index
 * within ncols; watermark_index within ncols, or SIZE_MAX for none); NULL when out of memory. */
papi_dataset *papi__dataset_new(const char *name, const char *table, size_t key_index,
                                papi_key_type key_type, const char *const *cols,
                                const papi_column_type *types, size_t ncols,
                                size_t watermark_index);
/* A new set holding only the built-in `customer` dataset. */
papi_status papi__datasets_new(papi__datasets **out, papi_error *err);
/* Appends ds to set, which owns it from then on, even on failure; ds NULL means out of memory. */
papi_status papi__datasets_add(papi__datasets *set, papi_dataset *ds, papi_error *err);

#endif
