/* A shared library that breaks every rule check_abi.py enforces, so that its test proves the
 * checker can fail: an internal name exported, an undeclared export, a declared function missing,
 * no version node, a foreign name. */
int papi_leaky_declared(void);
int papi__leaky_internal(void);
int papi_leaky_undeclared(void);
int leaky_foreign(void);

int papi_leaky_declared(void) { return 1; }
int papi__leaky_internal(void) { return 2; }
int papi_leaky_undeclared(void) { return 3; }
int leaky_foreign(void) { return 4; }
