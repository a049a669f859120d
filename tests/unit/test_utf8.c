/* test_utf8.c - outside text made fit for JSON (ch_utf8_clean) */
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "util.h"

static void
clean_is(const char *in, size_t len, const char *want)
{
	size_t n;
	char *s = ch_utf8_clean(in, len, &n);
	json_t *j;

	ck_assert_str_eq(s, want);
	ck_assert_uint_eq(n, strlen(want));
	/* whatever came in, jansson takes what comes out */
	ck_assert_ptr_nonnull(j = json_stringn(s, n));
	json_decref(j);
	free(s);
}

START_TEST(valid_kept)
{
	clean_is("", 0, "");
	clean_is("plain ascii", 11, "plain ascii");
	clean_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	clean_is("\x7f\x01\n", 3, "\x7f\x01\n");
}
END_TEST

START_TEST(invalid_escaped)
{
	clean_is("\xff", 1, "\\xff");
	clean_is("/a%\xff", 4, "/a%\\xff");
	clean_is("a\0b", 3, "a\\x00b");
	/* cut inside a character */
	clean_is("caf\xc3", 4, "caf\\xc3");
	clean_is("\xe2\x82", 2, "\\xe2\\x82");
	/* overlong forms, surrogates, above U+10FFFF, stray continuation */
	clean_is("\xc0\xaf", 2, "\\xc0\\xaf");
	clean_is("\xe0\x80\xaf", 3, "\\xe0\\x80\\xaf");
	clean_is("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");
	clean_is("\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80");
	clean_is("\x80z", 2, "\\x80z");
	/* a bad byte does not swallow the good character after it */
	clean_is("\xc3\xc3\xa9", 3, "\\xc3\xc3\xa9");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, valid_kept);
	tcase_add_test(tc, invalid_escaped);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
