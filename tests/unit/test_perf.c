/* test_perf.c - unit tests for libchurn/perf, outcomes (parsing) and the
 * prediction log's times */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "outcomes.h"
#include "perf.h"
#include "predlog.h"

#define DAY 86400

static time_t
T(const char *s)
{
	time_t t;

	ck_assert_int_eq(ch_time_parse(s, strlen(s), &t), 0);
	return t;
}

START_TEST(times)
{
	static const char *const bad[] = { "", "2026-1-01", "2026-13-01",
	    "2026-02-30", "2026-10-01T25:00:00Z", "2026-10-01T10:00",
	    "2026-10-01T10:00:00+02:00", "2026-10-01Z", "yesterday",
	    "2026-10-01T10:00:00Zx", NULL };
	const char *const *b;
	char iso[21];
	time_t t;

	ck_assert_int_eq(T("1970-01-01"), 0);
	ck_assert_int_eq(T("2026-10-01"), 1790812800);
	ck_assert_int_eq(T("2026-10-01T10:00:00Z"), 1790812800 + 36000);
	ck_assert_int_eq(T("2026-10-01 10:00:00"), 1790812800 + 36000);
	ck_assert_int_eq(T("2026-10-01T10:00:00.250Z"), 1790812800 + 36000);
	ck_assert_int_eq(T(" 2026-10-01T10:00:00+00:00 "), 1790812800 + 36000);
	ck_assert_int_eq(T("2028-02-29"), T("2028-03-01") - DAY);
	for (b = bad; *b; b++)
		ck_assert_msg(ch_time_parse(*b, strlen(*b), &t) == -1,
		    "'%s' parsed", *b);
	ch_iso8601(T("2026-10-01T10:00:00Z"), iso);
	ck_assert_str_eq(iso, "2026-10-01T10:00:00Z");
}
END_TEST

static int
parse(const char *text, const char *positive, struct ch_outcome **o,
    size_t *n, struct ch_err *e)
{
	struct ch_outcomes_opts opt = { positive, 1000 * DAY };

	return ch_outcomes_parse(text, strlen(text), "f", &opt, o, n, e);
}

