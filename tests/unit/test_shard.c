/* test_shard.c - unit tests for libchurn/shard: summaries, the quantile
 * sketch's bound, the merged binning against one frame's, refusals */
#include <check.h>

#include "unit.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "shard.h"

static json_t *
summary(const char *text, struct ch_err *e)
{
	FILE *fp = fmemopen((void *)text, strlen(text), "r");
	struct ch_frame_opts o = { 0 };
	json_t *j = NULL;

	if (ch_shard_summary(fp, "t.csv", &o, &j, e) != 0)
		j = NULL;
	fclose(fp);
	return j;
}

/* CSV of rows lo..hi-1 of a column x of many distinct numbers (and a few
 * repeated ones), a category c and the label */
static char *
rows_csv(int lo, int hi)
{
	struct ch_buf b = { 0 };
	int i;

	ch_buf_adds(&b, "x,c,Churn\n");
	for (i = lo; i < hi; i++)
		ch_buf_printf(&b, "%.6f,%s,%s\n", i % 7 == 0 ? 5.0 :
		    sin(i * 0.7) * 1000 + i * 0.001, i % 3 ? "a" : i % 5 ? "b" : "",
		    i % 4 ? "No" : "Yes");
	return b.s;
}

/* row i's x, as the CSV has it */
static double
xval(int i)
{
	char s[64];

	snprintf(s, sizeof s, "%.6f", i % 7 == 0 ? 5.0 : sin(i * 0.7) * 1000 + i * 0.001);
	return strtod(s, NULL);
}

/* rows lo..hi-1 with x <= v, but row skip */
static uint64_t
true_count(int lo, int hi, int skip, double v)
{
	uint64_t c = 0;
	int i;

	for (i = lo; i < hi; i++)
		c += i != skip && xval(i) <= v;
	return c;
}

/* rows the summaries' sketch points count at or below v */
static uint64_t
sketch_count(json_t **sums, int n, double v, uint64_t *err)
{
	uint64_t c = 0;
	size_t k;
	json_t *p;
	int i;

	*err = 0;
	for (i = 0; i < n; i++) {
		json_t *sk = json_object_get(json_array_get(json_object_get(sums[i],
		    "columns"), 0), "sketch");

		ck_assert_ptr_nonnull(sk);
		*err += (uint64_t)json_integer_value(json_object_get(sk, "error_rows"));
		json_array_foreach(json_object_get(sk, "points"), k, p)
			if (json_number_value(json_array_get(p, 0)) <= v)
				c += (uint64_t)json_integer_value(json_array_get(p, 1));
	}
	return c;
}

START_TEST(sketch_bound)
{
	static const int cut[] = { 0, 9000, 9001, 30000 };
	struct ch_frame_opts o = { 0 };
	struct ch_schema *s;
	struct ch_err e;
	json_t *sums[3], *info, *sk;
	char *names[] = { "a", "b", "c" }, *csv;
	uint64_t err, c, t;
	int i, k;

	for (i = 0; i < 3; i++) {
		csv = rows_csv(cut[i], cut[i + 1]);
		sums[i] = summary(csv, &e);
		free(csv);
		ck_assert_msg(sums[i] != NULL, "%s", e.msg);
	}
	/* 1 row: exact; 9000 and 21000 rows: sketched, at most K points */
	ck_assert_ptr_null(json_object_get(json_array_get(json_object_get(sums[1],
	    "columns"), 0), "sketch"));
	sk = json_object_get(json_array_get(json_object_get(sums[2], "columns"), 0), "sketch");
	ck_assert_ptr_nonnull(sk);
	ck_assert_int_le(json_array_size(json_object_get(sk, "points")), CH_SKETCH_K);
	ck_assert_int_eq(json_integer_value(json_object_get(sk, "error_rows")),
	    (21000 + CH_SKETCH_K - 1) / CH_SKETCH_K - 1);
	ck_assert_int_eq(ch_shard_bins(sums, names, 3, &o, &s, &info, &e), 0);
	ck_assert_int_eq(s->f[0].type, CH_NUMERIC);
	ck_assert_int_eq(s->f[1].type, CH_CATEGORICAL);
	ck_assert_int_eq(json_array_size(json_object_get(info, "approximate")), 1);
	/* the bound at every edge: the sketched shards' points count short
	 * of their true count, by at most their error rows */
	for (k = 0; k < s->f[0].nbins - 1; k++) {
		double v = s->f[0].edges[k];
		json_t *two[2] = { sums[0], sums[2] };

		c = sketch_count(two, 2, v, &err);
		t = true_count(0, 30000, cut[1], v);   /* the sketched shards' */
		ck_assert_uint_le(c, t);
		ck_assert_uint_le(t - c, err);
	}
	/* the repeated value 5 is its own edge, as one run makes it */
	for (k = 0; k < s->f[0].nbins - 1 && s->f[0].edges[k] != 5.0; k++)
		;
	ck_assert_int_lt(k, s->f[0].nbins - 1);
	ch_schema_free(s);
	json_decref(info);
	for (i = 0; i < 3; i++)
		json_decref(sums[i]);
}
END_TEST

