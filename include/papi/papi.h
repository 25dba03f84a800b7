/**
 * @file papi.h
 * @brief libpapi: real-time point lookups of keyed rows (customer profiles) from Snowflake,
 *        answered as JSON, with an in-process and an optional shared cache.
 *
 * Objects: a ::papi_config (options) makes a ::papi_client (shared by many threads); a lookup
 * returns a ::papi_result (owned by the caller). Fallible calls return a ::papi_status and write
 * the detail into a caller-owned ::papi_error, which may be NULL.
 *
 * Thread-safety phrases used below:
 * - "Thread-safe": may be called from several threads at once on the same object.
 * - "Object-confined": one thread at a time per object; different objects are independent.
 * - "Exclusive": no other call on the object may run at the same time (creation, destruction).
 */
#ifndef PAPI_H
#define PAPI_H

#include <stddef.h>
#include <stdint.h>

#include <papi/papi_version.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Marks a symbol exported from the shared library. */
#if defined(PAPI_BUILDING) && defined(__GNUC__)
#define PAPI_API __attribute__((visibility("default")))
#else
#define PAPI_API
#endif

/** @brief Warns when a returned status is ignored. */
#if defined(__GNUC__)
#define PAPI_NODISCARD __attribute__((warn_unused_result))
#else
#define PAPI_NODISCARD
#endif

/** @brief Outcome of a fallible call. 0 is success; values are stable across versions. */
typedef enum papi_status {
    PAPI_OK = 0,        /**< Success. */
    PAPI_EINVAL = 1,    /**< Bad argument or input (malformed id, empty list, too many ids). */
    PAPI_ENOMEM = 2,    /**< Out of memory. */
    PAPI_ENODATASET = 3,/**< The dataset name is not configured. */
    PAPI_ECONFIG = 4,   /**< Invalid configuration (option value, dataset file, key file). */
    PAPI_EAUTH = 5,     /**< The source rejected our credentials. */
    PAPI_EUNAVAIL = 6,  /**< The source is overloaded or down, after retries. */
    PAPI_ETIMEDOUT = 7, /**< The source did not answer within the deadline. */
    PAPI_ESOURCE = 8,   /**< The source refused the query (SQL error, missing object, grant). */
    PAPI_EPROTO = 9,    /**< The source answered something malformed or unexpected. */
    PAPI_EIO = 10,      /**< A local I/O failure (file, socket). */
    PAPI_EINTERNAL = 11 /**< A bug in papi: please report it. */
} papi_status;

/** @brief Capacity of papi_error::message, including the terminating NUL. */
#define PAPI_ERROR_MESSAGE_MAX 256

/**
 * @brief Detail of a failure, filled by the call that failed. Caller-owned, fixed size; filling it
 *        never allocates. Messages never contain SQL text, keys or tokens.
 */
typedef struct papi_error {
    papi_status status;                    /**< Same value the call returned. */
    int32_t http_status;                   /**< HTTP status from the source, 0 when none. */
    int32_t retry_after_s;                 /**< Source's Retry-After in seconds, 0 when none. */
    char source_code[16];                  /**< Source's error code, e.g. "390144"; "" when none. */
    char sql_state[8];                     /**< Source's SQL state, e.g. "42S02"; "" when none. */
    char message[PAPI_ERROR_MESSAGE_MAX];  /**< A sentence for people; "" on success. */
    char query_id[64];                     /**< The source's id of the failed statement (Snowflake's
                                                statementHandle, which its support asks for);
                                                "" when none. */
    uint8_t reserved[64];                  /**< Zero; room for members added before 1.0 without
                                                changing the size again. */
} papi_error;

/**
 * @brief A sentence describing @p status, e.g. "invalid argument".
 * @return a static string; never NULL. Thread-safe.
 */
PAPI_API const char *papi_strerror(papi_status status);

/**
 * @brief A stable token naming @p status, e.g. "EINVAL", for machine-readable error codes.
 * @return a static string; never NULL. Thread-safe.
 */
PAPI_API const char *papi_status_name(papi_status status);

/**
 * @brief The library's version as "MAJOR.MINOR.PATCH" (may differ from the header's).
 * @return a static string. Thread-safe.
 */
