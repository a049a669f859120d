/* test_csv.c - unit tests for libchurn/csv and the cell helpers of util */
#include <check.h>

#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "util.h"

/* Reads all records of text; returns them joined as "a|b;c|d;" with the
 * line of each record after '@', e.g. "a|b@1;". */
static char *
read_mode(const char *text, size_t len, int *rc, int libcsv_only)
{
	FILE *fp = fmemopen((void *)text, len, "r");
	struct ch_err e;
	struct ch_csv *r = ch_csv_open(fp, "t.csv", &e);
	struct ch_record rec;
	static char out[2][1 << 18];
	size_t i, n = 0, size = sizeof out[0] - 64;
	char *o = out[libcsv_only];

	o[0] = '\0';
	if (libcsv_only)
		ch_csv_libcsv_only(r);
	while ((*rc = ch_csv_next(r, &rec, &e)) > 0) {
		for (i = 0; i < rec.n; i++) {
			ck_assert_uint_lt(n + rec.len[i] + 32, size);
			n += (size_t)snprintf(o + n, size - n, "%s%s[%zu]",
			    i ? "|" : "", rec.field[i], rec.len[i]);
		}
		n += (size_t)snprintf(o + n, size - n, "@%ld;", rec.line);
	}
	if (*rc < 0)
		snprintf(o, size, "%s", e.msg);
	ch_csv_close(r);
	fclose(fp);
	return o;
}

static char *
read_all(const char *text, size_t len, int *rc)
{
	FILE *fp = fmemopen((void *)text, len, "r");
	struct ch_err e;
	struct ch_csv *r = ch_csv_open(fp, "t.csv", &e);
	struct ch_record rec;
	static char out[4096];
	size_t i, n = 0;

	out[0] = '\0';
	while ((*rc = ch_csv_next(r, &rec, &e)) > 0) {
		for (i = 0; i < rec.n; i++)
			n += (size_t)snprintf(out + n, sizeof out - n, "%s%s",
			    i ? "|" : "", rec.field[i]);
		n += (size_t)snprintf(out + n, sizeof out - n, "@%ld;", rec.line);
	}
	if (*rc < 0)
		snprintf(out, sizeof out, "%s", e.msg);
	ch_csv_close(r);
	fclose(fp);
	return out;
}

#define CHECK_CSV(text, want) do { \
	int rc_; \
	ck_assert_str_eq(read_all(text, sizeof text - 1, &rc_), want); \
	ck_assert_int_eq(rc_, 0); \
} while (0)

START_TEST(quoting)
{
	CHECK_CSV("a,b\n1,2\n", "a|b@1;1|2@2;");
	CHECK_CSV("a,\"b,c\",\"d\"\"e\"\n", "a|b,c|d\"e@1;");
	/* a newline inside quotes: the record ends on line 3 */
	CHECK_CSV("h\n\"x\ny\",z\nw\n", "h@1;x\ny|z@3;w@4;");
	CHECK_CSV("a,,\"\"\n", "a||@1;");
}
END_TEST

/* Whole unquoted lines take a fast path: the same fields (spaces and tabs
 * trimmed as libcsv trims them), lines and errors as libcsv alone. */
static void
same_as_libcsv(const char *text, size_t len)
{
	int rc1, rc2;
	char *a = read_mode(text, len, &rc1, 0), *b;

	b = read_mode(text, len, &rc2, 1);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(rc1, rc2);
}

START_TEST(fast_path)
{
	static const char *t[] = {
		" a , b \t,\tc\n", "   \n", "\t\n,\n", " , \n", ",\n,,\n",
		"a,b\n\"q\",c\n d ,e\n", "a,b\r\n c ,d \r\n\r\n", "a\"b,c\n",
		"a, \"b\"\n", "x,y\n\"open\n1,2\n", "a,b\r \r c\r", "h\n1,2",
		"h\n  x  ", "a b,c  d\n", "\xEF\xBB\xBF a,b\n",
	};
	char big[70000];
	size_t i;

	CHECK_CSV(" a , b \t,\tc\n", "a|b|c@1;");
	CHECK_CSV("x\n   \n y \n", "x@1;y@3;");
	CHECK_CSV(" , \n", "|@1;");
	for (i = 0; i < sizeof t / sizeof *t; i++)
		same_as_libcsv(t[i], strlen(t[i]));
	same_as_libcsv("x\0y,z\n1,2\n", 12);
	same_as_libcsv("a,b\n1,x\0\n", 10);
	/* lines across the reader's 64 KiB chunks */
	for (i = 0; i < sizeof big; i++)
		big[i] = i % 97 == 96 ? '\n' : i % 7 == 6 ? ',' : i % 13 == 0 ? ' ' : 'a';
	same_as_libcsv(big, sizeof big);
}
END_TEST

