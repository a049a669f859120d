/* auth.c - shared-secret checks: bearer tokens and HMAC signatures */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "util.h"

int
ch_secret_equal(const char *given, size_t givenlen, const char *want)
{
	unsigned char a[32], b[32];

	if (!given || !want || !*want)
		return 0;
	/* hashing first makes the comparison independent of the lengths */
	EVP_Digest(given, givenlen, a, NULL, EVP_sha256(), NULL);
	EVP_Digest(want, strlen(want), b, NULL, EVP_sha256(), NULL);
	return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

int
ch_bearer_ok(const char *header, const char *token)
{
	size_t n;

	if (!header || !token || !*token)
		return 0;
	if (strncasecmp(header, "Bearer ", 7) != 0)
		return 0;
	header += 7;
	while (*header == ' ')
		header++;
	n = strlen(header);
	while (n > 0 && isspace((unsigned char)header[n - 1]))
		n--;
	return ch_secret_equal(header, n, token);
}

void
ch_hmac_sha256_hex(const char *key, const void *buf, size_t len,
    char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	HMAC(EVP_sha256(), key, (int)strlen(key), buf, len, md, &mdlen);
	ch_hex(md, mdlen, hex);
}

int
ch_signature_ok(const char *header, const char *secret, const void *body,
    size_t len)
{
	char want[65], got[65];
	size_t i;

	if (!header || !secret || !*secret)
		return 0;
	if (strncmp(header, "sha256=", 7) != 0 || strlen(header + 7) != 64)
		return 0;
	for (i = 0; i < 64; i++)
		got[i] = (char)tolower((unsigned char)header[7 + i]);
	got[64] = '\0';
	ch_hmac_sha256_hex(secret, body, len, want);
	return CRYPTO_memcmp(got, want, 64) == 0;
}
