/**
 * @file papi_replica.h
 * @brief Scans and local replicas: every row of a dataset read from a client's source in one
 *        statement (papi_client_scan()), and the SQLite replica file papi_replica_sync() writes
 *        from it, which the `sqlite` source (`sqlite:replica.db`) then serves as it serves the
 *        demo database, so lookups never reach the warehouse.
 *
 * A replica file holds one dataset's table, named and shaped as the `sqlite` source reads it,
 * and a metadata table (`papi_replica_meta`): the dataset, its shape hash
 * (papi_dataset_shape_hash()), the source, the statement's query id, the start and end times of
 * the last sync, the row count, and the watermark column with the greatest value synced.
 *
 * A sync is atomic: rows are written into a temporary file in the same folder
 * (`<path>.tmp-<pid>-<random>`), one transaction per partition, which is fsynced and renamed over
 * @p path, then the folder is fsynced; a failed or interrupted sync leaves the previous file as it
 * was. A process that serves the file with the `sqlite` source notices the new file by itself:
 * new fetches read it, fetches in flight finish on the old one. Without the sqlite backend
 * (`-Dsqlite=disabled`) the replica calls return PAPI_ECONFIG ("not built in").
 */
#ifndef PAPI_REPLICA_H
#define PAPI_REPLICA_H

#include <papi/papi.h>
#include <papi/papi_backend.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Streams every row of @p dataset from the client's source to @p sink, in one statement
 *        ordered by the key (papi_transport_backend::scan): all rows, or only those whose
 *        watermark column is greater than @p watermark_after. No cache is read or filled. Of a
 *        chain of sources, the last one is read (the earlier ones are replicas of it).
 * @param client the client.
 * @param dataset a dataset name, e.g. "customer".
 * @param watermark_after NULL for every row; else the canonical text of a value of the dataset's
 *        watermark column (papi_dataset_watermark_column()), bound, never pasted into SQL.
 * @param sink receives the rows and the progress; its callbacks run on the calling thread.
 * @param timeout_ms the whole scan's budget, > 0; 0: 24 hours.
 * @param[out] query_id the statement's id at the source (Snowflake's statementHandle), "" when
 *        none; may be NULL.
 * @param query_id_cap the size of @p query_id.
 * @param[out] err detail of a failure (may be NULL).
 * @return PAPI_OK; PAPI_EINVAL (NULL argument, a sink without row, a negative timeout);
 *         PAPI_ENODATASET; PAPI_ECONFIG (the source cannot scan, or @p watermark_after for a
 *         dataset without a watermark column); the sink's own status; PAPI_EAUTH,
 *         PAPI_EUNAVAIL, PAPI_ETIMEDOUT, PAPI_ESOURCE, PAPI_EPROTO, PAPI_ENOMEM from the source.
 *         Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_client_scan(papi_client *client, const char *dataset,
                                                     const char *watermark_after,
                                                     const papi_scan_sink *sink, int64_t timeout_ms,
                                                     char *query_id, size_t query_id_cap,
                                                     papi_error *err);

/**
 * @brief The name of the client's source, e.g. "snowflake", "sqlite" (the transport's name); of
 *        a chain, the last source's, the one papi_client_scan() reads (papi_client_source_at()
 *        names each).
 * @return a string borrowed from @p client, valid until it is destroyed; NULL for NULL.
 *         Thread-safe.
 */
PAPI_API const char *papi_client_source_name(const papi_client *client);

/** @brief Capacity of the text members of ::papi_replica_info, including the NUL. */
#define PAPI_REPLICA_TEXT_MAX 256

/**
 * @brief What a replica file's metadata says, and what a sync did: filled by
 *        papi_replica_sync() and papi_replica_stat(). Caller-owned; set struct_size to
 *        sizeof(papi_replica_info) (members are only ever appended; the library fills what
 *        struct_size covers).
 */