START_TEST(line_ends)
{
	CHECK_CSV("a,b\r\n1,2\r\n", "a|b@1;1|2@2;");
	CHECK_CSV("a,b\n\n\n1,2", "a|b@1;1|2@4;");     /* blank lines, no final newline */
	CHECK_CSV("\xEF\xBB\xBFid,x\n1,2\n", "id|x@1;1|2@2;");  /* byte-order mark */
	/* a lone CR ends a line too, and a CRLF one line, not two */
	CHECK_CSV("a,b\r1,2\r\r3,4", "a|b@1;1|2@2;3|4@4;");
	CHECK_CSV("a\r\nb\rc\nd\r\n", "a@1;b@2;c@3;d@4;");
	CHECK_CSV("h\r\"x\ry\"\rz\r", "h@1;x\ry@3;z@4;");
}
END_TEST

/* A NUL byte is refused with the one message, after the records before
 * it; the header's names are refused when one appears twice. */
START_TEST(nul_and_header)
{
	static const char nul[] = "a,b\n1,2\n3,x\0y\n5,6\n";
	static const char dup[] = "a,b,a\n1,2,3\n";
	struct ch_record rec;
	struct ch_err e;
	struct ch_csv *r;
	FILE *fp;
	int rc;

	ck_assert_str_eq(read_all(nul, sizeof nul - 1, &rc),
	    "t.csv:3: column 2: a NUL byte in the value");
	ck_assert_int_eq(rc, -1);

	fp = fmemopen((void *)nul, sizeof nul - 1, "r");
	r = ch_csv_open(fp, "t.csv", &e);
	ck_assert_int_eq(ch_csv_header(r, &rec, &e), 0);
	ck_assert_int_eq(ch_csv_next(r, &rec, &e), 1);
	ck_assert_str_eq(rec.field[1], "2");
	ck_assert_int_eq(ch_csv_next(r, &rec, &e), -1);
	ck_assert_str_eq(e.msg, "t.csv:3: column 'b': a NUL byte in the value");
	ck_assert_uint_eq(ch_csv_rows(r), 1);
	ch_csv_close(r);
	fclose(fp);

	fp = fmemopen((void *)dup, sizeof dup - 1, "r");
	r = ch_csv_open(fp, "t.csv", &e);
	ck_assert_int_eq(ch_csv_header(r, &rec, &e), -1);
	ck_assert_str_eq(e.msg, "t.csv:1: column 'a' appears twice");
	ch_csv_close(r);
	fclose(fp);

	fp = fmemopen((void *)dup, 0, "r");
	r = ch_csv_open(fp, "t.csv", &e);
	ck_assert_int_eq(ch_csv_header(r, &rec, &e), -1);
	ck_assert_str_eq(e.msg, "t.csv: empty file (no header)");
	ch_csv_close(r);
	fclose(fp);
}
END_TEST

START_TEST(malformed)
{
	int rc;
	const char bad1[] = "a,b\n1,x\"y\n", bad2[] = "a\n\"open\n";

	ck_assert_ptr_nonnull(strstr(read_all(bad1, sizeof bad1 - 1, &rc), "t.csv:2: malformed CSV"));
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_nonnull(strstr(read_all(bad2, sizeof bad2 - 1, &rc),
	    "t.csv:2: malformed CSV: a quoted field is not closed"));
	ck_assert_int_eq(rc, -1);
}
END_TEST

START_TEST(long_input)
{
	/* records across the reader's 64 KiB chunks keep their fields and lines */
	size_t n = 200000, i, len = 0;
	char *buf = malloc(n * 16), *out;
	FILE *fp;
	struct ch_err e;
	struct ch_csv *r;
	struct ch_record rec;
	char want[32];

	for (i = 0; i < n; i++)
		len += (size_t)sprintf(buf + len, "%zu,\"q,%zu\"\n", i, i % 7);
	fp = fmemopen(buf, len, "r");
	r = ch_csv_open(fp, "big", &e);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(ch_csv_next(r, &rec, &e), 1);
		ck_assert_uint_eq(rec.n, 2);
		sprintf(want, "%zu", i);
		ck_assert_str_eq(rec.field[0], want);
		sprintf(want, "q,%zu", i % 7);
		ck_assert_str_eq(rec.field[1], want);
		ck_assert_int_eq(rec.line, (long)i + 1);
	}
	ck_assert_int_eq(ch_csv_next(r, &rec, &e), 0);
	ch_csv_close(r);
	fclose(fp);
	(void)out;
	free(buf);
}
END_TEST

