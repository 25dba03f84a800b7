/* config.c: the option table, defaults, environment, flags winning, bad values, secrets. */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static papi_config *new_config(void)
{
    papi_config *cfg = NULL;
    assert_int_equal(papi_config_create(&cfg), PAPI_OK);
    assert_non_null(cfg);
    return cfg;
}

static void clear_env(void)
{
    for (size_t i = 0; i < papi_config_option_count(); i++) {
        const char *env = NULL;
        papi_config_option_key(i, &env, NULL);
        if (env)
            unsetenv(env);
    }
}

static void test_defaults(void **state)
{
    (void)state;
    papi_config *cfg = new_config();
    assert_string_equal(papi_config_get(cfg, "cache"), "memory");
    assert_string_equal(papi_config_get(cfg, "cache-ttl"), "180");
    assert_string_equal(papi_config_get(cfg, "negative-ttl"), "30");
    assert_string_equal(papi_config_get(cfg, "cache-max-entries"), "100000");
    assert_string_equal(papi_config_get(cfg, "cache-max-bytes"), "268435456");
    assert_string_equal(papi_config_get(cfg, "stale-max"), "3600");
    assert_string_equal(papi_config_get(cfg, "max-ids"), "100");
    assert_string_equal(papi_config_get(cfg, "timeout-ms"), "10000");
    assert_string_equal(papi_config_get(cfg, "connect-timeout-ms"), "3000");
    assert_string_equal(papi_config_get(cfg, "pool-size"), "8");
    assert_string_equal(papi_config_get(cfg, "max-attempts"), "4");
    assert_string_equal(papi_config_get(cfg, "statement-timeout"), "10");
    assert_string_equal(papi_config_get(cfg, "redis-timeout-ms"), "200");
    assert_null(papi_config_get(cfg, "datasets"));
    assert_null(papi_config_get(cfg, "snowflake-account"));
    assert_null(papi_config_get(cfg, "no-such-option"));
    assert_int_equal(papi__config_int(cfg, "cache-ttl"), 180);
    assert_int_equal(papi__config_int(cfg, "cache-max-bytes"), 268435456);
    papi_config_destroy(cfg);
    papi_config_destroy(NULL);
}

static void test_default_source(void **state)
{
    (void)state;
    papi_config *cfg = new_config();
    const char *src = papi_config_get(cfg, "source");
    assert_non_null(src);
    /* this machine has no SPCS token file: the demo database */
    char want[4096];
    snprintf(want, sizeof want, "sqlite:%s", papi__demo_db_path());
    assert_string_equal(src, want);
    /* an account switches the default to snowflake, whenever it is set */
    assert_int_equal(papi_config_set(cfg, "snowflake-account", "myorg-acct", NULL), PAPI_OK);
    assert_string_equal(papi_config_get(cfg, "source"), "snowflake");
    /* an explicit source wins */
    assert_int_equal(papi_config_set(cfg, "source", "sqlite:/tmp/x.db", NULL), PAPI_OK);
    assert_string_equal(papi_config_get(cfg, "source"), "sqlite:/tmp/x.db");
    papi_config_destroy(cfg);
}

static void test_table(void **state)
{
    (void)state;
    size_t n = papi_config_option_count();
    assert_true(n >= 29);
    int secrets = 0;
    for (size_t i = 0; i < n; i++) {
        const char *env = NULL;
        int secret = -1;
        const char *key = papi_config_option_key(i, &env, &secret);
        assert_non_null(key);
        assert_non_null(env);
        assert_true(secret == 0 || secret == 1);
        secrets += secret;
        if (secret)
            assert_true(strcmp(key, "snowflake-token") == 0 ||
                        strcmp(key, "snowflake-private-key-file-pwd") == 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(papi_config_option_key(j, NULL, NULL), key);
    }
    assert_int_equal(secrets, 2);
    assert_null(papi_config_option_key(n, NULL, NULL));
    /* spot checks of the agreed names */
    const char *env = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *key = papi_config_option_key(i, &env, NULL);
        if (strcmp(key, "cache-ttl") == 0)
            assert_string_equal(env, "PAPI_CACHE_TTL");
        if (strcmp(key, "snowflake-private-key-file-pwd") == 0)
            assert_string_equal(env, "SNOWFLAKE_PRIVATE_KEY_FILE_PWD");
        if (strcmp(key, "snowflake-authenticator") == 0)
            assert_string_equal(env, "SNOWFLAKE_AUTHENTICATOR");
    }
}

