/* test_drift.c - bin snapping, PSI, L1, thresholds and the drift report */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "unit.h"

#include "drift.h"
#include "driftread.h"
#include "train.h"

/* A two-feature schema made by hand: "x" numeric with fine edges 1..9
 * (10 fine bins), "c" categorical with categories A, B, C. */
static double xedges[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static char *cats[3] = { "A", "B", "C" };
static struct ch_feature feats[2];
static struct ch_schema schema;

static void
setup(void)
{
	memset(feats, 0, sizeof feats);
	feats[0].name = "x";
	feats[0].type = CH_NUMERIC;
	feats[0].nbins = 10;
	feats[0].edges = xedges;
	feats[1].name = "c";
	feats[1].type = CH_CATEGORICAL;
	feats[1].nbins = 3;
	feats[1].cats = cats;
	schema.nfeat = 2;
	schema.f = feats;
}

/* uniform reference: 100 rows a fine bin; 500/300/200 categories */
static void
fill_ref(struct ch_drift_side *d)
{
	int i;

	ch_drift_side_init(d, &schema);
	for (i = 0; i < 10; i++)
		d->counts[0][i] = 100;
	d->counts[1][0] = 500;
	d->counts[1][1] = 300;
	d->counts[1][2] = 200;
	d->rows = 1000;
}

/* Recomputes a variable's metric from its own report bins. */
static double
recompute(json_t *v, double *sref, double *scur)
{
	json_t *bins = json_object_get(v, "bins"), *b;
	int psi = strcmp(json_string_value(json_object_get(v, "metric")),
	    "psi") == 0;
	double sum = 0, r, c;
	size_t i;

	*sref = *scur = 0;
	json_array_foreach(bins, i, b) {
		r = json_real_value(json_object_get(b, "ref"));
		c = json_real_value(json_object_get(b, "cur"));
		*sref += r;
		*scur += c;
		if (psi) {
			r = r < 1e-4 ? 1e-4 : r;
			c = c < 1e-4 ? 1e-4 : c;
			sum += (c - r) * log(c / r);
		} else
			sum += fabs(c - r);
	}
	return sum;
}

static void
check_recompute(json_t *v)
{
	double sr, sc, x = recompute(v, &sr, &sc);

	ck_assert_double_eq_tol(x, json_real_value(json_object_get(v, "value")),
	    1e-12);
	ck_assert_double_eq_tol(sr, 1, 1e-12);
	ck_assert_double_eq_tol(sc, 1, 1e-12);
}

START_TEST(edges_uniform)
{
	uint64_t c[10] = { 10, 10, 10, 10, 10, 10, 10, 10, 10, 10 };
	int idx[20], n, i;

	n = ch_drift_edges(c, 10, 5, idx);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(idx[0], 1);
	ck_assert_int_eq(idx[1], 3);
	ck_assert_int_eq(idx[2], 5);
	ck_assert_int_eq(idx[3], 7);
	/* more bins asked than fine bins: every fine edge, no duplicate */
	n = ch_drift_edges(c, 10, 20, idx);
	ck_assert_int_eq(n, 9);
	for (i = 0; i < 9; i++)
		ck_assert_int_eq(idx[i], i);
}
END_TEST

START_TEST(edges_ties)
{
	uint64_t heavy[3] = { 90, 5, 5 }, last[3] = { 0, 0, 100 };
	uint64_t none[4] = { 0, 0, 0, 0 }, gaps[6] = { 0, 50, 0, 0, 50, 0 };
	int idx[10];

	/* 90% in the first fine bin: one edge only */
	ck_assert_int_eq(ch_drift_edges(heavy, 3, 10, idx), 1);
	ck_assert_int_eq(idx[0], 0);
	/* all mass in the last fine bin: it has no edge to give */
	ck_assert_int_eq(ch_drift_edges(last, 3, 4, idx), 0);
	ck_assert_int_eq(ch_drift_edges(none, 4, 4, idx), 0);
	/* an edge is always the top of a populated fine bin */
	ck_assert_int_eq(ch_drift_edges(gaps, 6, 2, idx), 1);
	ck_assert_int_eq(idx[0], 1);
}
END_TEST

START_TEST(psi_l1_values)
{
	double a[2] = { 0.5, 0.5 }, b[2] = { 0.25, 0.75 };
	double z1[2] = { 1, 0 }, z2[2] = { 0, 1 };

	ck_assert_double_eq_tol(ch_drift_psi(a, a, 2), 0, 1e-15);
	ck_assert_double_eq_tol(ch_drift_psi(a, b, 2), 0.25 * log(3), 1e-15);
	/* symmetric in its arguments */
	ck_assert_double_eq_tol(ch_drift_psi(b, a, 2), 0.25 * log(3), 1e-15);
	/* empty bins: both shares floored at 1e-4 the same way */
	ck_assert_double_eq_tol(ch_drift_psi(z1, z2, 2),
	    2 * (1 - 1e-4) * log(1e4), 1e-12);
	ck_assert_double_eq_tol(ch_drift_l1(a, b, 2), 0.5, 1e-15);
	ck_assert_double_eq_tol(ch_drift_l1(z1, z2, 2), 2, 1e-15);
}
END_TEST

START_TEST(report_same)
{
	struct ch_drift_side r, c;
	struct ch_drift_cfg cfg;
	struct ch_err e;
	json_t *rep, *x, *edges;
	int i;

	setup();
	fill_ref(&r);
	fill_ref(&c);
	ch_drift_cfg_init(&cfg);
	rep = ch_drift_report(&schema, NULL, 0, &r, &c, &cfg, "v1", 0, &e);
	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(ch_drift_found(rep), 0);
	ck_assert_str_eq(json_string_value(json_object_get(rep, "time")),
	    "1970-01-01T00:00:00Z");
	ck_assert_int_eq(json_integer_value(json_object_get(rep, "checked")), 2);
	x = json_array_get(json_object_get(rep, "features"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(x, "metric")), "psi");
	ck_assert_double_eq(json_real_value(json_object_get(x, "value")), 0);
	/* 10 uniform fine bins, 10 asked: every fine edge */
	edges = json_object_get(x, "edges");
	ck_assert_int_eq(json_array_size(edges), 9);
	for (i = 0; i < 9; i++)
		ck_assert_double_eq(json_real_value(json_array_get(edges, i)),
		    i + 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(x, "bins"), 0), "label")), "(-inf, 1]");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(x, "bins"), 9), "label")), "(9, inf)");
	ck_assert_ptr_null(json_object_get(rep, "prediction"));
	ck_assert_int_eq(json_array_size(json_object_get(rep, "warnings")), 0);
	json_decref(rep);
	ch_drift_side_free(&r);
	ch_drift_side_free(&c);
}
END_TEST

