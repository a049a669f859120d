/* test_model.c - unit tests for libchurn/model, scorer and train: the file
 * round trip, corruption, scoring equal to the forest, the split */
#include <check.h>

#include "unit.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "scorer.h"
#include "train.h"

/* A small data set with numeric, categorical and missing values. */
static char *
data(size_t n, unsigned seed)
{
	char *t = malloc(n * 48 + 64);
	size_t len = 0, i;
	struct ch_rng r;
	static const char *plan[] = { "basic", "plus", "pro", "" };

	ch_rng_seed(&r, seed);
	len += (size_t)sprintf(t, "id,tenure,charge,plan,Churn\n");
	for (i = 0; i < n; i++) {
		int ten = (int)ch_rng_below(&r, 72), p = (int)ch_rng_below(&r, 4);
		double ch = 20 + 100 * ch_rng_unit(&r);
		int y = ch_rng_unit(&r) < (ten < 12 ? 0.6 : 0.15) + (p == 2 ? 0.2 : 0);

		if (ch_rng_below(&r, 20) == 0)
			len += (size_t)sprintf(t + len, "c%zu,%d,,%s,%s\n", i, ten, plan[p], y ? "Yes" : "No");
		else
			len += (size_t)sprintf(t + len, "c%zu,%d,%.2f,%s,%s\n", i, ten, ch, plan[p], y ? "Yes" : "No");
	}
	return t;
}

/* The forest, uncalibrated: the scorer must equal the forest's walk
 * (test_gbdt.c covers boosting and calibration). */
static struct ch_model *
train_shaped(const char *path, struct ch_train_result *r, int trees,
    int max_depth, int min_leaf)
{
	char *t = data(2000, 3);
	FILE *fp = fmemopen(t, strlen(t), "r");
	struct ch_frame_opts fo = { .id = "id" };
	struct ch_train_opts o;
	struct ch_err e;

	ch_train_defaults(&o);
	o.forest.trees = trees;
	o.forest.max_depth = max_depth;
	if (min_leaf > 0)
		o.forest.min_leaf = min_leaf;
	o.forest.jobs = 2;
	o.learner = CH_CHOOSE_FOREST;
	o.calibrate = CH_CALIB_NONE;
	o.output = path;
	o.now = 1764115200;
	ck_assert_msg(ch_train(fp, "t.csv", &fo, &o, r, &e) == 0, "%s", e.msg);
	fclose(fp);
	free(t);
	return r->model;
}

static struct ch_model *
train(const char *path, struct ch_train_result *r)
{
	return train_shaped(path, r, 20, 0, 0);
}

/* Both layouts of the scorer (QuickScorer bitvectors for trees of at most
 * 64 leaves, walks for larger ones), in groups of 32 trees and a ragged
 * rest, on batches of every size: the forest's own walk exactly. */
START_TEST(scorer_layouts)
{
	static const int shape[][3] = { { 45, 5, 0 }, { 70, 6, 1 },
	    { 37, 0, 1 } };
	char path[] = "/tmp/test_model.XXXXXX";
	int fd = mkstemp(path), k, big = 0;
	struct ch_train_result r;
	struct ch_model *m;
	size_t n = 300, i, b, len;
	uint8_t *x = malloc(n * 3);
	double *p = malloc(n * sizeof *p);
	struct ch_rng g;

	close(fd);
	for (k = 0; k < 3; k++) {
		m = train_shaped(path, &r, shape[k][0], shape[k][1], shape[k][2]);
		for (i = 0; i < (size_t)m->forest->ntrees; i++)
			big |= m->forest->trees[i].nnodes > 127;
		ch_rng_seed(&g, 9 + (unsigned)k);
		for (i = 0; i < n * 3; i++)
			x[i] = ch_rng_below(&g, 10) == 0 ? CH_MISSING :
			    (uint8_t)ch_rng_below(&g, (uint64_t)m->schema->f[i % 3].nbins);
		for (b = 0; b < n; b += len) {
			len = b % 7 + 1 < n - b ? b % 7 + 1 : n - b;
			ch_scorer_run(m->scorer, x + 3 * b, len, p + b);
		}
		for (i = 0; i < n; i++)
			ck_assert(p[i] == ch_forest_predict(m->forest, x + 3 * i));
		ch_train_result_free(&r);
	}
	ck_assert_msg(big, "no model with a tree of more than 64 leaves");
	free(x);
	free(p);
	unlink(path);
}
END_TEST

