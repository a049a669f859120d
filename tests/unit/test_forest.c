/* test_forest.c - unit tests for libchurn/forest */
#include <check.h>

#include "unit.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "forest.h"
#include "schema.h"

/* A data set under construction: nfeat columns of n codes. */
struct ds {
	struct ch_train_data d;
	uint8_t *cols[8];
	uint8_t *y;
	int nbins[8];
	uint8_t cat[8];
};

static struct ds *
ds_new(size_t n, int nfeat)
{
	struct ds *s = calloc(1, sizeof *s);
	int f;

	ck_assert_int_le(nfeat, 8);
	for (f = 0; f < nfeat; f++) {
		s->cols[f] = calloc(n, 1);
		s->nbins[f] = 10;
	}
	s->y = calloc(n, 1);
	s->d.n = n;
	s->d.nfeat = nfeat;
	s->d.codes = s->cols;
	s->d.y = s->y;
	s->d.nbins = s->nbins;
	s->d.categorical = s->cat;
	return s;
}

static void
ds_free(struct ds *s)
{
	int f;

	for (f = 0; f < s->d.nfeat; f++)
		free(s->cols[f]);
	free(s->y);
	free(s);
}

static struct ch_forest_params
params(int trees)
{
	struct ch_forest_params p = {
		.trees = trees, .max_depth = 0, .min_leaf = 1, .mf = CH_MF_SQRT,
		.mf_value = 0, .balanced = 0, .seed = 7, .jobs = 1,
	};

	return p;
}

static struct ch_forest *
train(struct ds *s, const struct ch_forest_params *p,
    struct ch_forest_stats *st)
{
	struct ch_forest *f = NULL;
	struct ch_err e = { "" };

	if (ch_forest_train(&s->d, p, &f, st, NULL, NULL, &e) != 0)
		ck_abort_msg("training failed: %s", e.msg);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(ch_forest_check(f, &e), 0);
	return f;
}

static double
predict_row(const struct ch_forest *f, const struct ds *s, size_t i)
{
	uint8_t x[8];
	int k;

	for (k = 0; k < s->d.nfeat; k++)
		x[k] = s->cols[k][i];
	return ch_forest_predict(f, x);
}

static double
train_accuracy(const struct ch_forest *f, const struct ds *s)
{
	size_t i, ok = 0;

	for (i = 0; i < s->d.n; i++)
		ok += (predict_row(f, s, i) >= 0.5) == s->y[i];
	return (double)ok / s->d.n;
}

static int
depth_of(const struct ch_tree *t, int32_t i)
{
	int l, r;

	if (t->nodes[i].feat < 0)
		return 0;
	l = depth_of(t, t->nodes[i].left);
	r = depth_of(t, t->nodes[i].right);
	return 1 + (l > r ? l : r);
}

static unsigned
lcg(unsigned *x)
{
	*x = *x * 1103515245u + 12345u;
	return *x >> 16;
}

/* A mixed problem: f0 numeric signal, f1 categorical signal on the
 * non-contiguous set {1,4}, f2 numeric with missing values, the rest
 * noise. */
static struct ds *
mixed(size_t n, unsigned seed)
{
	struct ds *s = ds_new(n, 6);
	size_t i;
	int f;

	s->cat[1] = 1;
	s->nbins[1] = 5;
	s->cat[4] = 1;
	s->nbins[4] = 3;
	s->nbins[0] = 50;
	for (i = 0; i < n; i++) {
		int z;

		for (f = 0; f < 6; f++)
			s->cols[f][i] = (uint8_t)(lcg(&seed) % s->nbins[f]);
		if (lcg(&seed) % 10 == 0)
			s->cols[2][i] = CH_MISSING;
		z = (s->cols[0][i] > 30) + (s->cols[1][i] == 1 ||
		    s->cols[1][i] == 4) + (s->cols[2][i] == CH_MISSING);
		s->y[i] = (int)(lcg(&seed) % 4) < z + (lcg(&seed) % 3 == 0);
	}
	return s;
}