START_TEST(outcomes_parse)
{
	struct ch_outcome *o;
	struct ch_err e = {{0}};
	size_t n;

	ck_assert_int_eq(parse("x,Churn,customerID\n1,Yes,A\n2,no,B\n3,TRUE,C\n",
	    NULL, &o, &n, &e), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(o[0].id, "A");
	ck_assert_int_eq(o[0].outcome, 1);
	ck_assert_int_eq(o[1].outcome, 0);
	ck_assert_int_eq(o[2].outcome, 1);
	ck_assert_int_eq(o[2].time, 1000 * DAY);
	ch_outcomes_free(o, n);
	/* JSON lines; blank lines skipped, numbers and booleans */
	ck_assert_int_eq(parse("{\"id\":\"A\",\"outcome\":1,\"time\":\"2026-10-01\"}\n"
	    "\n{\"id\":\"B\",\"outcome\":false}\n", NULL, &o, &n, &e), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(o[0].time, T("2026-10-01"));
	ck_assert_int_eq(o[1].outcome, 0);
	ch_outcomes_free(o, n);
	/* --positive: that label, anything else present is negative */
	ck_assert_int_eq(parse("id,outcome\nA,gone\nB,here\n", "gone", &o, &n,
	    &e), 0);
	ck_assert_int_eq(o[0].outcome, 1);
	ck_assert_int_eq(o[1].outcome, 0);
	ch_outcomes_free(o, n);
	/* errors name the line and the column */
	ck_assert_int_eq(parse("id,outcome\nA,Yes\nB,Yes,x\n", NULL, &o, &n, &e), -1);
	ck_assert_str_eq(e.msg, "f:3: ragged row: 3 fields, the header has 2");
	ck_assert_ptr_null(o);
	ck_assert_int_eq(parse("id,outcome\nA,Yes\n\xc3\x28,No\n", NULL, &o, &n, &e), -1);
	ck_assert_str_eq(e.msg, "f:3: column 'id': the id is not UTF-8");
	ck_assert_int_eq(parse("id,outcome\n\xed\xa0\x80,No\n", NULL, &o, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "not UTF-8"));
	ck_assert_int_eq(parse("id,outcome\n\xf4\x90\x80\x80,No\n", NULL, &o, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "not UTF-8"));
	ck_assert_int_eq(parse("id,outcome\n\xe2\x82\xac\xf0\x9f\x98\x80,No\n",
	    NULL, &o, &n, &e), 0);
	ch_outcomes_free(o, n);
	ck_assert_int_eq(parse("id,outcome\nA,NA\n", NULL, &o, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "f:2: column 'outcome': 'NA' is not a label"));
	ck_assert_int_eq(parse("", NULL, &o, &n, &e), -1);
	ck_assert_int_eq(parse(" \n\n", NULL, &o, &n, &e), -1);
}
END_TEST

/* Predictions sorted by (id, time) as ch_predlog_read returns them. */
static struct ch_pred P[] = {
	{ "A", 0, "v1", 0.9, NULL, NULL, 0 },
	{ "A", 0, "v2", 0.2, NULL, NULL, 0 },
	{ "B", 0, "v1", 0.1, NULL, NULL, 0 },
	{ "C", 0, "v2", 0.7, NULL, NULL, 0 },
};

START_TEST(join)
{
	struct ch_outcome o[] = {
		{ "A", 0, 1 },   /* after both A predictions: v2's */
		{ "A", 0, 1 },   /* between them: v1's */
		{ "A", 0, 0 },   /* before any: none */
		{ "B", 0, 0 },   /* 91 days after: past the horizon */
		{ "C", 0, 1 },   /* at the prediction's second: joined */
		{ "D", 0, 1 },   /* never scored */
	};
	struct ch_perf_row *r;
	size_t n;

	P[0].time = T("2026-09-01");
	P[1].time = T("2026-10-01");
	P[2].time = T("2026-07-01");
	P[3].time = T("2026-10-05T12:00:00Z");
	o[0].time = T("2026-10-15");
	o[1].time = T("2026-09-15");
	o[2].time = T("2026-08-15");
	o[3].time = T("2026-07-01") + 91 * DAY;
	o[4].time = T("2026-10-05T12:00:00Z");
	o[5].time = T("2026-10-15");
	n = ch_perf_join(o, 6, P, 4, 90, &r);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(r[0].version, "v2");
	ck_assert_double_eq(r[0].p, 0.2);
	ck_assert_str_eq(r[1].version, "v1");
	ck_assert_double_eq(r[1].p, 0.9);
	ck_assert_str_eq(r[2].id, "C");
	free(r);
	/* a longer horizon reaches B */
	n = ch_perf_join(o, 6, P, 4, 91, &r);
	ck_assert_uint_eq(n, 4);
	free(r);
}
END_TEST

static int
info(void *ctx, const char *v, double *thr, double *hold)
{
	(void)ctx;
	if (strcmp(v, "v1") != 0)
		return -1;
	*thr = 0.3;
	*hold = 0.8;
	return 0;
}

/* The metrics of one version over the y/p of test_metrics (scikit-learn's
 * values there), its calibration table and the periods. */
START_TEST(compute)
{
	static const int y[] = { 0, 0, 1, 1, 0, 1, 0, 1, 1, 0 };
	static const double p[] = { 0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.2, 0.9,
	    0.5, 0.65 };
	struct ch_pred pr[10];
	struct ch_outcome o[10];
	char ids[10][4];
	struct ch_perf_opts opt = { 0, CH_PERF_MONTH };
	json_t *res, *v, *all, *cal, *per;
	double brier = 0;
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(ids[i], sizeof ids[i], "c%d", i);
		pr[i] = (struct ch_pred){ ids[i], T(i < 4 ? "2026-09-10" :
		    "2026-10-10"), "v1", p[i], NULL, NULL, 0 };
		o[i] = (struct ch_outcome){ ids[i], T("2026-11-01"), y[i] };
		brier += (p[i] - y[i]) * (p[i] - y[i]);
	}
	res = ch_perf_compute(o, 10, pr, 10, &opt, info, NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(res, "horizon_days")), 90);
	ck_assert_int_eq(json_integer_value(json_object_get(res, "joined")), 10);
	v = json_array_get(json_object_get(res, "versions"), 0);
	ck_assert_double_eq(json_real_value(json_object_get(v, "threshold")), 0.3);
	ck_assert_double_eq(json_real_value(json_object_get(v, "holdout_roc_auc")), 0.8);
	all = json_object_get(v, "all");
	ck_assert_double_eq_tol(json_real_value(json_object_get(all, "roc_auc")), 0.76, 1e-12);
	ck_assert_double_eq_tol(json_real_value(json_object_get(all, "pr_auc")),
	    0.7892857142857144, 1e-12);
	ck_assert_double_eq_tol(json_real_value(json_object_get(all, "brier")),
	    brier / 10, 1e-12);
	ck_assert_int_eq(json_integer_value(json_object_get(all, "positives")), 5);
	/* at threshold 0.3: 0.35, 0.4 x3, 0.5, 0.65, 0.8, 0.9 are positive */
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(all,
	    "confusion"), "fp")), 3);
	cal = json_object_get(all, "calibration");
	ck_assert_uint_eq(json_array_size(cal), 10);
	/* [0.4, 0.5): the three 0.4s, one churned */
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(cal, 4), "rows")), 3);
	ck_assert_double_eq_tol(json_real_value(json_object_get(json_array_get(cal, 4),
	    "observed_rate")), 1.0 / 3, 1e-12);
	/* 0.1 is in [0.1, 0.2), 0.8 in [0.8, 0.9) */
	ck_assert(json_is_null(json_object_get(json_array_get(cal, 0), "mean_predicted")));
	ck_assert_double_eq_tol(json_real_value(json_object_get(json_array_get(cal, 1),
	    "mean_predicted")), 0.1, 1e-15);
	ck_assert(json_is_null(json_object_get(json_array_get(cal, 7), "mean_predicted")));
	per = json_object_get(v, "periods");
	ck_assert_uint_eq(json_array_size(per), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(per, 0), "period")), "2026-09");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(per, 1), "rows")), 6);
	json_decref(res);
	/* one class only: ROC-AUC null; an unknown version: threshold 0.5 */
	for (i = 0; i < 10; i++)
		pr[i].version = "v9", o[i].outcome = 0;
	res = ch_perf_compute(o, 10, pr, 10, &opt, info, NULL);
	v = json_array_get(json_object_get(res, "versions"), 0);
	ck_assert(json_is_null(json_object_get(json_object_get(v, "all"), "roc_auc")));
	ck_assert_double_eq(json_real_value(json_object_get(v, "threshold")), 0.5);
	ck_assert(json_is_null(json_object_get(v, "holdout_roc_auc")));
	json_decref(res);
	ck_assert_int_eq(ch_perf_by_parse("week"), CH_PERF_WEEK);
	ck_assert_int_eq(ch_perf_by_parse("year"), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("perf");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, times);
	tcase_add_test(tc, outcomes_parse);
	tcase_add_test(tc, join);
	tcase_add_test(tc, compute);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