START_TEST(report_shifted)
{
	struct ch_drift_side r, c;
	struct ch_drift_cfg cfg;
	struct ch_err e;
	json_t *rep, *x, *y, *bins, *nc;
	size_t i;

	setup();
	fill_ref(&r);
	ch_drift_side_init(&c, &schema);
	/* x moves to the top bins, with some missing values; c gains a new
	 * value */
	c.counts[0][8] = 300;
	c.counts[0][9] = 600;
	c.counts[0][CH_MISSING] = 100;
	c.counts[1][0] = 500;
	c.counts[1][1] = 300;
	c.counts[1][2] = 100;
	ch_drift_side_add_unseen(&c, 1, "D", 1, 60);
	ch_drift_side_add_unseen(&c, 1, "D", 1, 40);
	c.rows = 1000;
	ch_drift_cfg_init(&cfg);
	cfg.bins = 5;
	rep = ch_drift_report(&schema, NULL, 0, &r, &c, &cfg, NULL, 0, &e);
	ck_assert_ptr_nonnull(rep);
	ck_assert(json_is_null(json_object_get(rep, "model_version")));
	ck_assert_int_eq(ch_drift_found(rep), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(rep, "drifted")), 2);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(rep,
	    "rule")), "any drifted feature"));

	x = json_array_get(json_object_get(rep, "features"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(x, "status")),
	    "drift");
	ck_assert_int_eq(json_array_size(json_object_get(x, "edges")), 4);
	bins = json_object_get(x, "bins");
	/* five quantile bins plus missing (the current side has some) */
	ck_assert_int_eq(json_array_size(bins), 6);
	y = json_array_get(bins, 4);
	ck_assert_str_eq(json_string_value(json_object_get(y, "label")),
	    "(8, inf)");
	ck_assert_int_eq(json_integer_value(json_object_get(y, "ref_count")), 200);
	ck_assert_int_eq(json_integer_value(json_object_get(y, "cur_count")), 900);
	y = json_array_get(bins, 5);
	ck_assert_str_eq(json_string_value(json_object_get(y, "label")),
	    "missing");
	ck_assert_double_eq(json_real_value(json_object_get(y, "ref")), 0);
	ck_assert_double_eq_tol(json_real_value(json_object_get(y, "cur")), 0.1,
	    1e-15);
	check_recompute(x);

	y = json_array_get(json_object_get(rep, "features"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(y, "metric")), "l1");
	/* |0.1 - 0.2| + |0.1 - 0| */
	ck_assert_double_eq_tol(json_real_value(json_object_get(y, "value")),
	    0.2, 1e-12);
	ck_assert_str_eq(json_string_value(json_object_get(y, "status")),
	    "drift");
	nc = json_object_get(y, "new_categories");
	ck_assert_int_eq(json_array_size(nc), 1);
	ck_assert_str_eq(json_string_value(json_array_get(nc, 0)), "D");
	check_recompute(y);
	json_array_foreach(json_object_get(rep, "warnings"), i, x)
		if (strstr(json_string_value(x), "c: 100 current rows"))
			break;
	ck_assert_uint_lt(i, json_array_size(json_object_get(rep, "warnings")));
	json_decref(rep);

	/* a share rule: 2 of 2 drifted >= 0.5 */
	cfg.share = 0.5;
	rep = ch_drift_report(&schema, NULL, 0, &r, &c, &cfg, NULL, 0, &e);
	ck_assert_int_eq(ch_drift_found(rep), 1);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(rep,
	    "rule")), ">= drift share 0.5"));
	json_decref(rep);
	ch_drift_side_free(&r);
	ch_drift_side_free(&c);
}
END_TEST

