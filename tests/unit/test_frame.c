/* test_frame.c - unit tests for libchurn/frame and schema: inference,
 * binning, categories, profiles, labels, encoding */
#include <check.h>

#include "unit.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "schema.h"

static struct ch_frame *
load(const char *text, const struct ch_frame_opts *o, struct ch_err *e)
{
	FILE *fp = fmemopen((void *)text, strlen(text), "r");
	struct ch_frame *f = NULL;
	struct ch_frame_opts def = { 0 };

	if (ch_frame_load(fp, "t.csv", o ? o : &def, &f, e) != 0)
		f = NULL;
	fclose(fp);
	return f;
}

START_TEST(inference)
{
	struct ch_err e;
	struct ch_frame *f = load(
	    "customerID,age,plan,code,Churn\n"
	    "a,30,gold,1,Yes\n"
	    "b, ,silver,2,No\n"
	    "c,NA,gold,x,No\n"
	    "d,41.5,,3,Yes\n", NULL, &e);
	struct ch_schema *s;

	ck_assert_ptr_nonnull(f);
	s = f->schema;
	ck_assert_int_eq(s->nfeat, 3);  /* the id and the target are not features */
	ck_assert_str_eq(s->id, "customerID");
	ck_assert_str_eq(s->f[0].name, "age");
	ck_assert_int_eq(s->f[0].type, CH_NUMERIC);    /* blanks and NA are missing */
	ck_assert_int_eq(s->f[1].type, CH_CATEGORICAL);
	ck_assert_int_eq(s->f[2].type, CH_CATEGORICAL); /* one 'x' makes it text */
	ck_assert_uint_eq(f->n, 4);
	ck_assert_int_eq(f->y[0], 1);
	ck_assert_int_eq(f->y[1], 0);
	ck_assert_int_eq(f->codes[0][1], CH_MISSING);
	ck_assert_int_eq(f->codes[0][2], CH_MISSING);
	ck_assert_int_eq(f->codes[1][3], CH_MISSING);
	ck_assert(f->schema->f[0].min == 30 && f->schema->f[0].max == 41.5);
	/* categories in name order; profile counts */
	ck_assert_int_eq(s->f[1].nbins, 2);
	ck_assert_str_eq(s->f[1].cats[0], "gold");
	ck_assert_int_eq(s->f[1].ref.counts[0], 2);
	ck_assert_int_eq(s->f[1].ref.missing, 1);
	ck_assert_int_eq(s->f[0].ref.missing, 2);
	ck_assert_int_eq(s->f[0].ref.total, 4);
	ch_frame_free(f);
}
END_TEST

START_TEST(binning)
{
	/* 1000 distinct values, 10 bins: edges at the deciles, values in their
	 * upper-inclusive bins, bins about equally full */
	size_t len = 0, i;
	char *text = malloc(20000);
	struct ch_frame_opts o = { .max_bins = 10 };
	struct ch_err e;
	struct ch_frame *f;
	const struct ch_feature *x;
	int b;

	len += (size_t)sprintf(text, "v,Churn\n");
	for (i = 1; i <= 1000; i++)
		len += (size_t)sprintf(text + len, "%zu,%d\n", i, (int)(i % 2));
	f = load(text, &o, &e);
	ck_assert_ptr_nonnull(f);
	x = &f->schema->f[0];
	ck_assert_int_eq(x->nbins, 10);
	for (b = 0; b < 9; b++)
		ck_assert(x->edges[b] == 100.0 * (b + 1));
	for (b = 0; b < 10; b++)
		ck_assert_int_eq(x->ref.counts[b], 100);
	ck_assert_int_eq(ch_bin_numeric(x, 100), 0);
	ck_assert_int_eq(ch_bin_numeric(x, 100.5), 1);
	ck_assert_int_eq(ch_bin_numeric(x, -5), 0);      /* open outer bins */
	ck_assert_int_eq(ch_bin_numeric(x, 1e9), 9);
	for (i = 0; i < f->n; i++)
		ck_assert_int_eq(f->codes[0][i], ch_bin_numeric(x, (double)i + 1));
	ch_frame_free(f);

	/* few distinct values: a bin each ("1" and "1.0" are one value) */
	f = load("v,Churn\n1,0\n1.0,1\n2,0\n5,1\n5,1\n", NULL, &e);
	x = &f->schema->f[0];
	ck_assert_int_eq(x->nbins, 3);
	ck_assert(x->edges[0] == 1 && x->edges[1] == 2);
	ck_assert_int_eq(f->codes[0][1], 0);
	ck_assert_int_eq(x->ref.counts[2], 2);
	ch_frame_free(f);
	free(text);
}
END_TEST

