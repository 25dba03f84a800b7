/* Internals of the snowflake transport: key-pair JWT (jwt.c), the libcurl handle pool (http.c),
 * the SQL API wire format (sfapi.c), credentials and the base URL (sfauth.c). Shared by
 * transport_snowflake.c, cmd/papi/snowflake_cmds.c and the unit tests; nothing here is exported
 * from the shared library. */
#ifndef PAPI_SNOWFLAKE_H
#define PAPI_SNOWFLAKE_H

#include "internal.h"

#include <jansson.h>

/* ------------------------------------------------------------- jwt.c */
/* base64url without padding (JWT parts) and standard padded base64 (key fingerprint). */
void papi__b64url(papi__buf *out, const void *data, size_t len);
void papi__b64std(papi__buf *out, const void *data, size_t len);

/* The account part of iss/sub (snowflake-sql-api.md 3.3): scheme, .snowflakecomputing.* suffix,
 * region/cloud/privatelink dropped, uppercased. PAPI_ECONFIG for an empty or SQL-form
 * ("myorg.myaccount") identifier. */
papi_status papi__sf_jwt_account(const char *account, char *out, size_t cap, papi_error *err);
/* The user part: uppercased unconditionally. */
papi_status papi__sf_jwt_user(const char *user, char *out, size_t cap, papi_error *err);

/* A private key plus the names it signs for; immutable after creation, so shareable. */
typedef struct papi__jwt_signer papi__jwt_signer;

/* Loads a PEM key (PKCS#8 plain or encrypted, PKCS#1); passphrase may be NULL. The passphrase is
 * only used during the call. account/user may be NULL when only the fingerprint is wanted. */
papi_status papi__jwt_signer_create(const char *key_path, const char *passphrase,
                                    const char *account, const char *user,
                                    papi__jwt_signer **out, papi_error *err);
void papi__jwt_signer_destroy(papi__jwt_signer *s);
/* "SHA256:<44 chars of standard base64>". */
const char *papi__jwt_signer_fingerprint(const papi__jwt_signer *s);
/* "ACCOUNT.USER" or "" when created without names. */
const char *papi__jwt_signer_subject(const papi__jwt_signer *s);
/* Appends the compact claims JSON (iss, sub, iat, exp in that order) to out. */
papi_status papi__jwt_claims(const char *subject, const char *fingerprint, int64_t iat_s,
                             int64_t exp_s, papi__buf *out, papi_error *err);
/* Appends a signed RS256 JWT issued at iat_s (Unix seconds) lasting lifetime_s. */
papi_status papi__jwt_signer_mint(const papi__jwt_signer *s, int64_t iat_s, int64_t lifetime_s,
                                  papi__buf *out, papi_error *err);

/* The default of snowflake-jwt-lifetime. */
#define PAPI__JWT_LIFETIME_S (59 * 60)
/* Seconds after iat when a JWT lasting lifetime_s is renewed: lifetime * 54/59, rounded down, so
 * the default 59 minutes renews after 54 and the last 5/59 are margin for clock skew and requests
 * in flight. */
int64_t papi__jwt_renew_after_s(int64_t lifetime_s);

/* ------------------------------------------------------------- http.c */
typedef struct papi__http papi__http;

typedef struct papi__http_opts {
    size_t pool_size;          /* easy handles = requests in flight at most */
    int64_t connect_timeout_ms;
    size_t max_body_bytes;     /* responses larger than this fail with PAPI_EPROTO */
    const char *user_agent;    /* "papi/<version>" */
    const char *ca_file;       /* PEM CAs trusted instead of the system's; NULL or "": system */
} papi__http_opts;

typedef struct papi__http_request {
    const char *method;           /* "GET" or "POST" */
    const char *url;
    const char *const *headers;   /* "Name: value" lines */
    size_t nheaders;
    const char *body;             /* POST body (may be NULL: empty) */
    size_t body_len;
    int64_t deadline_ms;          /* papi_now_ms() clock */
} papi__http_request;

typedef struct papi__http_response {
    long status;           /* HTTP status, 0 when none arrived */
    int32_t retry_after_s; /* Retry-After in seconds, 0 when absent */
    bool permanent;        /* connection failure retrying cannot fix (untrusted certificate) */
    papi__buf body;        /* decoded (gzip undone) */
} papi__http_response;

/* PAPI_ECONFIG when opts->ca_file is set but unreadable. */
papi_status papi__http_create(const papi__http_opts *opts, papi__http **out, papi_error *err);
void papi__http_destroy(papi__http *http);
void papi__http_response_init(papi__http_response *r);
void papi__http_response_free(papi__http_response *r);
/* Performs one exchange on a pooled handle, waiting for a free one until the deadline.
 * PAPI_OK when an HTTP answer arrived (any status: check r->status); PAPI_ETIMEDOUT at the deadline;
 * PAPI_EUNAVAIL for connection-level failures (refused, reset, TLS; r->permanent when a retry
 * cannot help); PAPI_EPROTO for a body over
 * the limit; PAPI_ENOMEM. Thread-safe. */
papi_status papi__http_do(papi__http *http, const papi__http_request *req, papi__http_response *r,
                          papi_error *err);
/* Connections opened so far (diagnostics, bench). */
uint64_t papi__http_connections(const papi__http *http);

/* ------------------------------------------------------------- sfapi.c */
/* Statement context from the configuration; NULL or "" fields are left out of the body. */
typedef struct papi__sf_context {
    const char *database;
    const char *schema;
    const char *warehouse;
    const char *role;
    int64_t timeout_s;
} papi__sf_context;

