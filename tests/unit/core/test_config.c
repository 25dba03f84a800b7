/* config.c and options.c: the option descriptors (the core's and every built-in backend's),
 * defaults, environment, flags winning, bad values, secrets, typed getters, attached plug-ins'
 * options, table copies, backends not built in. */
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

static int64_t get_int(const papi_config *cfg, const char *key)
{
    int64_t v = -1;
    assert_int_equal(papi_config_get_int(cfg, key, &v), PAPI_OK);
    return v;
}

/* Whether the backend a spec names is built into this libpapi (meson features). */
static bool built(const char *spec)
{
    return papi__transport_find(spec, NULL) || papi__cache_find(spec, NULL);
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
    assert_string_equal(papi_config_get(cfg, "pool-size"), "8");
    if (built("snowflake")) {
        assert_string_equal(papi_config_get(cfg, "connect-timeout-ms"), "3000");
        assert_string_equal(papi_config_get(cfg, "max-attempts"), "4");
        assert_string_equal(papi_config_get(cfg, "statement-timeout"), "10");
        assert_null(papi_config_get(cfg, "snowflake-account"));
    }
    if (built("redis://"))
        assert_string_equal(papi_config_get(cfg, "redis-timeout-ms"), "200");
    assert_null(papi_config_get(cfg, "datasets"));
    assert_null(papi_config_get(cfg, "source"));
    assert_null(papi_config_get(cfg, "no-such-option"));
    assert_int_equal(get_int(cfg, "cache-ttl"), 180);
    assert_int_equal(get_int(cfg, "cache-max-bytes"), 268435456);
    papi_config_destroy(cfg);
    papi_config_destroy(NULL);
}

/* The default source is chosen by the client (client.c), not by papi_config_get(): each
 * built-in transport's detect(), else the demo database. */
static void test_default_source(void **state)
{
    (void)state;
    papi_config *cfg = new_config();
    assert_null(papi_config_get(cfg, "source"));
    /* this machine has no SPCS token file: no transport claims the configuration */
    assert_null(papi__transport_detect(cfg));
    if (built("snowflake")) {
        /* an account makes snowflake the default, whenever it is set */
        assert_int_equal(papi_config_set(cfg, "snowflake-account", "myorg-acct", NULL), PAPI_OK);
        const papi_transport_backend *t = papi__transport_detect(cfg);
        assert_non_null(t);
        assert_string_equal(t->name, "snowflake");
        assert_null(papi_config_get(cfg, "source"));
    }
    /* an explicit source is what papi_config_get() says */
    assert_int_equal(papi_config_set(cfg, "source", "sqlite:/tmp/x.db", NULL),
                     built("sqlite:") ? PAPI_OK : PAPI_ECONFIG);
    if (built("sqlite:"))
        assert_string_equal(papi_config_get(cfg, "source"), "sqlite:/tmp/x.db");
    papi_config_destroy(cfg);
}

static void test_table(void **state)
{
    (void)state;
    size_t n = papi_config_option_count();
    assert_true(n >= 14); /* the core's and the memory cache's */
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
        /* the descriptor: a help line, a type, a default its own parser accepts */
        papi_option o;
        assert_int_equal(papi_config_option_info(i, &o), PAPI_OK);
        assert_string_equal(o.key, key);
        assert_ptr_equal(o.env, env);
        assert_non_null(o.help);
        assert_true(strlen(o.help) > 10 && !strchr(o.help, '\n'));
        assert_true(o.type == PAPI_OPTION_TEXT || o.type == PAPI_OPTION_INT ||
                    o.type == PAPI_OPTION_BOOL);
        assert_int_equal(secret, (o.flags & PAPI_OPTION_SECRET) ? 1 : 0);
        if (o.def)
            assert_int_equal(papi__option_parse(&o, o.def, NULL, NULL), PAPI_OK);
        if (o.type == PAPI_OPTION_INT)
            assert_true(o.min <= o.max);
        for (size_t j = 0; j < i; j++) {
            const char *other_env = NULL;
            assert_string_not_equal(papi_config_option_key(j, &other_env, NULL), key);
            assert_string_not_equal(other_env, env);
        }
    }
    assert_int_equal(secrets, built("snowflake") ? 2 : 0);
    assert_null(papi_config_option_key(n, NULL, NULL));
    papi_option o;
    assert_int_equal(papi_config_option_info(n, &o), PAPI_EINVAL);
    assert_int_equal(papi_config_option_info(0, NULL), PAPI_EINVAL);
    /* spot checks of the agreed names */
    const char *env = NULL;
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = papi_config_option_key(i, &env, NULL);
        if (strcmp(key, "cache-ttl") == 0 && ++seen)
            assert_string_equal(env, "PAPI_CACHE_TTL");
        if (strcmp(key, "snowflake-private-key-file-pwd") == 0 && ++seen)
            assert_string_equal(env, "SNOWFLAKE_PRIVATE_KEY_FILE_PWD");
        if (strcmp(key, "snowflake-authenticator") == 0 && ++seen)
            assert_string_equal(env, "SNOWFLAKE_AUTHENTICATOR");
    }
    assert_int_equal(seen, built("snowflake") ? 3 : 1);
}