PAPI_API const char *papi_version(void);

/**
 * @brief Frees memory the library allocated for the caller (e.g. a string from
 *        papi_snowflake_jwt()); accepts NULL. Thread-safe.
 */
PAPI_API void papi_free(void *p);

/** @brief Options for a client: string-keyed, filled from defaults, environment and setters. */
typedef struct papi_config papi_config;

/**
 * @brief Creates a configuration holding every option's default.
 * @param[out] out the new configuration, owned by the caller (papi_config_destroy()); NULL on error.
 * @return PAPI_OK, PAPI_EINVAL (out is NULL), PAPI_ENOMEM. Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_config_create(papi_config **out);

/** @brief Frees a configuration; accepts NULL. Exclusive. */
PAPI_API void papi_config_destroy(papi_config *cfg);

/**
 * @brief Sets option @p key (e.g. "cache-ttl", "source", "snowflake-account") to @p value, parsed
 *        and checked now by the option's ::papi_option descriptor. The value is copied.
 *
 * A key is looked up among the core's options, then the options of every backend built into the
 * library, then those of the plug-ins attached to @p cfg (papi_config_set_transport(),
 * papi_config_add_cache(): attach them first). papi_config_option_info() lists all but the last.
 * @return PAPI_OK; PAPI_EINVAL (unknown key, NULL argument); PAPI_ECONFIG (bad value, or an
 *         option of a backend not built into this libpapi, e.g. "snowflake-account" without
 *         Snowflake: the message says so); PAPI_ENOMEM. Object-confined.
 */
PAPI_API PAPI_NODISCARD papi_status papi_config_set(papi_config *cfg, const char *key,
                                                    const char *value, papi_error *err);

/**
 * @brief Sets every option whose environment variable (e.g. PAPI_CACHE_TTL, SNOWFLAKE_ACCOUNT) is
 *        present and not empty in the process environment: the core's, the built-in backends'
 *        and the attached plug-ins'. Variables of backends not built into this libpapi are
 *        ignored (SPCS sets SNOWFLAKE_* in every container). Call before papi_config_set() so that
 *        flags win.
 * @return PAPI_OK, PAPI_ECONFIG (a variable's value is invalid; the message names it),
 *         PAPI_ENOMEM. Object-confined; reads the environment, so not safe against setenv().
 */
PAPI_API PAPI_NODISCARD papi_status papi_config_load_env(papi_config *cfg, papi_error *err);

/**
 * @brief Reads option @p key as text: the value set, else the option's default.
 *
 * "source" has no default: when it is unset (NULL) or "", papi_client_create() picks the first
 * built-in transport whose detect() accepts the configuration (snowflake: an account is set or
 * the SPCS session token file exists), else `sqlite:` and the demo database. It may name a chain
 * of up to ::PAPI_STATS_SOURCES sources separated by commas (`sqlite:replica.db,snowflake`):
 * a miss is asked of the first, the ids it lacks of the next, and so on (papi_lookup()). A comma
 * always separates sources, so a path holding a comma cannot be named.
 * @return a string borrowed from @p cfg, valid until the option is set again or @p cfg is
 *         destroyed; NULL for an unknown key or an unset option with no default. Secret options
 *         (key passphrase, tokens) are returned too: never log them. Object-confined.
 */
PAPI_API const char *papi_config_get(const papi_config *cfg, const char *key);

/**
 * @brief Reads an integer option (::PAPI_OPTION_INT): the value set, else its default.
 * @param cfg the configuration.
 * @param key the option's key, e.g. "cache-ttl".
 * @param[out] out the value; unchanged on failure.
 * @return PAPI_OK; PAPI_ECONFIG when the option holds no value (unset, no default);
 *         PAPI_EINVAL (NULL argument, unknown key, not an integer option). Object-confined.
 */
PAPI_API PAPI_NODISCARD papi_status papi_config_get_int(const papi_config *cfg, const char *key,
                                                        int64_t *out);

/**
 * @brief Reads a boolean option (::PAPI_OPTION_BOOL) as 1 or 0: the value set, else its default.
 * @param cfg the configuration.
 * @param key the option's key.
 * @param[out] out 1 or 0; unchanged on failure.
 * @return PAPI_OK; PAPI_ECONFIG when the option holds no value (unset, no default);
 *         PAPI_EINVAL (NULL argument, unknown key, not a boolean option). Object-confined.
 */