START_TEST(options_and_errors)
{
	struct ch_err e;
	char *drop[] = { "note", NULL }, *cat[] = { "n", NULL }, *num[] = { "c", NULL };
	struct ch_frame_opts o = { .target = "left", .positive = "gone", .id = "who",
	    .drop = drop, .categorical = cat };
	struct ch_frame *f = load("who,n,note,left\n1,5,x,gone\n2,6,y,here\n", &o, &e);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->schema->nfeat, 1);
	ck_assert_int_eq(f->schema->f[0].type, CH_CATEGORICAL);
	ck_assert_int_eq(f->y[0], 1);
	ck_assert_int_eq(f->y[1], 0);
	ch_frame_free(f);

	ck_assert_ptr_null(load("a,b\n1,2\n", NULL, &e));
	ck_assert_str_eq(e.msg, "t.csv:1: no target column 'Churn'");
	ck_assert_ptr_null(load("", NULL, &e));
	ck_assert_str_eq(e.msg, "t.csv: empty file (no header)");
	ck_assert_ptr_null(load("a,Churn\n1,Yes\n2\n", NULL, &e));
	ck_assert_str_eq(e.msg, "t.csv:3: ragged row: 1 fields, the header has 2");
	ck_assert_ptr_null(load("a,Churn\n1,Yes\n2,perhaps\n", NULL, &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "t.csv:3: column 'Churn': 'perhaps' is not a label"));
	ck_assert_ptr_null(load("a,a,Churn\n1,2,No\n", NULL, &e));
	ck_assert_str_eq(e.msg, "t.csv:1: column 'a' appears twice");
	/* --numeric: a cell that is not a number is missing, and said (the
	 * rule of scoring), however many there are */
	o = (struct ch_frame_opts){ .numeric = num };
	f = load("c,Churn\n1,No\nabc,Yes\n", &o, &e);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->schema->f[0].type, CH_NUMERIC);
	ck_assert_int_eq(f->codes[0][1], CH_MISSING);
	ck_assert_uint_eq(json_array_size(f->warnings), 1);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(
	    json_array_get(f->warnings, 0), "message")), "at line 3"));
	ch_frame_free(f);
}
END_TEST

START_TEST(labels)
{
	ck_assert_int_eq(ch_label("Yes", 3, NULL), 1);
	ck_assert_int_eq(ch_label("1", 1, NULL), 1);
	ck_assert_int_eq(ch_label("True", 4, NULL), 1);
	ck_assert_int_eq(ch_label(" No ", 4, NULL), 0);
	ck_assert_int_eq(ch_label("false", 5, NULL), 0);
	ck_assert_int_eq(ch_label("maybe", 5, NULL), -1);
	ck_assert_int_eq(ch_label("", 0, NULL), -1);
	ck_assert_int_eq(ch_label("churned", 7, "churned"), 1);
	ck_assert_int_eq(ch_label("stayed", 6, "churned"), 0);
	ck_assert_int_eq(ch_label("NA", 2, "churned"), -1);
}
END_TEST

START_TEST(encoding_and_json)
{
	struct ch_err e;
	struct ch_frame *f = load("n,c,Churn\n1,a,No\n2,b,Yes\n3,a,No\n", NULL, &e);
	const struct ch_schema *s = f->schema;
	struct ch_schema *back;
	uint8_t codes[2];
	int bad;
	json_t *j, *in;
	json_error_t je;

	ck_assert_int_eq(ch_encode_cell(&s->f[1], "b", 1, &codes[0]), 0);
	ck_assert_int_eq(codes[0], 1);
	ck_assert_int_eq(ch_encode_cell(&s->f[1], "zz", 2, &codes[0]), 1);
	ck_assert_int_eq(codes[0], CH_MISSING);
	ck_assert_int_eq(ch_encode_cell(&s->f[0], "x", 1, &codes[0]), -1);

	in = json_loads("{\"n\": 2.5, \"c\": \"b\", \"extra\": [1]}", 0, &je);
	ck_assert_int_eq(ch_encode_json(s, in, codes, NULL, NULL, &bad, &e), 0);
	ck_assert_int_eq(codes[0], ch_bin_numeric(&s->f[0], 2.5));
	ck_assert_int_eq(codes[1], 1);
	json_decref(in);
	in = json_loads("{\"n\": \"3\", \"c\": null}", 0, &je);
	ck_assert_int_eq(ch_encode_json(s, in, codes, NULL, NULL, &bad, &e), 0);
	ck_assert_int_eq(codes[1], CH_MISSING);
	json_decref(in);
	in = json_loads("{\"n\": true, \"c\": \"a\"}", 0, &je);
	ck_assert_int_eq(ch_encode_json(s, in, codes, NULL, NULL, &bad, &e), -1);
	ck_assert_int_eq(bad, 0);
	ck_assert_str_eq(e.msg, "field 'n': expected a number, not a JSON boolean");
	json_decref(in);
	in = json_loads("{\"n\": 1}", 0, &je);
	ck_assert_int_eq(ch_encode_json(s, in, codes, NULL, NULL, &bad, &e), -1);
	ck_assert_int_eq(bad, 1);
	ck_assert_str_eq(e.msg, "no field 'c' (a feature of the model)");
	json_decref(in);

	/* the schema survives its JSON round trip */
	j = ch_schema_to_json(s);
	ck_assert_int_eq(ch_schema_from_json(j, &back, &e), 0);
	ck_assert_int_eq(back->nfeat, 2);
	ck_assert_int_eq(back->f[0].nbins, s->f[0].nbins);
	ck_assert(back->f[0].edges[1] == s->f[0].edges[1]);
	ck_assert_int_eq(ch_strmap_get(back->f[1].catmap, "b", 1), 1);
	ck_assert_int_eq(back->f[1].ref.counts[0], 2);
	json_decref(j);
	ch_schema_free(back);
	ch_frame_free(f);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("frame");

	tcase_add_test(tc, inference);
	tcase_add_test(tc, binning);
	tcase_add_test(tc, options_and_errors);
	tcase_add_test(tc, labels);
	tcase_add_test(tc, encoding_and_json);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
