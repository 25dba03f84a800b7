/**
 * @file papi_snowflake.h
 * @brief Snowflake helpers for tools (the `papi jwt`, `papi fingerprint` and `papi token`
 *        commands): the key-pair JWT and public key fingerprint, and the exchange of a JWT for an
 *        SPCS ingress token. Each reads the key file, passphrase, account, user and endpoint
 *        options from a ::papi_config exactly as the snowflake transport does.
 *
 * These calls are exported by every libpapi, so the ABI is the same whatever was built; in a
 * library built without the snowflake backend (meson -Dsnowflake=disabled) each returns
 * PAPI_ECONFIG, its message saying that the backend is not built in.
 */
#ifndef PAPI_SNOWFLAKE_H
#define PAPI_SNOWFLAKE_H

#include <papi/papi.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Room papi_snowflake_fingerprint() needs, NUL included ("SHA256:" + 44 characters). */
#define PAPI_SNOWFLAKE_FINGERPRINT_MAX 64

/**
 * @brief The fingerprint Snowflake shows for the public key of snowflake-private-key-file
 *        (`DESC USER ... RSA_PUBLIC_KEY_FP`): "SHA256:" and the base64 of the SHA-256 of its
 *        SubjectPublicKeyInfo.
 * @param cfg the options: snowflake-private-key-file, snowflake-private-key-file-pwd.
 * @param[out] out where to write it, NUL-terminated.
 * @param cap the size of @p out, at least ::PAPI_SNOWFLAKE_FINGERPRINT_MAX.
 * @param[out] err detail of a failure (may be NULL).
 * @return PAPI_OK; PAPI_EINVAL (NULL argument, @p cap too small); PAPI_ECONFIG (no key file, an
 *         unreadable or encrypted key without the right passphrase, the backend not built in);
 *         PAPI_ENOMEM. Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_snowflake_fingerprint(const papi_config *cfg, char *out,
                                                               size_t cap, papi_error *err);

/**
 * @brief A key-pair JWT (RS256) for the SQL API, as the transport mints it: iss
 *        "ACCOUNT.USER.SHA256:...", sub "ACCOUNT.USER", iat backdated a little for clock skew.
 * @param cfg the options: snowflake-account, snowflake-user, snowflake-private-key-file,
 *        snowflake-private-key-file-pwd, snowflake-jwt-lifetime.
 * @param lifetime_s seconds from iat to exp, 1 .. 3600 (Snowflake's limit); 0: the
 *        snowflake-jwt-lifetime option.
 * @param[out] out the JWT, NUL-terminated, owned by the caller (papi_free()); NULL on failure.
 * @param[out] err detail of a failure (may be NULL).
 * @return PAPI_OK; PAPI_EINVAL (NULL argument, @p lifetime_s out of range); PAPI_ECONFIG (a missing
 *         or malformed account or user, the key as for papi_snowflake_fingerprint(), the backend
 *         not built in); PAPI_ENOMEM. Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_snowflake_jwt(const papi_config *cfg, int64_t lifetime_s,
                                                       char **out, papi_error *err);

/**
 * @brief Exchanges a key-pair JWT for an OAuth token of an SPCS service's ingress endpoint
 *        (POST /oauth/token at the account's host, grant type jwt-bearer, scope
 *        "[session:role:ROLE ]ENDPOINT-HOST"), for calling the service from outside Snowflake.
 * @param cfg the options of papi_snowflake_jwt(), and snowflake-host, -port, -protocol,
 *        snowflake-ca-file, connect-timeout-ms for where to send it.
 * @param endpoint the ingress host of the service endpoint; a URL is accepted and its host used.
 * @param role the role the token is for, or NULL / "" for the user's default.
 * @param[out] out the token, NUL-terminated, owned by the caller (papi_free()); NULL on failure.
 * @param[out] err detail of a failure (may be NULL); a refusal carries the HTTP status in
 *        papi_error::http_status and Snowflake's message, control characters escaped.
 * @return PAPI_OK; PAPI_EINVAL (NULL argument, empty endpoint); PAPI_ECONFIG (as
 *         papi_snowflake_jwt()); PAPI_EAUTH (401, 403); PAPI_ESOURCE (another 4xx);
 *         PAPI_EUNAVAIL (5xx, 429, no connection); PAPI_ETIMEDOUT (no answer within 30 s);
 *         PAPI_EPROTO (an answer without a token); PAPI_ENOMEM. Thread-safe.
 */
PAPI_API PAPI_NODISCARD papi_status papi_snowflake_token(const papi_config *cfg,
                                                         const char *endpoint, const char *role,
                                                         char **out, papi_error *err);

#ifdef __cplusplus
}
#endif

#endif /* PAPI_SNOWFLAKE_H */