PAPI_API PAPI_NODISCARD papi_status papi_config_get_bool(const papi_config *cfg, const char *key,
                                                         int *out);

/** @brief How an option's value is written and checked. */
typedef enum papi_option_type {
    PAPI_OPTION_TEXT = 0, /**< Any text up to 4096 bytes (and the option's own check). */
    PAPI_OPTION_INT = 1,  /**< Decimal digits only, within papi_option::min .. papi_option::max. */
    PAPI_OPTION_BOOL = 2  /**< 1/0, true/false, yes/no, on/off, in any case. */
} papi_option_type;

/** @brief A papi_option::flags bit: the value is a secret: never printed, wiped when freed. */
#define PAPI_OPTION_SECRET 0x1u

/** @brief Describes an option: the core's table and every backend's are arrays of these. */
typedef struct papi_option papi_option;
struct papi_option {
    const char *key;       /**< The key for papi_config_set() and the flag name, e.g.
                                "snowflake-account". */
    const char *env;       /**< Its environment variable, e.g. "SNOWFLAKE_ACCOUNT"; NULL: none. */
    papi_option_type type; /**< How values are written and checked. */
    const char *def;       /**< The default as text, valid for the type; NULL: unset. */
    int64_t min;           /**< The least value of a ::PAPI_OPTION_INT (0 or more). */
    int64_t max;           /**< The greatest value of a ::PAPI_OPTION_INT. */
    uint32_t flags;        /**< ::PAPI_OPTION_SECRET; other bits reserved, 0. */
    const char *help;      /**< One line for --help, e.g. "the account identifier". */
    /**
     * Extra validation of a value after its type's (a URL, an enumeration), or NULL. Returns
     * PAPI_OK or PAPI_ECONFIG with a message that names the key, never the value (it may be a
     * secret). Thread-safe; must not call papi_config_*().
     */
    papi_status (*check)(const papi_option *opt, const char *value, papi_error *err);
};

/**
 * @brief Number of options papi_config_option_info() lists: the core's, then each built-in
 *        backend's (those built into this libpapi). Thread-safe.
 */
PAPI_API size_t papi_config_option_count(void);

/**
 * @brief Key, environment variable and secrecy of one option (papi_config_option_info() has
 *        the rest).
 * @param index 0 .. papi_config_option_count()-1.
 * @param[out] env_var the environment variable or NULL when none (may be NULL).
 * @param[out] secret 1 when the value must never be printed (may be NULL).
 * @return the option's key (static storage), or NULL when @p index is out of range. Thread-safe.
 */
PAPI_API const char *papi_config_option_key(size_t index, const char **env_var, int *secret);

/**
 * @brief Describes one option, for flag parsers, --help and bindings.
 * @param index 0 .. papi_config_option_count()-1.
 * @param[out] out a copy of the descriptor; its strings are static (valid as long as the
 *             library is loaded).
 * @return PAPI_OK, PAPI_EINVAL (@p out is NULL or @p index out of range). Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_config_option_info(size_t index, papi_option *out);

/** @brief Severity of a log line given to a ::papi_log_fn. */
typedef enum papi_log_level {
    PAPI_LOG_ERROR = 0,
    PAPI_LOG_WARN = 1,
    PAPI_LOG_INFO = 2,
    PAPI_LOG_DEBUG = 3
} papi_log_level;

/**
 * @brief Receives a finished log line (no trailing newline, no secrets). Called from any thread
 *        that uses the client, so it must be thread-safe.
 */
typedef void (*papi_log_fn)(void *user, papi_log_level level, const char *message);

/**
 * @brief Installs the log callback of clients made from @p cfg. @p user is kept, not copied: it
 *        must outlive those clients. Without a callback, the library logs nothing.
 * @return PAPI_OK, PAPI_EINVAL. Object-confined.
 */
PAPI_API PAPI_NODISCARD papi_status papi_config_set_log(papi_config *cfg, papi_log_fn fn,
                                                        void *user, papi_log_level max_level);

/** @brief A lookup service bound to its sources (one, or a chain) and its caches; shared by
 *         many threads. */
