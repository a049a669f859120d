/* test_schema.c - unit tests for libchurn/schema's one encoder: a CSV
 * record and a JSON object become the same codes, with one message form */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "schema.h"

/* A schema of two features: n (numeric, bins at 1 and 2) and c
 * (categorical a, b), with an id column. */
static struct ch_frame *
trained(void)
{
	static const char text[] = "customerID,n,c,Churn\nx,1,a,No\ny,2,b,Yes\nz,3,a,No\n";
	FILE *fp = fmemopen((void *)text, sizeof text - 1, "r");
	struct ch_frame_opts o = { 0 };
	struct ch_frame *f = NULL;
	struct ch_err e;

	ck_assert_int_eq(ch_frame_load(fp, "t.csv", &o, &f, &e), 0);
	fclose(fp);
	return f;
}

/* unseen categories, as the callback sees them */
struct seen {
	int n, feat;
	char text[64];
};

static void
on_unseen(void *arg, int feat, const char *s, size_t len)
{
	struct seen *u = arg;

	u->n++;
	u->feat = feat;
	snprintf(u->text, sizeof u->text, "%.*s", (int)len, s);
}

/* Encodes one CSV record given as its fields (header c,Churn,n,customerID). */
static int
record(const struct ch_schema *s, char **field, size_t n, long line,
    uint8_t *codes, struct seen *u, int *bad, struct ch_err *e)
{
	static char *hdr[] = { "c", "Churn", "n", "customerID" };
	size_t len[8];
	struct ch_cols cols = { 0 };
	struct ch_record rec = { field, len, n, line };
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		len[i] = strlen(field[i]);
	ck_assert_int_eq(ch_schema_map_header(s, hdr, 4, &cols, "d.csv", e), 0);
	ck_assert_int_eq(cols.id, 3);
	rc = ch_encode_record(s, &cols, &rec, "d.csv", codes, on_unseen, u,
	    bad, e);
	ch_cols_free(&cols);
	return rc;
}

