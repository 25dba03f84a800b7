/* Private to the snowflake transport (written against the public headers only): key-pair JWT
 * (jwt.c), the libcurl handle pools (http.c), the SQL API wire format (sfapi.c; rows in sfrows.c,
 * cells in sfcells.c), one statement's requests, retries, polling and partitions (sfstmt.c),
 * credentials and the base URL (sfauth.c), the options (options.c), the backend's methods
 * (transport.c), the calls of papi_snowflake.h (tools.c). Shared by transport.c and the unit tests;
 * nothing here is exported from the shared library. */
#ifndef PAPI_BACKEND_SNOWFLAKE_H
#define PAPI_BACKEND_SNOWFLAKE_H

#include "sf_options.h"

#include <papi/papi.h>
#include <papi/papi_backend.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ------------------------------------------------------------- jwt.c */
/* base64url without padding (JWT parts) and standard padded base64 (key fingerprint). */
void papi__b64url(papi_buf *out, const void *data, size_t len);
void papi__b64std(papi_buf *out, const void *data, size_t len);

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
                                    const char *account, const char *user, papi__jwt_signer **out,
                                    papi_error *err);
void papi__jwt_signer_destroy(papi__jwt_signer *s);
/* "SHA256:<44 chars of standard base64>". */
const char *papi__jwt_signer_fingerprint(const papi__jwt_signer *s);
/* "ACCOUNT.USER" or "" when created without names. */
const char *papi__jwt_signer_subject(const papi__jwt_signer *s);
/* Appends the compact claims JSON (iss, sub, iat, exp in that order) to out. */
papi_status papi__jwt_claims(const char *subject, const char *fingerprint, int64_t iat_s,
                             int64_t exp_s, papi_buf *out, papi_error *err);
/* Appends a signed RS256 JWT minted at now_s (Unix seconds): iat = papi__jwt_iat_s(now_s,
 * lifetime_s), exp = iat + lifetime_s (papi__jwt_lifetime_s: at most an hour). */
papi_status papi__jwt_signer_mint(const papi__jwt_signer *s, int64_t now_s, int64_t lifetime_s,
                                  papi_buf *out, papi_error *err);

/* The default of snowflake-jwt-lifetime. */
#define PAPI__JWT_LIFETIME_S (59 * 60)
/* iat is backdated by this much (at most a tenth of the lifetime), so that a clock a little
 * ahead of Snowflake's does not make the JWT "issued in the future" (3.7); exp - iat stays the
 * lifetime, at most 3600. */
#define PAPI__JWT_SKEW_S 60
/* lifetime_s, or the default when outside 1..3600. */
int64_t papi__jwt_lifetime_s(int64_t lifetime_s);
/* The iat claim of a JWT minted at now_s: now_s - min(PAPI__JWT_SKEW_S, lifetime / 10). */
int64_t papi__jwt_iat_s(int64_t now_s, int64_t lifetime_s);
/* Seconds after iat (the backdated claim) when a JWT lasting lifetime_s is renewed: lifetime *
 * 54/59, rounded down, so the default 59 minutes renews 54 minutes after iat (53 after minting)
 * and the last 5/59 are margin for clock skew and requests in flight. */
int64_t papi__jwt_renew_after_s(int64_t lifetime_s);

/* ------------------------------------------------------------- http.c */
typedef struct papi__http papi__http;

typedef struct papi__http_opts {
    size_t pool_size; /* easy handles = lookup requests in flight at most (+1 probe) */
    int64_t connect_timeout_ms;
    size_t max_body_bytes;  /* responses larger than this fail with PAPI_EPROTO */
    const char *user_agent; /* "papi/<version>" */
    const char *ca_file;    /* PEM CAs trusted instead of the system's; NULL or "": system */
    const papi_host *clock; /* of the deadlines (papi_host_now_ms; NULL: papi_now_ms) */
} papi__http_opts;

/* Which handles a request uses: the pool's, or the one kept for probes (ping) so that a probe
 * never waits behind lookups. */
typedef enum papi__http_lane { PAPI__HTTP_LOOKUP = 0, PAPI__HTTP_PROBE = 1 } papi__http_lane;

typedef struct papi__http_request {
    const char *method; /* "GET" or "POST" */
    papi__http_lane lane;
    size_t max_body_bytes; /* this answer's cap; 0: the pool's max_body_bytes */
    const char *url;
    const char *const *headers; /* "Name: value" lines */
    size_t nheaders;
    const char *body; /* POST body (may be NULL: empty) */
    size_t body_len;
    int64_t deadline_ms; /* on the pool's clock (papi__http_opts) */
} papi__http_request;

