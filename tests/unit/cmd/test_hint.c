/* The `papi demo-db` hint after a lookup's client could not be created (cmd/papi/hint.c): for a
 * missing sqlite:PATH source, and for the default source when the library chose its demo
 * database (the "source" option is then unset: papi_config_get() returns NULL). */
/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

static char dir[64], missing[96], present[96], msg_missing[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/papi-hint.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(missing, sizeof missing, "%s/demo.db", dir);
    snprintf(present, sizeof present, "%s/there.db", dir);
    FILE *f = fopen(present, "w");
    if (!f)
        return -1;
    fclose(f);
    /* what the sqlite backend says for a file that is not there */
    snprintf(msg_missing, sizeof msg_missing,
             "sqlite: cannot open database '%s': No such file or directory", missing);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(present);
    rmdir(dir);
    return 0;
}

static void test_default_source_missing_demo_db(void **state)
{
    (void)state;
    /* the regression: an unset source is NULL now, and the hint must still name the default */
    assert_string_equal(papi_cmd_demo_hint(NULL, missing, PAPI_ECONFIG, msg_missing), missing);
    assert_string_equal(papi_cmd_demo_hint("", missing, PAPI_ECONFIG, msg_missing), missing);
}

static void test_default_source_chosen_otherwise(void **state)
{
    (void)state;
    /* a built-in's detect() chose the source (snowflake): its failure is not about the file */
    assert_null(papi_cmd_demo_hint(NULL, missing, PAPI_ECONFIG,
                                   "cannot open snowflake-private-key-file /k.p8: No such file"));
    assert_null(papi_cmd_demo_hint(NULL, NULL, PAPI_ECONFIG, msg_missing));
    assert_null(papi_cmd_demo_hint(NULL, missing, PAPI_ECONFIG, NULL));
}

static void test_default_demo_db_present(void **state)
{
    (void)state;
    char msg[256];
    snprintf(msg, sizeof msg, "sqlite: cannot read database '%s': file is not a database", present);
    assert_null(papi_cmd_demo_hint(NULL, present, PAPI_ECONFIG, msg));
}

static void test_explicit_source(void **state)
{
    (void)state;
    char source[128];
    snprintf(source, sizeof source, "sqlite:%s", missing);
    assert_string_equal(papi_cmd_demo_hint(source, "/elsewhere.db", PAPI_ECONFIG, msg_missing),
                        missing);
    snprintf(source, sizeof source, "sqlite:%s", present);
    assert_null(papi_cmd_demo_hint(source, missing, PAPI_ECONFIG, msg_missing));
    assert_null(papi_cmd_demo_hint("snowflake", missing, PAPI_ECONFIG, msg_missing));
    assert_null(papi_cmd_demo_hint("sqlite:", missing, PAPI_ECONFIG, msg_missing));
}

static void test_only_configuration_errors(void **state)
{
    (void)state;
    assert_null(papi_cmd_demo_hint(NULL, missing, PAPI_ESOURCE, msg_missing));
    assert_null(papi_cmd_demo_hint(NULL, missing, PAPI_ENOMEM, msg_missing));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_source_missing_demo_db),
        cmocka_unit_test(test_default_source_chosen_otherwise),
        cmocka_unit_test(test_default_demo_db_present),
        cmocka_unit_test(test_explicit_source),
        cmocka_unit_test(test_only_configuration_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
