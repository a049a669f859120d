/* test_util.c - util's small things: option values, the growable buffer,
 * mkdirs, the splitmix64 finaliser, ch_jstr, progress off a terminal; and
 * what a -m argument names (modelref) */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "unit.h"

#include "modelref.h"
#include "util.h"

START_TEST(numbers)
{
	long long i;
	double d;
	unsigned long long z;

	ck_assert_int_eq(ch_parse_int("42", &i), 0);
	ck_assert_int_eq(i, 42);
	ck_assert_int_eq(ch_parse_int("-7", &i), 0);
	ck_assert_int_eq(i, -7);
	ck_assert_int_eq(ch_parse_int("", &i), -1);
	ck_assert_int_eq(ch_parse_int("4x", &i), -1);
	ck_assert_int_eq(ch_parse_int(" 4", &i), -1);
	ck_assert_int_eq(ch_parse_int("0x10", &i), -1);
	ck_assert_int_eq(ch_parse_int("99999999999999999999", &i), -1);

	ck_assert_int_eq(ch_parse_seconds("30", &d), 0);
	ck_assert_double_eq(d, 30);
	ck_assert_int_eq(ch_parse_seconds("2.5s", &d), 0);
	ck_assert_double_eq(d, 2.5);
	ck_assert_int_eq(ch_parse_seconds("500ms", &d), 0);
	ck_assert_double_eq_tol(d, 0.5, 1e-12);
	ck_assert_int_eq(ch_parse_seconds("5m", &d), 0);
	ck_assert_double_eq(d, 300);
	ck_assert_int_eq(ch_parse_seconds("1h", &d), 0);
	ck_assert_double_eq(d, 3600);
	ck_assert_int_eq(ch_parse_seconds("1d", &d), -1);
	ck_assert_int_eq(ch_parse_seconds("s", &d), -1);
	ck_assert_int_eq(ch_parse_seconds("-1", &d), -1);

	ck_assert_int_eq(ch_parse_size("1024", &z), 0);
	ck_assert_uint_eq(z, 1024);
	ck_assert_int_eq(ch_parse_size("64k", &z), 0);
	ck_assert_uint_eq(z, 65536);
	ck_assert_int_eq(ch_parse_size("8M", &z), 0);
	ck_assert_uint_eq(z, 8u << 20);
	ck_assert_int_eq(ch_parse_size("1G", &z), 0);
	ck_assert_uint_eq(z, 1u << 30);
	ck_assert_int_eq(ch_parse_size("1T", &z), -1);
	ck_assert_int_eq(ch_parse_size("1kk", &z), -1);
	ck_assert_int_eq(ch_parse_size("k", &z), -1);
	ck_assert_int_eq(ch_parse_size("-1", &z), -1);
	ck_assert_int_eq(ch_parse_size("99999999999G", &z), -1);
}
END_TEST

START_TEST(opt_dies)
{
	/* a bad option value ends the program with status 2 */
	ch_setprogname("test_util");
	ch_opt_int("--trees", "abc", 1, 10);
}
END_TEST

START_TEST(opt_range)
{
	ck_assert_int_eq(ch_opt_int("--n", "10", 1, 10), 10);
	ck_assert_double_eq(ch_opt_double("--x", "0.25", 0, 1), 0.25);
	ck_assert_double_eq(ch_opt_seconds("--t", "2m", 1, 3600), 120);
	ck_assert_uint_eq(ch_opt_size("--b", "2k", 1024, 1 << 20), 2048);
}
END_TEST

START_TEST(opt_out_of_range)
{
	ch_opt_int("--trees", "11", 1, 10);
}
END_TEST

START_TEST(buffer)
{
	struct ch_buf b = { 0 };
	int i;

	ch_buf_adds(&b, "a");
	ck_assert_str_eq(b.s, "a");
	for (i = 0; i < 1000; i++)
		ch_buf_printf(&b, "%d,", i);
	ck_assert_uint_eq(b.len, strlen(b.s));
	ck_assert_ptr_nonnull(strstr(b.s, ",999,"));
	memcpy(ch_buf_room(&b, 3), "xyz", 3);
	b.len += 3;
	ch_buf_add(&b, "", 0);
	ck_assert_int_eq(b.s[b.len - 1], 'z');
	ck_assert_int_eq(b.s[b.len], '\0');
	free(b.s);
}
END_TEST