typedef struct papi_client papi_client;

/**
 * @brief Creates a client: loads datasets, opens the transports (each source of the chain, each
 *        with its own miss dispatcher) and the cache tiers.
 * @param cfg the options; copied, so it may be destroyed afterwards.
 * @param[out] out the client, owned by the caller (papi_client_destroy()); NULL on error.
 * @return PAPI_OK, PAPI_EINVAL, PAPI_ECONFIG (bad option, dataset file, key file), PAPI_EIO,
 *         PAPI_ENOMEM. Thread-safe (different configs or the same one read-only).
 * @param[out] err detail of a failure (may be NULL).
 */
PAPI_API PAPI_NODISCARD papi_status papi_client_create(const papi_config *cfg, papi_client **out,
                                                       papi_error *err);

/** @brief Frees a client and its backends; accepts NULL. No lookup may be running. Exclusive. */
PAPI_API void papi_client_destroy(papi_client *client);

/** @brief How the rows of a result were obtained, for X-Cache style reporting. */
typedef enum papi_cache_outcome {
    PAPI_OUTCOME_HIT = 0,  /**< Every id was answered by a cache. */
    PAPI_OUTCOME_MISS = 1, /**< At least one id was fetched from the source. */
    PAPI_OUTCOME_STALE = 2 /**< The source failed and at least one expired copy was served. */
} papi_cache_outcome;

/** @brief The answer to one lookup: rendered rows in the order the ids were asked. */
typedef struct papi_result papi_result;

/**
 * @brief Looks up ids of a dataset. A repeated id is answered once; ids that do not exist are
 *        left out.
 *
 * Ids no cache holds are fetched from the source through its dispatcher: at most
 * source-concurrency fetches are in flight, and while all are busy the misses of every calling
 * thread queue and go, up to max-batch at a time, in one fetch. The library starts no thread: a
 * calling thread whose ids are queued may be the one that sends a batch holding other calls'
 * ids, and returns once its own are answered (or the timeout-ms deadline passes:
 * PAPI_ETIMEDOUT).
 *
 * With a chain of sources ("source" = `sqlite:replica.db,snowflake`) each source has its own
 * dispatcher (source-concurrency and batch-linger-us set the last source's; the earlier ones take
 * their transport's default concurrency and no linger; max-batch applies to each). The misses go
 * to the first source, the ids it did not find to the next, and so on; an id no source has is
 * cached as absent (negative-ttl), found rows are cached as from a single source, and concurrent
 * misses of one id still share one fetch at each source. A source before the last that does not
 * hold the dataset (papi_transport_backend::holds) is skipped for it. A failure of a source before
 * the last does not fail the lookup: its ids go on to the next source as if it lacked them (the
 * failure is counted in papi_stats::chain_errors and logged at most once a minute per source). A
 * failure of the last source fails the lookup as with one source (stale copies served where
 * they exist).
 * @param client the client.
 * @param dataset a dataset name, e.g. "customer".
 * @param ids @p n ids as NUL-terminated text (a number key: ASCII digits only, no sign, at most
 *        38 digits); copied.
 * @param n the number of ids, 1 .. the max-ids option.
 * @param[out] err detail of a failure (may be NULL).
 * @param[out] out the result, owned by the caller (papi_result_free()); NULL on error.
 * @return PAPI_OK, PAPI_EINVAL (bad id, n == 0, n > max-ids; the message names the item),
 *         PAPI_ENODATASET, PAPI_EAUTH, PAPI_EUNAVAIL, PAPI_ETIMEDOUT, PAPI_ESOURCE, PAPI_EPROTO,
 *         PAPI_ENOMEM. Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_lookup(papi_client *client, const char *dataset,
                                                const char *const *ids, size_t n,
                                                papi_result **out, papi_error *err);

/**
 * @brief Like papi_lookup(), with the ids as a comma-separated list of @p len bytes (the form URLs
 *        carry: "1885" or "1,2,3"). Empty items are an error.
 * @return as papi_lookup(). Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_lookup_list(papi_client *client, const char *dataset,
                                                     const char *list, size_t len,
                                                     papi_result **out, papi_error *err);

/**
 * @brief Like papi_lookup_list(), answered from the first cache tier alone, and only when that
 *        tier is in-process (::PAPI_CACHE_IN_PROCESS: the built-in `memory`): it never calls the
 *        source, a lower tier or a cache across the network (Redis), and never waits for another
 *        request's fetch, so it does not block. A server answers cache hits with it on its event
 *        loop and hands the rest to threads that may block in papi_lookup_list(). Kept for
 *        compatibility: papi_lookup_begin() does the same and hands the rest over as a pending
 *        lookup, so that they are not parsed and read from the first tier again.
 * @param client the client.
 * @param dataset a dataset name.
 * @param list the ids as in papi_lookup_list().
 * @param len the length of @p list in bytes.
 * @param[out] out the result (outcome PAPI_OUTCOME_HIT) when the first tier is in-process and
 *             holds every id, found or known absent; NULL, with PAPI_OK returned, when any id
 *             needs more than that or the first tier is not in-process (then at once, without
 *             reading it): call papi_lookup_list(), which counts the lookup. Counters change
 *             only when a result is returned.
 * @param[out] err detail of a failure (may be NULL).
 * @return PAPI_OK, PAPI_EINVAL, PAPI_ENODATASET, PAPI_ENOMEM. Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_lookup_list_cached(papi_client *client,
                                                            const char *dataset, const char *list,
                                                            size_t len, papi_result **out,
                                                            papi_error *err);

/**
 * @brief Options of one lookup, for papi_lookup_opts(), papi_lookup_list_opts() and
 *        papi_lookup_begin(). Grows by appending members: zero it, then set struct_size
 *        (`papi_lookup_options o = {.struct_size = sizeof o};`). A caller built against an older
 *        header passes a smaller struct_size and gets the defaults of the members it lacks; a
 *        caller built against a newer one may pass a larger struct_size provided every member
 *        this libpapi does not know is zero (else PAPI_EINVAL), so an option is never silently
 *        ignored.
 */