START_TEST(report_prediction)
{
	struct ch_drift_side r, c;
	struct ch_drift_cfg cfg;
	double pe[3] = { 0.25, 0.5, 0.75 };
	struct ch_err e;
	json_t *rep, *p;

	setup();
	fill_ref(&r);
	fill_ref(&c);
	r.has_pred = c.has_pred = 1;
	r.pred[0] = 50;
	r.pred[1] = 50;
	r.pred[2] = 50;
	r.pred[3] = 50;
	c.pred[3] = 1000;
	ch_drift_cfg_init(&cfg);
	cfg.bins = 4;
	rep = ch_drift_report(&schema, pe, 3, &r, &c, &cfg, "v1", 0, &e);
	p = json_object_get(rep, "prediction");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(json_string_value(json_object_get(p, "name")),
	    "churn_probability");
	ck_assert_str_eq(json_string_value(json_object_get(p, "status")),
	    "drift");
	check_recompute(p);
	/* the prediction is reported beside the features, not counted */
	ck_assert_int_eq(ch_drift_found(rep), 0);
	json_decref(rep);
	ch_drift_side_free(&r);
	ch_drift_side_free(&c);
}
END_TEST

START_TEST(report_errors)
{
	struct ch_drift_side r, c;
	struct ch_drift_cfg cfg;
	struct ch_err e;

	setup();
	fill_ref(&r);
	ch_drift_side_init(&c, &schema);
	ch_drift_cfg_init(&cfg);
	ck_assert_ptr_null(ch_drift_report(&schema, NULL, 0, &r, &c, &cfg,
	    NULL, 0, &e));
	ck_assert_str_eq(e.msg, "no current rows");
	ch_drift_side_free(&r);
	ch_drift_side_free(&c);
}
END_TEST

