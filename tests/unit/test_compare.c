/* test_compare.c - champion against challenger: the point values equal
 * the metrics' own, the intervals hold them, identical sides have PSI 0
 * and a difference of 0, unlabelled rows give nulls; paired (shadow)
 * intervals of a difference are those of the same customers; the verdict
 * follows its rule, read from the environment */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "unit.h"

#include "compare.h"
#include "metrics.h"

START_TEST(values_and_intervals)
{
	struct ch_cmp_side a = { .version = "va" }, b = { .version = "vb" };
	struct ch_metrics m;
	struct ch_rng rng;
	double pa[400];
	uint8_t ya[400];
	json_t *r, *v;
	int i;

	ch_rng_seed(&rng, 3);
	for (i = 0; i < 400; i++) {
		int y = ch_rng_unit(&rng) < 0.3;
		double p = fmin(0.99, fmax(0.01, 0.3 * y + 0.7 * ch_rng_unit(&rng)));

		pa[i] = p, ya[i] = (uint8_t)y;
		ch_cmp_add(&a, p, y);
		ch_cmp_add(&b, p, y);
	}
	ch_cmp_add(&a, 0.5, -1);	/* unlabelled: counted, not measured */
	r = ch_compare(&a, &b, 100, 1);
	v = json_array_get(json_object_get(r, "versions"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(v, "rows")), 401);
	ck_assert_int_eq(json_integer_value(json_object_get(v, "labelled")), 400);
	ck_assert_int_eq(ch_metrics_compute(pa, ya, 400, 0.5, &m), 0);
	ck_assert_double_eq_tol(json_real_value(json_object_get(v, "roc_auc")),
	    m.roc_auc, 1e-12);
	ck_assert_double_eq_tol(json_real_value(json_object_get(v, "log_loss")),
	    m.log_loss, 1e-12);
	ck_assert(json_real_value(json_array_get(json_object_get(v,
	    "roc_auc_ci"), 0)) <= m.roc_auc);
	ck_assert(json_real_value(json_array_get(json_object_get(v,
	    "roc_auc_ci"), 1)) >= m.roc_auc);
	ck_assert_double_eq_tol(json_real_value(json_object_get(r,
	    "roc_auc_diff")), 0, 1e-12);
	ck_assert(json_real_value(json_object_get(r, "psi")) < 1e-3);
	json_decref(r);
	ch_cmp_free(&a);
	ch_cmp_free(&b);

	/* nothing labelled: nulls, no crash */
	ch_cmp_add(&a, 0.2, -1);
	r = ch_compare(&a, &b, 50, 1);
	v = json_array_get(json_object_get(r, "versions"), 0);
	ck_assert(json_is_null(json_object_get(v, "roc_auc")));
	ck_assert(json_is_null(json_object_get(v, "roc_auc_ci")));
	ck_assert(json_is_null(json_object_get(r, "psi")));
	json_decref(r);
	ch_cmp_free(&a);
}
END_TEST

/* the width of cmp's interval k */
static double
width(json_t *cmp, const char *k)
{
	json_t *ci = json_object_get(cmp, k);

	ck_assert(json_is_array(ci));
	return json_real_value(json_array_get(ci, 1)) -
	    json_real_value(json_array_get(ci, 0));
}