typedef struct papi_lookup_options {
    uint32_t struct_size; /**< Set by the caller to sizeof(papi_lookup_options). */
    uint32_t flags;       /**< Reserved: 0. */
    /** Column selection: the names of the columns to answer with (NUL-terminated, matched to the
     *  dataset's columns case-insensitively), in the order each row should have them; a row then
     *  holds only those members, named as the dataset names them, cut from the same cached row
     *  (no other fetch). Each column at most once, at most the dataset's column count of them.
     *  Copied; NULL with nselect 0: every column. */
    const char *const *select;
    size_t nselect; /**< The number of names in select; 0: every column. */
} papi_lookup_options;

/**
 * @brief Like papi_lookup(), with options (column selection).
 * @param client the client.
 * @param dataset a dataset name.
 * @param ids @p n ids as in papi_lookup(); copied.
 * @param n the number of ids, 1 .. the max-ids option.
 * @param opts the options, or NULL for the defaults (papi_lookup()'s answer).
 * @param[out] out the result, owned by the caller (papi_result_free()), rows cut to the selected
 *             columns (the result owns them); NULL on error.
 * @param[out] err detail of a failure (may be NULL).
 * @return as papi_lookup(); PAPI_EINVAL also for bad options: a struct_size below the first
 *         version's or an unknown member set, flags not 0, select NULL with nselect > 0, more
 *         names than columns, an unknown, repeated or NULL column name (the message quotes the
 *         name, escaped and cut to 64 bytes). Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_lookup_opts(papi_client *client, const char *dataset,
                                                     const char *const *ids, size_t n,
                                                     const papi_lookup_options *opts,
                                                     papi_result **out, papi_error *err);

/**
 * @brief Like papi_lookup_list(), with options (column selection): papi_lookup_opts() with the
 *        ids as a comma-separated list of @p len bytes.
 * @return as papi_lookup_opts(). Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_lookup_list_opts(papi_client *client, const char *dataset,
                                                          const char *list, size_t len,
                                                          const papi_lookup_options *opts,
                                                          papi_result **out, papi_error *err);

/**
 * @brief A lookup papi_lookup_begin() started and papi_lookup_finish() completes: its parsed ids,
 *        their cache keys, its options and what the first cache tier answered. Owned by the
 *        caller, who must finish or free it (papi_pending_free()) before destroying the client.
 *        It is not tied to a thread: begun on one (a server's event loop), it may be finished on
 *        another (a worker); one call at a time on it.
 */