START_TEST(unseen_and_merge)
{
	struct ch_drift_side a, b;
	char name[32];
	int i;

	setup();
	ch_drift_side_init(&a, &schema);
	ch_drift_side_init(&b, &schema);
	a.counts[0][3] = 5;
	b.counts[0][3] = 7;
	a.rows = 5;
	b.rows = 7;
	ch_drift_side_add_unseen(&a, 1, "Q", 1, 2);
	ch_drift_side_add_unseen(&b, 1, "Q", 1, 3);
	ch_drift_side_add_unseen(&b, 1, "R", 1, 1);
	/* numeric features keep no names */
	ch_drift_side_add_unseen(&b, 0, "zz", 2, 1);
	ch_drift_side_merge(&a, &b);
	ck_assert_uint_eq(a.rows, 12);
	ck_assert_uint_eq(a.counts[0][3], 12);
	ck_assert_uint_eq(a.extra_n[1][ch_strmap_get(a.extra[1], "Q", 1)], 5);
	ck_assert_uint_eq(a.extra_n[1][ch_strmap_get(a.extra[1], "R", 1)], 1);
	/* names are bounded: beyond the cap they are counted together */
	for (i = 0; i < CH_DRIFT_MAX_NEW + 10; i++) {
		snprintf(name, sizeof name, "v%d", i);
		ch_drift_side_add_unseen(&a, 1, name, strlen(name), 1);
	}
	ck_assert_uint_eq(ch_strmap_count(a.extra[1]), CH_DRIFT_MAX_NEW);
	ck_assert_uint_eq(a.extra_other[1], 12);
	ch_drift_side_free(&a);
	ch_drift_side_free(&b);
}
END_TEST

START_TEST(many_new_values)
{
	struct ch_drift_side r, c;
	struct ch_drift_cfg cfg;
	struct ch_err e;
	json_t *rep, *y;
	char name[32];
	int i;

	setup();
	fill_ref(&r);
	fill_ref(&c);
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof name, "n%02d", i);
		ch_drift_side_add_unseen(&c, 1, name, strlen(name), 1 + i);
	}
	ch_drift_cfg_init(&cfg);
	rep = ch_drift_report(&schema, NULL, 0, &r, &c, &cfg, NULL, 0, &e);
	y = json_array_get(json_object_get(rep, "features"), 1);
	/* listed most frequent first, the rest in one bin */
	ck_assert_int_eq(json_array_size(json_object_get(y, "new_categories")),
	    CH_DRIFT_LIST_NEW);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(y,
	    "new_categories"), 0)), "n49");
	ck_assert_int_eq(json_array_size(json_object_get(y, "bins")),
	    3 + CH_DRIFT_LIST_NEW + 1);
	check_recompute(y);
	json_decref(rep);
	ch_drift_side_free(&r);
	ch_drift_side_free(&c);
}
END_TEST

START_TEST(config)
{
	struct ch_drift_cfg c;
	struct ch_err e;
	json_error_t je;
	json_t *j;

	ch_drift_cfg_init(&c);
	j = json_loads("{\"bins\":5,\"drift_share\":0.3,\"psi\":{\"drift\":0.3},"
	    "\"features\":{\"x\":{\"drift\":0.05},\"c\":{\"warn\":0.01}}}",
	    0, &je);
	ck_assert_int_eq(ch_drift_cfg_json(&c, j, "cfg.json", &e), 0);
	json_decref(j);
	ck_assert_int_eq(c.bins, 5);
	ck_assert_double_eq(c.share, 0.3);
	ck_assert_double_eq(c.psi.drift, 0.3);
	ck_assert_double_eq(c.psi.warn, 0.1);
	ck_assert_uint_eq(c.nover, 2);
	ch_drift_cfg_free(&c);

	ch_drift_cfg_init(&c);
	j = json_loads("{\"psi\":{\"drift\":0.3,\"alarm\":1}}", 0, &je);
	ck_assert_int_eq(ch_drift_cfg_json(&c, j, "cfg.json", &e), -1);
	ck_assert_str_eq(e.msg, "cfg.json: unknown key 'psi.alarm'");
	json_decref(j);
	j = json_loads("{\"bins\":1}", 0, &je);
	ck_assert_int_eq(ch_drift_cfg_json(&c, j, "cfg.json", &e), -1);
	json_decref(j);
	j = json_loads("{\"l1\":{\"warn\":0.5,\"drift\":0.2}}", 0, &je);
	ck_assert_int_eq(ch_drift_cfg_json(&c, j, "cfg.json", &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "warn 0.5 is above drift 0.2"));
	json_decref(j);
	ch_drift_cfg_free(&c);
}
END_TEST

