/* A program built against an installed libpapi with nothing but `pkg-config papi`: it uses the
 * public API and the plug-in SPI the way an application would. Its own transport serves ids below
 * 1000 (every column NULL but the key), so no database or network is involved; with a path
 * argument it also looks customer 1 up in that SQLite demo database. Exit 0 only if every check
 * held. */
#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

struct fake_source {
    int fetches;
};

static papi_status fake_open(const char *spec, const papi_config *cfg, const papi_host *host,
                             void *user, void **state, papi_error *err)
{
    (void)spec, (void)cfg, (void)host, (void)err;
    *state = user;
    return PAPI_OK;
}

static void fake_close(void *state)
{
    (void)state;
}

static papi_status fake_fetch(void *state, const papi_dataset *ds, const papi_key *keys, size_t n,
                              papi_row_sink *sink, int64_t deadline_ms, papi_error *err)
{
    struct fake_source *src = state;
    const char *cells[64] = {0};
    size_t lens[64] = {0};
    size_t ncols = papi_dataset_column_count(ds);
    size_t key = papi_dataset_key_index(ds);

    (void)deadline_ms;
    src->fetches++;
    if (ncols > 64 || key >= ncols)
        return papi_error_set(err, PAPI_EPROTO, "unexpected dataset shape");
    for (size_t i = 0; i < n; i++) {
        if (keys[i].len > 3)
            continue; /* ids >= 1000 do not exist */
        cells[key] = keys[i].ptr;
        lens[key] = keys[i].len;
        papi_status st = papi_sink_row(sink, cells, lens, ncols, err);
        if (st != PAPI_OK)
            return st;
    }
    return PAPI_OK;
}

static const papi_transport_backend fake_transport = {
    .abi_version = PAPI_TRANSPORT_ABI_VERSION,
    .struct_size = sizeof(papi_transport_backend),
    .name = "consumer-fake",
    .open = fake_open,
    .close = fake_close,
    .fetch = fake_fetch,
};

static void check_plugin_lookup(void)
{
    struct fake_source src = {0};
    papi_config *cfg = NULL;
    papi_client *client = NULL;
    papi_result *res = NULL;
    papi_error err;
    const int64_t ids[] = {1885, 7, 42, 7};

    CHECK(papi_config_create(&cfg) == PAPI_OK);
    CHECK(papi_config_set(cfg, "cache", "memory", &err) == PAPI_OK);
    CHECK(papi_config_set(cfg, "no-such-option", "1", &err) == PAPI_EINVAL);
    CHECK(papi_config_set_transport(cfg, &fake_transport, "fake:", &src) == PAPI_OK);
    CHECK(papi_client_create(cfg, &client, &err) == PAPI_OK);
    papi_config_destroy(cfg);
    if (client == NULL) {
        fprintf(stderr, "papi_client_create: %s\n", err.message);
        failures++;
        return;
    }

    /* 1885 does not exist, 7 is asked twice: two rows, in the order asked. */
    CHECK(papi_lookup_customers(client, ids, 4, &res, &err) == PAPI_OK);
    if (res != NULL) {
        size_t len = 0;
        const char *row;
        CHECK(papi_result_count(res) == 2);
        CHECK(papi_result_outcome(res) == PAPI_OUTCOME_MISS);
        row = papi_result_row_json(res, 0, &len);
        CHECK(row != NULL && len > 0 && row[0] == '{');
        CHECK(row != NULL && strstr(row, "\"C_CUSTOMER_SK\"") != NULL);
        CHECK(row != NULL && memchr(row, '7', len) != NULL);
        row = papi_result_row_json(res, 1, &len);
        CHECK(row != NULL && len > 0 && strstr(row, "42") != NULL);
        CHECK(papi_result_row_json(res, 2, &len) == NULL);
        row = papi_result_json(res, &len);
        CHECK(row != NULL && row[0] == '[' && strlen(row) == len);
        printf("C consumer: %s\n", row ? row : "(null)");
    }
    papi_result_free(res);
    CHECK(src.fetches == 1);

    /* Answered from the memory cache this time, the negative entry included. */
    res = NULL;
    CHECK(papi_lookup_list(client, "customer", "42,7,1885", 9, &res, &err) == PAPI_OK);
    CHECK(res != NULL && papi_result_count(res) == 2);
    CHECK(res != NULL && papi_result_outcome(res) == PAPI_OUTCOME_HIT);
    CHECK(src.fetches == 1);
    papi_result_free(res);

    res = NULL;
    CHECK(papi_lookup_list(client, "customer", "1,,2", 4, &res, &err) == PAPI_EINVAL);
    CHECK(res == NULL);
    CHECK(err.status == PAPI_EINVAL && err.message[0] != '\0');
    papi_client_destroy(client);
}

static void check_sqlite_lookup(const char *db)
{
    char source[4096];
    papi_config *cfg = NULL;
    papi_client *client = NULL;
    papi_result *res = NULL;
    papi_error err;
    const int64_t one = 1;

    snprintf(source, sizeof source, "sqlite:%s", db);
    CHECK(papi_config_create(&cfg) == PAPI_OK);
    CHECK(papi_config_set(cfg, "source", source, &err) == PAPI_OK);
    CHECK(papi_client_create(cfg, &client, &err) == PAPI_OK);
    papi_config_destroy(cfg);
    if (client == NULL) {
        fprintf(stderr, "papi_client_create(%s): %s\n", source, err.message);
        failures++;
        return;
    }
    CHECK(papi_client_ping(client, &err) == PAPI_OK);
    CHECK(papi_lookup_customers(client, &one, 1, &res, &err) == PAPI_OK);
    CHECK(res != NULL && papi_result_count(res) == 1);
    if (res != NULL && papi_result_count(res) == 1)
        printf("C consumer (sqlite): %s\n", papi_result_json(res, NULL));
    papi_result_free(res);
    papi_client_destroy(client);
}

int main(int argc, char **argv)
{
    CHECK(strcmp(papi_version(), PAPI_VERSION_STRING) == 0);
    CHECK(strcmp(papi_status_name(PAPI_EINVAL), "EINVAL") == 0);
    CHECK(papi_strerror(PAPI_OK) != NULL);
    CHECK(papi_config_option_count() > 10);
    papi_result_free(NULL);
    papi_client_destroy(NULL);
    papi_config_destroy(NULL);

    check_plugin_lookup();
    if (argc > 1)
        check_sqlite_lookup(argv[1]);

    if (failures != 0) {
        fprintf(stderr, "C consumer: %d check(s) failed\n", failures);
        return 1;
    }
    printf("C consumer: libpapi %s ok\n", papi_version());
    return 0;
}