typedef struct papi_pending papi_pending;

/**
 * @brief Begins a lookup of a comma-separated list of ids (as papi_lookup_list() takes them) and
 *        answers it at once if the first cache tier can; never blocks.
 *
 * It parses and checks the ids and options and reads the first cache tier when that tier is
 * in-process (::PAPI_CACHE_IN_PROCESS: the built-in `memory`), and nothing else: no source, no
 * lower tier, no cache across the network (Redis), no wait for another call's fetch. When that
 * tier holds every id (found, or known to be absent), the answer is @p result. Otherwise
 * @p pending holds the lookup, to be continued by papi_lookup_finish() (typically on a thread
 * that may block) from where it stopped: the first tier is not read again for the ids it
 * answered. A server answers cache hits on its event loop with this call and hands the pending
 * lookups to worker threads.
 * @param client the client; it must outlive @p pending.
 * @param dataset a dataset name.
 * @param list the ids as in papi_lookup_list(); copied.
 * @param len the length of @p list in bytes.
 * @param opts the options (column selection), or NULL; copied.
 * @param[out] result on PAPI_OK, the answer (outcome PAPI_OUTCOME_HIT), owned by the caller
 *             (papi_result_free()), or NULL when @p pending was set instead; NULL on error.
 * @param[out] pending on PAPI_OK, the lookup to finish (owned by the caller: papi_lookup_finish()
 *             or papi_pending_free()), or NULL when @p result was set; NULL on error.
 * @param[out] err detail of a failure (may be NULL).
 * @return PAPI_OK (exactly one of @p result and @p pending is set), PAPI_EINVAL (as
 *         papi_lookup_opts(); also @p result or @p pending NULL), PAPI_ENODATASET, PAPI_ENOMEM.
 *         Counters change when the lookup completes: here when @p result is returned, else in
 *         papi_lookup_finish() (a pending lookup freed unfinished counts nothing). Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_lookup_begin(papi_client *client, const char *dataset,
                                                      const char *list, size_t len,
                                                      const papi_lookup_options *opts,
                                                      papi_result **result, papi_pending **pending,
                                                      papi_error *err);

/**
 * @brief Completes a pending lookup as papi_lookup_list_opts() would have from where
 *        papi_lookup_begin() stopped: the lower cache tiers, then the source for the ids no tier
 *        holds (coalesced and batched with other calls', stale copies served when it fails). May
 *        block, up to the timeout-ms deadline counted from this call.
 * @param pending the lookup; consumed: freed by this call whatever it returns (NULL: PAPI_EINVAL).
 * @param[out] result the answer, owned by the caller (papi_result_free()); NULL on error.
 * @param[out] err detail of a failure (may be NULL).
 * @return as papi_lookup(): PAPI_OK, PAPI_EINVAL (@p pending or @p result NULL), PAPI_EAUTH,
 *         PAPI_EUNAVAIL, PAPI_ETIMEDOUT, PAPI_ESOURCE, PAPI_EPROTO, PAPI_ENOMEM. Thread-safe with
 *         respect to the client (many pending lookups finish at once); @p pending is
 *         object-confined.
 */
PAPI_API PAPI_NODISCARD papi_status papi_lookup_finish(papi_pending *pending, papi_result **result,
                                                       papi_error *err);

/**
 * @brief Frees a pending lookup without finishing it (its client left, say): nothing is fetched
 *        or counted. Accepts NULL. Object-confined (thread-safe with respect to the client).
 */
PAPI_API void papi_pending_free(papi_pending *pending);

/**
 * @brief Looks up customers of the built-in `customer` dataset by C_CUSTOMER_SK.
 * @param client the client.
 * @param ids @p n keys, each >= 0.
 * @param n the number of ids, 1 .. the max-ids option.
 * @param[out] out the result, owned by the caller (papi_result_free()); NULL on error.
 * @param[out] err detail of a failure (may be NULL).
 * @return as papi_lookup(); PAPI_EINVAL for a negative id. Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_lookup_customers(papi_client *client, const int64_t *ids,
                                                          size_t n, papi_result **out,
                                                          papi_error *err);

/** @brief Frees a result; accepts NULL. Object-confined. */
PAPI_API void papi_result_free(papi_result *result);

