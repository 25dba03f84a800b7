#define _GNU_SOURCE
/* sfauth.c: which credential is chosen inside SPCS and what is said about it (the session token
 * path is injected, so no test needs /snowflake), start-up errors for tokens and token files
 * (path and errno named, never the token), and the two forms of the Authorization header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snowflake.h"

typedef struct logbook {
    char text[4096];
    int warnings, infos;
} logbook;

static void on_log(void *ctx, papi_log_level level, const char *message)
{
    logbook *b = ctx;
    b->warnings += level == PAPI_LOG_WARN;
    b->infos += level == PAPI_LOG_INFO;
    size_t at = strlen(b->text);
    snprintf(b->text + at, sizeof b->text - at, "%s\n", message);
}

typedef struct fixture {
    char dir[64];
    char session[96]; /* a stand-in for /snowflake/session/token */
    papi_config *cfg;
    logbook log;
    papi_host host;
} fixture;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/papi-sfauth-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->session, sizeof f->session, "%s/token", f->dir);
    if (papi_config_create(&f->cfg) != PAPI_OK)
        return -1;
    f->host = (papi_host){.struct_size = sizeof(papi_host), .ctx = &f->log, .log = on_log};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    papi_config_destroy(f->cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void set(fixture *f, const char *key, const char *value)
{
    assert_int_equal(papi_config_set(f->cfg, key, value, NULL), PAPI_OK);
}

/* B5: inside SPCS a configured token overrides the session token: said once, at open. */
static void test_spcs_override_is_warned(void **state)
{
    fixture *f = *state;
    write_file(f->session, "session-token\n");
    set(f, "snowflake-token", "pat-secret-1234");
    papi__sf_auth *a = NULL;
    papi_error err = {0};
    assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, f->session, &a, &err), PAPI_OK);
    assert_int_equal(papi__sf_auth_get_kind(a), PAPI__SF_AUTH_PAT);
    assert_int_equal(f->log.warnings, 1);
    assert_non_null(strstr(f->log.text, "overrides the session token"));
    assert_non_null(strstr(f->log.text, "SNOWFLAKE_TOKEN"));
    assert_non_null(strstr(f->log.text, f->session));
    assert_null(strstr(f->log.text, "pat-secret"));
    papi__sf_auth_destroy(a);
    /* no session token: nothing to say */
    f->log = (logbook){0};
    assert_int_equal(unlink(f->session), 0);
    assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, f->session, &a, &err), PAPI_OK);
    assert_int_equal(f->log.warnings, 0);
    papi__sf_auth_destroy(a);
    /* the session token file named as snowflake-token-file, overridden by the authenticator */
    write_file(f->session, "session-token\n");
    set(f, "snowflake-token-file", f->session);
    set(f, "snowflake-authenticator", "PROGRAMMATIC_ACCESS_TOKEN");
    assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, "/nonexistent/session", &a, &err),
                     PAPI_OK);
    assert_int_equal(f->log.warnings, 0); /* another path: not the session token */
    papi__sf_auth_destroy(a);
    assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, f->session, &a, &err), PAPI_OK);
    assert_int_equal(f->log.warnings, 1);
    papi__sf_auth_destroy(a);
    /* the session token alone is used, and nothing is said */
    f->log = (logbook){0};
    set(f, "snowflake-authenticator", "");
    set(f, "snowflake-token", "");
    set(f, "snowflake-token-file", "");
    assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, f->session, &a, &err), PAPI_OK);
    assert_int_equal(papi__sf_auth_get_kind(a), PAPI__SF_AUTH_OAUTH_FILE);
    assert_int_equal(f->log.warnings, 0);
    papi__sf_auth_destroy(a);
}

/* B5: a session token file that exists but cannot be read is a clear start-up error. */
static void test_unreadable_session_token(void **state)
{
    fixture *f = *state;
    assert_int_equal(mkdir(f->session, 0700), 0); /* exists; root reads any file, not a dir */
    papi__sf_auth *a = (papi__sf_auth *)1;
    papi_error err = {0};
    assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, f->session, &a, &err), PAPI_ECONFIG);
    assert_null(a);
    assert_int_equal(err.status, PAPI_ECONFIG);
    assert_non_null(strstr(err.message, f->session));
    assert_non_null(strstr(err.message, "Is a directory"));
    assert_int_equal(rmdir(f->session), 0);
}