START_TEST(exact_is_one_frame)
{
	static const char *part[] = {
		"n,c,m,Churn\n1,x,1.5,Yes\n2,y,,No\n1.0,x,2,No\n",
		"n,c,m,Churn\n3,z,NA,Yes\n2,x,7,No\n4,,2.0,No\n",
	};
	const char *all = "n,c,m,Churn\n1,x,1.5,Yes\n2,y,,No\n1.0,x,2,No\n"
	    "3,z,NA,Yes\n2,x,7,No\n4,,2.0,No\n";
	struct ch_frame_opts o = { 0 };
	struct ch_frame *fr;
	struct ch_schema *s;
	struct ch_err e;
	json_t *sums[2], *info;
	char *names[] = { "p0", "p1" };
	FILE *fp;
	int f, i;

	for (i = 0; i < 2; i++)
		ck_assert_ptr_nonnull(sums[i] = summary(part[i], &e));
	ck_assert_int_eq(ch_shard_bins(sums, names, 2, &o, &s, &info, &e), 0);
	fp = fmemopen((void *)all, strlen(all), "r");
	ck_assert_int_eq(ch_frame_load(fp, "all.csv", &o, &fr, &e), 0);
	fclose(fp);
	ck_assert_int_eq(s->nfeat, fr->schema->nfeat);
	for (f = 0; f < s->nfeat; f++) {
		const struct ch_feature *a = &s->f[f], *b = &fr->schema->f[f];

		ck_assert_str_eq(a->name, b->name);
		ck_assert_int_eq(a->type, b->type);
		ck_assert_int_eq(a->nbins, b->nbins);
		for (i = 0; i < a->nbins; i++)
			if (a->type == CH_CATEGORICAL)
				ck_assert_str_eq(a->cats[i], b->cats[i]);
			else if (i + 1 < a->nbins)
				ck_assert(a->edges[i] == b->edges[i]);
		if (a->type == CH_NUMERIC)
			ck_assert(a->min == b->min && a->max == b->max);
	}
	ck_assert_int_eq(json_array_size(json_object_get(info, "approximate")), 0);
	ch_frame_free(fr);
	ch_schema_free(s);
	json_decref(info);
	json_decref(sums[0]);
	json_decref(sums[1]);
}
END_TEST

START_TEST(refusals)
{
	struct ch_frame_opts o = { 0 };
	struct ch_schema *s = NULL;
	struct ch_err e;
	json_t *sums[2], *info = NULL;
	char *names[] = { "p0", "p1" };

	ck_assert_ptr_null(summary("a,b\n1,2\n", &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "no target column 'Churn'"));
	ck_assert_ptr_null(summary("a,Churn\n1,maybe\n", &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "t.csv:2: column 'Churn': 'maybe' is not a label"));
	ck_assert_ptr_null(summary("a,Churn\n1,Yes\n2\n", &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "ragged row"));
	sums[0] = summary("a,Churn\n1,Yes\n", &e);
	sums[1] = summary("b,Churn\n1,Yes\n", &e);
	ck_assert_int_eq(ch_shard_bins(sums, names, 2, &o, &s, &info, &e), -1);
	ck_assert_str_eq(e.msg, "p1: column 1 is 'b', the first summary's 'a'");
	ck_assert_ptr_null(s);
	json_decref(sums[1]);
	sums[1] = summary("a,Churn,customerID\n1,Yes,k1\n", &e);
	ck_assert_ptr_nonnull(sums[1]);
	ck_assert_int_eq(ch_shard_bins(sums, names, 2, &o, &s, &info, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "target, positive label or id differ"));
	json_decref(sums[0]);
	json_decref(sums[1]);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("shard");
	TCase *tc = tcase_create("shard");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sketch_bound);
	tcase_add_test(tc, exact_is_one_frame);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