START_TEST(fingerprint)
{
	const char text[] = "a,b\n1,2\n";
	char hex[65], want[65];
	FILE *fp = fmemopen((void *)text, sizeof text - 1, "r");
	struct ch_err e;
	struct ch_csv *r = ch_csv_open(fp, "t", &e);
	struct ch_record rec;

	while (ch_csv_next(r, &rec, &e) > 0)
		;
	ch_csv_sha256(r, hex);
	ch_sha256_hex(text, sizeof text - 1, want);
	ck_assert_str_eq(hex, want);
	ch_csv_close(r);
	fclose(fp);
}
END_TEST

/* parallel parsing: the same records, in order, as the sequential reader */
struct pctx {
	char hdr[64];
	size_t rows;
	long sum, lastline;
	int inorder;
};

static int
p_header(void *ctx, const struct ch_record *h, struct ch_err *e)
{
	struct pctx *c = ctx;

	(void)e;
	snprintf(c->hdr, sizeof c->hdr, "%s|%s", h->field[0], h->field[1]);
	return 0;
}

struct pres {
	size_t rows;
	long sum, first, last;
};

static int
p_block(void *w, struct ch_csv *r, void **result, struct ch_err *e)
{
	struct pres *x = calloc(1, sizeof *x);
	struct ch_record rec;
	int rc;

	(void)w;
	*result = x;
	x->first = -1;
	while ((rc = ch_csv_next(r, &rec, e)) > 0) {
		if (strcmp(rec.field[0], "bad") == 0)
			return ch_errf(e, "bad row at line %ld", rec.line);
		if (x->first < 0)
			x->first = rec.line;
		x->last = rec.line;
		x->rows++;
		x->sum += atol(rec.field[0]) + (long)strlen(rec.field[1]);
	}
	return rc;
}

static int
p_emit(void *ctx, void *result, struct ch_err *e)
{
	struct pctx *c = ctx;
	struct pres *x = result;

	(void)e;
	if (x->rows && x->first != c->lastline + 1)
		c->inorder = 0;
	if (x->rows)
		c->lastline = x->last;
	c->rows += x->rows;
	c->sum += x->sum;
	free(x);
	return 0;
}

static void
p_discard(void *ctx, void *result)
{
	(void)ctx;
	free(result);
}

static const struct ch_csv_ops pops = { p_header, NULL, p_block, p_emit, p_discard, NULL };

/* The message of a parallel read of text[0..n), "ok" when it passes. */
static const char *
par_msg(const char *text, size_t n)
{
	static struct ch_err e;
	struct pctx c = { .inorder = 1 };
	FILE *fp = fmemopen((void *)text, n, "r");

	if (ch_csv_parallel(fp, "p.csv", 2, &pops, &c, &e) == 0)
		snprintf(e.msg, sizeof e.msg, "ok");
	fclose(fp);
	return e.msg;
}

START_TEST(parallel)
{
	/* 12 MiB with quoted newlines, so that blocks are cut at many places */
	size_t n = 600000, i, len = 0;
	char *buf = malloc(n * 32 + 64);
	long sum = 0, lines = 1;
	struct pctx c = { .inorder = 1, .lastline = 1 };
	struct ch_err e;
	FILE *fp;

	len += (size_t)sprintf(buf, "\xEF\xBB\xBFn,text\n");
	for (i = 0; i < n; i++) {
		if (i % 5 == 0) {
			len += (size_t)sprintf(buf + len, "%zu,\"a\nb\"\"c\"\n", i);
			sum += (long)i + 5;
			lines += 2;
		} else {
			len += (size_t)sprintf(buf + len, "%zu,xy\r\n", i);
			sum += (long)i + 2;
			lines += 1;
		}
	}
	fp = fmemopen(buf, len, "r");
	ck_assert_int_eq(ch_csv_parallel(fp, "p.csv", 3, &pops, &c, &e), 0);
	fclose(fp);
	ck_assert_str_eq(c.hdr, "n|text");
	ck_assert_uint_eq(c.rows, n);
	ck_assert_int_eq(c.sum, sum);
	ck_assert_int_eq(c.inorder, 0);  /* records after a quoted newline skip a line */
	ck_assert_int_eq(c.lastline, lines);

	/* the first error in input order wins */
	len = (size_t)sprintf(buf, "n,text\n1,a\n2,b\nbad,c\n4,d\nbad,e\n");
	memset(&c, 0, sizeof c);
	fp = fmemopen(buf, len, "r");
	ck_assert_int_eq(ch_csv_parallel(fp, "p.csv", 2, &pops, &c, &e), -1);
	ck_assert_str_eq(e.msg, "bad row at line 4");
	fclose(fp);

	/* CR-only line ends: the same records and lines as with LF */
	for (i = 0, len = 0; i < n; i++)   /* 9 MiB: blocks cut at CRs */
		len += (size_t)sprintf(buf + len, i == 0 ? "n,text\r" :
		    i % 7 ? "%zu,xyzxyz\r" : "%zu,\"a\rb\"\r", i);
	memset(&c, 0, sizeof c);
	c.inorder = 1, c.lastline = 1;
	fp = fmemopen(buf, len, "r");
	ck_assert_int_eq(ch_csv_parallel(fp, "p.csv", 3, &pops, &c, &e), 0);
	fclose(fp);
	ck_assert_str_eq(c.hdr, "n|text");
	ck_assert_uint_eq(c.rows, n - 1);
	ck_assert_int_eq(c.lastline, (long)(n + (n - 1) / 7));

	/* a name twice, a NUL byte, bytes after the header but no row */
	ck_assert_str_eq(par_msg("n,n\n1,2\n", 8), "p.csv:1: column 'n' appears twice");
	ck_assert_str_eq(par_msg("n,text\r\n1,a\r\n2,b\0\r\n", 19),
	    "p.csv:3: column 'text': a NUL byte in the value");
	ck_assert_str_eq(par_msg("n,text\r\n\r\n", 10),
	    "p.csv: no data rows after the header");
	ck_assert_str_eq(par_msg("n,text\r\n", 8), "ok");

	/* empty input */
	fp = fmemopen(buf, 0, "r");
	ck_assert_int_eq(ch_csv_parallel(fp, "p.csv", 2, &pops, &c, &e), -1);
	ck_assert_str_eq(e.msg, "p.csv: empty file (no header)");
	fclose(fp);
	free(buf);
}
END_TEST