/* One dataset column the result must carry, in order. */
typedef struct papi__sf_expect {
    size_t ncols;
    const char *const *names;
    const papi_column_type *types;
} papi__sf_expect;

/* Snowflake's per-column type as read from rowType. */
typedef enum papi__sf_type {
    PAPI__SF_FIXED, PAPI__SF_REAL, PAPI__SF_DECFLOAT, PAPI__SF_TEXT, PAPI__SF_BINARY,
    PAPI__SF_BOOLEAN, PAPI__SF_DATE, PAPI__SF_TIME, PAPI__SF_TIMESTAMP_NTZ,
    PAPI__SF_TIMESTAMP_LTZ, PAPI__SF_TIMESTAMP_TZ, PAPI__SF_VARIANT, PAPI__SF_UNKNOWN
} papi__sf_type;

typedef struct papi__sf_column {
    papi__sf_type type;
    int scale; /* -1 when absent */
    papi_column_type target;
} papi__sf_column;

/* A parsed 200 ResultSet. root owns everything; data is partition 0. */
typedef struct papi__sf_result {
    json_t *root;
    json_t *data;
    papi__sf_column *cols;
    size_t ncols;
    size_t npartitions;     /* >= 1 */
    int64_t *row_counts;    /* per partition; -1 when not stated */
    int64_t num_rows;       /* -1 when not stated */
    char handle[128];
} papi__sf_result;

/* Error detail of a non-2xx answer; empty fields when the body is not Snowflake JSON. */
typedef struct papi__sf_error {
    char code[16];
    char sql_state[8];
    char message[200];
} papi__sf_error;

typedef papi_status (*papi__sf_row_fn)(void *user, const char *const *cells, const size_t *lens,
                                       size_t ncells, papi_error *err);

/* The POST body: statement, bindings "1".."nparams" (FIXED or TEXT; keys beyond n repeat the last),
 * context and parameters query_tag=papi, timezone=UTC. */
papi_status papi__sf_statement_body(const papi__sf_context *ctx, const char *sql,
                                    papi_key_type key_type, const papi_key *keys, size_t n,
                                    size_t nparams, papi__buf *out, papi_error *err);
papi_status papi__sf_parse_result(const char *body, size_t len, const papi__sf_expect *expect,
                                  papi__sf_result *out, papi_error *err);
void papi__sf_result_free(papi__sf_result *r);
/* 202 QueryStatus: the handle (checked [0-9A-Za-z-]) and statementStatusUrl (a path). */
papi_status papi__sf_parse_status(const char *body, size_t len, char *handle, size_t hcap,
                                  char *url, size_t ucap, papi_error *err);
/* Partition >= 1: {"data": [...]} or a bare array. *rows is a new reference. */
papi_status papi__sf_parse_partition(const char *body, size_t len, json_t **rows,
                                     papi_error *err);
void papi__sf_parse_error(const char *body, size_t len, papi__sf_error *out);
/* Decodes rows (array of arrays of strings/null) and hands each to fn; expect_rows >= 0 is checked. */
papi_status papi__sf_emit_rows(const papi__sf_result *r, json_t *rows, int64_t expect_rows,
                               papi__sf_row_fn fn, void *user, papi_error *err);
/* One cell from Snowflake's encoding (5.4) to the canonical text of col->target. */
papi_status papi__sf_decode_cell(const papi__sf_column *col, const char *cell, size_t len,
                                 papi__buf *out, papi_error *err);
bool papi__sf_handle_ok(const char *handle);
const char *papi__sf_type_name(papi__sf_type t);

/* ------------------------------------------------------------- sfauth.c */
/* "https://host[:port]" from snowflake-host/-port/-protocol or the account (1.2); caller frees. */
papi_status papi__sf_base_url(const papi_config *cfg, char **out, papi_error *err);

typedef enum papi__sf_auth_kind {
    PAPI__SF_AUTH_JWT, PAPI__SF_AUTH_OAUTH_FILE, PAPI__SF_AUTH_OAUTH_STATIC, PAPI__SF_AUTH_PAT
} papi__sf_auth_kind;

/* The transport's credential, shared by its threads. */
typedef struct papi__sf_auth papi__sf_auth;

/* Chooses the kind from snowflake-authenticator or by what is configured (key file, token file,
 * token, SPCS session token) and gets the first credential: PAPI_ECONFIG when it cannot. host
 * (may be NULL) is copied; its count callback hears PAPI_COUNTER_TOKEN_RENEWALS. */
papi_status papi__sf_auth_create(const papi_config *cfg, const papi_host *host,
                                 papi__sf_auth **out, papi_error *err);
/* Wipes the token before freeing it. */
void papi__sf_auth_destroy(papi__sf_auth *a);
/* Replaces line with "Authorization: Bearer <token>", renewing first when due. force: the
 * server answered 401 to generation *gen; renews unless another thread already did. *gen is set
 * to the generation written. Thread-safe. */
papi_status papi__sf_auth_header(papi__sf_auth *a, bool force, uint64_t *gen, papi__buf *line,
                                 papi_error *err);
papi__sf_auth_kind papi__sf_auth_get_kind(const papi__sf_auth *a);
/* X-Snowflake-Authorization-Token-Type value. */
const char *papi__sf_auth_token_type(const papi__sf_auth *a);
/* True when a 401 is worth one renewal (JWT re-minted, token file re-read). */
bool papi__sf_auth_renewable(const papi__sf_auth *a);

#endif /* PAPI_SNOWFLAKE_H */
