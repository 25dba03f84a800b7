/**
 * @file papi_backend.h
 * @brief The plug-in interface: transports (where rows come from) and caches (where rendered
 *        rows are kept). A plug-in is a versioned table of function pointers attached to one
 *        ::papi_config; nothing is registered globally. The built-in backends (`sqlite`,
 *        `snowflake`, `memory`, `redis`, `none`) are written against this header only.
 *
 * ABI policy: members are only ever appended; a plug-in sets `abi_version` to the
 * PAPI_*_ABI_VERSION it was compiled with and `struct_size` to sizeof its table. The library
 * refuses a table whose abi_version is newer than it knows, whose struct_size is smaller than
 * version 1's, or whose flags hold a bit it does not know. At attach it copies
 * min(struct_size, its own sizeof) bytes into a zeroed table of its own, so members an older
 * plug-in lacks read as 0 (NULL) and the plug-in's table need not stay unchanged afterwards
 * (the strings and the options array it points to must stay valid).
 */
#ifndef PAPI_BACKEND_H
#define PAPI_BACKEND_H

#include <papi/papi.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief ABI version of ::papi_transport_backend this header describes. Version 2 appended
 *        options, noptions and detect; version 3 appended scan; version 4 appended holds. Older
 *        tables still attach (the members they lack read as 0).
 */
#define PAPI_TRANSPORT_ABI_VERSION 4
/**
 * @brief ABI version of ::papi_cache_backend this header describes. Version 2 appended options
 *        and noptions; version 1 tables still attach.
 */
#define PAPI_CACHE_ABI_VERSION 2

/** @brief An id or cache key: @p len bytes at @p ptr, not NUL-terminated. */
typedef struct papi_key {
    const char *ptr; /**< The bytes (borrowed). */
    size_t len;      /**< Their number. */
} papi_key;

/* ---------------------------------------------------------------- datasets */

/** @brief Type of a dataset's key. */
typedef enum papi_key_type {
    PAPI_KEY_NUMBER = 0, /**< Decimal digits, bound as FIXED. */
    PAPI_KEY_TEXT = 1    /**< Any bytes, bound as TEXT. */
} papi_key_type;

/**
 * @brief Type of a column, deciding its JSON form. Cells reach papi_sink_row() as text in the
 *        form given for each type (transports convert their native encodings to it).
 */
typedef enum papi_column_type {
    PAPI_COL_NUMBER = 0,    /**< Integer, optional '-', up to 38 digits (".0" tolerated) → integer. */
    PAPI_COL_DECIMAL = 1,   /**< Decimal text as the source wrote it, e.g. "12.50" → number. */
    PAPI_COL_REAL = 2,      /**< Floating point text, e.g. "2.5e+10" → number (NaN/inf → string). */
    PAPI_COL_TEXT = 3,      /**< UTF-8 text → string. */
    PAPI_COL_BOOLEAN = 4,   /**< "true"/"false" (also "1"/"0") → true/false. */
    PAPI_COL_DATE = 5,      /**< "YYYY-MM-DD" → string. */
    PAPI_COL_TIME = 6,      /**< "HH:MM:SS[.fffffffff]" → string. */
    PAPI_COL_TIMESTAMP = 7, /**< ISO-8601 text → string. */
    PAPI_COL_VARIANT = 8,   /**< JSON text → embedded JSON value. */
    PAPI_COL_BINARY = 9     /**< Hex digits → string. */
} papi_column_type;

/** @brief A dataset: name, table, key column and typed columns. Immutable while a client lives. */
typedef struct papi_dataset papi_dataset;

/** @brief The dataset's name, e.g. "customer". Borrowed. Thread-safe. */
PAPI_API const char *papi_dataset_name(const papi_dataset *ds);
/** @brief The checked, fully qualified table name, e.g. "API.DATA.HYBRID_CUSTOMER". Borrowed. Thread-safe. */
PAPI_API const char *papi_dataset_table(const papi_dataset *ds);
/** @brief The key column's name. Borrowed. Thread-safe. */
PAPI_API const char *papi_dataset_key_column(const papi_dataset *ds);
/** @brief Index of the key column among the columns. Thread-safe. */
PAPI_API size_t papi_dataset_key_index(const papi_dataset *ds);
/** @brief The key's type. Thread-safe. */
PAPI_API papi_key_type papi_dataset_key_type(const papi_dataset *ds);
/** @brief Number of columns. Thread-safe. */
PAPI_API size_t papi_dataset_column_count(const papi_dataset *ds);
/** @brief Name of column @p i; NULL when out of range. Borrowed. Thread-safe. */
PAPI_API const char *papi_dataset_column_name(const papi_dataset *ds, size_t i);
/** @brief Type of column @p i (PAPI_COL_TEXT when out of range). Thread-safe. */
PAPI_API papi_column_type papi_dataset_column_type(const papi_dataset *ds, size_t i);
/**
 * @brief The watermark column's name (the datasets file's "watermark": a column that grows when
 *        a row changes, read by incremental replica syncs). Borrowed. Thread-safe.
 * @return the name, or NULL when the dataset names none.
 */
