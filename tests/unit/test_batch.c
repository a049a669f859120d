/* test_batch.c - unit tests for libchurn/batch: answers in input order
 * whatever the threads, bad rows skipped or fatal, warnings through the
 * caller's callback, CSV and JSON lines alike */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "train.h"

static struct ch_model *model;

/* n customers: id,tenure,plan,Churn; tenure "abc" on the lines in bad */
/* the bad lines of data(): a cell not a number, or (ragged) a field too
 * many */
static int ragged;

static char *
data(size_t n, const long *bad)
{
	static const char *plan[] = { "basic", "plus", "pro", "" };
	char *t = malloc(n * 40 + 64);
	size_t len = 0, i;
	struct ch_rng r;

	ch_rng_seed(&r, 5);
	len += (size_t)sprintf(t, "id,tenure,plan,Churn\n");
	for (i = 0; i < n; i++) {
		int ten = (int)ch_rng_below(&r, 72), p = (int)ch_rng_below(&r, 4);
		int y = ch_rng_unit(&r) < (ten < 12 ? 0.6 : 0.15) + (p == 2 ? 0.2 : 0);
		const long *b;
		char tb[16];

		snprintf(tb, sizeof tb, "%d", ten);
		for (b = bad; b && *b; b++)
			if (*b == (long)i + 2)
				snprintf(tb, sizeof tb, ragged ? "1,x" : "abc");
		len += (size_t)sprintf(t + len, "c%zu,%s,%s,%s\n", i, tb, plan[p],
		    y ? "Yes" : "No");
	}
	return t;
}

static void
setup(void)
{
	char path[] = "/tmp/test_batch.XXXXXX", *t = data(1500, NULL);
	FILE *fp = fmemopen(t, strlen(t), "r");
	struct ch_frame_opts fo = { .id = "id" };
	struct ch_train_opts o;
	struct ch_train_result r;
	struct ch_err e;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ch_train_defaults(&o);
	o.forest.trees = 10;
	o.forest.jobs = 2;
	o.output = path;
	o.now = 1764115200;
	ck_assert_msg(ch_train(fp, "t.csv", &fo, &o, &r, &e) == 0, "%s", e.msg);
	model = r.model;
	r.model = NULL;
	ch_train_result_free(&r);
	fclose(fp);
	free(t);
	unlink(path);
}

static void
teardown(void)
{
	ch_model_free(model);
}

/* What a run gave: the answers' text and the warnings, one a line. */
struct run {
	char *out, *warn;
	size_t olen, wlen;
	FILE *o, *w;
};

static int
on_out(void *arg, const char *s, size_t n, struct ch_err *e)
{
	(void)e;
	fwrite(s, 1, n, ((struct run *)arg)->o);
	return 0;
}

static void
on_warn(void *arg, const char *msg)
{
	fprintf(((struct run *)arg)->w, "%s\n", msg);
}

/* Scores text with jobs threads; returns ch_batch_score's status. */
static int
score(const char *text, int jobs, int json_in, int skip, struct run *r,
    struct ch_batch_stats *st, struct ch_err *e)
{
	struct ch_batch_opts o = { .m = model, .name = "t.csv",
	    .json_in = json_in, .skip_bad = skip, .threshold = 0.5,
	    .jobs = jobs, .out = on_out, .warn = on_warn, .arg = r };
	FILE *fp = fmemopen((void *)text, strlen(text), "r");
	size_t *unseen = st->unseen;
	int rc;

	memset(r, 0, sizeof *r);
	memset(st, 0, sizeof *st);
	st->unseen = unseen;
	r->o = open_memstream(&r->out, &r->olen);
	r->w = open_memstream(&r->warn, &r->wlen);
	rc = ch_batch_score(fp, &o, st, e);
	fclose(r->o);
	fclose(r->w);
	fclose(fp);
	return rc;
}

static void
run_free(struct run *r)
{
	free(r->out);
	free(r->warn);
}

