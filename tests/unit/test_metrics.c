/* test_metrics.c - unit tests for libchurn/metrics */
#include <check.h>

#include "unit.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define EPS 1e-12

/* Values from scikit-learn 1.x (python3-sklearn), computed once with:
 *   y=[0,0,1,1,0,1,0,1,1,0]; p=[0.1,0.4,0.35,0.8,0.4,0.4,0.2,0.9,0.5,0.65]
 *   roc_auc_score(y,p)          -> 0.76
 *   average_precision_score(y,p)-> 0.7892857142857144
 *   log_loss(y,p)               -> 0.5387741542907509
 *   confusion_matrix(y, p>=0.5) -> tn 4, fp 1, fn 2, tp 3 */
static const uint8_t Y10[] = { 0, 0, 1, 1, 0, 1, 0, 1, 1, 0 };
static const double P10[] = { 0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.2, 0.9, 0.5,
	0.65 };

START_TEST(test_sklearn_values)
{
	struct ch_metrics m;

	ck_assert_int_eq(ch_metrics_compute(P10, Y10, 10, 0.5, &m), 0);
	ck_assert_double_eq_tol(m.roc_auc, 0.76, EPS);
	ck_assert_double_eq_tol(m.pr_auc, 0.7892857142857144, EPS);
	ck_assert_double_eq_tol(m.log_loss, 0.5387741542907509, EPS);
	ck_assert_uint_eq(m.tp, 3);
	ck_assert_uint_eq(m.fp, 1);
	ck_assert_uint_eq(m.tn, 4);
	ck_assert_uint_eq(m.fn, 2);
	ck_assert_double_eq_tol(m.accuracy, 0.7, EPS);
	ck_assert_double_eq_tol(m.precision, 0.75, EPS);
	ck_assert_double_eq_tol(m.recall, 0.6, EPS);
	ck_assert_double_eq_tol(m.f1, 2 * 0.75 * 0.6 / (0.75 + 0.6), EPS);
	ck_assert_uint_eq(m.n, 10);
}
END_TEST

/* By hand: pairs (pos, neg) are (.5,.5) tie = 1/2, (.5,.2) = 1,
 * (.8,.5) = 1, (.8,.2) = 1: AUC 3.5/4.  AP: at .8 recall 1/2 precision 1,
 * at .5 (a tie group: one threshold) recall 1 precision 2/3. */
START_TEST(test_ties_by_hand)
{
	const uint8_t y[] = { 0, 1, 0, 1 };
	const double p[] = { 0.5, 0.5, 0.2, 0.8 };
	struct ch_metrics m;

	ck_assert_int_eq(ch_metrics_compute(p, y, 4, 0.5, &m), 0);
	ck_assert_double_eq_tol(m.roc_auc, 0.875, EPS);
	ck_assert_double_eq_tol(m.pr_auc, 0.5 + 0.5 * 2.0 / 3, EPS);
	/* p >= threshold is positive: both 0.5 count */
	ck_assert_uint_eq(m.tp, 2);
	ck_assert_uint_eq(m.fp, 1);
}
END_TEST

START_TEST(test_all_tied)
{
	const uint8_t y[] = { 0, 1, 1, 0, 1 };
	const double p[] = { 0.3, 0.3, 0.3, 0.3, 0.3 };
	struct ch_metrics m;

	ck_assert_int_eq(ch_metrics_compute(p, y, 5, 0.5, &m), 0);
	ck_assert_double_eq_tol(m.roc_auc, 0.5, EPS);
	ck_assert_double_eq_tol(m.pr_auc, 0.6, EPS);  /* the base rate */
	/* nothing predicted positive: zero_division=0 */
	ck_assert_double_eq(m.precision, 0);
	ck_assert_double_eq(m.recall, 0);
	ck_assert_double_eq(m.f1, 0);
	ck_assert_double_eq_tol(m.accuracy, 0.4, EPS);
}
END_TEST