START_TEST(csv_record)
{
	struct ch_frame *f = trained();
	const struct ch_schema *s = f->schema;
	struct seen u = { 0 };
	struct ch_err e;
	uint8_t codes[2];
	int bad = 7;
	char *ok[] = { "b", "Yes", "2.5", "q" }, *miss[] = { "NA", "", " ", "q" };
	char *unseen[] = { "zz", "No", "1", "q" }, *nan[] = { "a", "No", "abc", "q" };
	char *ragged[] = { "a", "No", "1" };
	char *lng[] = { "a", "No",
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9x\xc3\xa9\xc3\xa9\xc3\xa9", "q" };

	ck_assert_int_eq(record(s, ok, 4, 2, codes, &u, &bad, &e), 0);
	ck_assert_int_eq(bad, -1);
	ck_assert_int_eq(codes[0], ch_bin_numeric(&s->f[0], 2.5));
	ck_assert_int_eq(codes[1], 1);
	ck_assert_int_eq(u.n, 0);

	/* missing cells are CH_MISSING, and no unseen category */
	ck_assert_int_eq(record(s, miss, 4, 3, codes, &u, &bad, &e), 0);
	ck_assert_int_eq(codes[0], CH_MISSING);
	ck_assert_int_eq(codes[1], CH_MISSING);
	ck_assert_int_eq(u.n, 0);

	/* an unseen category: CH_MISSING, and the callback names it */
	ck_assert_int_eq(record(s, unseen, 4, 4, codes, &u, &bad, &e), 0);
	ck_assert_int_eq(codes[1], CH_MISSING);
	ck_assert_int_eq(u.n, 1);
	ck_assert_int_eq(u.feat, 1);
	ck_assert_str_eq(u.text, "zz");

	/* not a number: missing, as training takes it, and said in the one
	 * message form, naming file, line, column and value */
	ck_assert_int_eq(record(s, nan, 4, 5, codes, &u, &bad, &e), 1);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(codes[0], CH_MISSING);
	ck_assert_str_eq(e.msg, "d.csv:5: column 'n': 'abc' is not a number");
	ck_assert_int_eq(record(s, ragged, 3, 6, codes, &u, &bad, &e), -1);
	ck_assert_int_eq(bad, -1);
	ck_assert_str_eq(e.msg, "d.csv:6: ragged row: 3 fields, the header has 4");

	/* a long value is cut at 40 bytes, never inside a character */
	ck_assert_int_eq(record(s, lng, 4, 7, codes, &u, &bad, &e), 1);
	ck_assert_str_eq(e.msg, "d.csv:7: column 'n': '"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9x' is not a number");
	ch_frame_free(f);
}
END_TEST

static int
object(const struct ch_schema *s, const char *text, uint8_t *codes,
    struct seen *u, int *bad, struct ch_err *e)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
	int rc;

	ck_assert_ptr_nonnull(j);
	rc = ch_encode_json(s, j, codes, on_unseen, u, bad, e);
	json_decref(j);
	return rc;
}

START_TEST(json_objects)
{
	struct ch_frame *f = trained();
	const struct ch_schema *s = f->schema;
	struct seen u = { 0 };
	struct ch_err e;
	uint8_t codes[2], want[2];
	int bad;

	/* the same customer as CSV text and as JSON gives the same codes */
	ck_assert_int_eq(object(s, "{\"n\": 2.5, \"c\": \"b\", \"x\": []}", codes, &u, &bad, &e), 0);
	want[0] = ch_bin_numeric(&s->f[0], 2.5), want[1] = 1;
	ck_assert_mem_eq(codes, want, 2);
	ck_assert_int_eq(object(s, "{\"n\": \"2.5\", \"c\": \"b\"}", codes, &u, &bad, &e), 0);
	ck_assert_mem_eq(codes, want, 2);
	ck_assert_int_eq(bad, -1);

	/* null is missing; a number for a category is matched as text */
	ck_assert_int_eq(object(s, "{\"n\": null, \"c\": 7}", codes, &u, &bad, &e), 0);
	ck_assert_int_eq(codes[0], CH_MISSING);
	ck_assert_int_eq(codes[1], CH_MISSING);
	ck_assert_int_eq(u.n, 1);
	ck_assert_str_eq(u.text, "7");

	/* the messages: the field, no file or line (the caller adds them) */
	ck_assert_int_eq(object(s, "{\"n\": \"abc\", \"c\": \"a\"}", codes, &u, &bad, &e), 1);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(codes[0], CH_MISSING);
	ck_assert_str_eq(e.msg, "field 'n': 'abc' is not a number");
	ck_assert_int_eq(object(s, "{\"n\": 1}", codes, &u, &bad, &e), -1);
	ck_assert_int_eq(bad, 1);
	ck_assert_str_eq(e.msg, "no field 'c' (a feature of the model)");
	ck_assert_int_eq(object(s, "{\"n\": 1, \"c\": [1]}", codes, &u, &bad, &e), -1);
	ck_assert_str_eq(e.msg, "field 'c': expected a string, not a JSON array");
	ck_assert_int_eq(object(s, "[1]", codes, &u, &bad, &e), -1);
	ck_assert_int_eq(bad, -1);
	ck_assert_str_eq(e.msg, "expected a JSON object of features");
	ch_frame_free(f);
}
END_TEST

START_TEST(header_map)
{
	struct ch_frame *f = trained();
	char *hdr[] = { "n", "other" };
	struct ch_cols cols = { 0 };
	struct ch_err e;

	ck_assert_int_eq(ch_schema_map_header(f->schema, hdr, 2, &cols, "h.csv", &e), -1);
	ck_assert_str_eq(e.msg, "h.csv:1: no column 'c' (a feature of the model)");
	ch_cols_free(&cols);
	ch_frame_free(f);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("schema");
	TCase *tc = tcase_create("schema");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, csv_record);
	tcase_add_test(tc, json_objects);
	tcase_add_test(tc, header_map);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