typedef struct papi__http_response {
    long status;           /* HTTP status, 0 when none arrived */
    int32_t retry_after_s; /* Retry-After in seconds, 0 when absent */
    bool permanent;        /* connection failure retrying cannot fix (untrusted certificate) */
    papi_buf body;         /* decoded (gzip undone) */
} papi__http_response;

/* PAPI_ECONFIG when opts->ca_file is set but unreadable. Header lines given to papi__http_do
 * must hold no control characters (checked there: PAPI_EINVAL). */
papi_status papi__http_create(const papi__http_opts *opts, papi__http **out, papi_error *err);
void papi__http_destroy(papi__http *http);
void papi__http_response_init(papi__http_response *r);
void papi__http_response_free(papi__http_response *r);
/* Performs one exchange on a pooled handle of req->lane, waiting for a free one until the
 * deadline.
 * PAPI_OK when an HTTP answer arrived (any status: check r->status); PAPI_ETIMEDOUT at the
 * deadline; PAPI_EUNAVAIL for connection-level failures (refused, reset, TLS; r->permanent when a
 * retry cannot help; the message carries curl's own words); PAPI_EPROTO for a body over the limit;
 * PAPI_EINVAL for a header line with a control character (header injection); PAPI_ENOMEM.
 * Thread-safe. */
papi_status papi__http_do(papi__http *http, const papi__http_request *req, papi__http_response *r,
                          papi_error *err);
/* Connections opened so far (diagnostics, bench). */
uint64_t papi__http_connections(const papi__http *http);

/* ------------------------------------------------- sfapi.c, sfrows.c, sfcells.c */
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
    PAPI__SF_FIXED,
    PAPI__SF_REAL,
    PAPI__SF_DECFLOAT,
    PAPI__SF_TEXT,
    PAPI__SF_BINARY,
    PAPI__SF_BOOLEAN,
    PAPI__SF_DATE,
    PAPI__SF_TIME,
    PAPI__SF_TIMESTAMP_NTZ,
    PAPI__SF_TIMESTAMP_LTZ,
    PAPI__SF_TIMESTAMP_TZ,
    PAPI__SF_VARIANT,
    PAPI__SF_UNKNOWN
} papi__sf_type;

typedef struct papi__sf_column {
    papi__sf_type type;
    int scale; /* -1 when absent */
    papi_column_type target;
} papi__sf_column;

/* A parsed 200 ResultSet. root holds the metadata; data is partition 0's rows array, a span of
 * the body given to papi__sf_parse_result (not copied: valid while that body is). */
typedef struct papi__sf_result {
    json_t *root;
    const char *data;
    size_t data_len;
    papi__sf_column *cols;
    size_t ncols;
    size_t npartitions;  /* >= 1 */
    int64_t *row_counts; /* per partition; -1 when not stated */
    int64_t num_rows;    /* -1 when not stated */
    char handle[128];
    const papi_host *clock; /* the limits' clock: papi__sf_emit_rows reads deadlines on it */
} papi__sf_result;

/* Error detail of a non-2xx answer; empty fields when the body is not Snowflake JSON. message
 * has control bytes escaped (\n, \xNN), so it stays one line in a log. */
typedef struct papi__sf_error {
    char code[16];
    char sql_state[8];
    char message[200];
    char handle[64]; /* statementHandle when the answer names one (checked [0-9A-Za-z-]) */
} papi__sf_error;

/* Limits on the answers to one statement: a hostile or broken answer costs bounded memory and
 * time. A lookup's come from papi__sf_lookup_limits; a scan of a whole table (transport.c) has
 * its own: no total, but a cap on each answer, since only one partition is held at a time. */
typedef struct papi__sf_limits {
    size_t max_body_bytes;  /* over all bodies of the statement (partition 0 and the others) */
    size_t max_partitions;  /* partitionInfo entries */
    int64_t deadline_ms;    /* checked after each expensive step: late is PAPI_ETIMEDOUT */
    const papi_host *clock; /* of deadline_ms (papi_host_now_ms; NULL: papi_now_ms) */
    size_t max_answer_bytes; /* each body (one partition) at most; 0: only max_body_bytes */
} papi__sf_limits;

/* What a scan accepts at most (their options' ranges are in options.c). */
#define PAPI__SF_SCAN_MAX_PARTITIONS 100000

#define PAPI__SF_MAX_BODY_BYTES ((size_t)64 << 20)  /* the most any answer may take */
#define PAPI__SF_BODY_FLOOR_BYTES ((size_t)1 << 20) /* metadata, messages: the least allowed */
#define PAPI__SF_FIXED_CELL_BYTES 64 /* a number, date, time, timestamp, boolean on the wire */