START_TEST(round_trip)
{
	char path[] = "/tmp/test_model.XXXXXX";
	int fd = mkstemp(path);
	struct ch_train_result r;
	struct ch_model *m = train(path, &r), *back;
	struct ch_err e;
	uint8_t x[3];
	int a, b, c;

	close(fd);
	ck_assert_str_eq(m->version, "v20251126-000000");
	ck_assert_int_eq(ch_model_load(path, &back, &e), 0);
	ck_assert_str_eq(back->version, m->version);
	ck_assert_str_eq(back->sha256, m->sha256);
	ck_assert_int_eq(back->schema->nfeat, 3);
	ck_assert(back->threshold == 0.5);
	ck_assert_int_eq(back->pred_ref.total, m->pred_ref.total);
	ck_assert(json_equal(json_object_get(back->meta, "metrics"),
	    json_object_get(m->meta, "metrics")));
	/* every combination of codes scores the same after the round trip,
	 * and the scorer agrees with the forest's own walk */
	for (a = 0; a < 256; a += 5)
		for (b = 0; b < 256; b += 17)
			for (c = 0; c < 4; c++) {
				x[0] = (uint8_t)a, x[1] = (uint8_t)b;
				x[2] = c == 3 ? CH_MISSING : (uint8_t)c;
				if (x[0] != CH_MISSING && x[0] >= m->schema->f[0].nbins)
					continue;
				if (x[1] != CH_MISSING && x[1] >= m->schema->f[1].nbins)
					continue;
				ck_assert(ch_model_predict(back, x) == ch_model_predict(m, x));
				ck_assert(ch_model_predict(m, x) == ch_forest_predict(m->forest, x));
			}
	/* a re-encoded model is byte for byte the file */
	{
		unsigned char *buf;
		size_t len, flen;
		char *file = ch_read_file(path, &flen, &e);

		ck_assert_int_eq(ch_model_encode(back, &buf, &len, &e), 0);
		ck_assert_uint_eq(len, flen);
		ck_assert(memcmp(buf, file, len) == 0);
		free(buf);
		free(file);
	}
	ch_model_free(back);
	ch_train_result_free(&r);
	unlink(path);
}
END_TEST

START_TEST(batch_equals_single)
{
	char path[] = "/tmp/test_model.XXXXXX";
	int fd = mkstemp(path);
	struct ch_train_result r;
	struct ch_model *m = train(path, &r);
	size_t n = 1000, i;
	uint8_t *x = malloc(n * 3);
	double *p = malloc(n * sizeof *p);
	struct ch_rng g;

	close(fd);
	ch_rng_seed(&g, 9);
	for (i = 0; i < n * 3; i++)
		x[i] = ch_rng_below(&g, 10) == 0 ? CH_MISSING :
		    (uint8_t)ch_rng_below(&g, (uint64_t)m->schema->f[i % 3].nbins);
	ch_model_predict_batch(m, x, n, p, 3);
	for (i = 0; i < n; i++)
		ck_assert(p[i] == ch_forest_predict(m->forest, x + 3 * i));
	free(x);
	free(p);
	ch_train_result_free(&r);
	unlink(path);
}
END_TEST

START_TEST(corruption)
{
	char path[] = "/tmp/test_model.XXXXXX";
	int fd = mkstemp(path);
	struct ch_train_result r;
	struct ch_model *m;
	struct ch_err e;
	unsigned char *buf, *bad;
	size_t len, cut, i;

	close(fd);
	train(path, &r);
	ck_assert_int_eq(ch_model_encode(r.model, &buf, &len, &e), 0);
	bad = malloc(len);
	/* every truncation fails cleanly */
	for (cut = 0; cut < len; cut += 1 + cut / 16) {
		ck_assert_int_eq(ch_model_decode(buf, cut, "m", &m, &e), -1);
		ck_assert(strstr(e.msg, "truncated") || strstr(e.msg, "not a churn model"));
	}
	/* a flipped byte anywhere in the payload fails the checksum */
	for (i = 56; i < len; i += 997) {
		memcpy(bad, buf, len);
		bad[i] ^= 0x10;
		ck_assert_int_eq(ch_model_decode(bad, len, "m", &m, &e), -1);
		ck_assert_str_eq(e.msg, "m: corrupt model: SHA-256 of the payload does not match");
	}
	memcpy(bad, buf, len);
	bad[8] = 3;
	ck_assert_int_eq(ch_model_decode(bad, len, "m", &m, &e), -1);
	ck_assert_str_eq(e.msg, "m: model format 3 is newer than this program reads (2): upgrade churn");
	memcpy(bad, "GIF89a..", 8);
	ck_assert_int_eq(ch_model_decode(bad, len, "m", &m, &e), -1);
	ck_assert_str_eq(e.msg, "m: not a churn model (bad magic)");
	ck_assert_int_eq(ch_model_decode(buf, len, "m", &m, &e), 0);
	ch_model_free(m);
	free(bad);
	free(buf);
	ch_train_result_free(&r);
	unlink(path);
}
END_TEST

START_TEST(forest_check)
{
	struct ch_node nodes[3] = {
		{ .feat = 0, .arg = 3, .left = 1, .right = 2 },
		{ .feat = -1, .value = 0.25f },
		{ .feat = -1, .value = 0.75f },
	};
	struct ch_tree t = { 3, nodes, 0, NULL };
	struct ch_forest f = { .nfeat = 1, .ntrees = 1, .trees = &t };
	struct ch_err e;

	ck_assert_int_eq(ch_forest_check(&f, &e), 0);
	nodes[0].left = 0;      /* a cycle */
	ck_assert_int_eq(ch_forest_check(&f, &e), -1);
	nodes[0].left = 7;      /* out of range */
	ck_assert_int_eq(ch_forest_check(&f, &e), -1);
	nodes[0].left = 1;
	nodes[0].feat = 4;      /* no such feature */
	ck_assert_int_eq(ch_forest_check(&f, &e), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("model");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, batch_equals_single);
	tcase_add_test(tc, scorer_layouts);
	tcase_add_test(tc, corruption);
	tcase_add_test(tc, forest_check);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