static void test_env_then_flags(void **state)
{
    (void)state;
    clear_env();
    setenv("PAPI_CACHE_TTL", "5", 1);
    setenv("SNOWFLAKE_USER", "svc_user", 1);
    setenv("PAPI_CACHE", "memory,none", 1);
    setenv("SNOWFLAKE_PORT", "", 1); /* empty: as if unset */
    papi_config *cfg = new_config();
    papi_error err;
    assert_int_equal(papi_config_load_env(cfg, &err), PAPI_OK);
    assert_string_equal(papi_config_get(cfg, "cache-ttl"), "5");
    assert_int_equal(papi__config_int(cfg, "cache-ttl"), 5);
    assert_string_equal(papi_config_get(cfg, "snowflake-user"), "svc_user");
    assert_string_equal(papi_config_get(cfg, "cache"), "memory,none");
    assert_null(papi_config_get(cfg, "snowflake-port"));
    /* a flag set after the environment wins */
    assert_int_equal(papi_config_set(cfg, "cache-ttl", "7", &err), PAPI_OK);
    assert_int_equal(papi__config_int(cfg, "cache-ttl"), 7);
    papi_config_destroy(cfg);
    clear_env();
}

static void expect_bad(const char *key, const char *value)
{
    papi_config *cfg = new_config();
    papi_error err;
    const char *before = papi_config_get(cfg, key);
    char saved[256] = "";
    if (before)
        snprintf(saved, sizeof saved, "%s", before);
    assert_int_equal(papi_config_set(cfg, key, value, &err), PAPI_ECONFIG);
    assert_int_equal(err.status, PAPI_ECONFIG);
    /* the message names the key; the old value stays */
    assert_non_null(strstr(err.message, key));
    const char *after = papi_config_get(cfg, key);
    if (before)
        assert_string_equal(after, saved);
    papi_config_destroy(cfg);
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_bad("cache-ttl", "abc");
    expect_bad("cache-ttl", "-1");
    expect_bad("cache-ttl", "1e3");
    expect_bad("cache-ttl", " 5");
    expect_bad("cache-ttl", "");
    expect_bad("cache-ttl", "99999999999999999999999");
    expect_bad("max-ids", "0");
    expect_bad("max-ids", "10001");
    expect_bad("snowflake-port", "70000");
    expect_bad("cache", "");
    expect_bad("cache", "memory,,none");
    expect_bad("cache", "bogus");
    expect_bad("cache", "memory,none,memory,none,memory");
    expect_bad("source", "ftp://example");
    expect_bad("source", "sqlite:");
    expect_bad("snowflake-protocol", "gopher");
    expect_bad("snowflake-authenticator", "PASSWORD");
    /* the miss dispatcher's options (issue 9) */
    expect_bad("source-concurrency", "-1");
    expect_bad("source-concurrency", "4097");
    expect_bad("source-concurrency", "eight");
    expect_bad("source-concurrency", "");
    expect_bad("max-batch", "0");
    expect_bad("max-batch", "16385");
    expect_bad("max-batch", "256k");
    expect_bad("batch-linger-us", "100001");
    expect_bad("batch-linger-us", "-5");

    papi_config *cfg = new_config();
    papi_error err;
    assert_int_equal(papi_config_set(cfg, "no-such-key", "1", &err), PAPI_EINVAL);
    assert_int_equal(papi_config_set(cfg, "cache", NULL, &err), PAPI_EINVAL);
    assert_int_equal(papi_config_set(NULL, "cache", "none", &err), PAPI_EINVAL);
    assert_int_equal(papi_config_set(cfg, "snowflake-authenticator", "oauth", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "snowflake-protocol", "http", &err), PAPI_OK);
    /* the edges of the dispatcher's ranges are accepted; max-batch may exceed max-ids */
    assert_int_equal(papi_config_set(cfg, "source-concurrency", "0", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "source-concurrency", "4096", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "max-batch", "1", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "max-batch", "16384", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "batch-linger-us", "100000", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "cache", "memory,redis://:pw@127.0.0.1:6379/0", &err),
                     PAPI_OK);
    papi_config_destroy(cfg);

    assert_int_equal(papi_config_create(NULL), PAPI_EINVAL);
}