/* The limits of a lookup of nkeys distinct keys of the dataset expect describes: rows for every
 * key at their widest (max_cell_bytes for text, variant and binary cells, as JSON on the wire;
 * PAPI__SF_FIXED_CELL_BYTES for the others), twice over, plus PAPI__SF_BODY_FLOOR_BYTES, at most
 * PAPI__SF_MAX_BODY_BYTES; one partition per key at most. */
void papi__sf_lookup_limits(const papi__sf_expect *expect, size_t nkeys, size_t max_cell_bytes,
                            int64_t deadline_ms, papi__sf_limits *out);

typedef papi_status (*papi__sf_row_fn)(void *user, const char *const *cells, const size_t *lens,
                                       size_t ncells, papi_error *err);

/* The POST body: statement, bindings "1".."nparams" (FIXED or TEXT; keys beyond n repeat the last;
 * none when nparams is 0), context and parameters query_tag=papi, timezone=UTC. */
papi_status papi__sf_statement_body(const papi__sf_context *ctx, const char *sql,
                                    papi_key_type key_type, const papi_key *keys, size_t n,
                                    size_t nparams, papi_buf *out, papi_error *err);
/* Parses a ResultSet: metadata with jansson, `data` left in place for papi__sf_emit_rows.
 * PAPI_EPROTO for anything malformed, more partitions than lim allows or row counts that do not
 * add up; PAPI_ETIMEDOUT when lim->deadline_ms has passed by the end. */
papi_status papi__sf_parse_result(const char *body, size_t len, const papi__sf_expect *expect,
                                  const papi__sf_limits *lim, papi__sf_result *out,
                                  papi_error *err);
void papi__sf_result_free(papi__sf_result *r);
/* 202 QueryStatus: the handle (checked [0-9A-Za-z-]) and statementStatusUrl (a path). */
papi_status papi__sf_parse_status(const char *body, size_t len, char *handle, size_t hcap,
                                  char *url, size_t ucap, papi_error *err);
/* Partition >= 1: {"data": [...]} or a bare array. *rows is the rows array, a span of body. */
papi_status papi__sf_parse_partition(const char *body, size_t len, const char **rows,
                                     size_t *rows_len, papi_error *err);
/* The span of the top-level "data" value of a JSON object (NULL when absent); the rest of the
 * object is only skipped. PAPI_EPROTO when body is not one JSON object or has two "data"; the
 * message names what ("result", "partition") and the byte offset, never the text. */
papi_status papi__sf_find_data(const char *body, size_t len, const char *what, const char **data,
                               size_t *data_len, papi_error *err);
void papi__sf_parse_error(const char *body, size_t len, papi__sf_error *out);
/* Reads rows (a JSON array of arrays of strings or null, straight from the text), decodes each
 * and hands it to fn; expect_rows >= 0 is checked. PAPI_ETIMEDOUT once deadline_ms has passed
 * (looked at every few hundred rows and at the end). */
papi_status papi__sf_emit_rows(const papi__sf_result *r, const char *rows, size_t rows_len,
                               int64_t expect_rows, int64_t deadline_ms, papi__sf_row_fn fn,
                               void *user, papi_error *err);
/* One cell from Snowflake's encoding (5.4) to the canonical text of col->target. */
papi_status papi__sf_decode_cell(const papi__sf_column *col, const char *cell, size_t len,
                                 papi_buf *out, papi_error *err);
bool papi__sf_handle_ok(const char *handle);
const char *papi__sf_type_name(papi__sf_type t);
/* A context name (database, schema, warehouse, role) as the SQL API wants it, the case SHOW
 * reports: an unquoted name must be a plain identifier and is uppercased; a "quoted" one keeps
 * its case and characters, without the quotes ("" inside stands for one "), and may hold anything
 * but control bytes. *out is NULL for NULL or ""; caller frees. PAPI_ECONFIG naming option (never
 * the value); PAPI_ENOMEM. */
papi_status papi__sf_context_name(const char *option, const char *value, char **out,
                                  papi_error *err);
/* True when s[0..n) holds a control character (< 0x20 or DEL): in a header value, CR or LF would
 * start another header. */
bool papi__sf_has_control(const char *s, size_t n);
/* Appends s with control bytes escaped (\n, \r, \t, \xNN) into dst of cap bytes. */
void papi__sf_escape_controls(char *dst, size_t cap, const char *s);

/* ------------------------------------------------------------- sfauth.c */
/* "https://host[:port]" from snowflake-host/-port/-protocol or the account (1.2); caller frees. */
papi_status papi__sf_base_url(const papi_config *cfg, char **out, papi_error *err);

/* Where SPCS mounts the service's OAuth session token in every container. */
#define PAPI__SF_SESSION_TOKEN_PATH "/snowflake/session/token"

typedef enum papi__sf_auth_kind {
    PAPI__SF_AUTH_JWT,
    PAPI__SF_AUTH_OAUTH_FILE,
    PAPI__SF_AUTH_OAUTH_STATIC,
    PAPI__SF_AUTH_PAT
} papi__sf_auth_kind;