/* Options of a backend left out of the build (meson features) are refused by name; their
 * environment variables are ignored (SPCS sets SNOWFLAKE_* everywhere). */
static void test_backend_not_built(void **state)
{
    (void)state;
    clear_env();
    papi_config *cfg = new_config();
    papi_error err;
    static const struct {
        const char *key, *value, *spec, *name;
    } cases[] = {
        {"snowflake-account", "myorg-acct", "snowflake", "snowflake"},
        {"statement-timeout", "5", "snowflake", "snowflake"},
        {"redis-timeout-ms", "100", "redis://", "redis"},
        {"source", "snowflake", "snowflake", "snowflake"},
        {"source", "sqlite:/tmp/x.db", "sqlite:", "sqlite"},
        {"cache", "memory,redis://h:6379/0", "redis://", "redis"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        papi_status st = papi_config_set(cfg, cases[i].key, cases[i].value, &err);
        if (built(cases[i].spec)) {
            assert_int_equal(st, PAPI_OK);
            continue;
        }
        assert_int_equal(st, PAPI_ECONFIG);
        char want[128];
        snprintf(want, sizeof want, "the %s backend is not built into this libpapi", cases[i].name);
        if (!strstr(err.message, want))
            fail_msg("%s: %s", cases[i].key, err.message);
        assert_non_null(strstr(err.message, cases[i].key));
    }
    setenv("SNOWFLAKE_ACCOUNT", "myorg-acct", 1);
    setenv("PAPI_REDIS_TIMEOUT_MS", "100", 1);
    assert_int_equal(papi_config_load_env(cfg, &err), PAPI_OK);
    papi_config_destroy(cfg);
    clear_env();
    unsetenv("SNOWFLAKE_ACCOUNT");
    unsetenv("PAPI_REDIS_TIMEOUT_MS");
}

static void test_typed_getters(void **state)
{
    (void)state;
    papi_config *cfg = new_config();
    int64_t v = 42;
    assert_int_equal(papi_config_get_int(cfg, "max-ids", &v), PAPI_OK);
    assert_int_equal(v, 100);
    assert_int_equal(papi_config_set(cfg, "max-ids", "007", NULL), PAPI_OK);
    assert_int_equal(get_int(cfg, "max-ids"), 7);
    /* unset without a default: ECONFIG, out untouched */
    v = 42;
    assert_int_equal(papi_config_get_int(cfg, "source-concurrency", &v), PAPI_ECONFIG);
    assert_int_equal(v, 42);
    /* wrong type, unknown key, NULL */
    assert_int_equal(papi_config_get_int(cfg, "cache", &v), PAPI_EINVAL);
    assert_int_equal(papi_config_get_int(cfg, "no-such-option", &v), PAPI_EINVAL);
    assert_int_equal(papi_config_get_int(NULL, "max-ids", &v), PAPI_EINVAL);
    assert_int_equal(papi_config_get_int(cfg, "max-ids", NULL), PAPI_EINVAL);
    int b = 7;
    assert_int_equal(papi_config_get_bool(cfg, "max-ids", &b), PAPI_EINVAL);
    assert_int_equal(b, 7);
    papi_config_destroy(cfg);
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
    assert_int_equal(get_int(cfg, "cache-ttl"), 5);
    if (built("snowflake")) {
        assert_string_equal(papi_config_get(cfg, "snowflake-user"), "svc_user");
        assert_null(papi_config_get(cfg, "snowflake-port"));
    }
    assert_string_equal(papi_config_get(cfg, "cache"), "memory,none");
    /* a flag set after the environment wins */
    assert_int_equal(papi_config_set(cfg, "cache-ttl", "7", &err), PAPI_OK);
    assert_int_equal(get_int(cfg, "cache-ttl"), 7);
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
    expect_bad("cache", "");
    expect_bad("cache", "memory,,none");
    expect_bad("cache", "bogus");
    expect_bad("cache", "memory,none,memory,none,memory");
    expect_bad("source", "ftp://example");
    expect_bad("source", "sqlite:");
    expect_bad("pool-size", "0");
    if (built("snowflake")) {
        expect_bad("snowflake-port", "70000");
        expect_bad("snowflake-protocol", "gopher");
        expect_bad("snowflake-authenticator", "PASSWORD");
        expect_bad("snowflake-jwt-lifetime", "3601");
        expect_bad("max-cell-bytes", "63");
    }
    if (built("redis://")) {
        expect_bad("redis-timeout-ms", "0");
        expect_bad("redis-max-row-bytes", "1023");
    }
    expect_bad("cache-max-bytes", "1023");
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
    if (built("snowflake")) {
        assert_int_equal(papi_config_set(cfg, "snowflake-authenticator", "oauth", &err), PAPI_OK);
        assert_int_equal(papi_config_set(cfg, "snowflake-protocol", "http", &err), PAPI_OK);
    }
    /* the edges of the dispatcher's ranges are accepted; max-batch may exceed max-ids */
    assert_int_equal(papi_config_set(cfg, "source-concurrency", "0", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "source-concurrency", "4096", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "max-batch", "1", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "max-batch", "16384", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "batch-linger-us", "100000", &err), PAPI_OK);
    assert_int_equal(papi_config_set(cfg, "cache", "memory,redis://:pw@127.0.0.1:6379/0", &err),
                     built("redis://") ? PAPI_OK : PAPI_ECONFIG);
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
    assert_int_equal(get_int(cfg, "source-concurrency"), 3);
    assert_int_equal(get_int(cfg, "max-batch"), 512);
    assert_int_equal(get_int(cfg, "batch-linger-us"), 250);
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
    /* a Redis password in a bad cache list is not echoed, Redis built in or not */
    assert_int_equal(papi_config_set(cfg, "cache", "redis://:hunter2@h:1/0,bogus", &err),
                     PAPI_ECONFIG);
    assert_null(strstr(err.message, "hunter2"));
    if (!built("snowflake")) {
        papi_config_destroy(cfg);
        return;
    }
    assert_int_equal(papi_config_set(cfg, "snowflake-token", big, &err), PAPI_ECONFIG);
    assert_null(strstr(err.message, "TOPSECRET"));
    assert_non_null(strstr(err.message, "snowflake-token"));
    setenv("SNOWFLAKE_PRIVATE_KEY_FILE_PWD", big, 1);
    assert_int_equal(papi_config_load_env(cfg, &err), PAPI_ECONFIG);
    assert_null(strstr(err.message, "TOPSECRET"));
    assert_null(strstr(err.message, "SSSS"));
    unsetenv("SNOWFLAKE_PRIVATE_KEY_FILE_PWD");
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

static papi_status check_even(const papi_option *o, const char *v, papi_error *err)
{
    return (v[strlen(v) - 1] - '0') % 2 ? papi_error_set(err, PAPI_ECONFIG, "%s: odd", o->key)
                                        : PAPI_OK;
}

static const papi_option t_options[] = {
    {"t-depth", "PAPI_TEST_T_DEPTH", PAPI_OPTION_INT, "4", 2, 10, 0, "how deep", check_even},
    {"t-verbose", "PAPI_TEST_T_VERBOSE", PAPI_OPTION_BOOL, "off", 0, 0, 0, "chatty", NULL},
    {"t-secret", NULL, PAPI_OPTION_TEXT, NULL, 0, 0, PAPI_OPTION_SECRET, "a secret", NULL},
};

static void test_attach_checks_abi(void **state)
{
    (void)state;
    papi_config *cfg = new_config();
    papi_transport_backend t = {.abi_version = PAPI_TRANSPORT_ABI_VERSION,
                                .struct_size = sizeof t,
                                .name = "t",
                                .open = t_open,
                                .fetch = t_fetch,
                                .options = t_options,
                                .noptions = 3};
    /* its options are unknown until it is attached */
    assert_int_equal(papi_config_set(cfg, "t-depth", "6", NULL), PAPI_EINVAL);
    assert_int_equal(papi_config_set_transport(cfg, &t, "spec", NULL), PAPI_OK);
    assert_non_null(papi__config_transport(cfg));
    assert_string_equal(papi__config_transport(cfg)->spec, "spec");
    /* the table was copied: changing the plug-in's afterwards changes nothing */
    t.name = "changed";
    assert_string_equal(papi__config_transport(cfg)->table.name, "t");
    t.name = "t";
    papi_transport_backend newer = t;
    newer.abi_version = PAPI_TRANSPORT_ABI_VERSION + 1;
    assert_int_equal(papi_config_set_transport(cfg, &newer, "", NULL), PAPI_EINVAL);
    papi_transport_backend small = t;
    small.struct_size = 8;
    assert_int_equal(papi_config_set_transport(cfg, &small, "", NULL), PAPI_EINVAL);
    papi_transport_backend flagged = t;
    flagged.flags = 0x4;
    assert_int_equal(papi_config_set_transport(cfg, &flagged, "", NULL), PAPI_EINVAL);
    papi_option bad_opt = {NULL, NULL, PAPI_OPTION_INT, NULL, 0, 0, 0, "no key", NULL};
    papi_transport_backend bad = t;
    bad.options = &bad_opt;
    bad.noptions = 1;
    assert_int_equal(papi_config_set_transport(cfg, &bad, "", NULL), PAPI_EINVAL);
    assert_int_equal(papi_config_set_transport(cfg, NULL, "", NULL), PAPI_EINVAL);

    /* the attached plug-in's options: checked by their descriptors, typed, from the env */
    papi_error err;
    assert_int_equal(get_int(cfg, "t-depth"), 4);
    assert_int_equal(papi_config_set(cfg, "t-depth", "7", &err), PAPI_ECONFIG); /* check */
    assert_non_null(strstr(err.message, "t-depth"));
    assert_int_equal(papi_config_set(cfg, "t-depth", "12", &err), PAPI_ECONFIG); /* range */
    assert_int_equal(papi_config_set(cfg, "t-depth", "8", &err), PAPI_OK);
    assert_int_equal(get_int(cfg, "t-depth"), 8);
    int b = -1;
    assert_int_equal(papi_config_get_bool(cfg, "t-verbose", &b), PAPI_OK);
    assert_int_equal(b, 0);
    setenv("PAPI_TEST_T_VERBOSE", "Yes", 1);
    assert_int_equal(papi_config_load_env(cfg, &err), PAPI_OK);
    unsetenv("PAPI_TEST_T_VERBOSE");
    assert_int_equal(papi_config_get_bool(cfg, "t-verbose", &b), PAPI_OK);
    assert_int_equal(b, 1);
    assert_int_equal(papi_config_set(cfg, "t-verbose", "maybe", &err), PAPI_ECONFIG);
    assert_int_equal(papi_config_set(cfg, "t-secret", "s3cr3t", &err), PAPI_OK);
    assert_string_equal(papi_config_get(cfg, "t-secret"), "s3cr3t");

    papi_cache_backend c = {.abi_version = PAPI_CACHE_ABI_VERSION,
                            .struct_size = sizeof c,
                            .name = "c",
                            .flags = PAPI_CACHE_IN_PROCESS,
                            .open = t_open,
                            .get = c_get,
                            .put = c_put};
    papi_cache_backend cnewer = c;
    cnewer.abi_version = 99;
    assert_int_equal(papi_config_add_cache(cfg, &cnewer, "", NULL), PAPI_EINVAL);
    papi_cache_backend csmall = c;
    csmall.struct_size = offsetof(papi_cache_backend, put);
    assert_int_equal(papi_config_add_cache(cfg, &csmall, "", NULL), PAPI_EINVAL);
    papi_cache_backend cflagged = c;
    cflagged.flags = PAPI_CACHE_IN_PROCESS | 0x2;
    assert_int_equal(papi_config_add_cache(cfg, &cflagged, "", NULL), PAPI_EINVAL);
    /* a version-1 table (without the options members) attaches; they read as none */
    papi_cache_backend v1 = c;
    v1.abi_version = 1;
    v1.struct_size = offsetof(papi_cache_backend, options);
    v1.options = t_options; /* beyond its struct_size: never read */
    v1.noptions = 3;
    assert_int_equal(papi_config_add_cache(cfg, &v1, "v1", NULL), PAPI_OK);
    const papi__attached_cache *att;
    assert_int_equal(papi__config_caches(cfg, &att), 1);
    assert_null(att[0].table.options);
    assert_int_equal(att[0].table.noptions, 0);
    assert_int_equal(att[0].table.struct_size, sizeof(papi_cache_backend));
    for (int i = 1; i < PAPI__MAX_CACHE_TIERS; i++)
        assert_int_equal(papi_config_add_cache(cfg, &c, "c", NULL), PAPI_OK);
    assert_int_equal(papi_config_add_cache(cfg, &c, "c", NULL), PAPI_EINVAL);
    assert_int_equal(papi__config_caches(cfg, &att), PAPI__MAX_CACHE_TIERS);

    /* a copy keeps values and attachments and owns its strings */
    assert_int_equal(papi_config_set(cfg, "cache-ttl", "9", NULL), PAPI_OK);
    papi_config *copy = papi__config_copy(cfg);
    papi_config_destroy(cfg);
    assert_non_null(copy);
    assert_int_equal(get_int(copy, "cache-ttl"), 9);
    assert_int_equal(get_int(copy, "t-depth"), 8);
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
        cmocka_unit_test(test_backend_not_built),
        cmocka_unit_test(test_typed_getters),
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