static void test_bad_env_names_variable(void **state)
{
    (void)state;
    clear_env();
    setenv("PAPI_MAX_IDS", "lots", 1);
    papi_config *cfg = new_config();
    papi_error err;
    assert_int_equal(papi_config_load_env(cfg, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "PAPI_MAX_IDS"));
    assert_non_null(strstr(err.message, "max-ids"));
    papi_config_destroy(cfg);
    clear_env();
}

/* Unset source-concurrency means the transport's default; the environment names the option. */
static void test_dispatcher_options(void **state)
{
    (void)state;
    clear_env();
    papi_config *cfg = new_config();
    assert_null(papi_config_get(cfg, "source-concurrency"));
    assert_string_equal(papi_config_get(cfg, "max-batch"), "256");
    assert_string_equal(papi_config_get(cfg, "batch-linger-us"), "0");
    papi_error err;
    setenv("PAPI_SOURCE_CONCURRENCY", "3", 1);
    setenv("PAPI_MAX_BATCH", "512", 1);
    setenv("PAPI_BATCH_LINGER_US", "250", 1);
    assert_int_equal(papi_config_load_env(cfg, &err), PAPI_OK);
    assert_int_equal(papi__config_int(cfg, "source-concurrency"), 3);
    assert_int_equal(papi__config_int(cfg, "max-batch"), 512);
    assert_int_equal(papi__config_int(cfg, "batch-linger-us"), 250);
    setenv("PAPI_MAX_BATCH", "20000", 1);
    assert_int_equal(papi_config_load_env(cfg, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "PAPI_MAX_BATCH"));
    assert_non_null(strstr(err.message, "max-batch"));
    assert_non_null(strstr(err.message, "1..16384"));
    papi_config_destroy(cfg);
    clear_env();
}

static void test_secrets_never_echoed(void **state)
{
    (void)state;
    clear_env();
    /* a secret too long to accept: the error must not carry any of it */
    char big[5000];
    memset(big, 'S', sizeof big - 1);
    memcpy(big, "TOPSECRET", 9);
    big[sizeof big - 1] = '\0';
    papi_config *cfg = new_config();
    papi_error err;
    assert_int_equal(papi_config_set(cfg, "snowflake-token", big, &err), PAPI_ECONFIG);
    assert_null(strstr(err.message, "TOPSECRET"));
    assert_non_null(strstr(err.message, "snowflake-token"));
    setenv("SNOWFLAKE_PRIVATE_KEY_FILE_PWD", big, 1);
    assert_int_equal(papi_config_load_env(cfg, &err), PAPI_ECONFIG);
    assert_null(strstr(err.message, "TOPSECRET"));
    assert_null(strstr(err.message, "SSSS"));
    unsetenv("SNOWFLAKE_PRIVATE_KEY_FILE_PWD");
    /* a Redis password in a bad cache list is not echoed either */
    assert_int_equal(papi_config_set(cfg, "cache", "redis://:hunter2@h:1/0,bogus", &err),
                     PAPI_ECONFIG);
    assert_null(strstr(err.message, "hunter2"));
    /* secrets are readable by the program that set them */
    assert_int_equal(papi_config_set(cfg, "snowflake-token", "tok", &err), PAPI_OK);
    assert_string_equal(papi_config_get(cfg, "snowflake-token"), "tok");
    papi_config_destroy(cfg);
}

static papi_status t_open(const char *spec, const papi_config *cfg, const papi_host *host,
                          void *user, void **state, papi_error *err)
{
    (void)spec, (void)cfg, (void)host, (void)user, (void)err;
    *state = NULL;
    return PAPI_OK;
}
static papi_status t_fetch(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                           papi_row_sink *sink, int64_t deadline_ms, papi_error *err)
{
    (void)state, (void)ds, (void)keys, (void)n, (void)sink, (void)deadline_ms, (void)err;
    return PAPI_OK;
}
static papi_status c_get(void *state, const papi_key *keys, size_t n, papi_cache_entry *out,
                         papi_error *err)
{
    (void)state, (void)keys, (void)n, (void)out, (void)err;
    return PAPI_OK;
}
static papi_status c_put(void *state, const papi_key *keys, papi_blob *const *rows, size_t n,
                         const papi_cache_ttl *ttl, papi_error *err)
{
    (void)state, (void)keys, (void)rows, (void)n, (void)ttl, (void)err;
    return PAPI_OK;
}