START_TEST(cells)
{
	double v;

	ck_assert(ch_is_missing("", 0));
	ck_assert(ch_is_missing("  \t", 3));
	ck_assert(ch_is_missing("NA", 2));
	ck_assert(ch_is_missing(" NaN ", 5));
	ck_assert(ch_is_missing("?", 1));
	ck_assert(!ch_is_missing("No", 2));
	ck_assert(!ch_is_missing("0", 1));
	ck_assert_int_eq(ch_parse_double(" 29.85 ", 7, &v), 0);
	ck_assert(v == 29.85);
	ck_assert_int_eq(ch_parse_double("-1e3", 4, &v), 0);
	ck_assert(v == -1000);
	ck_assert_int_eq(ch_parse_double("0x10", 4, &v), -1);
	ck_assert_int_eq(ch_parse_double("inf", 3, &v), -1);
	ck_assert_int_eq(ch_parse_double("1,5", 3, &v), -1);
	ck_assert_int_eq(ch_parse_double("12abc", 5, &v), -1);
	ck_assert_int_eq(ch_parse_double("", 0, &v), -1);
	ck_assert_int_eq(ch_parse_double("1e999", 5, &v), -1);
}
END_TEST

START_TEST(strmap)
{
	struct ch_strmap *m = ch_strmap_new();
	char k[16];
	int added, i;

	for (i = 0; i < 5000; i++) {
		snprintf(k, sizeof k, "k%d", i);
		ck_assert_int_eq(ch_strmap_put(m, k, strlen(k), &added), i);
		ck_assert(added);
	}
	ck_assert_int_eq(ch_strmap_put(m, "k42", 3, &added), 42);
	ck_assert(!added);
	ck_assert_int_eq(ch_strmap_get(m, "k4999", 5), 4999);
	ck_assert_int_eq(ch_strmap_get(m, "k5000", 5), -1);
	ck_assert_int_eq(ch_strmap_get(m, "k4", 1), -1);  /* "k", a prefix */
	ck_assert_uint_eq(ch_strmap_count(m), 5000);
	ck_assert_str_eq(ch_strmap_key(m, 17, NULL), "k17");
	ch_strmap_free(m);
}
END_TEST

START_TEST(strv_and_rng)
{
	char **v = ch_strv_split("a,,bc,");
	struct ch_rng r;
	int seen[7] = { 0 }, i;

	ck_assert_str_eq(v[0], "a");
	ck_assert_str_eq(v[1], "bc");
	ck_assert_ptr_null(v[2]);
	ck_assert(ch_strv_has(v, "bc") && !ch_strv_has(v, "b"));
	ch_strv_free(v);
	ch_rng_seed(&r, 1);
	for (i = 0; i < 7000; i++)
		seen[ch_rng_below(&r, 7)]++;
	for (i = 0; i < 7; i++)
		ck_assert(seen[i] > 850 && seen[i] < 1150);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("csv");
	TCase *tc = tcase_create("csv");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, quoting);
	tcase_add_test(tc, line_ends);
	tcase_add_test(tc, fast_path);
	tcase_add_test(tc, nul_and_header);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, long_input);
	tcase_add_test(tc, fingerprint);
	tcase_add_test(tc, parallel);
	tcase_add_test(tc, cells);
	tcase_add_test(tc, strmap);
	tcase_add_test(tc, strv_and_rng);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