START_TEST(order_and_threads)
{
	char *t = data(60000, NULL), *line, want[64];
	struct run one, many;
	struct ch_batch_stats st = { 0 };
	struct ch_err e;
	size_t i = 0;

	ck_assert_int_eq(score(t, 1, 0, 0, &one, &st, &e), 0);
	ck_assert_uint_eq(st.rows, 60000);
	ck_assert_int_eq(score(t, 3, 0, 0, &many, &st, &e), 0);
	ck_assert_str_eq(one.out, many.out);
	/* the header, then the ids in input order */
	ck_assert_int_eq(strncmp(many.out, "id,churn_probability,churn\n", 27), 0);
	for (line = strchr(many.out, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
		snprintf(want, sizeof want, "c%zu,", i++);
		ck_assert_int_eq(strncmp(line, want, strlen(want)), 0);
	}
	ck_assert_uint_eq(i, 60000);
	run_free(&one);
	run_free(&many);
	free(t);
}
END_TEST

START_TEST(bad_rows)
{
	static const long bad[] = { 9000, 41, 30000, 0 };
	char *t = data(40000, bad);
	struct run r;
	struct ch_batch_stats st = { 0 };
	size_t unseen[2] = { 0, 0 };
	struct ch_err e;

	/* a cell not a number: scored as missing (training's rule), with a
	 * warning each, in input order, skipping or not */
	ck_assert_int_eq(score(t, 3, 0, 0, &r, &st, &e), 0);
	ck_assert_uint_eq(st.rows, 40000);
	ck_assert_uint_eq(st.skipped, 0);
	ck_assert_str_eq(r.warn,
	    "t.csv:41: column 'tenure': 'abc' is not a number, scored as missing\n"
	    "t.csv:9000: column 'tenure': 'abc' is not a number, scored as missing\n"
	    "t.csv:30000: column 'tenure': 'abc' is not a number, scored as missing\n");
	ck_assert_ptr_nonnull(strstr(r.out, "\nc39,"));
	run_free(&r);
	free(t);

	/* a ragged row: skipped, with a warning each, in input order */
	ragged = 1;
	t = data(40000, bad);
	ragged = 0;
	ck_assert_int_eq(score(t, 3, 0, 1, &r, &st, &e), 0);
	ck_assert_uint_eq(st.rows, 40000 - 3);
	ck_assert_uint_eq(st.skipped, 3);
	ck_assert_str_eq(r.warn,
	    "t.csv:41: ragged row: 5 fields, the header has 4 (skipped)\n"
	    "t.csv:9000: ragged row: 5 fields, the header has 4 (skipped)\n"
	    "t.csv:30000: ragged row: 5 fields, the header has 4 (skipped)\n");
	ck_assert_ptr_null(strstr(r.out, "\nc39,"));
	ck_assert_ptr_nonnull(strstr(r.out, "\nc40,"));
	run_free(&r);

	/* or the first of them ends the run: a row at fault */
	ck_assert_int_eq(score(t, 3, 0, 0, &r, &st, &e), -1);
	ck_assert_str_eq(e.msg, "t.csv:41: ragged row: 5 fields, the header has 4");
	ck_assert_int_eq(st.bad_row, 1);
	run_free(&r);

	/* a reader's error is not a row's */
	ck_assert_int_eq(score("id,tenure,plan\n1,2\"x,pro\n", 2, 0, 0, &r, &st, &e), -1);
	ck_assert_int_eq(st.bad_row, 0);
	ck_assert_int_eq(st.bad, -1);
	run_free(&r);

	/* unseen categories are counted per feature */
	st.unseen = unseen;
	ck_assert_int_eq(score("id,tenure,plan\n1,2,gold\n2,3,pro\n3,4,tin\n", 2, 0, 0, &r, &st, &e), 0);
	ck_assert_int_eq(ch_schema_find(model->schema, "plan"), 1);
	ck_assert_uint_eq(unseen[0], 0);
	ck_assert_uint_eq(unseen[1], 2);
	run_free(&r);
	free(t);
}
END_TEST

START_TEST(json_lines)
{
	struct run csv, js;
	struct ch_batch_stats st = { 0 };
	struct ch_err e;

	ck_assert_int_eq(score("id,tenure,plan\nc1,3,pro\nc2,50,\n", 2, 0, 0, &csv, &st, &e), 0);
	ck_assert_int_eq(score("{\"id\":\"c1\",\"tenure\":3,\"plan\":\"pro\"}\n\n"
	    "{\"id\":\"c2\",\"tenure\":\"50\",\"plan\":null}\n", 2, 1, 0, &js, &st, &e), 0);
	ck_assert_uint_eq(st.rows, 2);
	ck_assert_str_eq(csv.out + strlen("id,churn_probability,churn\n"), js.out);
	run_free(&csv);
	run_free(&js);

	ck_assert_int_eq(score("{\"id\":\"c1\",\"tenure\":true,\"plan\":\"pro\"}\n", 2, 1, 0, &js, &st, &e), -1);
	ck_assert_str_eq(e.msg, "t.csv:1: field 'tenure': expected a number, not a JSON boolean");
	ck_assert_int_eq(st.bad_row, 1);
	run_free(&js);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("batch");
	SRunner *sr;
	int failed;

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, order_and_threads);
	tcase_add_test(tc, bad_rows);
	tcase_add_test(tc, json_lines);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