PAPI_API const char *papi_dataset_watermark_column(const papi_dataset *ds);
/** @brief Index of the watermark column among the columns; SIZE_MAX when none. Thread-safe. */
PAPI_API size_t papi_dataset_watermark_index(const papi_dataset *ds);
/**
 * @brief 16 hex digits of a hash over the table, the key and its type, and the columns with their
 *        types: what a row of the dataset looks like. Shared cache keys and replica files carry
 *        it, so a changed dataset never meets rows of its old shape. It never changes for the
 *        same dataset. Borrowed. Thread-safe.
 */
PAPI_API const char *papi_dataset_shape_hash(const papi_dataset *ds);

/**
 * @brief Dataset @p index of a client (0 .. papi_client_dataset_count()-1), for tools that
 *        describe a client's data (papi-httpd's OpenAPI document, column selection).
 * @return the dataset, borrowed from @p client and valid until it is destroyed; NULL when out of
 *         range. Thread-safe.
 */
PAPI_API const papi_dataset *papi_client_dataset(const papi_client *client, size_t index);

/**
 * @brief Writes `SELECT <columns> FROM <table> WHERE <key> IN (?, ..., ?)` with @p nparams
 *        placeholders into @p buf. Names are the dataset's checked identifiers; ids never enter it.
 * @param ds the dataset.
 * @param table the table name to use, or NULL for papi_dataset_table() (SQLite uses the last part).
 * @param nparams the number of placeholders, >= 1.
 * @param buf where to write, NUL-terminated when it fits.
 * @param cap the size of @p buf.
 * @return the length written (excluding NUL), or the length needed when it is >= @p cap.
 *         Thread-safe.
 */
PAPI_API size_t papi_dataset_select_sql(const papi_dataset *ds, const char *table, size_t nparams,
                                        char *buf, size_t cap);

/**
 * @brief Writes the statement of a scan (papi_transport_backend::scan) into @p buf:
 *        `SELECT <columns> FROM <table> ORDER BY <key>`, or with @p after_watermark
 *        `SELECT <columns> FROM <table> WHERE <watermark> > ? ORDER BY <key>` (one placeholder:
 *        the watermark value travels as a bound value). Names are the dataset's checked
 *        identifiers.
 * @param ds the dataset.
 * @param table the table name to use, or NULL for papi_dataset_table().
 * @param after_watermark non-zero for the form with the watermark condition.
 * @param buf where to write, NUL-terminated when it fits.
 * @param cap the size of @p buf.
 * @return the length written (excluding NUL), or the length needed when it is >= @p cap; 0 when
 *         @p table is not an SQL identifier or @p after_watermark is set for a dataset without a
 *         watermark column. Thread-safe.
 */
PAPI_API size_t papi_dataset_scan_sql(const papi_dataset *ds, const char *table,
                                      int after_watermark, char *buf, size_t cap);

/* ---------------------------------------------------------------- host services */

/** @brief Counters a backend may bump in its client's ::papi_stats (papi_host::count). */
typedef enum papi_host_counter {
    PAPI_COUNTER_TOKEN_RENEWALS = 0, /**< papi_stats::token_renewals: a credential minted or re-read. */
    PAPI_COUNTER_CACHE_ERRORS = 1    /**< papi_stats::cache_errors: a cache call that failed. */
} papi_host_counter;

/**
 * @brief What the client offers a backend: logging, counters and the clock. Given to the
 *        backend's open() and valid until its close() returns. Every function is thread-safe.
 *        Members are only ever appended: read one only when ::papi_host::struct_size covers it
 *        (papi_host_now_ms() does that for the clock).
 */
typedef struct papi_host {
    uint32_t struct_size; /**< sizeof(papi_host) of the library that filled it. */
    void *ctx;            /**< Pass as first argument of the functions below. */
    /** Logs a finished line (never a secret) through the client's log callback. */
    void (*log)(void *ctx, papi_log_level level, const char *message);
    /** Adds @p delta to a counter. */
    void (*count)(void *ctx, papi_host_counter counter, uint64_t delta);
    /** The client's monotonic clock in milliseconds: papi_now_ms(), or the clock a test gave
     *  papi_config_set_clock(). Every deadline a backend is given is on this clock, and its own
     *  timeouts, TTLs and backoffs should read it too. */
    int64_t (*now_ms)(void *ctx);
    /** The client's dataset of that name, or NULL; read it with papi_host_dataset(). */
    const papi_dataset *(*dataset)(void *ctx, const char *name);
} papi_host;