static void test_attach_checks_abi(void **state)
{
    (void)state;
    papi_config *cfg = new_config();
    papi_transport_backend t = {
        PAPI_TRANSPORT_ABI_VERSION, sizeof t, "t", 0, t_open, NULL, t_fetch, NULL, 0};
    assert_int_equal(papi_config_set_transport(cfg, &t, "spec", NULL), PAPI_OK);
    assert_non_null(papi__config_transport(cfg));
    assert_string_equal(papi__config_transport(cfg)->spec, "spec");
    papi_transport_backend newer = t;
    newer.abi_version = PAPI_TRANSPORT_ABI_VERSION + 1;
    assert_int_equal(papi_config_set_transport(cfg, &newer, "", NULL), PAPI_EINVAL);
    papi_transport_backend small = t;
    small.struct_size = 8;
    assert_int_equal(papi_config_set_transport(cfg, &small, "", NULL), PAPI_EINVAL);
    assert_int_equal(papi_config_set_transport(cfg, NULL, "", NULL), PAPI_EINVAL);

    papi_cache_backend c = {PAPI_CACHE_ABI_VERSION, sizeof c, "c", 0, t_open, NULL, c_get, c_put};
    papi_cache_backend cnewer = c;
    cnewer.abi_version = 99;
    assert_int_equal(papi_config_add_cache(cfg, &cnewer, "", NULL), PAPI_EINVAL);
    papi_cache_backend csmall = c;
    csmall.struct_size = sizeof csmall - sizeof(void *);
    assert_int_equal(papi_config_add_cache(cfg, &csmall, "", NULL), PAPI_EINVAL);
    for (int i = 0; i < PAPI__MAX_CACHE_TIERS; i++)
        assert_int_equal(papi_config_add_cache(cfg, &c, "c", NULL), PAPI_OK);
    assert_int_equal(papi_config_add_cache(cfg, &c, "c", NULL), PAPI_EINVAL);
    const papi__attached *att;
    assert_int_equal(papi__config_caches(cfg, &att), PAPI__MAX_CACHE_TIERS);

    /* a copy keeps values and attachments and owns its strings */
    assert_int_equal(papi_config_set(cfg, "cache-ttl", "9", NULL), PAPI_OK);
    papi_config *copy = papi__config_copy(cfg);
    papi_config_destroy(cfg);
    assert_non_null(copy);
    assert_int_equal(papi__config_int(copy, "cache-ttl"), 9);
    assert_string_equal(papi__config_transport(copy)->spec, "spec");
    assert_int_equal(papi__config_caches(copy, &att), PAPI__MAX_CACHE_TIERS);
    assert_string_equal(att[3].spec, "c");
    papi_config_destroy(copy);
}

static void dummy_log(void *user, papi_log_level level, const char *message)
{
    (void)user, (void)level, (void)message;
}

static void test_log_setting(void **state)
{
    (void)state;
    papi_config *cfg = new_config();
    int user;
    assert_int_equal(papi_config_set_log(cfg, dummy_log, &user, PAPI_LOG_WARN), PAPI_OK);
    papi_log_fn fn;
    void *u;
    papi_log_level lvl;
    papi__config_log(cfg, &fn, &u, &lvl);
    assert_ptr_equal(fn, dummy_log);
    assert_ptr_equal(u, &user);
    assert_int_equal(lvl, PAPI_LOG_WARN);
    assert_int_equal(papi_config_set_log(cfg, dummy_log, &user, (papi_log_level)9), PAPI_EINVAL);
    assert_int_equal(papi_config_set_log(NULL, dummy_log, &user, PAPI_LOG_WARN), PAPI_EINVAL);
    papi_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_default_source),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_env_then_flags),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_env_names_variable),
        cmocka_unit_test(test_dispatcher_options),
        cmocka_unit_test(test_secrets_never_echoed),
        cmocka_unit_test(test_attach_checks_abi),
        cmocka_unit_test(test_log_setting),
    };
    clear_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