START_TEST(test_perfect_and_reversed)
{
	const uint8_t y[] = { 0, 0, 1, 1 };
	const double up[] = { 0.1, 0.2, 0.8, 0.9 };
	const double down[] = { 0.9, 0.8, 0.2, 0.1 };
	struct ch_metrics m;

	ch_metrics_compute(up, y, 4, 0.5, &m);
	ck_assert_double_eq(m.roc_auc, 1);
	ck_assert_double_eq(m.pr_auc, 1);
	ck_assert_double_eq(m.accuracy, 1);
	ch_metrics_compute(down, y, 4, 0.5, &m);
	ck_assert_double_eq(m.roc_auc, 0);
	ck_assert_double_eq(m.accuracy, 0);
}
END_TEST

/* log_loss(y=[1,0,1], p=[1,0,0]) with clipping at 1e-15: one row costs
 * -log(1e-15), so the mean is 11.512925464970229 (sklearn agrees). */
START_TEST(test_log_loss_clipped)
{
	const uint8_t y[] = { 1, 0, 1 };
	const double p[] = { 1.0, 0.0, 0.0 };
	struct ch_metrics m;

	ch_metrics_compute(p, y, 3, 0.5, &m);
	ck_assert(isfinite(m.log_loss));
	ck_assert_double_eq_tol(m.log_loss, 11.512925464970229, 1e-9);
}
END_TEST

START_TEST(test_one_class_and_empty)
{
	const uint8_t y[] = { 0, 0, 0 };
	const double p[] = { 0.2, 0.7, 0.1 };
	struct ch_metrics m;

	ck_assert_int_eq(ch_metrics_compute(p, y, 3, 0.5, &m), 0);
	ck_assert(isnan(m.roc_auc));
	ck_assert(isnan(m.pr_auc));
	ck_assert_uint_eq(m.fp, 1);
	ck_assert_double_eq(m.recall, 0);
	ck_assert_int_eq(ch_metrics_compute(p, y, 0, 0.5, &m), -1);
}
END_TEST

START_TEST(test_json)
{
	const uint8_t y[] = { 0, 0, 0 };
	const double p[] = { 0.2, 0.7, 0.1 };
	struct ch_metrics m;
	json_t *j, *c;

	ch_metrics_compute(p, y, 3, 0.5, &m);
	j = ch_metrics_to_json(&m);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_is_null(json_object_get(j, "roc_auc")));
	ck_assert(json_is_null(json_object_get(j, "pr_auc")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "rows")), 3);
	ck_assert_double_eq_tol(json_real_value(json_object_get(j,
	    "accuracy")), 2.0 / 3, EPS);
	ck_assert_double_eq(json_real_value(json_object_get(j, "threshold")),
	    0.5);
	ck_assert(json_is_real(json_object_get(j, "log_loss")));
	c = json_object_get(j, "confusion");
	ck_assert(json_is_object(c));
	ck_assert_int_eq(json_integer_value(json_object_get(c, "fp")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(c, "tn")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(c, "tp")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(c, "fn")), 0);
	json_decref(j);
}
END_TEST

/* Larger tie-heavy case against a brute-force pair count. */
START_TEST(test_auc_bruteforce)
{
	enum { N = 500 };
	double p[N];
	uint8_t y[N];
	double pairs = 0, good = 0;
	struct ch_metrics m;
	unsigned x = 12345;
	int i, j;

	for (i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (x >> 16) % 11 / 10.0;   /* 11 levels: many ties */
		x = x * 1103515245u + 12345u;
		y[i] = (x >> 16) % 3 == 0 || p[i] > 0.8;
	}
	for (i = 0; i < N; i++)
		for (j = 0; j < N; j++)
			if (y[i] && !y[j]) {
				pairs++;
				good += p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0;
			}
	ch_metrics_compute(p, y, N, 0.5, &m);
	ck_assert_double_eq_tol(m.roc_auc, good / pairs, 1e-12);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_sklearn_values);
	tcase_add_test(tc, test_ties_by_hand);
	tcase_add_test(tc, test_all_tied);
	tcase_add_test(tc, test_perfect_and_reversed);
	tcase_add_test(tc, test_log_loss_clipped);
	tcase_add_test(tc, test_one_class_and_empty);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_auc_bruteforce);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(metrics_suite());
}
