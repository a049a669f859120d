/* test_compare.c - champion against challenger: the point values equal
 * the metrics' own, the intervals hold them, identical sides have PSI 0
 * and a difference of 0, unlabelled rows give nulls */
#include <math.h>

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

int
main(void)
{
	Suite *s = suite_create("compare");
	TCase *tc = tcase_create("compare");

	tcase_add_test(tc, values_and_intervals);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