START_TEST(per_feature_thresholds)
{
	struct ch_drift_side r, c;
	struct ch_drift_cfg cfg;
	struct ch_err e;
	json_error_t je;
	json_t *rep, *x, *j;

	setup();
	fill_ref(&r);
	fill_ref(&c);
	c.counts[0][0] = 130;   /* a small move of x */
	c.counts[0][9] = 70;
	ch_drift_cfg_init(&cfg);
	rep = ch_drift_report(&schema, NULL, 0, &r, &c, &cfg, NULL, 0, &e);
	x = json_array_get(json_object_get(rep, "features"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "ok");
	json_decref(rep);
	/* a feature's own threshold: a lone drift value pulls warn down */
	j = json_loads("{\"features\":{\"x\":{\"drift\":0.01}}}", 0, &je);
	ck_assert_int_eq(ch_drift_cfg_json(&cfg, j, "cfg", &e), 0);
	json_decref(j);
	rep = ch_drift_report(&schema, NULL, 0, &r, &c, &cfg, NULL, 0, &e);
	x = json_array_get(json_object_get(rep, "features"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(x, "status")),
	    "drift");
	ck_assert_double_eq(json_real_value(json_object_get(x, "threshold")),
	    0.01);
	ck_assert_double_eq(json_real_value(json_object_get(x, "warn")), 0.01);
	ck_assert_int_eq(ch_drift_found(rep), 1);
	json_decref(rep);
	ch_drift_cfg_free(&cfg);
	ch_drift_side_free(&r);
	ch_drift_side_free(&c);
}
END_TEST


/* Reads text (a CSV) for a one-feature numeric schema with edges e[3]. */
static int
read_one(const char *text, double *e, struct ch_drift_side *d,
    struct ch_err *err)
{
	struct ch_feature ft = { 0 };
	struct ch_schema s = { 0 };
	struct ch_drift_read r = { 0 };
	FILE *fp = fmemopen((void *)text, strlen(text), "r");
	int rc;

	ft.name = "v";
	ft.type = CH_NUMERIC;
	ft.nbins = 4;
	ft.edges = e;
	s.nfeat = 1;
	s.f = &ft;
	r.schema = &s;
	r.jobs = 2;
	ch_drift_side_init(d, &s);
	rc = ch_drift_read(&r, fp, "-", d, err);
	fclose(fp);
	return rc;
}

/* The reader's shortcut for plain decimals bins exactly as strtod does:
 * each value is put on an edge with its neighbours one ulp away. */
START_TEST(numbers_exact)
{
	static const char *v[] = { "0.1", "0.3", "-0", "00012.50", "75.35",
	    "123456789012345", "1234567890123456", "9007199254740993",
	    "0.000000000000001", "1e5", " 5 ", "1.", ".5", "+3", "-2.675",
	    "99999999999999.9", "8589.45", "0.123456789012345" };
	struct ch_drift_side d;
	struct ch_feature ft = { 0 };
	struct ch_err err;
	char csv[128];
	double e[3], x;
	uint8_t want;
	size_t i;
	int c;

	for (i = 0; i < sizeof v / sizeof *v; i++) {
		ck_assert_int_eq(ch_parse_double(v[i], strlen(v[i]), &x), 0);
		e[0] = nextafter(x, -INFINITY);
		e[1] = x;
		e[2] = nextafter(x, INFINITY);
		ft.type = CH_NUMERIC;
		ft.nbins = 4;
		ft.edges = e;
		ck_assert_int_eq(ch_encode_cell(&ft, v[i], strlen(v[i]), &want), 0);
		snprintf(csv, sizeof csv, "v\n%s\n", v[i]);
		ck_assert_msg(read_one(csv, e, &d, &err) == 0, "%s", err.msg);
		for (c = 0; c < 256 && d.counts[0][c] == 0; c++)
			;
		ck_assert_msg(c == want, "'%s': code %d, ch_encode_cell %d",
		    v[i], c, want);
		ch_drift_side_free(&d);
	}
	/* not numbers: missing, as training takes them, counted with the
	 * first line */
	e[0] = 1, e[1] = 2, e[2] = 3;
	ck_assert_int_eq(read_one("v\n1\n1.2.3\n-\n", e, &d, &err), 0);
	ck_assert_uint_eq(d.not_num, 2);
	ck_assert_int_eq(d.not_num_line, 3);
	ck_assert_str_eq(d.not_num_msg, "<stdin>:3: column 'v': '1.2.3' is not a number");
	ck_assert_uint_eq(d.counts[0][CH_MISSING], 2);
	ck_assert_uint_eq(d.rows, 3);
	ch_drift_side_free(&d);
	ck_assert_int_eq(read_one("w\n1\n", e, &d, &err), -1);
	ck_assert_str_eq(err.msg, "<stdin>:1: no column 'v' (a feature of the model)");
	ch_drift_side_free(&d);
	/* missing values */
	ck_assert_int_eq(read_one("v\n\"\"\nNA\n ? \n4\n", e, &d, &err), 0);
	ck_assert_uint_eq(d.counts[0][CH_MISSING], 3);
	ck_assert_uint_eq(d.counts[0][3], 1);
	ck_assert_uint_eq(d.rows, 4);
	ch_drift_side_free(&d);
}
END_TEST

/* A CSV of n customers: x numeric (shifted by dx), c categorical (mostly
 * "B" when shifted), y the label. */
static char *
make_csv(int n, double dx, int shift, unsigned seed)
{
	size_t cap = 64 + (size_t)n * 48, len = 0;
	char *s = ch_malloc(cap);
	struct ch_rng r;
	int i;

	ch_rng_seed(&r, seed);
	len += (size_t)snprintf(s, cap, "id,x,c,y\n");
	for (i = 0; i < n; i++) {
		double x = ch_rng_unit(&r) * 100 + dx;
		const char *c = ch_rng_unit(&r) < (shift ? 0.9 : 0.3) ? "B" : "A";
		int y = ch_rng_unit(&r) < (x > 50 ? 0.7 : 0.2);

		len += (size_t)snprintf(s + len, cap - len, "%d,%.2f,%s,%s\n", i,
		    x, c, y ? "Yes" : "No");
	}
	return s;
}

/* What churn-drift does with a model and current data: the model's
 * reference, fp counted with its prediction sampled, the default rules. */
static json_t *
check(const struct ch_model *m, FILE *fp, const char *name, int jobs,
    struct ch_err *e)
{
	struct ch_drift_side ref, cur;
	struct ch_drift_read rd = { 0 };
	struct ch_drift_cfg c;
	json_t *rep = NULL;

	ch_drift_cfg_init(&c);
	if (ch_drift_side_from_model(&ref, m, e) != 0)
		return NULL;
	rd.schema = m->schema;
	rd.model = m;
	rd.jobs = jobs;
	rd.pred_sample = CH_DRIFT_PRED_SAMPLE;
	ch_drift_side_init(&cur, m->schema);
	if (ch_drift_read(&rd, fp, name, &cur, e) == 0)
		rep = ch_drift_report(m->schema, m->pred_ref.edges,
		    m->pred_ref.nbins - 1, &ref, &cur, &c, m->version, 0, e);
	ch_drift_side_free(&ref);
	ch_drift_side_free(&cur);
	return rep;
}

START_TEST(check_with_model)
{
	struct ch_frame_opts fo = { 0 };
	struct ch_train_opts to;
	struct ch_train_result tr;
	struct ch_err e;
	char *train = make_csv(1500, 0, 0, 1), *same = make_csv(1000, 0, 0, 2);
	char *moved = make_csv(1000, 30, 1, 3), *bad = "id,c,y\n1,A,No\n";
	json_t *rep;
	FILE *fp;

	fo.id = "id";
	fo.target = "y";
	ch_train_defaults(&to);
	to.forest.trees = 10;
	to.forest.jobs = 1;
	to.output = "test_drift.churn";
	fp = fmemopen(train, strlen(train), "r");
	ck_assert_msg(ch_train(fp, "train.csv", &fo, &to, &tr, &e) == 0, "%s", e.msg);
	fclose(fp);

	fp = fmemopen(same, strlen(same), "r");
	rep = check(tr.model, fp, "same.csv", 2, &e);
	fclose(fp);
	ck_assert_msg(rep != NULL, "%s", e.msg);
	ck_assert_int_eq(ch_drift_found(rep), 0);
	ck_assert_str_eq(json_string_value(json_object_get(rep, "model_version")),
	    tr.model->version);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(rep,
	    "rows"), "reference")), 1500);
	ck_assert_ptr_nonnull(json_object_get(rep, "prediction"));
	check_recompute(json_object_get(rep, "prediction"));
	json_decref(rep);

	fp = fmemopen(moved, strlen(moved), "r");
	rep = check(tr.model, fp, "moved.csv", 2, &e);
	fclose(fp);
	ck_assert_msg(rep != NULL, "%s", e.msg);
	ck_assert_int_eq(ch_drift_found(rep), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(rep, "drifted")), 2);
	json_decref(rep);

	fp = fmemopen(bad, strlen(bad), "r");
	ck_assert_ptr_null(check(tr.model, fp, "request body", 1, &e));
	fclose(fp);
	ck_assert_str_eq(e.msg, "request body:1: no column 'x' (a feature of the model)");

	ch_train_result_free(&tr);
	remove("test_drift.churn");
	free(train);
	free(same);
	free(moved);
}
END_TEST