/* Perfectly separable on f0 (code >= 5 positive), f1 noise: with every
 * feature tried, each tree is one split at code 4. */
static void
separable(size_t n)
{
	struct ds *s = ds_new(n, 2);
	struct ch_forest_params p = params(10);
	struct ch_forest_stats st;
	struct ch_forest *f;
	unsigned x = 1;
	size_t i;
	int t;

	for (i = 0; i < n; i++) {
		s->cols[0][i] = (uint8_t)(i % 10);
		s->cols[1][i] = (uint8_t)(lcg(&x) % 10);
		s->y[i] = s->cols[0][i] >= 5;
	}
	p.mf = CH_MF_ALL;
	f = train(s, &p, &st);
	ck_assert_double_eq(train_accuracy(f, s), 1.0);
	for (t = 0; t < f->ntrees; t++) {
		const struct ch_tree *tr = &f->trees[t];

		ck_assert_uint_eq(tr->nnodes, 3);
		ck_assert_int_eq(tr->nodes[0].feat, 0);
		ck_assert_uint_eq(tr->nodes[0].arg, 4);
		ck_assert_int_eq(tr->nodes[0].categorical, 0);
		ck_assert_float_eq(tr->nodes[tr->nodes[0].left].value, 0);
		ck_assert_float_eq(tr->nodes[tr->nodes[0].right].value, 1);
	}
	ck_assert_double_eq_tol(st.importance[0], 1.0, 1e-12);
	ck_assert_double_eq(st.importance[1], 0);
	ch_forest_stats_free(&st);
	ch_forest_free(f);
	ds_free(s);
}

START_TEST(test_separable_small)
{
	separable(200);         /* small nodes: per-feature histograms */
}
END_TEST

START_TEST(test_separable_large)
{
	separable(20000);       /* large nodes: whole histograms */
}
END_TEST

/* Categories {0,3} positive, {1,2} negative: no contiguous range of codes
 * separates them, the native split must. */