/** @brief Number of rows found (ids that exist). Object-confined. */
PAPI_API size_t papi_result_count(const papi_result *result);

/**
 * @brief One row as a JSON object (NUL-terminated; @p len excludes the NUL).
 * @param result the result.
 * @param index 0 .. papi_result_count()-1.
 * @param[out] len its length in bytes.
 * @return bytes borrowed from @p result, valid until papi_result_free(); NULL when out of range.
 *         Object-confined.
 */
PAPI_API const char *papi_result_row_json(const papi_result *result, size_t index, size_t *len);

/**
 * @brief The whole answer as a JSON array of the rows, NUL-terminated ("[]" when none). Its room
 *        was allocated with the result, so this never fails for lack of memory.
 * @param result the result.
 * @param[out] len its length in bytes (may be NULL).
 * @return a string borrowed from @p result, valid until papi_result_free(); NULL only when
 *         @p result is NULL. Object-confined.
 */
PAPI_API const char *papi_result_json(const papi_result *result, size_t *len);

/** @brief How the rows were obtained. Object-confined. */
PAPI_API papi_cache_outcome papi_result_outcome(const papi_result *result);

/**
 * @brief Checks that the source answers (a cheap query), for readiness probes. Of a chain, each
 *        source is pinged in turn, but only the last one's answer counts, as for lookups: a source
 *        before it that fails only sends its ids on to the next (its failure is logged at most
 *        once a minute, and its fetches' failures count in papi_stats::chain_errors).
 * @return PAPI_OK or the last source's status. Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_client_ping(papi_client *client, papi_error *err);

/**
 * @brief The name of source @p index of the client's chain (0: the first asked), its transport's
 *        name, e.g. "sqlite", "snowflake" (a chain of one: index 0 only).
 * @return a string borrowed from @p client, valid until it is destroyed; NULL for NULL or an
 *         index past the last source. Thread-safe.
 */
PAPI_API const char *papi_client_source_at(const papi_client *client, size_t index);

/** @brief Number of datasets the client serves (at least 1: `customer`). Thread-safe. */
PAPI_API size_t papi_client_dataset_count(const papi_client *client);

/**
 * @brief Name of dataset @p index.
 * @return a string borrowed from @p client, valid until it is destroyed; NULL when out of range.
 *         Thread-safe.
 */
PAPI_API const char *papi_client_dataset_name(const papi_client *client, size_t index);

/**
 * @brief Buckets of papi_stats::fetch_ids_bucket. Bucket i (0 .. 14) counts fetches of at most
 *        2^i ids and more than 2^(i-1) (1, 2, 3-4, 5-8, ..., 8193-16384); bucket 15 is +Inf.
 */
#define PAPI_STATS_FETCH_IDS_BUCKETS 16
/**
 * @brief Buckets of papi_stats::queue_wait_bucket. Upper bounds in microseconds: 0, 100, 250,
 *        500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
 *        then +Inf.
 */
#define PAPI_STATS_QUEUE_WAIT_BUCKETS 16
/**
 * @brief Sources a chain holds at most ("source" = `sqlite:replica.db,snowflake`): the length of
 *        the per-source arrays of ::papi_stats (chain_calls and the others), element i counting
 *        source i of the chain (0: the first asked; a chain of one counts in element 0).
 */
#define PAPI_STATS_SOURCES 4

