/* Rows made up from their ids, for test transports that stand in for a real source. */
#ifndef PAPI_TEST_SYNTH_ROWS_H
#define PAPI_TEST_SYNTH_ROWS_H

#include <papi/papi_backend.h>

/* Hands a row to sink for each key that is a number from 1 to 100000 (others do not exist):
 * the key column holds the id, number columns its value, text columns "row-<id>", the other
 * types a fixed valid value; as in TPC-DS's customer rows, C_LOGIN is NULL and
 * C_LAST_REVIEW_DATE a Julian day number in text. Returns papi_sink_row's failure, if any. */
papi_status synth_rows(const papi_dataset *ds, const papi_key *keys, size_t n,
                       papi_row_sink *sink, papi_error *err);

#endif