/* The transport's credential, shared by its threads. */
typedef struct papi__sf_auth papi__sf_auth;

/* How the credential goes into a request. */
typedef enum papi__sf_form {
    PAPI__SF_FORM_BEARER,         /* Authorization: Bearer <token> + the token type header */
    PAPI__SF_FORM_SNOWFLAKE_TOKEN /* Authorization: Snowflake Token="<token>", no type header */
} papi__sf_form;

/* Chooses the kind from snowflake-authenticator or by what is configured (key file, token file,
 * token, SPCS session token) and gets the first credential: PAPI_ECONFIG when it cannot (a token
 * with a control character; a token file that cannot be read, named with its path and errno).
 * Inside SPCS (session_token_path exists or is the token file; NULL: /snowflake/session/token)
 * warns through host when a key file or snowflake-token overrides the session token. host (may
 * be NULL) is copied; its count callback hears PAPI_COUNTER_TOKEN_RENEWALS. */
papi_status papi__sf_auth_create(const papi_config *cfg, const papi_host *host,
                                 const char *session_token_path, papi__sf_auth **out,
                                 papi_error *err);
/* Wipes the token before freeing it. */
void papi__sf_auth_destroy(papi__sf_auth *a);
/* Replaces line with the Authorization header, renewing first when due. force: the server
 * answered 401 to generation *gen; renews unless another thread already did. *gen is set to the
 * generation written, *form to the form: the Snowflake Token form when alternate, else the form
 * that works. Thread-safe. */
papi_status papi__sf_auth_header(papi__sf_auth *a, bool force, bool alternate, uint64_t *gen,
                                 papi__sf_form *form, papi_buf *line, papi_error *err);
/* True when a 401 to the Bearer form is worth one try in the Snowflake Token form: token file
 * (SPCS) auth whose Bearer form has not worked yet. Thread-safe. */
bool papi__sf_auth_alternate_ok(papi__sf_auth *a);
/* A request in form succeeded: later requests use it; for token file auth, logs (info, once)
 * which form works. Thread-safe. */
void papi__sf_auth_worked(papi__sf_auth *a, papi__sf_form form);
papi__sf_auth_kind papi__sf_auth_get_kind(const papi__sf_auth *a);
/* X-Snowflake-Authorization-Token-Type value. */
const char *papi__sf_auth_token_type(const papi__sf_auth *a);
/* True when a 401 is worth one renewal (JWT re-minted, token file re-read). */
bool papi__sf_auth_renewable(const papi__sf_auth *a);

/* ------------------------------------------------------------- transport.c, sfstmt.c */
/* The transport's state: read-only after open, shared by every thread. */
typedef struct papi__sf {
    papi__http *http;
    const papi_host *host; /* valid until close; NULL in tests */
    char *base_url;
    /* as the SQL API wants them (papi__sf_context_name) */
    char *database, *schema, *warehouse, *role;
    papi__sf_context ctx;
    int max_attempts;
    size_t max_cell_bytes;
    size_t scan_partition_bytes, scan_cell_bytes; /* a scan's limits (options.c) */
    papi__sf_auth *auth;
} papi__sf;

/* One statement: set s, expect, row/row_user (or scan), lim; papi__sf_run does the rest. */
typedef struct papi__sf_call {
    papi__sf *s;
    const papi__sf_expect *expect; /* NULL: ping, rows not wanted */
    papi__sf_row_fn row;           /* where rows go, with row_user */
    void *row_user;
    const papi_scan_sink *scan; /* a scan: its progress after each partition */
    uint64_t rows;              /* rows handed on so far (counted by a scan's row function) */
    int64_t deadline_ms;
    papi__sf_limits lim;
    size_t body_used; /* result bytes taken so far, against lim.max_body_bytes */
    papi__http_response resp;
    papi_buf auth; /* the Authorization line */
    uint64_t auth_gen;
    papi__sf_form form; /* of that line */
    bool auth_renewed;  /* a 401 renews once per fetch */
    bool alternate;     /* ...then tries the Snowflake Token form once (token file auth) */
    bool posted;        /* the statement went out once: every resend says retry=true */
    char handle[128];   /* the statement's, once an answer named it */
} papi__sf_call;

/* Sends the statement body and reads its answer, every partition of it, within c->lim (its
 * deadline included), rows to c->row. Afterwards c->handle names the statement when an answer
 * did. PAPI_OK, or the failure with err filled (query_id set when known). */
papi_status papi__sf_run(papi__sf_call *c, const char *body, size_t body_len, papi_error *err);

#endif /* PAPI_BACKEND_SNOWFLAKE_H */
