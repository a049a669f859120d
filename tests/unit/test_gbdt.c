/* test_gbdt.c - unit tests for libchurn/gbdt and calib: the boosted trees
 * on the forest's invariants (missing values, unseen categories,
 * determinism, corrupt files), the model round trip, calibration */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calib.h"
#include "gbdt.h"
#include "model.h"
#include "schema.h"
#include "train.h"

struct ds {
	struct ch_train_data d;
	uint8_t *cols[4];
	uint8_t *y;
	int nbins[4];
	uint8_t cat[4];
};

/* feature 0 numeric (10 bins) carries the signal: code >= 5 is mostly
 * positive; feature 1 categorical (6 categories): 2 and 4 positive-leaning;
 * feature 2 noise */
static struct ds *
ds_new(size_t n, unsigned seed)
{
	struct ds *s = calloc(1, sizeof *s);
	struct ch_rng r;
	size_t i;
	int f;

	ch_rng_seed(&r, seed);
	for (f = 0; f < 3; f++)
		s->cols[f] = calloc(n, 1);
	s->y = calloc(n, 1);
	s->nbins[0] = 10, s->nbins[1] = 6, s->nbins[2] = 10;
	s->cat[1] = 1;
	for (i = 0; i < n; i++) {
		int a = (int)ch_rng_below(&r, 10), b = (int)ch_rng_below(&r, 6);
		double p = (a >= 5 ? 0.7 : 0.1) + (b == 2 || b == 4 ? 0.25 : 0);

		s->cols[0][i] = (uint8_t)a;
		s->cols[1][i] = (uint8_t)b;
		s->cols[2][i] = (uint8_t)ch_rng_below(&r, 10);
		s->y[i] = ch_rng_unit(&r) < p;
	}
	s->d = (struct ch_train_data){ n, 3, s->cols, s->y, s->nbins, s->cat };
	return s;
}

static void
ds_free(struct ds *s)
{
	int f;

	for (f = 0; f < 3; f++)
		free(s->cols[f]);
	free(s->y);
	free(s);
}

static struct ch_gbdt_params
params(void)
{
	struct ch_gbdt_params p;

	ch_gbdt_defaults(&p);
	p.max_iter = 60;
	return p;
}

static double
predict3(const struct ch_forest *f, int a, int b, int c)
{
	uint8_t x[3] = { (uint8_t)a, (uint8_t)b, (uint8_t)c };

	return ch_forest_predict(f, x);
}

START_TEST(learns_signal)
{
	struct ds *s = ds_new(4000, 1);
	struct ch_gbdt_params p = params();
	struct ch_forest *f;
	struct ch_gbdt_stats st;
	struct ch_err e;

	ck_assert_int_eq(ch_gbdt_train(&s->d, &p, NULL, &f, &st, &e), 0);
	ck_assert_int_eq(f->learner, CH_LEARN_GBDT);
	ck_assert_int_eq(f->ntrees, 60);
	ck_assert_int_eq(ch_forest_check(f, &e), 0);
	ck_assert(predict3(f, 7, 0, 3) > 0.5);
	ck_assert(predict3(f, 2, 0, 3) < 0.25);
	/* the categorical split: 2 and 4 above 0, 1, 3, 5 */
	ck_assert(predict3(f, 2, 2, 3) > predict3(f, 2, 1, 3));
	ck_assert(predict3(f, 2, 4, 3) > predict3(f, 2, 5, 3));
	ck_assert(st.importance[0] > st.importance[2]);
	ck_assert(fabs(st.importance[0] + st.importance[1] + st.importance[2] - 1) < 1e-9);
	ch_forest_free(f);
	ch_gbdt_stats_free(&st);
	ds_free(s);
}
END_TEST