START_TEST(test_categorical_set)
{
	struct ds *s = ds_new(400, 1);
	struct ch_forest_params p = params(5);
	struct ch_forest *f;
	size_t i;
	int t, c;

	s->cat[0] = 1;
	s->nbins[0] = 4;
	for (i = 0; i < 400; i++) {
		s->cols[0][i] = (uint8_t)(i % 4);
		s->y[i] = i % 4 == 0 || i % 4 == 3;
	}
	f = train(s, &p, NULL);
	ck_assert_double_eq(train_accuracy(f, s), 1.0);
	for (t = 0; t < f->ntrees; t++) {
		const struct ch_tree *tr = &f->trees[t];
		const struct ch_node *root = &tr->nodes[0];
		int in03 = 0, in12 = 0;

		ck_assert_uint_eq(tr->nnodes, 3);
		ck_assert_int_eq(root->categorical, 1);
		ck_assert_uint_lt(root->arg, tr->nbitsets);
		for (c = 0; c < 4; c++) {
			int bit = tr->bitsets[root->arg][c >> 3] >> (c & 7) & 1;

			if (c == 0 || c == 3)
				in03 += bit;
			else
				in12 += bit;
		}
		ck_assert_msg((in03 == 2 && in12 == 0) ||
		    (in03 == 0 && in12 == 2), "tree %d: set is not {0,3} "
		    "or {1,2}", t);
	}
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

/* Missing rows are all positive, present rows split at code 4: missing
 * must follow the positives (right), and predict 1. */
START_TEST(test_missing_learnt_side)
{
	struct ds *s = ds_new(600, 1);
	struct ch_forest_params p = params(5);
	struct ch_forest *f;
	uint8_t x = CH_MISSING;
	size_t i;
	int t;

	for (i = 0; i < 600; i++) {
		if (i % 6 == 5) {
			s->cols[0][i] = CH_MISSING;
			s->y[i] = 1;
		} else {
			s->cols[0][i] = (uint8_t)(i % 10);
			s->y[i] = s->cols[0][i] >= 5;
		}
	}
	f = train(s, &p, NULL);
	ck_assert_double_eq(train_accuracy(f, s), 1.0);
	for (t = 0; t < f->ntrees; t++) {
		ck_assert_uint_eq(f->trees[t].nnodes, 3);
		ck_assert_int_eq(f->trees[t].nodes[0].missing_left, 0);
	}
	ck_assert_double_eq(ch_forest_predict(f, &x), 1.0);

	/* now missing rows all negative and with the low codes' label */
	for (i = 5; i < 600; i += 6)
		s->y[i] = 0;
	ch_forest_free(f);
	f = train(s, &p, NULL);
	for (t = 0; t < f->ntrees; t++)
		ck_assert_int_eq(f->trees[t].nodes[0].missing_left, 1);
	ck_assert_double_eq(ch_forest_predict(f, &x), 0.0);
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

/* No missing value in training: missing goes where more weight went. */
START_TEST(test_missing_default_side)
{
	struct ds *s = ds_new(1000, 1);
	struct ch_forest_params p = params(5);
	struct ch_forest *f;
	size_t i;
	int t;

	for (i = 0; i < 1000; i++) {
		s->cols[0][i] = (uint8_t)(i % 10);
		s->y[i] = s->cols[0][i] >= 8;   /* 80% go left */
	}
	f = train(s, &p, NULL);
	for (t = 0; t < f->ntrees; t++) {
		ck_assert_uint_eq(f->trees[t].nodes[0].arg, 7);
		ck_assert_int_eq(f->trees[t].nodes[0].missing_left, 1);
	}
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

static int
same_forest(const struct ch_forest *a, const struct ch_forest *b)
{
	int t;

	if (a->ntrees != b->ntrees || a->nfeat != b->nfeat)
		return 0;
	for (t = 0; t < a->ntrees; t++) {
		const struct ch_tree *x = &a->trees[t], *y = &b->trees[t];

		if (x->nnodes != y->nnodes || x->nbitsets != y->nbitsets)
			return 0;
		if (memcmp(x->nodes, y->nodes, x->nnodes * sizeof *x->nodes))
			return 0;
		if (x->nbitsets && memcmp(x->bitsets, y->bitsets,
		    x->nbitsets * sizeof *x->bitsets))
			return 0;
	}
	return 1;
}

/* Same seed, jobs 1 or 3: the same trees, byte for byte, the same
 * predictions, importances and out-of-bag estimates.  Large enough for
 * the large-node path. */
START_TEST(test_deterministic_jobs)
{
	struct ds *s = mixed(12000, 3);
	struct ch_forest_params p = params(12);
	struct ch_forest_stats s1, s3;
	struct ch_forest *f1, *f3, *f4;
	size_t i;

	f1 = train(s, &p, &s1);
	p.jobs = 3;
	f3 = train(s, &p, &s3);
	ck_assert(same_forest(f1, f3));
	for (i = 0; i < s->d.n; i += 7)
		ck_assert(predict_row(f1, s, i) == predict_row(f3, s, i));
	ck_assert_mem_eq(s1.importance, s3.importance, 6 * sizeof(double));
	ck_assert_uint_eq(s1.oob_n, s3.oob_n);
	for (i = 0; i < s->d.n; i++)
		ck_assert((isnan(s1.oob_prob[i]) && isnan(s3.oob_prob[i])) ||
		    s1.oob_prob[i] == s3.oob_prob[i]);
	/* a different seed gives a different forest */
	p.seed = 8;
	f4 = train(s, &p, NULL);
	ck_assert(!same_forest(f1, f4));
	ch_forest_stats_free(&s1);
	ch_forest_stats_free(&s3);
	ch_forest_free(f1);
	ch_forest_free(f3);
	ch_forest_free(f4);
	ds_free(s);
}
END_TEST

START_TEST(test_importance)
{
	struct ds *s = mixed(3000, 11);
	struct ch_forest_params p = params(30);
	struct ch_forest_stats st;
	struct ch_forest *f;
	double sum = 0;
	int k;

	p.max_depth = 6;
	f = train(s, &p, &st);
	for (k = 0; k < 6; k++) {
		ck_assert(st.importance[k] >= 0);
		sum += st.importance[k];
	}
	ck_assert_double_eq_tol(sum, 1.0, 1e-9);
	/* category sets are shared within a tree: no two alike, no more
	 * than the categorical splits */
	for (k = 0; k < f->ntrees; k++) {
		const struct ch_tree *t = &f->trees[k];
		uint32_t i, j, ncat = 0;

		for (i = 0; i < t->nnodes; i++)
			ncat += t->nodes[i].feat >= 0 && t->nodes[i].categorical;
		ck_assert_uint_le(t->nbitsets, ncat);
		ck_assert_uint_gt(ncat, t->nbitsets);   /* some reuse */
		for (i = 0; i < t->nbitsets; i++)
			for (j = i + 1; j < t->nbitsets; j++)
				ck_assert(memcmp(t->bitsets[i], t->bitsets[j],
				    32) != 0);
	}
	/* the signals beat every noise feature */
	for (k = 3; k < 6; k++) {
		ck_assert_double_gt(st.importance[0], st.importance[k]);
		ck_assert_double_gt(st.importance[1], st.importance[k]);
	}
	ch_forest_stats_free(&st);
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

/* One tree leaves about 1/e of the rows out of its bag; fifty trees leave
 * every row out at least once (all but 0.632^50 ~ 1e-10 of the time). */
START_TEST(test_oob)
{
	struct ds *s = mixed(5000, 5);
	struct ch_forest_params p = params(1);
	struct ch_forest_stats st;
	struct ch_forest *f;
	size_t i, nan = 0;
	double frac;

	f = train(s, &p, &st);
	frac = (double)st.oob_n / s->d.n;
	ck_assert_msg(frac > 0.34 && frac < 0.40, "oob fraction %g", frac);
	for (i = 0; i < s->d.n; i++) {
		if (isnan(st.oob_prob[i])) {
			nan++;
			continue;
		}
		ck_assert(st.oob_prob[i] >= 0 && st.oob_prob[i] <= 1);
		/* one tree: the estimate is that tree's prediction */
		ck_assert_double_eq_tol(st.oob_prob[i], predict_row(f, s, i),
		    1e-9);
	}
	ck_assert_uint_eq(nan + st.oob_n, s->d.n);
	ch_forest_stats_free(&st);
	ch_forest_free(f);

	p.trees = 50;
	p.jobs = 2;
	f = train(s, &p, &st);
	ck_assert_uint_eq(st.oob_n, s->d.n);
	ch_forest_stats_free(&st);
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

/* oob_every k: the estimates of rows i % k == 0 only, the very ones of
 * the full estimate; the trees are the same */
START_TEST(test_oob_every)
{
	struct ds *s = mixed(3000, 5);
	struct ch_forest_params p = params(20);
	struct ch_forest_stats all, some;
	struct ch_forest *f, *g;
	size_t i;
	int t;

	p.jobs = 2;
	f = train(s, &p, &all);
	p.oob_every = 3;
	g = train(s, &p, &some);
	ck_assert_int_eq(f->ntrees, g->ntrees);
	for (t = 0; t < f->ntrees; t++) {
		const struct ch_tree *a = &f->trees[t], *b = &g->trees[t];

		ck_assert_uint_eq(a->nnodes, b->nnodes);
		for (i = 0; i < a->nnodes; i++) {
			ck_assert_int_eq(a->nodes[i].feat, b->nodes[i].feat);
			ck_assert_uint_eq(a->nodes[i].arg, b->nodes[i].arg);
			ck_assert_int_eq(a->nodes[i].left, b->nodes[i].left);
			ck_assert(a->nodes[i].value == b->nodes[i].value);
		}
	}
	ck_assert_uint_gt(some.oob_n, 0);
	ck_assert_uint_le(some.oob_n, (s->d.n + 2) / 3);
	for (i = 0; i < s->d.n; i++) {
		if (i % 3)
			ck_assert(isnan(some.oob_prob[i]));
		else if (isnan(all.oob_prob[i]))
			ck_assert(isnan(some.oob_prob[i]));
		else
			ck_assert(some.oob_prob[i] == all.oob_prob[i]);
	}
	ch_forest_stats_free(&all);
	ch_forest_stats_free(&some);
	ch_forest_free(f);
	ch_forest_free(g);
	ds_free(s);
}
END_TEST

START_TEST(test_max_depth)
{
	struct ds *s = mixed(4000, 9);
	struct ch_forest_params p = params(8);
	struct ch_forest *f;
	int t, deepest = 0;

	p.max_depth = 3;
	f = train(s, &p, NULL);
	for (t = 0; t < f->ntrees; t++)
		ck_assert_int_le(depth_of(&f->trees[t], 0), 3);
	ch_forest_free(f);
	p.max_depth = 0;
	f = train(s, &p, NULL);
	for (t = 0; t < f->ntrees; t++)
		if (depth_of(&f->trees[t], 0) > deepest)
			deepest = depth_of(&f->trees[t], 0);
	ck_assert_int_gt(deepest, 3);
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

/* min_leaf counts rows with their bootstrap multiplicity: with more than
 * half the draws needed on each side no split is possible; with a large
 * min_leaf trees are smaller. */
START_TEST(test_min_leaf)
{
	struct ds *s = mixed(2000, 13);
	struct ch_forest_params p = params(4);
	struct ch_forest *f;
	uint32_t small = 0, big = 0;
	int t;

	p.min_leaf = 1001;
	f = train(s, &p, NULL);
	for (t = 0; t < f->ntrees; t++)
		ck_assert_uint_eq(f->trees[t].nnodes, 1);
	ch_forest_free(f);
	p.min_leaf = 50;
	f = train(s, &p, NULL);
	for (t = 0; t < f->ntrees; t++)
		small += f->trees[t].nnodes;
	ck_assert_uint_le(small, 4 * (2 * 2000 / 50));
	ch_forest_free(f);
	p.min_leaf = 1;
	f = train(s, &p, NULL);
	for (t = 0; t < f->ntrees; t++)
		big += f->trees[t].nnodes;
	ck_assert_uint_gt(big, small);
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

/* 10% positives, a root that cannot split: the leaf is the positive rate,
 * or about one half with balanced class weights. */
START_TEST(test_balanced)
{
	struct ds *s = ds_new(2000, 1);
	struct ch_forest_params p = params(3);
	struct ch_forest *f;
	uint8_t x = 0;
	size_t i;
	double v;

	for (i = 0; i < 2000; i++)
		s->y[i] = i % 10 == 0;
	f = train(s, &p, NULL);         /* one code only: no split */
	v = ch_forest_predict(f, &x);
	ck_assert_msg(v > 0.07 && v < 0.13, "unweighted leaf %g", v);
	ch_forest_free(f);
	p.balanced = 1;
	f = train(s, &p, NULL);
	v = ch_forest_predict(f, &x);
	ck_assert_msg(v > 0.42 && v < 0.58, "balanced leaf %g", v);
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

/* Categorical missing values are tried on both sides too: missing rows
 * positive follow category 1's side. */
START_TEST(test_categorical_missing)
{
	struct ds *s = ds_new(300, 1);
	struct ch_forest_params p = params(4);
	struct ch_forest *f;
	uint8_t x;
	size_t i;
	int t;

	s->cat[0] = 1;
	s->nbins[0] = 3;
	for (i = 0; i < 300; i++) {
		s->cols[0][i] = i % 5 == 4 ? CH_MISSING : (uint8_t)(i % 3);
		s->y[i] = s->cols[0][i] == 1 || s->cols[0][i] == CH_MISSING;
	}
	f = train(s, &p, NULL);
	ck_assert_double_eq(train_accuracy(f, s), 1.0);
	for (t = 0; t < f->ntrees; t++) {
		const struct ch_tree *tr = &f->trees[t];
		int one_left = tr->bitsets[tr->nodes[0].arg][0] >> 1 & 1;

		ck_assert_uint_eq(tr->nnodes, 3);
		ck_assert_int_eq(tr->nodes[0].missing_left, one_left);
	}
	x = CH_MISSING;
	ck_assert_double_eq(ch_forest_predict(f, &x), 1.0);
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

/* One row; a feature all missing; one class only: one-leaf trees. */
START_TEST(test_degenerate)
{
	struct ds *s = ds_new(50, 2);
	struct ch_forest_params p = params(3);
	struct ch_forest_stats st;
	struct ch_forest *f;
	size_t i;
	int t;

	for (i = 0; i < 50; i++) {
		s->cols[0][i] = CH_MISSING;
		s->cols[1][i] = (uint8_t)(i % 10);
		s->y[i] = 1;
	}
	f = train(s, &p, &st);
	for (t = 0; t < f->ntrees; t++) {
		ck_assert_uint_eq(f->trees[t].nnodes, 1);
		ck_assert_float_eq(f->trees[t].nodes[0].value, 1);
	}
	ck_assert_double_eq(st.importance[0] + st.importance[1], 0);
	ch_forest_stats_free(&st);
	ch_forest_free(f);

	for (i = 0; i < 50; i++)                /* the missing column decides */
		s->y[i] = i % 2;
	s->d.n = 1;
	f = train(s, &p, NULL);
	ck_assert_uint_eq(f->trees[0].nnodes, 1);
	ch_forest_free(f);
	s->d.n = 50;
	for (i = 0; i < 50; i += 2)
		s->cols[0][i] = 0;
	s->nbins[0] = 1;
	p.mf = CH_MF_ALL;
	f = train(s, &p, NULL);
	ck_assert_double_eq(train_accuracy(f, s), 1.0);
	ck_assert_int_eq(f->trees[0].nodes[0].feat, 0);
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void
count_progress(int done, int total, void *arg)
{
	int *seen = arg;

	pthread_mutex_lock(&mu);
	seen[0]++;
	if (done > seen[1])
		seen[1] = done;
	seen[2] = total;
	pthread_mutex_unlock(&mu);
}

START_TEST(test_progress_and_errors)
{
	struct ds *s = mixed(500, 17);
	struct ch_forest_params p = params(9);
	struct ch_forest *f = NULL;
	struct ch_err e = { "" };
	int seen[3] = { 0, 0, 0 };

	p.jobs = 2;
	ck_assert_int_eq(ch_forest_train(&s->d, &p, &f, NULL, count_progress,
	    seen, &e), 0);
	ck_assert_int_eq(seen[0], 9);
	ck_assert_int_eq(seen[1], 9);
	ck_assert_int_eq(seen[2], 9);
	ch_forest_free(f);

	p.trees = 0;
	ck_assert_int_eq(ch_forest_train(&s->d, &p, &f, NULL, NULL, NULL, &e),
	    -1);
	ck_assert_ptr_null(f);
	ck_assert(strstr(e.msg, "trees") != NULL);
	p.trees = 2;
	s->cols[3][17] = 10;            /* nbins is 10 */
	ck_assert_int_eq(ch_forest_train(&s->d, &p, &f, NULL, NULL, NULL, &e),
	    -1);
	ck_assert(strstr(e.msg, "row 17") != NULL);
	ds_free(s);
}
END_TEST

START_TEST(test_max_features)
{
	struct ds *s = mixed(1500, 19);
	struct ch_forest_params p = params(5);
	enum ch_maxfeat mf[] = { CH_MF_SQRT, CH_MF_LOG2, CH_MF_ALL,
		CH_MF_COUNT, CH_MF_FRACTION };
	struct ch_forest *f;
	size_t k;

	for (k = 0; k < sizeof mf / sizeof *mf; k++) {
		p.mf = mf[k];
		p.mf_value = mf[k] == CH_MF_COUNT ? 2 : 0.5;
		f = train(s, &p, NULL);
		ck_assert_double_gt(train_accuracy(f, s), 0.8);
		ch_forest_free(f);
	}
	ds_free(s);
}
END_TEST

START_TEST(test_check_rejects)
{
	struct ds *s = mixed(800, 23);
	struct ch_forest_params p = params(2);
	struct ch_forest *f = train(s, &p, NULL);
	struct ch_tree *t = &f->trees[0];
	struct ch_err e = { "" };
	struct ch_node save;
	uint32_t i, split = 0, cat = UINT32_MAX, leaf = 0;

	for (i = 0; i < t->nnodes; i++) {
		if (t->nodes[i].feat < 0)
			leaf = i;
		else if (t->nodes[i].categorical && cat == UINT32_MAX)
			cat = i;
	}
	ck_assert_int_ge(t->nodes[split].feat, 0);
	save = t->nodes[split];

	t->nodes[split].left = (int32_t)t->nnodes;      /* out of range */
	ck_assert_int_eq(ch_forest_check(f, &e), -1);
	ck_assert(strstr(e.msg, "children") != NULL);
	t->nodes[split] = save;
	t->nodes[split].right = (int32_t)split;         /* a cycle */
	ck_assert_int_eq(ch_forest_check(f, &e), -1);
	t->nodes[split] = save;
	i = (uint32_t)save.left;
	if (t->nodes[i].feat >= 0) {
		t->nodes[i].right = 0;                  /* back to the root */
		ck_assert_int_eq(ch_forest_check(f, &e), -1);
	}
	ch_forest_free(f);
	f = train(s, &p, NULL);
	t = &f->trees[0];
	ck_assert_int_eq(ch_forest_check(f, &e), 0);

	t->nodes[0].feat = 6;                           /* nfeat is 6 */
	ck_assert_int_eq(ch_forest_check(f, &e), -1);
	ck_assert(strstr(e.msg, "feature 6") != NULL);
	t->nodes[0].feat = save.feat;
	ck_assert_int_eq(ch_forest_check(f, &e), 0);

	t->nodes[leaf].value = NAN;
	ck_assert_int_eq(ch_forest_check(f, &e), -1);
	t->nodes[leaf].value = 1.5f;
	ck_assert_int_eq(ch_forest_check(f, &e), -1);
	t->nodes[leaf].value = 0.5f;

	ck_assert_msg(cat != UINT32_MAX, "no categorical split to corrupt");
	t->nodes[cat].arg = t->nbitsets;
	ck_assert_int_eq(ch_forest_check(f, &e), -1);
	ck_assert(strstr(e.msg, "category set") != NULL);
	ch_forest_free(f);
	ds_free(s);
}
END_TEST

static Suite *
forest_suite(void)
{
	Suite *s = suite_create("forest");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_separable_small);
	tcase_add_test(tc, test_separable_large);
	tcase_add_test(tc, test_categorical_set);
	tcase_add_test(tc, test_missing_learnt_side);
	tcase_add_test(tc, test_missing_default_side);
	tcase_add_test(tc, test_categorical_missing);
	tcase_add_test(tc, test_degenerate);
	tcase_add_test(tc, test_deterministic_jobs);
	tcase_add_test(tc, test_importance);
	tcase_add_test(tc, test_oob);
	tcase_add_test(tc, test_oob_every);
	tcase_add_test(tc, test_max_depth);
	tcase_add_test(tc, test_min_leaf);
	tcase_add_test(tc, test_balanced);
	tcase_add_test(tc, test_progress_and_errors);
	tcase_add_test(tc, test_max_features);
	tcase_add_test(tc, test_check_rejects);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(forest_suite());
}
