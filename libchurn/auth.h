/* auth.h - shared-secret checks: bearer tokens and HMAC signatures
 * Owns constant-time comparison of secrets; an empty expected secret never
 * matches (refused, not "no auth").  Calls util and OpenSSL only. */
#ifndef CHURN_AUTH_H
#define CHURN_AUTH_H

#include <stddef.h>

/*
 * Compares a presented secret with the expected one in time that depends
 * on neither the contents nor the length of the presented one: both are
 * hashed with SHA-256 and the digests compared with CRYPTO_memcmp.
 * Returns 1 when they are equal, 0 otherwise (also when either is NULL).
 */
int ch_secret_equal(const char *given, size_t givenlen, const char *want);

/*
 * Checks a "Bearer TOKEN" Authorization header value against token.
 * Returns 1 on a match, 0 otherwise (missing header, other scheme,
 * wrong token).
 */
int ch_bearer_ok(const char *header, const char *token);

/* HMAC-SHA256 of buf under key, as 64 lowercase hex digits plus NUL. */
void ch_hmac_sha256_hex(const char *key, const void *buf, size_t len,
    char hex[65]);

/*
 * Verifies a GitHub-style signature header "sha256=<hex>" over body with
 * secret, in constant time.  Returns 1 when valid, 0 otherwise (missing,
 * malformed, other algorithm, wrong digest).
 */
int ch_signature_ok(const char *header, const char *secret,
    const void *body, size_t len);

#endif