START_TEST(deterministic)
{
	struct ds *s = ds_new(3000, 2);
	struct ch_gbdt_params p = params();
	struct ch_forest *a, *b;
	struct ch_err e;
	int t;

	ck_assert_int_eq(ch_gbdt_train(&s->d, &p, NULL, &a, NULL, &e), 0);
	ck_assert_int_eq(ch_gbdt_train(&s->d, &p, NULL, &b, NULL, &e), 0);
	ck_assert_int_eq(a->ntrees, b->ntrees);
	ck_assert(a->base == b->base);
	for (t = 0; t < a->ntrees; t++) {
		ck_assert_uint_eq(a->trees[t].nnodes, b->trees[t].nnodes);
		ck_assert(memcmp(a->trees[t].nodes, b->trees[t].nodes,
		    a->trees[t].nnodes * sizeof *a->trees[t].nodes) == 0);
	}
	ch_forest_free(a);
	ch_forest_free(b);
	ds_free(s);
}
END_TEST

/* Missing values: when the training rows with feature 0 missing are all
 * positive, missing goes to the positive side; when none is missing in
 * training, missing (an unseen category too) still scores finitely. */
START_TEST(missing_learnt)
{
	struct ds *s = ds_new(4000, 3);
	struct ch_gbdt_params p = params();
	struct ch_forest *f;
	struct ch_err e;
	size_t i;

	for (i = 0; i < 4000; i += 7) {
		s->cols[0][i] = CH_MISSING;
		s->y[i] = 1;
	}
	ck_assert_int_eq(ch_gbdt_train(&s->d, &p, NULL, &f, NULL, &e), 0);
	ck_assert(predict3(f, CH_MISSING, 0, 3) > 0.8);
	ck_assert(predict3(f, 2, 0, 3) < 0.3);
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

START_TEST(unseen_category)
{
	struct ds *s = ds_new(3000, 4);
	struct ch_gbdt_params p = params();
	struct ch_forest *f;
	struct ch_err e;
	double q;

	ck_assert_int_eq(ch_gbdt_train(&s->d, &p, NULL, &f, NULL, &e), 0);
	/* never missing in training: a missing or unseen code follows the
	 * side with more rows, and the score stays a probability */
	q = predict3(f, 7, CH_MISSING, CH_MISSING);
	ck_assert(q > 0 && q < 1);
	q = predict3(f, CH_MISSING, CH_MISSING, CH_MISSING);
	ck_assert(q > 0 && q < 1);
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

START_TEST(early_stopping)
{
	struct ds *s = ds_new(3000, 5);
	struct ch_gbdt_params p = params();
	struct ch_forest *f;
	struct ch_gbdt_stats st;
	struct ch_err e;
	uint8_t *valid = calloc(3000, 1);
	size_t i;

	for (i = 0; i < 3000; i += 5)
		valid[i] = 1;
	p.max_iter = 1000;
	p.learning_rate = 0.3;
	p.min_leaf = 1;
	ck_assert_int_eq(ch_gbdt_train(&s->d, &p, valid, &f, &st, &e), 0);
	/* a simple signal at a high rate overfits soon: stopped well before */
	ck_assert_int_lt(f->ntrees, 200);
	ck_assert_int_eq(st.iterations, f->ntrees);
	ck_assert(isfinite(st.valid_logloss));
	ck_assert(!isnan(st.valid_prob[0]) && isnan(st.valid_prob[1]));
	ch_forest_free(f);
	ch_gbdt_stats_free(&st);
	free(valid);
	ds_free(s);
}
END_TEST

START_TEST(bad_input)
{
	struct ds *s = ds_new(100, 6);
	struct ch_gbdt_params p = params();
	struct ch_forest *f;
	struct ch_err e;

	s->cols[0][5] = 12;     /* not below nbins, not missing */
	ck_assert_int_eq(ch_gbdt_train(&s->d, &p, NULL, &f, NULL, &e), -1);
	ck_assert(strstr(e.msg, "row 5") != NULL);
	s->cols[0][5] = 1;
	p.max_leaves = 1;
	ck_assert_int_eq(ch_gbdt_train(&s->d, &p, NULL, &f, NULL, &e), -1);
	ds_free(s);
}
END_TEST

/* A model file of boosted trees: the leaves are log-odds, so a leaf out
 * of [0, 1] is fine, a non-finite one is not. */
START_TEST(check_rejects)
{
	struct ch_node nodes[3] = {
		{ .feat = 0, .arg = 3, .left = 1, .right = 2 },
		{ .feat = -1, .value = -2.5f },
		{ .feat = -1, .value = 3.0f },
	};
	struct ch_tree t = { 3, nodes, 0, NULL };
	struct ch_forest f = { .nfeat = 1, .ntrees = 1, .trees = &t,
	    .learner = CH_LEARN_GBDT, .base = -1 };
	struct ch_err e;
	uint8_t x = 1;

	ck_assert_int_eq(ch_forest_check(&f, &e), 0);
	ck_assert(fabs(ch_forest_predict(&f, &x) - 1 / (1 + exp(3.5))) < 1e-12);
	f.learner = CH_LEARN_FOREST;
	ck_assert_int_eq(ch_forest_check(&f, &e), -1);
	f.learner = CH_LEARN_GBDT;
	nodes[1].value = NAN;
	ck_assert_int_eq(ch_forest_check(&f, &e), -1);
	nodes[1].value = 0;
	f.base = INFINITY;
	ck_assert_int_eq(ch_forest_check(&f, &e), -1);
}
END_TEST

/* churn-train with the boosted trees and calibration: the file round trip
 * scores the same, the scorer equals the trees' walk plus calibration,
 * batch equals single, and corrupt metadata is refused. */
START_TEST(model_round_trip)
{
	char path[] = "/tmp/test_gbdt.XXXXXX";
	int fd = mkstemp(path), i, k;
	struct ch_train_result r;
	struct ch_train_opts o;
	struct ch_frame_opts fo = { 0 };
	struct ch_model *m, *back;
	struct ch_err e;
	char *csv = malloc(3000 * 40 + 64);
	size_t len = 0, n = 500;
	struct ch_rng g;
	FILE *fp;
	unsigned char *buf;
	uint8_t *x = malloc(n * 3);
	double *pb = malloc(n * sizeof *pb);

	close(fd);
	ch_rng_seed(&g, 11);
	len += (size_t)sprintf(csv, "a,plan,b,Churn\n");
	for (i = 0; i < 3000; i++) {
		int a = (int)ch_rng_below(&g, 100), p = (int)ch_rng_below(&g, 4);
		int y = ch_rng_unit(&g) < (a < 30 ? 0.6 : 0.1) + (p == 1 ? 0.2 : 0);

		if (i % 11 == 0)
			len += (size_t)sprintf(csv + len, ",p%d,%d,%s\n", p,
			    (int)ch_rng_below(&g, 50), y ? "Yes" : "No");
		else
			len += (size_t)sprintf(csv + len, "%d,p%d,%d,%s\n", a, p,
			    (int)ch_rng_below(&g, 50), y ? "Yes" : "No");
	}
	fp = fmemopen(csv, len, "r");
	ch_train_defaults(&o);
	o.learner = CH_CHOOSE_GBDT;
	o.calibrate = CH_CALIB_PLATT;
	o.output = path;
	o.now = 1764115200;
	o.forest.jobs = 2;
	ck_assert_msg(ch_train(fp, "t.csv", &fo, &o, &r, &e) == 0, "%s", e.msg);
	fclose(fp);
	m = r.model;
	ck_assert_int_eq(m->forest->learner, CH_LEARN_GBDT);
	ck_assert_int_eq(m->calib.method, CH_CALIB_PLATT);
	ck_assert(r.has_metrics && r.metrics.roc_auc > 0.7);
	ck_assert_int_eq(ch_model_load(path, &back, &e), 0);
	ck_assert_int_eq(back->forest->learner, CH_LEARN_GBDT);
	ck_assert(back->forest->base == m->forest->base);
	ck_assert_int_eq(back->calib.method, CH_CALIB_PLATT);
	for (k = 0; k < (int)n * 3; k++)
		x[k] = ch_rng_below(&g, 8) == 0 ? CH_MISSING :
		    (uint8_t)ch_rng_below(&g, (uint64_t)m->schema->f[k % 3].nbins);
	ch_model_predict_batch(back, x, n, pb, 3);
	for (k = 0; k < (int)n; k++) {
		double p1 = ch_model_predict(m, x + 3 * k);

		ck_assert(pb[k] == p1);
		ck_assert(ch_model_predict(back, x + 3 * k) == p1);
		ck_assert(p1 == ch_calib_apply(&m->calib,
		    ch_forest_predict(m->forest, x + 3 * k)));
	}
	/* re-encoding gives the file byte for byte */
	{
		size_t blen, flen;
		char *file = ch_read_file(path, &flen, &e);

		ck_assert_int_eq(ch_model_encode(back, &buf, &blen, &e), 0);
		ck_assert_uint_eq(blen, flen);
		ck_assert(memcmp(buf, file, blen) == 0);
		free(buf);
		free(file);
	}
	/* corrupt metadata (checksum recomputed): an unknown learner, boosted
	 * trees without their base score */
	{
		json_t *keep = json_object_get(back->meta, "learner");
		struct ch_model *bad;
		size_t blen;

		json_incref(keep);
		back->forest->learner = CH_LEARN_FOREST;  /* leaves not in [0,1] */
		ck_assert_int_eq(ch_model_encode(back, &buf, &blen, &e), 0);
		ck_assert_int_eq(ch_model_decode(buf, blen, "m", &bad, &e), -1);
		ck_assert(strstr(e.msg, "corrupt model") != NULL);
		free(buf);
		back->forest->learner = CH_LEARN_GBDT;
		json_decref(keep);
	}
	ch_model_free(back);
	ch_train_result_free(&r);
	unlink(path);
	free(csv);
	free(x);
	free(pb);
}
END_TEST

START_TEST(calibration)
{
	size_t n = 4000, i;
	double *p = malloc(n * sizeof *p), q;
	uint8_t *y = malloc(n);
	struct ch_rng g;
	struct ch_calib c, back;
	struct ch_err e;
	json_t *j;

	/* scores that are too confident: the truth is 0.25 + p / 2 */
	ch_rng_seed(&g, 3);
	for (i = 0; i < n; i++) {
		p[i] = ch_rng_unit(&g);
		y[i] = ch_rng_unit(&g) < 0.25 + p[i] / 2;
	}
	ck_assert(ch_calib_cv_logloss(CH_CALIB_PLATT, p, y, n, 5, 1) < ch_logloss(p, y, n));
	ck_assert(ch_calib_cv_logloss(CH_CALIB_ISOTONIC, p, y, n, 5, 1) < ch_logloss(p, y, n));
	ch_calib_fit(&c, CH_CALIB_ISOTONIC, p, y, n);
	/* monotone, inside (0, 1) */
	for (q = 0, i = 0; i <= 100; i++) {
		double v = ch_calib_apply(&c, i / 100.0);

		ck_assert(v >= q && v > 0 && v < 1);
		q = v;
	}
	ck_assert(fabs(ch_calib_apply(&c, 0.5) - 0.5) < 0.1);
	j = ch_calib_to_json(&c);
	ck_assert_int_eq(ch_calib_from_json(j, &back, &e), 0);
	ck_assert(ch_calib_apply(&back, 0.37) == ch_calib_apply(&c, 0.37));
	json_decref(j);
	ch_calib_free(&back);
	ch_calib_free(&c);
	ch_calib_fit(&c, CH_CALIB_PLATT, p, y, n);
	ck_assert(c.a > 0 && c.a < 1);
	j = json_pack("{s:s, s:[f, f], s:[f]}", "method", "isotonic", "x", 0.1, 0.2, "y", 0.3);
	ck_assert_int_eq(ch_calib_from_json(j, &back, &e), -1);
	json_decref(j);
	j = json_pack("{s:s}", "method", "magic");
	ck_assert_int_eq(ch_calib_from_json(j, &back, &e), -1);
	json_decref(j);
	ch_calib_free(&c);
	free(p);
	free(y);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("gbdt");
	TCase *tc = tcase_create("gbdt");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, learns_signal);
	tcase_add_test(tc, deterministic);
	tcase_add_test(tc, missing_learnt);
	tcase_add_test(tc, unseen_category);
	tcase_add_test(tc, early_stopping);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, check_rejects);
	tcase_add_test(tc, model_round_trip);
	tcase_add_test(tc, calibration);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