typedef struct papi_replica_info {
    uint32_t struct_size;                         /**< Set by the caller. */
    int32_t incremental;                          /**< 1 when the last sync was incremental. */
    char dataset[PAPI_REPLICA_TEXT_MAX];          /**< The dataset's name. */
    char shape[24];                               /**< papi_dataset_shape_hash() of it. */
    char table[PAPI_REPLICA_TEXT_MAX];            /**< The table in the file, e.g.
                                                       "hybrid_customer". */
    char source[64];                              /**< The source synced from, e.g.
                                                       "snowflake". */
    char query_id[64];                            /**< The last sync's statement at the source;
                                                       "" when none. */
    char watermark_column[PAPI_REPLICA_TEXT_MAX]; /**< "" when the dataset has none. */
    char watermark[PAPI_REPLICA_TEXT_MAX];        /**< The greatest watermark value in the file;
                                                       "" when none. */
    int64_t started_unix_ms;  /**< When the last sync began (UTC, ms since the epoch). */
    int64_t finished_unix_ms; /**< When it ended: the replica's age is measured from here. */
    int64_t full_unix_ms;     /**< When the last full sync ended (deletions are as of then). */
    uint64_t rows;            /**< Rows the file holds. */
    uint64_t rows_synced;     /**< Rows the last sync received (all of them when full). */
    uint64_t partitions;      /**< Partitions the last sync received. */
    uint64_t bytes;           /**< The file's size in bytes. */
} papi_replica_info;

/** @brief Options of papi_replica_sync(). Zero them, then set struct_size and what you need. */
typedef struct papi_replica_opts {
    uint32_t struct_size; /**< sizeof(papi_replica_opts): members are only ever appended. */
    /** Non-zero: fetch only rows past the file's stored watermark and upsert them into a copy of
     *  it (still atomic). Needs a watermark column; deletions need a full sync. A missing file
     *  gets a full sync. */
    int32_t incremental;
    int64_t timeout_ms; /**< The whole sync's budget; 0: 24 hours. */
    /**
     * Progress, may be NULL: called after each partition and at least every 65,536 rows, from
     * the calling thread. @p npartitions is 0 when the source does not say. Return 0 to go on;
     * non-zero stops the sync (it returns PAPI_ETIMEDOUT, "stopped by its caller", and the file
     * is left as it was).
     */
    int (*progress)(void *user, uint64_t rows, uint64_t partitions, uint64_t npartitions);
    void *progress_user; /**< Passed to @p progress; kept, not copied. */
} papi_replica_opts;

/**
 * @brief Copies @p dataset from @p source's source into the SQLite replica file @p path:
 *        one scan (papi_client_scan()), rows written as partitions arrive, then atomically put
 *        in place (see above), metadata included.
 *
 * A server keeps a replica it serves fresh with this one call from a thread of its own: @p source
 * is a client of the warehouse (not the one serving the file), and the client serving the file
 * picks the new one up by itself. Stop a long sync with papi_replica_opts::progress.
 *
 * Refused with PAPI_ECONFIG, the file untouched: a folder of @p path that does not exist; an
 * existing @p path that is not a replica of @p dataset with its current shape (another dataset,
 * other columns, the demo database, a corrupt or truncated file); incremental onto a file
 * without replica metadata, or for a dataset without a watermark column or with another one
 * than the file's.
 * @param source a client whose source holds the dataset (e.g. snowflake); only its scan is used.
 * @param dataset the dataset's name.
 * @param path the replica file.
 * @param opts the options, or NULL for a full sync with the defaults.
 * @param[out] out what the new file's metadata says, and the sync's counts (may be NULL).
 * @param[out] err detail of a failure (may be NULL).
 * @return PAPI_OK; PAPI_EINVAL (NULL argument, struct_size too small); PAPI_ENODATASET;
 *         PAPI_ECONFIG (above, or not built in); PAPI_EIO (the file system); PAPI_ETIMEDOUT
 *         (the budget ran out, or stopped by progress); the source's failures as
 *         papi_client_scan(); PAPI_ENOMEM. Thread-safe (different @p path values; two syncs
 *         of one path at once both write, the last rename wins).
 */
PAPI_API PAPI_NODISCARD papi_status papi_replica_sync(papi_client *source, const char *dataset,
                                                      const char *path,
                                                      const papi_replica_opts *opts,
                                                      papi_replica_info *out, papi_error *err);

/**
 * @brief Reads a replica file's metadata (a server's readiness and metrics: the replica's age
 *        and row count). Cheap: it checks the file's SQLite header and length, not every page
 *        (the sqlite source does that at open, and papi_replica_sync() before it replaces a
 *        file).
 * @param path the replica file.
 * @param[out] out the metadata (struct_size set by the caller).
 * @param[out] err detail of a failure (may be NULL).
 * @return PAPI_OK; PAPI_EINVAL (NULL argument); PAPI_ECONFIG (no such file, not a database,
 *         truncated, no replica metadata, or not built in); PAPI_ENOMEM. Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_replica_stat(const char *path, papi_replica_info *out,
                                                      papi_error *err);

#ifdef __cplusplus
}
#endif

#endif /* PAPI_REPLICA_H */
