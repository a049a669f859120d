/* test_jsonflat.c - the fast reader of a flat request object
 * (ch_json_flat): what it takes it reads as json_loadb does; the rest it
 * leaves to json_loadb */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "jsonflat.h"

/* 1: ch_json_flat took s (and it equals jansson's reading), 0: left it */
static int
same(const char *s, size_t n)
{
	json_error_t je;
	json_t *a = ch_json_flat(s, n), *b;
	char *da, *db;

	if (!a)
		return 0;
	ck_assert_msg((b = json_loadb(s, n, 0, &je)) != NULL,
	    "taken, but jansson refuses: %.*s", (int)n, s);
	ck_assert(json_equal(a, b));
	da = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
	db = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ck_assert_str_eq(da, db);
	free(da);
	free(db);
	json_decref(a);
	json_decref(b);
	return 1;
}

static const char telco[] = "{\"customerID\":\"7590-VHVEG\",\"gender\":"
    "\"Female\",\"SeniorCitizen\":0,\"tenure\":1,\"MonthlyCharges\":29.85,"
    "\"TotalCharges\":\"29.85\",\"Partner\":true,\"x\":null}";

/* ch_json_plain against the byte-at-a-time rule, on random strings made
 * mostly of plain bytes with the odd quote, backslash, control byte or
 * byte past ASCII at every offset */
START_TEST(plain_prefix)
{
	static const unsigned char odd[] = { '"', '\\', 0x00, 0x1f, 0x7f, 0x80,
	    0xc3, 0xff, 0x20, 0x21 };
	unsigned char s[40];
	uint64_t r = 88172645463325252ull;
	size_t n, i, want;
	int t, ascii;

	for (t = 0; t < 200000; t++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		n = r % sizeof s;
		for (i = 0; i < n; i++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			s[i] = r % 16 == 0 ? odd[(r >> 8) % sizeof odd] :
			    (unsigned char)(0x20 + (r >> 16) % 0x5f);
		}
		for (ascii = 0; ascii < 2; ascii++) {
			for (want = 0; want < n; want++)
				if (s[want] < 0x20 || s[want] == '"' ||
				    s[want] == '\\' || (ascii && s[want] > 0x7f))
					break;
			ck_assert_uint_eq(ch_json_plain((const char *)s, n,
			    ascii), want);
		}
	}
}
END_TEST

START_TEST(taken)
{
	static const char *const yes[] = {
		"{}", " \t\r\n{ } \n", "{\"a\":1}", "{\"a\":-0}", "{\"a\":0.5}",
		"{\"a\":-12.5e+3,\"b\":1E-2}", "{\"c\":1e400000000}",
		"{\"a\":1,\"a\":2,\"b\":3}", "{\"\":\"\"}", "{\"a\":\"\x7f~ \"}",
		"{\"a\":123456789012345678}", "{\"a\":-123456789012345678}",
		"{\"a\":1e-400}", "{\"a\" : true , \"b\" : false , \"c\" : null}",
	};
	size_t i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		int want = !strstr(yes[i], "1e400000000");  /* overflow: left */
		ck_assert_msg(same(yes[i], strlen(yes[i])) == want, "%s", yes[i]);
	}
	ck_assert(same(telco, sizeof telco - 1));
}
END_TEST

START_TEST(left)
{
	static const char *const no[] = {
		"", "[]", "[{}]", "1", "\"a\"", "{", "{\"a\"}", "{\"a\":}",
		"{\"a\":1,}", "{\"a\":1}x", "{\"a\":1}{}", "{\"a\":01}",
		"{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":-}", "{\"a\":+1}",
		"{\"a\":\"\\n\"}", "{\"a\":\"caf\xc3\xa9\"}", "{\"a\":\"\t\"}",
		"{\"a\":{}}", "{\"a\":[1]}", "{\"a\":nul}", "{\"a\":nullx}",
		"{\"a\":True}", "{\"a\":1234567890123456789}", "{'a':1}",
		"{\"a\":1 \"b\":2}", "{\"a\":\"x}", "\xef\xbb\xbf{}",
	};
	size_t i;

	for (i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_msg(!same(no[i], strlen(no[i])), "%s", no[i]);
	/* a NUL inside */
	ck_assert(!same("{\"a\":\"x\0\"}", 9));
	ck_assert(!same("{\"a\":1}\0", 8));
}
END_TEST

/* Mutations of a request, a byte changed, cut or doubled: whatever the
 * fast reader takes, jansson reads the same. */
START_TEST(mutations)
{
	static const char alpha[] = "{}[]\":,.-+eE0123456789 \t\nabcfnlrstu\\\x7f\x80\x01";
	char buf[sizeof telco + 8];
	uint64_t x = 88172645463325252ull;
	size_t n, i, k, taken = 0;

	for (k = 0; k < 20000; k++) {
		memcpy(buf, telco, n = sizeof telco - 1);
		for (i = 0; i < 3; i++) {
			size_t at;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			at = (size_t)(x >> 8) % n;
			switch (x % 3) {
			case 0:
				buf[at] = alpha[(x >> 40) % (sizeof alpha - 1)];
				break;
			case 1:
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			default:
				if (n + 1 < sizeof buf) {
					memmove(buf + at + 1, buf + at, n - at);
					n++;
				}
			}
		}
		taken += (size_t)same(buf, n);
	}
	/* some mutations stay in the subset */
	ck_assert_uint_gt(taken, 100);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("jsonflat");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, taken);
	tcase_add_test(tc, left);
	tcase_add_test(tc, mutations);
	tcase_add_test(tc, plain_prefix);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
