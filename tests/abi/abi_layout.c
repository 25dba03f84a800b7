/* The layout of every public struct, frozen (STYLE.md 16, docs/ABI.md): sizes and member offsets
 * written down as numbers for the LP64 ABI (x86-64, arm64 Linux), checked against the public
 * headers as a consumer compiles them. A change here is an ABI break: structs only grow at their
 * end (papi_stats, the plug-in tables, papi_host: by struct_size), and papi_error keeps its size
 * (its reserved bytes are for new members). The minimum plug-in tables the library accepts are
 * the version-1 layouts below. */
#include <papi/papi.h>
#include <papi/papi_backend.h>
#include <papi/papi_replica.h>
#include <papi/papi_snowflake.h>

#include <stddef.h>
#include <stdio.h>

static int failures;

#define CHECK(expr, want)                                                                          \
    do {                                                                                           \
        size_t got_ = (size_t)(expr);                                                              \
        if (got_ != (size_t)(want)) {                                                              \
            fprintf(stderr, "%s is %zu, frozen at %zu\n", #expr, got_, (size_t)(want));            \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* The version-1 tables: what papi_config_set_transport() and papi_config_add_cache() accept at
 * least (their struct_size up to the last method of version 1). */
#define TRANSPORT_V1_SIZE 56 /* up to ping */
#define CACHE_V1_SIZE 56     /* up to put */

int main(void)
{
    if (sizeof(void *) != 8 || sizeof(long) != 8) {
        printf("the frozen numbers are LP64's\n");
        return 77;
    }
    CHECK(sizeof(papi_error), 420);
    CHECK(offsetof(papi_error, status), 0);
    CHECK(offsetof(papi_error, http_status), 4);
    CHECK(offsetof(papi_error, retry_after_s), 8);
    CHECK(offsetof(papi_error, source_code), 12);
    CHECK(offsetof(papi_error, sql_state), 28);
    CHECK(offsetof(papi_error, message), 36);
    CHECK(offsetof(papi_error, query_id), 292);
    CHECK(offsetof(papi_error, reserved), 356);
    CHECK(sizeof(papi_stats), 520);
    CHECK(offsetof(papi_stats, struct_size), 0);
    CHECK(offsetof(papi_stats, lookups), 8);
    CHECK(offsetof(papi_stats, cache_hits), 16);
    CHECK(offsetof(papi_stats, cache_negative_hits), 24);
    CHECK(offsetof(papi_stats, cache_misses), 32);
    CHECK(offsetof(papi_stats, cache_errors), 40);
    CHECK(offsetof(papi_stats, coalesced_waits), 48);
    CHECK(offsetof(papi_stats, source_calls), 56);
    CHECK(offsetof(papi_stats, source_errors), 64);
    CHECK(offsetof(papi_stats, source_latency_us), 72);
    CHECK(offsetof(papi_stats, stale_served), 80);
    CHECK(offsetof(papi_stats, token_renewals), 88);
    CHECK(offsetof(papi_stats, fetches_in_flight), 96);
    CHECK(offsetof(papi_stats, fetch_ids_bucket), 104);
    CHECK(offsetof(papi_stats, fetch_ids_sum), 232);
    CHECK(offsetof(papi_stats, queue_depth), 240);
    CHECK(offsetof(papi_stats, queue_wait_bucket), 248);
    CHECK(offsetof(papi_stats, queue_wait_us_sum), 376);
    CHECK(offsetof(papi_stats, fetches_at_limit), 384);
    CHECK(offsetof(papi_stats, chain_calls), 392);
    CHECK(offsetof(papi_stats, chain_ids), 424);
    CHECK(offsetof(papi_stats, chain_rows), 456);
    CHECK(offsetof(papi_stats, chain_errors), 488);
    CHECK(sizeof(papi_transport_backend), 104);
    CHECK(offsetof(papi_transport_backend, abi_version), 0);
    CHECK(offsetof(papi_transport_backend, struct_size), 4);
    CHECK(offsetof(papi_transport_backend, name), 8);
    CHECK(offsetof(papi_transport_backend, flags), 16);
    CHECK(offsetof(papi_transport_backend, open), 24);
    CHECK(offsetof(papi_transport_backend, close), 32);
    CHECK(offsetof(papi_transport_backend, fetch), 40);
    CHECK(offsetof(papi_transport_backend, ping), 48);
    CHECK(offsetof(papi_transport_backend, default_concurrency), 56);
    CHECK(offsetof(papi_transport_backend, options), 64);
    CHECK(offsetof(papi_transport_backend, noptions), 72);
    CHECK(offsetof(papi_transport_backend, detect), 80);
    CHECK(offsetof(papi_transport_backend, scan), 88);  /* version 3 */
    CHECK(offsetof(papi_transport_backend, holds), 96); /* version 4 */
    CHECK(sizeof(papi_scan_sink), 32);
    CHECK(offsetof(papi_scan_sink, struct_size), 0);
    CHECK(offsetof(papi_scan_sink, user), 8);
    CHECK(offsetof(papi_scan_sink, row), 16);
    CHECK(offsetof(papi_scan_sink, partition), 24);
    CHECK(sizeof(papi_replica_opts), 32);
    CHECK(offsetof(papi_replica_opts, struct_size), 0);
    CHECK(offsetof(papi_replica_opts, incremental), 4);
    CHECK(offsetof(papi_replica_opts, timeout_ms), 8);
    CHECK(offsetof(papi_replica_opts, progress), 16);
    CHECK(offsetof(papi_replica_opts, progress_user), 24);
    CHECK(sizeof(papi_replica_info), 1240);
    CHECK(offsetof(papi_replica_info, struct_size), 0);
    CHECK(offsetof(papi_replica_info, incremental), 4);
    CHECK(offsetof(papi_replica_info, dataset), 8);
    CHECK(offsetof(papi_replica_info, shape), 264);
    CHECK(offsetof(papi_replica_info, table), 288);
    CHECK(offsetof(papi_replica_info, source), 544);
    CHECK(offsetof(papi_replica_info, query_id), 608);
    CHECK(offsetof(papi_replica_info, watermark_column), 672);
    CHECK(offsetof(papi_replica_info, watermark), 928);
    CHECK(offsetof(papi_replica_info, started_unix_ms), 1184);
    CHECK(offsetof(papi_replica_info, finished_unix_ms), 1192);
    CHECK(offsetof(papi_replica_info, full_unix_ms), 1200);
    CHECK(offsetof(papi_replica_info, rows), 1208);
    CHECK(offsetof(papi_replica_info, rows_synced), 1216);
    CHECK(offsetof(papi_replica_info, partitions), 1224);
    CHECK(offsetof(papi_replica_info, bytes), 1232);
    CHECK(sizeof(papi_cache_backend), 72);
    CHECK(offsetof(papi_cache_backend, abi_version), 0);
    CHECK(offsetof(papi_cache_backend, struct_size), 4);
    CHECK(offsetof(papi_cache_backend, name), 8);
    CHECK(offsetof(papi_cache_backend, flags), 16);
    CHECK(offsetof(papi_cache_backend, open), 24);
    CHECK(offsetof(papi_cache_backend, close), 32);
    CHECK(offsetof(papi_cache_backend, get), 40);
    CHECK(offsetof(papi_cache_backend, put), 48);
    CHECK(offsetof(papi_cache_backend, options), 56);
    CHECK(offsetof(papi_cache_backend, noptions), 64);
    CHECK(sizeof(papi_host), 48);
    CHECK(offsetof(papi_host, struct_size), 0);
    CHECK(offsetof(papi_host, ctx), 8);
    CHECK(offsetof(papi_host, log), 16);
    CHECK(offsetof(papi_host, count), 24);
    CHECK(offsetof(papi_host, now_ms), 32);
    CHECK(offsetof(papi_host, dataset), 40);
    CHECK(sizeof(papi_option), 72);
    CHECK(offsetof(papi_option, key), 0);
    CHECK(offsetof(papi_option, env), 8);
    CHECK(offsetof(papi_option, type), 16);
    CHECK(offsetof(papi_option, def), 24);
    CHECK(offsetof(papi_option, min), 32);
    CHECK(offsetof(papi_option, max), 40);
    CHECK(offsetof(papi_option, flags), 48);
    CHECK(offsetof(papi_option, help), 56);
    CHECK(offsetof(papi_option, check), 64);
    CHECK(sizeof(papi_buf), 32);
    CHECK(offsetof(papi_buf, data), 0);
    CHECK(offsetof(papi_buf, len), 8);
    CHECK(offsetof(papi_buf, cap), 16);
    CHECK(offsetof(papi_buf, oom), 24);
    CHECK(sizeof(papi_lookup_options), 24);
    CHECK(offsetof(papi_lookup_options, struct_size), 0);
    CHECK(offsetof(papi_lookup_options, flags), 4);
    CHECK(offsetof(papi_lookup_options, select), 8);
    CHECK(offsetof(papi_lookup_options, nselect), 16);
    CHECK(sizeof(papi_key), 16);
    CHECK(offsetof(papi_key, ptr), 0);
    CHECK(offsetof(papi_key, len), 8);
    CHECK(sizeof(papi_cache_entry), 24);
    CHECK(offsetof(papi_cache_entry, state), 0);
    CHECK(offsetof(papi_cache_entry, row), 8);
    CHECK(offsetof(papi_cache_entry, fresh_ms), 16);
    CHECK(sizeof(papi_cache_ttl), 24);
    CHECK(offsetof(papi_cache_ttl, found_ms), 0);
    CHECK(offsetof(papi_cache_ttl, absent_ms), 8);
    CHECK(offsetof(papi_cache_ttl, stale_ms), 16);
    CHECK(offsetof(papi_transport_backend, ping) + sizeof(void (*)(void)), TRANSPORT_V1_SIZE);
    CHECK(offsetof(papi_cache_backend, put) + sizeof(void (*)(void)), CACHE_V1_SIZE);
    CHECK(PAPI_ERROR_MESSAGE_MAX, 256);
    CHECK(PAPI_STATS_FETCH_IDS_BUCKETS, 16);
    CHECK(PAPI_STATS_QUEUE_WAIT_BUCKETS, 16);
    CHECK(PAPI_STATS_SOURCES, 4);
    CHECK(PAPI_SNOWFLAKE_FINGERPRINT_MAX, 64);
    /* values of enums and flags are stable too */
    CHECK(PAPI_EINTERNAL, 11);
    CHECK(PAPI_COUNTER_CACHE_ERRORS, 1);
    CHECK(PAPI_CACHE_EXPIRED, 3);
    CHECK(PAPI_COL_BINARY, 9);
    CHECK(PAPI_OPTION_BOOL, 2);
    CHECK(PAPI_OPTION_SECRET, 1);
    CHECK(PAPI_CACHE_IN_PROCESS, 1);
    CHECK(PAPI_TRANSPORT_ABI_VERSION, 4);
    CHECK(PAPI_REPLICA_TEXT_MAX, 256);
    CHECK(PAPI_HASH64_SEED == 0xcbf29ce484222325ULL, 1);
    /* PAPI_STATS_MEMBERS walks papi_stats in order */
    size_t at = offsetof(papi_stats, lookups);
#define ONE(name)                                                                                  \
    CHECK(offsetof(papi_stats, name), at);                                                         \
    at += sizeof(uint64_t);
#define ARRAY(name, n)                                                                             \
    CHECK(offsetof(papi_stats, name), at);                                                         \
    at += (n) * sizeof(uint64_t);
    PAPI_STATS_MEMBERS(ONE, ONE, ARRAY)
    CHECK(at, sizeof(papi_stats));
    if (failures)
        fprintf(stderr, "%d layout changes: an ABI break (docs/ABI.md)\n", failures);
    else
        printf("every public struct has its frozen layout\n");
    return failures ? 1 : 0;
}