/** @brief Counters since the client was created, for metrics. Grows by appending members. */
typedef struct papi_stats {
    uint32_t struct_size;         /**< Set by the caller to sizeof(papi_stats). */
    uint64_t lookups;             /**< Lookup calls that passed validation. */
    uint64_t cache_hits;          /**< Ids answered by a cache with a row. */
    uint64_t cache_negative_hits; /**< Ids answered by a cache as known to be absent. */
    uint64_t cache_misses;        /**< Ids no cache could answer. */
    uint64_t cache_errors;        /**< Cache operations that failed (degraded to a miss). */
    uint64_t coalesced_waits;     /**< Ids that waited for another thread's fetch. */
    uint64_t source_calls;        /**< Fetches sent to the transport. */
    uint64_t source_errors;       /**< Fetches that failed. */
    uint64_t source_latency_us;   /**< Sum of fetch durations, microseconds. */
    uint64_t stale_served;        /**< Ids answered from an expired copy after a source failure. */
    uint64_t token_renewals;      /**< Credentials minted or re-read by the transport. */
    uint64_t fetches_in_flight;   /**< Fetches running now (a gauge). */
    /** Fetches by the number of ids they asked for, one count per fetch in its own bucket (not
     *  cumulative; bounds: ::PAPI_STATS_FETCH_IDS_BUCKETS). Their sum is source_calls. */
    uint64_t fetch_ids_bucket[PAPI_STATS_FETCH_IDS_BUCKETS];
    uint64_t fetch_ids_sum;       /**< Ids asked for by all fetches. */
    uint64_t queue_depth;         /**< Ids waiting for a free source slot now (a gauge). */
    /** Ids by the time they waited for a free source slot, one count per id sent in its own
     *  bucket (not cumulative; bounds: ::PAPI_STATS_QUEUE_WAIT_BUCKETS). Bucket 0 (0 us) counts
     *  exactly the ids sent at once by the request that queued them; an id that waited counts
     *  1 us at least. */
    uint64_t queue_wait_bucket[PAPI_STATS_QUEUE_WAIT_BUCKETS];
    uint64_t queue_wait_us_sum;   /**< Sum of those waits, microseconds. */
    uint64_t fetches_at_limit;    /**< Fetches that took the last free slot (source-concurrency). */
    /** Fetches sent to each source of the chain (::PAPI_STATS_SOURCES); their sum is
     *  source_calls. */
    uint64_t chain_calls[PAPI_STATS_SOURCES];
    /** Ids asked of each source of the chain: of a source after the first, only those the
     *  earlier ones lacked. */
    uint64_t chain_ids[PAPI_STATS_SOURCES];
    /** Rows each source of the chain returned. */
    uint64_t chain_rows[PAPI_STATS_SOURCES];
    /** Fetches of each source of the chain that failed (counted in source_errors too). A source
     *  before the last that failed had its ids asked of the next one. */
    uint64_t chain_errors[PAPI_STATS_SOURCES];
} papi_stats;

/**
 * @brief The members of ::papi_stats after struct_size, in their order, for code that walks
 *        them (metrics exporters, bindings): `C(name)` for a counter that only grows, `G(name)`
 *        for a gauge, `H(name, n)` for an array of n counters: a histogram's bucket counts, or
 *        one count per source of the chain (::PAPI_STATS_SOURCES). A member
 *        appended to ::papi_stats is appended here too (the library builds its copy from it).
 */
#define PAPI_STATS_MEMBERS(C, G, H)                                                                \
    C(lookups)                                                                                     \
    C(cache_hits)                                                                                  \
    C(cache_negative_hits)                                                                         \
    C(cache_misses)                                                                                \
    C(cache_errors)                                                                                \
    C(coalesced_waits)                                                                             \
    C(source_calls)                                                                                \
    C(source_errors)                                                                               \
    C(source_latency_us)                                                                           \
    C(stale_served)                                                                                \
    C(token_renewals)                                                                              \
    G(fetches_in_flight)                                                                           \
    H(fetch_ids_bucket, PAPI_STATS_FETCH_IDS_BUCKETS)                                              \
    C(fetch_ids_sum)                                                                               \
    G(queue_depth)                                                                                 \
    H(queue_wait_bucket, PAPI_STATS_QUEUE_WAIT_BUCKETS)                                            \
    C(queue_wait_us_sum)                                                                           \
    C(fetches_at_limit)                                                                            \
    H(chain_calls, PAPI_STATS_SOURCES)                                                             \
    H(chain_ids, PAPI_STATS_SOURCES)                                                               \
    H(chain_rows, PAPI_STATS_SOURCES)                                                              \
    H(chain_errors, PAPI_STATS_SOURCES)

/**
 * @brief Copies the client's counters into @p out (up to out->struct_size bytes).
 * @return PAPI_OK, PAPI_EINVAL. Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_client_stats(const papi_client *client, papi_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* PAPI_H */
