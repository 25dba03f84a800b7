/* A transport plug-in for libpapi, written outside the library against its installed headers
 * only: rows come from a CSV file. docs/BACKENDS.md walks through it.
 *
 *   papi_config_set_transport(cfg, &csv_transport, "csv:/path/to/customers.csv", NULL);
 *   papi_config_set(cfg, "csv-delimiter", ";", &err);    (after attaching: the option is ours)
 *
 * The file: RFC 4180 CSV (quoted fields may hold the delimiter, quotes doubled, line breaks), a
 * header row of column names first, an empty unquoted field for SQL NULL ("" is an empty
 * string). Each dataset column is found by name in the header (ASCII case ignored); other
 * columns are ignored. The file is read once, when the client is created, and kept in memory:
 * its unescaped bytes and 16 bytes a field (LP64). Fetches are thread-safe.
 *
 * Options (papi_option descriptors in the table, so papi_config_set() and
 * papi_config_load_env() know and check them once the table is attached):
 *   csv-delimiter   PAPI_CSV_DELIMITER   one ASCII character, not a quote or line break; ","
 *   csv-max-bytes   PAPI_CSV_MAX_BYTES   the largest file loaded, 1 .. 1 GiB; 64 MiB */
#ifndef CSV_TRANSPORT_H
#define CSV_TRANSPORT_H

#include <papi/papi_backend.h>

/* The table (ABI version 2, no detect: an attached table is chosen by its caller). */
extern const papi_transport_backend csv_transport;

#endif /* CSV_TRANSPORT_H */