START_TEST(paired_differences)
{
	struct ch_cmp_side a = { .version = "va" }, b = { .version = "vb" },
	    c = { .version = "vc" };
	struct ch_rng rng;
	json_t *pr, *un;
	int i;

	ch_rng_seed(&rng, 5);
	for (i = 0; i < 600; i++) {
		int y = ch_rng_unit(&rng) < 0.3;
		double p = fmin(0.99, fmax(0.01, 0.3 * y + 0.7 * ch_rng_unit(&rng)));

		ch_cmp_add(&a, p, y);
		/* the challenger: the champion's score, a little sharper */
		ch_cmp_add(&b, fmin(0.99, fmax(0.01, p + (y ? 0.05 : -0.05) *
		    ch_rng_unit(&rng))), y);
	}
	pr = ch_compare_paired(&a, &b, 200, 1);
	un = ch_compare(&a, &b, 200, 1);
	ck_assert(json_is_true(json_object_get(pr, "paired")));
	ck_assert(json_is_false(json_object_get(un, "paired")));
	/* the same point values either way */
	ck_assert_double_eq_tol(json_real_value(json_object_get(pr,
	    "roc_auc_diff")), json_real_value(json_object_get(un,
	    "roc_auc_diff")), 1e-12);
	ck_assert(json_real_value(json_object_get(pr, "roc_auc_diff")) > 0);
	/* the same customers' two scores move together: the paired interval
	 * of the difference is far narrower, and here above 0 */
	ck_assert(width(pr, "roc_auc_diff_ci") < width(un, "roc_auc_diff_ci") / 2);
	ck_assert(width(pr, "log_loss_diff_ci") < width(un, "log_loss_diff_ci") / 2);
	ck_assert(json_real_value(json_array_get(json_object_get(pr,
	    "roc_auc_diff_ci"), 0)) > 0);
	json_decref(pr);
	json_decref(un);
	/* identical scores: a paired difference of exactly 0 */
	pr = ch_compare_paired(&a, &a, 50, 1);
	ck_assert_double_eq(width(pr, "roc_auc_diff_ci"), 0);
	json_decref(pr);
	/* sides of different lengths are no pairs */
	ch_cmp_add(&c, 0.5, 1);
	ck_assert_ptr_null(ch_compare_paired(&a, &c, 50, 1));
	ch_cmp_free(&a);
	ch_cmp_free(&b);
	ch_cmp_free(&c);
}
END_TEST

/* a ch_compare answer of rows challenger rows, la and lb labelled, the
 * ROC-AUC difference interval [lo, hi] (NAN: none) */
static json_t *
fake(long rows, long la, long lb, double lo, double hi)
{
	return json_pack("{s:[{s:I,s:I},{s:I,s:I}],s:o}", "versions", "rows",
	    (json_int_t)5000, "labelled", (json_int_t)la, "rows",
	    (json_int_t)rows, "labelled", (json_int_t)lb, "roc_auc_diff_ci",
	    isnan(lo) ? json_null() : json_pack("[f,f]", lo, hi));
}

static const char *
verdict(json_t *cmp, const struct ch_verdict_rule *rule)
{
	static char v[16];

	ch_compare_verdict(cmp, rule);
	snprintf(v, sizeof v, "%s", json_string_value(json_object_get(cmp,
	    "verdict")));
	ck_assert(json_is_string(json_object_get(cmp, "verdict_reason")));
	json_decref(cmp);
	return v;
}

static const char *env_margin = "0.02";
static char *
fakeenv(const char *k)
{
	return strcmp(k, "CHURN_PROMOTE_MARGIN") == 0 ? (char *)env_margin :
	    strcmp(k, "CHURN_PROMOTE_MIN_ROWS") == 0 ? (char *)"10" : NULL;
}

START_TEST(verdict_rule)
{
	struct ch_verdict_rule rule = CH_VERDICT_RULE_INIT;
	struct ch_err e;

	ck_assert_str_eq(verdict(fake(999, 500, 500, 0.1, 0.2), &rule), "wait");
	ck_assert_str_eq(verdict(fake(1000, 199, 500, 0.1, 0.2), &rule), "wait");
	ck_assert_str_eq(verdict(fake(1000, 500, 500, NAN, 0), &rule), "wait");
	ck_assert_str_eq(verdict(fake(1000, 500, 500, -0.01, 0.2), &rule),
	    "promote");
	ck_assert_str_eq(verdict(fake(1000, 500, 500, -0.02, 0.2), &rule),
	    "wait");
	ck_assert_str_eq(verdict(fake(1000, 500, 500, -0.2, -0.011), &rule),
	    "rollback");
	ck_assert_str_eq(verdict(fake(1000, 500, 500, -0.2, -0.01), &rule),
	    "wait");
	/* from the environment: the rest left as it was */
	ck_assert_int_eq(ch_verdict_rule_fill(&rule, fakeenv, &e), 0);
	ck_assert_int_eq(rule.min_rows, 10);
	ck_assert_int_eq(rule.min_labelled, 200);
	ck_assert_double_eq(rule.margin, 0.02);
	ck_assert_str_eq(verdict(fake(10, 500, 500, -0.02, 0.2), &rule),
	    "promote");
	env_margin = "x";
	ck_assert_int_eq(ch_verdict_rule_fill(&rule, fakeenv, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "CHURN_PROMOTE_MARGIN: 'x'"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("compare");
	TCase *tc = tcase_create("compare");

	tcase_add_test(tc, values_and_intervals);
	tcase_add_test(tc, paired_differences);
	tcase_add_test(tc, verdict_rule);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