/**
 * @brief The clock of @p host in milliseconds: host->now_ms when @p host carries one, else
 *        papi_now_ms() (also for a NULL @p host). Thread-safe.
 */
PAPI_API int64_t papi_host_now_ms(const papi_host *host);

/**
 * @brief The dataset named @p name among those of @p host's client (the datasets are loaded
 *        before the transport opens, so open() may check a file against them).
 * @return the dataset, valid until the backend's close() returns; NULL when the client serves no
 *         dataset of that name, or @p host is NULL or from a library that does not offer it.
 *         Thread-safe.
 */
PAPI_API const papi_dataset *papi_host_dataset(const papi_host *host, const char *name);

/**
 * @brief Logs a printf-formatted line through @p host; does nothing when @p host is NULL or
 *        the level is disabled. Thread-safe.
 */
PAPI_API void papi_host_logf(const papi_host *host, papi_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---------------------------------------------------------------- helpers for plug-ins and tools */

/**
 * @brief A growable byte buffer whose out-of-memory state is sticky, so a writer appends freely
 *        and checks ::papi_buf::oom once at the end. Caller-owned; initialize with
 *        papi_buf_init() (or zero it), release with papi_buf_free(). Its layout is part of the
 *        ABI. Object-confined.
 */
typedef struct papi_buf {
    char *data; /**< The bytes, NUL-terminated once anything was appended; NULL when empty. */
    size_t len; /**< Bytes written, excluding the NUL. */
    size_t cap; /**< Bytes allocated. */
    int oom;    /**< Non-zero once an append failed; later appends do nothing. */
} papi_buf;

/** @brief Makes @p b empty, owning nothing. Object-confined. */
PAPI_API void papi_buf_init(papi_buf *b);
/** @brief Frees what @p b owns and makes it empty; accepts NULL. Object-confined. */
PAPI_API void papi_buf_free(papi_buf *b);
/** @brief Empties @p b and clears its oom state, keeping its memory. Object-confined. */
PAPI_API void papi_buf_reset(papi_buf *b);
/**
 * @brief Makes room for @p extra more bytes (and the NUL).
 * @return 1, or 0 when out of memory (oom is then set). Object-confined.
 */
PAPI_API int papi_buf_reserve(papi_buf *b, size_t extra);
/** @brief Appends @p n bytes from @p p. Object-confined. */
PAPI_API void papi_buf_append(papi_buf *b, const void *p, size_t n);
/** @brief Appends the NUL-terminated @p s. Object-confined. */
PAPI_API void papi_buf_puts(papi_buf *b, const char *s);
/** @brief Appends one byte. Object-confined. */
PAPI_API void papi_buf_putc(papi_buf *b, char c);
/** @brief Appends printf-formatted text. Object-confined. */
PAPI_API void papi_buf_printf(papi_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/**
 * @brief The bytes as a C string.
 * @return a string borrowed from @p b ("" when empty), valid until @p b changes; NULL when an
 *         append failed. Object-confined.
 */
PAPI_API const char *papi_buf_cstr(papi_buf *b);
/**
 * @brief Takes the bytes out of @p b, which becomes empty.
 * @param b the buffer.
 * @param[out] len their length (may be NULL).
 * @return a NUL-terminated string the caller frees with free(); NULL when an append failed or
 *         out of memory. Object-confined.
 */
PAPI_API char *papi_buf_steal(papi_buf *b, size_t *len);

/** @brief The starting value of papi_hash64(). */
#define PAPI_HASH64_SEED 0xcbf29ce484222325ULL
/**
 * @brief FNV-1a 64 over @p n bytes at @p p, continuing from @p h (start with
 *        ::PAPI_HASH64_SEED). It names shared cache keys (the dataset shape hash), so it never
 *        changes. Thread-safe.
 */
PAPI_API uint64_t papi_hash64(uint64_t h, const void *p, size_t n);

/**
 * @brief Length of the valid UTF-8 sequence at @p s (@p n >= 1 bytes available): 1 to 4, or 0
 *        when invalid (overlong forms, surrogates and code points past U+10FFFF are invalid).
 *        Thread-safe.
 */
PAPI_API size_t papi_utf8_seq(const unsigned char *s, size_t n);

/**
 * @brief Appends @p len bytes of @p s to @p b as a JSON string with its quotes: valid UTF-8 kept,
 *        control characters escaped, each invalid byte written as U+FFFD. Object-confined (@p b).
 */
PAPI_API void papi_json_string(papi_buf *b, const char *s, size_t len);

/* ---------------------------------------------------------------- handle pool */

/**
 * @brief A bounded pool of handles (database connections, HTTP handles, sockets) that a backend
 *        shares between the threads calling it: at most `max` handles exist at once, idle ones
 *        are reused most recently released first (the warmest connection), and a caller finding
 *        none free waits until one is released or its deadline passes. Opaque; thread-safe.
 */
typedef struct papi_pool papi_pool;

/**
 * @brief Opens one handle for a papi_pool, called by papi_pool_acquire() without the pool's
 *        lock held. @p user as given to papi_pool_create(); @p deadline_ms on the pool's clock.
 * @return PAPI_OK with *handle set (not NULL), or a failure described in @p err, which
 *         papi_pool_acquire() returns as it is.
 */
typedef papi_status (*papi_pool_open_fn)(void *user, int64_t deadline_ms, void **handle,
                                         papi_error *err);
/** @brief Closes one handle of a papi_pool (broken, drained, or at papi_pool_destroy()). */
typedef void (*papi_pool_close_fn)(void *user, void *handle);

/**
 * @brief Creates a pool of at most @p max handles; none is opened yet.
 * @param max the most handles open at once (idle or in use), >= 1.
 * @param open opens a handle; @p close closes one. Neither may call the pool.
 * @param close see @p open.
 * @param user passed to @p open and @p close; kept, not copied.
 * @param host whose clock the deadlines of papi_pool_acquire() are on (papi_host_now_ms()); may
 *        be NULL (papi_now_ms()); kept, not copied: it must outlive the pool.
 * @param[out] out the pool, owned by the caller (papi_pool_destroy()); NULL on error.
 * @return PAPI_OK, PAPI_EINVAL (@p max is 0, a NULL function or @p out), PAPI_ENOMEM.
 *         Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_pool_create(size_t max, papi_pool_open_fn open,
                                                     papi_pool_close_fn close, void *user,
                                                     const papi_host *host, papi_pool **out);

/**
 * @brief Takes a handle: an idle one, else a new one while fewer than max exist, else waits for
 *        one to be released until @p deadline_ms (on the pool's clock).
 * @param pool the pool.
 * @param deadline_ms when to give up waiting.
 * @param[out] handle the handle, the caller's until papi_pool_release(); NULL on failure.
 * @param[out] err detail of a failure (may be NULL).
 * @return PAPI_OK; PAPI_ETIMEDOUT when every handle stayed in use until the deadline; what the
 *         open function returned when opening failed; PAPI_EINVAL (NULL argument). Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_pool_acquire(papi_pool *pool, int64_t deadline_ms,
                                                      void **handle, papi_error *err);

/**
 * @brief Gives back a handle from papi_pool_acquire(), waking one waiting caller.
 * @param pool the pool.
 * @param handle the handle.
 * @param broken non-zero when the handle must not be reused (its connection failed, or it
 *        belongs to an older generation): it is closed, making room for a new one.
 *        Thread-safe.
 */
PAPI_API void papi_pool_release(papi_pool *pool, void *handle, int broken);

/**
 * @brief Closes every idle handle, e.g. when the backend learns that its peer went away; handles
 *        in use are unaffected (release them broken to close them). Thread-safe.
 */
PAPI_API void papi_pool_drain(papi_pool *pool);

/**
 * @brief Closes the idle handles and frees the pool; accepts NULL. Every handle must have been
 *        released. Exclusive.
 */
PAPI_API void papi_pool_destroy(papi_pool *pool);

/* ---------------------------------------------------------------- errors */

/**
 * @brief Fills @p err (which may be NULL) with @p status and a printf-formatted message, clearing
 *        the other fields. Never allocates.
 * @return @p status, so that `return papi_error_set(err, PAPI_EINVAL, "...")` reads naturally.
 *         Thread-safe (for different @p err).
 */
PAPI_API papi_status papi_error_set(papi_error *err, papi_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/**
 * @brief Fills the source's detail into @p err (which may be NULL) after papi_error_set() gave
 *        it a status and message: the HTTP status, the source's error code, SQL state and the id
 *        of the failed statement (Snowflake's statementHandle, which its support asks for). Texts
 *        are cut to their fields' sizes at a UTF-8 boundary. Never allocates.
 * @param err the error to complete.
 * @param http_status the source's HTTP status, 0 when none.
 * @param code the source's error code, e.g. "390144"; NULL leaves papi_error::source_code as it is.
 * @param sql_state the SQL state, e.g. "42S02"; NULL leaves papi_error::sql_state as it is.
 * @param query_id the statement's id; NULL leaves papi_error::query_id as it is.
 * @return the status @p err holds (PAPI_OK when @p err is NULL), so that
 *         `return papi_error_set_source(err, ...)` follows a papi_error_set(). Thread-safe (for
 *         different @p err).
 */
PAPI_API papi_status papi_error_set_source(papi_error *err, int32_t http_status, const char *code,
                                           const char *sql_state, const char *query_id);

/**
 * @brief Copies the NUL-terminated @p src (NULL: "") into @p dst of @p cap bytes, always
 *        NUL-terminated when @p cap > 0; a cut never splits a UTF-8 sequence.
 * @return the bytes written, excluding the NUL. Thread-safe (for different @p dst).
 */
PAPI_API size_t papi_strlcpy(char *dst, const char *src, size_t cap);

/**
 * @brief Splits a URL-shaped spec `scheme://[userinfo@]rest` (a cache tier such as
 *        `redis://:password@host:6379/0`) without copying. The userinfo ends at the last '@' (a
 *        password may hold '@', a host never does). papi's log redaction uses it, so what a log
 *        line shows as the host is what a backend that splits with it connects to.
 * @param spec the spec, @p len bytes (need not be NUL-terminated).
 * @param len its length.
 * @param[out] scheme what precedes "://".
 * @param[out] userinfo the bytes before the last '@'; {NULL, 0} when there is no '@'.
 * @param[out] rest what follows the userinfo (or "://").
 * @return 1, or 0 when @p spec holds no "scheme://" (the outputs are then unspecified).
 *         Thread-safe.
 */
PAPI_API int papi_url_split(const char *spec, size_t len, papi_key *scheme, papi_key *userinfo,
                            papi_key *rest);

/* ---------------------------------------------------------------- transports */

/** @brief Receives the rows of one fetch; given to papi_transport_backend::fetch by the client. */
typedef struct papi_row_sink papi_row_sink;

/**
 * @brief Hands one row to the client: @p ncells cells in the dataset's column order, each cell
 *        @p lens[i] bytes at @p cells[i] in the form its ::papi_column_type describes, or
 *        cells[i] == NULL for SQL NULL. The cells are copied (rendered to JSON at once).
 *        Rows whose key was not asked, and repeats, are ignored.
 * @return PAPI_OK; PAPI_EPROTO when @p ncells is not the column count or a cell does not fit its
 *         type (the message names the column, not the value); PAPI_ENOMEM. Object-confined: call
 *         it from the thread running fetch.
 */
PAPI_API PAPI_NODISCARD papi_status papi_sink_row(papi_row_sink *sink, const char *const *cells,
                                                  const size_t *lens, size_t ncells,
                                                  papi_error *err);

/**
 * @brief Receives the rows of a scan (papi_transport_backend::scan, papi_client_scan()), in the
 *        key order of the statement, partition after partition as they arrive. Caller-owned;
 *        the callbacks are called from the thread running the scan, one at a time.
 */
typedef struct papi_scan_sink {
    uint32_t struct_size; /**< sizeof(papi_scan_sink): members are only ever appended. */
    void *user;           /**< Passed first to the callbacks. */
    /**
     * One row: @p ncells cells in the dataset's column order, in the form papi_sink_row() takes
     * (the canonical text of each ::papi_column_type; NULL for SQL NULL), valid during the call
     * only. Returns PAPI_OK to go on; any other status stops the scan, which returns it with
     * @p err as filled here.
     */
    papi_status (*row)(void *user, const char *const *cells, const size_t *lens, size_t ncells,
                       papi_error *err);
    /**
     * Progress, may be NULL: partition @p index (from 0) of @p npartitions (0 when the source
     * does not know) was handed over whole, @p rows rows so far. A transport without partitions
     * calls it every few thousand rows and once at the end.
     */
    void (*partition)(void *user, size_t index, size_t npartitions, uint64_t rows);
} papi_scan_sink;

/**
 * @brief The transport table. Methods receive the state that open() produced. A client calls
 *        open() once from papi_client_create(), then fetch(), ping() and scan() from any thread,
 *        then close() once from papi_client_destroy().
 */
typedef struct papi_transport_backend {
    uint32_t abi_version; /**< PAPI_TRANSPORT_ABI_VERSION. */
    uint32_t struct_size; /**< sizeof(papi_transport_backend). */
    const char *name;     /**< Short name, e.g. "sqlite"; in log lines. */
    uint32_t flags;       /**< Reserved, 0 (another bit is refused at attach). */
    /**
     * Opens the transport. @p spec is the source string (e.g. "sqlite:/data/demo.db",
     * "snowflake"). @p cfg holds every option: read them with papi_config_get(),
     * papi_config_get_int() and papi_config_get_bool() (values were checked against their
     * descriptors when set); @p cfg is valid only during the call: copy what you keep. @p host
     * is valid until close() returns. @p user is the pointer given at attach time. Sets *state
     * on PAPI_OK; on failure returns the status with @p err filled, and close() is not called.
     */
    papi_status (*open)(const char *spec, const papi_config *cfg, const papi_host *host,
                        void *user, void **state, papi_error *err);
    /** Closes it; called once, after every fetch and ping has returned. May be NULL. */
    void (*close)(void *state);
    /**
     * Fetches the rows of @p n distinct keys (n >= 1, normalized: a number key has no leading
     * zeros) of @p ds in one query and hands each found row to papi_sink_row(). Absent keys
     * simply produce no row. @p deadline_ms is on the host's clock (papi_host_now_ms()): past it,
     * return PAPI_ETIMEDOUT. Return PAPI_OK, or the failure (PAPI_EAUTH, PAPI_EUNAVAIL,
     * PAPI_ETIMEDOUT, PAPI_ESOURCE, PAPI_EPROTO, PAPI_ENOMEM) with @p err filled
     * (papi_error_set(), papi_error_set_source()); rows handed before a failure are dropped.
     * Thread-safe: called by many threads at once (at most source-concurrency when the
     * dispatcher is on).
     */
    papi_status (*fetch)(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                         papi_row_sink *sink, int64_t deadline_ms, papi_error *err);
    /**
     * Checks that the source answers, for readiness probes (papi_client_ping()), by
     * @p deadline_ms (host clock). It should not wait behind fetches: the built-ins keep a
     * connection of their own for it. Thread-safe. May be NULL (always ready).
     */
    papi_status (*ping)(void *state, int64_t deadline_ms, papi_error *err);
    /** Fetches in flight at once when the source-concurrency option is unset; 0: the number of
     *  online cores (also for a table too short to hold it). */
    uint32_t default_concurrency;

    /* ---- ABI version 2 ---- */

    /** The options this transport reads (papi_config_get_int() and friends), declared so that
     *  papi_config_set() and papi_config_load_env() know and check them; NULL when none. Keys
     *  should start with the backend's name ("csv-file"); a key the core or a built-in backend
     *  declares already means that option. Must outlive the clients. */
    const papi_option *options;
    size_t noptions; /**< Entries of @p options. */
    /**
     * Of built-in transports only: "would you serve with this configuration?", asked by
     * papi_client_create() when the "source" option is unset (papi_config_get()). The first
     * built-in answering non-zero becomes the source (by its name); when none does, the
     * `sqlite` demo database. NULL: never. Ignored in attached tables.
     */
    int (*detect)(const papi_config *cfg);

    /* ---- ABI version 3 ---- */

    /**
     * Streams every row of @p ds to @p sink in ONE statement, ordered by the key: all rows, or
     * with @p watermark_after (canonical text of the watermark column's type) only those whose
     * watermark column (papi_dataset_watermark_column()) is greater, the value bound, never
     * pasted (papi_dataset_scan_sql()). Rows go to the sink as they arrive, a partition at a
     * time, so memory is bounded by one partition whatever the row count; the transport bounds
     * what one partition and one cell may take with limits of its own, not a lookup's. Writes the
     * statement's id (Snowflake's statementHandle) into @p query_id (@p query_id_cap bytes; ""
     * when none), on failure too when known. @p deadline_ms is on the host's clock. Returns
     * PAPI_OK, the sink's own status, or the failure (PAPI_EAUTH, PAPI_EUNAVAIL, PAPI_ETIMEDOUT,
     * PAPI_ESOURCE, PAPI_EPROTO, PAPI_ENOMEM) with @p err filled. Thread-safe. NULL: the
     * transport cannot scan (papi_client_scan() says so).
     */
    papi_status (*scan)(void *state, const papi_dataset *ds, const char *watermark_after,
                        const papi_scan_sink *sink, int64_t deadline_ms, char *query_id,
                        size_t query_id_cap, papi_error *err);

    /* ---- ABI version 4 ---- */

    /**
     * Whether the source holds @p ds's table now: non-zero when it does. In a chain of sources
     * (the "source" option `sqlite:replica.db,snowflake`, papi_config_add_transport()), a source
     * before the last that answers 0 is not asked for that dataset's ids: they go on to the next
     * source (a replica holds one dataset). Asked before each fetch of such a source, so it must
     * be cheap (no query); the answer may change while the source runs (a file swapped in).
     * Thread-safe. NULL: every dataset.
     */
    int (*holds)(void *state, const papi_dataset *ds);
} papi_transport_backend;

/**
 * @brief Makes clients from @p cfg use @p backend as their transport instead of the one the
 *        "source" option names; @p spec is passed to its open(). The table is copied (see the
 *        ABI policy above); the options array it points to and @p user are kept, not copied:
 *        they must outlive those clients. @p spec is copied. Its options become known to
 *        papi_config_set() and papi_config_load_env() on @p cfg from now on.
 * @return PAPI_OK; PAPI_EINVAL (NULL, abi_version 0 or newer than ::PAPI_TRANSPORT_ABI_VERSION,
 *         struct_size smaller than version 1's, no open or fetch, a flags bit set, an option
 *         without a key or with an unknown type); PAPI_ENOMEM. Object-confined.
 */
PAPI_API PAPI_NODISCARD papi_status papi_config_set_transport(papi_config *cfg,
                                                              const papi_transport_backend *backend,
                                                              const char *spec, void *user);

/**
 * @brief Appends @p backend to the chain of sources clients from @p cfg ask instead of the ones
 *        the "source" option names: the first attached is asked first, each next one for the ids
 *        the earlier ones lacked (papi_lookup()). papi_config_set_transport() replaces the whole
 *        chain by one transport. Copies, keeps and checks as papi_config_set_transport() does.
 * @return PAPI_OK; PAPI_EINVAL (as papi_config_set_transport(), or ::PAPI_STATS_SOURCES
 *         transports attached already); PAPI_ENOMEM. Object-confined.
 */
PAPI_API PAPI_NODISCARD papi_status papi_config_add_transport(papi_config *cfg,
                                                              const papi_transport_backend *backend,
                                                              const char *spec, void *user);

/**
 * @brief The system's monotonic clock in milliseconds: the clock of every deadline unless a
 *        clock was set with papi_config_set_clock(). Thread-safe.
 */
PAPI_API int64_t papi_now_ms(void);

/** @brief A clock in milliseconds that never goes backwards; @p user as given to its setter. */
typedef int64_t (*papi_clock_fn)(void *user);

/**
 * @brief Makes clients from @p cfg read time from @p now_ms instead of papi_now_ms(), so tests
 *        can move time instead of sleeping: lookup deadlines, cache TTLs and stale windows, and
 *        every deadline, timeout and backoff decision of the backends (through
 *        ::papi_host::now_ms). Waits still take real time: a wait until a deadline lasts as long
 *        as the deadline was ahead of @p now_ms when it began, and then checks the clock again.
 *        Latency counters (papi_stats) and wall-clock stamps (Redis freshness, JWT claims) keep
 *        the system's clocks.
 * @param cfg the configuration.
 * @param now_ms the clock, thread-safe; NULL restores papi_now_ms().
 * @param user passed to @p now_ms; kept, not copied: it must outlive the clients made from
 *        @p cfg.
 * @return PAPI_OK, PAPI_EINVAL (@p cfg is NULL). Object-confined.
 */
PAPI_API PAPI_NODISCARD papi_status papi_config_set_clock(papi_config *cfg, papi_clock_fn now_ms,
                                                          void *user);

/* ---------------------------------------------------------------- caches */

/** @brief What a cache knows of one key. */
typedef enum papi_cache_state {
    PAPI_CACHE_MISS = 0,     /**< Nothing. */
    PAPI_CACHE_FOUND = 1,    /**< A fresh row. */
    PAPI_CACHE_ABSENT = 2,   /**< A fresh negative entry: the key does not exist. */
    PAPI_CACHE_EXPIRED = 3   /**< A row past its TTL but within the staleness limit. */
} papi_cache_state;

/** @brief An immutable, reference-counted row of rendered JSON; shared by caches and results. */
typedef struct papi_blob papi_blob;

/**
 * @brief Makes a blob holding a copy of @p len bytes, with one reference owned by the caller.
 * @return the blob, or NULL when out of memory. Thread-safe.
 */
PAPI_API papi_blob *papi_blob_create(const char *data, size_t len);
/** @brief Adds a reference; returns @p blob. Thread-safe (atomic). */
PAPI_API papi_blob *papi_blob_ref(papi_blob *blob);
/** @brief Drops a reference, freeing the blob with the last; accepts NULL. Thread-safe (atomic). */
PAPI_API void papi_blob_unref(papi_blob *blob);
/** @brief The bytes (NUL-terminated), borrowed while a reference is held. Thread-safe. */
PAPI_API const char *papi_blob_data(const papi_blob *blob);
/** @brief Their number, excluding the NUL. Thread-safe. */
PAPI_API size_t papi_blob_len(const papi_blob *blob);

/** @brief One key's answer from papi_cache_backend::get. */
typedef struct papi_cache_entry {
    papi_cache_state state; /**< What the cache knows. */
    papi_blob *row;         /**< FOUND/EXPIRED: one reference, owned by the caller; else NULL. */
    int64_t fresh_ms;       /**< FOUND/ABSENT: how long the entry stays fresh; 0 when unknown.
                                 Upper tiers filled from this entry keep it no longer. */
} papi_cache_entry;

/** @brief Lifetimes for entries written by papi_cache_backend::put. */
typedef struct papi_cache_ttl {
    int64_t found_ms;  /**< How long a row is fresh. */
    int64_t absent_ms; /**< How long a negative entry is fresh. */
    int64_t stale_ms;  /**< How long a row is kept after found_ms for stale-if-error (0: not). */
} papi_cache_ttl;

/**
 * @brief A papi_cache_backend::flags bit: the cache lives in the process's own memory, so its
 *        get() never waits on I/O, on another process, or on a lock held across I/O.
 *
 * Only a first tier with this flag is read by papi_lookup_list_cached(), which a server calls on
 * its event loop; a first tier without it (Redis, any cache across a network) is read only by
 * lookups that may block. Rows from a tier without it are checked before use: a row that is not
 * a well-formed JSON object whose key column holds the asked id (invalid JSON or UTF-8, empty,
 * another id's row) is a miss, counted in papi_stats::cache_errors, and is never copied into
 * another tier. The built-in `memory` and `none` caches set it; `redis` does not.
 */
#define PAPI_CACHE_IN_PROCESS 0x1u

/**
 * @brief The cache table. Keys are namespaced by the client (dataset name and a hash of its
 *        columns), so a cache stores opaque byte keys. Every method is thread-safe.
 *        A failing cache is treated as a miss plus a warning, never an error to the caller.
 */
typedef struct papi_cache_backend {
    uint32_t abi_version; /**< PAPI_CACHE_ABI_VERSION. */
    uint32_t struct_size; /**< sizeof(papi_cache_backend). */
    const char *name;     /**< Short name, e.g. "memory". */
    uint32_t flags;       /**< Capability bits: ::PAPI_CACHE_IN_PROCESS; others reserved, 0. */
    /** Opens the cache as for papi_transport_backend::open; @p spec is the tier's spec, e.g.
     *  "memory", "redis://h:6379/0" (it may hold a password: log it redacted). A failure fails
     *  papi_client_create(). */
    papi_status (*open)(const char *spec, const papi_config *cfg, const papi_host *host,
                        void *user, void **state, papi_error *err);
    /** Closes it; called once, when no other call runs. May be NULL. */
    void (*close)(void *state);
    /** Looks @p n keys up, writing out[i] for keys[i] (PAPI_CACHE_MISS when unknown; an entry's
     *  TTLs are judged on the host's clock, or a wall clock shared with other processes). On a
     *  failure (anything but PAPI_OK) the client takes every key as a miss and releases the
     *  rows already written to @p out. */
    papi_status (*get)(void *state, const papi_key *keys, size_t n, papi_cache_entry *out,
                       papi_error *err);
    /** Stores @p n entries: rows[i] a row, or NULL for "absent", each for its lifetime in
     *  @p ttl (0: do not keep). Takes no reference it does not add itself. A failure is logged
     *  and counted, never the caller's error. */
    papi_status (*put)(void *state, const papi_key *keys, papi_blob *const *rows, size_t n,
                       const papi_cache_ttl *ttl, papi_error *err);

    /* ---- ABI version 2 ---- */

    /** The options this cache reads, as papi_transport_backend::options. */
    const papi_option *options;
    size_t noptions; /**< Entries of @p options. */
} papi_cache_backend;

/**
 * @brief Appends a cache tier to @p cfg (the first attached is consulted first), replacing the
 *        tiers the "cache" option names. The table is copied (see the ABI policy above); its
 *        options array and @p user are kept, not copied: they must outlive the clients made from
 *        @p cfg. @p spec is copied. Its options become known to papi_config_set() on @p cfg.
 * @return PAPI_OK; PAPI_EINVAL (NULL, abi_version 0 or newer than ::PAPI_CACHE_ABI_VERSION,
 *         struct_size smaller than version 1's, no open, get or put, a flags bit other than
 *         ::PAPI_CACHE_IN_PROCESS, a bad option descriptor, more than 4 tiers); PAPI_ENOMEM.
 *         Object-confined.
 */
PAPI_API PAPI_NODISCARD papi_status papi_config_add_cache(papi_config *cfg,
                                                          const papi_cache_backend *backend,
                                                          const char *spec, void *user);

#ifdef __cplusplus
}
#endif

#endif /* PAPI_BACKEND_H */