START_TEST(directories)
{
	struct ch_err e = {{0}};
	struct stat st;
	char p[400];

	snprintf(p, sizeof p, "%s/a/b/c", unit_dir);
	ck_assert_int_eq(ch_mkdirs(p, &e), 0);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(ch_mkdirs(p, &e), 0);        /* again: fine */
	snprintf(p, sizeof p, "%s/a/file", unit_dir);
	ck_assert_ptr_nonnull(fopen(p, "w"));
	snprintf(p, sizeof p, "%s/a/file/d", unit_dir);
	ck_assert_int_eq(ch_mkdirs(p, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "cannot create directory"));
	snprintf(p, sizeof p, "%s/a/file", unit_dir);
	ck_assert_int_eq(ch_mkdirs(p, &e), -1);        /* not a directory */
}
END_TEST

START_TEST(mix_and_json)
{
	json_t *o = json_pack("{s:s,s:i}", "a", "x", "n", 1);

	/* splitmix64's first outputs for seed 0 (Vigna's reference) */
	ck_assert_uint_eq(ch_mix64(0x9e3779b97f4a7c15ull), 0xe220a8397b1dcdafull);
	ck_assert_uint_eq(ch_mix64(0), 0);
	ck_assert_str_eq(ch_jstr(o, "a", "-"), "x");
	ck_assert_str_eq(ch_jstr(o, "n", "-"), "-");
	ck_assert_str_eq(ch_jstr(o, "none", ""), "");
	ck_assert_ptr_null(ch_jstr(o, "none", NULL));
	json_decref(o);
}
END_TEST

START_TEST(progress_off_a_terminal)
{
	struct ch_progress *p;

	if (isatty(STDERR_FILENO))
		return;
	p = ch_progress_new("rows", -1);
	ck_assert_ptr_null(p);
	ch_progress_set(p, 5);          /* a NULL progress takes every call */
	ch_progress_add(p, 5);
	ch_progress_total(p, "trees", 10);
	ch_progress_end(p);
}
END_TEST

START_TEST(model_names)
{
	char p[400];
	FILE *fp;

	ck_assert(ch_modelref_is_file("-"));
	ck_assert(ch_modelref_is_file("./champion"));
	ck_assert(ch_modelref_is_file("models/m.churn"));
	ck_assert(!ch_modelref_is_file("champion"));
	ck_assert(!ch_modelref_is_file("v20260101-120000"));
	ck_assert_int_eq(chdir(unit_dir), 0);
	ck_assert_ptr_nonnull(fp = fopen("champion", "w"));
	fclose(fp);
	ck_assert(ch_modelref_is_file("champion"));
	snprintf(p, sizeof p, "%s/champion", unit_dir);
	ck_assert(ch_modelref_is_file(p));
}
END_TEST

/* ch_g17 writes what printf's %.17g writes, for doubles of every kind */
START_TEST(g17_is_printf)
{
	static const double odd[] = { 0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1e16,
	    1e17, 99999999999999999.0, 1e-5, 1e-4, 123456789012345678.0,
	    5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e-11,
	    1e43, 0.70334980395495683, 29.85, 7.5, 1e22, 1e23 };
	struct ch_rng g;
	char a[32], b[32];
	double x;
	uint64_t u;
	size_t i;
	int k;

	for (i = 0; i < sizeof odd / sizeof *odd; i++) {
		snprintf(b, sizeof b, "%.17g", odd[i]);
		ck_assert_uint_eq(ch_g17(odd[i], a), strlen(b));
		ck_assert_str_eq(a, b);
	}
	ch_rng_seed(&g, 42);
	for (k = 0; k < 300000; k++) {
		u = ch_rng_next(&g);
		switch (k % 4) {
		case 0: memcpy(&x, &u, sizeof x); break;      /* any bits */
		case 1: x = ch_rng_unit(&g); break;            /* a probability */
		case 2: x = (double)(u % 100000) / 100; break; /* money */
		default: x = ldexp((double)(u >> 11), (int)(u % 200) - 150);
		}
		snprintf(b, sizeof b, "%.17g", x);
		ch_g17(x, a);
		ck_assert_str_eq(a, b);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");

	tcase_add_checked_fixture(tc, unit_tmpdir, unit_rmdir);
	tcase_add_test(tc, numbers);
	tcase_add_exit_test(tc, opt_dies, 2);
	tcase_add_test(tc, opt_range);
	tcase_add_exit_test(tc, opt_out_of_range, 2);
	tcase_add_test(tc, buffer);
	tcase_add_test(tc, directories);
	tcase_add_test(tc, mix_and_json);
	tcase_add_test(tc, progress_off_a_terminal);
	tcase_add_test(tc, model_names);
	tcase_add_test(tc, g17_is_printf);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
