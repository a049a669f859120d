/* test_auth.c - bearer tokens and HMAC signatures */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "unit.h"

#include "auth.h"

START_TEST(secret_equal)
{
	ck_assert_int_eq(ch_secret_equal("s3cret", 6, "s3cret"), 1);
	ck_assert_int_eq(ch_secret_equal("s3cre", 5, "s3cret"), 0);
	ck_assert_int_eq(ch_secret_equal("s3cretX", 7, "s3cret"), 0);
	ck_assert_int_eq(ch_secret_equal("S3cret", 6, "s3cret"), 0);
	ck_assert_int_eq(ch_secret_equal("", 0, ""), 0);
	ck_assert_int_eq(ch_secret_equal(NULL, 0, "x"), 0);
}
END_TEST

START_TEST(bearer)
{
	ck_assert_int_eq(ch_bearer_ok("Bearer tok", "tok"), 1);
	ck_assert_int_eq(ch_bearer_ok("bearer  tok ", "tok"), 1);
	ck_assert_int_eq(ch_bearer_ok("Basic tok", "tok"), 0);
	ck_assert_int_eq(ch_bearer_ok("Bearer tok2", "tok"), 0);
	ck_assert_int_eq(ch_bearer_ok(NULL, "tok"), 0);
	ck_assert_int_eq(ch_bearer_ok("Bearer ", ""), 0);
	ck_assert_int_eq(ch_bearer_ok("Bearer x", NULL), 0);
}
END_TEST

/* RFC 4231 test case 2 and GitHub's documented example */
START_TEST(hmac)
{
	char hex[65];
	const char *gh = "Hello, World!";

	ch_hmac_sha256_hex("Jefe", "what do ya want for nothing?", 28, hex);
	ck_assert_str_eq(hex,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	ck_assert_int_eq(ch_signature_ok("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
	    "It's a Secret to Everybody", gh, strlen(gh)), 1);
	ck_assert_int_eq(ch_signature_ok("sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17",
	    "It's a Secret to Everybody", gh, strlen(gh)), 1);
	ck_assert_int_eq(ch_signature_ok("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18",
	    "It's a Secret to Everybody", gh, strlen(gh)), 0);
	ck_assert_int_eq(ch_signature_ok("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
	    "another secret", gh, strlen(gh)), 0);
	ck_assert_int_eq(ch_signature_ok("sha1=0123", "s", gh, strlen(gh)), 0);
	ck_assert_int_eq(ch_signature_ok("sha256=abc", "s", gh, strlen(gh)), 0);
	ck_assert_int_eq(ch_signature_ok(NULL, "s", gh, strlen(gh)), 0);
	ck_assert_int_eq(ch_signature_ok("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
	    "", gh, strlen(gh)), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, secret_equal);
	tcase_add_test(tc, bearer);
	tcase_add_test(tc, hmac);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