/* A12: a value that goes into a header may hold no control character: a start-up error naming
 * the option, never the value. */
static void test_control_characters_refused(void **state)
{
    fixture *f = *state;
    papi__sf_auth *a = NULL;
    papi_error err = {0};
    set(f, "snowflake-token", "pat-secret\r\nX-Injected: 1");
    assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, f->session, &a, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "snowflake-token"));
    assert_null(strstr(err.message, "pat-secret"));
    set(f, "snowflake-token", "pat\x7f");
    assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, f->session, &a, &err), PAPI_ECONFIG);
    set(f, "snowflake-token", "");
    char path[128];
    snprintf(path, sizeof path, "%s/file-credential", f->dir);
    static const char *const bad[] = {"zqx\ren\n", "zqx\ten\n", "zqx\nb\n", "\n\n", "zqx\x1b[0m"};
    set(f, "snowflake-token-file", path);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(path, bad[i]);
        assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, f->session, &a, &err),
                         PAPI_ECONFIG);
        assert_non_null(strstr(err.message, path));
        assert_null(strstr(err.message, "zqx"));
    }
    write_file(path, "token-ok \r\n"); /* trailing whitespace is trimmed, as SPCS writes it */
    assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, f->session, &a, &err), PAPI_OK);
    papi__sf_auth_destroy(a);
    set(f, "snowflake-token-file", "");
    set(f, "snowflake-host", "127.0.0.1\r\nX-Injected: 1");
    char *url = NULL;
    assert_int_equal(papi__sf_base_url(f->cfg, &url, &err), PAPI_ECONFIG);
    assert_non_null(strstr(err.message, "snowflake-host"));
    assert_null(strstr(err.message, "Injected"));
}

/* B3: token file auth tries the Snowflake Token form once Bearer is refused, and keeps to the
 * form that worked; other kinds never do. */
static void test_authorization_forms(void **state)
{
    fixture *f = *state;
    write_file(f->session, "session-token\n");
    papi__sf_auth *a = NULL;
    papi_error err = {0};
    assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, f->session, &a, &err), PAPI_OK);
    papi_buf line;
    papi_buf_init(&line);
    uint64_t gen = 0;
    papi__sf_form form;
    assert_int_equal(papi__sf_auth_header(a, false, false, &gen, &form, &line, &err), PAPI_OK);
    assert_int_equal(form, PAPI__SF_FORM_BEARER);
    assert_string_equal(line.data, "Authorization: Bearer session-token");
    assert_true(papi__sf_auth_alternate_ok(a));
    assert_int_equal(papi__sf_auth_header(a, false, true, &gen, &form, &line, &err), PAPI_OK);
    assert_int_equal(form, PAPI__SF_FORM_SNOWFLAKE_TOKEN);
    assert_string_equal(line.data, "Authorization: Snowflake Token=\"session-token\"");
    papi__sf_auth_worked(a, PAPI__SF_FORM_SNOWFLAKE_TOKEN);
    papi__sf_auth_worked(a, PAPI__SF_FORM_SNOWFLAKE_TOKEN);
    assert_int_equal(f->log.infos, 1); /* said once */
    assert_non_null(strstr(f->log.text, "Snowflake Token"));
    assert_null(strstr(f->log.text, "session-token")); /* the path is named, not the token */
    assert_false(papi__sf_auth_alternate_ok(a));
    assert_int_equal(papi__sf_auth_header(a, false, false, &gen, &form, &line, &err), PAPI_OK);
    assert_int_equal(form, PAPI__SF_FORM_SNOWFLAKE_TOKEN); /* kept */
    papi__sf_auth_destroy(a);
    /* Bearer worked: never the other form */
    assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, f->session, &a, &err), PAPI_OK);
    papi__sf_auth_worked(a, PAPI__SF_FORM_BEARER);
    assert_false(papi__sf_auth_alternate_ok(a));
    papi__sf_auth_destroy(a);
    /* a programmatic access token is not an SPCS token */
    set(f, "snowflake-token", "pat-1");
    assert_int_equal(papi__sf_auth_create(f->cfg, &f->host, f->session, &a, &err), PAPI_OK);
    assert_false(papi__sf_auth_alternate_ok(a));
    papi__sf_auth_destroy(a);
    papi_buf_free(&line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spcs_override_is_warned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_session_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_characters_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authorization_forms, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