/* Profiles of three shards, written and read back as JSON, add up to the
 * counts and the prediction sample of one read of all their rows, for a
 * sample of every row and a sample of a few levels. */
START_TEST(profiles_merge)
{
	static const uint64_t caps[] = { 0, 300 };
	struct ch_frame_opts fo = { 0 };
	struct ch_train_opts to;
	struct ch_train_result tr;
	struct ch_drift_read rd = { 0 };
	struct ch_drift_side whole;
	struct ch_drift_profile p, sum;
	struct ch_err e;
	char *train = make_csv(1500, 0, 0, 1), *data = make_csv(3000, 5, 0, 4);
	char *cut[4], *part, *txt;
	json_t *j;
	FILE *fp;
	size_t k, hl = strchr(data, '\n') - data + 1, i;
	int f, c;

	fo.id = "id";
	fo.target = "y";
	ch_train_defaults(&to);
	to.forest.trees = 5;
	to.forest.jobs = 1;
	to.output = "test_drift_p.churn";
	fp = fmemopen(train, strlen(train), "r");
	ck_assert_msg(ch_train(fp, "train.csv", &fo, &to, &tr, &e) == 0, "%s", e.msg);
	fclose(fp);
	/* three shards: the header, then rows 1-700, 701-2200, 2201-3000 */
	cut[0] = data + hl;
	for (i = 1; i < 3; i++) {
		char *q = cut[i - 1];
		int rows = i == 1 ? 700 : 1500;

		while (rows--)
			q = strchr(q, '\n') + 1;
		cut[i] = q;
	}
	cut[3] = data + strlen(data);
	rd.schema = tr.model->schema;
	rd.model = tr.model;
	for (k = 0; k < sizeof caps / sizeof *caps; k++) {
		rd.pred_sample = caps[k];
		rd.jobs = 2;
		ch_drift_side_init(&whole, rd.schema);
		fp = fmemopen(data, strlen(data), "r");
		ck_assert_msg(ch_drift_read(&rd, fp, "all", &whole, &e) == 0, "%s", e.msg);
		fclose(fp);
		ch_drift_profile_init(&sum, rd.schema);
		for (i = 0; i < 3; i++) {
			size_t n = (size_t)(cut[i + 1] - cut[i]);

			part = ch_malloc(hl + n + 1);
			memcpy(part, data, hl);
			memcpy(part + hl, cut[i], n);
			part[hl + n] = 0;
			rd.jobs = (int)i + 1;
			ch_drift_profile_init(&p, rd.schema);
			fp = fmemopen(part, hl + n, "r");
			ck_assert_msg(ch_drift_read_profile(&rd, fp, "part", &p, &e) == 0,
			    "%s", e.msg);
			fclose(fp);
			j = ch_drift_profile_json(&p, tr.model, &e);
			ck_assert_msg(j != NULL, "%s", e.msg);
			txt = json_dumps(j, JSON_COMPACT);
			json_decref(j);
			j = json_loads(txt, 0, NULL);
			ck_assert_msg(ch_drift_profile_load(&sum, j, "p.json", tr.model,
			    &e) == 0, "%s", e.msg);
			json_decref(j);
			free(txt);
			ch_drift_profile_free(&p);
			free(part);
		}
		ck_assert_msg(ch_drift_profile_settle(&sum, &e) == 0, "%s", e.msg);
		ck_assert_uint_eq(sum.side.rows, 3000);
		ck_assert_uint_eq(sum.side.rows, whole.rows);
		for (f = 0; f < whole.nfeat; f++)
			for (c = 0; c < 256; c++)
				ck_assert_uint_eq(sum.side.counts[f][c], whole.counts[f][c]);
		ck_assert_int_eq(sum.side.has_pred, 1);
		ck_assert_int_eq(whole.has_pred, 1);
		for (c = 0; c < 256; c++)
			ck_assert_uint_eq(sum.side.pred[c], whole.pred[c]);
		for (i = 0, c = 0; c < 256; c++)
			i += whole.pred[c];
		if (caps[k])
			ck_assert_msg(i <= caps[k] && i >= caps[k] / 4,
			    "a sample of %zu rows for a cap of %llu", i,
			    (unsigned long long)caps[k]);
		else
			ck_assert_uint_eq(i, 3000);
		ch_drift_profile_free(&sum);
		ch_drift_side_free(&whole);
	}
	/* another model's profile is refused */
	ch_drift_profile_init(&sum, rd.schema);
	j = json_pack("{s:i,s:s,s:i,s:[]}", "churn_drift_profile", 1,
	    "model_version", "v0", "rows", 1, "features");
	ck_assert_int_eq(ch_drift_profile_load(&sum, j, "x.json", tr.model, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "x.json: a profile of model v0"));
	json_decref(j);
	ch_drift_profile_free(&sum);
	ch_train_result_free(&tr);
	remove("test_drift_p.churn");
	free(train);
	free(data);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("drift");
	TCase *t = tcase_create("drift");

	tcase_add_test(t, edges_uniform);
	tcase_add_test(t, edges_ties);
	tcase_add_test(t, psi_l1_values);
	tcase_add_test(t, report_same);
	tcase_add_test(t, report_shifted);
	tcase_add_test(t, report_prediction);
	tcase_add_test(t, report_errors);
	tcase_add_test(t, unseen_and_merge);
	tcase_add_test(t, many_new_values);
	tcase_add_test(t, config);
	tcase_add_test(t, per_feature_thresholds);
	tcase_add_test(t, numbers_exact);
	tcase_add_test(t, check_with_model);
	tcase_add_test(t, profiles_merge);
	tcase_set_timeout(t, 60);
	suite_add_tcase(s, t);
	return unit_run(s);
}
